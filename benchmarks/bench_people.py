"""`photoclust cluster` end to end on a large library: the people layer, not only the clustering core.

    .venv/bin/python benchmarks/bench_people.py [--faces 100000] [--new 1000]

Writes synthetic face-like embeddings (photoclust.cluster.synthetic, one face per photo, 20 % strangers)
into a real library database, then times: the first `cluster` (everything new: clustering + writing
people + the undo log), naming 100 people and confirming their faces, an incremental `cluster` after
``--new`` more faces arrive, `cluster --full`, `undo` of that full run, and the People list.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stamp import stamp  # noqa: E402

from photoclust.cluster.synthetic import make_faces  # noqa: E402
from photoclust.library import Library  # noqa: E402
from photoclust.store import Store  # noqa: E402
from photoclust.types import AnalysedPhoto, DetectedFace, FaceCrop, FaceQuality, FileEntry, PhotoInfo  # noqa: E402


def write_faces(store: Store, X: np.ndarray, start: int) -> None:
    empty = np.zeros((0,), np.uint8)
    rows = []
    for i, emb in enumerate(X, start):
        face = FaceCrop(
            DetectedFace((10.0, 10.0, 110.0, 110.0), ((0.0, 0.0),) * 5, 0.999),
            FaceQuality(100.0, 100.0, 0.0, ()),
            empty,
            b"",
        )
        info = PhotoInfo(f"sha-{i}", 640, 480, None, "JPEG")
        rows.append((AnalysedPhoto(FileEntry(f"/photos/{i}.jpg", 1, 1), info, (face,)), emb[None, :], "synthetic"))
        if len(rows) == 5000:
            store.write_batch(rows, [], [])
            rows = []
    store.write_batch(rows, [], [])


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    t = time.monotonic()
    out = fn()
    print(f"{label:<48} {time.monotonic() - t:7.2f} s")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--new", type=int, default=1000)
    args = ap.parse_args()
    print(stamp(), flush=True)
    data = make_faces(args.faces + args.new, seed=0)
    old, new = data.X[: args.faces], data.X[args.faces :]
    with tempfile.TemporaryDirectory() as tmp, Library(Path(tmp) / "bench.db") as lib:
        timed(f"write {args.faces:,} faces", lambda: write_faces(lib.store, old, 0))
        r = timed("cluster (first run, all faces new)", lib.cluster)
        print(f"   -> {r.people:,} people, {r.unknown:,} unknown")
        people = lib.list_people()[:100]

        def name_and_confirm() -> None:
            for i, p in enumerate(people):
                lib.name(p.id, f"Person {i}")
                lib.confirm([f.id for f in lib.faces(p.id)])

        timed("name + confirm 100 people (200 edits)", name_and_confirm)
        timed(f"write {args.new:,} new faces", lambda: write_faces(lib.store, new, args.faces))
        r = timed(f"cluster (incremental, {args.new:,} new faces)", lib.cluster)
        print(f"   -> {r.changed:,} faces changed person, {r.new_people} new people")
        r = timed("cluster --full", lambda: lib.cluster(full=True))
        print(f"   -> {r.changed:,} faces changed person")
        timed("undo the --full run", lib.undo)
        timed("list people", lib.list_people)


if __name__ == "__main__":
    main()
