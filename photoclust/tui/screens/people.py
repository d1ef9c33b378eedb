"""The People screen: a grid of person cards; just type to filter by name."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Footer, Header, Input, Static

from photoclust.tui.screens.base import DataScreen
from photoclust.tui.widgets.grid import PeopleGrid, UnknownEntry, VirtualGrid
from photoclust.types import Person

SUGGESTIONS_DELAY = 1.5  # seconds after the people are shown before "same person?" pairs are counted


class FilterInput(Input):
    """The filter line; Down or Enter goes back to the grid, Escape clears."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "leave", "Back to the grid", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    class Leave(Message):
        pass

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(select_on_focus=False, **kwargs)

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Leave())


class TypeToFilterGrid(PeopleGrid):
    """Printable keys that are not bound to an action start (or continue) the filter."""

    def on_key(self, event: events.Key) -> None:
        if not event.is_printable or not event.character or event.character.isspace():
            return
        if event.key in self.screen.active_bindings:
            return
        event.stop()
        event.prevent_default()
        box = self.screen.query_one(FilterInput)
        box.focus()
        box.insert_text_at_cursor(event.character)


class PeopleScreen(DataScreen):
    """Everyone found in the photos: named people first, then by number of faces."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "name", "Name"),
        Binding("f4", "merge", "Merge"),
        Binding("f8", "hide", "Hide"),
        Binding("f7", "toggle_hidden", "Show hidden"),
        Binding("ctrl+u", "app.unknown", "Unknown"),
        Binding("ctrl+g", "app.suggest", "Same person?"),
        Binding("ctrl+f", "app.search", "Search"),
        Binding("ctrl+s", "app.scan", "Scan"),
        # not in the footer (no room at 120 columns next to Undo): the help screen lists it
        Binding("ctrl+l", "app.history", "History", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.people: list[Person] = []
        self.unknown = UnknownEntry(None, None)
        self.show_hidden = False
        self.loaded = False
        self.suggestions = 0  # "same person?" pairs waiting

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterInput(placeholder="type to filter people by name…", id="filter")
        yield TypeToFilterGrid(id="people")
        yield Static("Loading people…", id="people-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "People"
        self.query_one(PeopleGrid).focus()
        super().on_mount()

    # -- data -----------------------------------------------------------------------------------
    def load(self) -> None:
        self.fetch(self.papp.backend.people, self._show_people, group="people")

    def _show_people(self, people: list[Person]) -> None:
        self.people = people
        self.loaded = True
        self._apply()
        # counted once the cards are up: the count must not delay them
        self.fetch(self.papp.backend.unknown_summary, self._show_unknown, group="unknown")

    def _show_unknown(self, summary: tuple[int, int | None]) -> None:
        self.unknown = UnknownEntry(*summary)
        self._apply()
        backend = self.papp.backend

        # worked out a moment later: on a large library it is seconds of CPU that the cards' pictures,
        # still decoding, must not wait behind (benchmarks/bench_tui.py)
        def count() -> None:
            self.fetch(lambda: len(backend.merge_suggestions()), self._show_suggestions, group="suggestions")

        if SUGGESTIONS_DELAY > 0:
            self.set_timer(SUGGESTIONS_DELAY, count)
        else:
            count()

    def _show_suggestions(self, n: int) -> None:
        self.suggestions = n
        self._status()

    def _apply(self) -> None:
        text = self.query_one(FilterInput).value.strip().casefold()
        shown: list[Person | UnknownEntry] = []
        if not text or "unknown faces".startswith(text):
            if self.unknown.faces != 0:
                shown.append(self.unknown)
        shown.extend(
            p
            for p in self.people
            if (self.show_hidden or not p.hidden) and (not text or text in p.label.casefold() or text == str(p.id))
        )
        self.query_one(PeopleGrid).set_items(shown)
        self._status()

    def _status(self) -> None:
        grid = self.query_one(PeopleGrid)
        if not self.loaded:
            return
        named = sum(1 for p in self.people if p.name and not p.hidden)
        hidden = sum(1 for p in self.people if p.hidden)
        visible = sum(1 for i in grid.items if isinstance(i, Person))
        first, last = grid.visible_range
        parts = [f"{len(self.people) - hidden:,} people ({named:,} named)"]
        if hidden:
            parts.append(f"{hidden:,} hidden" + (" (shown)" if self.show_hidden else " (F7 shows them)"))
        if self.unknown.faces:
            parts.append(f"{self.unknown.faces:,} unknown faces")
        if self.suggestions:
            pair = (
                "2 people may be the same"
                if self.suggestions == 1
                else f"{self.suggestions:,} pairs of people may be the same"
            )
            parts.append(f"{pair}: ctrl+g")
        if grid.items:
            parts.append(f"showing {first + 1}–{last} of {len(grid.items):,}")
        elif self.people:
            parts.append("nobody matches the filter")
        else:
            parts.append("no people yet: scan a folder with ctrl+s")
        if visible != len(self.people) and self.query_one(FilterInput).value:
            parts.append(f"filter: {self.query_one(FilterInput).value!r}")
        self.query_one("#people-status", Static).update(" · ".join(parts))

    # -- events ---------------------------------------------------------------------------------
    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._apply()

    @on(FilterInput.Leave)
    def _leave_filter(self) -> None:
        self.query_one(PeopleGrid).focus()

    @on(Input.Submitted, "#filter")
    def _open_first(self) -> None:
        """Enter in the filter opens the match under the cursor (the first one, after typing)."""
        grid = self.query_one(PeopleGrid)
        grid.focus()
        grid.action_activate()

    @on(VirtualGrid.Highlighted)
    def _highlighted(self) -> None:
        self._status()

    @on(VirtualGrid.Activated)
    def _open(self, event: VirtualGrid.Activated) -> None:
        if isinstance(event.item, UnknownEntry):
            self.papp.action_unknown()
        else:
            self.papp.open_person(event.item.id)

    # -- actions on the person under the cursor --------------------------------------------------
    def _current_person(self) -> Person | None:
        item = self.query_one(PeopleGrid).current
        if isinstance(item, Person):
            return item
        self.notify("Choose a person first (the unknown faces are not a person).", severity="warning")
        return None

    def action_name(self) -> None:
        person = self._current_person()
        if person is not None:
            self.papp.ask_name(person)

    def action_merge(self) -> None:
        person = self._current_person()
        if person is not None:
            self.papp.ask_merge(person)

    def action_hide(self) -> None:
        person = self._current_person()
        if person is not None:
            self.papp.toggle_hidden(person)

    def action_toggle_hidden(self) -> None:
        self.show_hidden = not self.show_hidden
        self.notify("Showing hidden people" if self.show_hidden else "Hidden people are hidden again")
        self._apply()

    def action_clear_filter(self) -> None:
        box = self.query_one(FilterInput)
        if box.value:
            box.value = ""
        self.query_one(PeopleGrid).focus()
