"""Why photoclust sets OMP_WAIT_POLICY=PASSIVE: FaceNet embedding time on a busy machine.

    .venv/bin/python benchmarks/bench_threads.py [--faces 64] [--busy 1]

Runs the real embedder in fresh subprocesses, each with a different OpenMP wait policy and torch thread
count, while ``--busy`` other processes keep cores loaded (as during a scan, where worker processes
decode and detect next to the embedder). Prints seconds per face for each setting.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

from stamp import stamp

CHILD = r"""
import os, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from photoclust.embed import Embedder
import torch
torch.set_num_threads({threads})
rng = np.random.default_rng(0)
crops = rng.integers(0, 255, size=({faces}, 160, 160, 3), dtype=np.uint8)
e = Embedder(device="cpu", flip_average=False)
e.embed(crops[:2])
best = 1e9
for _ in range(3):
    t = time.perf_counter()
    for i in range(0, {faces}, 8):  # small batches, as a worker embeds one photo's faces at a time
        e.embed(crops[i:i + 8])
    best = min(best, time.perf_counter() - t)
print(best / {faces})
"""


def spin(stop: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=64)
    ap.add_argument("--busy", type=int, default=1, help="CPU-bound processes running meanwhile")
    args = ap.parse_args()
    print(stamp(), flush=True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    stop = mp.Event()
    hogs = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for h in hogs:
        h.start()
    print(f"machine: {os.cpu_count()} cores, {args.busy} busy process(es) alongside")
    try:
        for policy in ("ACTIVE", "PASSIVE"):
            for threads in (1, os.cpu_count() or 1):
                env = dict(os.environ, OMP_WAIT_POLICY=policy)
                t = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-c", CHILD.format(root=root, threads=threads, faces=args.faces)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                per_face = float(out.stdout.strip().splitlines()[-1])
                print(
                    f"OMP_WAIT_POLICY={policy:<7} threads={threads}: {1000 * per_face:7.1f} ms/face "
                    f"(run {time.perf_counter() - t:.0f} s)"
                )
    finally:
        stop.set()
        for h in hogs:
            h.join(timeout=5)


if __name__ == "__main__":
    main()
