"""Time to a usable People screen on a large library: 100k faces, 5k people (the TUI's performance bar: < 1 s).

    .venv/bin/python benchmarks/bench_tui.py [--faces N] [--people N] [--db FILE] [--repeat R]

The library is written through ``Store.write_batch`` (photos with 1 to 3 faces, a small real JPEG
thumbnail per face, 512-d float32 embeddings), then people are made with SQL: ``--people`` people of
Zipf-like sizes, a fifth of them named, 1% hidden, 10% of the faces unknown. ``--db FILE`` keeps the
library and reuses it when it exists; otherwise it lives in a temporary folder.

Measured with ``app.run_test()`` (headless, half-block pictures), from ``make_app`` (the library is
opened) to the People screen showing its cards with their pictures: the grid filled and the visible
thumbnails decoded (the unknown-face count may still be on its way: its card says "counting…"). Also printed: the import time of the TUI, and the library
reads the screen waits for (``list_people``, the unknown-face summary), each timed on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stamp import stamp  # noqa: E402

from photoclust.store import Store  # noqa: E402
from photoclust.types import AnalysedPhoto, DetectedFace, FaceCrop, FaceQuality, FileEntry, PhotoInfo  # noqa: E402

PHOTO = Path(__file__).resolve().parent.parent / "data" / "photos" / "obama" / "05.jpg"


def thumbnails(n: int = 16) -> list[bytes]:
    """A few small real JPEG face thumbnails (crops of one photo), reused round-robin."""
    with Image.open(PHOTO) as raw:
        img = raw.convert("RGB")
    out = []
    for i in range(n):
        x, y = 90 + 2 * i, 25 + i
        buf = io.BytesIO()
        img.crop((x, y, x + 140, y + 140)).resize((128, 128)).save(buf, format="JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def build(db: Path, faces: int, people: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    thumbs = thumbnails()
    t0 = time.perf_counter()
    store = Store.open(db)
    batch: list[tuple[AnalysedPhoto, np.ndarray, str]] = []
    written = photo = 0
    while written < faces:
        n = int(min(faces - written, rng.integers(1, 4)))
        crops = tuple(
            FaceCrop(
                DetectedFace((10.0 + 90 * j, 20.0, 90.0 + 90 * j, 110.0), ((0.0, 0.0),) * 5, 0.99),
                FaceQuality(80.0, 100.0, 0.0, ()),
                np.zeros((0,), np.uint8),
                thumbs[(written + j) % len(thumbs)],
            )
            for j in range(n)
        )
        emb = rng.normal(size=(n, 512)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        info = PhotoInfo(f"{photo:064x}", 640, 480, f"20{10 + photo % 15}-01-01T12:00:00", "JPEG")
        entry = FileEntry(f"/photos/{photo // 1000:03d}/{photo:07d}.jpg", 100_000, photo)
        batch.append((AnalysedPhoto(entry, info, crops), emb, "bench"))
        written += n
        photo += 1
        if len(batch) >= 500:
            store.write_batch(batch, [], [])
            batch = []
    if batch:
        store.write_batch(batch, [], [])
    # people: Zipf-like sizes, every face of a photo to a different person; 10% of faces stay unknown
    ids = np.array([r[0] for r in store.db.execute("SELECT id FROM faces ORDER BY id").fetchall()])
    known = ids[rng.random(len(ids)) >= 0.10]
    weights = 1.0 / np.arange(1, people + 1) ** 0.8
    owner = rng.choice(people, size=len(known), p=weights / weights.sum()) + 1
    owner[:people] = np.arange(1, people + 1)  # nobody is empty
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO people (id, name, hidden, created_at) VALUES (?, ?, ?, 0)",
            [(p, f"Person {p}" if p % 5 == 0 else None, int(p % 100 == 0)) for p in range(1, people + 1)],
        )
        store.db.conn.executemany(
            "UPDATE faces SET person_id = ? WHERE id = ?", [(int(o), int(f)) for o, f in zip(owner, known, strict=True)]
        )
    store.db.execute("ANALYZE")
    store.close()
    print(f"built {faces:,} faces in {photo:,} photos, {people:,} people in {time.perf_counter() - t0:.1f} s")


async def first_screen(db: Path) -> tuple[float, int, int]:
    from photoclust.tui.app import make_app
    from photoclust.tui.widgets.grid import PeopleGrid

    t0 = time.perf_counter()
    app = make_app(db, renderer="halfcell")
    async with app.run_test(size=(160, 50)) as pilot:
        while True:
            await pilot.pause(0.002)
            grid = app.screen.query_one(PeopleGrid)
            first, last = grid.visible_range
            shown = grid.items[first:last]
            if len(grid.items) > 1 and all(
                app.backend.has_thumbnail(i.cover_face_id) for i in shown if i.cover_face_id is not None
            ):
                elapsed = time.perf_counter() - t0
                break
        await app.workers.wait_for_complete()
        cards = len(grid.children)
        items = len(grid.items)
    app.backend.close()
    return elapsed, cards, items


def time_reads(db: Path) -> None:
    from photoclust.library import Library
    from photoclust.tui.backend import Backend

    with Library(db) as lib:
        backend = Backend(lib)
        for label, fn in (
            ("list_people(include_hidden=True)", backend.people),
            ("unknown summary", backend.unknown_summary),
        ):
            times = []
            for _ in range(3):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            print(f"  {label:<34} {1000 * min(times):7.0f} ms (best of 3)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--people", type=int, default=5_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(stamp(), flush=True)
    tmp = tempfile.TemporaryDirectory() if args.db is None else None
    db = args.db or Path(tmp.name) / "bench.db"  # type: ignore[union-attr]
    if not db.exists():
        build(db, args.faces, args.people)
    imports = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t=time.perf_counter(); import photoclust.tui.app; print(time.perf_counter()-t)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    print(f"import photoclust.tui.app: {float(imports.stdout):.2f} s (paid once, before the app starts)")
    print("library reads behind the People screen:")
    time_reads(db)
    runs = []
    for _ in range(args.repeat):
        elapsed, cards, items = asyncio.run(first_screen(db))
        runs.append(elapsed)
    print(
        f"time to a usable People screen: median {statistics.median(runs):.2f} s, best {min(runs):.2f} s"
        f" ({args.repeat} runs; {items - 1:,} people, {cards} cards mounted, 160x50 terminal)"
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
