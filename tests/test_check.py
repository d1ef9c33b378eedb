"""``photoclust check`` on real SQLite libraries: intact, damaged, inconsistent, newer, truncated, garbage."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from photoclust.cli import cli
from photoclust.store import Store
from tests.helpers import analysed_photo, failed_photos


def library(path: Path) -> Path:
    with Store.open(path) as s:
        s.write_batch([analysed_photo(f"/p/{i}.jpg", f"h{i}", 2) for i in range(20)], [], failed_photos(50))
    return path


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def check(path: Path) -> Result:
    return CliRunner().invoke(cli, ["check", "--db", str(path)])


def test_an_intact_library_is_ok_and_untouched(tmp_path: Path) -> None:
    path = library(tmp_path / "lib.db")
    before = fingerprint(path)
    result = check(path)
    assert result.exit_code == 0, result.output
    assert result.output == f"ok: {path}\n"
    assert fingerprint(path) == before
    # a read-only connection may leave an empty write-ahead log (SQLite's, removed on the next open)
    wal = tmp_path / "lib.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_damaged_index_needs_a_restore(tmp_path: Path) -> None:
    path = library(tmp_path / "lib.db")
    conn = sqlite3.connect(path)  # the index's definition no longer matches its entries
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX files_photo ON files(size)' WHERE name = 'files_photo'")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    result = check(path)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(ln.startswith("damaged: ") and "files_photo" in ln for ln in lines), result.output
    assert "restore it from a copy made with 'photoclust backup'" in lines[-1]
    assert fingerprint(path) == before


def test_dangling_references_are_reported_without_a_restore(tmp_path: Path) -> None:
    path = library(tmp_path / "lib.db")
    conn = sqlite3.connect(path)  # foreign keys are off on a plain connection: another program's write
    conn.execute("UPDATE faces SET photo_id = 999 WHERE id = 3")
    conn.commit()
    conn.close()
    result = check(path)
    assert result.exit_code == 1, result.output
    assert "inconsistent: faces row 3 refers to a missing row of photos" in result.output
    assert "no restore is needed" in result.output and "damaged" not in result.output


def test_a_library_from_a_newer_photoclust_is_refused_and_untouched(tmp_path: Path) -> None:
    path = library(tmp_path / "lib.db")
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _migrations VALUES ('0099_from_the_future', 0)")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    result = check(path)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "written by a newer photoclust" in result.output, result.output
    assert "0099_from_the_future" in result.output and "upgrade photoclust" in result.output
    assert fingerprint(path) == before


def test_an_older_library_is_checked_without_being_upgraded(tmp_path: Path) -> None:
    path = library(tmp_path / "lib.db")
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _migrations WHERE name = '0004_people_list'")
    conn.execute("DROP INDEX faces_person_best")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    result = check(path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ") and "1 schema upgrades will be applied" in result.output
    assert fingerprint(path) == before


def test_truncated_and_garbage_files_are_one_line_errors_and_untouched(tmp_path: Path) -> None:
    truncated = library(tmp_path / "lib.db")
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00\xff photoclust? " * 1000)
    for path, why in [(truncated, "database disk image is malformed"), (garbage, "file is not a database")]:
        before = fingerprint(path)
        result = check(path)
        assert result.exit_code == 1, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output, result.output
        assert f"is corrupt ({why})" in result.output and "photoclust backup" in result.output
        assert fingerprint(path) == before
    result = check(tmp_path / "missing.db")
    assert result.exit_code == 1 and "no photo database" in result.output
    assert not (tmp_path / "missing.db").exists()
