"""How many actions a user needs to make a library right, with and without "same person?" suggestions.

    .venv/bin/python benchmarks/eval_effort.py PHOTOS [--cache DIR] [--sets celeba_wild family-B ...]

A simulated user who knows the truth (the labels of each photo's main face; ``eval_library.py`` builds the
sets and scans them once into ``--cache``) works through a library after one ``photoclust cluster``:

* **with suggestions**: first the "same person?" list (``Library.merge_suggestions``), most likely first:
  a right pair is merged, a wrong one declined (one action each), until none is left; then the Unknown
  view's "Are these Alice?" on each group of unknown faces suggested for a person: the user deselects
  the wrong faces (one action each) and answers yes for the rest (one action), or no for all;
* then, in both variants, the People and Unknown views: one action to name each identity seen in two or
  more photos; one merge for each further person holding the same identity; one action per face in the
  wrong person (moved to the right one) and per unknown face of an identity seen in two or more photos
  (moved into its person); a face seen once and left unknown needs nothing.

Prints actions per 100 photos for both variants, and the share of the first ten suggestions that are right
(a pair is right when both people's main faces are mostly one identity).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libsets  # noqa: E402
from eval_library import SETS, Source, build  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.library import Library  # noqa: E402
from photoclust.store import backup_database  # noqa: E402


def state(db: Path, root: Path, main: str, truth: dict[str, str]) -> dict[str, int]:
    """Main face's person (-1 unknown) per labelled path, as the library has it now."""
    after = libsets.load(db, root, main)
    return {after.path[r]: int(after.person[r]) for r in after.main if after.path[r] in truth}


def majority(person_of: dict[str, int], truth: dict[str, str]) -> dict[int, str]:
    by_person: dict[int, Counter[str]] = defaultdict(Counter)
    for path, pid in person_of.items():
        if pid >= 0:
            by_person[pid][truth[path]] += 1
    return {pid: c.most_common(1)[0][0] for pid, c in by_person.items()}


def main_face_ids(lib: Library, truth: dict[str, str]) -> dict[int, str]:
    """face id -> path, for the faces that are some labelled photo's main face (the largest one here;
    the scored main face of a centre-rule set may differ, which only makes the simulated user guess)."""
    out: dict[int, str] = {}
    for f in lib.faces(None):
        if f.path in truth:
            out[f.id] = f.path
    return out


def remaining_actions(person_of: dict[str, int], truth: dict[str, str]) -> int:
    """Actions to make the People and Unknown views right from this state (see the module docstring)."""
    seen = Counter(truth.values())
    major = majority(person_of, truth)
    actions = 0
    persons_of_identity: dict[str, set[int]] = defaultdict(set)
    for path, pid in person_of.items():
        ident = truth[path]
        if pid >= 0 and major[pid] == ident:
            persons_of_identity[ident].add(pid)
        elif pid >= 0:
            actions += 1  # in the wrong person: move it out (to its own person, or unknown)
        elif seen[ident] >= 2:
            actions += 1  # unknown, but its person exists: move it in
    for ident, n in seen.items():
        if n >= 2:
            actions += 1 + max(0, len(persons_of_identity[ident]) - 1)  # name it, merge its other persons
    return actions


def run(name: str, fs: libsets.FaceSet, sources: list[Source], tmp: Path) -> None:
    photos = len(fs.main) + len(fs.missing)
    total = {"without": 0, "with": 0}
    asked = right_top = 0
    n_suggestions = n_right = 0
    for k, (db, root, main, paths) in enumerate(sources):
        work = tmp / f"{name}-{k}.db"
        backup_database(db, work)
        libsets.present_only(work, paths)
        truth = {fs.path[r]: ident for r, ident in fs.main.items() if fs.path[r] in paths}
        with Library(work) as lib:
            lib.cluster()
        total["without"] += remaining_actions(state(work, root, main, truth), truth)
        with Library(work) as lib:
            major = majority(state(work, root, main, truth), truth)
            for s in lib.merge_suggestions(limit=10):
                asked += 1
                right_top += s.a.id in major and major.get(s.a.id) == major.get(s.b.id)
            for _ in range(1000):  # the user answers the best suggestion, the list is worked out afresh
                pairs = lib.merge_suggestions(limit=1)
                if not pairs:
                    break
                s = pairs[0]
                major = majority(state(work, root, main, truth), truth)
                ok = s.a.id in major and major.get(s.a.id) == major.get(s.b.id)
                n_suggestions += 1
                n_right += ok
                if ok:
                    lib.merge([s.b.id], s.a.id)
                else:
                    lib.declare_different(s.a.id, s.b.id)
                total["with"] += 1
            # then the Unknown view: "Is this Alice?" on each group of unknown faces that has a suggestion
            declined: set[tuple[int, ...]] = set()
            for _ in range(1000):
                main_of = {f: p for f, p in main_face_ids(lib, truth).items()}
                todo = [(g, s) for g, s in lib.unknown_groups() if s is not None]
                todo = [(g, s) for g, s in todo if tuple(f.id for f in g) not in declined]
                if not todo:
                    break
                group, sug = todo[0]
                major = majority(state(work, root, main, truth), truth)
                want = major.get(sug.id)
                right = [f.id for f in group if f.id in main_of and truth[main_of[f.id]] == want]
                wrong = [f.id for f in group if f.id not in right]
                n_suggestions += 1
                n_right += bool(right)
                if right:  # deselect the wrong faces (one action each), then yes for the rest
                    total["with"] += 1 + sum(1 for f in wrong if f in main_of)
                    lib.move(right, sug.id)
                    if wrong:
                        lib.reject(wrong, sug.id)
                else:
                    total["with"] += 1
                    lib.reject([f.id for f in group], sug.id)
                    declined.add(tuple(f.id for f in group))
        total["with"] += remaining_actions(state(work, root, main, truth), truth)
    per = {k: 100.0 * v / photos for k, v in total.items()}
    share = right_top / asked if asked else float("nan")
    print(
        f"{name}: {photos} photos | actions per 100 photos: without suggestions {per['without']:.1f}, "
        f"with {per['with']:.1f} ({per['with'] / per['without']:.0%}) | top-10 suggestions right "
        f"{right_top}/{asked} ({share:.0%}) | all suggestions answered {n_suggestions}, right {n_right}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("bench-out"))
    ap.add_argument("--sets", nargs="+", default=["celeba_wild", "family-A", "family-B"], choices=SETS)
    args = ap.parse_args()
    print(stamp())
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            fs, sources = build(args.photos.resolve(), args.cache, name)
            run(name, fs, sources, Path(tmp))


if __name__ == "__main__":
    main()
