"""The SQLite store: migrations, vector BLOBs, batch writes, real database files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from photoclust.errors import DatabaseError
from photoclust.store import MIGRATIONS, Store, blob_to_vector, blobs_to_matrix, vector_to_blob
from photoclust.types import FailedPhoto, FileEntry
from tests.helpers import analysed_photo


@given(arrays(np.float32, st.integers(1, 600), elements=st.floats(allow_nan=False, width=32)))
def test_vector_blob_round_trip(vec: np.ndarray) -> None:
    back = blob_to_vector(vector_to_blob(vec))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, vec)


def test_matrix_from_blobs() -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 512)).astype(np.float32)
    np.testing.assert_array_equal(blobs_to_matrix(vector_to_blob(v) for v in m), m)
    with pytest.raises(ValueError):
        blob_to_vector(b"abc")


def test_migrations_are_named_recorded_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    with Store.open(path) as s:
        names = [r[0] for r in s.db.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]
        assert names == sorted(n for n, _ in MIGRATIONS)
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store.open(path) as s:
        assert s.migrate() == []
        assert s.integrity_check() == "ok"


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _migrations VALUES ('9999_from_the_future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="newer photoclust"):
        Store.open(path)


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="photoclust scan"):
        Store.open(tmp_path / "nope.db", create=False)


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="is corrupt"):
        Store.open(path)


def test_write_batch_link_missing_and_errors(tmp_path: Path) -> None:
    with Store.open(tmp_path / "lib.db") as s:
        s.write_batch([analysed_photo("/p/a.jpg", "h1", 2), analysed_photo("/p/b.jpg", "h2", 0)], [], [])
        assert s.status().photos == 2 and s.status().faces == 2 and s.status().faces_flagged == 1
        # a moved file: its content is known, so it is linked to the same photo and keeps its faces
        s.write_batch([], [(FileEntry("/q/a-moved.jpg", 100, 2), "h1")], [])
        assert s.mark_missing(["/p/a.jpg"]) == 1
        st = s.status()
        assert (st.photos, st.files_present, st.files_missing, st.faces) == (2, 2, 1, 2)
        # both copies gone: the photo and its faces leave the views, but nothing is deleted
        s.mark_missing(["/q/a-moved.jpg"])
        assert s.status().faces == 0
        assert s.db.execute("SELECT count(*) FROM faces").fetchone()[0] == 2
        s.write_batch([], [], [FailedPhoto(FileEntry("/p/bad.jpg", 3, 4), "not an image")])
        assert s.errors() == [("/p/bad.jpg", "not an image")]
        assert s.known_files()["/p/bad.jpg"].kind == "error"
        # the same content written twice (a copy found in the same scan) does not duplicate faces
        s.write_batch([analysed_photo("/p/copy-of-b.jpg", "h2", 0)], [], [])
        assert s.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 2


def test_failed_batch_writes_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "lib.db") as s:
        good = analysed_photo("/p/a.jpg", "h1", 1)
        photo, emb, ver = analysed_photo("/p/b.jpg", "h2", 2)
        with pytest.raises(ValueError):
            s.write_batch([good, (photo, emb[:1], ver)], [], [])  # embeddings don't match the faces
        assert s.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 0
        assert s.db.execute("SELECT count(*) FROM faces").fetchone()[0] == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8, unique=True))
def test_any_path_text_round_trips(names: list[str]) -> None:
    s = Store.memory()
    paths = ["/photos/" + n.replace("\x00", "") for n in names]
    s.write_batch([analysed_photo(p, f"h{i}", 0) for i, p in enumerate(paths)], [], [])
    assert set(s.known_files()) == set(paths)
    s.close()


def test_backup_is_consistent_while_the_library_is_open(tmp_path: Path) -> None:
    from photoclust.store import backup_database

    with Store.open(tmp_path / "lib.db") as s:
        s.write_batch([analysed_photo("/p/a.jpg", "h1", 2)], [], [])
        # the rows may still sit in the write-ahead log: a plain file copy could miss them, a backup does not
        backup_database(tmp_path / "lib.db", tmp_path / "copy.db")
    with Store.open(tmp_path / "copy.db") as c:
        assert c.integrity_check() == "ok"
        assert c.status().faces == 2
    with pytest.raises(DatabaseError, match="cannot back up"):
        backup_database(tmp_path / "lib.db", tmp_path / "no" / "such" / "dir" / "x.db")


def test_only_the_store_runs_sql() -> None:
    """Every SQL statement lives in photoclust/store/: no other module calls execute()."""
    import re

    import photoclust

    root = Path(photoclust.__file__).parent
    offenders = [
        f"{p.relative_to(root)}:{n}"
        for p in root.rglob("*.py")
        if "store" not in p.relative_to(root).parts[:1]
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\.(execute|executemany|executescript)\(", line)
    ]
    assert offenders == []
