"""SQLite's errors as one-line messages that say what happened to the library and what to do.

Only errors that come from the environment are translated (another writer holds the lock, the disk is
full or failing, the file is damaged); an ``IntegrityError`` or a ``ProgrammingError`` is a bug in
photoclust and stays an exception with its traceback.
"""

from __future__ import annotations

import sqlite3
from os import PathLike

from photoclust.errors import DatabaseError

# SQLite's primary result codes (https://sqlite.org/rescode.html); extended codes keep these in the low byte.
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_NOTADB = 26

# for errors raised without a code (older Pythons, wrappers): the text SQLite gives each of them
_BY_TEXT = (
    ("database is locked", SQLITE_BUSY),
    ("database table is locked", SQLITE_LOCKED),
    ("disk i/o error", SQLITE_IOERR),
    ("database disk image is malformed", SQLITE_CORRUPT),
    ("database or disk is full", SQLITE_FULL),
    ("file is not a database", SQLITE_NOTADB),
)


def result_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of an exception (None when it has none)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    return next((c for needle, c in _BY_TEXT if needle in text), None)


def is_corruption(exc: sqlite3.Error) -> bool:
    return result_code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB)


def is_environmental(exc: BaseException) -> bool:
    """An error of the database file or its disk, not of photoclust's SQL: translate it, don't hide a bug."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    return isinstance(exc, sqlite3.DatabaseError) and is_corruption(exc)


def describe(exc: sqlite3.Error, path: str | PathLike[str] | None) -> str:
    """One line: what went wrong with the library database at ``path``, and what to do about it."""
    db = f"the photo database {path}" if path is not None else "the photo database"
    code = result_code(exc)
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return (
            f"{db} is locked: another photoclust (a scan, the TUI, an edit) is writing to it; "
            "wait for it to finish or close it, then try again"
        )
    if code == SQLITE_FULL:
        return f"cannot write to {db}: the disk is full; free some space, then try again"
    if code == SQLITE_IOERR:
        return (
            f"disk I/O error on {db} ({exc}): check that its disk is still there and healthy (dmesg), "
            "then run 'photoclust check'"
        )
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return (
            f"{db} is corrupt ({exc}): restore it from a copy made with 'photoclust backup'; "
            "'photoclust check' says what is wrong"
        )
    return f"{db}: {exc}"


def translate(exc: sqlite3.Error, path: str | PathLike[str] | None, then: str = "") -> DatabaseError:
    """A :class:`DatabaseError` with :func:`describe`'s message (and ``then``, e.g. what was kept)."""
    return DatabaseError(describe(exc, path) + (f"; {then}" if then else ""))
