"""The facade every front end uses (CLI, TUI, scripts): one object per photo library database.

Front ends hold no business logic: they parse input, call one method here and show the result.
Stages (crawl, detect, embed, store, cluster) are wired together here and in ``scan``/``people``.
Nothing here imports torch at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from photoclust.config import ScanSettings, default_db_path
from photoclust.progress import Progress
from photoclust.store import LibraryStatus, Store
from photoclust.types import ScanReport


class Library:
    """A photo library: ``Library(db_path)``; use as a context manager or call :meth:`close`."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None, create: bool = True) -> None:
        self.db_path = Path(db_path) if db_path else default_db_path()
        self.store = Store.open(self.db_path, create=create)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing ----------------------------------------------------------------------------
    def scan(
        self,
        paths: Iterable[str | os.PathLike[str]],
        settings: ScanSettings | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ScanReport:
        from photoclust.scan import scan

        return scan(self.store, paths, settings=settings, progress=progress, should_stop=should_stop)

    def status(self) -> LibraryStatus:
        return self.store.status()

    def errors(self) -> list[tuple[str, str]]:
        return self.store.errors()
