"""Learned heads (:mod:`photoclust.learn`): every head trained is kept; one at most is in use.

Which head is in use is part of the people log: training and ``learn --reset`` are operations that undo
and redo like any edit (``heads.active``), so a head row is never deleted by them.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import sqlite_utils


class StoredHead(NamedTuple):
    id: int
    version: str
    model_version: str
    weights: bytes
    report: str
    created_at: float


class HeadTables:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, version: str, model_version: str, weights: bytes, report: str) -> int:
        """Store a trained head (not in use yet); returns its id."""
        cur = self.db.execute(
            "INSERT INTO heads (version, model_version, weights, report, created_at, active) VALUES (?, ?, ?, ?, ?, 0)",
            [version, model_version, weights, report, time.time()],
        )
        return int(cur.lastrowid or 0)

    def active_id(self) -> int | None:
        key = self.active_key()
        return None if key is None else key[0]

    def active_key(self) -> tuple[int, float] | None:
        """(id, created_at) of the head in use: what tells two heads apart, even across libraries."""
        row = self.db.execute("SELECT id, created_at FROM heads WHERE active = 1").fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def set_active(self, head_id: int | None) -> None:
        self.db.execute("UPDATE heads SET active = (id IS ?)", [head_id])

    def get(self, head_id: int) -> StoredHead | None:
        row = self.db.execute(
            "SELECT id, version, model_version, weights, report, created_at FROM heads WHERE id = ?", [head_id]
        ).fetchone()
        return None if row is None else StoredHead(int(row[0]), row[1], row[2], bytes(row[3]), row[4], float(row[5]))

    def confirmed_named_faces(self) -> int:
        """Confirmed live faces of named people: what a head learns from (to tell when to train again)."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM live_faces f JOIN people p ON p.id = f.person_id"
                " WHERE f.confirmed = 1 AND p.name IS NOT NULL"
            ).fetchone()[0]
        )

    def last_attempt(self) -> int:
        """How many confirmed faces there were at the last training attempt (accepted or not)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'learn_attempt_faces'").fetchone()
        return int(row[0]) if row else 0

    def record_attempt(self, faces: int) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('learn_attempt_faces', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [str(faces)],
        )
