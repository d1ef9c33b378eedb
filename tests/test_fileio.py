"""The one atomic-write helper: whole file or old file, flushed to disk, with the mode open() would give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoclust.fileio import atomic_write, atomic_write_text


def test_new_file_gets_the_umask_mode_and_old_file_keeps_its_own(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        new = tmp_path / "export.csv"
        atomic_write_text(new, "a,b\n")
        assert new.read_text() == "a,b\n"
        assert new.stat().st_mode & 0o777 == 0o644  # as open() gives it, not mkstemp's 0600
        kept = tmp_path / "kept.xmp"
        kept.write_text("old")
        kept.chmod(0o640)
        atomic_write_text(kept, "new\r\n")
        assert kept.read_bytes() == b"new\r\n"  # no newline translation
        assert kept.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "weights.pt"
    target.write_bytes(b"old")

    def boom(fh: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt"]


def test_cli_export_out_file_is_readable_by_others(tmp_path: Path) -> None:
    """``photoclust export --out`` wrote its file at mode 0600 (mkstemp's), unlike every other tool."""
    from click.testing import CliRunner

    from photoclust.cli import cli
    from photoclust.store import Store

    Store.open(tmp_path / "lib.db").close()  # an empty library exports a header
    old = os.umask(0o022)
    try:
        out = tmp_path / "faces.csv"
        r = CliRunner().invoke(cli, ["export", "--db", str(tmp_path / "lib.db"), "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert out.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
