"""The clustering core: faces (L2-normalised embeddings) -> people. Pure numpy/scipy/hdbscan, no database.

See :func:`cluster_faces` (group faces into people, honouring the user's decisions) and
:func:`assign_to_people` (new faces to known people by a nearest-neighbour vote).
"""

from __future__ import annotations

from .core import assign_to_people, centroids, cluster_faces, same_photo_pairs
from .params import AssignParams, ClusterParams

__all__ = [
    "AssignParams",
    "ClusterParams",
    "assign_to_people",
    "centroids",
    "cluster_faces",
    "same_photo_pairs",
]
