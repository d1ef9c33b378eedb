"""Handing a process's freed heap back to the OS (Linux/glibc)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

_libc: Any = None


def trim_heap() -> None:
    """Hand the heap's free memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere)."""
    global _libc
    if not sys.platform.startswith("linux"):
        return
    if _libc is None:
        import ctypes

        try:
            _libc = ctypes.CDLL("libc.so.6")
        except OSError:
            _libc = False
    if _libc:
        with contextlib.suppress(AttributeError):
            _libc.malloc_trim(0)
