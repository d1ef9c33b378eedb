"""The Scan screen: index a folder from the app, with progress; browsing goes on meanwhile."""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from photoclust.tui.widgets.progress import ScanProgress

if TYPE_CHECKING:
    from photoclust.tui.app import PhotoclustApp


def split_paths(text: str) -> list[str]:
    """Paths typed on one line: shell-like quoting for names with spaces; ``~`` expanded."""
    try:
        parts = shlex.split(text)
    except ValueError:
        parts = [text]
    return [os.path.expanduser(p) for p in parts if p.strip()]


class ScanScreen(Screen[None]):
    """Enter a folder (or several), press Enter. Escape goes back while the scan runs on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back (scan continues)"),
        Binding("ctrl+x", "cancel_scan", "Cancel scan", priority=True),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "Folder(s) to scan. Unchanged photos are skipped, so scanning again is quick.",
            id="scan-help",
            markup=False,
        )
        yield Input(placeholder="~/Pictures", id="scan-path")
        yield ScanProgress(id="scan-progress")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Scan"
        self.query_one("#scan-path", Input).focus()

    @property
    def papp(self) -> PhotoclustApp:
        return cast("PhotoclustApp", self.app)

    @on(Input.Submitted, "#scan-path")
    def _start(self, event: Input.Submitted) -> None:
        paths = split_paths(event.value)
        if not paths:
            self.notify("Type a folder to scan.", severity="warning")
            return
        self.papp.start_scan(paths, self.query_one(ScanProgress))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # ctrl+x is offered (footer) only while a scan runs
        if action == "cancel_scan":
            return self.papp.scanning
        return True

    def action_cancel_scan(self) -> None:
        self.papp.cancel_scan()

    def action_back(self) -> None:
        self.app.pop_screen()
