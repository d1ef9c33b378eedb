"""People: who is who in a library, the user's decisions, undo/redo, clustering runs and suggestions.

``edits``      :class:`People`: reads and every undoable edit (name, merge, split, move, reject ...)
``changes``    :class:`ChangeSet`: the before/after values one operation writes and undo restores
``clustering`` :func:`recluster`: a clustering run over the library that keeps every user decision
``suggest``    :func:`unknown_groups` ("Are these Alice?") and :func:`merge_suggestions` ("same person?")

The SQL behind them lives in :mod:`photoclust.store.people`; the algorithms in :mod:`photoclust.cluster`.
"""

from __future__ import annotations

from photoclust.people.changes import ChangeSet
from photoclust.people.clustering import ClusterReport, recluster
from photoclust.people.edits import People
from photoclust.people.suggest import MergeSuggestion, merge_suggestions, unknown_groups
from photoclust.types import HistoryEntry

__all__ = [
    "ChangeSet",
    "ClusterReport",
    "HistoryEntry",
    "MergeSuggestion",
    "People",
    "merge_suggestions",
    "recluster",
    "unknown_groups",
]
