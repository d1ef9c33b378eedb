"""Clustering runs over a library: group faces into people while honouring every user decision."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from photoclust.config import WEAK_FLAGS
from photoclust.people.edits import People
from photoclust.people.learning import mapped
from photoclust.store import blobs_to_matrix
from photoclust.types import EMBEDDING_DIM

if TYPE_CHECKING:
    from photoclust.cluster import AssignParams, ClusterParams

# Incremental clustering of a large unknown pile looks only at faces new since the last run and the
# unknown faces within this cosine distance of them (they are all a new person could be made of).
LOCAL_CLUSTER_MIN = 5000
LOCAL_CLUSTER_DISTANCE = 0.7


@dataclass(frozen=True)
class ClusterReport:
    people: int
    new_people: int
    assigned: int
    unknown: int
    skipped: int
    changed: int
    seconds: float


def recluster(
    people: People,
    full: bool = False,
    params: ClusterParams | None = None,
    assign_params: AssignParams | None = None,
) -> ClusterReport:
    """Group faces into people, honouring every user decision; one undoable operation.

    Incremental (default): faces already in a person stay; unknown faces join the person they are
    clearly close to (nearest-neighbour vote with a calibrated distance threshold); the remaining
    unknown faces are clustered among themselves into new people.
    ``full``: every unconfirmed face is re-clustered from scratch, with each person's confirmed faces
    as must-link groups; new clusters take over the id (and name) of the old person they overlap most,
    so people keep their ids.
    """
    from photoclust.cluster import (
        AssignParams,
        ClusterParams,
        assign_to_people,
        centre,
        cluster_faces,
        library_mean,
        same_photo_pairs,
    )
    from photoclust.cluster.incremental import declined_pairs, join_people, merge_close_people, near

    t0 = time.monotonic()
    params = params or ClusterParams()
    assign_params = assign_params or AssignParams()
    faces = people.tables.clustering_rows()
    ids, photo, person, confirmed = faces.ids, faces.photo, faces.person, faces.confirmed
    X = mapped(people.store, blobs_to_matrix(faces.embeddings, EMBEDDING_DIM))  # through the learned head
    X = centre(X, library_mean(X))
    n = len(ids)
    rejected = people.rejections()
    weak = np.array([bool(WEAK_FLAGS.intersection(f.split(","))) for f in faces.flags], dtype=bool)
    target = person.copy()  # the person each face should end up with; -1 unknown
    new_groups: list[list[int]] = []

    if full:
        # must-link groups: each person's confirmed faces
        group_people = sorted({int(p) for p in person[confirmed] if p >= 0})
        gindex = {p: g for g, p in enumerate(group_people)}
        rows = np.flatnonzero(confirmed | ~weak)
        sub = {int(r): k for k, r in enumerate(rows)}
        must = [[sub[int(r)] for r in rows if confirmed[r] and person[r] == p] for p in group_people]
        forbidden = [(sub[int(r)], gindex[q]) for r in rows for q in rejected.get(int(ids[r]), ()) if q in gindex]
        cannot = np.vstack([same_photo_pairs(photo[rows]), declined_pairs(people.different_pairs(), person[rows])])
        labels = cluster_faces(X[rows], params, cannot_link=cannot, must_link=must, forbidden=forbidden)
        target[~confirmed] = -1
        # new clusters take the id of the old person they overlap most (ids stay stable across runs)
        taken = set(group_people)
        for lab in sorted(set(labels.tolist()) - {-1}):
            members = rows[labels == lab]
            if lab < len(group_people):
                target[members] = group_people[lab]
                continue
            old = person[members]
            old = old[(old >= 0) & ~np.isin(old, list(taken))]
            if old.size:
                vals, counts = np.unique(old, return_counts=True)
                best = int(vals[np.argmax(counts)])
                if counts.max() * 2 >= members.size:
                    target[members] = best
                    taken.add(best)
                    continue
            new_groups.append([int(ids[r]) for r in members])
            target[members] = -2  # placeholder: a new person

    def assign_unknown(skip: np.ndarray | None = None) -> int:
        """Unknown faces (weak ones too) join the person they are clearly close to (average linkage);
        ``skip``: rows that need no second look (clustering just weighed them against every group).
        Returns how many faces joined someone."""
        unknown = np.flatnonzero((target == -1) & ~confirmed)
        if skip is not None:
            unknown = np.setdiff1d(unknown, skip)
        refs = np.flatnonzero(target != -1)
        if not unknown.size or not refs.size:
            return 0
        # faces of new groups vote for their group: label them with ids above every person id
        ref_labels = target[refs].copy()
        group_of = {f: new_base + g for g, group in enumerate(new_groups) for f in group}
        in_group = np.array([int(i) in group_of for i in ids[refs].tolist()], dtype=bool)
        ref_labels[in_group] = [group_of[int(i)] for i in ids[refs][in_group].tolist()]
        ref_photo: dict[int, list[int]] = {}
        for k, r in enumerate(refs):
            ref_photo.setdefault(int(photo[r]), []).append(k)
        cl_ref = [(k, j) for k, u in enumerate(unknown) for j in ref_photo.get(int(photo[u]), ())]
        forb = [(k, q) for k, u in enumerate(unknown) for q in rejected.get(int(ids[u]), ())]
        got = assign_to_people(
            X[unknown],
            X[refs],
            ref_labels,
            assign_params,
            cannot_link=same_photo_pairs(photo[unknown]),
            cannot_link_ref=cl_ref,
            forbidden=forb,
        )
        for k, u in enumerate(unknown):
            lab = int(got[k])
            if lab < 0:
                continue
            if lab >= new_base:
                new_groups[lab - new_base].append(int(ids[u]))
                target[u] = -2
            else:
                target[u] = lab
        return int((got >= 0).sum())

    new_base = int(max(person.max(initial=0), people.tables.largest_person_id())) + 1
    assign_unknown()
    if not full:
        # cluster the faces still unknown (and strong enough) among themselves into new people
        rest = np.flatnonzero((target == -1) & ~weak & ~confirmed)
        since = people.last_cluster_time()
        if rest.size > LOCAL_CLUSTER_MIN and since is not None:
            # A large unknown pile was already clustered last time: only faces indexed since then, and
            # the unknown faces near them, can form a new person now. Cluster just that neighbourhood.
            fresh = faces.indexed_at[rest] > since
            rest = rest[near(X, rest, rest[fresh], LOCAL_CLUSTER_DISTANCE)] if fresh.any() else rest[:0]
        if rest.size >= params.min_cluster_size:
            labels = cluster_faces(X[rest], params, cannot_link=same_photo_pairs(photo[rest]))
            groups = [rest[labels == lab] for lab in sorted(set(labels.tolist()) - {-1})]
            for members, pid in zip(
                groups, join_people(X, groups, target, photo, ids, rejected, assign_params), strict=True
            ):
                if pid >= 0:  # one clustering run over everything would have merged it into that person
                    target[members] = pid
                    continue
                new_groups.append([int(ids[r]) for r in members])
                target[members] = -2
            if groups:
                # weak faces left out of the new people may clearly belong to one; a person they join is
                # larger, so its bar relaxes: the other leftovers get a second look then (as a next run would)
                if assign_unknown(skip=rest):
                    assign_unknown()
        if (person >= 0).any():
            # people that grew closer than one clustering run would leave them: merge the undecided ones
            moved = np.flatnonzero(target != person)
            decided = {p.id for p in people.all(include_hidden=True) if p.name or p.hidden}
            merge_close_people(
                X,
                ids,
                photo,
                target,
                confirmed,
                new_groups,
                rejected,
                people.different_pairs(),
                decided,
                assign_params,
                moved,
            )
    in_new = {f for g in new_groups for f in g}
    assignment = {
        int(ids[r]): (int(target[r]) if target[r] >= 0 else None)
        for r in range(n)
        if int(ids[r]) not in in_new and (target[r] != person[r])
    }
    changed = people.apply_assignment(assignment, new_groups, "cluster-full" if full else "cluster")
    # the people all() lists, counted without building them: named, or with a face on screen
    n_people = people.tables.count_listed()
    assigned = people.tables.assigned_count()
    return ClusterReport(
        people=n_people,
        new_people=len(new_groups),
        assigned=assigned,
        unknown=n - assigned,
        skipped=int((weak & (target == -1) & (person < 0)).sum()),
        changed=changed,
        seconds=time.monotonic() - t0,
    )
