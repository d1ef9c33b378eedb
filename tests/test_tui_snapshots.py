"""SVG snapshots of the TUI's screens on the photos in data/ (pytest-textual-snapshot).

The library holds the real photos of data/photos with the faces the real detector finds in them
(boxes frozen in test_tui.BOXES, thumbnails cut from the photos), so the pictures are real and the
snapshots deterministic: fixed ids, no clock, no absolute or temporary paths on screen, and the
half-block renderer, whatever the terminal. Update with ``pytest --snapshot-update`` and look at the
SVGs (the report that pytest-textual-snapshot writes shows them side by side on failure).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual_image import _terminal

from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.store import Store
from photoclust.tui.app import PhotoclustApp, make_app
from tests.helpers import SIZE, build_library, press, settle, type_text

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")

Steps = Callable[[Pilot[None]], Awaitable[None]]


@pytest.fixture(scope="module")
def snapshot_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snap") / "template.db"
    build_library(path)
    return path


@pytest.fixture
def app(snapshot_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PhotoclustApp]:
    # the cell size textual-image assumes when it cannot ask a terminal: fixed, so pictures are too
    monkeypatch.setattr(_terminal.get_cell_size, "_result", _terminal.CellSize(10, 20), raising=False)
    db = tmp_path / "photos.db"  # the header shows the file name
    with Store.open(snapshot_db) as src:
        src.db.execute("VACUUM INTO ?", [str(db)])
    app = make_app(db, renderer="halfcell", scan_settings=ScanSettings(workers=1))
    yield app
    app.backend.close()


@pytest.fixture
def split_app(snapshot_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PhotoclustApp]:
    """The same library with Madonna split in two (her three weakest faces a person of their own)."""
    monkeypatch.setattr(_terminal.get_cell_size, "_result", _terminal.CellSize(10, 20), raising=False)
    db = tmp_path / "photos.db"
    with Store.open(snapshot_db) as src:
        src.db.execute("VACUUM INTO ?", [str(db)])
    with Library(db) as lib:
        madonna = next(p.id for p in lib.list_people() if p.name == "Madonna")
        lib.split([f.id for f in lib.faces(madonna)][3:])
    app = make_app(db, renderer="halfcell", scan_settings=ScanSettings(workers=1))
    yield app
    app.backend.close()


def steps(*keys: str, text: str = "", then: tuple[str, ...] = ()) -> Steps:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await press(pilot, *keys)
        if text:
            await type_text(pilot, text)
        await press(pilot, *then)
        await settle(pilot)

    return run


def test_people_screen(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=steps())


def test_person_screen(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    # Elton John, the second face selected, the cursor on the third
    assert snap_compare(
        app, terminal_size=SIZE, run_before=steps(text="elton", then=("enter", "right", "space", "right"))
    )


def test_unknown_screen(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=steps("ctrl+u"))


def test_photo_screen(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    # Obama, Biden and a child nobody has named: two green boxes and an orange one
    assert snap_compare(
        app,
        terminal_size=SIZE,
        run_before=steps("ctrl+f", text="barack obama, joe", then=("right", "enter", "down", "enter")),
    )


def test_search_screen(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    assert snap_compare(
        app,
        terminal_size=SIZE,
        run_before=steps("ctrl+f", text="barack obama, joe", then=("right", "f6", "down")),
    )


def test_suggest_screen(snap_compare: Callable[..., bool], split_app: PhotoclustApp) -> None:
    # "Same person?": Madonna and her three split-off faces, side by side
    assert snap_compare(split_app, terminal_size=SIZE, run_before=steps("ctrl+g"))


def test_people_screen_80x24(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    # the smallest usual terminal: smaller cards, so that two rows of people fit (one did)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps())


def test_person_screen_zoomed_with_big_picture(snap_compare: Callable[..., bool], app: PhotoclustApp) -> None:
    # Madonna's faces two zoom steps up, the big picture (z) of the second one beside them
    assert snap_compare(
        app, terminal_size=SIZE, run_before=steps(text="madonna", then=("enter", "plus", "plus", "z", "right"))
    )
