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


def suggest(name: str, names: Sequence[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The existing names closest to ``name`` (case-insensitive), best first.

    A name scores its best :mod:`difflib` similarity as a whole or by any of its words, so "obamma"
    suggests "Barack Obama"; a word that starts with the query counts as a match ("ann" -> "Ann Smith").
    """
    key = " ".join(name.split()).casefold()
    if not key:
        return []
    scored: dict[str, tuple[float, str]] = {}
    for existing in names:
        full = " ".join(existing.split()).casefold()
        parts = [full, *full.split()]
        score = max(difflib.SequenceMatcher(None, key, p).ratio() for p in parts)
        if any(w.startswith(key) for w in full.split()):
            score = max(score, 0.9)
        if score >= cutoff and (full not in scored or score > scored[full][0]):
            scored[full] = (score, existing)
    best = sorted(scored.values(), key=lambda t: (-t[0], t[1].casefold()))
    return [existing for _s, existing in best[:n]]


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
    key = ref.casefold()
    if ref.isascii():  # fast path: SQLite's NOCASE folds ASCII letters, as casefold does for them
        rows = db.execute("SELECT id, name FROM people WHERE name = ? COLLATE NOCASE", [ref]).fetchall()
        ids = [int(i) for i, n in rows if n.casefold() == key]
        if ids:
            return sorted(ids)
    named = people_names(db)
    ids = [i for i, n in named if " ".join(n.split()).casefold() == key]
    if ids:
        return sorted(ids)
    # other names: those of named people merged into somebody
    aliases = [(int(i), str(n)) for i, n in db.execute("SELECT person_id, name FROM aliases")]
    ids = [i for i, n in aliases if " ".join(n.split()).casefold() == key]
    if ids:
        return sorted(set(ids))
    if ref.isdigit():
        raise NotFound(f"no person with id {ref}: see 'photoclust people'")
    raise not_found(ref, [n for _i, n in named + aliases])


def photos(db: sqlite_utils.Database, groups: Sequence[Sequence[int]], mode: Mode = "all") -> list[tuple[int, str]]:
    """(photo id, path) of the photos that match; ``groups``: the person ids of each name asked for."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    groups = [list(dict.fromkeys(g)) for g in groups if g]
    if not groups:
        return []
    values = ", ".join("(?, ?)" for g in groups for _ in g)
    params: list[object] = [v for gi, g in enumerate(groups) for pid in g for v in (pid, gi)]
    if mode == "any" or len(groups) == 1:
        candidates = "SELECT DISTINCT f.photo_id FROM wanted w JOIN faces f ON f.person_id = w.pid WHERE f.not_face = 0"
    else:  # every group has a face in the photo
        candidates = (
            "SELECT f.photo_id FROM wanted w JOIN faces f ON f.person_id = w.pid WHERE f.not_face = 0"
            f" GROUP BY f.photo_id HAVING count(DISTINCT w.g) = {len(groups)}"
        )
    others = ""
    if mode == "only":  # nobody else: no face of another person, no unknown face of good quality
        others = (
            " AND NOT EXISTS (SELECT 1 FROM faces o WHERE o.photo_id = c.photo_id AND o.not_face = 0"
            " AND (o.person_id IS NULL AND o.flags = ''"
            " OR o.person_id IS NOT NULL AND o.person_id NOT IN (SELECT pid FROM wanted)))"
        )
    sql = f"""
        WITH wanted(pid, g) AS (VALUES {values}),
        candidates(photo_id) AS ({candidates}),
        located AS (
            SELECT c.photo_id,
                   (SELECT path FROM files WHERE files.photo_id = c.photo_id AND status = 'present'
                    ORDER BY path LIMIT 1) AS path
            FROM candidates c WHERE 1{others}
        )
        SELECT l.photo_id, l.path FROM located l JOIN photos ph ON ph.id = l.photo_id
        WHERE l.path IS NOT NULL
        ORDER BY ph.taken_at IS NULL, ph.taken_at, l.path
    """
    return [(int(pid), str(path)) for pid, path in db.execute(sql, params).fetchall()]
