"""Search photos by the people in them (SQL only: no models, no embeddings read).

Modes, for the people P1..Pn asked for (a name stands for every person of that name):

* ``all``: photos with a face of each of them (others may be in the photo too);
* ``any``: photos with a face of at least one of them;
* ``only``: photos whose people are exactly them: every one of them is there and nobody else. "Somebody
  else" is a face of any other person (named or not, hidden or not) or an unknown face of good quality;
  unknown faces that the quality gates flagged (tiny, blurry, profile, low detector confidence) are
  passers-by and background faces and do not count. Faces marked "not a face" never count.

Only photos with a file on disk are returned, each once, with one of its present files (the first by
path), oldest first (EXIF date taken; photos without one last, by path).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Literal

import sqlite_utils

from photoclust.errors import NotFound

Mode = Literal["all", "any", "only"]
MODES: tuple[Mode, ...] = ("all", "any", "only")


def people_names(db: sqlite_utils.Database) -> list[tuple[int, str]]:
    return [(int(i), str(n)) for i, n in db.execute("SELECT id, name FROM people WHERE name IS NOT NULL")]


def suggest(name: str, names: Sequence[str], n: int = 3) -> list[str]:
    """The existing names closest to ``name`` (case-insensitive), best first."""
    by_key: dict[str, str] = {}
    for existing in names:
        by_key.setdefault(existing.casefold(), existing)
    close = difflib.get_close_matches(name.casefold(), list(by_key), n=n, cutoff=0.6)
    if not close:  # a part of a name ("ann" for "Ann Smith")
        key = name.casefold()
        close = [k for k in by_key if key and any(w.startswith(key) for w in k.split())][:n]
    return [by_key[k] for k in close]


def not_found(name: str, names: Sequence[str]) -> NotFound:
    close = suggest(name, names)
    if close:
        hint = " or ".join(f"'{c}'" for c in close)
        return NotFound(f"no person named '{name}': did you mean {hint}?")
    if not names:
        return NotFound(f"no person named '{name}': nobody is named yet (see 'photoclust people')")
    return NotFound(f"no person named '{name}': see 'photoclust people' for the names")


def resolve(db: sqlite_utils.Database, ref: str) -> list[int]:
    """The ids of the people ``ref`` stands for: an id (digits) or a name (case-insensitive, all who have it).

    Raises NotFound, with the closest names, when nobody matches.
    """
    ref = " ".join(str(ref).split())
    if ref.isdigit():
        if db.execute("SELECT 1 FROM people WHERE id = ?", [int(ref)]).fetchone():
            return [int(ref)]
    named = people_names(db)
    key = ref.casefold()
    ids = [i for i, n in named if " ".join(n.split()).casefold() == key]
    if ids:
        return sorted(ids)
    if ref.isdigit():
        raise NotFound(f"no person with id {ref}: see 'photoclust people'")
    raise not_found(ref, [n for _i, n in named])


def photos(db: sqlite_utils.Database, groups: Sequence[Sequence[int]], mode: Mode = "all") -> list[tuple[int, str]]:
    """(photo id, path) of the photos that match; ``groups``: the person ids of each name asked for."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    groups = [list(dict.fromkeys(g)) for g in groups if g]
    if not groups:
        return []
    values = ", ".join("(?, ?)" for g in groups for _ in g)
    params: list[object] = [v for gi, g in enumerate(groups) for pid in g for v in (pid, gi)]
    need = 1 if mode == "any" else len({gi for gi, _g in enumerate(groups)})
    others = ""
    if mode == "only":
        others = (
            " AND NOT EXISTS (SELECT 1 FROM faces o WHERE o.photo_id = c.photo_id AND o.not_face = 0"
            " AND (o.person_id IS NULL AND o.flags = ''"
            " OR o.person_id IS NOT NULL AND o.person_id NOT IN (SELECT pid FROM wanted)))"
        )
    sql = f"""
        WITH wanted(pid, g) AS (VALUES {values}),
        candidates AS (
            SELECT f.photo_id FROM wanted w JOIN faces f ON f.person_id = w.pid
            WHERE f.not_face = 0
            GROUP BY f.photo_id HAVING count(DISTINCT w.g) >= {int(need)}
        )
        SELECT c.photo_id, (SELECT min(path) FROM files WHERE files.photo_id = c.photo_id AND status = 'present') AS path
        FROM candidates c JOIN photos ph ON ph.id = c.photo_id
        WHERE path IS NOT NULL{others}
        ORDER BY ph.taken_at IS NULL, ph.taken_at, path
    """
    return [(int(pid), str(path)) for pid, path in db.execute(sql, params).fetchall()]
