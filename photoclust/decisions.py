"""Many naming decisions as one undoable operation (XMP import, enrol).

:class:`NamingBatch` gathers "face F is NAME" (confirmed: the user's word, e.g. a digiKam tag) and
"face F is probably person P" (unconfirmed: a suggestion, e.g. an enrol match) into a single change set
of :class:`photoclust.people.People`, committed once: one entry in ``photoclust history``, one ``undo``.
The user's decisions hold here as everywhere (see :mod:`photoclust.people`): a face confirmed for
somebody else, a "not this person" rejection or a second face of the same photo is skipped and
reported, never forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from photoclust.errors import ConstraintError
from photoclust.people import ChangeSet, HistoryEntry, People
from photoclust.store.people import FaceState


@dataclass
class BatchReport:
    confirmed: int = 0  # faces newly confirmed for the named person (moved or confirmed in place)
    unchanged: int = 0  # already confirmed for that person
    suggested: int = 0  # unconfirmed assignments
    created: list[str] = field(default_factory=list)  # names of the people created
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (face id, why it was skipped)


class NamingBatch:
    def __init__(self, people: People) -> None:
        self.people = people
        self.cs = ChangeSet()
        self.report = BatchReport()
        self._by_name: dict[str, int] = {}
        self._photo_taken: dict[int, dict[int, int]] = {}  # person -> photo -> face, as the batch stands

    # -- people ------------------------------------------------------------------------------
    def person_for(self, name: str) -> int:
        """The person called ``name`` (case-insensitive; the one with most faces if several), or a new one."""
        name = " ".join(name.split())
        key = name.casefold()
        if key in self._by_name:
            return self._by_name[key]
        existing = self.people.find_by_name(name)
        if existing:
            pid = existing[0].id
        else:
            pid = self.people.new_person(self.cs, name)
            self.report.created.append(name)
        self._by_name[key] = pid
        return pid

    def _photos_of(self, pid: int) -> dict[int, int]:
        """photo id -> face id of the person's faces, including this batch's changes."""
        if pid not in self._photo_taken:
            self._photo_taken[pid] = self.people.tables.photos_with_face_of(pid)
        return self._photo_taken[pid]

    def _state(self, fid: int) -> tuple[int | None, int, int, int]:
        """(person, confirmed, not_face, photo) of a face as the batch stands."""
        pid, conf, nf = self.people.face_now(self.cs, fid)
        photo = self.people.photo_of([fid])[fid]
        return pid, conf, nf, photo

    def _rejected(self, fid: int, pid: int) -> bool:
        return self.people.tables.rejected(fid, pid)

    # -- decisions ---------------------------------------------------------------------------
    def confirm(self, face_id: int, pid: int) -> bool:
        """Face ``face_id`` is person ``pid`` (confirmed). Returns False (and records why) when skipped."""
        cur, conf, nf, photo = self._state(face_id)
        if nf:
            self.report.conflicts.append((face_id, "marked as not a face"))
            return False
        if cur == pid and conf:
            self.report.unchanged += 1
            return True
        if cur is not None and cur != pid and conf:
            self.report.conflicts.append((face_id, f"confirmed as person {cur}"))
            return False
        taken = self._photos_of(pid)
        other = taken.get(photo)
        if other is not None and other != face_id:
            o_pid, o_conf, _nf, _ph = self._state(other)
            if o_pid == pid and o_conf:
                self.report.conflicts.append((face_id, f"person {pid} is already face {other} of this photo"))
                return False
        # the user's word now overrides an old "not this person" (as People.move does)
        try:
            self.people.move_into(self.cs, [face_id], pid)
        except ConstraintError as exc:
            self.report.conflicts.append((face_id, str(exc)))
            return False
        taken[photo] = face_id
        if cur is not None and cur != pid and cur in self._photo_taken:
            self._photo_taken[cur].pop(photo, None)
        self.report.confirmed += 1
        return True

    def suggest(self, face_id: int, pid: int) -> bool:
        """Face ``face_id`` probably is person ``pid`` (unconfirmed); skipped where a decision says otherwise."""
        cur, conf, nf, photo = self._state(face_id)
        if nf or conf or cur == pid or self._rejected(face_id, pid):
            return False
        taken = self._photos_of(pid)
        if photo in taken:
            return False
        self.people.set_faces(self.cs, {face_id: FaceState(pid, 0, 0)})
        taken[photo] = face_id
        if cur is not None:
            self.people.drop_if_empty(self.cs, cur)
            if cur in self._photo_taken:
                self._photo_taken[cur].pop(photo, None)
        self.report.suggested += 1
        return True

    def commit(self, kind: str, description: str) -> HistoryEntry | None:
        """Apply everything as one logged operation; None when nothing changed.

        People this batch created but gave no face (every decision for them was skipped) are not created.
        """
        for pid, (before, after) in list(self.cs.people.items()):
            if before is None and after is not None and not any(a[0] == pid for _b, a in self.cs.faces.values()):
                del self.cs.people[pid]
                if after[0] in self.report.created:
                    self.report.created.remove(after[0])
        return self.people.commit(kind, description, self.cs)
