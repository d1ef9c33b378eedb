"""The people tables: people, the person of each face, rejections, declined pairs, aliases, the ops log.

:class:`PeopleTables` holds every SQL statement the people layer (:mod:`photoclust.people`) and its
front ends need about who is who. It knows rows and columns, never the rules: the people layer
decides, this module reads and writes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import sqlite_utils

from photoclust.store.paths import known_path_sql, present_path_sql
from photoclust.types import Face, HistoryEntry, Person


def _best_first(f: str) -> str:
    """SQL ordering faces (table alias ``f``) best first: unflagged, sure and large: a person's cover."""
    return f"{f}.flags = '' DESC, {f}.probability * min({f}.size_px, 160) DESC, {f}.id"


class FaceState(NamedTuple):
    """What the user (or clustering) decided about one face."""

    person_id: int | None
    confirmed: int
    not_face: int


class PersonState(NamedTuple):
    """One row of ``people``."""

    name: str | None
    hidden: int
    cover_face_id: int | None
    created_at: float


class FaceRows(NamedTuple):
    """Faces for clustering: ids, photos, persons (-1: none), confirmed, flags, indexed_at and embeddings."""

    ids: np.ndarray
    photo: np.ndarray
    person: np.ndarray
    confirmed: np.ndarray
    flags: list[str]
    indexed_at: np.ndarray
    embeddings: list[bytes]


def chunks(items: Sequence[int], n: int = 500) -> Iterator[list[int]]:
    """``items`` in lists of at most ``n`` (SQLite's limit on bound parameters)."""
    for i in range(0, len(items), n):
        yield list(items[i : i + n])


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


_FACE_COLUMNS = (
    "f.id, f.photo_id, {path}, f.x1, f.y1, f.x2, f.y2, f.probability, f.person_id, f.confirmed, f.flags,"
    " ph.taken_at, (SELECT v.best FROM video_faces v WHERE v.face_id = f.id)"
)


def _face(r: Sequence[Any]) -> Face:
    return Face(
        id=int(r[0]),
        photo_id=int(r[1]),
        path=r[2] or "",
        box=(float(r[3]), float(r[4]), float(r[5]), float(r[6])),
        probability=float(r[7]),
        person_id=r[8],
        confirmed=bool(r[9]),
        flags=tuple(x for x in (r[10] or "").split(",") if x),
        taken_at=r[11],
        video_time=None if r[12] is None else float(r[12]),
    )


class PeopleTables:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    # -- people --------------------------------------------------------------------------------
    def _people(self, where: str, params: list[Any]) -> list[Person]:
        """People matching ``where`` (SQL on ``people p``) with their live face and photo counts."""
        rows = self.db.execute(
            f"""
            SELECT p.id, p.name, p.hidden, p.cover_face_id,
                   count(f.id) AS n_faces, count(DISTINCT f.photo_id) AS n_photos,
                   (SELECT lf.id FROM live_faces lf WHERE lf.person_id = p.id ORDER BY {_best_first("lf")} LIMIT 1) AS best
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

    def people(self, include_hidden: bool) -> list[Person]:
        return self._people("(? OR p.hidden = 0)", [int(include_hidden)])

    def person(self, person_id: int) -> Person | None:
        found = self._people("p.id = ?", [person_id])
        return found[0] if found else None

    def names(self) -> list[tuple[int, str]]:
        """(id, name) of every named person, by id."""
        return [
            (int(i), str(n))
            for i, n in self.db.execute("SELECT id, name FROM people WHERE name IS NOT NULL ORDER BY id")
        ]

    def names_nocase(self, name: str) -> list[tuple[int, str]]:
        """(id, name) of the people whose name equals ``name`` in SQLite's ASCII NOCASE."""
        rows = self.db.execute("SELECT id, name FROM people WHERE name = ? COLLATE NOCASE", [name]).fetchall()
        return [(int(i), str(n)) for i, n in rows]

    def names_of(self, person_ids: Sequence[int]) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for chunk in chunks(person_ids):
            out.update(
                {
                    int(i): n
                    for i, n in self.db.execute(f"SELECT id, name FROM people WHERE id IN ({_marks(chunk)})", chunk)
                }
            )
        return out

    def exists(self, person_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM people WHERE id = ?", [person_id]).fetchone() is not None

    def aliases(self, person_id: int) -> list[str]:
        """The person's other names, oldest first."""
        return [
            str(r[0])
            for r in self.db.execute("SELECT name FROM aliases WHERE person_id = ? ORDER BY rowid", [person_id])
        ]

    def all_aliases(self) -> list[tuple[int, str]]:
        return [(int(i), str(n)) for i, n in self.db.execute("SELECT person_id, name FROM aliases")]

    def person_state(self, person_id: int) -> PersonState | None:
        row = self.db.execute(
            "SELECT name, hidden, cover_face_id, created_at FROM people WHERE id = ?", [person_id]
        ).fetchone()
        return PersonState(row[0], int(row[1]), row[2], float(row[3])) if row else None

    def max_person_id(self) -> int:
        """The largest person id ever used (also by operations since undone: redo may bring them back)."""
        row = self.db.execute("SELECT max(id) FROM people").fetchone()
        meta = self.db.execute("SELECT value FROM meta WHERE key = 'max_person_id'").fetchone()
        return max(int(row[0] or 0), int(meta[0]) if meta else 0)

    def largest_person_id(self) -> int:
        """The largest id in ``people`` now (0 when empty)."""
        return int(self.db.execute("SELECT max(id) FROM people").fetchone()[0] or 0)

    def bump_max_person_id(self, pid: int) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('max_person_id', ?) ON CONFLICT(key) DO UPDATE SET"
            " value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
            [str(pid)],
        )

    def count_listed(self) -> int:
        """How many people ``People.all`` lists (named, or with a live face), hidden ones included."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM people p WHERE p.name IS NOT NULL"
                " OR EXISTS (SELECT 1 FROM live_faces f WHERE f.person_id = p.id)"
            ).fetchone()[0]
        )

    def face_counts(self, person_ids: Sequence[int]) -> dict[int, int]:
        """Live faces per person."""
        out: dict[int, int] = {}
        for chunk in chunks(person_ids):
            out.update(
                {
                    int(p): int(n)
                    for p, n in self.db.execute(
                        f"SELECT person_id, count(*) FROM live_faces WHERE person_id IN ({_marks(chunk)}) GROUP BY person_id",
                        chunk,
                    )
                }
            )
        return out

    # -- faces as the people layer sees them -----------------------------------------------------
    def faces(self, person_id: int | None, limit: int | None = None) -> list[Face]:
        """Live faces of a person (``None``: the unknown faces), confirmed first, then best first."""
        cond = "f.person_id = ?" if person_id is not None else "f.person_id IS NULL"
        params: list[Any] = [person_id] if person_id is not None else []
        sql = (
            f"SELECT {_FACE_COLUMNS.format(path=present_path_sql('f.photo_id'))}"
            f" FROM live_faces f JOIN photos ph ON ph.id = f.photo_id WHERE {cond}"
            f" ORDER BY f.confirmed DESC, {_best_first('f')}"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_face(r) for r in self.db.execute(sql, params).fetchall()]

    def face(self, face_id: int) -> Face | None:
        """Any face, live or not, with its photo's known path."""
        row = self.db.execute(
            f"SELECT {_FACE_COLUMNS.format(path=known_path_sql('f.photo_id'))}"
            " FROM faces f JOIN photos ph ON ph.id = f.photo_id WHERE f.id = ?",
            [face_id],
        ).fetchone()
        return _face(row) if row else None

    def photo_faces(self, photo_id: int) -> list[tuple[int, str | None]]:
        """(face id, person's name or None) of every live face of one photo, left to right."""
        rows = self.db.execute(
            "SELECT f.id, p.name FROM live_faces f LEFT JOIN people p ON p.id = f.person_id"
            " WHERE f.photo_id = ? ORDER BY f.x1",
            [photo_id],
        ).fetchall()
        return [(int(f), n) for f, n in rows]

    def thumbnail(self, face_id: int) -> bytes | None:
        row = self.db.execute("SELECT thumbnail FROM faces WHERE id = ?", [face_id]).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def face_states(self, face_ids: Iterable[int]) -> dict[int, FaceState]:
        """The stored state of each of ``face_ids`` that exists."""
        ids = list(dict.fromkeys(int(i) for i in face_ids))
        out: dict[int, FaceState] = {}
        for chunk in chunks(ids):
            for fid, pid, conf, nf in self.db.execute(
                f"SELECT id, person_id, confirmed, not_face FROM faces WHERE id IN ({_marks(chunk)})", chunk
            ):
                out[int(fid)] = FaceState(pid, int(conf), int(nf))
        return out

    def face_ids_of(self, person_id: int) -> list[int]:
        """Every face (live or not) pointing at the person."""
        return [int(r[0]) for r in self.db.execute("SELECT id FROM faces WHERE person_id = ?", [person_id])]

    def photo_of(self, face_ids: Sequence[int]) -> dict[int, int]:
        """face id -> photo id."""
        out: dict[int, int] = {}
        for chunk in chunks(list(face_ids)):
            out.update(
                {
                    int(a): int(b)
                    for a, b in self.db.execute(f"SELECT id, photo_id FROM faces WHERE id IN ({_marks(chunk)})", chunk)
                }
            )
        return out

    def photos_with_face_of(self, person_id: int) -> dict[int, int]:
        """photo id -> face id of the person's faces (not marked "not a face")."""
        rows = self.db.execute("SELECT photo_id, id FROM faces WHERE person_id = ? AND not_face = 0", [person_id])
        return {int(ph): int(f) for ph, f in rows}

    def confirmed_photos(self) -> dict[int, set[int]]:
        """person id -> photos where the person has a confirmed face."""
        out: dict[int, set[int]] = defaultdict(set)
        for pid, ph in self.db.execute("SELECT person_id, photo_id FROM faces WHERE confirmed = 1"):
            if pid is not None:
                out[int(pid)].add(int(ph))
        return out

    def unknown_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM live_faces WHERE person_id IS NULL").fetchone()[0])

    def assigned_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM live_faces WHERE person_id IS NOT NULL").fetchone()[0])

    def clustering_rows(self) -> FaceRows:
        """Every live face, by id, with what clustering needs."""
        rows = self.db.execute(
            "SELECT f.id, f.photo_id, f.person_id, f.confirmed, f.flags, f.embedding, p.indexed_at"
            " FROM live_faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.id"
        ).fetchall()
        return FaceRows(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            photo=np.array([r[1] for r in rows], dtype=np.int64),
            person=np.array([r[2] if r[2] is not None else -1 for r in rows], dtype=np.int64),
            confirmed=np.array([bool(r[3]) for r in rows], dtype=bool),
            flags=[r[4] or "" for r in rows],
            indexed_at=np.array([r[6] or 0.0 for r in rows], dtype=np.float64),
            embeddings=[r[5] for r in rows],
        )

    def live_embeddings(self) -> list[bytes]:
        return [r[0] for r in self.db.execute("SELECT embedding FROM live_faces")]

    def unknown_faces(self) -> list[tuple[int, int, bytes]]:
        """(face id, photo id, embedding) of every live face of nobody, by id."""
        return [
            (int(i), int(p), e)
            for i, p, e in self.db.execute(
                "SELECT id, photo_id, embedding FROM live_faces WHERE person_id IS NULL ORDER BY id"
            )
        ]

    def person_faces(self) -> list[tuple[int, int, bytes]]:
        """(person id, photo id, embedding) of every live face of somebody, by person then face."""
        return [
            (int(p), int(ph), e)
            for p, ph, e in self.db.execute(
                "SELECT person_id, photo_id, embedding FROM live_faces WHERE person_id IS NOT NULL"
                " ORDER BY person_id, id"
            )
        ]

    # -- decisions ------------------------------------------------------------------------------
    def rejected(self, face_id: int, person_id: int) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM rejections WHERE face_id = ? AND person_id = ?", [face_id, person_id]
            ).fetchone()
            is not None
        )

    def rejected_among(self, person_id: int, face_ids: Sequence[int]) -> set[int]:
        """Those of ``face_ids`` rejected for the person."""
        return {
            int(r[0])
            for chunk in chunks(face_ids)
            for r in self.db.execute(
                f"SELECT face_id FROM rejections WHERE person_id = ? AND face_id IN ({_marks(chunk)})",
                [person_id, *chunk],
            )
        }

    def rejections(self) -> dict[int, set[int]]:
        """face id -> the people it was rejected for."""
        out: dict[int, set[int]] = defaultdict(set)
        for fid, pid in self.db.execute("SELECT face_id, person_id FROM rejections"):
            out[int(fid)].add(int(pid))
        return out

    def different_pairs(self) -> set[tuple[int, int]]:
        return {(int(a), int(b)) for a, b in self.db.execute("SELECT person_a, person_b FROM different_people")}

    # -- writes (inside :meth:`transaction`) -------------------------------------------------------
    def transaction(self) -> Any:
        """A context manager: everything inside is one transaction."""
        return self.db.atomic()

    def put_person(self, pid: int, state: PersonState) -> None:
        self.db.execute(
            "INSERT INTO people (id, name, hidden, cover_face_id, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET name = excluded.name, hidden = excluded.hidden,"
            " cover_face_id = excluded.cover_face_id, created_at = excluded.created_at",
            [pid, *state],
        )

    def delete_person(self, pid: int) -> None:
        self.db.execute("DELETE FROM people WHERE id = ?", [pid])

    def put_face(self, fid: int, state: FaceState) -> None:
        self.db.execute("UPDATE faces SET person_id = ?, confirmed = ?, not_face = ? WHERE id = ?", [*state, fid])

    def set_rejection(self, fid: int, pid: int, present: bool) -> None:
        if present:
            self.db.execute("INSERT OR IGNORE INTO rejections (face_id, person_id) VALUES (?, ?)", [fid, pid])
        else:
            self.db.execute("DELETE FROM rejections WHERE face_id = ? AND person_id = ?", [fid, pid])

    def set_different(self, a: int, b: int, present: bool) -> None:
        if present:
            self.db.execute("INSERT OR IGNORE INTO different_people (person_a, person_b) VALUES (?, ?)", [a, b])
        else:
            self.db.execute("DELETE FROM different_people WHERE person_a = ? AND person_b = ?", [a, b])

    def set_alias(self, pid: int, name: str, present: bool) -> None:
        if present:
            self.db.execute("INSERT OR IGNORE INTO aliases (person_id, name) VALUES (?, ?)", [pid, name])
        else:
            self.db.execute("DELETE FROM aliases WHERE person_id = ? AND name = ?", [pid, name])

    # -- the operations log ------------------------------------------------------------------------
    def log(self, kind: str, description: str, changes: bytes) -> HistoryEntry:
        """Append an operation; a new one ends the redo branch (operations undone are dropped)."""
        at = time.time()
        self.db.execute("DELETE FROM ops WHERE undone = 1")
        cur = self.db.execute(
            "INSERT INTO ops (at, kind, description, changes) VALUES (?, ?, ?, ?)", [at, kind, description, changes]
        )
        return HistoryEntry(int(cur.lastrowid or 0), at, kind, description, False)

    def next_op(self, undone: bool) -> tuple[HistoryEntry, bytes] | None:
        """The operation undo (``undone=False``: the latest in effect) or redo (the first undone) acts on."""
        order = "DESC" if not undone else ""
        row = self.db.execute(
            f"SELECT id, at, kind, description, changes FROM ops WHERE undone = ? ORDER BY id {order} LIMIT 1",
            [int(undone)],
        ).fetchone()
        if row is None:
            return None
        return HistoryEntry(int(row[0]), float(row[1]), row[2], row[3], undone), row[4]

    def mark_op(self, op_id: int, undone: bool) -> None:
        self.db.execute("UPDATE ops SET undone = ? WHERE id = ?", [int(undone), op_id])

    def history(self, limit: int) -> list[HistoryEntry]:
        rows = self.db.execute(
            "SELECT id, at, kind, description, undone FROM ops ORDER BY id DESC LIMIT ?", [limit]
        ).fetchall()
        return [HistoryEntry(int(i), float(a), k, d, bool(u)) for i, a, k, d, u in rows]

    def last_cluster_time(self) -> float | None:
        row = self.db.execute(
            "SELECT max(at) FROM ops WHERE kind IN ('cluster', 'cluster-full') AND undone = 0"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None
