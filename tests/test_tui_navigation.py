"""Pilot tests of TUI navigation details: no stacked copies of a person, Down through the Unknown groups,
a new person from the Move picker, and a blank name that says why nothing happened."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from photoclust.library import Library
from photoclust.tui.app import PhotoclustApp
from photoclust.tui.screens.person import PersonScreen
from photoclust.tui.screens.photo import PhotoScreen
from photoclust.tui.screens.unknown import UnknownScreen
from tests.helpers import SIZE, face_grid, open_person, person_named, press, run_async, settle, type_text

pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")


@run_async
async def test_enter_in_the_photo_goes_back_to_the_open_person(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        person = await open_person(pilot, "Madonna")
        await press(pilot, "enter")  # the photo of the face under the cursor
        assert isinstance(app.screen, PhotoScreen)
        depth = len(app.screen_stack)
        await press(pilot, "enter")  # the first face of the photo: Madonna, whose screen is open below
        assert app.screen is person and len(app.screen_stack) == depth - 1


@run_async
async def test_down_in_the_group_list_moves_between_unknown_groups(app: PhotoclustApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+u")
        screen = app.screen
        assert isinstance(screen, UnknownScreen) and len(screen.groups) > 2
        groups = screen.query_one("#groups", OptionList)
        await press(pilot, "tab")
        assert groups.has_focus and groups.highlighted == 0
        await press(pilot, "down", "down")
        assert groups.highlighted == 2
        assert [f.id for f in face_grid(app).items] == [f.id for f in screen.groups[2][0]]  # the faces follow


@run_async
async def test_move_picker_offers_a_new_person_for_a_new_name(app: PhotoclustApp, check: Library) -> None:
    madonna = person_named(check, "Madonna")
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "Madonna")
        face = face_grid(app).current
        assert face is not None
        await press(pilot, "v")
        await type_text(pilot, "Young Madonna")
        options = app.screen.query_one("#picker-options", OptionList)
        last = str(options.get_option_at_index(options.option_count - 1).prompt)
        assert last == "+ new person 'Young Madonna'"
        assert options.option_count == 1  # nobody's name matches: Enter takes the offer
        await press(pilot, "enter")
        young = person_named(check, "Young Madonna")
        assert [f.id for f in check.faces(young)] == [face.id] and check.person(madonna).faces == 5
        # an existing name is not offered as new
        await press(pilot, "v")
        await type_text(pilot, "madonna")
        options = app.screen.query_one("#picker-options", OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert not any("new person" in p for p in prompts)
        await press(pilot, "escape")
        await press(pilot, "ctrl+z")
        assert check.person(madonna).faces == 6


@run_async
async def test_a_blank_name_says_so(app: PhotoclustApp, check: Library) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "Madonna")
        await press(pilot, "n", "ctrl+u", "backspace")  # clear the field: ctrl+u deletes to the start
        await press(pilot, "enter")
        assert any("blank name" in n.message for n in app._notifications)
        await press(pilot, "escape")
        assert isinstance(app.screen, PersonScreen) and app.screen.person is not None
        assert app.screen.person.name == "Madonna"
        assert person_named(check, "Madonna")
