"""Writing files so that a crash, a kill or a full disk never leaves half of one: the one helper for it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_umask: int | None = None


def _new_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file: 0o666 less the process umask (read once)."""
    global _umask
    if _umask is None:
        _umask = os.umask(0o022)
        os.umask(_umask)
    return 0o666 & ~_umask


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through ``write(fh)`` into a temporary file of the same folder, flushed to disk
    (fsync), then renamed over ``path``: readers see the old file or the new one, never a part.
    An existing file keeps its mode; a new one gets the mode ``open()`` would give it (umask)."""
    target = Path(path)
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = _new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """:func:`atomic_write` of UTF-8 text, written as given (no newline translation)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
