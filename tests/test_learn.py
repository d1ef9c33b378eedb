"""Learning from the user's decisions: a head trained on real faces (data/photos through the real models)."""

from __future__ import annotations

import asyncio
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoclust.config import ScanSettings
from photoclust.errors import ConstraintError
from photoclust.library import Library
from photoclust.store import Store
from tests.helpers import SIZE, press, write_faces

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def named_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/photos scanned, and every identity with two photos or more named from its largest faces."""
    db = tmp_path_factory.mktemp("learn") / "lib.db"
    labels = {r["path"]: r["identity"] for r in csv.DictReader((ROOT / "data" / "labels.csv").open())}
    with Library(db) as lib:
        lib.scan([ROOT / "data" / "photos"], settings=ScanSettings(workers=1))
        by_identity: dict[str, list[int]] = {}
        for rel, who in sorted(labels.items()):
            faces = lib.faces_in_file(ROOT / "data" / "photos" / rel)
            if faces:
                largest = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
                by_identity.setdefault(who, []).append(largest.id)
        for who, ids in sorted(by_identity.items()):
            if len(ids) >= 2:
                lib.create_person(who.replace("_", " ").title(), ids)
    return db


@pytest.fixture
def library(named_library: Path, tmp_path: Path) -> Path:
    db = tmp_path / "lib.db"
    with Library(named_library) as lib:
        lib.backup(db)  # a copy of the WAL library as it stands (copying the file alone would lose the WAL)
    return db


def test_a_head_learned_from_real_faces_finds_more_held_out_faces_and_stays_after_a_restart(library: Path) -> None:
    with Library(library) as lib:
        assert lib.head_status() is None
        report = lib.learn()
        v = report.training.validation
        assert v is not None and report.used
        assert v.recall_head > v.recall_base and v.precision_head >= v.precision_base
        assert report.training.people == 8 and report.training.faces == 40
        assert [e.kind for e in lib.history()][0] == "learn"
    with Library(library) as lib:  # a restart: the head is stored, and in use
        head = lib.head_status()
        assert head is not None and head.faces == 40 and head.validation == v


def test_undo_removes_the_head_and_redo_brings_it_back(library: Path) -> None:
    with Library(library) as lib:
        lib.learn()
        lib.undo()
        assert lib.head_status() is None
        lib.redo()
        assert lib.head_status() is not None
        assert lib.learn_reset()
        assert lib.head_status() is None and not lib.learn_reset()
        lib.undo()  # the reset is an edit like the others
        assert lib.head_status() is not None


def test_a_head_for_another_embedding_model_is_not_used(library: Path) -> None:
    with Library(library) as lib:
        lib.learn()
    with Store.open(library) as store:
        store.db.execute("UPDATE heads SET model_version = 'some-other-model'")
    with Library(library) as lib:
        assert lib.head_status() is None


def test_the_gate_refuses_a_head_that_does_not_help(tmp_path: Path) -> None:
    """Four people whose faces base assignment already finds, every one: nothing to gain, head refused."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 512))
    with Store.open(tmp_path / "lib.db") as store:
        write_faces(store, np.array([centres[i % 4] + rng.normal(scale=0.01, size=512) for i in range(32)]), 0)
    with Library(tmp_path / "lib.db") as lib:
        ids = [f.id for f in lib.faces(None)]
        for p in range(4):
            lib.create_person(f"Person {p}", [i for k, i in enumerate(sorted(ids)) if k % 4 == p])
        report = lib.learn()
        v = report.training.validation
        assert v is not None and v.recall_base == 1.0 and not v.helps
        assert not report.used and lib.head_status() is None
        assert "learn" not in [e.kind for e in lib.history()]


def test_nothing_to_learn_from_is_a_clear_error(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.db", create=True) as lib, pytest.raises(ConstraintError, match="nothing to learn"):
        lib.learn()


def test_cli_learn_prints_the_figures_and_status_says_the_head_is_in_use(library: Path) -> None:
    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "photoclust", *args, "--db", str(library)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    out = run("learn")
    assert "Learned from 40 confirmed faces of 8 named people" in out
    assert "Held-out check (3-fold, 40 of your confirmed faces): faces found" in out and "in use" in out
    assert "Learned head:  in use, learned from 40 confirmed faces of 8 people" in run("status")
    assert "no longer used" in run("learn", "--reset")
    assert "Learned head:  none" in run("status")


def test_the_tui_learns_on_ctrl_t(library: Path) -> None:
    from photoclust.tui.app import make_app

    async def go() -> None:
        app = make_app(library, renderer="halfcell")
        try:
            async with app.run_test(size=SIZE) as pilot:
                await press(pilot, "ctrl+t")
                for _ in range(300):
                    await pilot.pause(0.1)
                    if any("Learned head" in n.message for n in app._notifications):
                        break
                assert any(n.message.startswith("Learned head in use") for n in app._notifications)
                await pilot.pause(0.5)
                assert "learned from 40 faces" in app.sub_title
        finally:
            app.backend.close()

    asyncio.run(go())
