"""``photoclust check``: is the library database intact? Read-only: it never writes to the file.

SQLite's ``PRAGMA integrity_check`` reads every page, b-tree and index; ``PRAGMA foreign_key_check``
finds rows that refer to rows that are gone. A library from a newer photoclust (migrations this code does
not know) is refused before either runs, as every other command refuses it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from photoclust.errors import DatabaseError
from photoclust.store import MIGRATIONS, sqlite_errors

MAX_PROBLEMS = 100


@dataclass(frozen=True)
class CheckReport:
    path: Path
    damage: list[str] = field(default_factory=list)  # from integrity_check: the file itself is damaged
    dangling: list[str] = field(default_factory=list)  # from foreign_key_check: rows referring to missing rows
    pending_migrations: list[str] = field(default_factory=list)  # an older library, upgraded on the next write

    @property
    def ok(self) -> bool:
        return not self.damage and not self.dangling

    @property
    def restore_needed(self) -> bool:
        return bool(self.damage)


def check_database(path: str | PathLike[str]) -> CheckReport:
    """Check the library at ``path``; raises :class:`DatabaseError` (one line) when it cannot even be read."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatabaseError(f"no photo database at {p}: run 'photoclust scan PATH' first")
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30)
        try:
            return _check(conn, p)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if not sqlite_errors.is_environmental(exc):
            raise
        raise sqlite_errors.translate(exc, p) from exc


def _check(conn: sqlite3.Connection, p: Path) -> CheckReport:
    conn.execute("PRAGMA busy_timeout = 30000")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone() is None:
        raise DatabaseError(f"{p} is not a photoclust library (it has no migration table)")
    done = {str(name) for (name,) in conn.execute("SELECT name FROM _migrations").fetchall()}
    known = [name for name, _ in MIGRATIONS]
    unknown = sorted(done - set(known))
    if unknown:
        raise DatabaseError(
            f"database {p} was written by a newer photoclust (migrations {unknown}): upgrade photoclust to check it"
        )
    damage = [str(r[0]) for r in conn.execute(f"PRAGMA integrity_check({MAX_PROBLEMS})").fetchall()]
    if damage == ["ok"]:
        damage = []
    dangling = [
        f"{table} row {rowid} refers to a missing row of {parent}"
        for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchmany(MAX_PROBLEMS)
    ]
    return CheckReport(p, damage, dangling, [n for n in known if n not in done])
