"""The TUI's side of the library: one lock around the database connection and an LRU of thumbnails.

Everything here runs in worker threads, never on Textual's event loop, and touches no widget.
Business logic stays in :class:`photoclust.library.Library`; the one fallback below (unknown faces
without grouping) only stands in for ``Library.unknown_groups`` until it exists.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from PIL import Image as PILImage

from photoclust.library import Library
from photoclust.people import MergeSuggestion
from photoclust.types import Face, Person, SearchHit

R = TypeVar("R")
SearchMode = Literal["all", "any", "only"]
UnknownGroup = tuple[list[Face], Person | None]


@dataclass(frozen=True)
class PhotoView:
    """What the photo screen shows: the file, and each live face with its person's name."""

    photo_id: int
    path: str
    taken_at: str | None
    faces: list[tuple[Face, str | None]]


class Backend:
    """Serialised access to one :class:`Library` from any thread, with a thumbnail cache.

    Thumbnails are read through a second connection to the same database (SQLite in WAL mode lets
    it read while the first one works), so pictures never wait behind a slow query or an edit.
    """

    def __init__(self, library: Library, thumbnails: int = 4096) -> None:
        self.library = library
        self.lock = threading.RLock()
        self._reader: Library | None = None
        self._reader_lock = threading.Lock()
        self._analysis: Library | None = None
        self._analysis_lock = threading.Lock()
        self._thumb_lock = threading.Lock()
        self._thumbs: OrderedDict[int, PILImage.Image | None] = OrderedDict()
        self._thumb_capacity = thumbnails

    # -- generic ------------------------------------------------------------------------------
    def call(self, fn: Callable[[Library], R]) -> R:
        """Run ``fn(library)`` while holding the database lock (reads and edits alike)."""
        with self.lock:
            return fn(self.library)

    def close(self) -> None:
        with self.lock:
            self.library.close()
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        with self._analysis_lock:
            if self._analysis is not None:
                self._analysis.close()
                self._analysis = None

    # -- thumbnails: decoded once, kept in memory (LRU) -------------------------------------
    def has_thumbnail(self, face_id: int) -> bool:
        with self._thumb_lock:
            return face_id in self._thumbs

    def cached_thumbnail(self, face_id: int) -> PILImage.Image | None:
        """The decoded thumbnail if it is in memory (None when not loaded yet or missing)."""
        with self._thumb_lock:
            img = self._thumbs.get(face_id)
            if img is not None:
                self._thumbs.move_to_end(face_id)
            return img

    def load_thumbnails(self, face_ids: Iterable[int]) -> None:
        """Read and decode the stored JPEG thumbnails not in memory yet."""
        todo = [i for i in dict.fromkeys(face_ids) if not self.has_thumbnail(i)]
        if not todo:
            return
        with self._reader_lock:
            blobs = [(i, self._open_reader().thumbnail(i)) for i in todo]
        for face_id, blob in blobs:
            img = _decode(blob)
            with self._thumb_lock:
                self._thumbs[face_id] = img
                self._thumbs.move_to_end(face_id)
                while len(self._thumbs) > self._thumb_capacity:
                    self._thumbs.popitem(last=False)

    def open_reader(self) -> None:
        """Open the thumbnail connection ahead of time (a worker does it while the people load)."""
        with self._reader_lock:
            self._open_reader()

    def _open_reader(self) -> Library:
        if self._reader is None:
            self._reader = Library(self.library.db_path, create=False, readonly=self.library.readonly)
        return self._reader

    # -- reads --------------------------------------------------------------------------------
    def people(self) -> list[Person]:
        """Every person, hidden ones included, in the library's order (named first, then by size)."""
        return self.call(lambda lib: lib.list_people(include_hidden=True))

    def unknown_summary(self) -> tuple[int, int | None]:
        """The number of unknown faces and the best one (for the card's picture)."""

        def run(lib: Library) -> tuple[int, int | None]:
            n = lib.unknown_count()
            best = lib.faces(None, limit=1) if n else []
            return n, best[0].id if best else None

        return self.call(run)

    def unknown_groups(self) -> list[UnknownGroup]:
        """Unknown faces grouped by similarity, each with a suggested person when one is close."""
        return self.call(lambda lib: [(list(faces), person) for faces, person in lib.unknown_groups()])

    def merge_suggestions(self) -> list[MergeSuggestion]:
        """Pairs of people that are probably one person ("same person?"), most likely first.

        Computed on a connection of its own: reading every embedding takes a while on a big library, and
        opening a person or drawing faces must not wait for it (SQLite in WAL mode reads concurrently).
        """
        with self._analysis_lock:
            if self._analysis is None:
                self._analysis = Library(self.library.db_path, create=False, readonly=self.library.readonly)
            return self._analysis.merge_suggestions()

    def pair_faces(self, a: int, b: int) -> tuple[list[Face], list[Face]]:
        """The faces of two people, best first (for the "same person?" screen)."""
        return self.call(lambda lib: (lib.faces(a), lib.faces(b)))

    def search(self, names: Sequence[str], mode: SearchMode) -> list[SearchHit]:
        """Photos with the named people: ``all`` of them, ``any`` of them, or ``only`` them (nobody else)."""
        wanted = [n.strip() for n in names if n.strip()]
        if not wanted:
            return []
        return self.call(lambda lib: lib.search(wanted, mode))

    def photo(self, photo_id: int) -> PhotoView:
        def run(lib: Library) -> PhotoView:
            faces = lib.photo_faces(photo_id)
            path = lib.photo_path(photo_id)
            taken = faces[0][0].taken_at if faces else None
            return PhotoView(photo_id, path, taken, faces)

        return self.call(run)


def _decode(blob: bytes | None) -> PILImage.Image | None:
    if not blob:
        return None
    try:
        with PILImage.open(io.BytesIO(blob)) as img:
            return img.convert("RGB")
    except (OSError, ValueError):  # a damaged thumbnail shows as an empty tile, never as a crash
        return None
