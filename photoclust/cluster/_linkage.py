"""Average-linkage agglomerative clustering on a sparse candidate graph, with constraints.

For unit vectors the average cosine similarity between the faces of two clusters is the dot product of
their (unnormalised) means: ``mean_{a in A, b in B} x_a . x_b = (sum_A / |A|) . (sum_B / |B|)``. So the
average linkage of any two clusters is exact from their sum vectors and sizes, without the n x n distance
matrix of textbook UPGMA: memory stays O(n · dim).

Which clusters are compared: the pairs joined by an edge of the faces' k-nearest-neighbour graph (a face's
neighbours are the only faces close enough to matter); after that graph is exhausted, the pairs of
clusters whose centroids are nearest neighbours (a cluster's faces may all have their k neighbours inside
it, e.g. one person split in two halves). Merging the globally closest pair first, with lazy updates in a
heap, is exact UPGMA restricted to those candidates.

Constraints are never broken: two clusters that hold a cannot-link pair (two faces of one photo, a face
the user removed from a person) or two must-link groups (two people the user told apart) never merge. The
members of a must-link group start as clusters of their own, each attracting the faces close to it, and
all the clusters that hold a member of group ``g`` are person ``g`` in the end.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np

from ._hierarchy import Conflicts
from ._knn import knn_exact

RELEVANT = 0.25  # cosine similarity below the loosest threshold beyond which a candidate pair is dropped


class _Agglomeration:
    """Cluster state: sum vectors, sizes, versions, adjacency and conflicts, by cluster id (a row id)."""

    def __init__(self, X: np.ndarray, conf: Conflicts, threshold: float, pair_threshold: float) -> None:
        n = X.shape[0]
        self.smin = 1.0 - max(threshold, pair_threshold)
        self.t_big, self.t_pair = threshold, pair_threshold
        self.S = X.astype(np.float32, copy=True)
        self.size = np.ones(n, dtype=np.int64)
        self.root = np.arange(n, dtype=np.int64)  # row -> its cluster id (kept current for live ids)
        self.members: dict[int, list[int]] = {}
        self.group = conf.group.copy()  # cluster id -> must-link group (-1 none)
        self.version = np.zeros(n, dtype=np.int64)
        self.alive = np.ones(n, dtype=bool)
        self.adj: dict[int, set[int]] = {}
        # Conflicts between *entities*: a cluster of no group is its own entity (its id); all the clusters
        # of must-link group g are one entity (n + g), since they end up as one person.
        self.n = n
        self.conflict: dict[int, set[int]] = {}
        for a, b in conf.pairs.tolist():
            ea, eb = self.entity(a), self.entity(b)
            self.conflict.setdefault(ea, set()).add(eb)
            self.conflict.setdefault(eb, set()).add(ea)
        self.heap: list[tuple[float, int, int, int, int]] = []
        # Members of a must-link group each start their own cluster (a person confirmed in two very
        # different photos attracts faces like either); clusters of two groups never merge, and every
        # cluster holding a member of a group becomes that group's person in the end.

    def link(self, a: int, b: np.ndarray) -> np.ndarray:
        """Average linkage (mean cosine similarity) of cluster ``a`` with each cluster in ``b``."""
        return (self.S[b] @ self.S[a]) / (self.size[b] * self.size[a])

    def entity(self, c: int) -> int:
        return self.n + int(self.group[c]) if self.group[c] >= 0 else c

    def _union(self, a: int, b: int) -> int:
        """Merge clusters ``a`` and ``b``; the larger keeps its id. Returns it."""
        if self.size[a] < self.size[b]:
            a, b = b, a
        ea, eb = self.entity(a), self.entity(b)
        self.S[a] += self.S[b]
        self.size[a] += self.size[b]
        self.version[a] += 1
        self.alive[b] = False
        mb = self.members.pop(b, [b])
        self.members.setdefault(a, [a]).extend(mb)
        self.root[mb] = a
        if self.group[b] >= 0:
            self.group[a] = self.group[b]
        keep, gone = (ea, eb) if self.entity(a) == ea else (eb, ea)
        if keep != gone:
            moved = self.conflict.pop(gone, set())
            if moved:
                self.conflict.setdefault(keep, set()).update(moved)
                for c in moved:
                    peers = self.conflict[c]
                    peers.discard(gone)
                    peers.add(keep)
        nb = self.adj.pop(b, set())
        na = self.adj.setdefault(a, set())
        na |= nb
        na.discard(a)
        na.discard(b)
        for c in nb:
            peers = self.adj[c]
            peers.discard(b)
            if c != a:
                peers.add(a)
        return a

    def threshold(self, a: int, b: int) -> float:
        """The largest average distance at which clusters of these sizes merge: ``pair_threshold`` for two
        single faces, approaching ``threshold`` as the clusters grow (an average over more pairs of faces
        is a steadier estimate)."""
        return self.t_big + (self.t_pair - self.t_big) / float(np.sqrt(self.size[a] * self.size[b]))

    def may_merge(self, a: int, b: int, sim: float) -> bool:
        if 1.0 - sim > self.threshold(a, b):
            return False
        if self.group[a] >= 0 and self.group[b] >= 0 and self.group[a] != self.group[b]:
            return False
        return self.entity(b) not in self.conflict.get(self.entity(a), ())

    def add_edges(self, a: np.ndarray, b: np.ndarray, sims: np.ndarray | None = None) -> None:
        """Make cluster pairs ``(a[i], b[i])`` candidates (cluster ids), pushing those close enough.

        Pairs farther than ``RELEVANT`` beyond the loosest threshold are dropped: merging cannot bring
        them within reach (a merged cluster's linkage is the size-weighted mean of its parts', and a
        part close to the other cluster brings its own candidate pair)."""
        keep = a != b
        a, b = a[keep], b[keep]
        if a.size == 0:
            return
        n = self.S.shape[0]
        key, first = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_index=True)
        if sims is not None:  # linkages known already (single faces: their cosine similarity)
            sims = sims[keep][first].astype(np.float64)
        a, b = key // n, key % n
        if sims is None:
            sims = np.concatenate(
                [
                    np.einsum("ij,ij->i", self.S[a[s : s + 65536]], self.S[b[s : s + 65536]])
                    for s in range(0, a.size, 65536)
                ]
            ) / (self.size[a] * self.size[b])
        rel = sims >= self.smin - RELEVANT
        a, b, sims = a[rel], b[rel], sims[rel]
        src, dst = np.concatenate([a, b]), np.concatenate([b, a])
        order = np.argsort(src, kind="stable")
        src, dst = src[order], dst[order]
        bounds = np.flatnonzero(np.r_[True, src[1:] != src[:-1], True]) if src.size else np.zeros(1, np.int64)
        for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            self.adj.setdefault(int(src[s]), set()).update(dst[s:e].tolist())
        ok = sims >= self.smin
        va, vb = self.version[a[ok]].tolist(), self.version[b[ok]].tolist()
        self.heap.extend(zip((-sims[ok]).tolist(), a[ok].tolist(), b[ok].tolist(), va, vb, strict=True))
        heapq.heapify(self.heap)

    def run(self) -> int:
        """Merge candidate pairs, closest first, while their linkage is within the threshold."""
        merges = 0
        heap = self.heap
        while heap:
            s, a, b, va, vb = heapq.heappop(heap)
            if not (self.alive[a] and self.alive[b]) or self.version[a] != va or self.version[b] != vb:
                continue
            if not self.may_merge(a, b, -s):
                continue
            c = self._union(a, b)
            merges += 1
            nb = np.fromiter(self.adj.get(c, ()), dtype=np.int64)
            if nb.size == 0:
                continue
            sims = self.link(c, nb)
            ok = sims >= self.smin
            vc = int(self.version[c])
            for s, d in zip(sims[ok].tolist(), nb[ok].tolist(), strict=True):
                heapq.heappush(heap, (-s, c, d, vc, int(self.version[d])))
        return merges

    def clusters(self) -> np.ndarray:
        return np.flatnonzero(self.alive)

    def centroids(self, ids: np.ndarray) -> np.ndarray:
        C = self.S[ids]
        return (C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def average_linkage(
    X: np.ndarray,
    conf: Conflicts,
    threshold: float,
    pair_threshold: float,
    idx: np.ndarray,
    knn: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]] = knn_exact,
    sim: np.ndarray | None = None,
    *,
    centroid_k: int = 8,
    rounds: int = 3,
) -> np.ndarray:
    """Cluster ids (a representative row per cluster) of average-linkage clustering at ``threshold``.

    ``X``: unit rows; ``conf``: cannot-link pairs and must-link groups (rows); ``threshold``: the
    largest average cosine distance at which two clusters merge; ``idx``: each row's nearest
    neighbours (``-1`` padding allowed), the first candidates; ``knn(C, k)``: nearest neighbours of
    the centroids of the clusters of two or more faces, the later candidates; ``sim``: the cosine
    similarities that go with ``idx``, if known.
    """
    n = X.shape[0]
    agg = _Agglomeration(X, conf, threshold, pair_threshold)
    if n < 2:
        return agg.root.copy()
    rows = np.repeat(np.arange(n, dtype=np.int64), idx.shape[1])
    cols = idx.reshape(-1)
    ok = cols >= 0
    known = sim.reshape(-1)[ok] if sim is not None else None
    agg.add_edges(rows[ok], cols[ok], known)
    agg.run()
    # Clusters whose faces all found their neighbours inside: compare the clusters' centroids directly.
    for _ in range(rounds):
        ids = agg.clusters()
        ids = ids[agg.size[ids] >= 2]  # a single face's own neighbours were candidates already
        if ids.size < 2:
            break
        cidx, _ = knn(agg.centroids(ids), min(centroid_k, ids.size - 1))
        r = np.repeat(ids, cidx.shape[1])
        c = cidx.reshape(-1)
        good = c >= 0
        agg.add_edges(r[good], ids[c[good]])
        if agg.run() == 0:
            break
    return agg.root.copy()
