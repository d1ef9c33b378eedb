"""Pilot tests of the terminal UI: each action done with keys, then the database checked.

The library is built from the real photos in data/photos with the face boxes the real detector
finds in them (frozen below), so these tests need no model; one slow test scans for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.store import Store
from photoclust.tui.app import PhotoclustApp, make_app
from photoclust.tui.backend import Backend
from photoclust.tui.screens.people import PeopleScreen
from photoclust.tui.screens.person import PersonScreen
from photoclust.tui.screens.photo import PhotoScreen
from photoclust.tui.screens.search import SearchScreen
from photoclust.tui.screens.unknown import UnknownScreen
from photoclust.tui.widgets.grid import FaceGrid, PeopleGrid, UnknownEntry
from tests.helpers import (
    PHOTOS,
    SIZE,
    face_grid,
    open_person,
    people_grid,
    person_named,
    person_of,
    press,
    run_async,
    settle,
    type_text,
)

# textual-image 0.12 still calls Image.getdata (deprecated in Pillow 12, gone in 14: pinned <14).
pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")


# -- fixtures and helpers ------------------------------------------------------------------------


# -- People screen ---------------------------------------------------------------------------------


@run_async
async def test_people_screen_lists_named_first_then_by_size(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        grid = people_grid(app)
        assert isinstance(grid.items[0], UnknownEntry) and grid.items[0].faces == 8
        labels = [i.label for i in grid.items[1:]]  # type: ignore[union-attr]
        assert labels[:3] == ["Elton John", "Barack Obama", "Madonna"]  # named, by size (7, 6, 6), then name
        assert labels[3:] == ["Unnamed · 7 faces", "Unnamed · 7 faces", "Unnamed · 4 faces", "Unnamed · 3 faces"]
        assert "Joe Biden" not in labels  # hidden
        # only the visible cards exist, and their pictures came from the stored thumbnails
        assert len(grid.children) == 18
        assert all(app.backend.has_thumbnail(i.cover_face_id) for i in grid.items if i.cover_face_id)


@run_async
async def test_type_to_filter_and_clear(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "mad")
        assert [i.label for i in people_grid(app).items] == ["Madonna"]  # type: ignore[union-attr]
        assert app.screen.query_one("#filter", Input).value == "mad"
        await press(pilot, "escape")
        assert len(people_grid(app).items) == 8


@run_async
async def test_hidden_people_toggle_and_unhide(app: PhotoclustApp, check: Library) -> None:
    biden = person_named(check, "Joe Biden")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f7")  # show hidden people
        await type_text(pilot, "joe")
        grid = people_grid(app)
        assert [i.label for i in grid.items] == ["Joe Biden"]  # type: ignore[union-attr]
        await press(pilot, "down", "f8")  # back to the grid, unhide
        assert not check.person(biden).hidden
        await press(pilot, "f8")  # and hide again
        assert check.person(biden).hidden


@run_async
async def test_name_from_people_screen(app: PhotoclustApp, check: Library, faces: dict[str, list[int]]) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "unnamed")
        await press(pilot, "down", "f2")
        await type_text(pilot, "Someone")
        await press(pilot, "enter")
        named = [p for p in check.list_people() if p.name == "Someone"]
        assert len(named) == 1 and named[0].faces == 7


# -- Person screen ---------------------------------------------------------------------------------


@run_async
async def test_open_person_and_rename(app: PhotoclustApp, check: Library) -> None:
    madonna = person_named(check, "Madonna")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_person(pilot, "Madonna")
        assert screen.person_id == madonna
        assert len(face_grid(app).items) == 6
        await press(pilot, "n")
        assert app.screen.query_one(Input).value == "Madonna"
        await press(pilot, "ctrl+a")  # home, then replace the whole line
        await press(pilot, "ctrl+k")
        await type_text(pilot, "Madonna Ciccone")
        await press(pilot, "enter")
        assert check.person(madonna).name == "Madonna Ciccone"
        assert app.screen.title == "Madonna Ciccone"


@run_async
async def test_merge_via_picker(app: PhotoclustApp, check: Library, faces: dict[str, list[int]]) -> None:
    kit = person_of(check.store, faces["kit_harington"][0])
    mindy = person_of(check.store, faces["mindy_kaling"][0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "4 faces")  # Kit's 4 faces, still unnamed
        await press(pilot, "enter")
        assert isinstance(app.screen, PersonScreen) and app.screen.person_id == kit
        await press(pilot, "n")
        await type_text(pilot, "Kit")
        await press(pilot, "enter")
        # now merge Mindy (unnamed, 7 faces) into Kit through the picker's fuzzy search
        await press(pilot, "escape", "escape")  # back to People, clear the filter
        await type_text(pilot, "7 faces")
        await press(pilot, "down")  # from the filter to the grid
        grid = people_grid(app)
        for _ in range(len(grid.items)):
            if grid.current.id == mindy:  # type: ignore[union-attr]
                break
            await press(pilot, "right")
        assert grid.current.id == mindy, grid.items  # type: ignore[union-attr]
        await press(pilot, "f4")
        await type_text(pilot, "kt")  # fuzzy: K…t
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(0).id == str(kit)
        await press(pilot, "enter")
    assert check.person(kit).faces == 11
    assert mindy not in {p.id for p in check.list_people(include_hidden=True)}


@run_async
async def test_split_move_remove_confirm(app: PhotoclustApp, check: Library, faces: dict[str, list[int]]) -> None:
    elton = person_named(check, "Elton John")
    madonna = person_named(check, "Madonna")
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "Elton")
        grid = face_grid(app)
        first, second, third = (f.id for f in grid.items[:3])
        # split: select two faces (space, shift+right) and make them a new person
        await press(pilot, "space", "right", "shift+right")
        assert grid.selected == {first, second, third}
        await press(pilot, "space")  # deselect the third again
        assert grid.selected == {first, second}
        await press(pilot, "s")
        await type_text(pilot, "Young Elton")
        await press(pilot, "enter")
        young = person_named(check, "Young Elton")
        assert {f.id for f in check.faces(young)} == {first, second}
        assert check.person(elton).faces == 5
        assert not grid.selected
        # move the face under the cursor to Madonna with the picker
        moved = grid.current.id  # type: ignore[union-attr]
        await press(pilot, "v")
        await type_text(pilot, "madonna")
        await press(pilot, "enter")
        assert check.face(moved).person_id == madonna
        # remove ("not this person"): the face becomes unknown and is rejected for Elton
        removed = grid.current.id  # type: ignore[union-attr]
        await press(pilot, "r")
        assert check.face(removed).person_id is None
        assert elton in check.people.rejections()[removed]
        # confirm every remaining face
        await press(pilot, "a", "c")
        assert all(f.confirmed for f in check.faces(elton))
        assert check.person(elton).faces == 3


@run_async
async def test_cover_not_a_face_and_open_file(
    app: PhotoclustApp, check: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("photoclust.tui.app.open_in_viewer", lambda path, at=None: opened.append(path))
    obama = person_named(check, "Barack Obama")
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "Obama")
        grid = face_grid(app)
        await press(pilot, "right", "p")
        cover = grid.items[1].id
        assert check.person(obama).cover_face_id == cover
        await press(pilot, "o")
        assert opened == [check.face(cover).path]
        await press(pilot, "x")
        assert check.store.db.execute("SELECT not_face FROM faces WHERE id = ?", [cover]).fetchone()[0] == 1
        assert cover not in {f.id for f in check.faces(obama)}
        assert len(grid.items) == 5


@run_async
async def test_undo_and_redo(app: PhotoclustApp, check: Library) -> None:
    madonna = person_named(check, "Madonna")
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "Madonna")
        await press(pilot, "a", "r")  # remove all of Madonna's faces
        assert check.person(madonna).faces == 0
        assert not face_grid(app).items
        await press(pilot, "ctrl+z")
        assert check.person(madonna).faces == 6
        assert len(face_grid(app).items) == 6  # the view followed the undo
        await press(pilot, "ctrl+y")
        assert check.person(madonna).faces == 0
        await press(pilot, "ctrl+z", "ctrl+z")  # nothing more to undo: a warning, no crash
        assert check.person(madonna).faces == 6
        await press(pilot, "ctrl+l")
        history = app.screen.query_one("#history", OptionList)
        assert "undone" in str(history.get_option_at_index(0).prompt)


# -- Unknown, Photo, Search ------------------------------------------------------------------------


@run_async
async def test_unknown_faces_suggestion_new_person_and_move(
    app: PhotoclustApp, check: Library, faces: dict[str, list[int]]
) -> None:
    madonna = person_named(check, "Madonna")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")  # the first card is the unknown faces
        screen = app.screen
        assert isinstance(screen, UnknownScreen)
        assert sorted(f.id for g, _p in screen.groups for f in g) == sorted(faces["unknown"])
        # the group the library suggests Madonna for: "Is this Madonna?" y
        suggested = [i for i, (_g, p) in enumerate(screen.groups) if p is not None]
        assert [screen.groups[i][1].id for i in suggested] == [madonna]  # type: ignore[union-attr]
        await press(pilot, "tab", "home", *["down"] * suggested[0], "tab")
        assert "Is this Madonna?" in str(screen.query_one("#question").render())
        await press(pilot, "y")
        assert check.person(madonna).faces == 7
        await press(pilot, "tab", "home", "tab")
        # a new person from the faces of a group, then another unknown face moved to them
        await press(pilot, "s")
        await type_text(pilot, "Zed")
        await press(pilot, "enter")
        zed = person_named(check, "Zed")
        assert check.person(zed).faces == 1
        zed_photo = check.faces(zed)[0].photo_id
        other = next(i for i, (g, _p) in enumerate(screen.groups) if g[0].photo_id != zed_photo)
        await press(pilot, "tab", "home", *["down"] * other, "tab")
        moving = face_grid(app).current
        assert moving is not None and moving.photo_id != zed_photo
        await press(pilot, "space", "v")
        await type_text(pilot, "zed")
        await press(pilot, "enter")
        assert check.person(zed).faces == 2 and check.face(moving.id).person_id == zed


@run_async
async def test_unknown_faces_no_is_remembered(app: PhotoclustApp, check: Library) -> None:
    madonna = person_named(check, "Madonna")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        screen = app.screen
        assert isinstance(screen, UnknownScreen)
        idx = next(i for i, (_g, p) in enumerate(screen.groups) if p is not None and p.id == madonna)
        group_faces = [f.id for f in screen.groups[idx][0]]
        await press(pilot, "tab", "home", *["down"] * idx, "tab")
        await press(pilot, "n")
        await settle(pilot)
        # a decision, not a session skip: stored, and Madonna is never suggested for these faces again
        rejected = check.people.rejections()
        assert all(madonna in rejected[f] for f in group_faces)
        again = {f.id: p for g, p in check.unknown_groups() for f in g}
        assert all(again[f] is None or again[f].id != madonna for f in group_faces)
        await press(pilot, "ctrl+z")
        await settle(pilot)
        assert not any(madonna in check.people.rejections().get(f, ()) for f in group_faces)


@run_async
async def test_photo_screen_shows_faces_and_names(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "Obama")
        await press(pilot, "enter")
        screen = app.screen
        assert isinstance(screen, PhotoScreen) and screen.view is not None
        names = [str(o.prompt) for o in screen.query_one("#photo-faces", OptionList).options]
        assert names[0].startswith("1. Barack Obama")
        assert screen.query_one("#photo").image is not None  # type: ignore[attr-defined]
        await press(pilot, "enter")  # the face's person
        assert isinstance(app.screen, PersonScreen)


OBAMA = ["obama/01.jpg", "obama/02.jpg", "obama/03.jpg", "obama/04.jpg", "obama/05.jpg"]
BOTH = "group/face_recognition_obama_and_biden.jpg"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [([], [BOTH]), (["f6"], ["biden/01.jpg", "biden/02.jpg", BOTH, *OBAMA]), (["f7"], [])],
    ids=["all", "any", "only"],
)
@run_async
async def test_search(app: PhotoclustApp, keys: list[str], expected: list[str]) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+f")
        assert isinstance(app.screen, SearchScreen)
        await type_text(pilot, "bar")
        await press(pilot, "right")  # accept the suggested name
        await type_text(pilot, ", jo")
        await press(pilot, "right")
        assert app.screen.query_one("#names", Input).value == "Barack Obama, Joe Biden"
        await press(pilot, "enter", *keys)
        results = [str(o.prompt) for o in app.screen.query_one("#results", OptionList).options]
        assert sorted(results) == expected
        if results:
            await press(pilot, "down", "enter")
            assert isinstance(app.screen, PhotoScreen)


@run_async
async def test_search_only_these_people(app: PhotoclustApp, check: Library, faces: dict[str, list[int]]) -> None:
    # the child in the Obama/Biden photo is nobody yet: "only" excludes that photo until it is
    # named one of the searched people; a photo of Obama alone is "only Obama"
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "ctrl+f")
        await type_text(pilot, "obama")  # a name is matched whole: nobody is called "obama"
        await press(pilot, "enter")
        assert "no person named 'obama': did you mean 'Barack Obama'?" in str(
            app.screen.query_one("#search-status").render()
        )
        await press(pilot, "ctrl+a", "ctrl+k")
        await type_text(pilot, "barack obama")
        await press(pilot, "f7", "enter")
        results = [str(o.prompt) for o in app.screen.query_one("#results", OptionList).options]
        assert results[:2] == ["obama/03.jpg", "obama/01.jpg"]  # oldest first; undated ones after
        assert sorted(results) == OBAMA


@run_async
async def test_errors_are_notified(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "ctrl+f")
        await type_text(pilot, "nobody at all")
        await press(pilot, "enter")
        assert any("no person named" in n.message and n.severity == "error" for n in app._notifications)


@run_async
async def test_help_and_keys_everywhere(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await press(pilot, "escape", "ctrl+u")
        assert isinstance(app.screen, UnknownScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, PeopleScreen)


@run_async
async def test_mouse_opens_person_and_selects_faces(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        grid = people_grid(app)
        await pilot.click(grid._tiles[1])
        await settle(pilot)
        assert isinstance(app.screen, PersonScreen)
        fgrid = face_grid(app)
        await pilot.click(fgrid._tiles[0])
        await pilot.click(fgrid._tiles[2], shift=True)
        await settle(pilot)
        assert fgrid.selected == {f.id for f in fgrid.items[:3]}


# -- Scan ------------------------------------------------------------------------------------------


@pytest.mark.slow
@run_async
async def test_scan_from_the_app(tmp_path: Path) -> None:
    """The real pipeline (models) on four photos, started from the app's Scan screen."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for rel in ("obama/01.jpg", "obama/02.jpg", "biden/01.jpg", "madonna/01.jpg"):
        (folder / rel.replace("/", "_")).write_bytes((PHOTOS / rel).read_bytes())
    app = make_app(tmp_path / "scan.db", renderer="halfcell", scan_settings=ScanSettings(workers=1))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "ctrl+s")
            await type_text(pilot, str(folder))
            await pilot.press("enter")
            for _ in range(600):
                await pilot.pause(0.2)
                if not app.scanning:
                    break
            await settle(pilot)
            assert app.last_scan is not None and app.last_scan.new == 4 and app.last_scan.faces >= 4
            await press(pilot, "escape")
            assert isinstance(app.screen, PeopleScreen)
            grid = people_grid(app)
            assert grid.items
    finally:
        app.backend.close()
    with Library(tmp_path / "scan.db") as lib:
        assert lib.status().photos == 4
        # the scan was followed by a clustering run (one undoable step), as `photoclust scan` does
        assert [e.kind for e in lib.history()] == ["cluster"]
        assert lib.unknown_count() + sum(p.faces for p in lib.list_people(include_hidden=True)) >= 4


@run_async
async def test_scan_progress_and_cancel_without_models(app: PhotoclustApp, tmp_path: Path) -> None:
    """The Scan screen drives Library.scan in a worker; an empty folder needs no model."""
    empty = tmp_path / "empty"
    empty.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "ctrl+s")
        await type_text(pilot, str(empty))
        await press(pilot, "enter")
        assert app.last_scan is not None and app.last_scan.seen == 0
        # nothing to cancel: ctrl+x is not offered and does nothing (no message, the screen stays)
        scan_screen, shown = app.screen, len(list(app._notifications))
        assert scan_screen.check_action("cancel_scan", ()) is False
        await press(pilot, "ctrl+x")
        assert app.screen is scan_screen and len(list(app._notifications)) == shown
        await press(pilot, "escape")
        assert isinstance(app.screen, PeopleScreen)


def test_backend_thumbnail_cache_is_bounded(library_path: Path) -> None:
    backend = Backend(Library(library_path), thumbnails=4)
    backend.load_thumbnails(range(1, 10))
    assert sum(backend.has_thumbnail(i) for i in range(1, 10)) == 4
    img = backend.cached_thumbnail(9)
    assert img is not None and img.size == (128, 128)
    backend.close()


def test_the_stylesheet_the_app_names_ships_beside_it_and_styles_its_widgets() -> None:
    from photoclust.tui import app as tui_app

    css = Path(tui_app.__file__).with_name(str(PhotoclustApp.CSS_PATH)).read_text()
    assert all(widget in css for widget in ("PeopleGrid", "FaceGrid"))


# -- zoom and the big picture (issue 14: faces too small to recognise in half-block mode) ----------


def picture_size(grid: PeopleGrid | FaceGrid) -> tuple[int, int]:
    """The size in cells of the pictures on the grid's visible tiles (all the same)."""
    tiles = [t for t in grid.children if not t.has_class("-empty")]
    sizes = {(t.query_one(".thumb").region.width, t.query_one(".thumb").region.height) for t in tiles}
    assert len(sizes) == 1, sizes
    return sizes.pop()


@run_async
async def test_plus_and_minus_zoom_every_grid_and_the_choice_survives_a_restart(
    library_path: Path, tmp_path: Path
) -> None:
    app = make_app(library_path, renderer="halfcell", scan_settings=ScanSettings(workers=1))
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            grid = people_grid(app)
            assert (grid.level, grid.columns, picture_size(grid)) == (2, 8, (16, 8))  # 20-cell cards
            await press(pilot, "plus")
            assert (grid.level, grid.columns, picture_size(grid)) == (3, 5, (24, 12))  # 28-cell cards
            await press(pilot, "plus")
            assert (grid.level, grid.columns, picture_size(grid)) == (4, 4, (32, 16))
            assert grid.current is not None  # the cursor and the cards are still there
            await press(pilot, "minus")
            assert (grid.level, grid.columns) == (3, 5)
            # the Person screen's faces follow the same choice
            screen = await open_person(pilot, "madonna")
            faces = face_grid(app)
            assert (faces.level, faces.columns, picture_size(faces)) == (3, 6, (24, 12))  # 26-cell tiles
            await press(pilot, "minus", "minus", "minus")
            assert (faces.level, faces.columns, picture_size(faces)) == (0, 13, (10, 5))
            await press(pilot, "minus")  # no smaller level: nothing changes
            assert faces.level == 0
            await press(pilot, "plus")
            assert (faces.level, faces.columns) == (1, 11)
            assert len(faces.items) == 6 and faces.current is not None
            await press(pilot, "escape")
            assert app.screen is not screen and people_grid(app).level == 1
        assert app.ui_settings.tile_size == 1
    finally:
        app.backend.close()
    # a new run of the app (the settings file, not the library, remembers it)
    again = make_app(library_path, renderer="halfcell", scan_settings=ScanSettings(workers=1))
    try:
        async with again.run_test(size=(160, 50)) as pilot:
            await settle(pilot)
            assert (people_grid(again).level, people_grid(again).columns) == (1, 10)
    finally:
        again.backend.close()
    with Store.open(library_path) as store:
        tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert not any("setting" in t for t in tables)


@run_async
async def test_at_80x24_two_rows_fit_without_zooming(app: PhotoclustApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        grid = people_grid(app)
        assert grid.rows >= 2 and grid.columns >= 4, (grid.rows, grid.columns)
        await open_person(pilot, "elton")
        faces = face_grid(app)
        assert faces.rows >= 2 and len(faces.items) == 7
        assert app.ui_settings.tile_size is None  # nothing chosen, nothing saved


@run_async
async def test_z_shows_a_big_picture_of_the_face_under_the_cursor(
    app: PhotoclustApp, faces: dict[str, list[int]]
) -> None:
    from photoclust.tui.widgets.preview import FacePreview

    async with app.run_test(size=SIZE) as pilot:
        screen = await open_person(pilot, "elton")
        preview = screen.query_one(FacePreview)
        assert not preview.display
        await press(pilot, "z")
        assert preview.display and app.ui_settings.preview
        grid = face_grid(app)
        assert preview.face_id == grid.current.id  # type: ignore[union-attr]
        picture = preview.query_one(".preview-picture")
        assert picture.region.width >= 40 and picture.region.width == 2 * picture.region.height
        assert picture.image is app.backend.cached_thumbnail(preview.face_id)  # type: ignore[attr-defined,arg-type]
        await press(pilot, "right")
        assert preview.face_id == grid.current.id == grid.items[1].id  # type: ignore[union-attr]
        # the Unknown faces screen shows it too, and z there hides it everywhere
        await press(pilot, "escape", "ctrl+u")
        unknown = app.screen.query_one(FacePreview)
        assert unknown.display and unknown.face_id == face_grid(app).current.id  # type: ignore[union-attr]
        await press(pilot, "z")
        assert not unknown.display and not app.ui_settings.preview
