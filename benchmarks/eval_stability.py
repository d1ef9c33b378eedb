"""Stability of the user's decisions across scans and re-clusterings.

    .venv/bin/python benchmarks/eval_stability.py PATH_TO_LABELLED_SET [--db FILE] [--full]

1. Scan half of the labelled set (every other photo of each identity) and cluster.
2. Act as the user through the library API: name every person after the identity most of its main
   faces have, confirm those faces, and remove ("not this person") the others.
3. Scan the other half, cluster again (incremental; ``--full`` also re-clusters from scratch).
4. Report: confirmed faces that moved (must be 0), named people lost or renamed (must be 0), and where
   the new half's main faces landed: the right named person, a wrong named person, unknown, a new person.

``--db`` reuses a database that already scanned PATH (copied; the photos are linked by content, so
nothing is re-analysed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_people import main_faces, read_labels  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.config import ScanSettings  # noqa: E402
from photoclust.library import Library  # noqa: E402
from photoclust.store import backup_database  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    print(stamp(), flush=True)
    root = args.path.resolve()
    truth_src = read_labels(root)
    by_id: dict[str, list[str]] = defaultdict(list)
    for p, ident in sorted(truth_src.items()):
        by_id[ident].append(p)
    halves: tuple[list[str], list[str]] = ([], [])
    for paths in by_id.values():
        for i, p in enumerate(paths):
            halves[i % 2].append(p)
    with tempfile.TemporaryDirectory() as tmp:
        lib_dir = Path(tmp) / "Photos"
        db = Path(tmp) / "stab.db"
        if args.db:
            backup_database(args.db, db)
        truth: dict[str, str] = {}

        def add(paths: list[str]) -> None:
            for p in paths:
                dst = lib_dir / Path(p).relative_to(root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dst)
                truth[str(dst)] = truth_src[p]

        settings = ScanSettings(workers=0)
        with Library(db) as lib:
            # a reused database saw the photos elsewhere: those files do not count as present here
            lib.store.mark_missing([p for p, k in lib.store.known_files().items() if k.kind == "present"])
            add(halves[0])
            lib.scan([lib_dir], settings=settings)
            lib.cluster()
            # the user names and confirms
            mf = main_faces(lib)
            named: dict[int, str] = {}
            confirmed: dict[int, int] = {}
            for person in lib.list_people():
                faces = lib.faces(person.id)
                main = {f.id for f in faces if mf.get(f.path) == person.id}
                labels = Counter(truth[f.path] for f in faces if f.id in main and f.path in truth)
                if not labels:
                    continue
                ident = labels.most_common(1)[0][0]
                if ident in named.values():  # the same identity split in two: the user merges
                    into = next(pid for pid, n in named.items() if n == ident)
                    lib.merge([person.id], into=into)
                    continue
                lib.name(person.id, ident)
                named[person.id] = ident
                wrong = [f.id for f in faces if f.path in truth and f.id in main and truth[f.path] != ident]
                if wrong:
                    lib.remove(wrong)
            for pid in named:
                right = [f.id for f in lib.faces(pid)]
                lib.confirm(right)
                confirmed.update({fid: pid for fid in right})
            n_named_faces = len(confirmed)
            # the second half arrives
            add(halves[1])
            t = time.monotonic()
            lib.scan([lib_dir], settings=settings)
            lib.cluster()
            t_cluster = time.monotonic() - t
            for label in ["incremental", "full"] if args.full else ["incremental"]:
                if label == "full":
                    lib.cluster(full=True)
                moved = sum(1 for fid, pid in confirmed.items() if lib.face(fid).person_id != pid)
                people_now = {p.id: p.name for p in lib.list_people(include_hidden=True)}
                lost = sum(1 for pid, n in named.items() if people_now.get(pid) != n)
                mf = main_faces(lib)
                outcome: Counter[str] = Counter()
                for p in halves[1]:
                    path = str(lib_dir / Path(p).relative_to(root))
                    pid = mf.get(path)
                    if path not in mf:
                        outcome["no face"] += 1
                    elif pid is None:
                        outcome["unknown"] += 1
                    elif pid in named:
                        outcome["right named person" if named[pid] == truth[path] else "WRONG named person"] += 1
                    else:
                        outcome["new unnamed person"] += 1
                total = len(halves[1])
                print(f"[{label}] after naming {len(named)} people and confirming {n_named_faces} faces on half 1:")
                print(f"[{label}] confirmed faces moved: {moved}; named people lost or renamed: {lost}")
                print(
                    f"[{label}] half 2 ({total} photos): "
                    + ", ".join(f"{k} {v} ({100 * v / total:.1f}%)" for k, v in outcome.most_common())
                )
                print(f"[{label}] scan + cluster of half 2: {t_cluster:.1f} s")


if __name__ == "__main__":
    main()
