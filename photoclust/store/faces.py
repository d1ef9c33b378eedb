"""Face queries for export, XMP and recognition (verify / identify / enrol).

:class:`FaceTables` is reached as ``store.faces``. The people layer's own face queries are in
:mod:`photoclust.store.people`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlite_utils

from photoclust.store.paths import present_path_sql
from photoclust.types import Box

Row = tuple[Any, ...]


def _box(r: Sequence[Any]) -> Box:
    return (float(r[0]), float(r[1]), float(r[2]), float(r[3]))


class FaceTables:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def export_rows(self) -> list[tuple[str | None, Box, int | None, str | None, bool, float | None]]:
        """(present path, box, person id, name, confirmed, video time) of every live face, by path then left
        to right; the time is that of a video face's best frame (None for photos)."""
        rows = self.db.execute(
            f"SELECT {present_path_sql('f.photo_id')} AS path, f.x1, f.y1, f.x2, f.y2, f.person_id, p.name,"
            " f.confirmed, v.best FROM live_faces f LEFT JOIN people p ON p.id = f.person_id"
            " LEFT JOIN video_faces v ON v.face_id = f.id ORDER BY path, f.x1"
        ).fetchall()
        return [(r[0], _box(r[1:5]), r[5], r[6], bool(r[7]), r[8]) for r in rows]

    def named_boxes(self, confirmed_only: bool) -> list[tuple[int, Box, str]]:
        """(photo id, box, name) of the live faces of named people in photos (not videos: XMP face regions
        are for still images), by photo then left to right."""
        cond = " AND f.confirmed = 1" if confirmed_only else ""
        rows = self.db.execute(
            "SELECT f.photo_id, f.x1, f.y1, f.x2, f.y2, p.name FROM live_faces f JOIN people p ON p.id = f.person_id"
            f" WHERE p.name IS NOT NULL{cond} AND f.photo_id NOT IN (SELECT photo_id FROM videos)"
            " ORDER BY f.photo_id, f.x1"
        ).fetchall()
        return [(int(r[0]), _box(r[1:5]), str(r[5])) for r in rows]

    def boxes_of_photo(self, photo_id: int) -> dict[int, Box]:
        """face id -> box of the photo's faces (not marked "not a face")."""
        rows = self.db.execute(
            "SELECT id, x1, y1, x2, y2 FROM faces WHERE photo_id = ? AND not_face = 0", [photo_id]
        ).fetchall()
        return {int(r[0]): _box(r[1:5]) for r in rows}

    def of_content(self, sha256: str) -> list[tuple[int, Box, bytes, str]]:
        """(face id, box, embedding, model version) of the faces (not "not a face") of a photo content."""
        rows = self.db.execute(
            "SELECT f.id, f.x1, f.y1, f.x2, f.y2, f.embedding, f.model_version FROM faces f"
            " JOIN photos ph ON ph.id = f.photo_id WHERE ph.sha256 = ? AND f.not_face = 0",
            [sha256],
        ).fetchall()
        return [(int(r[0]), _box(r[1:5]), r[5], str(r[6])) for r in rows]

    def named_people_faces(self, model_version: str) -> list[tuple[int, int, bool, bytes]]:
        """(face id, person id, confirmed, embedding) of the live faces of named, shown people."""
        rows = self.db.execute(
            "SELECT f.id, f.person_id, f.confirmed, f.embedding FROM live_faces f JOIN people p ON p.id = f.person_id"
            " WHERE p.name IS NOT NULL AND p.hidden = 0 AND f.model_version = ? ORDER BY f.person_id, f.id",
            [model_version],
        ).fetchall()
        return [(int(r[0]), int(r[1]), bool(r[2]), r[3]) for r in rows]

    def unnamed_candidates(self, model_version: str, person_id: int | None) -> list[tuple[int, int, int | None, bytes]]:
        """(face id, photo id, person id, embedding) of the live faces nobody has named: unknown or in an
        unnamed person, not confirmed, not flagged, not rejected for ``person_id``."""
        rows = self.db.execute(
            "SELECT f.id, f.photo_id, f.person_id, f.embedding FROM live_faces f LEFT JOIN people p ON p.id = f.person_id"
            " WHERE f.confirmed = 0 AND f.flags = '' AND f.model_version = ? AND (f.person_id IS NULL OR p.name IS NULL)"
            " AND NOT EXISTS (SELECT 1 FROM rejections r WHERE r.face_id = f.id AND r.person_id = ?)",
            [model_version, person_id if person_id is not None else -1],
        ).fetchall()
        return [(int(r[0]), int(r[1]), r[2], r[3]) for r in rows]

    def confirmed_embeddings(self, person_id: int) -> list[tuple[int, bytes]]:
        """(face id, embedding) of the person's confirmed faces (not "not a face")."""
        rows = self.db.execute(
            "SELECT id, embedding FROM faces WHERE person_id = ? AND confirmed = 1 AND not_face = 0", [person_id]
        ).fetchall()
        return [(int(f), e) for f, e in rows]
