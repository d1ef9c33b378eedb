"""The clustering core on synthetic embeddings: correctness, constraints, edge cases, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from photoclust.cluster import (
    AssignParams,
    ClusterParams,
    assign_to_people,
    centroids,
    cluster_faces,
    same_photo_pairs,
)
from photoclust.cluster._knn import knn_exact, knn_ivf
from photoclust.cluster.synthetic import make_faces
from photoclust.errors import ConstraintError

DEFAULT = ClusterParams()
# The three ways the hierarchy can be built, forced on small inputs.
EXACT = DEFAULT
KNN_GRAPH = replace(DEFAULT, exact_max_faces=0)
IVF = replace(DEFAULT, exact_max_faces=0, exact_knn_max_faces=0, ivf_cell_size=8, ivf_nprobe=4)
PATHS = {"exact": EXACT, "knn": KNN_GRAPH, "ivf": IVF}


def _ari(truth: np.ndarray, labels: np.ndarray) -> float:
    n = truth.size
    t = np.where(truth >= 0, truth, n + np.arange(n))
    lab = np.where(labels >= 0, labels, 2 * n + np.arange(n))
    return float(adjusted_rand_score(t, lab))


def _precision(truth: np.ndarray, labels: np.ndarray) -> float:
    """Of the pairs of faces put in one cluster, the share that truly are one identity."""
    same = total = 0
    for c in np.unique(labels[labels >= 0]):
        t = truth[labels == c]
        total += t.size * (t.size - 1) // 2
        ids, counts = np.unique(t[t >= 0], return_counts=True)
        same += int((counts * (counts - 1) // 2).sum())
    return same / total if total else 1.0


def _cannot_link_ok(labels: np.ndarray, pairs: np.ndarray) -> bool:
    if pairs.size == 0:
        return True
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    return not bool(((a >= 0) & (a == b)).any())


@pytest.fixture(scope="module")
def families() -> object:
    """600 faces: 10 people x 30 photos, 10 x 10, 10 x 5, 50 strangers."""
    return make_faces(600, seed=11, sizes=[30] * 10 + [10] * 10 + [5] * 10, stranger_frac=50 / 600)


# ----------------------------------------------------------------------------------------- clustering


@pytest.mark.parametrize("path", sorted(PATHS))
def test_well_separated_identities_are_found_and_strangers_stay_noise(families, path) -> None:
    d = families
    labels = cluster_faces(d.X, PATHS[path])
    assert labels.dtype == np.int64 and labels.shape == (d.X.shape[0],)
    assert _precision(d.truth, labels) == 1.0
    assert _ari(d.truth, labels) > 0.97
    assert (labels[d.strangers] == -1).all()  # every stranger stays noise
    # The 30 real people are 30 clusters, numbered from 0 by decreasing size.
    assert set(np.unique(labels)) == {-1, *range(30)}
    sizes = np.bincount(labels[labels >= 0])
    assert (np.diff(sizes) <= 0).all()


def test_random_points_are_all_noise() -> None:
    X = make_faces(300, seed=3, stranger_frac=1.0).X
    assert (cluster_faces(X) == -1).all()


def test_long_tailed_library_precision_and_noise() -> None:
    d = make_faces(2500, seed=4, related=0.3)  # some identities are relatives (faces ~0.75 apart)
    labels = cluster_faces(d.X)
    assert _precision(d.truth, labels) > 0.99
    assert (labels[d.strangers] == -1).mean() > 0.98
    assert _ari(d.truth, labels) > 0.9


def test_approximate_paths_agree_with_exact() -> None:
    d = make_faces(1500, seed=6)
    exact = cluster_faces(d.X, EXACT)
    for p in (KNN_GRAPH, IVF):
        labels = cluster_faces(d.X, p)
        assert adjusted_rand_score(exact, labels) > 0.95
        assert _precision(d.truth, labels) > 0.99


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_inputs(n: int) -> None:
    X = make_faces(max(n, 1), seed=1, stranger_frac=1.0).X[:n]
    labels = cluster_faces(X)
    assert labels.shape == (n,) and (labels == -1).all()
    if n:
        assert (cluster_faces(X, must_link=[[0]]) == np.r_[0, [-1] * (n - 1)]).all()


def test_tiny_tight_group_is_a_cluster() -> None:
    d = make_faces(3, seed=2, sizes=[3], stranger_frac=0.0, within=(0.2, 0.2))
    assert (cluster_faces(d.X) == 0).all()
    assert cluster_faces(d.X[:2]).tolist() == [0, 0]  # two faces of one person are a person
    assert cluster_faces(d.X[:2], replace(DEFAULT, min_cluster_size=3)).tolist() == [-1, -1]


def test_accepts_lists_and_unnormalised_rows() -> None:
    d = make_faces(200, seed=8, sizes=[40, 40, 40], stranger_frac=0.4)
    a = cluster_faces(d.X)
    b = cluster_faces((d.X * 3.0).tolist())
    assert (a == b).all()


@pytest.mark.parametrize("path", sorted(PATHS))
def test_deterministic(path: str) -> None:
    d = make_faces(800, seed=9, related=0.3)
    pairs = same_photo_pairs(np.arange(800) // 3)
    a = cluster_faces(d.X, PATHS[path], cannot_link=pairs, must_link=[[0, 3]])
    b = cluster_faces(d.X.copy(), PATHS[path], cannot_link=pairs.copy(), must_link=[[0, 3]])
    assert (a == b).all()


def test_input_errors() -> None:
    X = make_faces(10, seed=1).X
    with pytest.raises(ValueError):
        cluster_faces(X[0])
    with pytest.raises(ValueError):
        cluster_faces(np.where(np.arange(512) == 0, np.nan, X[:3]))
    with pytest.raises(ValueError):
        cluster_faces(np.zeros((3, 512), np.float32))
    with pytest.raises(ValueError):
        cluster_faces(X, cannot_link=[(0, 10)])
    with pytest.raises(ValueError):
        cluster_faces(X, cannot_link=[(2, 2)])
    with pytest.raises(ConstraintError):
        cluster_faces(X, must_link=[[0, 1], [1, 2]])
    with pytest.raises(ConstraintError):
        cluster_faces(X, must_link=[[0, 1]], cannot_link=[(1, 0)])
    with pytest.raises(ConstraintError):
        cluster_faces(X, must_link=[[0, 1]], forbidden=[(1, 0)])
    with pytest.raises(ValueError):
        cluster_faces(X, must_link=[[0, 1]], forbidden=[(2, 1)])
    with pytest.raises(ValueError):
        ClusterParams(min_cluster_size=1)
    with pytest.raises(ValueError):
        ClusterParams(merge_threshold=3.0)
    with pytest.raises(ValueError):
        AssignParams(threshold=0.0)


# ---------------------------------------------------------------------------------------- constraints


def _person(d: object, i: int) -> np.ndarray:
    return np.flatnonzero(d.truth == i)  # type: ignore[attr-defined]


def test_must_link_group_claims_its_cluster(families) -> None:
    d = families
    a = _person(d, 0)
    labels = cluster_faces(d.X, must_link=[a[:2]])
    assert (labels[a] == 0).all()  # the whole person, not just the two confirmed faces
    assert (labels[np.setdiff1d(np.arange(labels.size), a)] != 0).all()


def test_must_link_forces_members_together_even_when_far_apart(families) -> None:
    d = families
    a, b = _person(d, 0), _person(d, 1)
    stranger = np.flatnonzero(d.strangers)[0]
    labels = cluster_faces(d.X, must_link=[[a[0], b[0], stranger]])
    assert labels[a[0]] == labels[b[0]] == labels[stranger] == 0
    # Both people's clusters contain part of the group, so both become that one person.
    assert (labels[a] == 0).all() and (labels[b] == 0).all()


def test_two_groups_of_one_identity_stay_two_people(families) -> None:
    d = families
    a = _person(d, 0)
    labels = cluster_faces(d.X, must_link=[a[:3], a[3:6]])
    assert (labels[a[:3]] == 0).all() and (labels[a[3:6]] == 1).all()
    assert set(labels[a[6:]]) <= {0, 1, -1}


def test_forbidden_face_never_returns_to_the_person(families) -> None:
    d = families
    a = _person(d, 0)
    labels = cluster_faces(d.X, must_link=[a[:5]], forbidden=[(a[10], 0), (a[11], 0)])
    assert labels[a[10]] != 0 and labels[a[11]] != 0
    assert (labels[a[12:]] == 0).all()


def test_cannot_link_inside_one_identity_splits_it(families) -> None:
    d = families
    a = _person(d, 0)
    # The same person twice in one photo (a mirror): both faces cannot be that person.
    labels = cluster_faces(d.X, cannot_link=[(a[0], a[1])])
    assert labels[a[0]] != labels[a[1]] or labels[a[0]] == -1
    assert (labels[a] >= 0).sum() >= 28  # the rest of the person is still one cluster
    # Many cannot-links between two halves of one identity force two clusters (or noise).
    half1, half2 = a[:15], a[15:]
    pairs = np.array([(x, y) for x in half1 for y in half2])
    labels = cluster_faces(d.X, cannot_link=pairs)
    assert _cannot_link_ok(labels, pairs)


def test_two_people_always_photographed_together_are_never_merged() -> None:
    # Two relatives (centres cos 0.8) who share every photo: same-photo cannot-links keep them apart.
    d = make_faces(80, seed=12, sizes=[40, 40], stranger_frac=0.0, related=1.0, related_cos=0.8)
    a, b = _person(d, 0), _person(d, 1)
    pairs = np.column_stack([a, b])
    for p in PATHS.values():
        labels = cluster_faces(d.X, p, cannot_link=pairs)
        assert _cannot_link_ok(labels, pairs)


@st.composite
def _constrained_problem(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray, ClusterParams]:
    seed = draw(st.integers(0, 2**16))
    n_people = draw(st.integers(0, 6))
    sizes = [draw(st.integers(2, 25)) for _ in range(n_people)]
    n_strangers = draw(st.integers(0, 15))
    n = sum(sizes) + n_strangers
    if n == 0:
        sizes, n = [1], 1
    d = make_faces(n, seed=seed, sizes=sizes, stranger_frac=n_strangers / n, dim=32, within=(0.15, 0.4))
    rng = np.random.default_rng(seed)
    n_pairs = draw(st.integers(0, 3 * n))
    pairs = rng.integers(0, n, size=(n_pairs, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    # Disjoint must-link groups whose members are not cannot-linked with each other.
    groups: list[np.ndarray] = []
    perm = rng.permutation(n)
    pos = 0
    for _ in range(draw(st.integers(0, 3))):
        size = draw(st.integers(1, 4))
        groups.append(perm[pos : pos + size])
        pos += size
    group = np.full(n, -1)
    for g, m in enumerate(groups):
        group[m] = g
    ga, gb = group[pairs[:, 0]], group[pairs[:, 1]]
    pairs = pairs[~((ga >= 0) & (ga == gb))]
    forbidden = np.zeros((0, 2), dtype=np.int64)
    if groups:
        f = rng.integers(0, n, size=(draw(st.integers(0, 5)), 1))
        fg = rng.integers(0, len(groups), size=f.shape)
        forbidden = np.hstack([f, fg])
        forbidden = forbidden[group[forbidden[:, 0]] != forbidden[:, 1]]
    params = replace(
        PATHS[draw(st.sampled_from(sorted(PATHS)))],
        min_cluster_size=draw(st.integers(2, 4)),
        min_samples=draw(st.integers(1, 3)),
        cluster_selection_method=draw(st.sampled_from(["eom", "leaf"])),
        cluster_selection_epsilon=draw(st.sampled_from([0.0, 0.3])),
        allow_single_cluster=draw(st.booleans()),
        evict_fraction=draw(st.sampled_from([0.0, 0.1, 0.5])),
        merge_threshold=draw(st.sampled_from([0.0, 0.25, 0.7])),
        reattach_threshold=draw(st.sampled_from([0.0, 0.35, 0.7])),
    )
    return d.X, pairs, groups, forbidden, params


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_constrained_problem())
def test_every_constraint_is_honoured(problem) -> None:
    X, pairs, groups, forbidden, params = problem
    labels = cluster_faces(X, params, cannot_link=pairs, must_link=groups, forbidden=forbidden)
    assert labels.shape == (len(X),)
    assert _cannot_link_ok(labels, pairs)
    for g, members in enumerate(groups):
        assert (labels[members] == g).all()
    for row, g in forbidden.tolist():
        assert labels[row] != g
    # New people are numbered after the groups, consecutively.
    new = np.unique(labels[labels >= len(groups)])
    assert (new == len(groups) + np.arange(new.size)).all()


def test_same_photo_pairs() -> None:
    pairs = same_photo_pairs([7, 3, 7, 9, 7, 3])
    assert sorted(map(tuple, pairs.tolist())) == [(0, 2), (0, 4), (1, 5), (2, 4)]
    assert same_photo_pairs([1]).shape == (0, 2)
    assert same_photo_pairs([]).shape == (0, 2)


def test_centroids() -> None:
    X = np.eye(4, dtype=np.float32)
    values, C = centroids(X, np.array([5, 5, -1, 2]))
    assert values.tolist() == [2, 5]
    assert np.allclose(C[0], [0, 0, 0, 1]) and np.allclose(C[1], np.r_[1, 1, 0, 0] / np.sqrt(2))


# ----------------------------------------------------------------------------------------- assignment


@pytest.fixture(scope="module")
def library() -> object:
    return make_faces(900, seed=21, sizes=[60] * 6 + [20] * 10 + [5] * 20, stranger_frac=0.1)


def _split(d: object, n_new: int = 150) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    new = np.sort(rng.choice(d.X.shape[0], n_new, replace=False))  # type: ignore[attr-defined]
    ref = np.setdiff1d(np.arange(d.X.shape[0]), new)  # type: ignore[attr-defined]
    return new, ref


LOOSE = AssignParams(threshold=0.55)


def test_assign_new_faces_to_known_people(library) -> None:
    d = library
    new, ref = _split(d)
    ref_labels = np.where(d.truth[ref] >= 0, d.truth[ref] + 1000, -1)  # any person key works
    # the synthetic identities are looser than real ones (0.3-0.6 apart): a looser threshold than the default
    out = assign_to_people(d.X[new], d.X[ref], ref_labels, LOOSE)
    truth = d.truth[new]
    assigned = out >= 0
    assert (out[assigned] == truth[assigned] + 1000).all()  # never the wrong person
    assert (out[truth < 0] == -1).all()  # strangers stay unknown
    assert assigned[truth >= 0].mean() > 0.9


def test_assign_threshold(library) -> None:
    d = library
    new, ref = _split(d)
    ref_labels = d.truth[ref]
    tight = assign_to_people(d.X[new], d.X[ref], ref_labels, AssignParams(threshold=0.05, pair_threshold=0.05))
    assert (tight == -1).all()
    # Every assigned face is within the threshold of its person by average linkage (mean distance to its
    # faces), a threshold that goes from pair_threshold (a person of one face) to threshold (many faces).
    p = AssignParams(threshold=0.45, pair_threshold=0.3)
    out = assign_to_people(d.X[new], d.X[ref], ref_labels, p)
    assert (out >= 0).any()
    for i in np.flatnonzero(out >= 0):
        person = ref[ref_labels == out[i]]
        limit = p.threshold + (p.pair_threshold - p.threshold) / np.sqrt(person.size)
        assert 1 - float((d.X[person] @ d.X[new[i]]).mean()) <= limit + 1e-6


def test_assign_ambiguous_face_stays_unknown() -> None:
    rng = np.random.default_rng(1)
    a, b = np.eye(64, dtype=np.float32)[:2]
    mid = (a + b) / np.linalg.norm(a + b)
    ref = np.vstack([a + 0.05 * rng.standard_normal((5, 64)), b + 0.05 * rng.standard_normal((5, 64))])
    labels = np.r_[[1] * 5, [2] * 5]
    out = assign_to_people(np.vstack([mid, a, b]), ref, labels, AssignParams(threshold=0.5))
    assert out.tolist() == [-1, 1, 2]


def test_assign_constraints(library) -> None:
    d = library
    a = _person(d, 0)
    new, ref = a[:4], np.setdiff1d(np.arange(d.X.shape[0]), a[:4])
    ref_labels = d.truth[ref]
    assert (assign_to_people(d.X[new], d.X[ref], ref_labels, LOOSE) == 0).all()
    # Two new faces of one photo: only one can be person 0.
    out = assign_to_people(d.X[new], d.X[ref], ref_labels, LOOSE, cannot_link=[(0, 1), (2, 3), (0, 3)])
    assert out[0] != out[1] or out[0] == -1
    assert out[2] != out[3] or out[2] == -1
    assert (out >= 0).sum() == 2
    # Removed from person 0 by the user.
    out = assign_to_people(d.X[new], d.X[ref], ref_labels, LOOSE, forbidden=[(0, 0), (1, 0)])
    assert out.tolist()[:2] == [-1, -1] and (out[2:] == 0).all()
    # Same photo as a reference face of person 0.
    r0 = int(np.flatnonzero(ref_labels == 0)[0])
    out = assign_to_people(d.X[new], d.X[ref], ref_labels, LOOSE, cannot_link_ref=[(3, r0)])
    assert out[3] == -1 and (out[:3] == 0).all()


def test_assign_edge_cases(library) -> None:
    d = library
    X = d.X[:5]
    assert assign_to_people(X[:0], X, np.zeros(5)).shape == (0,)
    assert (assign_to_people(X, X[:0], []) == -1).all()
    assert (assign_to_people(X, X, [-1] * 5) == -1).all()
    one = assign_to_people(X[:1], X[:1], [7])
    assert one.tolist() == [7]  # identical face, single reference
    with pytest.raises(ValueError):
        assign_to_people(X, X, [0, 1])
    with pytest.raises(ValueError):
        assign_to_people(X, X, np.zeros(5), cannot_link=[(0, 9)])


def test_assign_deterministic(library) -> None:
    d = library
    new, ref = _split(d)
    a = assign_to_people(d.X[new], d.X[ref], d.truth[ref], AssignParams(threshold=0.6, min_share=0.5))
    b = assign_to_people(d.X[new].copy(), d.X[ref].copy(), d.truth[ref].copy(), AssignParams(0.6, min_share=0.5))
    assert (a == b).all()


# --------------------------------------------------------------------------------------- neighbours


def test_ivf_neighbours_match_exact_ones() -> None:
    d = make_faces(3000, seed=5)
    ie, se = knn_exact(d.X, 8)
    ia, sa = knn_ivf(d.X, 8, cell_size=16, nprobe=8)
    assert (ia != np.arange(3000)[:, None]).all()
    close = se >= 0.4  # the neighbours that matter: faces of the same identity
    found = np.array([np.isin(ie[i], ia[i]) for i in range(3000)])
    assert found[close].mean() > 0.95
    assert (np.diff(sa, axis=1) <= 1e-6).all()
    assert (sa <= se + 1e-5).all()  # never better than exact (the k-th found is at most the k-th true)


# ------------------------------------------------------------------------------------- average linkage


def test_average_linkage_is_textbook_upgma() -> None:
    """With one threshold for every size, the sparse agglomeration gives scipy's average-linkage clusters."""
    from scipy.cluster.hierarchy import fcluster, linkage

    d = make_faces(400, seed=4, sizes=[40, 30, 20, 10, 10, 5, 5, 3, 2, 2], stranger_frac=0.3, within=(0.2, 0.5))
    for t in (0.3, 0.45, 0.6):
        p = replace(DEFAULT, linkage_threshold=t, pair_threshold=t, min_cluster_size=2)
        ours = cluster_faces(d.X, p)
        ref = fcluster(linkage(d.X.astype(np.float64), "average", metric="cosine"), t, "distance")
        # same partition (clusters of one face are noise in ours)
        counts = np.bincount(ref)
        ref = np.where(counts[ref] >= 2, ref, -1)
        assert adjusted_rand_score(_distinct(ref), _distinct(ours)) == 1.0


def _distinct(labels: np.ndarray) -> np.ndarray:
    """Noise (-1) as clusters of one face each."""
    out = labels.astype(np.int64).copy()
    noise = out < 0
    out[noise] = out.max(initial=0) + 1 + np.arange(int(noise.sum()))
    return out


def test_a_pair_needs_a_closer_match_than_a_large_group() -> None:
    rng = np.random.default_rng(0)
    c = rng.normal(size=512)
    c /= np.linalg.norm(c)

    def near(cos: float) -> np.ndarray:
        o = rng.normal(size=512)
        o -= (o @ c) * c
        return cos * c + np.sqrt(1 - cos**2) * o / np.linalg.norm(o)

    p = replace(DEFAULT, linkage_threshold=0.5, pair_threshold=0.3, min_cluster_size=2)
    # two faces 0.4 apart: beyond the pair threshold, so not a person
    pair = np.vstack([c, near(0.6)])
    assert cluster_faces(pair, p).tolist() == [-1, -1]
    # the same distance between a face and a group of nine is within the (size-dependent) threshold
    group = np.vstack([c] * 9 + [near(0.6)]) + rng.normal(scale=1e-3, size=(10, 512))
    assert (cluster_faces(group, p) == 0).all()


def test_centring_removes_a_shared_component() -> None:
    from photoclust.cluster import centre, library_mean

    d = make_faces(2000, seed=9, stranger_frac=1.0)
    shared = np.zeros(512, np.float32)
    shared[0] = 1.0
    X = d.X + 0.8 * shared  # every face shares one direction, as black-and-white photos do
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    before = float(np.mean(X[:100] @ X[100:200].T))
    C = centre(X, library_mean(X))
    after = float(np.mean(C[:100] @ C[100:200].T))
    assert before > 0.3 and abs(after) < 0.05  # strangers look unrelated again
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, atol=1e-5)
    # a small library is barely centred: its mean is mostly its few people
    assert np.linalg.norm(library_mean(X[:50])) < 0.15 * np.linalg.norm(library_mean(X))


def test_a_face_every_person_is_forbidden_for_joins_no_one_quietly() -> None:
    """A face the user has rejected from every person (its best and runner-up linkage both -inf) stays
    unassigned, without a numpy warning (the old code took -inf - -inf and warned)."""
    import warnings

    from photoclust.cluster import link_to_people

    d = make_faces(40, seed=3, sizes=[20, 20], stranger_frac=0.0)
    P = np.vstack([d.X[d.truth == k].sum(axis=0) for k in (0, 1)])
    size = np.array([20, 20])
    face = d.X[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best, score = link_to_people(
            face, np.ones(2, dtype=np.int64), P, size, forbidden=(np.array([0, 0, 1]), np.array([0, 1, 1 - d.truth[1]]))
        )
    assert best[0] == -1 and score[0] == -np.inf  # both people forbidden
    assert best[1] == d.truth[1]  # its own person is still allowed


def test_link_to_people_and_close_pairs() -> None:
    from photoclust.cluster import AssignParams, close_pairs, link_to_people

    d = make_faces(300, seed=6, sizes=[60, 60, 60, 60], stranger_frac=0.2)
    people = np.unique(d.truth[d.truth >= 0])
    P = np.vstack([d.X[d.truth == k].sum(axis=0) for k in people])
    size = np.array([(d.truth == k).sum() for k in people])
    best, score = link_to_people(d.X, np.ones(d.X.shape[0], dtype=np.int64), P, size, AssignParams())
    known = d.truth >= 0
    assert (best[known] == d.truth[known]).mean() > 0.95 and (best[~known] == -1).all()
    # forbidden pairs are never chosen
    rows = np.flatnonzero(known)[:10]
    best2, _ = link_to_people(d.X[rows], np.ones(10, dtype=np.int64), P, size, forbidden=(np.arange(10), d.truth[rows]))
    assert (best2 != d.truth[rows]).all()
    # two halves of one person are a close pair; different people are not
    half = np.flatnonzero(d.truth == 0)
    P2 = np.vstack([d.X[half[:30]].sum(0), d.X[half[30:]].sum(0), P[1]])
    ij, dist, excess = close_pairs(P2, np.array([30, 30, 60]), slack=0.1)
    assert ij.tolist() == [[0, 1]] and excess[0] < 0
