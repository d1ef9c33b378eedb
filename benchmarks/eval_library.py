"""People quality on library-shaped sets: many strangers, a few people seen hundreds of times, black and white.

    .venv/bin/python benchmarks/eval_library.py PHOTOS [--cache DIR] [--core] [--sweep] [--batches 10]

PHOTOS is the folder holding the labelled sets (``../shared/photos``); each set used is scanned once into
``--cache`` (default ``bench-out/``) and reused. Sets (see ``libsets.py``):

* ``lfw-A`` / ``lfw-B``: the two halves (by identity) of ``lfw_gray_a`` (grayscale, main face = nearest
  the centre). **A is the tuning half, B is held out.**
* ``family-A`` / ``family-B``: celeba_wild's people of that half (colour, ~20 photos each, main face =
  largest) plus the lfw_gray_a people of that half seen once (black-and-white strangers).
* ``celeba_wild`` (whole; it was the tuning set of earlier releases), ``deepface``, ``celeb5``.

Figures per set: BCubed and pairwise precision/recall/F1 over the main faces (a photo whose main face is
unknown, or that has no face, is a cluster of its own), people found, people mixing identities, people
made only of strangers (identities seen once).

``--core`` scores the clustering core alone on the embedding matrix (every face, same-photo cannot-links),
for the default parameters and the previous release's HDBSCAN pipeline step by step; ``--sweep`` adds a
threshold sweep of the core (tuning: run it on the A halves only). Without ``--core``, each set runs end
to end through the people layer (``Library.cluster()`` on a copy of the scanned database with the other
photos marked missing); ``--batches N`` also adds the photos in N batches with a cluster run after each
(incremental = one run?).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libsets  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.cluster import ClusterParams, centre, cluster_faces, library_mean, same_photo_pairs  # noqa: E402
from photoclust.config import ScanSettings  # noqa: E402
from photoclust.library import Library  # noqa: E402
from photoclust.store import backup_database  # noqa: E402

SETS = ("lfw-A", "lfw-B", "family-A", "family-B", "celeba_wild", "deepface", "celeb5")


def scanned(photos: Path, name: str, cache: Path) -> Path:
    """The database of set ``name`` scanned once into ``cache``."""
    db = cache / f"{name}.db"
    done = cache / f"{name}.db.done"
    if not done.exists():
        print(f"scanning {name} into {db} (once) ...", flush=True)
        with Library(db) as lib:
            lib.scan([photos / name], settings=ScanSettings())
        done.touch()
    return db


Source = tuple[Path, Path, str, set[str]]  # scanned database, photo set folder, main-face rule, files used


def build(photos: Path, cache: Path, name: str) -> tuple[libsets.FaceSet, list[Source]]:
    """The set's faces, and per scanned database the files that belong to it (for end-to-end runs)."""
    if name in ("deepface", "celeb5", "celeba_wild"):
        db = scanned(photos, name, cache)
        fs = libsets.load(db, photos / name)
        return fs, [(db, photos / name, "largest", set(fs.path))]
    half = name[-1]
    lfw_db = scanned(photos, "lfw_gray_a", cache)
    lfw = libsets.split_identities(libsets.load(lfw_db, photos / "lfw_gray_a", main="centre"), half)
    if name.startswith("lfw"):
        return lfw, [(lfw_db, photos / "lfw_gray_a", "centre", set(lfw.path))]
    cw_db = scanned(photos, "celeba_wild", cache)
    family = libsets.split_identities(libsets.load(cw_db, photos / "celeba_wild"), half)
    strangers = libsets.singletons(lfw)
    strangers.photo = strangers.photo + 10_000_000  # photo ids of the two databases must not collide
    return libsets.concat(family, strangers), [
        (cw_db, photos / "celeba_wild", "largest", set(family.path)),
        (lfw_db, photos / "lfw_gray_a", "centre", set(strangers.path)),
    ]


def core(fs: libsets.FaceSet, params: ClusterParams, centred: bool | None = None) -> np.ndarray:
    """Labels of the clustering core over the set's faces: strong faces only, as the people layer does;
    average linkage on embeddings centred on the library's mean face (as the people layer), the previous
    release's HDBSCAN on the raw ones (as it did)."""
    labels = np.full(fs.X.shape[0], -1, dtype=np.int64)
    centred = params.method == "average" if centred is None else centred
    X = centre(fs.X, library_mean(fs.X)) if centred else fs.X
    rows = np.flatnonzero(~fs.weak)
    labels[rows] = cluster_faces(X[rows], params, cannot_link=same_photo_pairs(fs.photo[rows]))
    return labels


def core_report(name: str, fs: libsets.FaceSet, sweep: bool) -> None:
    default = ClusterParams()
    old = ClusterParams(method="hdbscan")
    variants: list[tuple[str, ClusterParams]] = [
        ("default", default),
        ("0.9: hdbscan core only", replace(old, merge_threshold=0.0, reattach_threshold=0.0)),
        ("0.9: + centroid merge", replace(old, reattach_threshold=0.0)),
        ("0.9: + re-attach (0.9 pipeline)", old),
    ]
    if sweep:
        for t in (0.48, 0.52, 0.56):
            for tp in (0.32, 0.36, 0.40):
                variants.append((f"average t={t} pair={tp}", replace(default, linkage_threshold=t, pair_threshold=tp)))
    variants.append(("default, not centred", default))
    for label, params in variants:
        t = time.perf_counter()
        labels = core(fs, params, centred=False if "not centred" in label else None)
        print(libsets.fmt(f"{name} | {label} ({time.perf_counter() - t:.1f}s)", libsets.score_labels(fs, labels)))


def end_to_end(name: str, fs: libsets.FaceSet, sources: list[Source], batches: int) -> None:
    """Through the people layer: one ``cluster`` over the set, and (``batches``) the set in batches."""
    runs = [("one run", 1)] + ([(f"{batches} batches", batches)] if batches > 1 else [])
    with tempfile.TemporaryDirectory() as tmp:
        for label, nb in runs:
            labels = np.full(fs.X.shape[0], -1, dtype=np.int64)
            secs = 0.0
            for k, (db, root, main, paths) in enumerate(sources):
                work = Path(tmp) / f"{k}.db"
                backup_database(db, work)
                order = sorted(paths)
                np.random.default_rng(0).shuffle(order)
                present: set[str] = set()
                for chunk in np.array_split(np.array(order, dtype=object), nb):
                    present |= set(chunk.tolist())
                    libsets.present_only(work, present)
                    with Library(work) as lib:
                        t = time.perf_counter()
                        lib.cluster()
                        secs += time.perf_counter() - t
                after = libsets.load(work, root, main)
                person_of = {after.path[r]: int(after.person[r]) for r in after.main}
                for r in fs.main:
                    pid = person_of.get(fs.path[r], -1) if fs.path[r] in paths else -1
                    if pid >= 0:
                        labels[r] = pid + k * 10_000_000  # person ids of two databases must not collide
            print(libsets.fmt(f"{name} | people layer, {label} ({secs:.1f}s)", libsets.score_labels(fs, labels)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("bench-out"))
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    ap.add_argument("--core", action="store_true", help="score the clustering core alone, step by step")
    ap.add_argument("--sweep", action="store_true", help="with --core: a threshold sweep (tune on A halves)")
    ap.add_argument("--batches", type=int, default=0, help="also add the photos in N batches")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(stamp())
    for name in args.sets:
        fs, sources = build(args.photos.resolve(), args.cache, name)
        print(
            f"{name}: {len(fs.main)} photos with a face, {len(set(fs.main.values()))} identities, {fs.X.shape[0]} faces"
        )
        if args.core:
            core_report(name, fs, args.sweep)
        else:
            end_to_end(name, fs, sources, args.batches)


if __name__ == "__main__":
    main()
