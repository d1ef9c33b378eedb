"""Scan speed: fresh scan and no-change rescan of a photo folder, plus large synthetic photos.

    .venv/bin/python benchmarks/bench_scan.py ../shared/photos/celeba_wild [--workers N] [--limit N]
        [--large N] [--device auto|cpu|cuda]

Prints photos/s, faces/s, peak RSS (this process and the largest worker), the share of photos with
at least one face, and the no-change rescan rate. ``--large N`` also builds N 12-megapixel JPEGs
(real photos enlarged to 4000x3000) and reports photos/s on them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stamp import stamp  # noqa: E402

from photoclust import crawl  # noqa: E402
from photoclust.config import ScanSettings  # noqa: E402
from photoclust.library import Library  # noqa: E402


def peak_rss_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def run(folder: Path, settings: ScanSettings, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with Library(db) as lib:
            t = time.monotonic()
            report = lib.scan([folder], settings=settings)
            fresh = time.monotonic() - t
            n = report.new + report.unreadable + report.moved
            with_face = lib.store.db.execute("SELECT count(*) FROM photos WHERE face_count > 0").fetchone()[0]
            photos = lib.store.db.execute("SELECT count(*) FROM photos").fetchone()[0]
            t = time.monotonic()
            again = lib.scan([folder], settings=settings)
            rescan = time.monotonic() - t
        me, kids = peak_rss_mb()
        print(
            f"[{label}] fresh scan: {n} photos in {fresh:.1f} s = {n / fresh:.2f} photos/s, "
            f"{report.faces / fresh:.2f} faces/s ({report.faces} faces, {report.unreadable} unreadable)"
        )
        print(f"[{label}] photos with >= 1 face: {with_face}/{photos} = {100 * with_face / max(1, photos):.2f}%")
        print(
            f"[{label}] no-change rescan: {again.unchanged} photos in {rescan:.3f} s = "
            f"{again.unchanged / max(rescan, 1e-9):.0f} photos/s"
        )
        print(f"[{label}] peak RSS: main {me:.0f} MB, largest worker {kids:.0f} MB")


def make_large(src: Path, dest: Path, n: int) -> Path:
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    files = [e.path for e in crawl.walk([src])][:n]
    for i, path in enumerate(files):
        with Image.open(path) as im:
            im = im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
            im.save(dest / f"large_{i:04d}.jpg", quality=90)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--limit", type=int, default=0, help="scan only the first N photos (copied to a temp dir)")
    ap.add_argument("--large", type=int, default=0, help="also time N synthetic 12 MP JPEGs")
    ap.add_argument("--no-flip", action="store_true")
    args = ap.parse_args()
    print(stamp(), flush=True)
    settings = ScanSettings(
        device=args.device, workers=args.workers, batch_size=args.batch_size, flip_average=not args.no_flip
    )
    print(
        f"machine: {os.cpu_count()} cores; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; "
        f"workers={settings.workers or 'auto'} device={settings.device} flip={settings.flip_average}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.path
        if args.limit:
            folder = Path(tmp) / "subset"
            for i, e in enumerate(crawl.walk([args.path])):
                if i >= args.limit:
                    break
                rel = os.path.relpath(e.path, args.path)
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(e.path, folder / rel)
        run(folder, settings, folder.name)
        if args.large:
            large = make_large(args.path, Path(tmp) / "large", args.large)
            run(large, settings, "12MP")


if __name__ == "__main__":
    main()
