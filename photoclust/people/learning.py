"""Learning from the user's decisions (the people side of :mod:`photoclust.learn`): what a head learns
from, training it behind the validation gate as one undoable operation, and which head is in use.

The base embedding stays stored and authoritative; a head is derived data: :func:`active_head` maps
embeddings through it wherever faces are compared to *people* (assignment of unknown faces, "Are these
Alice?", "same person?", re-clustering, ``identify``), and drops it when the embedding model changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from photoclust.errors import ConstraintError
from photoclust.learn.head import HEAD_VERSION, Head, TrainingSet, Validation
from photoclust.learn.train import Examples, same_photo_negatives
from photoclust.people.changes import ChangeSet
from photoclust.people.edits import People
from photoclust.store import Store, blobs_to_matrix
from photoclust.types import EMBEDDING_DIM

# Automatic training after a clustering run: once this many more faces were confirmed since the last try.
AUTO_LEARN_NEW_FACES = 100


def active_head(store: Store) -> Head | None:
    """The head in use for the current embedding model, or None (the base embeddings). Heads are never
    changed once stored, so each is read and decoded once per library (one query per call: which is in use)."""
    from photoclust.embed import MODEL_VERSION

    active = store.heads.active_key()
    if active is None:
        return None
    key = (str(store.path), *active)
    if key not in _decoded:
        stored = store.heads.get(active[0])
        usable = stored is not None and stored.model_version == MODEL_VERSION and stored.version == HEAD_VERSION
        _decoded[key] = (
            Head.from_stored(stored.weights, stored.model_version, stored.report, stored.version)
            if stored is not None and usable
            else None
        )
    return _decoded[key]


_decoded: dict[tuple[str, int, float], Head | None] = {}


def mapped(store: Store, X: np.ndarray) -> np.ndarray:
    """Embeddings as people are compared: through the head in use, if any."""
    head = active_head(store)
    return X if head is None else head.apply(X)


def examples(people: People) -> tuple[Examples, TrainingSet]:
    """The training examples from the library's decisions, and what they are."""
    rows = people.tables.clustering_rows()
    named = {pid for pid, _name in people.tables.names()}
    X = blobs_to_matrix(rows.embeddings, EMBEDDING_DIM)
    label = np.array([p if p in named else -1 for p in rows.person.tolist()], dtype=np.int64)
    weak = (label >= 0) & ~rows.confirmed
    pos = {int(f): r for r, f in enumerate(rows.ids.tolist())}
    negatives: list[tuple[int, int]] = []
    # "not this person": the face against (up to 8 of) that person's confirmed faces
    confirmed_of: dict[int, list[int]] = {}
    for c in np.flatnonzero(rows.confirmed).tolist():
        confirmed_of.setdefault(int(rows.person[c]), []).append(c)
    for fid, pids in people.rejections().items():
        row = pos.get(fid)
        if row is None:
            continue
        for pid in pids:
            negatives += [(row, o) for o in confirmed_of.get(pid, [])[:8]]
    negatives += same_photo_negatives(rows.photo, label)
    strong = label[(label >= 0) & ~weak]
    info = TrainingSet(
        faces=int(strong.size),
        people=int(np.unique(strong).size),
        weak_faces=int(weak.sum()),
        negatives=len(negatives),
    )
    return Examples(X, label, weak, negatives), info


@dataclass(frozen=True)
class LearnReport:
    training: TrainingSet
    used: bool  # the head passed the gate and is in use now
    message: str


def learn(people: People) -> LearnReport:
    """Train a head on the user's decisions; keep it (one undoable operation) only if it passes the gate."""
    from photoclust.embed import MODEL_VERSION
    from photoclust.learn.train import fit, validate

    t0 = time.monotonic()
    ex, info = examples(people)
    store = people.store
    store.heads.record_attempt(info.faces)
    if not ex.usable():
        raise ConstraintError(
            "nothing to learn from yet: name at least two people and confirm two faces of each"
            " (merging, moving and confirming faces confirm them)"
        )
    val, _fold_heads = validate(ex)
    info = replace(info, validation=val)
    if not val.helps:
        info = replace(info, seconds=time.monotonic() - t0)
        return LearnReport(info, False, f"not used: it does not help here; {val.describe()}")
    W = fit(ex)
    info = replace(info, seconds=time.monotonic() - t0)
    head = Head(W, MODEL_VERSION, info)
    with store.people.transaction():
        head_id = store.heads.add(head.version, MODEL_VERSION, head.weights_blob(), head.report_json())
    cs = ChangeSet(head=(store.heads.active_id(), head_id))
    people.commit("learn", f"learned from {info.faces} confirmed faces of {info.people} people", cs)
    return LearnReport(info, True, f"in use; {val.describe()}")


def reset(people: People) -> bool:
    """Stop using the learned head (one undoable operation); False when none was in use."""
    current = people.store.heads.active_id()
    if current is None:
        return False
    people.commit("learn-reset", "stopped using the learned head", ChangeSet(head=(current, None)))
    return True


def should_learn(people: People) -> bool:
    """Enough new confirmed faces since the last try to train again (after a clustering run)."""
    heads = people.store.heads
    return heads.confirmed_named_faces() - heads.last_attempt() >= AUTO_LEARN_NEW_FACES


def status(store: Store) -> TrainingSet | None:
    """What the head in use learned from (None: no head in use)."""
    head = active_head(store)
    return None if head is None else head.training


__all__ = ["LearnReport", "Validation", "active_head", "learn", "mapped", "reset", "should_learn", "status"]
