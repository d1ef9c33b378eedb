"""Files found by benchmarks/bench_hostile.py that used to break a scan (model-free where possible)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from photoclust.config import ScanSettings
from photoclust.library import Library


def test_a_file_name_that_is_not_utf8_is_reported_and_does_not_stop_the_scan(tmp_path: Path, photos_dir: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    name = os.path.join(os.fsencode(folder), b"caf\xe9 \xff.jpg")  # Latin-1 bytes from an old camera or zip
    try:
        shutil.copy(photos_dir / "obama" / "01.jpg", name)
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    with Library(tmp_path / "lib.db") as lib:
        for _ in range(2):  # and again: still reported, still no crash
            report = lib.scan([folder], settings=ScanSettings(workers=1))
            assert (report.unreadable, report.new) == (1, 0)
            [(path, reason)] = lib.errors()
            assert path == str(folder / "caf\\xe9 \\xff.jpg")
            assert "not valid UTF-8" in reason and "rename" in reason
        assert lib.store.integrity_check() == "ok"
