"""The clustering core: face embeddings -> people. Pure numpy/scipy/hdbscan; no database, no torch.

Everything works on ``X``, ``float32 (n, 512)`` L2-normalised FaceNet embeddings, and refers to faces by
**row index** into the arrays of that call; the caller keeps ``ids[row]``. Distances in parameters are
cosine distances (``1 - cos``).

:func:`cluster_faces`
    HDBSCAN over a set of faces, honouring cannot-link pairs, must-link groups and forbidden
    (face, group) pairs; returns labels (``0..G-1`` the must-link groups, ``G..`` new people by
    decreasing size, ``-1`` noise). Exact up to ``exact_max_faces``, a kNN-graph MST above (exact
    neighbours to ``exact_knn_max_faces``, an inverted-file index beyond: 100k faces in well under a
    minute on 2 cores).
:func:`assign_to_people`
    New faces to known people by a closeness-weighted vote of their nearest reference faces within a
    threshold; ``-1`` when nobody is close enough or the vote is split.
:func:`same_photo_pairs`
    Cannot-link pairs from per-row photo ids.
:func:`centroids`
    Normalised mean embedding per label.

How the people layer is meant to use it:

* After a scan: ``assign_to_people(X_new, X_ref, person_of_ref, cannot_link=same_photo_pairs(photo_of_new),
  cannot_link_ref=<(new, ref) rows sharing a photo>, forbidden=<(new, person) the user rejected>)``
  with the confirmed and assigned faces as references. Then cluster *all* faces without a person (the
  leftovers and the earlier noise, which new faces may now join) with
  ``cluster_faces(X_unknown, cannot_link=same_photo_pairs(photo_of_unknown))``; labels >= 0 are new
  people.
* ``--full``: ``cluster_faces(X_all, must_link=[confirmed rows of each person], forbidden=[(row, g) for
  faces the user removed from the person of group g], cannot_link=same_photo_pairs(photo_of_all))``.
  Labels ``< G`` are those people; new labels can be matched to the old unconfirmed people by overlap.
  A person with no confirmed face is no group: to keep a removed face away from it, cannot-link the face
  with that person's current faces.
"""

from __future__ import annotations

from .core import (
    assign_to_people,
    centre,
    centroids,
    close_pairs,
    cluster_faces,
    group_sums,
    library_mean,
    link_to_people,
    same_photo_pairs,
)
from .params import AssignParams, ClusterParams

__all__ = [
    "AssignParams",
    "ClusterParams",
    "assign_to_people",
    "centre",
    "centroids",
    "close_pairs",
    "cluster_faces",
    "group_sums",
    "library_mean",
    "link_to_people",
    "same_photo_pairs",
]
