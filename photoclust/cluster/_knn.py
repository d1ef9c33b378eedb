"""k-nearest-neighbour graphs of unit vectors by cosine similarity (numpy matmul, no extra deps).

``knn_exact`` is brute force in row blocks (O(n²·d) flops, fine to ~20k faces). ``knn_ivf`` is an
inverted-file index: spherical k-means cells; every point is filed in its two nearest cells; the
queries of one cell are compared, in one matmul, with the points filed in the ``nprobe`` cells whose
centroids are nearest to that cell's centroid. Faces of one person sit in a few neighbouring cells, so
recall of the true neighbours is high where it matters (inside identities); for "strangers" the
neighbours found may be farther than the true ones, which only makes them more noise-like.

Both return ``(idx, sim)``: ``int64``/``float32`` arrays ``(n, k)``, neighbours in decreasing similarity,
the point itself excluded. Rows of points with fewer than ``k`` others are padded with ``idx = -1``,
``sim = -inf``.
"""

from __future__ import annotations

import numpy as np

_BLOCK_ELEMS = 1 << 24  # ~64 MB of float32 similarities per block


def _topk_rows(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest entries of each row, largest first."""
    m = S.shape[1]
    if k < m:
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(m), (S.shape[0], m)).copy()
    vals = np.take_along_axis(S, part, axis=1)
    # Stable order: by similarity descending, then by column index, so ties are deterministic.
    order = np.lexsort((part, -vals), axis=-1) if part.size else part
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _pad(idx: np.ndarray, sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if idx.shape[1] >= k:
        return idx[:, :k], sim[:, :k]
    n, have = idx.shape
    pi = np.full((n, k), -1, dtype=np.int64)
    ps = np.full((n, k), -np.inf, dtype=np.float32)
    pi[:, :have] = idx
    ps[:, :have] = sim
    return pi, ps


def knn_exact(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = X.shape[0]
    kk = min(k, max(n - 1, 0))
    idx = np.empty((n, kk), dtype=np.int64)
    sim = np.empty((n, kk), dtype=np.float32)
    if kk == 0:
        return _pad(idx, sim, k)
    block = max(1, _BLOCK_ELEMS // max(n, 1))
    for s in range(0, n, block):
        e = min(n, s + block)
        S = X[s:e] @ X.T
        S[np.arange(e - s), np.arange(s, e)] = -np.inf  # not its own neighbour
        i, v = _topk_rows(S, kk)
        idx[s:e] = i
        sim[s:e] = v
    return _pad(idx, sim, k)


def spherical_kmeans(
    X: np.ndarray, n_cells: int, *, seed: int, iters: int = 6, sample: int | None = None
) -> np.ndarray:
    """Unit centroids of ``n_cells`` cells (cosine k-means on a deterministic sample of ``X``)."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    m = min(n, sample if sample is not None else max(40 * n_cells, 10000))
    S = X[np.sort(rng.choice(n, size=m, replace=False))] if m < n else X
    C = S[np.sort(rng.choice(S.shape[0], size=n_cells, replace=False))].copy()
    for _ in range(iters):
        assign = np.empty(S.shape[0], dtype=np.int64)
        block = max(1, _BLOCK_ELEMS // n_cells)
        for s in range(0, S.shape[0], block):
            assign[s : s + block] = np.argmax(S[s : s + block] @ C.T, axis=1)
        sums = np.zeros_like(C)
        np.add.at(sums, assign, S)
        counts = np.bincount(assign, minlength=n_cells)
        empty = counts == 0
        norms = np.linalg.norm(sums, axis=1)
        ok = ~empty & (norms > 0)
        C[ok] = sums[ok] / norms[ok, None]
        if empty.any():  # re-seed empty cells with random sample points
            C[empty] = S[rng.choice(S.shape[0], size=int(empty.sum()), replace=False)]
    return C


def knn_ivf(
    X: np.ndarray, k: int, *, cell_size: int = 128, nprobe: int = 12, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    n = X.shape[0]
    n_cells = max(1, n // cell_size)
    if n_cells < 2 or nprobe >= n_cells:
        return knn_exact(X, k)
    C = spherical_kmeans(X, n_cells, seed=seed)
    # Two nearest cells of every point: the first is where it queries from, both are where it is filed.
    top2 = np.empty((n, 2), dtype=np.int64)
    block = max(1, _BLOCK_ELEMS // n_cells)
    for s in range(0, n, block):
        top2[s : s + block] = _topk_rows(X[s : s + block] @ C.T, 2)[0]
    home = top2[:, 0]
    filed_cell = top2.reshape(-1)
    filed_point = np.repeat(np.arange(n, dtype=np.int64), 2)
    order = np.argsort(filed_cell, kind="stable")
    filed_point = filed_point[order]
    bounds = np.searchsorted(filed_cell[order], np.arange(n_cells + 1))
    home_order = np.argsort(home, kind="stable")
    home_bounds = np.searchsorted(home[home_order], np.arange(n_cells + 1))
    CC = C @ C.T
    np.fill_diagonal(CC, np.inf)  # a cell always probes itself (first)
    probes = _topk_rows(CC, nprobe)[0]

    idx = np.full((n, k), -1, dtype=np.int64)
    sim = np.full((n, k), -np.inf, dtype=np.float32)
    for c in range(n_cells):
        q = home_order[home_bounds[c] : home_bounds[c + 1]]
        if q.size == 0:
            continue
        cand = np.unique(np.concatenate([filed_point[bounds[p] : bounds[p + 1]] for p in probes[c]]))
        S = X[q] @ X[cand].T
        # Mask each query's own column (cand is sorted, q are in it since home is a probe of its cell).
        S[np.arange(q.size), np.searchsorted(cand, q)] = -np.inf
        kk = min(k, cand.size - 1)
        if kk <= 0:
            continue
        i, v = _topk_rows(S, kk)
        idx[q, :kk] = cand[i]
        sim[q, :kk] = v
    bad = ~np.isfinite(sim)
    idx[bad] = -1
    return idx, sim
