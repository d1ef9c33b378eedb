"""Change sets: the before and after value of every face, person, rejection, declined pair and alias one
operation touches. Applied and logged in one transaction (:meth:`People.commit`), inverted for undo."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from photoclust.store.heads import HeadTables
from photoclust.store.people import FaceState, PeopleTables, PersonState

MaybePerson = PersonState | None  # None: the person does not exist (before creation, after deletion)


@dataclass
class ChangeSet:
    faces: dict[int, tuple[FaceState, FaceState]] = field(default_factory=dict)
    people: dict[int, tuple[MaybePerson, MaybePerson]] = field(default_factory=dict)
    rejections: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)
    different: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)  # (a < b): declined
    aliases: dict[tuple[int, str], tuple[bool, bool]] = field(default_factory=dict)  # (person, other name)
    head: tuple[int | None, int | None] | None = None  # the learned head in use: (before, after)

    def empty(self) -> bool:
        return not (
            any(b != a for b, a in self.faces.values())
            or any(b != a for b, a in self.people.values())
            or any(b != a for b, a in self.rejections.values())
            or any(b != a for b, a in self.different.values())
            or any(b != a for b, a in self.aliases.values())
            or (self.head is not None and self.head[0] != self.head[1])
        )

    def dumps(self) -> bytes:
        data = {
            "faces": [[k, list(b), list(a)] for k, (b, a) in self.faces.items() if b != a],
            "people": [[k, b, a] for k, (b, a) in self.people.items() if b != a],
            "rejections": [[f, p, b, a] for (f, p), (b, a) in self.rejections.items() if b != a],
            "different": [[x, y, b, a] for (x, y), (b, a) in self.different.items() if b != a],
            "aliases": [[p, n, b, a] for (p, n), (b, a) in self.aliases.items() if b != a],
            "head": list(self.head) if self.head is not None else None,
        }
        return zlib.compress(json.dumps(data).encode())

    @classmethod
    def loads(cls, blob: bytes) -> ChangeSet:
        data = json.loads(zlib.decompress(blob))
        cs = cls()
        for k, b, a in data["faces"]:
            cs.faces[int(k)] = (_face_state_from_json(b), _face_state_from_json(a))
        for k, b, a in data["people"]:
            cs.people[int(k)] = (_person_state_from_json(b), _person_state_from_json(a))
        for f, p, b, a in data["rejections"]:
            cs.rejections[(int(f), int(p))] = (bool(b), bool(a))
        for x, y, b, a in data.get("different", []):  # absent in change sets written before 0006
            cs.different[(int(x), int(y))] = (bool(b), bool(a))
        for p, n, b, a in data.get("aliases", []):  # logs written before aliases have none
            cs.aliases[(int(p), str(n))] = (bool(b), bool(a))
        if data.get("head") is not None:  # only learning and resetting the head change it
            cs.head = (data["head"][0], data["head"][1])
        return cs

    def apply(self, tables: PeopleTables, heads: HeadTables, forward: bool) -> None:
        """Write the after (``forward``) or before values; the caller holds the transaction."""
        pick = 1 if forward else 0
        if self.head is not None:
            heads.set_active(self.head[pick])
        # people first (a face may point at a person created by this change set) ...
        for pid, pstates in self.people.items():
            state = pstates[pick]
            if state is not None:
                tables.put_person(pid, state)
        for fid, fstates in self.faces.items():
            tables.put_face(fid, fstates[pick])
        for (fid, rpid), rstates in self.rejections.items():
            tables.set_rejection(fid, rpid, rstates[pick])
        for (a, b), dstates in self.different.items():
            tables.set_different(a, b, dstates[pick])
        for (apid, alias), astates in self.aliases.items():
            tables.set_alias(apid, alias, astates[pick])
        # ... and people removed last, once no face points at them.
        for pid, pstates in self.people.items():
            if pstates[pick] is None:
                tables.delete_person(pid)


def _person_state_from_json(v: list[Any] | None) -> MaybePerson:
    return None if v is None else PersonState(v[0], int(v[1]), v[2], float(v[3]))


def _face_state_from_json(v: list[Any]) -> FaceState:
    return FaceState(v[0], int(v[1]), int(v[2]))
