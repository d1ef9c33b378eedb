"""Photo and file queries: paths, sizes, which photo a path is, photos that show given people.

:class:`PhotoTables` is reached as ``store.photos``. A photo's path is defined once, in
:mod:`photoclust.store.paths`.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import sqlite_utils

from photoclust.store.paths import known_path_sql, present_path_sql
from photoclust.store.people import chunks
from photoclust.types import SearchHit

SearchMode = Literal["all", "any", "only"]


class PhotoTables:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def known_path(self, photo_id: int) -> str | None:
        """The photo's path (present, else missing); None when there is no such photo."""
        row = self.db.execute(f"SELECT {known_path_sql('?')}", [photo_id]).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def present_path(self, photo_id: int) -> str | None:
        row = self.db.execute(f"SELECT {present_path_sql('?')}", [photo_id]).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def present_paths(self, photo_ids: Sequence[int]) -> dict[int, str]:
        """photo id -> its present path, for those that have one."""
        out: dict[int, str] = {}
        for chunk in chunks(photo_ids):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT id, {present_path_sql('photos.id')} FROM photos WHERE id IN ({marks})", chunk
            )
            out.update({int(i): str(p) for i, p in rows if p is not None})
        return out

    def all_present_files(self, photo_ids: Sequence[int]) -> dict[int, list[str]]:
        """photo id -> every present file of it, by path (a photo copied to two places has two)."""
        out: dict[int, list[str]] = defaultdict(list)
        for chunk in chunks(photo_ids):
            marks = ",".join("?" * len(chunk))
            for pid, path in self.db.execute(
                f"SELECT photo_id, path FROM files WHERE status = 'present' AND photo_id IN ({marks}) ORDER BY path",
                chunk,
            ):
                out[int(pid)].append(str(path))
        return out

    def sizes(self, photo_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """photo id -> (width, height) as stored (before EXIF orientation)."""
        out: dict[int, tuple[int, int]] = {}
        for chunk in chunks(photo_ids):
            marks = ",".join("?" * len(chunk))
            for pid, w, h in self.db.execute(f"SELECT id, width, height FROM photos WHERE id IN ({marks})", chunk):
                out[int(pid)] = (int(w), int(h))
        return out

    def all_paths(self) -> set[str]:
        """Every path the library has seen (present or missing)."""
        return {str(r[0]) for r in self.db.execute("SELECT path FROM files")}

    def photo_of_path(self, path: str) -> int | None:
        row = self.db.execute("SELECT photo_id FROM files WHERE path = ?", [path]).fetchone()
        return None if row is None else int(row[0])

    def paths_starting(self, stem: str) -> list[str]:
        """Paths of the form ``stem.<anything>`` (``%`` and ``_`` in ``stem`` match themselves)."""
        like = stem.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"
        return [str(r[0]) for r in self.db.execute("SELECT path FROM files WHERE path LIKE ? ESCAPE '\\'", [like])]

    def error_reason(self, path: str) -> str | None:
        row = self.db.execute("SELECT reason FROM errors WHERE path = ?", [path]).fetchone()
        return None if row is None else str(row[0])

    def with_people(self, groups: Sequence[Sequence[int]], mode: SearchMode) -> list[SearchHit]:
        """(photo id, present path) of the photos showing the people of ``groups`` (the person ids of each
        name asked for): all groups, any, or only them (no other person, no unknown face of good
        quality); by date taken, then path. For a video, the time of the earliest best frame of those people."""
        values = ", ".join("(?, ?)" for g in groups for _ in g)
        params: list[object] = [v for gi, g in enumerate(groups) for pid in g for v in (pid, gi)]
        if mode == "any" or len(groups) == 1:
            candidates = (
                "SELECT DISTINCT f.photo_id FROM wanted w JOIN faces f ON f.person_id = w.pid WHERE f.not_face = 0"
            )
        else:  # every group has a face in the photo
            candidates = (
                "SELECT f.photo_id FROM wanted w JOIN faces f ON f.person_id = w.pid WHERE f.not_face = 0"
                f" GROUP BY f.photo_id HAVING count(DISTINCT w.g) = {len(groups)}"
            )
        others = ""
        if mode == "only":
            others = (
                " AND NOT EXISTS (SELECT 1 FROM faces o WHERE o.photo_id = c.photo_id AND o.not_face = 0"
                " AND (o.person_id IS NULL AND o.flags = ''"
                " OR o.person_id IS NOT NULL AND o.person_id NOT IN (SELECT pid FROM wanted)))"
            )
        sql = f"""
            WITH wanted(pid, g) AS (VALUES {values}),
            candidates(photo_id) AS ({candidates}),
            located AS (
                SELECT c.photo_id, {present_path_sql("c.photo_id")} AS path
                FROM candidates c WHERE 1{others}
            )
            SELECT l.photo_id, l.path,
                   (SELECT min(v.best) FROM faces f JOIN video_faces v ON v.face_id = f.id
                    WHERE f.photo_id = l.photo_id AND f.not_face = 0 AND f.person_id IN (SELECT pid FROM wanted))
            FROM located l JOIN photos ph ON ph.id = l.photo_id
            WHERE l.path IS NOT NULL
            ORDER BY ph.taken_at IS NULL, ph.taken_at, l.path
        """
        return [
            SearchHit(int(pid), str(path), None if t is None else float(t))
            for pid, path, t in self.db.execute(sql, params).fetchall()
        ]


class HashLookup:
    """ "Is this content already in the library?" for scan workers: their own read-only connection, opened
    on first use (a worker process cannot share the parent's)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def __call__(self, sha256: str) -> bool:
        if self.path is None:
            return False
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return self._conn.execute("SELECT 1 FROM photos WHERE sha256 = ?", [sha256]).fetchone() is not None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
