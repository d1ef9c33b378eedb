"""Small modal dialogs: a one-line text prompt and a person picker with fuzzy search over names."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import FuzzySearch
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from photoclust.errors import PhotoclustError
from photoclust.types import Person

if TYPE_CHECKING:
    from photoclust.tui.app import PhotoclustApp

PICKER_LIMIT = 200  # options shown at once; typing narrows the rest down


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; Enter accepts, Escape cancels (result None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "", allow_empty: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._value = value
        self._placeholder = placeholder
        self._allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="dialog-title", markup=False)
            yield Input(self._value, placeholder=self._placeholder, id="prompt-input", select_on_focus=True)
            yield Static("Enter: OK · Escape: cancel", classes="dialog-help")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value and not self._allow_empty:
            self.app.bell()
            self.notify("A blank name is not a name: type one, or Escape to cancel.", severity="warning")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or Enter answers yes, n or Escape no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, help: str = "y / Enter: yes · n / Escape: no") -> None:
        super().__init__(classes="dialog-screen")
        self._question = question
        self._help = help

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._question, classes="dialog-title", id="confirm-title", markup=False)
            yield Static(self._help, classes="dialog-help")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


NEW_PERSON = "new"  # the option id of "new person 'X'"


class PersonPicker(ModalScreen[int | str | None]):
    """Choose a person: type to fuzzy-search names, arrows to move, Enter to choose, Escape to cancel.

    The result is the chosen person's id; with ``offer_new``, a typed name that nobody has is offered as
    "new person 'X'", and choosing it gives that name (a ``str``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
    ]

    def __init__(self, title: str, exclude: Collection[int] = (), offer_new: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self._title = title
        self._exclude = set(exclude)
        self._offer_new = offer_new
        self._people: list[Person] = []
        self._names: set[str] = set()  # everyone's, the excluded included: a new person needs a new name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Static(self._title, classes="dialog-title", markup=False)
            yield Input(placeholder="type a name…", id="picker-input")
            yield OptionList(id="picker-options")
            yield Static("Enter: choose · ↑↓: move · Escape: cancel", classes="dialog-help")

    def on_mount(self) -> None:
        app = cast("PhotoclustApp", self.app)

        def load() -> None:
            try:
                people = app.backend.people()
            except PhotoclustError as exc:
                app.from_thread(app.show_error, exc)
                return
            app.from_thread(self._loaded, people)

        self.run_worker(load, thread=True, group="picker")

    def _loaded(self, people: list[Person]) -> None:
        self._people = [p for p in people if p.id not in self._exclude]
        self._names = {p.name.casefold() for p in people if p.name}
        self._refresh_options(self.query_one("#picker-input", Input).value)

    @on(Input.Changed, "#picker-input")
    def _changed(self, event: Input.Changed) -> None:
        self._refresh_options(event.value)

    def _refresh_options(self, query: str) -> None:
        query = query.strip()
        options = self.query_one("#picker-options", OptionList)
        shown: list[tuple[Person, Content]] = []
        if query:
            fuzzy = FuzzySearch()
            scored = []
            for p in self._people:
                label = p.name or f"Unnamed #{p.id}"
                score, offsets = fuzzy.match(query, label)
                if score > 0:
                    text = Content(label)
                    for o in offsets:
                        text = text.stylize("reverse", o, o + 1)
                    scored.append((score, p, text))
            scored.sort(key=lambda t: (-t[0], t[1].name is None, -t[1].faces, t[1].id))
            shown = [(p, text) for _s, p, text in scored[:PICKER_LIMIT]]
        else:
            shown = [(p, Content(p.name or f"Unnamed #{p.id}")) for p in self._people[:PICKER_LIMIT]]
        options.clear_options()
        options.add_options(
            [Option(Content.assemble(text, (f"  {p.faces} faces", "dim")), id=str(p.id)) for p, text in shown]
        )
        if self._offer_new and query and query.casefold() not in self._names:
            options.add_option(Option(Content.assemble(("+ new person ", "bold"), repr(query)), id=NEW_PERSON))
        if options.option_count:
            options.highlighted = 0

    def action_cursor(self, step: int) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    @on(Input.Submitted, "#picker-input")
    def _submit(self) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.highlighted is None:
            self.app.bell()
            return
        self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#picker-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id == NEW_PERSON:
            self.dismiss(self.query_one("#picker-input", Input).value.strip())
        else:
            self.dismiss(int(option_id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)
