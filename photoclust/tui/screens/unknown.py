"""The Unknown faces screen: faces that belong to nobody yet, grouped by similarity.

Each group may come with a suggested person ("Is this Alice? y/n"). The grouping and the suggestion
come from the library (``Library.unknown_groups``); without it the faces form one group.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from photoclust.tui.backend import UnknownGroup
from photoclust.tui.screens.base import FaceGridScreen
from photoclust.tui.widgets.grid import FaceGrid
from photoclust.tui.widgets.preview import FacePreview
from photoclust.types import Face, Person


class UnknownScreen(FaceGridScreen):
    """Put names on unknown faces: accept a suggestion, start a new person, or move faces to someone."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=False),
        Binding("y", "yes", "Yes"),
        Binding("n", "no", "No"),
        Binding("s", "new_person", "New person"),
        Binding("v", "move", "Move"),
        Binding("x", "not_face", "Not a face"),
        Binding("o", "open", "Open"),
        Binding("tab", "switch", "Groups/faces", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[UnknownGroup] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(id="groups")
            with Vertical(id="unknown-main"):
                yield Static("", id="question", markup=False)
                yield Static("", id="face-info", markup=False)
                yield FaceGrid(id="faces")
            yield FacePreview(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Unknown faces"
        self.query_one(FaceGrid).focus()
        super().on_mount()

    # -- data -----------------------------------------------------------------------------------
    def load(self) -> None:
        self.fetch(self.papp.backend.unknown_groups, self._show, group="groups")

    def _show(self, groups: list[UnknownGroup]) -> None:
        options = self.query_one("#groups", OptionList)
        keep = options.highlighted or 0
        self.groups = groups
        options.clear_options()
        options.add_options(
            [Option(_group_label(i, faces, person), id=str(i)) for i, (faces, person) in enumerate(self.groups)]
        )
        if self.groups:
            options.highlighted = min(keep, len(self.groups) - 1)
        self._show_group()

    def _group(self) -> UnknownGroup | None:
        i = self.query_one("#groups", OptionList).highlighted
        return self.groups[i] if i is not None and 0 <= i < len(self.groups) else None

    def _show_group(self) -> None:
        group = self._group()
        grid = self.query_one(FaceGrid)
        question = self.query_one("#question", Static)
        if group is None:
            grid.set_items([])
            question.update("No unknown faces: everyone has a name or a group.")
            return
        faces, person = group
        grid.set_items(faces, keep_cursor=False)
        if person is not None:
            question.update(f"Is this {person.label}?  y: yes · n: no · s: someone new · v: move to…")
        else:
            question.update("Who is this?  s: new person · v: move to someone · x: not a face")
        self._info()

    @on(OptionList.OptionHighlighted, "#groups")
    def _group_changed(self) -> None:
        self._show_group()

    @on(OptionList.OptionSelected, "#groups")
    def _group_chosen(self) -> None:
        self.query_one(FaceGrid).focus()

    # -- actions --------------------------------------------------------------------------------
    def _faces(self) -> list[int]:
        """The selected faces, or the whole group when nothing is selected."""
        grid = self.query_one(FaceGrid)
        faces = grid.selected_items() or grid.items
        return [f.id for f in faces]

    def action_switch(self) -> None:
        if self.query_one(FaceGrid).has_focus:
            self.query_one("#groups", OptionList).focus()
        else:
            self.query_one(FaceGrid).focus()

    def action_yes(self) -> None:
        group = self._group()
        if group is None or group[1] is None:
            self.notify("No suggestion for this group: use s (new person) or v (move to).", severity="warning")
            return
        faces, person = self._faces(), group[1]
        self.papp.edit(
            lambda lib: lib.move(faces, person.id), f"{_n_faces(len(faces))} {person.label}", then=self._done
        )

    def action_no(self) -> None:
        group = self._group()
        if group is None:
            return
        person = group[1]
        if person is None:
            # "no" answers "Is this X?"; with nobody suggested there is nothing to decline (and hiding
            # the group would store nothing: it would be back next time)
            self.notify(
                "Nobody is suggested for this group, so there is nothing to decline: s: new person ·"
                " v: move to someone · x: not a face · Tab, ↓: next group",
                severity="warning",
            )
            return
        faces = self._faces()
        # recorded as a decision: this person is never suggested for these faces again
        self.papp.edit(
            lambda lib: lib.reject(faces, person.id), f"{_n_faces(len(faces))} not {person.label}", then=self._done
        )

    def action_new_person(self) -> None:
        faces = self._faces()
        if faces:
            self.papp.ask_split(faces, then=self._done)

    def action_move(self) -> None:
        faces = self._faces()
        if faces:
            self.papp.ask_move(faces, exclude=(), then=self._done)


def _n_faces(n: int) -> str:
    """'1 face is' / '3 faces are'."""
    return "1 face is" if n == 1 else f"{n} faces are"


def _group_label(i: int, faces: list[Face], person: Person | None) -> str:
    label = f"{len(faces):,} face{'s' if len(faces) != 1 else ''}"
    return f"{label} · {person.label}?" if person is not None else f"Group {i + 1} · {label}"
