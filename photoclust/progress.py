"""A small progress protocol: the library reports, each front end draws.

The CLI implements it with a rich progress bar, the TUI with a ProgressBar widget, tests with
``NullProgress``. The library never imports click, rich or textual for progress.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int | None, description: str) -> None:
        """A new phase begins; ``total`` is None when unknown."""

    def advance(self, n: int = 1, faces: int = 0) -> None:
        """``n`` more items done, ``faces`` more faces found."""

    def message(self, text: str) -> None:
        """A one-line note (e.g. a skipped file)."""

    def finish(self) -> None:
        """The current phase is over."""


class NullProgress:
    """Reports nothing; for tests and scripts."""

    def start(self, total: int | None, description: str) -> None:
        pass

    def advance(self, n: int = 1, faces: int = 0) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def finish(self) -> None:
        pass
