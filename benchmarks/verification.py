"""Verification figures shared by the benchmarks (eval_flip.py, eval_align.py, calibrate.py).

Every face is one row of an embedding matrix (L2-normalised) with an identity label. Every unordered pair
of distinct faces is *genuine* (same identity) or an *impostor* pair. Scores are cosine similarities
(higher: more alike) unless a function says it takes distances (``1 - similarity``, what photoclust
compares with ``config.VERIFY_THRESHOLD``; lower: more alike).

Run as scripts, the benchmarks put their own folder on ``sys.path`` and ``import verification``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pair_scores(vectors: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(similarity matrix, genuine pair similarities, impostor pair similarities); each pair once, in
    upper-triangle order."""
    sim = vectors @ vectors.T
    iu = np.triu_indices(len(ids), k=1)
    same = (ids[:, None] == ids[None, :])[iu]
    scores = sim[iu]
    return sim, scores[same], scores[~same]


def nearest_neighbour_correct(sim: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per face: does its nearest other face (highest similarity, leave-one-out) have the same identity?"""
    others = sim.copy()
    np.fill_diagonal(others, -np.inf)
    return ids[np.argmax(others, axis=1)] == ids


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Probability that a genuine pair scores above an impostor pair, ties counted half (Mann-Whitney U).
    Higher scores must mean "more alike": pass negated distances."""
    scores = np.concatenate([genuine, impostor])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    # average ranks of ties
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts - 1) / 2.0 + 1.0, counts)
    n_g, n_i = len(genuine), len(impostor)
    return float((ranks[:n_g].sum() - n_g * (n_g + 1) / 2.0) / (n_g * n_i))


def eer(genuine: np.ndarray, impostor: np.ndarray, *, distance: bool = False) -> tuple[float, float]:
    """Equal error rate and the threshold where it is reached.

    Candidate thresholds are the pooled scores, ascending; the first where |FRR - FAR| is smallest is
    taken and the rate is the mean of FRR and FAR there. Similarities: a pair is accepted when its score is
    >= the threshold; distances (``distance=True``): when it is <= the threshold.
    """
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    g, imp = np.sort(genuine), np.sort(impostor)
    if distance:
        frr = 1.0 - np.searchsorted(g, thresholds, side="right") / len(g)  # genuine above the threshold
        far = np.searchsorted(imp, thresholds, side="right") / len(imp)  # impostors at/below
    else:
        frr = np.searchsorted(g, thresholds, side="left") / len(g)  # genuine below the threshold
        far = 1.0 - np.searchsorted(imp, thresholds, side="left") / len(imp)  # impostors at/above
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2), float(thresholds[i])


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float = 1e-3) -> float:
    """Similarities: share of genuine pairs scoring strictly above the impostors' ``1 - far`` quantile
    (``method="higher"``, an impostor score)."""
    threshold = np.quantile(impostor, 1.0 - far, method="higher")
    return float((genuine > threshold).mean())


def threshold_at_far(impostor_dist: np.ndarray, far: float) -> float:
    """Distances: the largest threshold t with (impostor distances <= t) / n <= far."""
    d = np.sort(impostor_dist)
    k = int(np.floor(far * len(d)))  # at most k impostors may be accepted
    if k == 0:
        return float(np.nextafter(d[0], -np.inf))
    # accepting d[:k] but not d[k]: any t in [d[k-1], d[k]) works; take the midpoint, rounded down
    return float((d[k - 1] + d[k]) / 2) if d[k] > d[k - 1] else float(np.nextafter(d[k], -np.inf))


@dataclass
class Result:
    nn_ok: np.ndarray  # (N,) bool: nearest_neighbour_correct
    nn_acc: float
    auc: float
    eer: float
    tar: float  # at FAR 1e-3 (tar_at_far)
    genuine: float  # mean genuine similarity
    impostor: float  # mean impostor similarity
    pairs: tuple[int, int]  # genuine, impostor


def evaluate(vectors: np.ndarray, ids: np.ndarray) -> Result:
    """Nearest-neighbour identity accuracy and pair figures of unit embeddings ``vectors`` labelled ``ids``."""
    sim, genuine, impostor = pair_scores(vectors, ids)
    nn_ok = nearest_neighbour_correct(sim, ids)
    return Result(
        nn_ok=nn_ok,
        nn_acc=float(nn_ok.mean()),
        auc=roc_auc(genuine, impostor),
        eer=eer(genuine, impostor)[0],
        tar=tar_at_far(genuine, impostor),
        genuine=float(genuine.mean()),
        impostor=float(impostor.mean()),
        pairs=(len(genuine), len(impostor)),
    )
