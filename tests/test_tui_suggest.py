"""Pilot tests of the "Same person?" screen, on a real SQLite library where clustering left one person
split in two (synthetic embeddings written with ``Store.write_batch``, as in test_suggest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import OptionList, Static

from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.store import Store
from photoclust.tui.app import PhotoclustApp, make_app
from photoclust.tui.screens.people import PeopleScreen
from photoclust.tui.screens.person import PersonScreen
from photoclust.tui.screens.suggest import SuggestScreen
from photoclust.tui.widgets.grid import FaceGrid
from tests.helpers import SIZE, press, run_async, settle, write_faces

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")


@pytest.fixture
def split_db(tmp_path: Path) -> Path:
    """Four people after clustering, two of them one person's two looks (the one suggested pair)."""
    rng = np.random.default_rng(3)
    c = rng.normal(size=(4, 512))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    o = c[1] - (c[1] @ c[0]) * c[0]
    c[1] = 0.62 * c[0] + np.sqrt(1 - 0.62**2) * o / np.linalg.norm(o)
    who = [0] * 5 + [1] * 4 + [2] * 5 + [3] * 5
    db = tmp_path / "lib.db"
    store = Store.open(db)
    write_faces(store, np.array([c[i] + rng.normal(scale=0.02, size=512) for i in who]), 0)
    store.close()
    with Library(db) as lib:
        lib.cluster()
        lib.store.db.execute("DELETE FROM ops")  # the set-up is not the user's history
        assert len(lib.list_people()) == 4 and len(lib.merge_suggestions()) == 1
    return db


def new_app(db: Path) -> PhotoclustApp:
    return make_app(db, renderer="halfcell", scan_settings=ScanSettings(workers=1))


@pytest.fixture
def app(split_db: Path) -> Iterator[PhotoclustApp]:
    app = new_app(split_db)
    yield app
    app.backend.close()


@pytest.fixture(autouse=True)
def _count_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The People screen counts the pairs a moment after its cards are up; here, at once."""
    import photoclust.tui.screens.people as people_screen

    monkeypatch.setattr(people_screen, "SUGGESTIONS_DELAY", 0.0)


@pytest.fixture
def check(split_db: Path) -> Iterator[Library]:
    """A second connection to the same database, to check what the app wrote."""
    lib = Library(split_db)
    yield lib
    lib.close()


def status_line(app: PhotoclustApp) -> str:
    return str(app.screen.query_one("#people-status", Static).render())


@run_async
async def test_people_screen_says_how_many_pairs_wait_and_ctrl_g_opens_them(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "2 people may be the same: ctrl+g" in status_line(app)
        await press(pilot, "ctrl+g")
        screen = app.screen
        assert isinstance(screen, SuggestScreen)
        pair = screen.pairs[0]
        label = str(screen.query_one("#pairs", OptionList).get_option_at_index(0).prompt)
        assert label.endswith("· Unnamed (5 faces) = Unnamed (4 faces)") and "%" in label
        # both people's faces, side by side
        assert [f.person_id for f in screen.query_one("#faces-a", FaceGrid).items] == [pair.a.id] * 5
        assert [f.person_id for f in screen.query_one("#faces-b", FaceGrid).items] == [pair.b.id] * 4
        await press(pilot, "ctrl+g")  # already open: nothing stacks
        await press(pilot, "escape")
        assert isinstance(app.screen, PeopleScreen)


@run_async
async def test_yes_merges_in_one_step_and_undo_restores(app: PhotoclustApp, check: Library) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+g")
        screen = app.screen
        assert isinstance(screen, SuggestScreen)
        a, b = screen.pairs[0].a.id, screen.pairs[0].b.id
        await press(pilot, "y")
        assert check.person(a).faces == 9 and b not in {p.id for p in check.list_people()}
        assert len(check.history()) == 1 and check.history()[0].kind == "merge"
        assert screen.pairs == [] and "No suggestions" in str(screen.query_one("#question", Static).render())
        await press(pilot, "ctrl+z")
        assert check.person(a).faces == 5 and check.person(b).faces == 4
        assert [(s.a.id, s.b.id) for s in screen.pairs] == [(a, b)]  # the screen followed the undo
        await press(pilot, "escape")
        assert "2 people may be the same" in status_line(app)


@run_async
async def test_no_is_remembered_across_reopening_and_restart(
    app: PhotoclustApp, check: Library, split_db: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+g")
        screen = app.screen
        assert isinstance(screen, SuggestScreen)
        a, b = screen.pairs[0].a.id, screen.pairs[0].b.id
        await press(pilot, "n")
        assert check.people.different_pairs() == {(min(a, b), max(a, b))}
        assert screen.pairs == []
        assert len(check.list_people()) == 4  # nobody merged
        await press(pilot, "escape")
        assert "may be the same" not in status_line(app)
        await press(pilot, "ctrl+g")
        assert isinstance(app.screen, SuggestScreen) and app.screen.pairs == []
    app.backend.close()
    again = new_app(split_db)
    try:
        async with again.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "ctrl+g")
            assert isinstance(again.screen, SuggestScreen) and again.screen.pairs == []
            await press(pilot, "ctrl+z")  # the decline is one undoable step, even after a restart
            assert [(s.a.id, s.b.id) for s in again.screen.pairs] == [(a, b)]
            assert check.people.different_pairs() == set()
    finally:
        again.backend.close()


@run_async
async def test_enter_opens_the_person_of_the_list_or_of_the_focused_faces(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+g")
        screen = app.screen
        assert isinstance(screen, SuggestScreen)
        a, b = screen.pairs[0].a.id, screen.pairs[0].b.id
        await press(pilot, "enter")
        assert isinstance(app.screen, PersonScreen) and app.screen.person_id == a
        await press(pilot, "escape")
        assert app.screen is screen
        await press(pilot, "tab", "tab")  # the list → the left faces → the right faces
        assert screen.query_one("#faces-b", FaceGrid).has_focus
        await press(pilot, "enter")
        assert isinstance(app.screen, PersonScreen) and app.screen.person_id == b
