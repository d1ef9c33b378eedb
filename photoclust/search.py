"""Search photos by the people in them (database queries only: no models, no embeddings read).

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

from photoclust.errors import NotFound
from photoclust.store.people import PeopleTables
from photoclust.store.photos import PhotoTables, SearchMode
from photoclust.types import SearchHit

Mode = SearchMode
MODES: tuple[Mode, ...] = ("all", "any", "only")


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


def resolve(tables: PeopleTables, ref: str) -> list[int]:
    """The ids of the people ``ref`` stands for: an id (digits) or a name (case-insensitive, all who have it).

    Raises NotFound, with the closest names, when nobody matches.
    """
    ref = " ".join(str(ref).split())
    if ref.isdigit():
        if tables.exists(int(ref)):
            return [int(ref)]
    key = ref.casefold()
    if ref.isascii():  # fast path: SQLite's NOCASE folds ASCII letters, as casefold does for them
        ids = [i for i, n in tables.names_nocase(ref) if n.casefold() == key]
        if ids:
            return sorted(ids)
    named = tables.names()
    ids = [i for i, n in named if " ".join(n.split()).casefold() == key]
    if ids:
        return sorted(ids)
    # other names: those of named people merged into somebody
    aliases = tables.all_aliases()
    ids = [i for i, n in aliases if " ".join(n.split()).casefold() == key]
    if ids:
        return sorted(set(ids))
    if ref.isdigit():
        raise NotFound(f"no person with id {ref}: see 'photoclust people'")
    raise not_found(ref, [n for _i, n in named + aliases])


def photos(tables: PhotoTables, groups: Sequence[Sequence[int]], mode: Mode = "all") -> list[SearchHit]:
    """The photos (and videos, with the time) that match; ``groups``: the person ids of each name asked for."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    groups = [list(dict.fromkeys(g)) for g in groups if g]
    if not groups:
        return []
    return tables.with_people(groups, mode)
