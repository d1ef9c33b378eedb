"""People: identities made of faces, the user's decisions about them, and undo/redo.

Every change to who-is-who goes through :meth:`People.commit` as a *change set*
(:mod:`photoclust.people.changes`): the before and after values of each touched face, person and
rejection, applied and written to the ``ops`` log in one transaction, so undo restores the exact
previous state and redo re-applies it. Clustering runs are logged the same way, so they can be undone.
Code that gathers many decisions into one operation (:mod:`photoclust.decisions`) uses the same public
change-set methods: :meth:`People.new_person`, :meth:`People.move_into`, :meth:`People.set_faces`,
:meth:`People.face_now`, :meth:`People.drop_if_empty`, :meth:`People.commit`.

User decisions are constraints that no clustering run and no edit may break:

* a named person is never deleted or renamed by clustering;
* a confirmed face never changes person (merge, split, move and confirm mark faces confirmed);
* two faces of one photo are never the same person;
* a face removed from a person ("not this person") never returns to it;
* merged people stay merged (their faces are confirmed);
* hidden people stay hidden;
* a face marked "not a face" never appears again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import replace

from photoclust.errors import ConstraintError, DuplicateName, NotFound, NothingToUndo
from photoclust.people.changes import ChangeSet, MaybePerson
from photoclust.store import Store
from photoclust.store.people import FaceState, PersonState
from photoclust.types import Face, HistoryEntry, Person


class People:
    """Who is who in one library database; every method is one undoable operation or a read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tables = store.people

    # -- reading ----------------------------------------------------------------------------------
    def all(self, include_hidden: bool = False) -> list[Person]:
        out = [p for p in self.tables.people(include_hidden) if p.name or p.faces]
        out.sort(key=lambda p: (p.name is None, -p.faces, (p.name or "").lower(), p.id))
        return out

    def get(self, person_id: int) -> Person:
        found = self.tables.person(person_id)
        if found is None:
            raise NotFound(f"no person with id {person_id}: see 'photoclust people'")
        return found

    def named(self, name: str, other_than: int | None = None) -> int | None:
        """The id of a person called ``name`` (case and spacing ignored), other than ``other_than``."""
        key = " ".join(name.split()).casefold()
        for pid, existing in self.tables.names():
            if pid != other_than and " ".join(existing.split()).casefold() == key:
                return pid
        return None

    def aliases(self, person_id: int) -> list[str]:
        """The person's other names (those of named people merged into them), oldest first."""
        return self.tables.aliases(person_id)

    def find_by_name(self, name: str) -> list[Person]:
        return [p for p in self.all(include_hidden=True) if p.name and p.name.casefold() == name.casefold()]

    def faces(self, person_id: int | None, limit: int | None = None) -> list[Face]:
        """Faces of a person (``None``: the unknown faces), best first."""
        return self.tables.faces(person_id, limit)

    def face(self, face_id: int) -> Face:
        face = self.tables.face(face_id)
        if face is None:
            raise NotFound(f"no face with id {face_id}")
        return face

    def thumbnail(self, face_id: int) -> bytes | None:
        return self.tables.thumbnail(face_id)

    def history(self, limit: int = 50) -> list[HistoryEntry]:
        return self.tables.history(limit)

    # -- state access used to build change sets ---------------------------------------------------
    def _face_states(self, face_ids: Iterable[int]) -> dict[int, FaceState]:
        ids = list(dict.fromkeys(int(i) for i in face_ids))
        out = self.tables.face_states(ids)
        missing = [i for i in ids if i not in out]
        if missing:
            raise NotFound(f"no face with id {missing[0]}")
        return out

    def _require_person(self, person_id: int) -> PersonState:
        state = self.tables.person_state(person_id)
        if state is None:
            raise NotFound(f"no person with id {person_id}: see 'photoclust people'")
        return state

    def _next_person_id(self, cs: ChangeSet) -> int:
        """A person id never used before, not even by an operation that was undone (redo may bring it back)."""
        pending = [k for k, (b, a) in cs.people.items() if b is None and a is not None]
        return max([self.tables.max_person_id(), *pending]) + 1

    # -- the single write path ------------------------------------------------------------------
    def commit(self, kind: str, description: str, cs: ChangeSet) -> HistoryEntry | None:
        """Apply a change set and log it, in one transaction: one entry of history, one undo.
        None when it changes nothing."""
        if cs.empty():
            return None
        with self.tables.transaction():
            cs.apply(self.tables, self.store.heads, forward=True)
            return self.tables.log(kind, description, cs.dumps())

    def undo(self) -> HistoryEntry:
        return self._step(undo=True)

    def redo(self) -> HistoryEntry:
        return self._step(undo=False)

    def _step(self, undo: bool) -> HistoryEntry:
        found = self.tables.next_op(undone=not undo)
        if found is None:
            raise NothingToUndo(f"nothing to {'undo' if undo else 'redo'}")
        entry, changes = found
        with self.tables.transaction():
            ChangeSet.loads(changes).apply(self.tables, self.store.heads, forward=not undo)
            self.tables.mark_op(entry.id, undone=undo)
        return replace(entry, undone=undo)

    # -- helpers that fill change sets ------------------------------------------------------------
    def set_faces(self, cs: ChangeSet, updates: dict[int, FaceState]) -> None:
        before = self._face_states(k for k in updates if k not in cs.faces)
        for fid, new in updates.items():
            old = cs.faces[fid][0] if fid in cs.faces else before[fid]
            cs.faces[fid] = (old, new)

    def face_now(self, cs: ChangeSet, fid: int) -> FaceState:
        return self.faces_now(cs, [fid])[fid]

    def faces_now(self, cs: ChangeSet, fids: Iterable[int]) -> dict[int, FaceState]:
        """The state of faces as this change set leaves them (one query for those it does not touch)."""
        fids = list(fids)
        out = self._face_states(f for f in fids if f not in cs.faces)
        out.update({f: cs.faces[f][1] for f in fids if f in cs.faces})
        return out

    def _members_now(self, cs: ChangeSet, pid: int) -> list[int]:
        """The faces of a person as this change set leaves them."""
        stored = self.tables.face_ids_of(pid)
        now = self.faces_now(cs, stored)
        members = [f for f in stored if now[f][0] == pid]
        return members + [f for f, (_b, a) in cs.faces.items() if a[0] == pid and f not in now]

    def _set_person(self, cs: ChangeSet, pid: int, new: MaybePerson) -> None:
        old = cs.people[pid][0] if pid in cs.people else self.tables.person_state(pid)
        cs.people[pid] = (old, new)

    def _reject(self, cs: ChangeSet, fid: int, pid: int) -> None:
        present = self.tables.rejected(fid, pid)
        cs.rejections[(fid, pid)] = (cs.rejections.get((fid, pid), (present, present))[0], True)

    def drop_if_empty(self, cs: ChangeSet, pid: int) -> None:
        """Delete an unnamed person left with no faces (named people are never deleted automatically)."""
        state = cs.people[pid][1] if pid in cs.people else self.tables.person_state(pid)
        if state is None or state[0]:
            return
        if not self._members_now(cs, pid):
            self._set_person(cs, pid, None)

    def photo_of(self, face_ids: Sequence[int]) -> dict[int, int]:
        """face id -> photo id."""
        return self.tables.photo_of(face_ids)

    def _check_same_photo(self, cs: ChangeSet, person_id: int, incoming: Sequence[int]) -> list[int]:
        """Faces already in ``person_id`` that share a photo with ``incoming`` faces.

        Raises ConstraintError when two incoming faces share a photo, or when the clash involves a face
        the user confirmed in the person; unconfirmed clashing faces are returned, to be released.
        """
        photos_in = self.photo_of(incoming)
        seen: dict[int, int] = {}
        for fid in incoming:
            ph = photos_in[fid]
            if ph in seen:
                raise ConstraintError(
                    f"faces {seen[ph]} and {fid} are in the same photo: one person cannot be in a photo twice"
                )
            seen[ph] = fid
        current = [f for f in self._members_now(cs, person_id) if f not in photos_in]
        release = []
        photos_cur = self.photo_of(current)
        now = self.faces_now(cs, current)
        for fid in current:
            if photos_cur[fid] in seen:
                if now[fid][1]:
                    # name the face as the user knows it: a merge confirms the target's faces in this
                    # change set, but a face the user never confirmed is only a suggestion to them
                    stored = cs.faces[fid][0] if fid in cs.faces else now[fid]
                    what = "confirmed face" if stored[1] else "face"
                    raise ConstraintError(
                        f"face {seen[photos_cur[fid]]} is in the same photo as {what} {fid} of person"
                        f" {person_id}: one person cannot be in a photo twice"
                    )
                release.append(fid)
        return release

    # -- edits --------------------------------------------------------------------------------
    def create_person(self, name: str | None = None, face_ids: Sequence[int] = ()) -> int:
        """A new person from the given faces (confirmed); returns its id."""
        cs = ChangeSet()
        pid = self.new_person(cs, name)
        self.move_into(cs, list(face_ids), pid)
        self.commit("create", f"new person {self._label(pid, name)} from {_faces(len(face_ids))}", cs)
        return pid

    def new_person(self, cs: ChangeSet, name: str | None) -> int:
        return self.new_people(cs, [name])[0]

    def new_people(self, cs: ChangeSet, names: Sequence[str | None]) -> list[int]:
        """Ids for new people (never used before), added to the change set."""
        if not names:
            return []
        first = self._next_person_id(cs)
        now = time.time()
        ids = list(range(first, first + len(names)))
        for pid, name in zip(ids, names, strict=True):
            cs.people[pid] = (None, PersonState(name, 0, None, now))
        self.tables.bump_max_person_id(ids[-1])
        return ids

    def move_into(self, cs: ChangeSet, face_ids: list[int], pid: int) -> None:
        if not face_ids:
            return
        before = self.faces_now(cs, face_ids)  # first: an unknown face id is NotFound, not a KeyError below
        rejected = self.tables.rejected_among(pid, face_ids)
        release = self._check_same_photo(cs, pid, face_ids)
        sources = set()
        updates: dict[int, FaceState] = {}
        for fid in face_ids:
            old = before[fid]
            if old[0] is not None and old[0] != pid:
                sources.add(old[0])
            updates[fid] = FaceState(pid, 1, 0)
        for fid in release:
            updates[fid] = FaceState(None, 0, 0)
        self.set_faces(cs, updates)
        for fid in rejected:  # the user now says this face *is* this person: the old rejection goes
            cs.rejections[(fid, pid)] = (True, False)
        for src in sources:
            self.drop_if_empty(cs, src)

    def _require_new_name(self, name: str, person_id: int | None, hint: str) -> None:
        """Raise DuplicateName when somebody other than ``person_id`` is already called ``name``.

        ``hint`` says what to do instead; ``{pid}`` in it stands for the person who has the name.
        """
        other = self.named(name, other_than=person_id)
        if other is not None:
            state = self.tables.person_state(other)
            existing = state[0] if state and state[0] else name
            raise DuplicateName(
                f"'{existing}' is already the name of person {other}: {hint.format(pid=other)}", other, existing
            )

    def name(self, person_id: int, name: str, allow_duplicate: bool = False) -> None:
        """Name a person. A name somebody else has is refused (DuplicateName: merging is what is usually
        meant) unless ``allow_duplicate`` (two people of the same name)."""
        name = " ".join(name.split())
        if not name:
            raise ConstraintError("a name cannot be empty")
        old = self._require_person(person_id)
        if not allow_duplicate:
            self._require_new_name(
                name,
                person_id,
                f"if they are the same person, run 'photoclust merge {person_id} --into {{pid}}'"
                " (or name it with --allow-duplicate: two people of that name)",
            )
        cs = ChangeSet()
        self._set_person(cs, person_id, old._replace(name=name))
        self.commit("name", f"named person {person_id} '{name}'" + (f" (was '{old[0]}')" if old[0] else ""), cs)

    def merge(self, sources: Sequence[int], into: int) -> None:
        """Merge people into ``into``: all their faces move there and are confirmed (merges stick)."""
        target = self._require_person(into)
        srcs = [s for s in dict.fromkeys(sources) if s != into]
        if not srcs:
            raise ConstraintError("merge needs at least one other person than the target")
        cs = ChangeSet()
        names = [target[0]]
        for s in srcs:
            st = self._require_person(s)
            assert st is not None
            names.append(st[0])
        moving = [f for s in srcs for f in self.tables.face_ids_of(s)]
        # the target's own faces are confirmed too: the user judged both groups as one person
        self.set_faces(cs, {f: FaceState(into, 1, 0) for f in self.tables.face_ids_of(into)})
        self.move_into(cs, moving, into)
        for s in srcs:
            self._set_person(cs, s, None)
            for alias in self.aliases(s):  # the source's other names go with it
                cs.aliases[(s, alias)] = (True, False)
                cs.aliases[(into, alias)] = (False, True)
        # "different from X" said of a merged person now holds for the merged whole
        for x, y in self.different_pairs():
            if x in srcs or y in srcs:
                self._set_different(cs, x, y, False)
                other = y if x in srcs else x
                if other != into and other not in srcs:
                    self._set_different(cs, into, other, True)
        named = [n for n in names if n]
        final = target[0] or (named[0] if named else None)
        if not target[0] and final:
            self._set_person(cs, into, target._replace(name=final))
        # the names of the others live on as aliases: search and 'person NAME' still find them
        keep = {a.casefold() for a in self.aliases(into)} | {(final or "").casefold()}
        for n in named:
            if n.casefold() not in keep:
                keep.add(n.casefold())
                cs.aliases[(into, n)] = (False, True)
        labels = [self._label(s, st) for s, st in zip(srcs, names[1:], strict=True)]
        self.commit("merge", f"merged {', '.join(labels)} into {self._label(into, final)}", cs)

    @staticmethod
    def _label(person_id: int, name: str | None) -> str:
        """How history and messages name a person: the name, or "person 12"."""
        return f"'{name}'" if name else f"person {person_id}"

    def split(self, face_ids: Sequence[int], name: str | None = None) -> int:
        """Move the given faces into a new person (confirmed); returns its id."""
        if not face_ids:
            raise ConstraintError("select at least one face to split off")
        if name:
            self._require_new_name(name, None, "move the faces to person {pid} instead of splitting them off")
        cs = ChangeSet()
        pid = self.new_person(cs, name)
        self.move_into(cs, list(face_ids), pid)
        self.commit("split", f"split {_faces(len(face_ids))} into new person {self._label(pid, name)}", cs)
        return pid

    def move(self, face_ids: Sequence[int], person_id: int) -> None:
        target = self._require_person(person_id)
        cs = ChangeSet()
        self.move_into(cs, list(face_ids), person_id)
        self.commit("move", f"moved {_faces(len(face_ids))} to {self._label(person_id, target[0])}", cs)

    def remove(self, face_ids: Sequence[int]) -> None:
        """ "Not this person": the faces become unknown and never return to their person."""
        cs = ChangeSet()
        states = self._face_states(face_ids)
        touched = set()
        for fid, (pid, _c, nf) in states.items():
            if pid is None:
                continue
            self._reject(cs, fid, pid)
            touched.add(pid)
            self.set_faces(cs, {fid: FaceState(None, 0, nf)})
        for pid in touched:
            self.drop_if_empty(cs, pid)
        self.commit("remove", f"removed {_faces(len(face_ids))} from their person", cs)

    def reject(self, face_ids: Sequence[int], person_id: int) -> None:
        """ "These faces are not this person" for faces that are not in the person (e.g. a suggestion the
        user declined): the rejection is recorded, so neither clustering nor suggestions offer it again."""
        who = self._require_person(person_id)
        cs = ChangeSet()
        states = self._face_states(face_ids)
        for fid, (pid, _c, nf) in states.items():
            self._reject(cs, fid, person_id)
            if pid == person_id:
                self.set_faces(cs, {fid: FaceState(None, 0, nf)})
        self.drop_if_empty(cs, person_id)
        self.commit("reject", f"{_faces(len(face_ids))} not {self._label(person_id, who[0])}", cs)

    def different_pairs(self) -> set[tuple[int, int]]:
        """Pairs of people (smaller id first) the user said are not the same person."""
        return self.tables.different_pairs()

    def _set_different(self, cs: ChangeSet, x: int, y: int, value: bool) -> None:
        key = (min(x, y), max(x, y))
        if key not in cs.different:
            present = key in self.different_pairs()
            cs.different[key] = (present, present)
        cs.different[key] = (cs.different[key][0], value)

    def declare_different(self, a: int, b: int) -> None:
        """ "Not the same person": the pair is never suggested again and never merged by clustering."""
        if a == b:
            raise ConstraintError("a person cannot be different from themselves")
        self._require_person(a)
        self._require_person(b)
        cs = ChangeSet()
        self._set_different(cs, a, b, True)
        self.commit("different", f"persons {a} and {b} are different people", cs)

    def unknown_count(self) -> int:
        return self.tables.unknown_count()

    def confirm(self, face_ids: Sequence[int]) -> None:
        cs = ChangeSet()
        states = self._face_states(face_ids)
        self.set_faces(cs, {fid: FaceState(pid, 1, nf) for fid, (pid, _c, nf) in states.items() if pid is not None})
        self.commit("confirm", f"confirmed {_faces(len(face_ids))}", cs)

    def set_hidden(self, person_id: int, hidden: bool = True) -> None:
        old = self._require_person(person_id)
        cs = ChangeSet()
        self._set_person(cs, person_id, old._replace(hidden=int(hidden)))
        self.commit(
            "hide" if hidden else "unhide", f"{'hid' if hidden else 'unhid'} {self._label(person_id, old[0])}", cs
        )

    def not_a_face(self, face_ids: Sequence[int]) -> None:
        cs = ChangeSet()
        states = self._face_states(face_ids)
        touched = {pid for pid, _c, _n in states.values() if pid is not None}
        self.set_faces(cs, {fid: FaceState(None, 0, 1) for fid in states})
        for pid in touched:
            self.drop_if_empty(cs, pid)
        self.commit("not-a-face", f"marked {_plural(len(face_ids), 'detection')} as not a face", cs)

    def set_cover(self, person_id: int, face_id: int) -> None:
        old = self._require_person(person_id)
        if self._face_states([face_id])[face_id][0] != person_id:
            raise ConstraintError(f"face {face_id} is not a face of person {person_id}")
        cs = ChangeSet()
        self._set_person(cs, person_id, old._replace(cover_face_id=face_id))
        self.commit("cover", f"set the cover face of {self._label(person_id, old[0])}", cs)

    # -- clustering ---------------------------------------------------------------------------
    def last_cluster_time(self) -> float | None:
        """When the latest clustering run still in effect (not undone) happened, or None."""
        return self.tables.last_cluster_time()

    def rejections(self) -> dict[int, set[int]]:
        """face id -> the people the user said it is not."""
        return self.tables.rejections()

    def apply_assignment(self, assignment: dict[int, int | None], new_groups: list[list[int]], kind: str) -> int:
        """Apply a clustering result as one logged operation (undoable).

        ``assignment``: face id → existing person id (or None for unknown); ``new_groups``: lists of
        face ids that form new people. Confirmed faces, rejections and same-photo conflicts are
        re-checked here, whatever the clustering did: this is the last line of defence.
        Returns the number of faces whose person changed.
        """
        cs = ChangeSet()
        states = self._face_states(list(assignment) + [f for g in new_groups for f in g])
        rejected = self.rejections()
        photo = self.photo_of(list(states))
        want: dict[int, int | None] = dict(assignment)
        for group, pid in zip(new_groups, self.new_people(cs, [None] * len(new_groups)), strict=True):
            for f in group:
                want[f] = pid
        # a person keeps confirmed faces; compute final membership to check same-photo conflicts
        final_photos = self.tables.confirmed_photos()
        updates: dict[int, FaceState] = {}
        for fid in sorted(want, key=lambda f: (want[f] is None, f)):
            current, conf, nf = states[fid]
            target = want[fid]
            if conf or nf:
                continue  # the user's decision stands
            if target is not None and (target in rejected.get(fid, ()) or photo[fid] in final_photos[target]):
                target = None
            if target is not None:
                final_photos[target].add(photo[fid])
            if target != current:
                updates[fid] = FaceState(target, 0, 0)
        self.set_faces(cs, updates)
        for pid in {s[0] for s in states.values() if s[0] is not None}:
            self.drop_if_empty(cs, pid)
        # new people that lost all their faces to the checks are not created
        receiving = {a[0] for _b, a in cs.faces.values()}
        for pid, (before, after) in list(cs.people.items()):
            if before is None and after is not None and pid not in receiving:
                del cs.people[pid]
        self.commit(kind, f"{kind}: {len(updates)} faces changed person", cs)
        return len(updates)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _faces(n: int) -> str:
    return _plural(n, "face")
