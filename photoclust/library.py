"""The facade every front end uses (CLI, TUI, scripts): one object per photo library database.

Front ends hold no business logic: they parse input, call one method here and show the result.
Stages (crawl, detect, embed, store, cluster) are wired together here and in ``scan``/``people``.
Nothing here imports torch at import time.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from photoclust.config import ScanSettings, default_db_path
from photoclust.errors import NotFound, ReadOnlyLibrary
from photoclust.people import (
    ClusterReport,
    HistoryEntry,
    MergeSuggestion,
    People,
    merge_suggestions,
    recluster,
    unknown_groups,
)
from photoclust.progress import Progress
from photoclust.store import LibraryStatus, Store, backup_database
from photoclust.types import Face, Person, ScanReport, SearchHit

if TYPE_CHECKING:
    from photoclust.interop import XmpExportReport, XmpImportReport
    from photoclust.learn.head import TrainingSet
    from photoclust.people.learning import LearnReport
    from photoclust.recognize import EnrolResult, Identification, Recognizer, Verification
    from photoclust.store.check import CheckReport


def check(db_path: str | os.PathLike[str] | None = None) -> CheckReport:
    """Is the library database intact (SQLite integrity and foreign keys)? Opens it read-only, writes nothing."""
    from photoclust.store.check import check_database

    return check_database(Path(db_path) if db_path else default_db_path())


F = TypeVar("F", bound=Callable[..., Any])


def _writes(fn: F) -> F:
    """An edit: on a read-only library it fails with one line (:class:`ReadOnlyLibrary`) and changes nothing.

    A library opened read-only is refused before any work; SQLite's own "attempt to write a readonly
    database" (a library that became read-only while open) is translated the same way.
    """

    @functools.wraps(fn)
    def wrapper(self: Library, *args: Any, **kwargs: Any) -> Any:
        if self.readonly:
            raise self._read_only()
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_READONLY:
                raise self._read_only() from exc
            raise

    return wrapper  # type: ignore[return-value]


class Library:
    """A photo library: ``Library(db_path)``; use as a context manager or call :meth:`close`."""

    def __init__(
        self, db_path: str | os.PathLike[str] | None = None, create: bool = True, readonly: bool = False
    ) -> None:
        self.db_path = Path(db_path) if db_path else default_db_path()
        self.store = Store.open(self.db_path, create=create, readonly=readonly)
        self._people: People | None = None

    @property
    def readonly(self) -> bool:
        """Opened read-only (``readonly``, or no write permission on the file or its folder): every edit
        raises :class:`ReadOnlyLibrary`; reading works."""
        return self.store.readonly

    def _read_only(self) -> ReadOnlyLibrary:
        return ReadOnlyLibrary(
            f"the library {self.db_path} is read-only (no permission to write the file or its folder):"
            " browsing and searching work, changes cannot be saved"
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing ----------------------------------------------------------------------------
    @_writes
    def scan(
        self,
        paths: Iterable[str | os.PathLike[str]],
        settings: ScanSettings | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ScanReport:
        from photoclust.scan import scan

        return scan(self.store, paths, settings=settings, progress=progress, should_stop=should_stop)

    def backup(self, dest: str | os.PathLike[str]) -> None:
        """A consistent copy of the library database (safe during a scan or edits)."""
        backup_database(self.db_path, dest)

    def gc(self, dry_run: bool = False) -> dict[str, int]:
        """Forget photos whose files are all gone, with their faces and the decisions about them."""
        if dry_run:
            return self.store.gc(dry_run=True)
        return self._gc()

    @_writes
    def _gc(self) -> dict[str, int]:
        return self.store.gc()

    def status(self) -> LibraryStatus:
        return self.store.status()

    def errors(self) -> list[tuple[str, str]]:
        return self.store.errors()

    # -- people -------------------------------------------------------------------------------
    @property
    def people(self) -> People:
        if self._people is None:
            self._people = People(self.store)
        return self._people

    @_writes
    def cluster(self, full: bool = False) -> ClusterReport:
        """Group faces into people (incremental; ``full`` re-clusters all), honouring every decision."""
        return recluster(self.people, full=full)

    @_writes
    def learn(self) -> LearnReport:
        """Train a head on your decisions; it is used only if it passes the validation gate (one undo step)."""
        from photoclust.people import learning

        return learning.learn(self.people)

    @_writes
    def learn_if_due(self) -> LearnReport | None:
        """:meth:`learn` when enough faces were confirmed since the last try (after a clustering run)."""
        from photoclust.errors import ConstraintError
        from photoclust.people import learning

        if not learning.should_learn(self.people):
            return None
        try:
            return learning.learn(self.people)
        except ConstraintError:
            return None

    @_writes
    def learn_reset(self) -> bool:
        """Stop using the learned head (undoable); False when none was in use."""
        from photoclust.people import learning

        return learning.reset(self.people)

    def head_status(self) -> TrainingSet | None:
        """What the learned head in use learned from, or None when the base embeddings are used."""
        from photoclust.people import learning

        return learning.status(self.store)

    def unknown_groups(self, limit: int | None = None) -> list[tuple[list[Face], Person | None]]:
        """Unknown faces grouped by similarity, largest first, each with a suggested person or None."""
        return unknown_groups(self.people, limit)

    def merge_suggestions(self, limit: int | None = None) -> list[MergeSuggestion]:
        """Pairs of people that are probably one person ("same person?"), most likely first."""
        return merge_suggestions(self.people, limit)

    def declare_different(self, a: int, b: int) -> None:
        """Two people are not the same: never suggested again, never merged by clustering."""
        self.people.declare_different(a, b)

    def list_people(self, include_hidden: bool = False) -> list[Person]:
        return self.people.all(include_hidden=include_hidden)

    def person(self, person_id: int) -> Person:
        return self.people.get(person_id)

    def faces(self, person_id: int | None, limit: int | None = None) -> list[Face]:
        """Faces of a person, best first; ``None`` gives the unknown faces."""
        return self.people.faces(person_id, limit=limit)

    def aliases(self, person_id: int) -> list[str]:
        """A person's other names: those of named people merged into them (search finds them by these)."""
        return self.people.aliases(person_id)

    def face(self, face_id: int) -> Face:
        return self.people.face(face_id)

    def thumbnail(self, face_id: int) -> bytes | None:
        """The face's small JPEG, stored at scan time (no photo decoding)."""
        return self.people.thumbnail(face_id)

    def photo_faces(self, photo_id: int) -> list[tuple[Face, str | None]]:
        """Every live face of one photo with its person's name (or None)."""
        return [(self.people.face(fid), name) for fid, name in self.store.people.photo_faces(photo_id)]

    def faces_in_file(self, path: str | os.PathLike[str]) -> list[Face]:
        """Every live face of the photo or video at ``path`` (as indexed), left to right; [] when unknown."""
        photo_id = self.store.photos.photo_of_path(os.path.abspath(os.fspath(path)))
        return [] if photo_id is None else [face for face, _name in self.photo_faces(photo_id)]

    def photo_path(self, photo_id: int) -> str:
        path = self.store.photos.known_path(photo_id)
        if path is None:
            raise NotFound(f"no photo with id {photo_id}")
        return path

    @_writes
    def name(self, person_id: int, name: str, allow_duplicate: bool = False) -> None:
        """Name or rename a person; another person's name raises DuplicateName unless ``allow_duplicate``."""
        self.people.name(person_id, name, allow_duplicate=allow_duplicate)

    @_writes
    def merge(self, sources: Sequence[int], into: int) -> None:
        self.people.merge(sources, into)

    @_writes
    def split(self, face_ids: Sequence[int], name: str | None = None) -> int:
        return self.people.split(face_ids, name)

    @_writes
    def move(self, face_ids: Sequence[int], person_id: int) -> None:
        self.people.move(face_ids, person_id)

    @_writes
    def remove(self, face_ids: Sequence[int]) -> None:
        """ "Not this person": the faces become unknown and never return to that person."""
        self.people.remove(face_ids)

    @_writes
    def confirm(self, face_ids: Sequence[int]) -> None:
        self.people.confirm(face_ids)

    @_writes
    def reject(self, face_ids: Sequence[int], person_id: int) -> None:
        """ "Not this person" for faces suggested for (or assigned to) a person; never offered again."""
        self.people.reject(face_ids, person_id)

    def unknown_count(self) -> int:
        """How many faces belong to nobody yet."""
        return self.people.unknown_count()

    @_writes
    def hide(self, person_id: int, hidden: bool = True) -> None:
        self.people.set_hidden(person_id, hidden)

    @_writes
    def not_a_face(self, face_ids: Sequence[int]) -> None:
        self.people.not_a_face(face_ids)

    @_writes
    def set_cover(self, person_id: int, face_id: int) -> None:
        self.people.set_cover(person_id, face_id)

    @_writes
    def create_person(self, name: str | None, face_ids: Sequence[int]) -> int:
        return self.people.create_person(name, face_ids)

    @_writes
    def undo(self) -> HistoryEntry:
        return self.people.undo()

    @_writes
    def redo(self) -> HistoryEntry:
        return self.people.redo()

    def history(self, limit: int = 50) -> list[HistoryEntry]:
        return self.people.history(limit)

    # -- export -------------------------------------------------------------------------------
    def export_rows(self) -> list[dict[str, object]]:
        """One row per live face: absolute path, box, person id and name (None when unknown), confirmed."""
        return [
            {
                "path": path,
                "x1": round(box[0]),
                "y1": round(box[1]),
                "x2": round(box[2]),
                "y2": round(box[3]),
                "person_id": pid,
                "person_name": name,
                "confirmed": conf,
                "time": t,
            }
            for path, box, pid, name, conf, t in self.store.faces.export_rows()
        ]

    # -- search, XMP, verify / identify / enrol -------------------------------------------------
    def resolve_person(self, name_or_id: str) -> int:
        """A person given by id (digits) or name (case-insensitive).

        Raises NotFound with the closest existing names. When several people share the name, the one
        with the most faces is returned (``search`` uses all of them).
        """
        from photoclust import search

        ids = search.resolve(self.store.people, name_or_id)
        if len(ids) == 1:
            return ids[0]
        counts = self.store.people.face_counts(ids)
        return max(ids, key=lambda i: (counts.get(i, 0), -i))

    def search(self, names: list[str], mode: Literal["all", "any", "only"] = "all") -> list[SearchHit]:
        """(photo id, path of a present file, video time) of the photos and videos with all / any / only
        these people, oldest first.

        A name stands for every person of that name; unknown names raise NotFound with suggestions. See
        :mod:`photoclust.search` for how ``only`` treats unknown faces.
        """
        from photoclust import search

        groups = [search.resolve(self.store.people, n) for n in names]
        return search.photos(self.store.photos, groups, mode)

    def person_photos(self, person_id: int) -> list[SearchHit]:
        """Every photo and video of one person, oldest first (videos with the person's time)."""
        from photoclust import search

        self.people.get(person_id)
        return search.photos(self.store.photos, [[person_id]], "any")

    def export_xmp(
        self, style: Literal["digikam", "lightroom"] = "digikam", confirmed_only: bool = False
    ) -> XmpExportReport:
        """Write the named faces as MWG face regions into XMP sidecars (merged into existing ones)."""
        from photoclust.interop import export_xmp

        return export_xmp(self.store, style, confirmed_only=confirmed_only)

    @_writes
    def import_xmp(self, paths: Sequence[str | os.PathLike[str]]) -> XmpImportReport:
        """Names from the face regions of XMP sidecars / embedded XMP, as one undoable operation."""
        from photoclust.interop import import_xmp

        return import_xmp(self.store, self.people, paths)

    def _recognizer(self) -> Recognizer:
        rec = self.__dict__.get("_recognizer_instance")
        if rec is None:
            from photoclust.recognize import Recognizer

            rec = Recognizer(self.store)
            self.__dict__["_recognizer_instance"] = rec
        return rec

    def verify(self, photo_a: str | os.PathLike[str], photo_b: str | os.PathLike[str]) -> Verification:
        """Whether the largest faces of two photos are the same person (distance and threshold included)."""
        return self._recognizer().verify(photo_a, photo_b)

    def identify(self, photo: str | os.PathLike[str], top: int = 5) -> Identification:
        """The named people closest to the photo's largest face; ``.best`` is None for "unknown"."""
        return self._recognizer().identify(photo, top=top)

    @_writes
    def enrol(self, name: str, photos: Sequence[str | os.PathLike[str]], assign: bool = False) -> EnrolResult:
        """Create or extend the person ``name`` from the largest face of each photo; list (and with
        ``assign`` give the person, unconfirmed) the library faces that match."""
        from photoclust.recognize import enrol

        return enrol(self.store, self.people, name, photos, assign=assign, recognizer=self._recognizer())
