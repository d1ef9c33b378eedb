"""Pilot tests of what a first-time user hits in the TUI (issue 14): a read-only library, the Unknown
faces keys, duplicate names, the Scan screen after an error, navigation. Same library as test_tui."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import ProgressBar, Static

from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.tui.app import PhotoclustApp, make_app
from photoclust.tui.screens.person import PersonScreen
from photoclust.tui.screens.unknown import UnknownScreen
from tests.helpers import SIZE, face_grid, open_person, person_named, person_of, press, run_async, settle, type_text

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")


def errors(app: PhotoclustApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


def warnings(app: PhotoclustApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


# -- read-only library ---------------------------------------------------------------------------------


@run_async
async def test_read_only_library_browses_and_says_so_on_edits(
    library_path: Path, read_only: Callable[[Path], None]
) -> None:
    Library(library_path).close()  # WAL mode, closed cleanly: no -shm next to it
    read_only(library_path.parent)
    app = make_app(library_path, renderer="halfcell", scan_settings=ScanSettings(workers=1))
    try:
        async with app.run_test(size=SIZE) as pilot:
            assert "read-only" in app.sub_title
            await open_person(pilot, "Madonna")
            assert len(face_grid(app).items) == 6  # browsing works, thumbnails too
            assert app.backend.has_thumbnail(face_grid(app).items[0].id)
            await press(pilot, "n", "ctrl+a", "ctrl+k")
            await type_text(pilot, "Someone")
            await press(pilot, "enter")
            assert any("read-only" in m for m in errors(app)), app._notifications
            assert isinstance(app.screen, PersonScreen) and app.is_running
            await press(pilot, "a", "r", "ctrl+z", "ctrl+u")  # more edits: each one a notification
            assert sum("read-only" in m for m in errors(app)) == 3
            assert isinstance(app.screen, UnknownScreen) and app.is_running
    finally:
        app.backend.close()
    with Library(library_path) as lib:
        assert person_named(lib, "Madonna") and lib.history() == []


# -- Unknown faces --------------------------------------------------------------------------------------


@run_async
async def test_no_on_a_group_without_suggestion_hides_nothing_and_says_why(app: PhotoclustApp, check: Library) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+u")
        screen = app.screen
        assert isinstance(screen, UnknownScreen)
        idx = next(i for i, (_g, p) in enumerate(screen.groups) if p is None)
        await press(pilot, "tab", "home", *["down"] * idx, "tab")
        group = screen._group()
        assert group is not None and group[1] is None  # nobody is suggested for the last group
        before = [[f.id for f in g] for g, _p in screen.groups]
        await press(pilot, "n")
        assert [[f.id for f in g] for g, _p in screen.groups] == before  # nothing hidden
        assert screen._group() is group
        assert any("Nobody is suggested" in m for m in warnings(app)), app._notifications
        assert check.history() == [] and not check.people.rejections()  # and nothing stored


# -- duplicate names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["y", "n"])
@run_async
async def test_naming_a_person_like_another_asks_to_merge(
    app: PhotoclustApp, check: Library, faces: dict[str, list[int]], answer: str
) -> None:
    madonna = person_named(check, "Madonna")
    kit = person_of(check.store, faces["kit_harington"][0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "4 faces")  # Kit, unnamed
        await press(pilot, "enter", "n")
        await type_text(pilot, "madonna")
        await press(pilot, "enter")
        assert "Madonna already exists" in str(app.screen.query_one("#confirm-title").render())
        await press(pilot, answer)
        if answer == "y":
            assert check.person(madonna).faces == 10
            assert kit not in {p.id for p in check.list_people(include_hidden=True)}
            assert isinstance(app.screen, PersonScreen) and app.screen.person_id == madonna
        else:
            assert check.person(kit).name is None and check.person(madonna).faces == 6
            assert isinstance(app.screen, PersonScreen) and app.screen.person_id == kit


# -- Scan screen ----------------------------------------------------------------------------------------


def scan_state(app: PhotoclustApp) -> tuple[str, float | None, bool]:
    """The phase line, the bar's total (None: the moving "working…" bar) and whether ctrl+x is offered."""
    phase = str(app.screen.query_one("#scan-phase", Static).render())
    total = app.screen.query_one("#scan-bar", ProgressBar).total
    offered = any(b.binding.action == "cancel_scan" for b in app.screen.active_bindings.values())
    return phase, total, offered


@run_async
async def test_scan_screen_after_an_error_and_after_a_scan(app: PhotoclustApp, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "ctrl+s")
        assert not scan_state(app)[2]  # nothing to cancel before a scan either
        await type_text(pilot, str(tmp_path / "missing-folder"))
        await press(pilot, "enter")
        assert not app.scanning and any("missing-folder" in m for m in errors(app)), app._notifications
        phase, total, offered = scan_state(app)
        assert phase.startswith("Scan failed") and "missing-folder" in phase
        assert total is not None and not offered  # the bar stopped, and there is nothing to cancel
        await press(pilot, "ctrl+a", "ctrl+k")
        await type_text(pilot, str(empty))
        await press(pilot, "enter")
        phase, total, offered = scan_state(app)
        assert phase.startswith("Scan finished") and total is not None and not offered
