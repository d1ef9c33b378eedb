"""Grouping quality on a labelled photo set.

    .venv/bin/python benchmarks/eval_people.py PATH_TO_LABELLED_SET [--db FILE] [--full]

PATH holds ``<identity>/<photo>`` and ``labels.csv`` (``path,identity``). The set is scanned into a fresh
database (or ``--db`` reuses one that already scanned it), clustered, and each photo's main (largest)
face is compared with the labels. Prints pairwise and BCubed precision/recall/F1, the number of people,
unknown faces and photos with no face. A photo whose main face is unknown (or that has no face) counts
as a cluster of its own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled import read_labels  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.config import ScanSettings  # noqa: E402
from photoclust.library import Library  # noqa: E402
from photoclust.store import backup_database  # noqa: E402


def main_faces(lib: Library) -> dict[str, int | None]:
    """path -> person id of the photo's largest face (None: unknown), for every present file."""
    rows = lib.store.db.execute(
        """
        SELECT files.path, f.person_id, f.not_face
        FROM files JOIN faces f ON f.photo_id = files.photo_id
        WHERE files.status = 'present'
        ORDER BY files.path, (f.x2 - f.x1) * (f.y2 - f.y1) DESC
        """
    ).fetchall()
    out: dict[str, int | None] = {}
    for path, pid, not_face in rows:
        if path not in out and not not_face:
            out[path] = pid
    return out


def scores(truth: dict[str, str], pred: dict[str, object]) -> dict[str, float]:
    """Pairwise and BCubed precision/recall/F1 of ``pred`` (item -> cluster key) against ``truth``."""
    items = list(truth)
    clusters: dict[object, list[str]] = defaultdict(list)
    for it in items:
        clusters[pred[it]].append(it)
    by_label: Counter[str] = Counter(truth.values())
    # BCubed
    bp = br = 0.0
    for members in clusters.values():
        labels = Counter(truth[m] for m in members)
        for m in members:
            same = labels[truth[m]]
            bp += same / len(members)
            br += same / by_label[truth[m]]
    bp /= len(items)
    br /= len(items)
    # pairwise
    tp = sum(c * (c - 1) / 2 for members in clusters.values() for c in Counter(truth[m] for m in members).values())
    pred_pairs = sum(len(m) * (len(m) - 1) / 2 for m in clusters.values())
    true_pairs = sum(c * (c - 1) / 2 for c in by_label.values())
    pp = tp / pred_pairs if pred_pairs else 1.0
    pr = tp / true_pairs if true_pairs else 1.0

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    return {
        "bcubed_p": bp,
        "bcubed_r": br,
        "bcubed_f": f1(bp, br),
        "pair_p": pp,
        "pair_r": pr,
        "pair_f": f1(pp, pr),
    }


def evaluate(lib: Library, truth: dict[str, str]) -> dict[str, float]:
    faces = main_faces(lib)
    pred: dict[str, object] = {}
    unknown = no_face = 0
    for path in truth:
        if path not in faces:
            no_face += 1
            pred[path] = ("alone", path)
        elif faces[path] is None:
            unknown += 1
            pred[path] = ("alone", path)
        else:
            pred[path] = faces[path]
    out = scores(truth, pred)
    out.update(
        people=len(lib.list_people(include_hidden=True)),
        unknown_main=unknown,
        unknown_faces=len(lib.faces(None)),
        no_face=no_face,
        photos=len(truth),
        identities=len(set(truth.values())),
    )
    return out


def report(label: str, r: dict[str, float]) -> None:
    print(
        f"[{label}] BCubed P {r['bcubed_p']:.4f} R {r['bcubed_r']:.4f} F {r['bcubed_f']:.4f} | "
        f"pairwise P {r['pair_p']:.4f} R {r['pair_r']:.4f} F {r['pair_f']:.4f}"
    )
    print(
        f"[{label}] people {r['people']} (truth {r['identities']}), main faces unknown {r['unknown_main']}, "
        f"unknown faces {r['unknown_faces']}, photos with no face {r['no_face']} of {r['photos']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path)
    ap.add_argument("--db", type=Path, help="reuse a database that already scanned PATH (it is copied, not changed)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--full", action="store_true", help="also report a --full re-cluster")
    args = ap.parse_args()
    print(stamp(), flush=True)
    root = args.path.resolve()
    truth = read_labels(root)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "eval.db"
        if args.db:
            backup_database(args.db, db)
        with Library(db) as lib:
            t = time.monotonic()
            lib.scan([root], settings=ScanSettings(workers=args.workers))
            t_scan = time.monotonic() - t
            t = time.monotonic()
            lib.cluster()
            t_cluster = time.monotonic() - t
            print(f"{root.name}: scan {t_scan:.1f} s, cluster {t_cluster:.2f} s")
            report("incremental", evaluate(lib, truth))
            if args.full:
                lib.cluster(full=True)
                report("full", evaluate(lib, truth))


if __name__ == "__main__":
    main()
