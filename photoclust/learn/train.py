"""Training and validating the head (torch, imported lazily; see the package docstring)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from photoclust.learn.head import Validation

MARGIN = 0.2  # FaceNet's triplet margin, on squared distances between unit vectors
WEAK_WEIGHT = 0.3  # unconfirmed faces of named people: positives the user saw when naming, not confirmed
PRESERVE = 10.0  # weight of keeping the similarities of unlabelled faces (chosen on the tuning halves)
STEPS = 400
LEARNING_RATE = 2e-3
PEOPLE_PER_BATCH = 24
FACES_PER_PERSON = 4
UNLABELLED_PER_BATCH = 64
FOLDS = 3
MIN_PEOPLE = 2  # a head needs two named people with two confirmed faces each at least


@dataclass(frozen=True)
class Examples:
    """Rows of the library's faces as training sees them."""

    X: np.ndarray  # float32 (n, d) base embeddings, unit rows
    label: np.ndarray  # int64 (n,): a named person's key, -1 for faces of nobody named
    weak: np.ndarray  # bool (n,): labelled but not confirmed
    negatives: list[tuple[int, int]]  # (row, row) pairs that are certainly two people (rejections, same photo)

    def usable(self) -> bool:
        strong = self.label[(self.label >= 0) & ~self.weak]
        _, counts = np.unique(strong, return_counts=True)
        return int((counts >= 2).sum()) >= MIN_PEOPLE


def same_photo_negatives(photo: np.ndarray, label: np.ndarray) -> list[tuple[int, int]]:
    """(labelled row, other row) for every two faces of one photo: two people, whoever they are."""
    by_photo: dict[int, list[int]] = {}
    for r, ph in enumerate(photo.tolist()):
        by_photo.setdefault(ph, []).append(r)
    out: list[tuple[int, int]] = []
    for members in by_photo.values():
        out += [(a, b) for a in members if label[a] >= 0 for b in members if b != a]
    return out


def fit(
    ex: Examples,
    *,
    steps: int = STEPS,
    preserve: float = PRESERVE,
    weak_weight: float = WEAK_WEIGHT,
    margin: float = MARGIN,
    seconds: float = 30.0,
    seed: int = 0,
) -> np.ndarray:
    """The head's W (float32, d x d), trained from zero (the identity head) on ``ex``."""
    from photoclust._torch import import_torch

    torch = import_torch()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    d = ex.X.shape[1]
    X = torch.from_numpy(np.ascontiguousarray(ex.X, dtype=np.float32))
    W = torch.zeros((d, d), requires_grad=True)
    opt = torch.optim.Adam([W], lr=LEARNING_RATE)
    people = [np.flatnonzero(ex.label == k) for k in np.unique(ex.label[ex.label >= 0])]
    people = [rows for rows in people if rows.size >= 2]
    unlabelled = np.flatnonzero(ex.label < 0)
    neg_of: dict[int, list[int]] = {}
    for a, b in ex.negatives:
        neg_of.setdefault(a, []).append(b)
        neg_of.setdefault(b, []).append(a)
    started = time.monotonic()
    for _step in range(steps):
        if time.monotonic() - started > seconds:
            break
        chosen = rng.choice(len(people), size=min(PEOPLE_PER_BATCH, len(people)), replace=False)
        rows = np.concatenate(
            [rng.choice(people[p], size=min(FACES_PER_PERSON, people[p].size), replace=False) for p in chosen]
        )
        # faces certainly of somebody else than a face in the batch (a rejection, the same photo)
        extra = [b for r in rows.tolist() for b in neg_of.get(r, ())[:2]]
        extra_rows = np.array(sorted(set(extra) - set(rows.tolist())), dtype=np.int64)
        batch = np.concatenate([rows, extra_rows])
        lab = ex.label[batch].copy()
        lab[rows.size :] = -2 - np.arange(extra_rows.size)  # each its own (unknown) person
        loss = _triplet(
            torch, X[batch], W, torch.from_numpy(lab), torch.from_numpy(ex.weak[batch]), weak_weight, margin
        )
        if preserve > 0 and unlabelled.size >= 2:
            u = X[rng.choice(unlabelled, size=min(UNLABELLED_PER_BATCH, unlabelled.size), replace=False)]
            h = _apply(torch, u, W)
            loss = loss + preserve * ((h @ h.T - u @ u.T) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.asarray(W.detach().numpy(), dtype=np.float32)


def _apply(torch: Any, X: Any, W: Any) -> Any:
    Y = X + X @ W.T
    return Y / Y.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _triplet(torch: Any, X: Any, W: Any, lab: Any, weak: Any, weak_weight: float, margin: float) -> Any:
    """Batch triplet loss with semi-hard negatives (FaceNet): for each anchor-positive pair, the closest
    negative farther than the positive; where there is none, the farthest negative (the hardest ones make
    training collapse)."""
    E = _apply(torch, X, W)
    D = 2.0 - 2.0 * (E @ E.T)  # squared distances between unit vectors
    same = lab[:, None] == lab[None, :]
    eye = torch.eye(len(lab), dtype=torch.bool)
    pos = same & ~eye & (lab[:, None] >= 0)
    neg = ~same
    big = 1e6
    dap, dan = D[:, :, None], D[:, None, :]  # [a, p, n]
    outside = neg[:, None, :] & (dan > dap)
    nearest_outside = torch.where(outside, dan, torch.full_like(dan, big)).min(dim=2).values
    farthest = torch.where(neg[:, None, :], dan, torch.full_like(dan, -big)).max(dim=2).values
    chosen = torch.where(nearest_outside < big / 2, nearest_outside, farthest)
    per_pair = torch.relu(D - chosen + margin)
    w = torch.where(weak[:, None] | weak[None, :], weak_weight, 1.0) * pos
    return (per_pair * w).sum() / w.sum().clamp_min(1.0)


def assignment(
    X: np.ndarray, refs: np.ndarray, ref_label: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> tuple[int, int, int]:
    """(assigned, right, asked) when ``queries`` rows are assigned to the people of ``refs`` rows the way
    clustering assigns unknown faces (centred on the library's mean, default parameters)."""
    from photoclust.cluster import AssignParams, assign_to_people, centre, library_mean

    Xc = centre(X, library_mean(X))
    got = assign_to_people(Xc[queries], Xc[refs], ref_label, AssignParams())
    assigned = int((got >= 0).sum())
    right = int(((got >= 0) & (got == truth)).sum())
    return assigned, right, int(queries.size)


def validate(ex: Examples, folds: int = FOLDS, **fit_args: float) -> tuple[Validation, list[np.ndarray]]:
    """k-fold held-out assignment of the confirmed faces, without and with a head trained on the rest;
    also returns the fold heads' W (for the record; the head kept is trained on everything)."""
    from photoclust.learn.head import Head, TrainingSet

    strong = np.flatnonzero((ex.label >= 0) & ~ex.weak)
    rank = np.zeros(ex.label.size, dtype=np.int64)
    for k in np.unique(ex.label[strong]):
        rows = strong[ex.label[strong] == k]
        rank[rows] = np.arange(rows.size)
    counts = {int(k): int(c) for k, c in zip(*np.unique(ex.label[strong], return_counts=True), strict=True)}
    base = [0, 0, 0]
    head = [0, 0, 0]
    Ws = []
    for f in range(folds):
        held = np.array([r for r in strong if counts[int(ex.label[r])] >= 2 and rank[r] % folds == f], np.int64)
        if not held.size:
            continue
        train_label = ex.label.copy()
        train_label[held] = -1
        train = Examples(ex.X, train_label, ex.weak, ex.negatives)
        refs = np.setdiff1d(np.flatnonzero((train_label >= 0) & ~ex.weak), held)
        W = fit(train, **fit_args)  # type: ignore[arg-type]
        Ws.append(W)
        mapped = Head(W, "", TrainingSet(0, 0, 0, 0)).apply(ex.X)
        for acc, Y in ((base, ex.X), (head, mapped)):
            a, r, n = assignment(Y, refs, train_label[refs], held, ex.label[held])
            acc[0] += a
            acc[1] += r
            acc[2] += n
    asked = max(base[2], 1)
    return (
        Validation(
            folds=folds,
            faces=base[2],
            precision_base=base[1] / max(base[0], 1),
            recall_base=base[1] / asked,
            precision_head=head[1] / max(head[0], 1),
            recall_head=head[1] / asked,
        ),
        Ws,
    )
