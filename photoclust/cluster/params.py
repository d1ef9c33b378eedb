"""Tunable parameters of the clustering core, with the defaults and why.

Every distance threshold here is a **cosine distance** ``1 - cos(a, b)`` between L2-normalised FaceNet
embeddings (0 = same direction, 1 = unrelated, 2 = opposite). For FaceNet (CASIA-WebFace, 20180408-102900) faces of one person
are typically 0.2-0.6 apart, faces of different people 0.7-1.2; relatives and babies are closer.
HDBSCAN itself runs on the Euclidean distance between the unit vectors, ``sqrt(2 * cosine distance)``.

The defaults favour precision (never put two people into one person) over recall (a face left unknown
costs the user one click; a wrong merge costs a hunt through a person's faces). They were set on
synthetic embeddings (faces of one person 0.3-0.6 apart, of others ~1.0, some relatives ~0.75; see
``benchmarks/bench_cluster.py``); on real embeddings tune first ``join_threshold`` (the main precision
knob of clustering), ``AssignParams.threshold``, then ``reattach_threshold`` and ``merge_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SelectionMethod = Literal["eom", "leaf"]
Method = Literal["average", "hdbscan"]

# Average-linkage thresholds (cosine distance), shared by clustering and assignment so that faces added
# one by one end where one clustering run over all of them would put them.
LINKAGE_THRESHOLD = 0.52
PAIR_THRESHOLD = 0.36


@dataclass(frozen=True)
class ClusterParams:
    """Parameters of :func:`photoclust.cluster.cluster_faces`.

    HDBSCAN:

    ``min_cluster_size``
        Fewest faces that make a new person (3: a face seen twice may be chance, three times is a
        person; smaller groups stay unknown until they grow or the user names them).
    ``min_samples``
        Neighbours that define a face's core distance (its local density). Larger = more conservative:
        more faces end up noise, loose groups are not formed. 2 suits libraries with many small people.
    ``cluster_selection_method``
        ``"eom"`` (excess of mass, HDBSCAN's default) picks the most persistent clusters of the
        hierarchy. ``"leaf"`` takes the finest ones: purer, but people with varied photos are cut into
        pieces and their in-between faces become noise (on synthetic data, pairwise recall 0.58 vs
        0.96 at the same precision). Two look-alikes are kept apart by ``join_threshold`` and the
        cannot-link constraints rather than by ``leaf``.
    ``cluster_selection_epsilon``
        Cosine distance below which clusters of the hierarchy are not split (HDBSCAN's
        ``cluster_selection_epsilon``, converted to Euclidean internally). 0 disables it.
    ``allow_single_cluster``
        Let excess of mass choose the root of the hierarchy, i.e. everything as one person (off: its
        stability is inflated and it would swallow a library). When nothing at all splits off the root
        (a small input that is one person plus strays) the root is a candidate anyway, and
        ``join_threshold`` keeps the strays out.

    ``join_threshold``
        HDBSCAN labels every face that trails off a cluster with that cluster, however far it was when
        it left. Here a face keeps the label only if it left the cluster at a (mutual-reachability)
        distance within this cosine distance; farther ones are noise. 2 disables the check. This is
        what keeps strangers and two-photo acquaintances out of the big clusters (plain HDBSCAN on
        synthetic data: precision 0.988, 7% of strangers absorbed; with 0.6: 1.000 and 0%).

    ``evict_fraction``
        A cluster that breaks cannot-link constraints through only a few faces (a face the user
        removed from this person, a mirror selfie) keeps its shape and loses those faces, up to
        ``max(1, evict_fraction * size)`` of them; a cluster with more conflicts (two people merged,
        e.g. twins photographed together) is split instead. 0 always splits.

    Post-processing:

    ``merge_threshold``
        Two clusters whose centroids (normalised means) are within this cosine distance, and that no
        constraint keeps apart, are merged (a person split by age/pose/lighting). Centroids average out
        per-photo noise, so clusters of one person are typically < 0.2 apart and of different people
        > 0.5. 0 disables merging.
    ``reattach_threshold`` / ``reattach_margin`` / ``reattach_min_votes``
        A noise face joins a cluster when at least ``reattach_min_votes`` of its nearest neighbours in
        that cluster are within ``reattach_threshold``, and no other cluster has a face within
        ``reattach_threshold + reattach_margin`` of it ("clearly close to exactly one cluster").
        ``reattach_threshold = 0`` disables re-attachment.

    Scale:

    ``exact_max_faces``
        Up to this many faces, HDBSCAN runs exactly (dense distance matrix, 8·n² bytes). Above it, the
        minimum spanning tree is built on a k-nearest-neighbour graph instead (see ``knn_k``); with
        exact neighbours that gave the very same labels on every benchmark (5k, 10k) at 1/3-1/5 of
        the time.
    ``exact_knn_max_faces``
        Up to this many faces the neighbour graph is exact (brute force); above it, an inverted-file
        index finds neighbours: spherical k-means cells of about ``ivf_cell_size`` faces, every face
        filed in its ``ivf_nfile`` nearest cells and compared with the faces filed in its
        ``ivf_nprobe`` nearest cells.
    ``knn_k``
        Neighbours per face in the graph (>= ``min_samples``). More = closer to exact, slower.
    ``seed``
        Seed of the only randomised step (k-means initialisation of the index); same input + same seed =
        same labels.
    """

    method: Method = "average"
    linkage_threshold: float = LINKAGE_THRESHOLD
    pair_threshold: float = PAIR_THRESHOLD
    min_cluster_size: int = 2
    min_samples: int = 2
    cluster_selection_method: SelectionMethod = "eom"
    cluster_selection_epsilon: float = 0.0
    allow_single_cluster: bool = False
    join_threshold: float = 0.6
    evict_fraction: float = 0.1
    merge_threshold: float = 0.25
    reattach_threshold: float = 0.35
    reattach_margin: float = 0.1
    reattach_min_votes: int = 1
    exact_max_faces: int = 4000
    exact_knn_max_faces: int = 20000
    knn_k: int = 16
    ivf_cell_size: int = 32
    ivf_nprobe: int = 8
    ivf_nfile: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_cluster_size < 2:
            raise ValueError("min_cluster_size must be at least 2")
        if self.min_samples < 1:
            raise ValueError("min_samples must be at least 1")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError("cluster_selection_method must be 'eom' or 'leaf'")
        if self.method not in ("average", "hdbscan"):
            raise ValueError("method must be 'average' or 'hdbscan'")
        if self.pair_threshold > self.linkage_threshold:
            raise ValueError("pair_threshold must not exceed linkage_threshold (two faces need the strictest test)")
        for name in (
            "linkage_threshold",
            "pair_threshold",
            "cluster_selection_epsilon",
            "join_threshold",
            "merge_threshold",
            "reattach_threshold",
            "reattach_margin",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 2.0:
                raise ValueError(f"{name} is a cosine distance, 0..2 (got {v})")
        if not 0.0 <= self.evict_fraction <= 1.0:
            raise ValueError("evict_fraction must be in 0..1")
        if self.reattach_min_votes < 1:
            raise ValueError("reattach_min_votes must be at least 1")
        if self.knn_k < self.min_samples:
            raise ValueError("knn_k must be >= min_samples")
        if self.ivf_cell_size < 4 or self.ivf_nprobe < 1 or not 1 <= self.ivf_nfile <= self.ivf_nprobe:
            raise ValueError("need ivf_cell_size >= 4, ivf_nprobe >= 1 and 1 <= ivf_nfile <= ivf_nprobe")


@dataclass(frozen=True)
class AssignParams:
    """Parameters of :func:`photoclust.cluster.assign_to_people` (new faces to existing people).

    ``threshold``
        Only reference faces within this cosine distance vote. A face with none stays unknown (-1).
        0.45: a little stricter than the single-pair verification threshold at FAR 1e-3 (0.486,
        benchmarks/calibrate.py), because a face is compared with many reference faces and the nearest
        wins. Measured on celeba_wild (benchmarks/eval_people.py): 0.55 gave BCubed precision 0.984,
        0.50 0.989, 0.45 0.994-0.996 at about the same recall.
    ``k``
        At most this many nearest reference faces vote.
    ``min_votes``
        The winning person needs at least this many voters (1: a person with a single confirmed face can
        still collect new faces).
    ``min_share``
        The winner's share of the (closeness-weighted) vote must reach this, else the face is ambiguous
        between people and stays unknown.
    ``candidates`` / ``max_centroid_distance``
        Only the faces of the ``candidates`` people whose centroids (normalised mean of their reference
        faces) are nearest to the new face, and within ``max_centroid_distance``, are searched: a
        person's centroid is typically nearer to each of its faces than its faces are to each other,
        so a person whose centroid is that far has no face near enough to vote. This keeps assigning 1k faces to
        a 100k-face library well under a second.
    """

    threshold: float = LINKAGE_THRESHOLD
    pair_threshold: float = PAIR_THRESHOLD
    margin: float = 0.03
    method: Literal["average", "vote"] = "average"
    k: int = 10
    min_votes: int = 1
    min_share: float = 0.75
    candidates: int = 16
    max_centroid_distance: float = 0.85

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 2.0:
            raise ValueError(f"threshold is a cosine distance, 0..2 (got {self.threshold})")
        if self.method not in ("average", "vote"):
            raise ValueError("method must be 'average' or 'vote'")
        if self.pair_threshold > self.threshold:
            raise ValueError("pair_threshold must not exceed threshold (two faces need the strictest test)")
        if not 0.0 <= self.margin <= 2.0:
            raise ValueError("margin is a difference of cosine similarities, 0..2")
        if self.k < 1 or self.min_votes < 1:
            raise ValueError("k and min_votes must be at least 1")
        if not 0.0 < self.min_share <= 1.0:
            raise ValueError("min_share must be in (0, 1]")
        if not 0.0 < self.max_centroid_distance <= 2.0:
            raise ValueError("max_centroid_distance is a cosine distance, 0..2")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
