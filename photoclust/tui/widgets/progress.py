"""The scan progress widget: the TUI's implementation of :class:`photoclust.progress.Progress`.

The library calls these methods from the scan worker thread; each one hands the update to the app
thread with ``call_from_thread``, so widgets are only ever touched from the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Log, ProgressBar, Static


class ScanProgress(Vertical):
    """A phase line, a progress bar with counts, and a log of one-line notes (skipped files...)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._done = 0
        self._faces = 0
        self._total: int | None = None
        self._description = "Idle"
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Static("Idle", id="scan-phase", markup=False)
        yield ProgressBar(total=None, show_eta=True, id="scan-bar")
        yield Static("", id="scan-counts", markup=False)
        yield Log(id="scan-log", max_lines=500)

    # -- the Progress protocol (any thread) -----------------------------------------------------
    def start(self, total: int | None, description: str) -> None:
        self._in_app_thread(self._start, total, description)

    def advance(self, n: int = 1, faces: int = 0) -> None:
        self._in_app_thread(self._advance, n, faces)

    def message(self, text: str) -> None:
        self._in_app_thread(self._message, text)

    def finish(self) -> None:
        self._in_app_thread(self._finish)

    # -- app thread -------------------------------------------------------------------------------
    def _in_app_thread(self, fn: Callable[..., None], *args: Any) -> None:
        app = self.app
        if getattr(app, "_thread_id", None) == threading.get_ident():
            fn(*args)
            return
        try:
            app.call_from_thread(fn, *args)
        except RuntimeError:  # the app is shutting down: progress no longer matters
            pass

    def _start(self, total: int | None, description: str) -> None:
        self._total, self._done, self._faces = total, 0, 0
        self._description = description
        self._started = time.monotonic()
        self.query_one("#scan-phase", Static).update(description + "…")
        self.query_one("#scan-bar", ProgressBar).update(total=total, progress=0)
        self._show_counts()

    def _advance(self, n: int, faces: int) -> None:
        self._done += n
        self._faces += faces
        self.query_one("#scan-bar", ProgressBar).advance(n)
        self._show_counts()

    def _message(self, text: str) -> None:
        self.query_one("#scan-log", Log).write_line(text)

    def _finish(self) -> None:
        self.query_one("#scan-phase", Static).update(f"{self._description}: done")
        total = self._total if self._total is not None else max(1, self._done)
        self.query_one("#scan-bar", ProgressBar).update(total=total, progress=total)

    def _show_counts(self) -> None:
        of = f" of {self._total:,}" if self._total is not None else ""
        faces = f" · {self._faces:,} faces" if self._faces else ""
        text = f"{self._done:,}{of}{faces}" if self._done or self._total else ""
        self.query_one("#scan-counts", Static).update(text)
        self.post_message(self.Updated(self.status_line()))

    def status_line(self) -> str:
        of = f"/{self._total:,}" if self._total is not None else ""
        return f"{self._description} {self._done:,}{of}"

    def reset(self) -> None:
        self.query_one("#scan-log", Log).clear()
        self._start(None, "Starting")

    def done(self, summary: str) -> None:
        """The scan is over: say how it went (app thread)."""
        self._stop_bar()
        self.query_one("#scan-phase", Static).update(summary)
        self._message(summary)

    def failed(self, error: str) -> None:
        """The scan stopped on an error (app thread): say so, and stop the moving bar."""
        self._stop_bar()
        text = f"Scan failed: {error}"
        self.query_one("#scan-phase", Static).update(text)
        self._message(text)

    def _stop_bar(self) -> None:
        bar = self.query_one("#scan-bar", ProgressBar)
        if bar.total is None:  # an indeterminate (moving) bar: show it still, at the work done
            bar.update(total=max(1, self._done), progress=self._done)

    class Updated(Message):
        """The one-line status changed (the app mirrors it in every screen's header)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line
