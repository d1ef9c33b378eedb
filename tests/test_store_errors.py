"""Each way a real SQLite library can fail gets its own one-line message that says what to do."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from photoclust.cli import cli
from photoclust.errors import DatabaseError
from photoclust.store import Store
from photoclust.store.sqlite_errors import is_environmental
from tests.helpers import analysed_photo, failed_photos


def _one_line(exc: pytest.ExceptionInfo[DatabaseError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_a_locked_database_says_another_photoclust_is_writing(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    with Store.open(path) as s:
        s.write_batch([analysed_photo("/p/a.jpg", "h1", 1)], [], [])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        s.db.execute("PRAGMA busy_timeout = 100")  # instead of 30 s
        with pytest.raises(DatabaseError) as info:
            s.write_batch([analysed_photo("/p/b.jpg", "h2", 1)], [], [])
        msg = _one_line(info)
        assert "is locked: another photoclust" in msg and "wait for it to finish or close it" in msg
        assert "disk" not in msg
        other.execute("ROLLBACK")
        other.close()
        s.write_batch([analysed_photo("/p/b.jpg", "h2", 1)], [], [])  # the lock is gone: the same batch goes in
        assert s.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 2


def test_a_full_disk_says_so_and_what_was_kept(tmp_path: Path) -> None:
    with Store.open(tmp_path / "lib.db") as s:
        s.write_batch([analysed_photo("/p/a.jpg", "h1", 1)], [], [])
        pages = s.db.execute("PRAGMA page_count").fetchone()[0]
        s.db.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own SQLITE_FULL, as on a full disk
        with pytest.raises(DatabaseError) as info:
            s.write_batch([], [], failed_photos(2000))
        msg = _one_line(info)
        assert "the disk is full; free some space" in msg and "this batch was not saved" in msg
        assert "locked" not in msg
        assert s.integrity_check() == "ok"
        assert s.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 1


IOERR_SCRIPT = """
import resource, signal, sys
from photoclust.errors import DatabaseError
from photoclust.store import Store
from tests.helpers import failed_photos
s = Store.open(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
# the kernel refuses writes past 4 KB (EFBIG): SQLite reports SQLITE_IOERR_WRITE, as for a failing disk
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    s.write_batch([], [], failed_photos(500))
except DatabaseError as exc:
    print(exc)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_disk_io_error_says_to_check_the_disk(tmp_path: Path) -> None:
    Store.open(tmp_path / "lib.db").close()
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", IOERR_SCRIPT, str(tmp_path / "lib.db")],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    msg = out.stdout.strip()
    assert msg.startswith("disk I/O error on the photo database"), msg
    assert "photoclust check" in msg and "full" not in msg and "\n" not in msg
    with Store.open(tmp_path / "lib.db") as s:  # nothing of the failed batch went in
        assert s.integrity_check() == "ok"
        assert s.errors() == []


def test_a_file_of_garbage_is_a_corrupt_database(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(DatabaseError) as info:
        Store.open(path)
    msg = _one_line(info)
    assert "is corrupt (file is not a database)" in msg
    assert "photoclust backup" in msg and "photoclust check" in msg
    result = CliRunner().invoke(cli, ["status", "--db", str(path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: ") and "is corrupt" in result.output
    assert path.read_bytes() == bytes(range(256)) * 40  # nothing written


def test_a_truncated_database_is_corrupt_also_in_the_middle_of_a_command(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    with Store.open(path) as s:
        s.write_batch([], [], failed_photos(3000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = CliRunner().invoke(cli, ["errors", "--db", str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output, result.output
    assert "is corrupt (database disk image is malformed)" in result.output
    assert "photoclust backup" in result.output


def test_bugs_are_not_dressed_up_as_database_trouble() -> None:
    assert not is_environmental(sqlite3.IntegrityError("UNIQUE constraint failed: photos.sha256"))
    assert not is_environmental(sqlite3.ProgrammingError("Cannot operate on a closed database."))
    assert is_environmental(sqlite3.OperationalError("database is locked"))
