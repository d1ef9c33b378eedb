"""The command line, end to end on real photos, and its documentation."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from photoclust.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "photoclust", *args], capture_output=True, text=True, timeout=600)


def test_help_is_fast_and_loads_no_model() -> None:
    code = (
        "import sys, time; t = time.perf_counter();"
        "from click.testing import CliRunner; from photoclust.cli import cli;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;"
        "print(time.perf_counter() - t, 'torch' in sys.modules, 'textual' in sys.modules)"
    )
    best = min(
        float(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[0]
        )
        for _ in range(3)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"], "photoclust --help imported torch or textual"
    assert best < 0.5, f"--help took {best:.2f} s"
    t = time.perf_counter()
    assert run("--help").returncode == 0
    assert time.perf_counter() - t < 3.0  # whole interpreter start included


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, command in cli.commands.items():
        assert command.help, f"command {name} has no help text"
        assert re.search(rf"photoclust {re.escape(name)}\b", readme), f"README does not mention 'photoclust {name}'"
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_readme_starts_with_the_two_setup_commands() -> None:
    lines = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    block = lines[lines.index("```") + 1 : lines.index("```") + 3]
    assert block[0].startswith("make demo") and block[1].startswith("make test")
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_errors_are_one_line_with_nonzero_exit(tmp_path: Path) -> None:
    db = str(tmp_path / "none.db")
    for args in (["people", "--db", db], ["status", "--db", db], ["undo", "--db", db], ["name", "1", "x", "--db", db]):
        r = run(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_scan_cluster_name_merge_undo_export(tmp_path: Path, photos_dir: Path) -> None:
    folder = tmp_path / "Pictures"
    for who in ("obama", "madonna"):
        shutil.copytree(photos_dir / who, folder / who)
    shutil.copytree(photos_dir / "group", folder / "group")
    db = str(tmp_path / "lib.db")
    r = run("scan", str(folder), "--db", db, "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert re.search(r"Photos: 15 new, .* 0 unreadable\. Faces found: \d+", r.stdout), r.stdout
    assert re.search(r"People: \d+ \(\d+ new\)", r.stdout) and "'photoclust people'" in r.stdout, r.stdout
    r = run("cluster", "--db", db)  # the scan clustered already: nothing new
    assert r.returncode == 0, r.stderr
    people = json.loads(run("people", "--db", db, "--json").stdout)
    assert len(people) >= 2
    assert all(set(p) >= {"id", "name", "faces", "photos", "cover"} for p in people)
    biggest = people[0]
    assert run("name", str(biggest["id"]), "Barack", "--db", db).returncode == 0
    assert json.loads(run("people", "--db", db, "--json").stdout)[0]["name"] == "Barack"
    other = people[1]["id"]
    assert run("merge", str(other), "--into", str(biggest["id"]), "--db", db).returncode == 0
    assert other not in [p["id"] for p in json.loads(run("people", "--db", db, "--json").stdout)]
    r = run("undo", "--db", db)
    assert r.returncode == 0 and "merged" in r.stdout
    assert other in [p["id"] for p in json.loads(run("people", "--db", db, "--json").stdout)]
    out = tmp_path / "faces.csv"
    assert run("export", "--format", "csv", "--out", str(out), "--db", db).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["path", "x1", "y1", "x2", "y2", "person_id", "person_name", "confirmed", "time"]
    assert all(Path(r["path"]).is_absolute() and Path(r["path"]).exists() for r in rows)
    assert any(r["person_name"] == "Barack" for r in rows)
    assert all(r["person_name"] == "" and r["confirmed"] == "0" for r in rows if r["person_id"] == "")
    as_json = json.loads(run("export", "--format", "json", "--db", db).stdout)
    assert len(as_json) == len(rows)
    status = run("status", "--db", db).stdout
    assert "Photos:        15" in status
    assert "Barack" in run("people", "--db", db).stdout
    hist = run("history", "--db", db).stdout
    assert "(undone) merged" in hist and "named person" in hist


def test_scan_clusters_unless_told_not_to(tmp_path: Path) -> None:
    """scan ends with an incremental cluster and says what to do next; --no-cluster only indexes.

    The library holds the real faces of data/photos (test_tui's, no model needed), seven of them unknown
    and close to nobody, one close to Madonna; the scanned folder adds no photo.
    """
    from photoclust.library import Library
    from tests.helpers import build_library

    db = tmp_path / "lib.db"
    build_library(db)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(cli, ["scan", str(empty), "--db", str(db), "--no-cluster"])
    assert r.exit_code == 0, r.output
    assert "People:" not in r.output and "'photoclust cluster'" in r.output
    with Library(db) as lib:
        assert lib.history() == [] and lib.unknown_count() == 8
    r = CliRunner().invoke(cli, ["scan", str(empty), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert re.search(r"^People: \d+ \(\d+ new\)\. Faces: \d+ assigned", r.output, re.M), r.output
    assert "'photoclust people'" in r.output and "'photoclust suggest'" in r.output
    with Library(db) as lib:
        assert [e.kind for e in lib.history()] == ["cluster"]  # one undoable step
        assert lib.unknown_count() < 8  # Madonna's straggler joined her
