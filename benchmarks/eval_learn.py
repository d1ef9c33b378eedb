"""Learning from the user's decisions (issue 12): automatic assignment with and without the learned head.

    .venv/bin/python benchmarks/eval_learn.py PHOTOS [--cache DIR] [--sets ...] [--ks 1 3 10] [--seeds 3]
        [--variant default|no-preserve|weak0|...] [--gate]

A simulated user on a scanned set (``libsets``: every face of each labelled photo, main face scored):
they name every identity with at least ``k + 1`` photos and confirm ``k`` of its main faces, chosen at
random (``--seeds`` draws). Every other face is left to the machine: the remaining main faces of the
named identities should be assigned to them; faces of identities nobody named (seen fewer times, and
every other face in the photos) should not be assigned to anyone. The assignment is what clustering
does to unknown faces (``assign_to_people``, default parameters, centred embeddings), on the base
embeddings and on the head's (trained on the confirmed faces, unlabelled faces preserved).

precision = right / assigned, recall = right / main faces of named identities still to assign.
Sets: ``celeba_wild-A``/``-B`` (the identity halves), ``lfw5-A``/``-B`` (lfw_gray_a people with at
least 5 photos plus every other lfw face as strangers), ``family-A``/``-B``. **A halves tune, B halves
report.** ``--gate`` also runs the 3-fold validation gate per draw and reports how often it accepted the
head and what the user gets with the gate (the head where accepted, the base elsewhere).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libsets  # noqa: E402
from eval_library import scanned  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.learn.head import Head, TrainingSet  # noqa: E402
from photoclust.learn.train import Examples, assignment, fit, same_photo_negatives, validate  # noqa: E402

VARIANTS: dict[str, dict[str, float]] = {
    "default": {},
    "no-preserve": {"preserve": 0.0},
    "preserve1": {"preserve": 1.0},
    "preserve30": {"preserve": 30.0},
    "steps100": {"steps": 100},
    "steps1000": {"steps": 1000},
}


def load_set(photos: Path, cache: Path, name: str) -> libsets.FaceSet:
    base, _, half = name.partition("-")
    if base == "celeba_wild":
        fs = libsets.load(scanned(photos, "celeba_wild", cache), photos / "celeba_wild")
    elif base == "lfw5":
        fs = libsets.load(scanned(photos, "lfw_gray_a", cache), photos / "lfw_gray_a", main="centre")
    elif base == "family":
        a = libsets.load(scanned(photos, "celeba_wild", cache), photos / "celeba_wild")
        b = libsets.singletons(libsets.load(scanned(photos, "lfw_gray_a", cache), photos / "lfw_gray_a", "centre"))
        b.photo = b.photo + 10_000_000
        rows = np.concatenate([np.arange(a.X.shape[0]), a.X.shape[0] + np.arange(b.X.shape[0])])
        fs = libsets.FaceSet(
            X=np.vstack([a.X, b.X]),
            photo=np.concatenate([a.photo, b.photo]),
            weak=np.concatenate([a.weak, b.weak]),
            path=a.path + b.path,
            person=np.concatenate([a.person, b.person]),
            main={**a.main, **{a.X.shape[0] + r: i for r, i in b.main.items()}},
        )
        del rows
    else:
        raise SystemExit(f"unknown set {name}")
    return libsets.split_identities(fs, half) if half else fs


def simulate(
    fs: libsets.FaceSet, k: int, seed: int, min_photos: int
) -> tuple[Examples, np.ndarray, np.ndarray, np.ndarray]:
    """(training examples, query rows, their truth label (-1: nobody named), reference rows)."""
    rng = np.random.default_rng(seed)
    by_id: dict[str, list[int]] = {}
    for r, ident in sorted(fs.main.items()):
        by_id.setdefault(ident, []).append(r)
    named = sorted(i for i, rows in by_id.items() if len(rows) >= max(min_photos, k + 1))
    key = {ident: n for n, ident in enumerate(named)}
    label = np.full(fs.X.shape[0], -1, dtype=np.int64)
    for ident in named:
        for r in rng.choice(by_id[ident], size=k, replace=False).tolist():
            label[r] = key[ident]
    refs = np.flatnonzero(label >= 0)
    queries = np.setdiff1d(np.arange(fs.X.shape[0]), refs)
    truth = np.array([key.get(fs.main.get(int(r), ""), -1) for r in queries], dtype=np.int64)
    negatives = same_photo_negatives(fs.photo, label)  # two faces of one photo are two people
    ex = Examples(fs.X.astype(np.float32), label, np.zeros(label.size, dtype=bool), negatives)
    return ex, queries, truth, refs


def score(X: np.ndarray, ex: Examples, queries: np.ndarray, truth: np.ndarray, refs: np.ndarray) -> tuple[float, float]:
    assigned, right, _ = assignment(X, refs, ex.label[refs], queries, truth)
    wanted = int((truth >= 0).sum())
    return right / max(assigned, 1), right / max(wanted, 1)


def end_to_end(photos: Path, cache: Path, name: str) -> None:
    """The user's way: cluster; name every person found (by the majority identity of its faces) and merge
    the people of one identity; then ``learn`` and ``cluster`` again. BCubed before and after."""
    from collections import Counter

    from eval_library import build

    from photoclust.library import Library
    from photoclust.store import backup_database

    fs, sources = build(photos, cache, name)
    if len(sources) != 1:
        raise SystemExit(f"{name}: end to end needs a set from one database")
    db, root, main_rule, paths = sources[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "lib.db"
        backup_database(db, work)
        libsets.present_only(work, paths)

        def labels() -> np.ndarray:
            after = libsets.load(work, root, main_rule)
            person_of = {after.path[r]: int(after.person[r]) for r in after.main}
            out = np.full(fs.X.shape[0], -1, dtype=np.int64)
            for r in fs.main:
                out[r] = person_of.get(fs.path[r], -1)
            return out

        with Library(work) as lib:
            lib.cluster()
            lab = labels()
            votes: dict[int, Counter[str]] = {}
            for r, ident in fs.main.items():
                if lab[r] >= 0:
                    votes.setdefault(int(lab[r]), Counter())[ident] += 1
            by_ident: dict[str, list[int]] = {}
            for pid, c in votes.items():
                by_ident.setdefault(c.most_common(1)[0][0], []).append(pid)
            for ident, pids in sorted(by_ident.items()):
                pids.sort(key=lambda p: -sum(votes[p].values()))
                if len(pids) > 1:
                    lib.merge(pids[1:], pids[0])
                lib.name(pids[0], ident, allow_duplicate=True)
            before = libsets.score_labels(fs, labels())
            print(libsets.fmt(f"{name} | named + merged", before), flush=True)
            t0 = time.monotonic()
            report = lib.learn()
            print(f"{name} | learn: {report.message} ({time.monotonic() - t0:.1f} s)", flush=True)
            lib.cluster()
            after = libsets.score_labels(fs, labels())
            print(libsets.fmt(f"{name} | + learn + cluster", after), flush=True)
            print(f"{name} | BCubed F {after['bcubed_f'] - before['bcubed_f']:+.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("bench-out"))
    ap.add_argument("--sets", nargs="+", default=["celeba_wild-A", "celeba_wild-B"])
    ap.add_argument("--ks", nargs="+", type=int, default=[1, 3, 10])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--variant", default="default", choices=sorted(VARIANTS))
    ap.add_argument("--gate", action="store_true")
    ap.add_argument("--min-photos", type=int, default=5)
    ap.add_argument("--end-to-end", action="store_true", help="the user's way, through the library (see end_to_end)")
    args = ap.parse_args()
    print(stamp(), flush=True)
    if args.end_to_end:
        for name in args.sets:
            end_to_end(args.photos, args.cache, name)
        return
    fit_args = VARIANTS[args.variant]
    for name in args.sets:
        fs = load_set(args.photos, args.cache, name)
        for k in args.ks:
            rows = []
            for seed in range(args.seeds):
                ex, queries, truth, refs = simulate(fs, k, seed, args.min_photos)
                if not ex.usable():
                    continue
                t0 = time.monotonic()
                W = fit(ex, seed=seed, **fit_args)  # type: ignore[arg-type]
                took = time.monotonic() - t0
                head = Head(W, "", TrainingSet(0, 0, 0, 0))
                pb, rb = score(ex.X, ex, queries, truth, refs)
                ph, rh = score(head.apply(ex.X), ex, queries, truth, refs)
                row = [pb, rb, ph, rh, took]
                if args.gate:
                    val, _ = validate(ex, **fit_args)
                    row += [float(val.helps), *((ph, rh) if val.helps else (pb, rb))]
                rows.append(row)
            if not rows:
                print(f"{name} k={k}: too few people to learn from")
                continue
            m = np.mean(np.array(rows), axis=0)
            line = (
                f"{name:<14} k={k:<2} {args.variant:<11} named {int(ex.label.max()) + 1:>4} people | "
                f"base P {m[0]:.4f} R {m[1]:.4f} | head P {m[2]:.4f} R {m[3]:.4f} | "
                f"dR {100 * (m[3] - m[1]):+.1f} pts | train {m[4]:.1f} s"
            )
            if args.gate:
                line += f" | gate on {m[5]:.0%} -> P {m[6]:.4f} R {m[7]:.4f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
