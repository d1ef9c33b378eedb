"""People: identities made of faces, the user's decisions about them, and undo/redo.

Every change to who-is-who goes through :meth:`People._commit` as a *change set*: the before and
after values of each touched face, person and rejection. The change set is applied and written to
the ``ops`` log in one transaction, so undo restores the exact previous state and redo re-applies it.
Clustering runs are logged the same way, so they can be undone too.

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

import json
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photoclust.errors import ConstraintError, DuplicateName, NotFound, NothingToUndo
from photoclust.store import Store, blobs_to_matrix
from photoclust.types import Face, Person

FaceState = tuple[int | None, int, int]  # person_id, confirmed, not_face
PersonState = tuple[str | None, int, int | None, float] | None  # name, hidden, cover, created_at; None: absent


@dataclass
class ChangeSet:
    faces: dict[int, tuple[FaceState, FaceState]] = field(default_factory=dict)
    people: dict[int, tuple[PersonState, PersonState]] = field(default_factory=dict)
    rejections: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)
    different: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)  # (a < b): declined
    aliases: dict[tuple[int, str], tuple[bool, bool]] = field(default_factory=dict)  # (person, other name)

    def empty(self) -> bool:
        return not (
            any(b != a for b, a in self.faces.values())
            or any(b != a for b, a in self.people.values())
            or any(b != a for b, a in self.rejections.values())
            or any(b != a for b, a in self.different.values())
            or any(b != a for b, a in self.aliases.values())
        )

    def dumps(self) -> bytes:
        data = {
            "faces": [[k, list(b), list(a)] for k, (b, a) in self.faces.items() if b != a],
            "people": [[k, b, a] for k, (b, a) in self.people.items() if b != a],
            "rejections": [[f, p, b, a] for (f, p), (b, a) in self.rejections.items() if b != a],
            "different": [[x, y, b, a] for (x, y), (b, a) in self.different.items() if b != a],
            "aliases": [[p, n, b, a] for (p, n), (b, a) in self.aliases.items() if b != a],
        }
        return zlib.compress(json.dumps(data).encode())

    @classmethod
    def loads(cls, blob: bytes) -> ChangeSet:
        data = json.loads(zlib.decompress(blob))
        cs = cls()
        for k, b, a in data["faces"]:
            cs.faces[int(k)] = ((b[0], int(b[1]), int(b[2])), (a[0], int(a[1]), int(a[2])))
        for k, b, a in data["people"]:
            cs.people[int(k)] = (_person_state_from_json(b), _person_state_from_json(a))
        for f, p, b, a in data["rejections"]:
            cs.rejections[(int(f), int(p))] = (bool(b), bool(a))
        for x, y, b, a in data.get("different", []):  # absent in change sets written before 0006
            cs.different[(int(x), int(y))] = (bool(b), bool(a))
        for p, n, b, a in data.get("aliases", []):  # logs written before aliases have none
            cs.aliases[(int(p), str(n))] = (bool(b), bool(a))
        return cs

    def inverted(self) -> ChangeSet:
        return ChangeSet(
            faces={k: (a, b) for k, (b, a) in self.faces.items()},
            people={k: (a, b) for k, (b, a) in self.people.items()},
            rejections={k: (a, b) for k, (b, a) in self.rejections.items()},
            different={k: (a, b) for k, (b, a) in self.different.items()},
            aliases={k: (a, b) for k, (b, a) in self.aliases.items()},
        )


def _person_state_from_json(v: list[Any] | None) -> PersonState:
    return None if v is None else (v[0], int(v[1]), v[2], float(v[3]))


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    at: float
    kind: str
    description: str
    undone: bool


class People:
    """Who is who in one library database; every method is one undoable operation or a read."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- reading ----------------------------------------------------------------------------------
    def _people(self, where: str, params: list[Any]) -> list[Person]:
        """People matching ``where`` (SQL on ``people p``) with their live face and photo counts."""
        rows = self.db.execute(
            f"""
            SELECT p.id, p.name, p.hidden, p.cover_face_id,
                   count(f.id) AS n_faces, count(DISTINCT f.photo_id) AS n_photos,
                   (SELECT lf.id FROM live_faces lf WHERE lf.person_id = p.id
                    ORDER BY lf.flags = '' DESC, lf.probability * min(lf.size_px, 160) DESC, lf.id LIMIT 1) AS best
            FROM people p LEFT JOIN live_faces f ON f.person_id = p.id
            WHERE {where}
            GROUP BY p.id
            """,
            params,
        ).fetchall()
        return [
            Person(int(pid), name, int(n_faces), int(n_photos), cover or best, bool(hidden))
            for pid, name, hidden, cover, n_faces, n_photos, best in rows
        ]

    def all(self, include_hidden: bool = False) -> list[Person]:
        out = [p for p in self._people("(? OR p.hidden = 0)", [int(include_hidden)]) if p.name or p.faces]
        out.sort(key=lambda p: (p.name is None, -p.faces, (p.name or "").lower(), p.id))
        return out

    def get(self, person_id: int) -> Person:
        found = self._people("p.id = ?", [person_id])
        if not found:
            raise NotFound(f"no person with id {person_id}: see 'photoclust people'")
        return found[0]

    def named(self, name: str, other_than: int | None = None) -> int | None:
        """The id of a person called ``name`` (case and spacing ignored), other than ``other_than``."""
        key = " ".join(name.split()).casefold()
        for pid, existing in self.db.execute("SELECT id, name FROM people WHERE name IS NOT NULL ORDER BY id"):
            if int(pid) != other_than and " ".join(str(existing).split()).casefold() == key:
                return int(pid)
        return None

    def aliases(self, person_id: int) -> list[str]:
        """The person's other names (those of named people merged into them), oldest first."""
        return [
            str(r[0])
            for r in self.db.execute("SELECT name FROM aliases WHERE person_id = ? ORDER BY rowid", [person_id])
        ]

    def find_by_name(self, name: str) -> list[Person]:
        return [p for p in self.all(include_hidden=True) if p.name and p.name.casefold() == name.casefold()]

    def faces(self, person_id: int | None, limit: int | None = None) -> list[Face]:
        """Faces of a person (``None``: the unknown faces), best first."""
        cond = "f.person_id = ?" if person_id is not None else "f.person_id IS NULL"
        params: list[Any] = [person_id] if person_id is not None else []
        sql = (
            "SELECT f.id, f.photo_id, (SELECT path FROM files WHERE files.photo_id = f.photo_id"
            " AND status = 'present' ORDER BY path LIMIT 1), f.x1, f.y1, f.x2, f.y2, f.probability, f.person_id,"
            " f.confirmed, f.flags, ph.taken_at"
            f" FROM live_faces f JOIN photos ph ON ph.id = f.photo_id WHERE {cond}"
            " ORDER BY f.confirmed DESC, f.flags = '' DESC, f.probability * min(f.size_px, 160) DESC, f.id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_face(r) for r in self.db.execute(sql, params).fetchall()]

    def face(self, face_id: int) -> Face:
        row = self.db.execute(
            "SELECT f.id, f.photo_id, (SELECT path FROM files WHERE files.photo_id = f.photo_id"
            " ORDER BY status = 'present' DESC, path LIMIT 1), f.x1, f.y1, f.x2, f.y2, f.probability, f.person_id,"
            " f.confirmed, f.flags, ph.taken_at FROM faces f JOIN photos ph ON ph.id = f.photo_id WHERE f.id = ?",
            [face_id],
        ).fetchone()
        if row is None:
            raise NotFound(f"no face with id {face_id}")
        return _face(row)

    def thumbnail(self, face_id: int) -> bytes | None:
        row = self.db.execute("SELECT thumbnail FROM faces WHERE id = ?", [face_id]).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def history(self, limit: int = 50) -> list[HistoryEntry]:
        rows = self.db.execute(
            "SELECT id, at, kind, description, undone FROM ops ORDER BY id DESC LIMIT ?", [limit]
        ).fetchall()
        return [HistoryEntry(int(i), float(a), k, d, bool(u)) for i, a, k, d, u in rows]

    # -- state access used to build change sets ---------------------------------------------------
    def _face_states(self, face_ids: Iterable[int]) -> dict[int, FaceState]:
        ids = list(dict.fromkeys(int(i) for i in face_ids))
        out: dict[int, FaceState] = {}
        for chunk in _chunks(ids, 500):
            q = ",".join("?" * len(chunk))
            for fid, pid, conf, nf in self.db.execute(
                f"SELECT id, person_id, confirmed, not_face FROM faces WHERE id IN ({q})", chunk
            ).fetchall():
                out[int(fid)] = (pid, int(conf), int(nf))
        missing = [i for i in ids if i not in out]
        if missing:
            raise NotFound(f"no face with id {missing[0]}")
        return out

    def _person_state(self, person_id: int) -> PersonState:
        row = self.db.execute(
            "SELECT name, hidden, cover_face_id, created_at FROM people WHERE id = ?", [person_id]
        ).fetchone()
        return (row[0], int(row[1]), row[2], float(row[3])) if row else None

    def _require_person(self, person_id: int) -> PersonState:
        state = self._person_state(person_id)
        if state is None:
            raise NotFound(f"no person with id {person_id}: see 'photoclust people'")
        return state

    def _face_ids_of(self, person_id: int) -> list[int]:
        return [int(r[0]) for r in self.db.execute("SELECT id FROM faces WHERE person_id = ?", [person_id])]

    def _next_person_id(self, cs: ChangeSet) -> int:
        """A person id never used before, not even by an operation that was undone (redo may bring it back)."""
        row = self.db.execute("SELECT max(id) FROM people").fetchone()
        meta = self.db.execute("SELECT value FROM meta WHERE key = 'max_person_id'").fetchone()
        pending = [k for k, (b, a) in cs.people.items() if b is None and a is not None]
        return max([int(row[0] or 0), int(meta[0]) if meta else 0, *pending]) + 1

    # -- the single write path ------------------------------------------------------------------
    def _commit(self, kind: str, description: str, cs: ChangeSet) -> HistoryEntry | None:
        if cs.empty():
            return None
        with self.db.atomic():
            self._apply(cs, forward=True)
            self.db.execute("DELETE FROM ops WHERE undone = 1")  # a new edit ends the redo branch
            cur = self.db.execute(
                "INSERT INTO ops (at, kind, description, changes) VALUES (?, ?, ?, ?)",
                [time.time(), kind, description, cs.dumps()],
            )
            op_id = int(cur.lastrowid or 0)
        return HistoryEntry(op_id, time.time(), kind, description, False)

    def _apply(self, cs: ChangeSet, forward: bool) -> None:
        pick = 1 if forward else 0
        # people first (a face may point at a person created by this change set) ...
        created_or_kept = {k: v[pick] for k, v in cs.people.items() if v[pick] is not None}
        for pid, state in created_or_kept.items():
            assert state is not None
            name, hidden, cover, created = state
            self.db.execute(
                "INSERT INTO people (id, name, hidden, cover_face_id, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name, hidden = excluded.hidden,"
                " cover_face_id = excluded.cover_face_id, created_at = excluded.created_at",
                [pid, name, hidden, cover, created],
            )
        for fid, fstates in cs.faces.items():
            face_pid, conf, nf = fstates[pick]
            self.db.execute(
                "UPDATE faces SET person_id = ?, confirmed = ?, not_face = ? WHERE id = ?", [face_pid, conf, nf, fid]
            )
        for (fid, rpid), rstates in cs.rejections.items():
            if rstates[pick]:
                self.db.execute("INSERT OR IGNORE INTO rejections (face_id, person_id) VALUES (?, ?)", [fid, rpid])
            else:
                self.db.execute("DELETE FROM rejections WHERE face_id = ? AND person_id = ?", [fid, rpid])
        for (a, b), dstates in cs.different.items():
            if dstates[pick]:
                self.db.execute("INSERT OR IGNORE INTO different_people (person_a, person_b) VALUES (?, ?)", [a, b])
            else:
                self.db.execute("DELETE FROM different_people WHERE person_a = ? AND person_b = ?", [a, b])
        for (apid, alias), astates in cs.aliases.items():
            if astates[pick]:
                self.db.execute("INSERT OR IGNORE INTO aliases (person_id, name) VALUES (?, ?)", [apid, alias])
            else:
                self.db.execute("DELETE FROM aliases WHERE person_id = ? AND name = ?", [apid, alias])
        # ... and people removed last, once no face points at them.
        for pid, pstates in cs.people.items():
            if pstates[pick] is None:
                self.db.execute("DELETE FROM people WHERE id = ?", [pid])

    def undo(self) -> HistoryEntry:
        row = self.db.execute(
            "SELECT id, at, kind, description, changes FROM ops WHERE undone = 0 ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise NothingToUndo("nothing to undo")
        with self.db.atomic():
            self._apply(ChangeSet.loads(row[4]), forward=False)
            self.db.execute("UPDATE ops SET undone = 1 WHERE id = ?", [row[0]])
        return HistoryEntry(int(row[0]), float(row[1]), row[2], row[3], True)

    def redo(self) -> HistoryEntry:
        row = self.db.execute(
            "SELECT id, at, kind, description, changes FROM ops WHERE undone = 1 ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            raise NothingToUndo("nothing to redo")
        with self.db.atomic():
            self._apply(ChangeSet.loads(row[4]), forward=True)
            self.db.execute("UPDATE ops SET undone = 0 WHERE id = ?", [row[0]])
        return HistoryEntry(int(row[0]), float(row[1]), row[2], row[3], False)

    # -- helpers that fill change sets ------------------------------------------------------------
    def _set_faces(self, cs: ChangeSet, updates: dict[int, FaceState]) -> None:
        before = self._face_states(k for k in updates if k not in cs.faces)
        for fid, new in updates.items():
            old = cs.faces[fid][0] if fid in cs.faces else before[fid]
            cs.faces[fid] = (old, new)

    def _face_now(self, cs: ChangeSet, fid: int) -> FaceState:
        return self._faces_now(cs, [fid])[fid]

    def _faces_now(self, cs: ChangeSet, fids: Iterable[int]) -> dict[int, FaceState]:
        """The state of faces as this change set leaves them (one query for those it does not touch)."""
        fids = list(fids)
        out = self._face_states(f for f in fids if f not in cs.faces)
        out.update({f: cs.faces[f][1] for f in fids if f in cs.faces})
        return out

    def _members_now(self, cs: ChangeSet, pid: int) -> list[int]:
        """The faces of a person as this change set leaves them."""
        stored = self._face_ids_of(pid)
        now = self._faces_now(cs, stored)
        members = [f for f in stored if now[f][0] == pid]
        return members + [f for f, (_b, a) in cs.faces.items() if a[0] == pid and f not in now]

    def _set_person(self, cs: ChangeSet, pid: int, new: PersonState) -> None:
        old = cs.people[pid][0] if pid in cs.people else self._person_state(pid)
        cs.people[pid] = (old, new)

    def _reject(self, cs: ChangeSet, fid: int, pid: int) -> None:
        present = bool(
            self.db.execute("SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", [fid, pid]).fetchone()
        )
        cs.rejections[(fid, pid)] = (cs.rejections.get((fid, pid), (present, present))[0], True)

    def _drop_if_empty(self, cs: ChangeSet, pid: int) -> None:
        """Delete an unnamed person left with no faces (named people are never deleted automatically)."""
        state = cs.people[pid][1] if pid in cs.people else self._person_state(pid)
        if state is None or state[0]:
            return
        if not self._members_now(cs, pid):
            self._set_person(cs, pid, None)

    def _photo_of(self, face_ids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(list(face_ids), 500):
            q = ",".join("?" * len(chunk))
            out.update(
                {int(a): int(b) for a, b in self.db.execute(f"SELECT id, photo_id FROM faces WHERE id IN ({q})", chunk)}
            )
        return out

    def _check_same_photo(self, cs: ChangeSet, person_id: int, incoming: Sequence[int]) -> list[int]:
        """Faces already in ``person_id`` that share a photo with ``incoming`` faces.

        Raises ConstraintError when two incoming faces share a photo, or when the clash involves a face
        the user confirmed in the person; unconfirmed clashing faces are returned, to be released.
        """
        photos_in = self._photo_of(incoming)
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
        photos_cur = self._photo_of(current)
        now = self._faces_now(cs, current)
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
        pid = self._new_person(cs, name)
        self._move_into(cs, list(face_ids), pid)
        self._commit("create", f"new person {self._label(pid, name)} from {_faces(len(face_ids))}", cs)
        return pid

    def _new_person(self, cs: ChangeSet, name: str | None) -> int:
        return self._new_people(cs, [name])[0]

    def _new_people(self, cs: ChangeSet, names: Sequence[str | None]) -> list[int]:
        """Ids for new people (never used before), added to the change set."""
        if not names:
            return []
        first = self._next_person_id(cs)
        now = time.time()
        ids = list(range(first, first + len(names)))
        for pid, name in zip(ids, names, strict=True):
            cs.people[pid] = (None, (name, 0, None, now))
        self._bump_max_person(ids[-1])
        return ids

    def _bump_max_person(self, pid: int) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('max_person_id', ?) ON CONFLICT(key) DO UPDATE SET"
            " value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
            [str(pid)],
        )

    def _move_into(self, cs: ChangeSet, face_ids: list[int], pid: int) -> None:
        if not face_ids:
            return
        before = self._faces_now(cs, face_ids)  # first: an unknown face id is NotFound, not a KeyError below
        rejected = {
            int(r[0])
            for chunk in _chunks(face_ids, 500)
            for r in self.db.execute(
                f"SELECT face_id FROM rejections WHERE person_id = ? AND face_id IN ({','.join('?' * len(chunk))})",
                [pid, *chunk],
            )
        }
        release = self._check_same_photo(cs, pid, face_ids)
        sources = set()
        updates: dict[int, FaceState] = {}
        for fid in face_ids:
            old = before[fid]
            if old[0] is not None and old[0] != pid:
                sources.add(old[0])
            updates[fid] = (pid, 1, 0)
        for fid in release:
            updates[fid] = (None, 0, 0)
        self._set_faces(cs, updates)
        for fid in rejected:  # the user now says this face *is* this person: the old rejection goes
            cs.rejections[(fid, pid)] = (True, False)
        for src in sources:
            self._drop_if_empty(cs, src)

    def _require_new_name(self, name: str, person_id: int | None, hint: str) -> None:
        """Raise DuplicateName when somebody other than ``person_id`` is already called ``name``.

        ``hint`` says what to do instead; ``{pid}`` in it stands for the person who has the name.
        """
        other = self.named(name, other_than=person_id)
        if other is not None:
            state = self._person_state(other)
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
        assert old is not None
        if not allow_duplicate:
            self._require_new_name(
                name,
                person_id,
                f"if they are the same person, run 'photoclust merge {person_id} --into {{pid}}'"
                " (or name it with --allow-duplicate: two people of that name)",
            )
        cs = ChangeSet()
        self._set_person(cs, person_id, (name, old[1], old[2], old[3]))
        self._commit("name", f"named person {person_id} '{name}'" + (f" (was '{old[0]}')" if old[0] else ""), cs)

    def merge(self, sources: Sequence[int], into: int) -> None:
        """Merge people into ``into``: all their faces move there and are confirmed (merges stick)."""
        target = self._require_person(into)
        assert target is not None
        srcs = [s for s in dict.fromkeys(sources) if s != into]
        if not srcs:
            raise ConstraintError("merge needs at least one other person than the target")
        cs = ChangeSet()
        names = [target[0]]
        for s in srcs:
            st = self._require_person(s)
            assert st is not None
            names.append(st[0])
        moving = [f for s in srcs for f in self._face_ids_of(s)]
        # the target's own faces are confirmed too: the user judged both groups as one person
        self._set_faces(cs, {f: (into, 1, 0) for f in self._face_ids_of(into)})
        self._move_into(cs, moving, into)
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
            self._set_person(cs, into, (final, target[1], target[2], target[3]))
        # the names of the others live on as aliases: search and 'person NAME' still find them
        keep = {a.casefold() for a in self.aliases(into)} | {(final or "").casefold()}
        for n in named:
            if n.casefold() not in keep:
                keep.add(n.casefold())
                cs.aliases[(into, n)] = (False, True)
        labels = [self._label(s, st) for s, st in zip(srcs, names[1:], strict=True)]
        self._commit("merge", f"merged {', '.join(labels)} into {self._label(into, final)}", cs)

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
        pid = self._new_person(cs, name)
        self._move_into(cs, list(face_ids), pid)
        self._commit("split", f"split {_faces(len(face_ids))} into new person {self._label(pid, name)}", cs)
        return pid

    def move(self, face_ids: Sequence[int], person_id: int) -> None:
        target = self._require_person(person_id)
        assert target is not None
        cs = ChangeSet()
        self._move_into(cs, list(face_ids), person_id)
        self._commit("move", f"moved {_faces(len(face_ids))} to {self._label(person_id, target[0])}", cs)

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
            self._set_faces(cs, {fid: (None, 0, nf)})
        for pid in touched:
            self._drop_if_empty(cs, pid)
        self._commit("remove", f"removed {_faces(len(face_ids))} from their person", cs)

    def reject(self, face_ids: Sequence[int], person_id: int) -> None:
        """ "These faces are not this person" for faces that are not in the person (e.g. a suggestion the
        user declined): the rejection is recorded, so neither clustering nor suggestions offer it again."""
        who = self._require_person(person_id)
        assert who is not None
        cs = ChangeSet()
        states = self._face_states(face_ids)
        for fid, (pid, _c, nf) in states.items():
            self._reject(cs, fid, person_id)
            if pid == person_id:
                self._set_faces(cs, {fid: (None, 0, nf)})
        self._drop_if_empty(cs, person_id)
        self._commit("reject", f"{_faces(len(face_ids))} not {self._label(person_id, who[0])}", cs)

    def different_pairs(self) -> set[tuple[int, int]]:
        """Pairs of people (smaller id first) the user said are not the same person."""
        return {(int(a), int(b)) for a, b in self.db.execute("SELECT person_a, person_b FROM different_people")}

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
        self._commit("different", f"persons {a} and {b} are different people", cs)

    def unknown_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM live_faces WHERE person_id IS NULL").fetchone()[0])

    def confirm(self, face_ids: Sequence[int]) -> None:
        cs = ChangeSet()
        states = self._face_states(face_ids)
        self._set_faces(cs, {fid: (pid, 1, nf) for fid, (pid, _c, nf) in states.items() if pid is not None})
        self._commit("confirm", f"confirmed {_faces(len(face_ids))}", cs)

    def set_hidden(self, person_id: int, hidden: bool = True) -> None:
        old = self._require_person(person_id)
        assert old is not None
        cs = ChangeSet()
        self._set_person(cs, person_id, (old[0], int(hidden), old[2], old[3]))
        self._commit(
            "hide" if hidden else "unhide", f"{'hid' if hidden else 'unhid'} {self._label(person_id, old[0])}", cs
        )

    def not_a_face(self, face_ids: Sequence[int]) -> None:
        cs = ChangeSet()
        states = self._face_states(face_ids)
        touched = {pid for pid, _c, _n in states.values() if pid is not None}
        self._set_faces(cs, {fid: (None, 0, 1) for fid in states})
        for pid in touched:
            self._drop_if_empty(cs, pid)
        self._commit("not-a-face", f"marked {_plural(len(face_ids), 'detection')} as not a face", cs)

    def set_cover(self, person_id: int, face_id: int) -> None:
        old = self._require_person(person_id)
        assert old is not None
        if self._face_states([face_id])[face_id][0] != person_id:
            raise ConstraintError(f"face {face_id} is not a face of person {person_id}")
        cs = ChangeSet()
        self._set_person(cs, person_id, (old[0], old[1], face_id, old[3]))
        self._commit("cover", f"set the cover face of {self._label(person_id, old[0])}", cs)

    # -- clustering ---------------------------------------------------------------------------
    def eligible(self) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Live, not-rejected faces: ids, embedding matrix and per-face info for clustering."""
        rows = self.db.execute(
            "SELECT f.id, f.photo_id, f.person_id, f.confirmed, f.flags, f.embedding, p.indexed_at"
            " FROM live_faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.id"
        ).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        X = blobs_to_matrix(r[5] for r in rows) if rows else np.zeros((0, 512), dtype=np.float32)
        info = [
            {"photo": r[1], "person": r[2], "confirmed": bool(r[3]), "flags": r[4], "indexed_at": r[6]} for r in rows
        ]
        return ids, X, info

    def last_cluster_time(self) -> float | None:
        """When the latest clustering run still in effect (not undone) happened, or None."""
        row = self.db.execute(
            "SELECT max(at) FROM ops WHERE kind IN ('cluster', 'cluster-full') AND undone = 0"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def rejections(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = defaultdict(set)
        for fid, pid in self.db.execute("SELECT face_id, person_id FROM rejections"):
            out[int(fid)].add(int(pid))
        return out

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
        photo = self._photo_of(list(states))
        want: dict[int, int | None] = dict(assignment)
        for group, pid in zip(new_groups, self._new_people(cs, [None] * len(new_groups)), strict=True):
            for f in group:
                want[f] = pid
        # a person keeps confirmed faces; compute final membership to check same-photo conflicts
        final_photos: dict[int, set[int]] = defaultdict(set)
        for pid, ph in self.db.execute("SELECT person_id, photo_id FROM faces WHERE confirmed = 1"):
            if pid is not None:
                final_photos[int(pid)].add(int(ph))
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
                updates[fid] = (target, 0, 0)
        self._set_faces(cs, updates)
        for pid in {s[0] for s in states.values() if s[0] is not None}:
            self._drop_if_empty(cs, pid)
        # new people that lost all their faces to the checks are not created
        receiving = {a[0] for _b, a in cs.faces.values()}
        for pid, (before, after) in list(cs.people.items()):
            if before is None and after is not None and pid not in receiving:
                del cs.people[pid]
        self._commit(kind, f"{kind}: {len(updates)} faces changed person", cs)
        return len(updates)


# Faces with these flags do not *form* people (their embeddings are unreliable), but they may join a
# person they are clearly close to.
WEAK_FLAGS = frozenset({"low_probability", "small", "blurry"})


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
    params: Any = None,
    assign_params: Any = None,
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

    t0 = time.monotonic()
    params = params or ClusterParams()
    assign_params = assign_params or AssignParams()
    ids, X, info = people.eligible()
    X = centre(X, library_mean(X))
    n = len(ids)
    rejected = people.rejections()
    photo = np.array([i["photo"] for i in info], dtype=np.int64)
    person = np.array([i["person"] if i["person"] is not None else -1 for i in info], dtype=np.int64)
    confirmed = np.array([i["confirmed"] for i in info], dtype=bool)
    weak = np.array([bool(WEAK_FLAGS.intersection((i["flags"] or "").split(","))) for i in info], dtype=bool)
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
        cannot = np.vstack([same_photo_pairs(photo[rows]), _declined_pairs(people, person[rows])])
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

    new_base = int(max(person.max(initial=0), people.db.execute("SELECT max(id) FROM people").fetchone()[0] or 0)) + 1
    assign_unknown()
    if not full:
        # cluster the faces still unknown (and strong enough) among themselves into new people
        rest = np.flatnonzero((target == -1) & ~weak & ~confirmed)
        since = people.last_cluster_time()
        if rest.size > LOCAL_CLUSTER_MIN and since is not None:
            # A large unknown pile was already clustered last time: only faces indexed since then, and
            # the unknown faces near them, can form a new person now. Cluster just that neighbourhood.
            fresh = np.array([(info[r]["indexed_at"] or 0.0) > since for r in rest], dtype=bool)
            rest = rest[_near(X, rest, rest[fresh], LOCAL_CLUSTER_DISTANCE)] if fresh.any() else rest[:0]
        if rest.size >= params.min_cluster_size:
            labels = cluster_faces(X[rest], params, cannot_link=same_photo_pairs(photo[rest]))
            groups = [rest[labels == lab] for lab in sorted(set(labels.tolist()) - {-1})]
            for members, pid in zip(
                groups, _join_people(X, groups, target, photo, ids, rejected, assign_params), strict=True
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
            _merge_close_people(people, X, ids, photo, target, confirmed, new_groups, rejected, assign_params, moved)
    in_new = {f for g in new_groups for f in g}
    assignment = {
        int(ids[r]): (int(target[r]) if target[r] >= 0 else None)
        for r in range(n)
        if int(ids[r]) not in in_new and (target[r] != person[r])
    }
    changed = people.apply_assignment(assignment, new_groups, "cluster-full" if full else "cluster")
    # the people all() lists, counted without building them: named, or with a face on screen
    n_people = int(
        people.db.execute(
            "SELECT count(*) FROM people p WHERE p.name IS NOT NULL"
            " OR EXISTS (SELECT 1 FROM live_faces f WHERE f.person_id = p.id)"
        ).fetchone()[0]
    )
    assigned = int(people.db.execute("SELECT count(*) FROM live_faces WHERE person_id IS NOT NULL").fetchone()[0])
    return ClusterReport(
        people=n_people,
        new_people=len(new_groups),
        assigned=assigned,
        unknown=n - assigned,
        skipped=int((weak & (target == -1) & (person < 0)).sum()),
        changed=changed,
        seconds=time.monotonic() - t0,
    )


# Incremental runs merge people that grew close only when one of them has at most this many faces.
AUTO_MERGE_MAX = 10


def _merge_close_people(
    people: People,
    X: np.ndarray,
    ids: np.ndarray,
    photo: np.ndarray,
    target: np.ndarray,
    confirmed: np.ndarray,
    new_groups: list[list[int]],
    rejected: dict[int, set[int]],
    assign_params: Any,
    changed: np.ndarray,
) -> None:
    """Merge people (existing ones and the new groups of this run) whose average linkage is now within the
    clustering threshold, as one clustering run over all the faces would have: incremental runs then end
    where a single run would. Only a person nobody decided about is absorbed (no name, no confirmed face,
    not hidden); two such decided people never merge, nor a declined pair, nor people sharing a photo,
    nor a person into one that a face of it was removed from. Updates ``target`` and ``new_groups``."""
    from photoclust.cluster import close_pairs, group_sums

    pos_of = {int(f): r for r, f in enumerate(ids.tolist())}
    base = int(target.max(initial=0)) + 1
    ent = target.copy()
    for g, members in enumerate(new_groups):
        ent[[pos_of[f] for f in members]] = base + g
    declined = people.different_pairs()
    decided = {p.id for p in people.all(include_hidden=True) if p.name or p.hidden}
    decided |= {int(t) for t in target[confirmed & (target >= 0)].tolist()}
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


def _declined_pairs(people: People, person: np.ndarray, most: int = 64) -> np.ndarray:
    """Cannot-link rows between the faces (up to ``most`` of each) of every pair of people the user said
    are different, so that re-clustering from scratch keeps them apart."""
    out = [np.zeros((0, 2), dtype=np.int64)]
    for a, b in people.different_pairs():
        ra, rb = np.flatnonzero(person == a)[:most], np.flatnonzero(person == b)[:most]
        if ra.size and rb.size:
            out.append(np.column_stack([np.repeat(ra, rb.size), np.tile(rb, ra.size)]))
    return np.vstack(out)


def _join_people(
    X: np.ndarray,
    groups: list[np.ndarray],
    target: np.ndarray,
    photo: np.ndarray,
    ids: np.ndarray,
    rejected: dict[int, set[int]],
    assign_params: Any,
) -> list[int]:
    """For each new group of unknown faces (rows), the existing person it is by average linkage, or -1.

    Never a person the user removed one of the group's faces from, nor one already in the group's photos.
    """
    from photoclust.cluster import group_sums, link_to_people

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


# Incremental clustering of a large unknown pile looks only at faces new since the last run and the
# unknown faces within this cosine distance of them (they are all a new person could be made of).
LOCAL_CLUSTER_MIN = 5000
LOCAL_CLUSTER_DISTANCE = 0.7


def _near(X: np.ndarray, rows: np.ndarray, fresh: np.ndarray, distance: float) -> np.ndarray:
    """Mask over ``rows``: within ``distance`` (cosine) of at least one of the ``fresh`` rows."""
    out = np.zeros(rows.size, dtype=bool)
    F = X[fresh]
    for start in range(0, rows.size, 4096):
        block = X[rows[start : start + 4096]] @ F.T
        out[start : start + 4096] = block.max(axis=1) >= 1.0 - distance
    return out


# Unknown faces are grouped for the Unknown view by average linkage looser than clustering (a group is
# a question for the user, not a person); an unknown face's suggested person ("Are these Alice?") may be
# up to SUGGEST_SLACK beyond the distance at which clustering decides by itself (benchmarks/eval_effort.py:
# 0.12 saves the most answers on the family sets; 0.06 and 0.03 save less there, and more on lfw).
GROUP_SLACK = 0.08
SUGGEST_SLACK = 0.12


def _centred(people: People, rows: Sequence[Any], col: int, mean: np.ndarray | None = None) -> np.ndarray:
    """The embeddings in column ``col`` of ``rows``, centred on the library's mean face (as clustering);
    ``mean``: that mean when the caller has it already (reading it means reading every embedding)."""
    from photoclust.cluster import centre, library_mean

    if mean is None:
        every = people.db.execute("SELECT embedding FROM live_faces").fetchall()
        mean = library_mean(blobs_to_matrix(r[0] for r in every)) if every else np.zeros(512, np.float32)
    return centre(blobs_to_matrix(r[col] for r in rows), mean)


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
        library_mean,
        link_to_people,
        same_photo_pairs,
    )

    rows = people.db.execute(
        "SELECT id, photo_id, embedding FROM live_faces WHERE person_id IS NULL ORDER BY id"
    ).fetchall()
    if not rows:
        return []
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    photo = np.array([r[1] for r in rows], dtype=np.int64)
    every = people.db.execute("SELECT embedding FROM live_faces").fetchall()
    mean = library_mean(blobs_to_matrix(r[0] for r in every))
    X = _centred(people, rows, 2, mean)
    by_id = {p.id: p for p in people.all(include_hidden=False)}
    suggested = np.full(ids.size, -1, dtype=np.int64)
    prow = people.db.execute(
        "SELECT person_id, photo_id, embedding FROM live_faces WHERE person_id IS NOT NULL ORDER BY person_id, id"
    ).fetchall()
    if prow:
        keys, inv, P, p_size = group_sums(
            _centred(people, prow, 2, mean), np.array([r[0] for r in prow], dtype=np.int64)
        )
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

    rows = people.db.execute(
        "SELECT person_id, photo_id, embedding FROM live_faces WHERE person_id IS NOT NULL ORDER BY person_id, id"
    ).fetchall()
    if not rows:
        return []
    by_id = {p.id: p for p in people.all(include_hidden=False)}
    pid = np.array([r[0] for r in rows], dtype=np.int64)
    keys, inv, P, size = group_sums(_centred(people, rows, 2), pid)
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


def _face(r: Sequence[Any]) -> Face:
    flags = tuple(x for x in (r[10] or "").split(",") if x)
    return Face(
        id=int(r[0]),
        photo_id=int(r[1]),
        path=r[2] or "",
        box=(float(r[3]), float(r[4]), float(r[5]), float(r[6])),
        probability=float(r[7]),
        person_id=r[8],
        confirmed=bool(r[9]),
        flags=flags,
        taken_at=r[11],
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _faces(n: int) -> str:
    return _plural(n, "face")


def _chunks(items: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
