"""Clustering faces into people and assigning new faces to known people. Pure numpy; no database.

Rows, not face ids: every function takes embeddings ``X`` (``float32 (n, 512)``, L2-normalised rows) and
constraints as **row indices** into the arrays passed in the same call. The caller keeps the row -> face
id mapping (``ids[row]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from photoclust.errors import ConstraintError

from ._hierarchy import Conflicts, condense, mst_exact, mst_knn, select
from ._knn import knn_exact, knn_ivf, refine_knn
from ._linkage import average_linkage
from .params import AssignParams, ClusterParams

_SMALL_PERSON = 48  # assign_to_people: people up to this many faces are searched pair by pair

PairsLike = Iterable[tuple[int, int]] | np.ndarray | Sequence[Sequence[int]]
GroupsLike = Sequence[Sequence[int]] | Sequence[np.ndarray]

__all__ = [
    "CENTRE_PRIOR",
    "assign_to_people",
    "centre",
    "library_mean",
    "link_to_people",
    "centroids",
    "cluster_faces",
    "same_photo_pairs",
]


# --------------------------------------------------------------------------------------------- inputs


def _as_unit(X: Any, name: str = "X") -> np.ndarray:
    A = np.asarray(X, dtype=np.float32)
    if A.ndim != 2:
        if A.size == 0:
            return np.zeros((0, 0), dtype=np.float32)
        raise ValueError(f"{name} must be a 2-D array (n, dim), got shape {A.shape}")
    if A.shape[0] == 0:
        return np.ascontiguousarray(A)
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))  # a NaN or inf anywhere in a row shows here
    if not np.isfinite(norms).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if (norms < 1e-6).any():
        raise ValueError(f"{name} has an all-zero row; embeddings must be L2-normalised vectors")
    if np.abs(norms - 1.0).max() > 1e-3:
        A = A / norms[:, None]
    return np.ascontiguousarray(A)


def _as_pairs(pairs: PairsLike, n: int, name: str) -> np.ndarray:
    P = np.asarray(list(pairs) if not isinstance(pairs, np.ndarray) else pairs, dtype=np.int64)
    if P.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError(f"{name} must be pairs (m, 2), got shape {P.shape}")
    if P.min() < 0 or P.max() >= n:
        raise ValueError(f"{name} has a row index outside 0..{n - 1}")
    if (P[:, 0] == P[:, 1]).any():
        raise ValueError(f"{name} pairs a row with itself")
    return P


def _groups(must_link: GroupsLike, n: int) -> np.ndarray:
    group = np.full(n, -1, dtype=np.int64)
    for g, members in enumerate(must_link):
        rows = np.asarray(members, dtype=np.int64).reshape(-1)
        if rows.size == 0:
            continue
        if rows.min() < 0 or rows.max() >= n:
            raise ValueError(f"must_link group {g} has a row index outside 0..{n - 1}")
        taken = group[rows]
        if ((taken >= 0) & (taken != g)).any():
            other = int(taken[taken >= 0][0])
            raise ConstraintError(f"a face is in two must-link groups ({other} and {g})")
        group[rows] = g
    return group


def _conflicts(n: int, cannot_link: PairsLike, must_link: GroupsLike, forbidden: PairsLike) -> Conflicts:
    group = _groups(must_link, n)
    pairs = _as_pairs(cannot_link, n, "cannot_link")
    F = np.asarray(list(forbidden) if not isinstance(forbidden, np.ndarray) else forbidden, dtype=np.int64)
    extra: list[np.ndarray] = []
    if F.size:
        if F.ndim != 2 or F.shape[1] != 2:
            raise ValueError(f"forbidden must be (row, group) pairs, got shape {F.shape}")
        if F[:, 0].min() < 0 or F[:, 0].max() >= n:
            raise ValueError(f"forbidden has a row index outside 0..{n - 1}")
        if F[:, 1].min() < 0 or F[:, 1].max() >= len(must_link):
            raise ValueError("forbidden names a must-link group that does not exist")
        if (group[F[:, 0]] == F[:, 1]).any():
            raise ConstraintError("a face is both in a must-link group and forbidden from it")
        # A face kept out of a group = a cannot-link between it and every member of the group.
        order = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[order], np.arange(len(must_link) + 1))
        for row, g in F.tolist():
            members = order[starts[g] : starts[g + 1]]
            if members.size:
                extra.append(np.column_stack([np.full(members.size, row, dtype=np.int64), members]))
    if extra:
        pairs = np.vstack([pairs, *extra])
    if pairs.shape[0]:
        ga, gb = group[pairs[:, 0]], group[pairs[:, 1]]
        if ((ga >= 0) & (ga == gb)).any():
            raise ConstraintError("two faces of one must-link group are also cannot-linked")
        pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    return Conflicts(pairs=pairs, group=group)


# A library's mean embedding is shrunk towards zero by this many faces' worth: a small library's mean is
# mostly its few people's identities, not the shared component that centring is meant to remove.
CENTRE_PRIOR = 500


def library_mean(X: np.ndarray) -> np.ndarray:
    """The mean face of a library (all its faces), shrunk towards zero when the library is small."""
    if X.shape[0] == 0:
        return np.zeros(X.shape[1] if X.ndim == 2 else 0, dtype=np.float32)
    n = X.shape[0]
    return (X.mean(axis=0) * (n / (n + CENTRE_PRIOR))).astype(np.float32)


def centre(X: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Unit rows of ``X - mean``: embeddings centred on the library's mean face.

    FaceNet embeddings of a library share a component (the "average face" of its photos: black-and-white
    scans, one camera, one family's lighting) that makes strangers look alike; removing the library's own
    mean spreads them apart. Measured on the tuning sets (benchmarks/eval_library.py): lfw_gray_a half A
    BCubed precision 0.983 -> 0.991 at higher recall; clustering and assignment both work on centred rows.
    """
    C = np.asarray(X, dtype=np.float32) - mean[None, :]
    norms = np.linalg.norm(C, axis=1, keepdims=True)
    return (C / np.maximum(norms, 1e-6)).astype(np.float32)


def same_photo_pairs(photo_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Cannot-link pairs ``(i, j)``, ``i < j``, for every two rows with the same photo id."""
    p = np.asarray(photo_ids)
    if p.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(p, kind="stable")
    sp = p[order]
    starts = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
    ends = np.r_[starts[1:], sp.size]
    out: list[np.ndarray] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s > 1:
            rows = np.sort(order[s:e])
            i, j = np.triu_indices(e - s, k=1)
            out.append(np.column_stack([rows[i], rows[j]]))
    return np.vstack(out).astype(np.int64) if out else np.zeros((0, 2), dtype=np.int64)


def group_sums(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per group of rows (``labels``, one per row of ``X``): ``(keys, inverse, sums, sizes)``. ``keys`` are
    the sorted distinct labels, ``inverse`` each row's position in ``keys``, ``sums`` the groups' sum vectors
    (float32) and ``sizes`` their row counts: all that average linkage needs to know of a group."""
    labels = np.asarray(labels)
    keys, inv = np.unique(labels, return_inverse=True)
    inv = inv.reshape(-1)
    onehot = csr_matrix((np.ones(inv.size, dtype=np.float32), (inv, np.arange(inv.size))), shape=(keys.size, inv.size))
    sums = np.asarray(onehot @ np.asarray(X, dtype=np.float32), dtype=np.float32).reshape(keys.size, -1)
    return keys, inv, sums, np.bincount(inv, minlength=keys.size)


def centroids(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(label_values, unit centroids)`` of the non-negative labels (normalised means of their rows)."""
    labels = np.asarray(labels, dtype=np.int64)
    values, inv = np.unique(labels[labels >= 0], return_inverse=True)
    rows = np.flatnonzero(labels >= 0)
    if values.size == 0:
        return values, np.zeros((0, X.shape[1]), dtype=np.float32)
    onehot = csr_matrix((np.ones(rows.size, dtype=np.float32), (inv, rows)), shape=(values.size, X.shape[0]))
    sums = np.asarray(onehot @ X, dtype=np.float32)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return values, sums / np.maximum(norms, 1e-12)


# ------------------------------------------------------------------------------------------ clustering


def cluster_faces(
    X: np.ndarray,
    params: ClusterParams | None = None,
    *,
    cannot_link: PairsLike = (),
    must_link: GroupsLike = (),
    forbidden: PairsLike = (),
) -> np.ndarray:
    """Group faces into people. Returns ``int64`` labels, one per row of ``X``.

    Labels: ``g`` in ``0 .. len(must_link)-1`` is must-link group ``g`` (that person); labels from
    ``len(must_link)`` up are new people, numbered by decreasing size; ``-1`` is noise (a face that fits
    nobody; never forced into a cluster).

    Constraints, all by row index, always honoured in the output:

    ``cannot_link``
        pairs of rows that are never given the same label (two faces of one photo; a face the user
        split from another).
    ``must_link``
        groups of rows that are one person (the user's confirmed faces of a person, merged people).
        Every member gets the group's label; a cluster that contains part of a group becomes that
        group's person; different groups are different people, so never share a label.
    ``forbidden``
        ``(row, g)`` pairs: that row never gets group ``g``'s label (a face the user removed from a
        person).

    Raises :class:`~photoclust.errors.ConstraintError` when the constraints contradict each other (a face
    in two groups, two members of one group cannot-linked, a member forbidden from its own group), and
    ``ValueError`` for malformed input.
    """
    params = params or ClusterParams()
    A = _as_unit(X)
    n = A.shape[0]
    conf = _conflicts(n, cannot_link, must_link, forbidden)
    n_groups = len(must_link)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    labels = np.full(n, -1, dtype=np.int64)
    idx = np.full((n, 0), -1, dtype=np.int64)
    sim = np.zeros((n, 0), dtype=np.float32)
    if params.method == "average":
        return _cluster_average(A, conf, n_groups, _as_forbidden(forbidden), params)
    if n >= max(params.min_cluster_size, 2):
        if n <= params.exact_max_faces:
            idx, sim = _neighbours(A, params)
            mst = mst_exact(A, params.min_samples)
        else:
            idx, sim = _neighbours(A, params)
            mst = mst_knn(idx, sim, params.min_samples)
        tree = condense(mst, n, params.min_cluster_size)
        eps = float(np.sqrt(2.0 * params.cluster_selection_epsilon))  # cosine -> Euclidean
        labels = select(
            tree,
            conf,
            method=params.cluster_selection_method,
            epsilon=eps,
            allow_single_cluster=params.allow_single_cluster,
            min_cluster_size=params.min_cluster_size,
            max_join=float(np.sqrt(2.0 * params.join_threshold)) if params.join_threshold < 2 else np.inf,
            evict_fraction=params.evict_fraction,
        )
    return finish_labels(A, labels, conf, n_groups, idx, sim, params)


def _as_forbidden(forbidden: PairsLike) -> np.ndarray:
    F = np.asarray(list(forbidden) if not isinstance(forbidden, np.ndarray) else forbidden, dtype=np.int64)
    return F.reshape(-1, 2)


def _cluster_average(
    A: np.ndarray, conf: Conflicts, n_groups: int, forbidden: np.ndarray, params: ClusterParams
) -> np.ndarray:
    """Average-linkage clustering (see ``_linkage``). Faces the user removed from a person (``forbidden``)
    sit out the agglomeration, so that one rejected face cannot keep a whole cluster from its person;
    they then join the cluster they are closest to by average linkage, if any and if allowed."""
    n = A.shape[0]
    out_rows = np.unique(forbidden[:, 0]) if forbidden.size else np.zeros(0, dtype=np.int64)
    out_rows = out_rows[conf.group[out_rows] < 0]  # a group member stays: it belongs to its group anyway
    inside = np.setdiff1d(np.arange(n), out_rows)
    root = inside.copy()
    if inside.size >= 2:
        sub = _subset_conflicts(conf, inside)
        idx, sim = _neighbours(A[inside], params)

        def knn(C: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            return _neighbours(C, params, k)

        t, tp = params.linkage_threshold, params.pair_threshold
        root = inside[average_linkage(A[inside], sub, t, tp, idx, knn, sim)]
    full = np.arange(n, dtype=np.int64)
    full[inside] = root
    if out_rows.size and inside.size:
        full[out_rows] = _join_clusters(A, conf, forbidden, inside, root, out_rows, params)
    return _relabel(_root_labels(full, conf.group, n_groups), n_groups, params.min_cluster_size)


def _join_clusters(
    A: np.ndarray,
    conf: Conflicts,
    forbidden: np.ndarray,
    inside: np.ndarray,
    root: np.ndarray,
    out_rows: np.ndarray,
    params: ClusterParams,
) -> np.ndarray:
    """The cluster (a representative row) each of ``out_rows`` joins by average linkage, or itself: never
    a cluster of a group it is forbidden from, nor one holding a face it is cannot-linked with."""
    clusters, inv, S, size = group_sums(A[inside], root)
    cluster_of = dict(zip(inside.tolist(), inv.tolist(), strict=True))
    cgroup = np.full(clusters.size, -1, dtype=np.int64)
    grouped = conf.group[inside] >= 0
    cgroup[inv[grouped]] = conf.group[inside][grouped]
    fq: list[int] = []
    fp: list[int] = []
    for k, r in enumerate(out_rows.tolist()):
        banned = forbidden[forbidden[:, 0] == r, 1]
        bad = set(np.flatnonzero(np.isin(cgroup, banned)).tolist())
        touching = conf.pairs[(conf.pairs[:, 0] == r) | (conf.pairs[:, 1] == r)]
        bad |= {cluster_of[o] for o in touching.reshape(-1).tolist() if o != r and o in cluster_of}
        bad_groups = cgroup[list(bad)]
        bad |= set(np.flatnonzero(np.isin(cgroup, bad_groups[bad_groups >= 0])).tolist())  # one person in the end
        fq += [k] * len(bad)
        fp += sorted(bad)
    ap = AssignParams(threshold=params.linkage_threshold, pair_threshold=params.pair_threshold)
    forbid = (np.array(fq, dtype=np.int64), np.array(fp, dtype=np.int64))
    best, score = link_to_people(A[out_rows], np.ones(out_rows.size, dtype=np.int64), S, size, ap, forbidden=forbid)
    # two of these faces that must differ may have won the same person: the closer one keeps it
    person = np.where(
        best >= 0, np.where(cgroup[np.maximum(best, 0)] >= 0, cgroup[np.maximum(best, 0)], best + conf.group.size), -1
    )
    pos = np.full(conf.group.size, -1, dtype=np.int64)
    pos[out_rows] = np.arange(out_rows.size)
    among = pos[conf.pairs] if conf.pairs.size else np.zeros((0, 2), dtype=np.int64)
    among = among[(among >= 0).all(axis=1)] if among.size else among
    kept = _resolve_cannot_link(person, score, among)
    return np.where(kept >= 0, clusters[np.maximum(best, 0)], out_rows)


def _subset_conflicts(conf: Conflicts, rows: np.ndarray) -> Conflicts:
    """The constraints among ``rows`` only, renumbered to positions in ``rows``."""
    if rows.size == conf.group.size:
        return conf
    pos = np.full(conf.group.size, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    P = pos[conf.pairs] if conf.pairs.size else conf.pairs
    keep = (P >= 0).all(axis=1) if P.size else np.zeros(0, dtype=bool)
    return Conflicts(pairs=P[keep] if P.size else P, group=conf.group[rows])


def _neighbours(A: np.ndarray, params: ClusterParams, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` (default ``knn_k``) nearest neighbours: exact up to ``exact_knn_max_faces``, an
    inverted-file index above."""
    k = min(params.knn_k if k is None else k, A.shape[0] - 1)
    if A.shape[0] <= params.exact_knn_max_faces:
        return knn_exact(A, k)
    idx, sim = knn_ivf(
        A, k, cell_size=params.ivf_cell_size, nprobe=params.ivf_nprobe, nfile=params.ivf_nfile, seed=params.seed
    )
    return refine_knn(A, idx, sim)


def _root_labels(root: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Labels from cluster representatives: a cluster holding must-link group ``g`` is ``g``, the others
    ``n_groups`` and up (in order of their representative)."""
    values, inv = np.unique(root, return_inverse=True)
    lab = n_groups + inv.astype(np.int64)
    grouped = group >= 0
    if grouped.any():
        cmap = n_groups + np.arange(values.size, dtype=np.int64)
        cmap[inv[grouped]] = group[grouped]
        lab = cmap[inv]
    return lab


def finish_labels(
    X: np.ndarray,
    labels: np.ndarray,
    conf: Conflicts,
    n_groups: int,
    idx: np.ndarray,
    sim: np.ndarray,
    params: ClusterParams,
) -> np.ndarray:
    """Post-processing shared by every clustering path (see :func:`cluster_faces` for the labels).

    1. clusters holding members of a must-link group become that group (members always do);
    2. clusters whose centroids are within ``merge_threshold`` merge, unless a constraint forbids it;
    3. noise faces clearly close to exactly one cluster are re-attached to it;
    4. any cannot-link pair still sharing a label loses its weaker member (never a group member);
    5. clusters that are no group and smaller than ``min_cluster_size`` dissolve into noise;
       new clusters are numbered from ``n_groups`` by decreasing size.
    """
    lab = np.where(labels >= 0, labels + n_groups, -1).astype(np.int64)
    group = conf.group
    if (group >= 0).any():
        top = int(lab.max()) + 1 if lab.size else 0
        cmap = np.arange(max(top, 1), dtype=np.int64)
        rows = np.flatnonzero(group >= 0)
        owned = lab[rows] >= 0
        cmap[lab[rows][owned]] = group[rows][owned]
        lab = np.where(lab >= 0, cmap[np.maximum(lab, 0)], -1)
        lab[rows] = group[rows]
    if params.merge_threshold > 0:
        lab = _merge(X, lab, conf, n_groups, params.merge_threshold)
    if params.reattach_threshold > 0 and idx.shape[1]:
        lab = _reattach(lab, idx, sim, conf, params)
    lab = _enforce(X, lab, conf)
    return _relabel(lab, n_groups, params.min_cluster_size)


def _merge(X: np.ndarray, lab: np.ndarray, conf: Conflicts, n_groups: int, threshold: float) -> np.ndarray:
    values, C = centroids(X, lab)
    K = values.size
    if K < 2:
        return lab
    smin = 1.0 - threshold
    cand: list[tuple[float, int, int]] = []
    block = max(1, (1 << 22) // K)
    for s in range(0, K, block):
        S = C[s : s + block] @ C.T
        i, j = np.nonzero(S >= smin)
        keep = s + i < j
        for a, b, v in zip((s + i[keep]).tolist(), j[keep].tolist(), S[i[keep], j[keep]].tolist(), strict=True):
            cand.append((-v, a, b))
    if not cand:
        return lab
    cand.sort()
    pos = np.searchsorted(values, lab)
    # Conflicts between clusters: a cannot-link pair with one face in each.
    conflict: dict[int, set[int]] = {}
    P = conf.pairs
    if P.shape[0]:
        la, lb = lab[P[:, 0]], lab[P[:, 1]]
        both = (la >= 0) & (lb >= 0) & (la != lb)
        for a, b in zip(pos[P[both, 0]].tolist(), pos[P[both, 1]].tolist(), strict=True):
            conflict.setdefault(a, set()).add(b)
            conflict.setdefault(b, set()).add(a)
    counts = np.bincount(pos[lab >= 0], minlength=K)
    sums = C * counts[:, None].astype(np.float32)  # approximate sums from unit centroids and sizes
    parent = list(range(K))
    members: dict[int, set[int]] = {i: {i} for i in range(K)}
    grp = [int(v) if v < n_groups else -1 for v in values.tolist()]

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, a, b in cand:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if grp[ra] >= 0 and grp[rb] >= 0:
            continue
        if conflict.get(ra, set()) & members[rb]:
            continue
        ca, cb = sums[ra], sums[rb]
        cos = float(ca @ cb) / float(np.linalg.norm(ca) * np.linalg.norm(cb) + 1e-12)
        if cos < smin:
            continue
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)
        conflict.setdefault(ra, set()).update(conflict.pop(rb, set()))
        sums[ra] = sums[ra] + sums[rb]
        grp[ra] = max(grp[ra], grp[rb])
    new_value = np.empty(K, dtype=np.int64)
    for root, mem in members.items():
        v = grp[root] if grp[root] >= 0 else int(values[min(mem)])
        new_value[list(mem)] = v
    return np.where(lab >= 0, new_value[np.clip(pos, 0, K - 1)], -1)


def _reattach(lab: np.ndarray, idx: np.ndarray, sim: np.ndarray, conf: Conflicts, p: ClusterParams) -> np.ndarray:
    noise = np.flatnonzero((lab < 0) & (conf.group < 0))
    if noise.size == 0 or not (lab >= 0).any():
        return lab
    nb = idx[noise]
    L = np.where(nb >= 0, lab[np.maximum(nb, 0)], -1)
    D = 1.0 - sim[noise].astype(np.float64)
    near = (L >= 0) & (D <= p.reattach_threshold)
    amb = (L >= 0) & (D <= p.reattach_threshold + p.reattach_margin)
    has = near.any(axis=1)
    first = np.argmax(near, axis=1)  # neighbours are sorted nearest first
    cand = L[np.arange(noise.size), first]
    votes = (near & (L == cand[:, None])).sum(axis=1)
    others = (amb & (L != cand[:, None])).any(axis=1)
    ok = has & ~others & (votes >= p.reattach_min_votes)
    new = lab.copy()
    new[noise[ok]] = cand[ok]
    # Never next to a face it is cannot-linked with (enforcement would catch it; this keeps the rest).
    P = conf.pairs
    if P.shape[0]:
        moved = np.zeros(lab.size, dtype=bool)
        moved[noise[ok]] = True
        for x, y in ((0, 1), (1, 0)):
            a, b = P[:, x], P[:, y]
            bad = moved[a] & (lab[b] >= 0) & (new[a] == lab[b])
            new[a[bad]] = -1
    return new


def _enforce(X: np.ndarray, lab: np.ndarray, conf: Conflicts) -> np.ndarray:
    P = conf.pairs
    if P.shape[0] == 0:
        return lab
    lab = lab.copy()
    while True:
        la, lb = lab[P[:, 0]], lab[P[:, 1]]
        bad = np.flatnonzero((la >= 0) & (la == lb))
        if bad.size == 0:
            return lab
        values, C = centroids(X, lab)
        for a, b in P[bad].tolist():
            if lab[a] < 0 or lab[a] != lab[b]:
                continue
            if conf.group[a] >= 0:
                victim = b
            elif conf.group[b] >= 0:
                victim = a
            else:
                c = C[np.searchsorted(values, lab[a])]
                sa, sb = float(X[a] @ c), float(X[b] @ c)
                victim = b if (sa > sb or (sa == sb and a < b)) else a
            lab[victim] = -1


def _relabel(lab: np.ndarray, n_groups: int, min_cluster_size: int) -> np.ndarray:
    out = np.where((lab >= 0) & (lab < n_groups), lab, -1)
    rest = lab >= n_groups
    if not rest.any():
        return out
    values, first, counts = np.unique(lab[rest], return_index=True, return_counts=True)
    rows = np.flatnonzero(rest)
    first_row = rows[first]
    keep = counts >= min_cluster_size
    order = np.lexsort((first_row[keep], -counts[keep]))
    new = np.full(values.size, -1, dtype=np.int64)
    new[np.flatnonzero(keep)[order]] = n_groups + np.arange(order.size)
    out[rows] = new[np.searchsorted(values, lab[rows])]
    return out


# ------------------------------------------------------------------------------------------ assignment


def assign_to_people(
    X_new: np.ndarray,
    X_ref: np.ndarray,
    ref_labels: np.ndarray | Sequence[int],
    params: AssignParams | None = None,
    *,
    cannot_link: PairsLike = (),
    cannot_link_ref: PairsLike = (),
    forbidden: PairsLike = (),
) -> np.ndarray:
    """Assign new faces to existing people by a nearest-neighbour vote. Returns ``int64`` labels.

    ``X_ref``/``ref_labels`` are the faces of known people (confirmed and assigned faces; label = the
    caller's person key, any non-negative int; rows with a negative label are ignored). A new face takes
    the label that wins the vote of its ``k`` nearest reference faces within ``threshold`` (cosine
    distance), weighted by closeness, if that label has at least ``min_votes`` voters and a
    ``min_share`` share of the vote; otherwise ``-1`` (left for clustering). Only the faces of the
    ``candidates`` people with the nearest centroids are searched.

    Constraints (row indices):

    ``cannot_link``
        ``(new_row, new_row)`` pairs never given the same person (two new faces of one photo); the one
        closer to the person keeps it, the other becomes -1.
    ``cannot_link_ref``
        ``(new_row, ref_row)`` pairs: the new face never gets that reference face's person.
    ``forbidden``
        ``(new_row, label)`` pairs: the new face never gets that person (the user removed it from them).
    """
    p = params or AssignParams()
    Q = _as_unit(X_new, "X_new")
    R = _as_unit(X_ref, "X_ref")
    nq = Q.shape[0]
    out = np.full(nq, -1, dtype=np.int64)
    rl = np.asarray(ref_labels, dtype=np.int64).reshape(-1)
    if R.shape[0] != rl.size:
        raise ValueError("X_ref and ref_labels differ in length")
    nn_pairs = _as_pairs(cannot_link, nq, "cannot_link")
    cl_ref = np.asarray(
        list(cannot_link_ref) if not isinstance(cannot_link_ref, np.ndarray) else cannot_link_ref, dtype=np.int64
    ).reshape(-1, 2)
    if cl_ref.size and (cl_ref[:, 0].min() < 0 or cl_ref[:, 0].max() >= nq or cl_ref[:, 1].min() < 0):
        raise ValueError("cannot_link_ref has a row index out of range")
    if cl_ref.size and cl_ref[:, 1].max() >= rl.size:
        raise ValueError("cannot_link_ref has a reference row index out of range")
    F = np.asarray(list(forbidden) if not isinstance(forbidden, np.ndarray) else forbidden, dtype=np.int64)
    F = F.reshape(-1, 2)
    if F.size and (F[:, 0].min() < 0 or F[:, 0].max() >= nq):
        raise ValueError("forbidden has a row index out of range")
    if cl_ref.size:
        F = np.vstack([F, np.column_stack([cl_ref[:, 0], rl[cl_ref[:, 1]]])])
    keep = rl >= 0
    if nq == 0 or not keep.any():
        return out
    if R.shape[1] != Q.shape[1]:
        raise ValueError("X_new and X_ref differ in dimension")
    if p.method == "average":
        won, score = _assign_average(Q, R, rl, F, p)
        return _resolve_cannot_link(won, score, nn_pairs)
    rows = np.flatnonzero(keep)
    people, lab = np.unique(rl[rows], return_inverse=True)  # compact person index per reference face
    n_people = people.size
    order = np.argsort(lab, kind="stable")
    ref_rows = rows[order]  # reference rows grouped by person (R itself is not copied)
    starts = np.searchsorted(lab[order], np.arange(n_people + 1))
    sizes = np.diff(starts)
    # Forbidden (row, person index) as sorted keys.
    fkeys = np.zeros(0, dtype=np.int64)
    if F.size:
        known = np.isin(F[:, 1], people)
        fp = np.searchsorted(people, F[known, 1])
        fkeys = np.unique(F[known, 0] * n_people + fp)
    # Candidate people per new face: the nearest centroids, if not hopelessly far.
    _, C = centroids(R, np.where(keep, rl, -1))
    CS = Q @ C.T
    cq, cp = np.nonzero(CS >= 1.0 - p.max_centroid_distance)
    cs = CS[cq, cp]
    o = np.lexsort((cp, -cs, cq))
    cq, cp = cq[o], cp[o]
    rank = np.arange(cq.size) - np.searchsorted(cq, cq)
    flat_q, flat_p = cq[rank < p.candidates].astype(np.int64), cp[rank < p.candidates].astype(np.int64)
    smin = 1.0 - p.threshold
    hit_q: list[np.ndarray] = []
    hit_p: list[np.ndarray] = []
    hit_s: list[np.ndarray] = []
    if fkeys.size:
        ok = ~np.isin(flat_q * n_people + flat_p, fkeys)
        flat_p, flat_q = flat_p[ok], flat_q[ok]
    # People with few faces: every (new face, reference face) pair at once.
    small = sizes[flat_p] <= _SMALL_PERSON
    sp, sq = flat_p[small], flat_q[small]
    reps = sizes[sp]
    if reps.sum():
        pair_q = np.repeat(sq, reps)
        pair_p = np.repeat(sp, reps)
        offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        pair_r = ref_rows[np.repeat(starts[sp], reps) + offs]
        step = 1 << 15
        for s in range(0, pair_q.size, step):
            v = np.einsum("ij,ij->i", Q[pair_q[s : s + step]], R[pair_r[s : s + step]])
            hit = v >= smin
            hit_q.append(pair_q[s : s + step][hit])
            hit_p.append(pair_p[s : s + step][hit])
            hit_s.append(v[hit].astype(np.float64))
    # People with many faces: one matmul per person.
    bp, bq = flat_p[~small], flat_q[~small]
    by_p = np.argsort(bp, kind="stable")
    bp, bq = bp[by_p], bq[by_p]
    bounds = np.flatnonzero(np.r_[True, bp[1:] != bp[:-1], True]) if bp.size else np.zeros(0, np.int64)
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        person = int(bp[s])
        qs = bq[s:e]
        S = Q[qs] @ R[ref_rows[starts[person] : starts[person + 1]]].T
        i, _ = np.nonzero(S >= smin)
        if i.size == 0:
            continue
        hit_q.append(qs[i])
        hit_p.append(np.full(i.size, person, dtype=np.int64))
        hit_s.append(S[S >= smin].astype(np.float64))
    if not hit_q:
        return out
    hq, hp, hs = np.concatenate(hit_q), np.concatenate(hit_p), np.concatenate(hit_s)
    if hq.size == 0:
        return out
    # The k nearest hits of each face vote.
    o = np.lexsort((hp, -hs, hq))
    hq, hp, hs = hq[o], hp[o], hs[o]
    first = np.searchsorted(hq, hq)
    rank = np.arange(hq.size) - first
    top = rank < p.k
    hq, hp, hs = hq[top], hp[top], hs[top]
    w = 1.0 - 0.5 * (1.0 - hs) / p.threshold  # 1 at distance 0, 0.5 at the threshold
    key = hq * n_people + hp
    ukey, inv = np.unique(key, return_inverse=True)
    wsum = np.bincount(inv, weights=w)
    cnt = np.bincount(inv)
    best = np.full(ukey.size, -np.inf)
    np.maximum.at(best, inv, hs)
    uq = ukey // n_people
    up = ukey % n_people
    total = np.bincount(uq, weights=wsum, minlength=nq)
    # Winner per face: largest weight, then nearest face, then smaller person index.
    o = np.lexsort((up, -best, -wsum, uq))
    winner = o[np.r_[True, uq[o][1:] != uq[o][:-1]]]
    wq = uq[winner]
    accept = (cnt[winner] >= p.min_votes) & (wsum[winner] >= p.min_share * total[wq] - 1e-12)
    out[wq[accept]] = people[up[winner[accept]]]
    score = np.full(nq, -np.inf)
    score[wq[accept]] = best[winner[accept]]
    return _resolve_cannot_link(out, score, nn_pairs)


def _assign_average(
    Q: np.ndarray, R: np.ndarray, rl: np.ndarray, F: np.ndarray, p: AssignParams
) -> tuple[np.ndarray, np.ndarray]:
    """Each new face's person by average linkage (see :func:`link_to_people`, with single faces)."""
    keep = rl >= 0
    people, _, M, counts = group_sums(R[keep], rl[keep])
    fq = fp = np.zeros(0, dtype=np.int64)
    if F.size:
        known = np.isin(F[:, 1], people)
        fq, fp = F[known, 0], np.searchsorted(people, F[known, 1])
    best, score = link_to_people(Q, np.ones(Q.shape[0], dtype=np.int64), M, counts, p, forbidden=(fq, fp))
    return np.where(best >= 0, people[np.maximum(best, 0)], -1), score


def link_to_people(
    G: np.ndarray,
    g_size: np.ndarray,
    P: np.ndarray,
    p_size: np.ndarray,
    params: AssignParams | None = None,
    *,
    forbidden: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The person each group of faces belongs to, by average linkage. Returns (person row or -1, linkage).

    ``G``/``g_size``: sum vectors and sizes of the groups (single faces: the face, 1); ``P``/``p_size``:
    the same for the people. The average linkage of a group and a person, the mean cosine similarity of
    their faces, is ``G·P / (|G| |P|)``. The best person wins if its average distance is within the
    size-dependent threshold (``pair_threshold`` for two single faces, tending to ``threshold`` as the
    group and the person grow, as in clustering) and its linkage beats the runner-up's by ``margin``.
    ``forbidden``: (group rows, person rows) that never pair.
    """
    p = params or AssignParams()
    ng, npeople = G.shape[0], P.shape[0]
    out = np.full(ng, -1, dtype=np.int64)
    score = np.full(ng, -np.inf)
    if ng == 0 or npeople == 0:
        return out, score
    fq, fp = forbidden if forbidden is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    Pn = (P / p_size[:, None]).astype(np.float32)
    block = max(1, (1 << 22) // npeople)
    for s in range(0, ng, block):
        e = min(ng, s + block)
        S = (G[s:e] @ Pn.T) / g_size[s:e, None]
        inside = (fq >= s) & (fq < e)
        S[fq[inside] - s, fp[inside]] = -np.inf
        best = np.argmax(S, axis=1)
        rows = np.arange(e - s)
        s1 = S[rows, best].copy()
        S[rows, best] = -np.inf
        s2 = S.max(axis=1)  # the runner-up
        limit = p.threshold + (p.pair_threshold - p.threshold) / np.sqrt(g_size[s:e] * p_size[best])
        # A group every person is forbidden for has s1 = s2 = -inf: no gap (and no -inf - -inf).
        gap = np.subtract(s1, s2, out=np.full_like(s1, -np.inf), where=np.isfinite(s1))
        ok = (1.0 - s1 <= limit) & (gap >= p.margin)
        out[s:e][ok] = best[ok]
        score[s:e][ok] = s1[ok]
    return out, score


def close_pairs(
    P: np.ndarray,
    size: np.ndarray,
    params: AssignParams | None = None,
    *,
    slack: float = 0.1,
    k: int = 10,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of clusters (people) that may be one: each one's ``k`` nearest by average linkage whose average
    distance is at most ``slack`` beyond the size-dependent merge threshold (see :func:`link_to_people`).

    ``P``/``size``: sum vectors and sizes. Returns rows ``(i, j)`` with ``i < j`` (int64 (m, 2)), their
    average distance, and their *excess*: average distance minus the threshold at which clustering would
    have merged them (negative: closer than that, e.g. kept apart only by a constraint). ``rows``: only
    pairs with at least one of these clusters (default: all).
    """
    p = params or AssignParams()
    n = P.shape[0]
    if n < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0)
    Pn = (P / size[:, None]).astype(np.float32)
    kk = min(k, n - 1)
    pairs: list[np.ndarray] = []
    which = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    block = max(1, (1 << 22) // n)
    for s in range(0, which.size, block):
        q = which[s : s + block]
        S = Pn[q] @ Pn.T
        S[np.arange(q.size), q] = -np.inf
        top = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
        pairs.append(np.column_stack([np.repeat(q, kk), top.reshape(-1)]))
    if not pairs:
        return np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0)
    ij = np.unique(np.sort(np.vstack(pairs), axis=1), axis=0)
    i, j = ij[:, 0], ij[:, 1]
    dist = 1.0 - np.einsum("ij,ij->i", Pn[i], Pn[j]).astype(np.float64)
    limit = p.threshold + (p.pair_threshold - p.threshold) / np.sqrt(size[i] * size[j])
    excess = dist - limit
    keep = excess <= slack
    order = np.argsort(excess[keep], kind="stable")
    return ij[keep][order], dist[keep][order], excess[keep][order]


def _resolve_cannot_link(won: np.ndarray, score: np.ndarray, nn_pairs: np.ndarray) -> np.ndarray:
    """New faces that must differ but won the same person: faces keep their person in order of
    closeness, skipping any whose cannot-linked partner already kept that person."""
    if not nn_pairs.shape[0]:
        return won
    partners: dict[int, list[int]] = {}
    for a, b in nn_pairs.tolist():
        partners.setdefault(a, []).append(b)
        partners.setdefault(b, []).append(a)
    out = np.full_like(won, -1)
    rows = np.flatnonzero(won >= 0)
    for r in rows[np.lexsort((rows, -score[rows]))].tolist():
        if all(out[q] != won[r] for q in partners.get(r, ())):
            out[r] = won[r]
    return out
