"""The photo library database: one SQLite file (WAL), created and upgraded by named migrations.

Tables
------
photos   one row per distinct photo *content* (sha256). Faces hang off photos, so a moved, renamed or
         copied file keeps its faces and their people.
files    one row per path seen on disk, pointing at its photo; ``status`` is ``present`` or ``missing``.
errors   files that could not be read as photos, with a one-line reason (recorded once per version of
         the file; retried when the file changes).
faces    detected faces: box, landmarks, quality, thumbnail, float32 embedding BLOB, model version.
people, rejections, different_people, aliases, ops: who is who and the log of the user's decisions
         (migrations 0002-0006). Their queries live in :mod:`photoclust.store.people`.

All writes of one scan batch happen in one transaction, so a killed scan leaves either the whole
batch or none of it. Every query is parameterised.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from photoclust.errors import DatabaseError
from photoclust.store import sqlite_errors
from photoclust.store.faces import FaceTables
from photoclust.store.heads import HeadTables
from photoclust.store.people import PeopleTables
from photoclust.store.photos import PhotoTables
from photoclust.types import EMBEDDING_DIM, AnalysedPhoto, FailedPhoto, FileEntry

EMBEDDING_DTYPE = np.dtype("<f4")


def vector_to_blob(vec: np.ndarray) -> bytes:
    """A 1-d float vector as little-endian float32 bytes."""
    arr = np.asarray(vec, dtype=EMBEDDING_DTYPE)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-d vector, got shape {arr.shape}")
    return arr.tobytes()


def blob_to_vector(blob: bytes) -> np.ndarray:
    if len(blob) % 4:
        raise ValueError(f"embedding blob of {len(blob)} bytes is not a whole number of float32")
    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE).copy()


def blobs_to_matrix(blobs: Iterable[bytes], dim: int | None = None) -> np.ndarray:
    """Stack equal-length float32 BLOBs into an (n, dim) matrix (dim taken from the first BLOB)."""
    items = list(blobs)
    if dim is None:
        dim = len(items[0]) // EMBEDDING_DTYPE.itemsize if items else EMBEDDING_DIM
    return np.frombuffer(b"".join(items), dtype=EMBEDDING_DTYPE).reshape(-1, dim).copy()


# --------------------------------------------------------------------------------------------------
# Migrations: append only. Each runs once, in its own transaction, and is recorded by name.
# --------------------------------------------------------------------------------------------------

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((name, fn))
        return fn

    return register


@migration("0001_index")
def _m0001_index(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            format TEXT,
            taken_at TEXT,
            face_count INTEGER NOT NULL DEFAULT 0,
            model_version TEXT,
            indexed_at REAL NOT NULL
        );
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            photo_id INTEGER NOT NULL REFERENCES photos(id),
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'present' CHECK (status IN ('present', 'missing')),
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        );
        CREATE INDEX files_photo ON files(photo_id);
        CREATE TABLE errors (
            path TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            size INTEGER,
            mtime_ns INTEGER,
            recorded_at REAL NOT NULL
        );
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id),
            x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
            landmarks TEXT NOT NULL,
            probability REAL NOT NULL,
            size_px REAL NOT NULL,
            blur REAL NOT NULL,
            yaw REAL NOT NULL,
            flags TEXT NOT NULL DEFAULT '',
            thumbnail BLOB,
            embedding BLOB NOT NULL,
            model_version TEXT NOT NULL
        );
        CREATE INDEX faces_photo ON faces(photo_id);
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            started_at REAL NOT NULL,
            finished_at REAL,
            roots TEXT NOT NULL,
            report TEXT
        );
        -- A photo is live while at least one of its files is present on disk.
        CREATE VIEW live_photos AS
            SELECT photos.* FROM photos
            WHERE EXISTS (SELECT 1 FROM files WHERE files.photo_id = photos.id AND files.status = 'present');
        """
    )


@migration("0002_people")
def _m0002_people(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT,
            hidden INTEGER NOT NULL DEFAULT 0,
            cover_face_id INTEGER,
            created_at REAL NOT NULL
        );
        CREATE INDEX people_name ON people(name);
        ALTER TABLE faces ADD COLUMN person_id INTEGER REFERENCES people(id);
        ALTER TABLE faces ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE faces ADD COLUMN not_face INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX faces_person ON faces(person_id);
        -- "not this person": the face never returns to that person
        CREATE TABLE rejections (
            face_id INTEGER NOT NULL REFERENCES faces(id),
            person_id INTEGER NOT NULL,
            PRIMARY KEY (face_id, person_id)
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        -- the operation log behind undo/redo: change sets as zlib-compressed JSON
        CREATE TABLE ops (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            description TEXT NOT NULL,
            changes BLOB NOT NULL,
            undone INTEGER NOT NULL DEFAULT 0
        );
        -- faces that the people views show: on a photo still on disk, not rejected as "not a face"
        CREATE VIEW live_faces AS
            SELECT faces.* FROM faces
            WHERE faces.not_face = 0
              AND EXISTS (SELECT 1 FROM files WHERE files.photo_id = faces.photo_id AND files.status = 'present');
        """
    )


@migration("0003_search")
def _m0003_search(db: sqlite_utils.Database) -> None:
    # Covering indices for search by person (photoclust.search): photos of given people, the other faces
    # of those photos (--only), and a present file of each photo, all answered from the indices alone.
    # On 100k photos / 150k faces / 5k people they make searches 2-4x faster (benchmarks/bench_search.py:
    # the heaviest, 3 most-photographed people with --any = 26k photos, from ~150 to ~80 ms of CPU).
    db.executescript(
        """
        CREATE INDEX faces_person_photo ON faces(person_id, not_face, photo_id);
        CREATE INDEX faces_photo_person ON faces(photo_id, not_face, person_id, flags);
        CREATE INDEX files_photo_present ON files(photo_id, status, path);
        """
    )


@migration("0004_people_list")
def _m0004_people_list(db: sqlite_utils.Database) -> None:
    # The people list picks each person's best face; this covering index answers that without reading
    # the face rows (with their thumbnails and embeddings): 720 -> 183 ms for 5k people / 100k faces
    # (benchmarks/bench_tui.py).
    db.execute("CREATE INDEX faces_person_best ON faces(person_id, not_face, flags, probability, size_px, photo_id)")


@migration("0005_aliases")
def _m0005_aliases(db: sqlite_utils.Database) -> None:
    # Other names of a person: the name of a named person merged into another one lives on here, so
    # search and 'photoclust person' still find them by it. Written through the People change sets.
    db.execute("CREATE TABLE aliases (person_id INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (person_id, name))")


@migration("0006_different_people")
def _m0006_different_people(db: sqlite_utils.Database) -> None:
    # "Not the same person": pairs of people the user declined to merge (a "same person?" suggestion
    # answered no). Never suggested again; a full re-clustering keeps them apart.
    db.execute(
        "CREATE TABLE different_people (person_a INTEGER NOT NULL, person_b INTEGER NOT NULL,"
        " PRIMARY KEY (person_a, person_b), CHECK (person_a < person_b))"
    )


@migration("0007_learned_head")
def _m0007_learned_head(db: sqlite_utils.Database) -> None:
    # Heads learned from the user's decisions (photoclust/learn): weights (numpy .npy), the embedding model
    # they apply to, what they learned from and how they validated (JSON); at most one in use.
    db.executescript(_HEAD_TABLE)


_HEAD_TABLE = """
    CREATE {temp} TABLE heads (id INTEGER PRIMARY KEY, version TEXT NOT NULL, model_version TEXT NOT NULL,
                               weights BLOB NOT NULL, report TEXT NOT NULL, created_at REAL NOT NULL,
                               active INTEGER NOT NULL DEFAULT 0);
"""
_HEAD_TABLE, _HEAD_TEMP = _HEAD_TABLE.format(temp=""), _HEAD_TABLE.format(temp="TEMP")


@migration("0008_video")
def _m0008_video(db: sqlite_utils.Database) -> None:
    # A video is a photo row (its content hash, the upright frame size) plus its duration; each face of
    # a video is a track of sampled frames (crawl/video.py, detect/track.py): when it is on screen, and
    # the time of its best frame (the face's box, thumbnail and embedding come from the best frames).
    db.executescript(_VIDEO_TABLES)


_VIDEO_TABLES = """
    CREATE {temp} TABLE videos (photo_id INTEGER PRIMARY KEY, duration REAL NOT NULL, codec TEXT);
    CREATE {temp} TABLE video_faces (face_id INTEGER PRIMARY KEY, start REAL NOT NULL, end REAL NOT NULL,
                                     best REAL NOT NULL);
"""
_VIDEO_TABLES, _VIDEO_TEMP = _VIDEO_TABLES.format(temp=""), _VIDEO_TABLES.format(temp="TEMP")


# Migrations that only add a table of decisions: a read-only library written before them is read with
# that table empty (a temporary one, in that connection only).
_ADDITIVE = {
    "0005_aliases": "CREATE TEMP TABLE aliases (person_id INTEGER NOT NULL, name TEXT NOT NULL)",
    "0006_different_people": "CREATE TEMP TABLE different_people (person_a INTEGER NOT NULL, person_b INTEGER NOT NULL)",
    "0007_learned_head": _HEAD_TEMP,
    "0008_video": _VIDEO_TEMP,
}


# --------------------------------------------------------------------------------------------------
# Opening: read-only libraries, and SQLite files that are not photoclust libraries.
# --------------------------------------------------------------------------------------------------

# Written into the SQLite header of every library (``PRAGMA application_id``, "PhCl"), so that a file
# made by another application is recognised, and refused, before anything is written into it.
APPLICATION_ID = 0x5068436C


def _writable(p: Path) -> bool:
    """Whether this user may write the database file and create its ``-wal``/``-shm`` files next to it."""
    return os.access(p, os.W_OK) and os.access(p.parent, os.W_OK)


def _ro_uri(p: Path, immutable: bool = False) -> str:
    from urllib.parse import quote

    return f"file:{quote(str(p))}?mode=ro" + ("&immutable=1" if immutable else "")


def _connect_readonly(p: Path) -> sqlite3.Connection:
    """A read-only connection. In a folder nobody may write, a WAL database has no ``-shm`` file and
    SQLite cannot make one, so it is read as immutable (no writer can exist there either)."""
    conn = sqlite3.connect(_ro_uri(p), uri=True, timeout=30, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if os.access(p.parent, os.W_OK):
            raise
    return sqlite3.connect(_ro_uri(p, immutable=True), uri=True, timeout=30, check_same_thread=False)


def _claim(db: sqlite_utils.Database, p: Path | None, readonly: bool) -> None:
    """Make sure ``db`` is a photoclust library (or empty, then mark it as one); refuse anything else.

    Libraries made before the mark are recognised by their migrations table and marked now.
    """
    app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
    if app_id == APPLICATION_ID:
        return
    tables = [
        str(r[0])
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    ]
    ours = app_id == 0 and (
        not tables
        or "_migrations" in tables
        and db.execute("SELECT 1 FROM _migrations WHERE name = ?", [MIGRATIONS[0][0]]).fetchone() is not None
    )
    if not ours:
        what = f"application id {app_id:#x}" if app_id else f"tables {', '.join(tables[:5])}"
        more = "…" if not app_id and len(tables) > 5 else ""
        raise DatabaseError(
            f"{p} is not a photoclust library (another application's SQLite file: {what}{more}); it was left"
            " untouched: give --db a new file name"
        )
    if not readonly:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFile:
    size: int
    mtime_ns: int
    kind: str  # 'present', 'missing' or 'error'


@dataclass(frozen=True)
class LibraryStatus:
    photos: int
    files_present: int
    files_missing: int
    errors: int
    faces: int
    faces_flagged: int
    model_versions: dict[str, int]
    last_scan: str | None


class Store:
    """The library database. Create with :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None, readonly: bool = False) -> None:
        self.db = db
        self.path = path
        self.readonly = readonly  # opened read-only: every write fails
        self.people = PeopleTables(db)  # who is who: people, decisions, the ops log
        self.photos = PhotoTables(db)  # paths, sizes, search by people
        self.faces = FaceTables(db)  # faces for export, XMP and recognition
        self.heads = HeadTables(db)  # heads learned from the user's decisions

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, create: bool = True, readonly: bool = False) -> Store:
        """Open (or create) the library at ``path``.

        A library the user may not write (the file or its folder: WAL needs its ``-shm`` and ``-wal``
        files next to it) is opened read-only, as it is with ``readonly``: reading works, and every
        write fails with SQLite's "attempt to write a readonly database" (the library turns that into
        :class:`~photoclust.errors.ReadOnlyLibrary`). An SQLite file that another application made is
        refused untouched.
        """
        p = Path(path).expanduser()
        if not p.exists() and not create:
            raise DatabaseError(f"no photo database at {p}: run 'photoclust scan PATH' first")
        if p.exists() and not readonly and not _writable(p):
            readonly = True
        if readonly and not p.exists():
            raise DatabaseError(f"no photo database at {p}: run 'photoclust scan PATH' first")
        try:
            if readonly:
                conn = _connect_readonly(p)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(p), timeout=30, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA foreign_keys = ON")
            try:
                _claim(db, p, readonly)
            except DatabaseError:
                db.close()
                raise
            if not readonly:
                db.enable_wal()
                db.execute("PRAGMA synchronous = NORMAL")
            store = cls(db, p, readonly=readonly)
            if readonly:
                store._check_readonly_schema()
            else:
                store.migrate()
            return store
        except sqlite3.DatabaseError as exc:
            if sqlite_errors.result_code(exc) is not None:  # locked, corrupt, disk full or failing
                raise sqlite_errors.translate(exc, p) from exc
            raise DatabaseError(f"cannot open photo database {p}: {exc}") from exc
        except OSError as exc:
            raise DatabaseError(f"cannot create photo database {p}: {exc.strerror or exc}") from exc

    @classmethod
    def memory(cls) -> Store:
        store = cls(sqlite_utils.Database(memory=True), None)
        _claim(store.db, None, readonly=False)
        store.migrate()
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> list[str]:
        """Apply the named migrations not yet applied; returns their names."""
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        done = self._applied_migrations()
        applied = []
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with db.atomic():
                fn(db)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, time.time()])
            applied.append(name)
        return applied

    def _applied_migrations(self) -> set[str]:
        done = {str(row[0]) for row in self.db.execute("SELECT name FROM _migrations").fetchall()}
        unknown = done - {name for name, _ in MIGRATIONS}
        if unknown:
            raise DatabaseError(
                f"database {self.path} was written by a newer photoclust "
                f"(migrations {sorted(unknown)}): upgrade photoclust"
            )
        return done

    def _check_readonly_schema(self) -> None:
        """A read-only library cannot be upgraded: it must have every migration already."""
        if not self.db["_migrations"].exists():
            raise DatabaseError(f"{self.path} is empty and read-only: there is no photo library in it")
        pending = {name for name, _ in MIGRATIONS} - self._applied_migrations()
        if pending <= set(_ADDITIVE):  # tables a read-only reader may take as empty, in this connection only
            for name in sorted(pending):
                self.db.executescript(_ADDITIVE[name])
        elif pending:
            raise DatabaseError(
                f"{self.path} is read-only and was written by an older photoclust: open it once where it"
                " can be written, to upgrade it"
            )

    def integrity_check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- crawl bookkeeping -----------------------------------------------------------------------
    def known_files(self) -> dict[str, KnownFile]:
        """Every path the database knows, readable or not, with the size/mtime it was indexed at."""
        out: dict[str, KnownFile] = {}
        for path, size, mtime_ns, status in self.db.execute(
            "SELECT path, size, mtime_ns, status FROM files"
        ).fetchall():
            out[path] = KnownFile(size, mtime_ns, status)
        for path, size, mtime_ns in self.db.execute("SELECT path, size, mtime_ns FROM errors").fetchall():
            out[path] = KnownFile(size if size is not None else -1, mtime_ns if mtime_ns is not None else -1, "error")
        return out

    def photo_id_for_hash(self, sha256: str) -> int | None:
        row = self.db.execute("SELECT id FROM photos WHERE sha256 = ?", [sha256]).fetchone()
        return int(row[0]) if row else None

    def begin_scan(self, roots: list[str]) -> int:
        cur = self.db.execute("INSERT INTO scans (started_at, roots) VALUES (?, ?)", [time.time(), json.dumps(roots)])
        return int(cur.lastrowid or 0)

    def end_scan(self, scan_id: int, report: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE scans SET finished_at = ?, report = ? WHERE id = ?",
            [time.time(), json.dumps(report), scan_id],
        )

    def write_batch(
        self,
        analysed: list[tuple[AnalysedPhoto, np.ndarray, str]],
        linked: list[tuple[FileEntry, str]],
        failed: list[FailedPhoto],
    ) -> None:
        """Write one batch in one transaction.

        ``analysed``: photos with their faces' embeddings (n_faces x dim) and the model version.
        ``linked``: files whose content (sha256) is already indexed (moved, renamed or copied files).
        ``failed``: unreadable files.
        """
        try:
            self._write_batch(analysed, linked, failed)
        except sqlite3.DatabaseError as exc:
            if not sqlite_errors.is_environmental(exc):
                raise
            kept = "" if sqlite_errors.is_corruption(exc) else "this batch was not saved, everything before it was"
            raise sqlite_errors.translate(exc, self.path, kept) from exc

    def _write_batch(
        self,
        analysed: list[tuple[AnalysedPhoto, np.ndarray, str]],
        linked: list[tuple[FileEntry, str]],
        failed: list[FailedPhoto],
    ) -> None:
        now = time.time()
        with self.db.atomic():
            for photo, embeddings, model_version in analysed:
                info = photo.info
                photo_id = self.photo_id_for_hash(info.sha256)
                if photo_id is None:
                    cur = self.db.execute(
                        "INSERT INTO photos (sha256, width, height, format, taken_at, face_count, model_version,"
                        " indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            info.sha256,
                            info.width,
                            info.height,
                            info.format,
                            info.taken_at,
                            len(photo.faces),
                            model_version,
                            now,
                        ],
                    )
                    photo_id = int(cur.lastrowid or 0)
                    if info.duration is not None:
                        self.db.execute(
                            "INSERT INTO videos (photo_id, duration, codec) VALUES (?, ?, ?)",
                            [photo_id, info.duration, info.format],
                        )
                    for face, emb in zip(photo.faces, embeddings, strict=True):
                        det, q = face.detection, face.quality
                        self.db.execute(
                            "INSERT INTO faces (photo_id, x1, y1, x2, y2, landmarks, probability, size_px, blur,"
                            " yaw, flags, thumbnail, embedding, model_version)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [
                                photo_id,
                                *[float(v) for v in det.box],
                                json.dumps([[round(float(x), 2), round(float(y), 2)] for x, y in det.landmarks]),
                                float(det.probability),
                                float(q.size_px),
                                float(q.blur),
                                float(q.yaw),
                                ",".join(q.flags),
                                face.thumbnail,
                                vector_to_blob(emb),
                                model_version,
                            ],
                        )
                        if face.span is not None:
                            self.db.execute(
                                "INSERT INTO video_faces (face_id, start, end, best) VALUES (last_insert_rowid(), ?, ?, ?)",
                                [face.span.start, face.span.end, face.span.best],
                            )
                self._upsert_file(photo.entry, photo_id, now)
            for entry, sha256 in linked:
                photo_id = self.photo_id_for_hash(sha256)
                if photo_id is None:  # indexed content vanished meanwhile (gc): the next scan re-indexes it
                    continue
                self._upsert_file(entry, photo_id, now)
            for fail in failed:
                self.db.execute("DELETE FROM files WHERE path = ?", [fail.entry.path])
                self.db.execute(
                    "INSERT INTO errors (path, reason, size, mtime_ns, recorded_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, size = excluded.size,"
                    " mtime_ns = excluded.mtime_ns, recorded_at = excluded.recorded_at",
                    [fail.entry.path, fail.reason, fail.entry.size, fail.entry.mtime_ns, now],
                )

    def _upsert_file(self, entry: FileEntry, photo_id: int, now: float) -> None:
        self.db.execute("DELETE FROM errors WHERE path = ?", [entry.path])
        self.db.execute(
            "INSERT INTO files (path, photo_id, size, mtime_ns, status, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, 'present', ?, ?)"
            " ON CONFLICT(path) DO UPDATE SET photo_id = excluded.photo_id, size = excluded.size,"
            " mtime_ns = excluded.mtime_ns, status = 'present', last_seen = excluded.last_seen",
            [entry.path, photo_id, entry.size, entry.mtime_ns, now, now],
        )

    def mark_missing(self, paths: Iterable[str]) -> int:
        """Mark files gone from disk as missing; their photos leave the views when no copy remains."""
        n = 0
        with self.db.atomic():
            for path in paths:
                cur = self.db.execute(
                    "UPDATE files SET status = 'missing' WHERE path = ? AND status = 'present'", [path]
                )
                n += cur.rowcount
                self.db.execute("DELETE FROM errors WHERE path = ?", [path])
        return n

    def gc(self, dry_run: bool = False) -> dict[str, int]:
        """Forget photos none of whose files is present any more: their faces and every decision about
        those faces (person membership, confirmations, rejections). Missing file rows and errors of
        vanished files go too. Only ever run on the user's explicit request (``photoclust gc``).
        """
        gone = [
            int(r[0])
            for r in self.db.execute(
                "SELECT id FROM photos WHERE NOT EXISTS"
                " (SELECT 1 FROM files WHERE files.photo_id = photos.id AND files.status = 'present')"
            ).fetchall()
        ]
        n_faces = 0
        q = ",".join("?" * len(gone))
        if gone:
            n_faces = int(self.db.execute(f"SELECT count(*) FROM faces WHERE photo_id IN ({q})", gone).fetchone()[0])
        missing_errors = [p for (p,) in self.db.execute("SELECT path FROM errors").fetchall() if not Path(p).exists()]
        out = {"photos": len(gone), "faces": n_faces, "errors": len(missing_errors)}
        if dry_run:
            return out
        with self.db.atomic():
            for chunk in range(0, len(gone), 500):
                ids = gone[chunk : chunk + 500]
                qq = ",".join("?" * len(ids))
                face_ids = f"SELECT id FROM faces WHERE photo_id IN ({qq})"
                self.db.execute(f"DELETE FROM rejections WHERE face_id IN ({face_ids})", ids)
                self.db.execute(f"UPDATE people SET cover_face_id = NULL WHERE cover_face_id IN ({face_ids})", ids)
                self.db.execute(f"DELETE FROM video_faces WHERE face_id IN ({face_ids})", ids)
                self.db.execute(f"DELETE FROM faces WHERE photo_id IN ({qq})", ids)
                self.db.execute(f"DELETE FROM videos WHERE photo_id IN ({qq})", ids)
                self.db.execute(f"DELETE FROM files WHERE photo_id IN ({qq})", ids)
                self.db.execute(f"DELETE FROM photos WHERE id IN ({qq})", ids)
            for path in missing_errors:
                self.db.execute("DELETE FROM errors WHERE path = ?", [path])
            # unnamed people left with no face at all go; named people always stay
            self.db.execute(
                "DELETE FROM people WHERE name IS NULL AND NOT EXISTS (SELECT 1 FROM faces WHERE person_id = people.id)"
            )
            if gone:
                # the operation log refers to the deleted faces: undo cannot cross a gc
                self.db.execute("DELETE FROM ops")
        self.db.execute("VACUUM")
        return out

    # -- reading ---------------------------------------------------------------------------------
    def errors(self) -> list[tuple[str, str]]:
        return [
            (str(p), str(r)) for p, r in self.db.execute("SELECT path, reason FROM errors ORDER BY path").fetchall()
        ]

    def status(self) -> LibraryStatus:
        q = self.db.execute

        def one(sql: str) -> int:
            return int(q(sql).fetchone()[0] or 0)

        versions = dict(q("SELECT model_version, count(*) FROM faces GROUP BY model_version").fetchall())
        last = q("SELECT max(finished_at) FROM scans").fetchone()[0]
        return LibraryStatus(
            photos=one("SELECT count(*) FROM live_photos"),
            files_present=one("SELECT count(*) FROM files WHERE status = 'present'"),
            files_missing=one("SELECT count(*) FROM files WHERE status = 'missing'"),
            errors=one("SELECT count(*) FROM errors"),
            faces=one("SELECT count(*) FROM faces WHERE photo_id IN (SELECT id FROM live_photos)"),
            faces_flagged=one(
                "SELECT count(*) FROM faces WHERE flags != '' AND photo_id IN (SELECT id FROM live_photos)"
            ),
            model_versions={str(k): int(v) for k, v in versions.items()},
            last_scan=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if last else None,
        )


def backup_database(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """A consistent copy of a library database (what is still in its write-ahead log included), made with
    SQLite's online backup, so it is safe while another process is scanning or editing."""
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.partial")
    try:
        with _connect_readonly(Path(src)) as a, sqlite3.connect(tmp) as b:
            a.backup(b)
        a.close()
        b.close()
        tmp.replace(dst)
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise DatabaseError(f"cannot back up {src} to {dst}: {exc}") from exc
