"""Scan speed: fresh scan and no-change rescan of a photo folder, plus large synthetic photos.

    .venv/bin/python benchmarks/bench_scan.py ../shared/photos/celeba_wild [--workers N] [--limit N]
        [--large N] [--device auto|cpu|cuda]

Prints photos/s, faces/s, peak RSS (this process and the largest worker), the share of photos with
at least one face, and the no-change rescan rate. ``--large N`` also builds N 12-megapixel JPEGs
(real photos enlarged to 4000x3000) and reports photos/s on them (``--large-only``: only them). Peak
RSS is also sampled for the scan's whole process tree (main process and workers together).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
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


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of ``pid`` and all its descendants now, summed, in MB (Linux /proc). RSS counts the pages
    the processes share (torch's libraries, mapped by every worker) once per process; PSS splits them
    between the processes that share them, so its sum is the memory they really take together."""
    rss = pss = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) / 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) / 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return rss, pss


class TreeRss:
    """Samples the memory of this process and its workers together every 0.1 s; ``peak`` and ``peak_pss``
    are the largest sums seen."""

    def __init__(self) -> None:
        self.peak = self.peak_pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            rss, pss = tree_memory_mb(os.getpid())
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(folder: Path, settings: ScanSettings, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with Library(db) as lib:
            t = time.monotonic()
            with TreeRss() as rss:
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
        print(
            f"[{label}] peak RSS: main {me:.0f} MB, largest worker {kids:.0f} MB; "
            f"all processes together {rss.peak:.0f} MB RSS, {rss.peak_pss:.0f} MB PSS (sampled every 0.1 s)"
        )


def make_large(src: Path, dest: Path, n: int) -> Path:
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    files = [e.path for e in crawl.walk([src])]
    for i in range(n):  # cycles through the folder's photos when it has fewer than n (e.g. data/photos)
        with Image.open(files[i % len(files)]) as im:
            im = im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
            im.putpixel((i % 4000, 0), (i % 256, 0, 0))  # every copy has its own content (and sha256)
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
    ap.add_argument("--large-only", action="store_true", help="with --large: only the 12 MP JPEGs")
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
        if not args.large_only:
            run(folder, settings, folder.name)
        if args.large:
            large = make_large(args.path, Path(tmp) / "large", args.large)
            run(large, settings, "12MP")


if __name__ == "__main__":
    main()
