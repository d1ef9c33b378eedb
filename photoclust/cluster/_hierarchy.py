"""HDBSCAN's hierarchy with constraint-aware cluster selection.

Steps: mutual-reachability minimum spanning tree (exact from a dense distance matrix, or on a
k-nearest-neighbour graph; with exact neighbours both give the same clusters on our benchmarks) ->
single-linkage tree -> condensed tree and stabilities (the ``hdbscan`` package's Cython
``condense_tree``/``compute_stability``) -> our own flat cluster selection, which is HDBSCAN's (excess
of mass or leaf, ``cluster_selection_epsilon``) with these changes:

* a node of the condensed tree holding faces of two must-link groups is never selected;
* a node holding cannot-link pairs is selected only if dropping a few faces (``evict_fraction``)
  resolves them, its value scaled down accordingly; otherwise the search continues in its children,
  and a conflicted leaf is split by constrained single linkage over its own MST edges (edges in
  increasing weight, skipping any that would join conflicting faces);
* a face that trailed off its cluster at a mutual-reachability distance above ``max_join`` is noise
  (HDBSCAN would give it the cluster's label however far away it was);
* with no split at all below the root, the root is a candidate (a small input that is one person).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hdbscan._hdbscan_linkage import mst_linkage_core
from hdbscan._hdbscan_tree import compute_stability, condense_tree
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree


def cos_to_euclid(sim: np.ndarray) -> np.ndarray:
    """Euclidean distance between unit vectors with cosine similarity ``sim``."""
    return np.sqrt(np.clip(2.0 - 2.0 * sim.astype(np.float64), 0.0, None))


@dataclass(frozen=True)
class Conflicts:
    """Constraints as the hierarchy sees them (row indices into the clustered set)."""

    pairs: np.ndarray  # int64 (m, 2): rows that must never share a cluster
    group: np.ndarray  # int64 (n,): must-link group of each row, -1 for none

    @property
    def empty(self) -> bool:
        return self.pairs.shape[0] == 0 and not bool((self.group >= 0).any())


def mst_exact(X: np.ndarray, min_samples: int) -> np.ndarray:
    """Exact mutual-reachability MST, ``(n-1, 3)`` rows ``[a, b, weight]`` (dense, O(n²) memory)."""
    D = cos_to_euclid(X @ X.T)
    np.fill_diagonal(D, 0.0)
    n = D.shape[0]
    ms = min(n - 1, min_samples)
    core = np.partition(D, ms, axis=1)[:, ms]
    np.maximum(D, core[None, :], out=D)
    np.maximum(D, core[:, None], out=D)
    return np.asarray(mst_linkage_core(D))


def mst_knn(idx: np.ndarray, sim: np.ndarray, min_samples: int) -> np.ndarray:
    """Mutual-reachability MST restricted to the kNN graph; components joined at the graph's top weight.

    Edges of the kNN graph are ``max(core_a, core_b, d_ab)``. Where the graph falls apart (groups of faces
    whose neighbours all lie inside the group), components are chained with edges of the largest weight
    the graph knows: a face's nearest outsider is at least as far as its k-th neighbour.
    """
    n, k = idx.shape
    dist = cos_to_euclid(sim)
    ms = min(min_samples, k)
    core = dist[:, ms - 1] if ms >= 1 else np.zeros(n)
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = idx.reshape(-1)
    w = dist.reshape(-1)
    ok = (cols >= 0) & np.isfinite(w)
    rows, cols, w = rows[ok], cols[ok], w[ok]
    w = np.maximum(w, np.maximum(core[rows], core[cols]))
    ok = np.isfinite(w)
    rows, cols, w = rows[ok], cols[ok], w[ok]
    a = np.minimum(rows, cols)
    b = np.maximum(rows, cols)
    key = a * n + b
    key, first = np.unique(key, return_index=True)  # each undirected edge once (same weight both ways)
    a, b, w = a[first], b[first], w[first]
    top = float(w.max()) if w.size else 2.0
    # csgraph drops explicit zeros; shifting every weight by a constant does not change the MST.
    g = coo_matrix((w + 1.0, (a, b)), shape=(n, n)).tocsr()
    t = minimum_spanning_tree(g).tocoo()
    edges = np.column_stack([t.row.astype(np.float64), t.col.astype(np.float64), t.data - 1.0])
    n_comp, comp = connected_components(t, directed=False)
    if n_comp > 1:
        # One representative per component (its smallest row), chained in component order.
        reps = np.full(n_comp, n, dtype=np.int64)
        np.minimum.at(reps, comp, np.arange(n, dtype=np.int64))
        link = np.column_stack(
            [reps[:-1].astype(np.float64), reps[1:].astype(np.float64), np.full(n_comp - 1, max(top, 1e-9))]
        )
        edges = np.vstack([edges, link])
    return edges


def single_linkage(mst: np.ndarray) -> np.ndarray:
    """scipy-style linkage matrix ``[a, b, distance, size]`` from MST edges (any order).

    Same output as ``hdbscan._hdbscan_linkage.label``, which is ~15x slower on 100k edges.
    """
    edges = mst[np.argsort(mst[:, 2], kind="stable")]
    m = edges.shape[0]
    n = m + 1
    a = edges[:, 0].astype(np.int64).tolist()
    b = edges[:, 1].astype(np.int64).tolist()
    parent = list(range(2 * n - 1))
    size = [1] * n + [0] * (n - 1)
    out_a = [0] * m
    out_b = [0] * m
    out_s = [0] * m
    for e in range(m):
        x = a[e]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[e]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        out_a[e] = x
        out_b[e] = y
        s = size[x] + size[y]
        out_s[e] = s
        size[n + e] = s
        parent[x] = parent[y] = n + e
    return np.column_stack(
        [
            np.array(out_a, dtype=np.float64),
            np.array(out_b, dtype=np.float64),
            edges[:, 2],
            np.array(out_s, dtype=np.float64),
        ]
    )


@dataclass
class Condensed:
    n: int
    parent: np.ndarray  # (m,) parent node id of cluster node n+i; -1 for the root
    birth: np.ndarray  # (m,) lambda at which the node appears
    stability: np.ndarray  # (m,)
    has_children: np.ndarray  # (m,) bool
    size: np.ndarray  # (m,) faces in the node's subtree
    point_node: np.ndarray  # (n,) cluster node each point falls out of
    point_lambda: np.ndarray  # (n,) lambda (1 / distance) at which it falls out
    mst: np.ndarray  # sorted MST edges (n-1, 3), for splitting leaves

    @property
    def m(self) -> int:
        return self.parent.shape[0]


def condense(mst: np.ndarray, n: int, min_cluster_size: int) -> Condensed:
    mst = mst[np.argsort(mst[:, 2], kind="stable")]
    sl = single_linkage(mst)
    ct = condense_tree(sl, min_cluster_size)
    stab_dict = compute_stability(ct)
    is_cluster_row = ct["child"] >= n
    cr = ct[is_cluster_row]
    m = 1 + (int(cr["child"].max()) - n if cr.shape[0] else 0)
    parent = np.full(m, -1, dtype=np.int64)
    birth = np.zeros(m)
    parent[cr["child"] - n] = cr["parent"]
    birth[cr["child"] - n] = cr["lambda_val"]
    stability = np.zeros(m)
    for node, s in stab_dict.items():
        stability[int(node) - n] = s
    has_children = np.zeros(m, dtype=bool)
    has_children[cr["parent"] - n] = True
    size = np.full(m, n, dtype=np.float64)
    size[cr["child"] - n] = cr["child_size"]
    point_node = np.full(n, n, dtype=np.int64)
    point_lambda = np.zeros(n)
    pr = ct[~is_cluster_row]
    point_node[pr["child"]] = pr["parent"]
    point_lambda[pr["child"]] = pr["lambda_val"]
    return Condensed(n, parent, birth, stability, has_children, size, point_node, point_lambda, mst)


def _conflicts_per_node(c: Condensed, conf: Conflicts) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster node: ``hard`` (holds two must-link groups) and ``evict`` (faces to drop so that it
    holds no cannot-link pair). Both count everything in the node's subtree."""
    n, m = c.n, c.m
    par = np.where(c.parent >= 0, c.parent - n, -1)  # parent as node index, -1 for root
    evict = np.zeros(m, dtype=np.int64)
    hard = np.zeros(m, dtype=bool)
    if conf.pairs.shape[0]:
        depth = np.zeros(m, dtype=np.int64)
        for i in range(1, m):  # children have larger ids than their parents
            depth[i] = depth[par[i]] + 1
        a, b = conf.pairs[:, 0], conf.pairs[:, 1]
        u = c.point_node[a] - n
        v = c.point_node[b] - n
        while True:  # lowest common ancestor of the two faces' nodes
            diff = u != v
            if not diff.any():
                break
            du, dv = depth[u], depth[v]
            u = np.where(diff & (du >= dv), par[u], u)
            v = np.where(diff & (dv >= du), par[v], v)
        # The face that would go: never a group member; else the one that trails off first.
        ga, gb = conf.group[a], conf.group[b]
        b_goes = (ga >= 0) | ((gb < 0) & (c.point_lambda[b] <= c.point_lambda[a]))
        victim = np.where(b_goes, b, a)
        key = np.unique(u * n + victim)
        np.add.at(evict, key // n, 1)
    g = conf.group
    if (g >= 0).any():
        big = np.iinfo(np.int64).max
        gmin = np.full(m, big, dtype=np.int64)
        gmax = np.full(m, -1, dtype=np.int64)
        rows = np.flatnonzero(g >= 0)
        nodes = c.point_node[rows] - n
        np.minimum.at(gmin, nodes, g[rows])
        np.maximum.at(gmax, nodes, g[rows])
        for i in range(m - 1, 0, -1):
            p = par[i]
            gmin[p] = min(gmin[p], gmin[i])
            gmax[p] = max(gmax[p], gmax[i])
        hard = (gmax >= 0) & (gmin != gmax)
    for i in range(m - 1, 0, -1):
        evict[par[i]] += evict[i]
    return hard, evict


def select(
    c: Condensed,
    conf: Conflicts,
    *,
    method: str,
    epsilon: float,
    allow_single_cluster: bool,
    min_cluster_size: int,
    max_join: float = np.inf,
    evict_fraction: float = 0.0,
) -> np.ndarray:
    """Flat labels (``-1`` noise, else an arbitrary non-negative cluster number) honouring ``conf``.

    ``max_join`` (Euclidean): a point that left its cluster's subtree at a mutual-reachability distance
    above it is noise, not a member (HDBSCAN would label it with the cluster it trails off from).

    ``evict_fraction``: a node whose only conflicts are cannot-link pairs that dropping at most
    ``max(1, evict_fraction * size)`` faces resolves may still be selected, valued at its stability
    scaled by the share of faces kept (the faces are dropped later, by the caller's enforcement).
    """
    n, m = c.n, c.m
    labels = np.full(n, -1, dtype=np.int64)
    if m == 0:
        return labels
    if conf.empty:
        hard, evict = np.zeros(m, dtype=bool), np.zeros(m, dtype=np.int64)
    else:
        hard, evict = _conflicts_per_node(c, conf)
    par = np.where(c.parent >= 0, c.parent - n, -1)
    size = c.size
    allowed = ~hard & (evict <= np.maximum(1.0, evict_fraction * size))
    allowed &= (evict == 0) | (evict_fraction > 0)
    value_if_selected = np.where(allowed, c.stability * (1.0 - evict / size), -np.inf)
    clean = ~hard & (evict == 0)
    selected = np.zeros(m, dtype=bool)
    child_sum = np.zeros(m)
    first = 0 if allow_single_cluster else 1  # node 0 is the root
    for i in range(m - 1, first - 1, -1):
        if method == "leaf":
            selected[i] = bool(allowed[i]) and not c.has_children[i]
            value = 0.0
        elif allowed[i] and value_if_selected[i] >= child_sum[i]:
            selected[i] = True
            value = value_if_selected[i]
        else:
            value = child_sum[i]
        if par[i] >= 0:
            child_sum[par[i]] += value
    if not c.has_children[0] and allowed[0]:
        # Nothing split off the root: the data is one group (plus noise that ``max_join`` removes).
        selected[0] = True
    if epsilon > 0.0:
        for node in np.flatnonzero(selected).tolist():
            if c.birth[node] <= 0 or 1.0 / c.birth[node] >= epsilon:
                continue
            j = node
            while par[j] >= 0 and clean[par[j]]:
                p = int(par[j])
                if p == 0 and not allow_single_cluster:
                    break
                j = p
                if c.birth[p] <= 0 or 1.0 / c.birth[p] > epsilon:
                    break
            selected[j] = True
    # A node is a final cluster when selected with no selected ancestor.
    owner = np.full(m, -1, dtype=np.int64)
    for i in range(m):
        p = par[i]
        if p >= 0 and owner[p] >= 0:
            owner[i] = owner[p]
        elif selected[i]:
            owner[i] = i
    labels = owner[c.point_node - n]
    if np.isfinite(max_join):
        labels[c.point_lambda * max_join < 1.0] = -1  # 1 / lambda > max_join
    # Conflicted leaves with no selected ancestor are split by constrained single linkage.
    bad_leaves = np.flatnonzero(~allowed & ~c.has_children & (owner < 0))
    if bad_leaves.size:
        next_label = m
        for leaf in bad_leaves:
            rows = np.flatnonzero(c.point_node == leaf + n)
            rows = rows[c.point_lambda[rows] * max_join >= 1.0]
            if rows.size < min_cluster_size:
                continue
            for part in _constrained_split(c.mst, rows, conf):
                if part.size >= min_cluster_size:
                    labels[part] = next_label
                    next_label += 1
    return labels


def _constrained_split(mst: np.ndarray, rows: np.ndarray, conf: Conflicts) -> list[np.ndarray]:
    """Parts of ``rows`` from single linkage over their MST edges that never joins conflicting rows."""
    inside = np.zeros(int(max(rows.max(), mst[:, :2].max())) + 1, dtype=bool)
    inside[rows] = True
    a = mst[:, 0].astype(np.int64)
    b = mst[:, 1].astype(np.int64)
    keep = inside[a] & inside[b]
    a, b = a[keep], b[keep]  # already sorted by weight
    partners: dict[int, list[int]] = {}
    P = conf.pairs
    for x, y in P[inside[P[:, 0]] & inside[P[:, 1]]].tolist() if P.shape[0] else []:
        partners.setdefault(x, []).append(y)
        partners.setdefault(y, []).append(x)
    uf_parent = {int(r): int(r) for r in rows}
    members: dict[int, list[int]] = {int(r): [int(r)] for r in rows}
    group: dict[int, int] = {int(r): int(conf.group[r]) for r in rows}

    def find(x: int) -> int:
        while uf_parent[x] != x:
            uf_parent[x] = uf_parent[uf_parent[x]]
            x = uf_parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx == ry:
            continue
        gx, gy = group[rx], group[ry]
        if gx >= 0 and gy >= 0 and gx != gy:
            continue
        if len(members[rx]) > len(members[ry]):
            rx, ry = ry, rx
        if any(find(p) == ry for q in members[rx] for p in partners.get(q, ())):
            continue
        uf_parent[rx] = ry
        members[ry].extend(members.pop(rx))
        group[ry] = max(gx, gy)
    return [np.array(sorted(v), dtype=np.int64) for v in members.values()]
