"""The History screen: every edit, newest first; ctrl+z / ctrl+y walk back and forth."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from photoclust.people import HistoryEntry
from photoclust.tui.screens.base import DataScreen

HISTORY_LIMIT = 200


class HistoryScreen(DataScreen):
    """The operation log behind undo/redo. Undone edits are marked; a new edit drops them."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("ctrl+z undoes the newest edit that is not undone; ctrl+y redoes.", id="history-help")
        yield OptionList(id="history")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "History"
        self.query_one("#history", OptionList).focus()
        super().on_mount()

    def load(self) -> None:
        backend = self.papp.backend
        self.fetch(lambda: backend.call(lambda lib: lib.history(HISTORY_LIMIT)), self._show, group="history")

    def _show(self, entries: list[HistoryEntry]) -> None:
        options = self.query_one("#history", OptionList)
        options.clear_options()
        if not entries:
            options.add_option(Option("No edits yet.", disabled=True))
            return
        options.add_options([Option(history_line(e), id=str(e.id)) for e in entries])
        options.highlighted = 0

    def action_back(self) -> None:
        self.dismiss()


def history_line(entry: HistoryEntry) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.at))
    state = "undone  " if entry.undone else "        "
    return f"{state}{when}  {entry.kind:<10} {entry.description}"
