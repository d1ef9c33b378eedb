"""The Search screen: photos with one or several people (all of them / any of them / only them)."""

from __future__ import annotations

from typing import ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Footer, Header, Input, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from photoclust.errors import PhotoclustError
from photoclust.tui.backend import SearchMode
from photoclust.tui.screens.base import DataScreen, short_path
from photoclust.types import Person, SearchHit

MODES: list[tuple[SearchMode, str]] = [
    ("all", "all of them"),
    ("any", "any of them"),
    ("only", "only these people"),
]


class NameSuggester(Suggester):
    """Completes the name being typed (the text after the last comma) from the people's names."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.names: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        part = value.rsplit(",", 1)[-1].lstrip()
        if not part:
            return None
        for name in self.names:
            if name.casefold().startswith(part.casefold()) and len(name) > len(part):
                return value[: len(value) - len(part)] + name  # → accepts it, with the name's own case
        return None


class SearchScreen(DataScreen):
    """Type names separated by commas, choose the mode, Enter; Enter on a result shows the photo."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("down", "results", "Results", show=False),
        Binding("f5", "mode('all')", "All"),
        Binding("f6", "mode('any')", "Any"),
        Binding("f7", "mode('only')", "Only"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.suggester = NameSuggester()
        self.results: list[SearchHit] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="names, separated by commas (→ completes)", id="names", suggester=self.suggester)
        with RadioSet(id="mode"):
            for i, (mode, label) in enumerate(MODES):
                yield RadioButton(label, value=i == 0, id=f"mode-{mode}")
        yield Static("Type one or more names and press Enter.", id="search-status", markup=False)
        yield OptionList(id="results")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Search"
        self.query_one("#names", Input).focus()
        super().on_mount()

    def load(self) -> None:
        self.fetch(self.papp.backend.people, self._names, group="names")

    def _names(self, people: list[Person]) -> None:
        self.suggester.names = sorted({p.name for p in people if p.name}, key=str.casefold)

    @property
    def mode(self) -> SearchMode:
        pressed = self.query_one("#mode", RadioSet).pressed_button
        for mode, _label in MODES:
            if pressed is not None and pressed.id == f"mode-{mode}":
                return mode
        return "all"

    def action_mode(self, mode: str) -> None:
        self.query_one(f"#mode-{mode}", RadioButton).value = True

    @on(Input.Submitted, "#names")
    @on(RadioSet.Changed, "#mode")
    def _search(self) -> None:
        names = [n.strip() for n in self.query_one("#names", Input).value.split(",") if n.strip()]
        if not names:
            return
        mode = self.mode
        backend = self.papp.backend
        self.query_one("#search-status", Static).update("Searching…")
        self.fetch(lambda: (names, mode, backend.search(names, mode)), self._show, group="search", failed=self._failed)

    def _failed(self, exc: PhotoclustError) -> None:
        self.query_one("#search-status", Static).update(str(exc))
        self.query_one("#results", OptionList).clear_options()
        self.papp.show_error(exc)

    def _show(self, data: tuple[list[str], SearchMode, list[SearchHit]]) -> None:
        names, mode, results = data
        self.results = results
        label = dict(MODES)[mode]
        self.query_one("#search-status", Static).update(
            f"{len(results):,} photo{'s' if len(results) != 1 else ''} with {label}: {', '.join(names)}"
        )
        options = self.query_one("#results", OptionList)
        options.clear_options()
        options.add_options([Option(short_path(hit.where), id=str(hit.photo_id)) for hit in results])
        if results:
            options.highlighted = 0

    @on(OptionList.OptionSelected, "#results")
    def _open(self, event: OptionList.OptionSelected) -> None:
        self.papp.open_photo(int(cast(str, event.option.id)))

    def action_results(self) -> None:
        self.query_one("#results", OptionList).focus()

    def action_back(self) -> None:
        self.dismiss()
