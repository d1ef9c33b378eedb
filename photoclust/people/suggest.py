"""Questions for the user: unknown faces grouped with the person they most likely are ("Are these
Alice?") and pairs of people who are probably one ("same person?")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photoclust.people.edits import People
from photoclust.people.learning import mapped
from photoclust.store import blobs_to_matrix
from photoclust.types import EMBEDDING_DIM, Face, Person

# Unknown faces are grouped for the Unknown view by average linkage looser than clustering (a group is
# a question for the user, not a person); an unknown face's suggested person ("Are these Alice?") may be
# up to SUGGEST_SLACK beyond the distance at which clustering decides by itself (benchmarks/eval_effort.py:
# 0.12 saves the most answers on the family sets; 0.06 and 0.03 save less there, and more on lfw).
GROUP_SLACK = 0.08
SUGGEST_SLACK = 0.12


def library_mean_of(people: People) -> np.ndarray:
    """The library's mean face (every live embedding), which clustering centres on."""
    from photoclust.cluster import library_mean

    every = people.tables.live_embeddings()
    return library_mean(mapped(people.store, blobs_to_matrix(every))) if every else np.zeros(EMBEDDING_DIM, np.float32)


def _centred(people: People, rows: Sequence[tuple[int, int, bytes]], mean: np.ndarray) -> np.ndarray:
    """The embeddings (last column) of ``rows`` as clustering compares them: through the learned head in
    use, centred on the library's ``mean`` face."""
    from photoclust.cluster import centre

    return centre(mapped(people.store, blobs_to_matrix((r[2] for r in rows), EMBEDDING_DIM)), mean)


def unknown_groups(people: People, limit: int | None = None) -> list[tuple[list[Face], Person | None]]:
    """Unknown faces in groups for the Unknown view, each with the person it most likely is (or None).

    First, one group per person: the unknown faces whose nearest person by average linkage is within
    ``SUGGEST_SLACK`` of the automatic-assignment distance ("Are these Alice?": one answer for all of
    them), never a person the face was removed from or one already in the face's photo, and never two
    faces of one photo (the closer one is asked about). Then the other unknown faces, grouped among
    themselves by average linkage ``GROUP_SLACK`` looser than clustering (faces of one photo never share
    a group; a face alone is a group). Suggested groups first, then by size.
    """
    from photoclust.cluster import (
        AssignParams,
        ClusterParams,
        cluster_faces,
        group_sums,
        link_to_people,
        same_photo_pairs,
    )

    rows = people.tables.unknown_faces()
    if not rows:
        return []
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    photo = np.array([r[1] for r in rows], dtype=np.int64)
    mean = library_mean_of(people)
    X = _centred(people, rows, mean)
    by_id = {p.id: p for p in people.all(include_hidden=False)}
    suggested = np.full(ids.size, -1, dtype=np.int64)
    prow = people.tables.person_faces()
    if prow:
        keys, inv, P, p_size = group_sums(_centred(people, prow, mean), np.array([r[0] for r in prow], dtype=np.int64))
        pos = {int(k): i for i, k in enumerate(keys.tolist())}
        in_photo: dict[int, set[int]] = defaultdict(set)
        for (_p, ph, _e), k in zip(prow, inv.tolist(), strict=True):
            in_photo[int(ph)].add(k)
        rejected = people.rejections()
        hidden = {k for k, pid in enumerate(keys.tolist()) if pid not in by_id}  # never suggested
        fq: list[int] = []
        fp: list[int] = []
        for r in range(ids.size):
            bad = in_photo.get(int(photo[r]), set()) | hidden
            bad |= {pos[q] for q in rejected.get(int(ids[r]), ()) if q in pos}
            fq += [r] * len(bad)
            fp += sorted(bad)
        base = AssignParams()
        loose = AssignParams(
            threshold=base.threshold + SUGGEST_SLACK, pair_threshold=base.pair_threshold + SUGGEST_SLACK, margin=0.0
        )
        best, score = link_to_people(
            X,
            np.ones(ids.size, dtype=np.int64),
            P,
            p_size,
            loose,
            forbidden=(np.array(fq, dtype=np.int64), np.array(fp, dtype=np.int64)),
        )
        # one face per photo in a person's group: the closest
        for r in np.argsort(-score, kind="stable").tolist():
            if best[r] < 0:
                continue
            pid = int(keys[best[r]])
            if np.any((suggested == pid) & (photo == photo[r])):
                continue
            suggested[r] = pid
    groups: list[tuple[list[int], Person | None]] = []
    for pid in np.unique(suggested[suggested >= 0]).tolist():
        groups.append(([int(i) for i in ids[suggested == pid]], by_id[pid]))
    rest = np.flatnonzero(suggested < 0)
    if rest.size:
        base_c = ClusterParams()
        loose_c = ClusterParams(
            linkage_threshold=base_c.linkage_threshold + GROUP_SLACK,
            pair_threshold=base_c.pair_threshold + GROUP_SLACK,
        )
        if rest.size > 1:
            labels = cluster_faces(X[rest], loose_c, cannot_link=same_photo_pairs(photo[rest]))
        else:
            labels = np.full(1, -1)
        alone = labels < 0
        labels[alone] = labels.max(initial=-1) + 1 + np.arange(int(alone.sum()))
        for lab in np.unique(labels).tolist():
            groups.append(([int(i) for i in ids[rest[labels == lab]]], None))
    groups.sort(key=lambda g: (g[1] is None, -len(g[0]), g[0][0]))
    if limit is not None:
        groups = groups[:limit]
    faces = {f.id: f for f in people.faces(None)}
    return [([faces[i] for i in members if i in faces], sug) for members, sug in groups]


@dataclass(frozen=True)
class MergeSuggestion:
    """Two people who are probably one ("same person?"): ``score`` is the estimated probability."""

    a: Person
    b: Person
    distance: float  # average cosine distance between their faces
    score: float


# "Same person?" score: the probability that a pair of people is one person, 1 / (1 + exp((excess -
# SUGGEST_MID) / SUGGEST_SCALE)), excess = how far beyond the automatic-merge distance the pair is; fitted
# on the tuning sets (benchmarks/calibrate_suggest.py: 87 candidate pairs). Pairs are offered up to
# MERGE_SLACK beyond that distance (score >= ~0.2): farther ones were right 1 time in 15 there.
SUGGEST_MID = 0.033
SUGGEST_SCALE = 0.020
MERGE_SLACK = 0.06


def merge_suggestions(people: People, limit: int | None = None) -> list[MergeSuggestion]:
    """Pairs of people that are probably one person, most likely first.

    Candidates are each person's nearest people by average linkage within ``MERGE_SLACK`` of the
    automatic-merge distance. Never a pair that appears together in a photo, a pair the user declined
    (:meth:`People.declare_different`), two people with different names, or a hidden person.
    """
    from photoclust.cluster import close_pairs, group_sums

    rows = people.tables.person_faces()
    if not rows:
        return []
    by_id = {p.id: p for p in people.all(include_hidden=False)}
    pid = np.array([r[0] for r in rows], dtype=np.int64)
    keys, inv, P, size = group_sums(_centred(people, rows, library_mean_of(people)), pid)
    photos: dict[int, set[int]] = defaultdict(set)
    for (_p, ph, _e), k in zip(rows, inv.tolist(), strict=True):
        photos[k].add(int(ph))
    declined = people.different_pairs()
    ij, dist, excess = close_pairs(P, size, slack=MERGE_SLACK)
    out: list[MergeSuggestion] = []
    for (i, j), d, e in zip(ij.tolist(), dist.tolist(), excess.tolist(), strict=True):
        a, b = int(keys[i]), int(keys[j])
        if a not in by_id or b not in by_id or (min(a, b), max(a, b)) in declined:
            continue
        pa, pb = by_id[a], by_id[b]
        if pa.name and pb.name and pa.name.casefold() != pb.name.casefold():
            continue
        if photos[i] & photos[j]:
            continue
        if pb.name and not pa.name or (bool(pa.name) == bool(pb.name) and pb.faces > pa.faces):
            pa, pb = pb, pa  # the named or larger one first: merging keeps it
        score = 1.0 / (1.0 + float(np.exp((e - SUGGEST_MID) / SUGGEST_SCALE)))
        out.append(MergeSuggestion(pa, pb, d, score))
        if limit is not None and len(out) >= limit:
            break
    return out
