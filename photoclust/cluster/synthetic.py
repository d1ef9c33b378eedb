"""Synthetic face-like embeddings for tests and benchmarks (no model needed).

Identities are random unit centres in 512-d; a face is ``normalise(centre + noise)`` with a per-identity
noise level chosen so that two faces of one identity are on average 0.15-0.35 apart in cosine distance (real
FaceNet embeddings on lfw_gray_a: 10th-90th percentiles of an identity's mean pair distance 0.17-0.43; the
noise here is isotropic, so every pair of an identity sits near that mean, while real identities also have
the close pairs that start a cluster), while faces of unrelated identities are ~1.0 apart (random directions in 512-d are nearly orthogonal). Identity sizes are
long-tailed like a family photo library (a few people in thousands of photos, many in a handful), and a
fraction of faces are "strangers": singletons that belong to nobody and should stay noise.

``related`` makes some identities relatives of another one (centres ``cos ≈ 0.5`` apart, so their faces
are ~0.7-0.8 apart): the hard case for precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photoclust.types import EMBEDDING_DIM

DIM = EMBEDDING_DIM


@dataclass(frozen=True)
class SyntheticFaces:
    X: np.ndarray  # float32 (n, dim), unit rows
    truth: np.ndarray  # int64 (n,), identity per face; strangers have -1
    n_identities: int

    @property
    def strangers(self) -> np.ndarray:
        return self.truth < 0


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def identity_sizes(n_faces: int, rng: np.random.Generator, *, alpha: float = 1.6, max_frac: float = 0.03) -> list[int]:
    """Long-tailed identity sizes (Pareto, at least 2 faces each) adding up to ``n_faces``."""
    cap = max(2, int(max_frac * n_faces))
    sizes: list[int] = []
    left = n_faces
    while left > 0:
        s = int(min(cap, 2 + np.floor(rng.pareto(alpha) * 2.0)))
        s = min(s, left)
        if s < 2:  # a lone leftover face joins the previous identity
            if sizes:
                sizes[-1] += s
            else:
                sizes.append(s)
            break
        sizes.append(s)
        left -= s
    return sizes


def make_faces(
    n: int,
    *,
    seed: int = 0,
    dim: int = DIM,
    stranger_frac: float = 0.2,
    within: tuple[float, float] = (0.15, 0.35),
    related: float = 0.0,
    related_cos: float = 0.5,
    sizes: list[int] | None = None,
) -> SyntheticFaces:
    """``n`` synthetic faces (see the module docstring); deterministic for a given ``seed``.

    ``within`` is the range of the mean within-identity cosine distance (one value drawn per identity);
    ``related`` is the fraction of identities generated as a relative of an earlier identity.
    """
    rng = np.random.default_rng(seed)
    n_strangers = int(round(stranger_frac * n))
    if sizes is None:
        sizes = identity_sizes(n - n_strangers, rng) if n - n_strangers > 0 else []
    n_ids = len(sizes)
    centres = _unit(rng.standard_normal((max(n_ids, 1), dim)))
    for i in range(1, n_ids):
        if rng.random() < related:
            j = int(rng.integers(0, i))
            # centre_i = cos*c_j + sin*orthogonal part: cos(c_i, c_j) == related_cos.
            o = centres[i] - (centres[i] @ centres[j]) * centres[j]
            o /= np.linalg.norm(o)
            centres[i] = related_cos * centres[j] + np.sqrt(1 - related_cos**2) * o
    parts: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    for i, size in enumerate(sizes):
        # Two faces c+e1, c+e2 with |e|^2 = s2 have cos ~ 1/(1+s2): cosine distance d = s2/(1+s2).
        d = rng.uniform(*within)
        s2 = d / (1 - d)
        noise = rng.standard_normal((size, dim)) * np.sqrt(s2 / dim)
        parts.append(_unit(centres[i] + noise))
        truth.append(np.full(size, i, dtype=np.int64))
    if n_strangers:
        parts.append(_unit(rng.standard_normal((n_strangers, dim))))
        truth.append(np.full(n_strangers, -1, dtype=np.int64))
    X = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, dim), np.float32)
    y = np.concatenate(truth) if truth else np.zeros(0, np.int64)
    order = rng.permutation(len(y))
    return SyntheticFaces(X=np.ascontiguousarray(X[order]), truth=y[order], n_identities=n_ids)
