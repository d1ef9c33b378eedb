"""Incremental clustering: what a run over new faces does so that it ends where one run over every
face would (new groups that are an existing person, people that grew close, the neighbourhood of the
new faces in a large unknown pile). Arrays in, arrays out; no database."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .core import close_pairs, group_sums, link_to_people
from .params import AssignParams

# Incremental runs merge people that grew close only when one of them has at most this many faces.
AUTO_MERGE_MAX = 10


def merge_close_people(
    X: np.ndarray,
    ids: np.ndarray,
    photo: np.ndarray,
    target: np.ndarray,
    confirmed: np.ndarray,
    new_groups: list[list[int]],
    rejected: dict[int, set[int]],
    declined: set[tuple[int, int]],
    decided: set[int],
    assign_params: AssignParams,
    changed: np.ndarray,
) -> None:
    """Merge people (existing ones and the new groups of this run) whose average linkage is now within the
    clustering threshold, as one clustering run over all the faces would have: incremental runs then end
    where a single run would. Only a person nobody decided about is absorbed (no name, no confirmed face,
    not hidden); two such decided people never merge, nor a declined pair, nor people sharing a photo,
    nor a person into one that a face of it was removed from. ``declined``: the pairs of people the user
    said are different; ``decided``: the people named or hidden. Updates ``target`` and ``new_groups``."""

    pos_of = {int(f): r for r, f in enumerate(ids.tolist())}
    base = int(target.max(initial=0)) + 1
    ent = target.copy()
    for g, members in enumerate(new_groups):
        ent[[pos_of[f] for f in members]] = base + g
    decided = decided | {int(t) for t in target[confirmed & (target >= 0)].tolist()}
    changed_rows = changed
    for _round in range(3):
        keys, inv = np.unique(ent[ent >= 0], return_inverse=True)
        if keys.size < 2:
            break
        rows = np.flatnonzero(ent >= 0)
        inv_of = np.full(ent.size, -1, dtype=np.int64)
        inv_of[rows] = inv
        changed_rows = changed_rows[inv_of[changed_rows] >= 0]
        if not changed_rows.size:
            break
        _, _, P, size = group_sums(X[rows], ent[rows])
        # only people that changed in this run can have come closer to anyone
        ij, _dist, _excess = close_pairs(P, size, assign_params, slack=0.0, rows=np.unique(inv_of[changed_rows]))
        if not ij.size:
            break
        photos: dict[int, set[int]] = defaultdict(set)
        faces_of: dict[int, list[int]] = defaultdict(list)
        for r, k in zip(rows.tolist(), inv.tolist(), strict=True):
            photos[k].add(int(photo[r]))
            faces_of[k].append(r)
        touched: set[int] = set()
        merged = 0
        for i, j in ij.tolist():
            if i in touched or j in touched or photos[i] & photos[j]:
                continue
            a, b = int(keys[i]), int(keys[j])
            if min(size[i], size[j]) > AUTO_MERGE_MAX:
                continue  # two established people: a "same person?" suggestion, not a silent merge
            lock_a, lock_b = a < base and a in decided, b < base and b in decided
            if lock_a and lock_b or (min(a, b), max(a, b)) in declined:
                continue
            # b is absorbed into a: the undecided one, else the smaller
            if lock_b or (not lock_a and size[j] > size[i]):
                a, b, i, j = b, a, j, i
            if a < base and any(a in rejected.get(int(ids[r]), ()) for r in faces_of[j]):
                continue
            ent[faces_of[j]] = a
            touched |= {i, j}
            merged += 1
            changed_rows = np.union1d(changed_rows, np.array(faces_of[i] + faces_of[j], dtype=np.int64))
        if not merged:
            break
    # write back: existing people by id, new groups by their index
    for r in np.flatnonzero(ent >= 0).tolist():
        target[r] = ent[r] if ent[r] < base else -2
    groups: dict[int, list[int]] = defaultdict(list)
    for r in np.flatnonzero(ent >= base).tolist():
        groups[int(ent[r])].append(int(ids[r]))
    new_groups[:] = [groups[k] for k in sorted(groups)]


def declined_pairs(declined: set[tuple[int, int]], person: np.ndarray, most: int = 64) -> np.ndarray:
    """Cannot-link rows between the faces (up to ``most`` of each) of every pair of people the user said
    are different, so that re-clustering from scratch keeps them apart."""
    out = [np.zeros((0, 2), dtype=np.int64)]
    for a, b in declined:
        ra, rb = np.flatnonzero(person == a)[:most], np.flatnonzero(person == b)[:most]
        if ra.size and rb.size:
            out.append(np.column_stack([np.repeat(ra, rb.size), np.tile(rb, ra.size)]))
    return np.vstack(out)


def join_people(
    X: np.ndarray,
    groups: list[np.ndarray],
    target: np.ndarray,
    photo: np.ndarray,
    ids: np.ndarray,
    rejected: dict[int, set[int]],
    assign_params: AssignParams,
) -> list[int]:
    """For each new group of unknown faces (rows), the existing person it is by average linkage, or -1.

    Never a person the user removed one of the group's faces from, nor one already in the group's photos.
    """
    refs = np.flatnonzero(target >= 0)
    if not groups or not refs.size:
        return [-1] * len(groups)
    people, inv, P, p_size = group_sums(X[refs], target[refs])
    G = np.vstack([X[g].sum(axis=0) for g in groups])
    g_size = np.array([g.size for g in groups], dtype=np.int64)
    in_photo: dict[int, set[int]] = defaultdict(set)  # photo -> people (rows of P) already in it
    for r, k in zip(refs.tolist(), inv.tolist(), strict=True):
        in_photo[int(photo[r])].add(k)
    pos = {int(v): k for k, v in enumerate(people.tolist())}
    fg: list[int] = []
    fp: list[int] = []
    for gi, g in enumerate(groups):
        bad = {pos[q] for r in g.tolist() for q in rejected.get(int(ids[r]), ()) if q in pos}
        for ph in set(photo[g].tolist()):
            bad |= in_photo.get(ph, set())
        fg += [gi] * len(bad)
        fp += sorted(bad)
    best, _ = link_to_people(
        G, g_size, P, p_size, assign_params, forbidden=(np.array(fg, np.int64), np.array(fp, np.int64))
    )
    return [int(people[b]) if b >= 0 else -1 for b in best.tolist()]


def near(X: np.ndarray, rows: np.ndarray, fresh: np.ndarray, distance: float) -> np.ndarray:
    """Mask over ``rows``: within ``distance`` (cosine) of at least one of the ``fresh`` rows."""
    out = np.zeros(rows.size, dtype=bool)
    F = X[fresh]
    for start in range(0, rows.size, 4096):
        block = X[rows[start : start + 4096]] @ F.T
        out[start : start + 4096] = block.max(axis=1) >= 1.0 - distance
    return out
