"""The "Same person?" screen: pairs of people that are probably one person, with both people's faces.

The pairs come from the library (``Library.merge_suggestions``); ``y`` merges the right-hand person into
the left-hand one (``Library.merge``), ``n`` stores that they are different people
(``Library.declare_different``); both are one undoable step each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from photoclust.people import MergeSuggestion
from photoclust.tui.screens.base import DataScreen
from photoclust.tui.widgets.grid import FaceGrid, VirtualGrid
from photoclust.types import Face, Person

if TYPE_CHECKING:
    from photoclust.library import Library


def who(person: Person) -> str:
    """'Alice (24 faces)' / 'Unnamed (5 faces)'."""
    n = person.faces
    return f"{person.name or 'Unnamed'} ({n:,} face{'' if n == 1 else 's'})"


def pair_label(s: MergeSuggestion) -> str:
    """'87% · Alice (24 faces) = Unnamed (5 faces)'."""
    return f"{s.score:.0%} · {who(s.a)} = {who(s.b)}"


class SuggestScreen(DataScreen):
    """Review "same person?" suggestions: accept (merge), decline (different people), or open a person."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=False),
        Binding("y", "yes", "Yes, merge"),
        Binding("n", "no", "No, different"),
        Binding("enter", "open", "Open person"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[MergeSuggestion] = []
        self.shown: tuple[int, int] | None = None  # the pair whose faces are on screen

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(id="pairs")
            with Vertical(id="suggest-main"):
                yield Static("Looking for people who may be the same…", id="question", markup=False)
                with Horizontal(id="suggest-sides"):
                    with Vertical(classes="suggest-side -left"):
                        yield Static("", id="caption-a", classes="suggest-caption", markup=False)
                        yield FaceGrid(id="faces-a")
                    with Vertical(classes="suggest-side"):
                        yield Static("", id="caption-b", classes="suggest-caption", markup=False)
                        yield FaceGrid(id="faces-b")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Same person?"
        self.query_one("#pairs", OptionList).focus()
        super().on_mount()

    # -- data -----------------------------------------------------------------------------------
    def load(self) -> None:
        self.fetch(self.papp.backend.merge_suggestions, self._show, group="pairs")

    def _show(self, pairs: list[MergeSuggestion]) -> None:
        options = self.query_one("#pairs", OptionList)
        keep = options.highlighted or 0
        self.pairs = pairs
        self.shown = None
        options.clear_options()
        options.add_options([Option(pair_label(s), id=f"{s.a.id}-{s.b.id}") for s in pairs])
        if pairs:
            options.highlighted = min(keep, len(pairs) - 1)
        self._show_pair()

    def _pair(self) -> MergeSuggestion | None:
        i = self.query_one("#pairs", OptionList).highlighted
        return self.pairs[i] if i is not None and 0 <= i < len(self.pairs) else None

    def _show_pair(self) -> None:
        pair = self._pair()
        question = self.query_one("#question", Static)
        if pair is None:
            question.update("No suggestions: no two people look like one.")
            for side in "ab":
                self.query_one(f"#caption-{side}", Static).update("")
                self.query_one(f"#faces-{side}", FaceGrid).set_items([])
            return
        question.update("Same person?  y: yes (merge) · n: no (different people) · Enter: open")
        for side, person in (("a", pair.a), ("b", pair.b)):
            photos = f"{person.photos:,} photo{'' if person.photos == 1 else 's'}"
            self.query_one(f"#caption-{side}", Static).update(f"{who(person)} · {photos} · #{person.id}")
        key = (pair.a.id, pair.b.id)
        if key == self.shown:
            return
        self.shown = key
        backend = self.papp.backend
        self.fetch(lambda: backend.pair_faces(*key), lambda faces: self._faces(key, faces), group="pair")

    def _faces(self, key: tuple[int, int], faces: tuple[list[Face], list[Face]]) -> None:
        if key != self.shown:
            return  # the cursor moved on meanwhile
        for side, items in zip("ab", faces, strict=True):
            self.query_one(f"#faces-{side}", FaceGrid).set_items(items, keep_cursor=False)

    @on(OptionList.OptionHighlighted, "#pairs")
    def _pair_changed(self) -> None:
        self._show_pair()

    @on(OptionList.OptionSelected, "#pairs")
    def _pair_chosen(self) -> None:
        self.action_open()

    @on(VirtualGrid.Activated)
    def _face_chosen(self, event: VirtualGrid.Activated) -> None:
        event.stop()
        self.action_open()

    # -- actions --------------------------------------------------------------------------------
    def _side(self) -> Person | None:
        """The person the keys are about: the one whose faces have the focus, else the left one."""
        pair = self._pair()
        if pair is None:
            return None
        return pair.b if self.query_one("#faces-b", FaceGrid).has_focus else pair.a

    def action_open(self) -> None:
        person = self._side()
        if person is not None:
            self.papp.open_person(person.id)

    def action_yes(self) -> None:
        self._answer(
            lambda lib, a, b: lib.merge([b.id], a.id),
            lambda a, b: f"Merged {who(b)} into {who(a)} (ctrl+z undoes it)",
        )

    def action_no(self) -> None:
        self._answer(
            lambda lib, a, b: lib.declare_different(a.id, b.id),
            lambda a, b: f"{who(a)} and {who(b)} are different people: not suggested again",
        )

    def _answer(
        self, edit: Callable[[Library, Person, Person], None], message: Callable[[Person, Person], str]
    ) -> None:
        """Apply the answer to the highlighted pair as one undoable edit."""
        pair = self._pair()
        if pair is None:
            self.notify("No suggestion here.", severity="warning")
            return
        a, b = pair.a, pair.b
        self.papp.edit(lambda lib: edit(lib, a, b), message(a, b))

    def action_back(self) -> None:
        self.dismiss()
