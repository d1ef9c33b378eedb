"""Calibrate the "same person?" score: the probability that two suggested people are one.

    .venv/bin/python benchmarks/calibrate_suggest.py PHOTOS [--cache DIR] [--sets lfw-A family-A celeba_wild]

Each set (see ``eval_library.py``; tune on the A halves) is clustered through the people layer; every
candidate pair of people within ``SUGGEST_SLACK`` of the merge distance (``photoclust.cluster.close_pairs``,
never two people of one photo) is labelled right when both people's main faces are mostly one identity.
A logistic fit of right ~ excess (distance beyond the automatic-merge distance) gives ``SUGGEST_MID`` and
``SUGGEST_SCALE`` of ``photoclust/people.py``; the script prints them with the share right per bin.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libsets  # noqa: E402
from eval_effort import majority, state  # noqa: E402
from eval_library import SETS, build  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.cluster import close_pairs, group_sums  # noqa: E402
from photoclust.library import Library  # noqa: E402
from photoclust.people.suggest import SUGGEST_SLACK  # noqa: E402
from photoclust.store import backup_database  # noqa: E402


def pairs_of(name: str, photos: Path, cache: Path, tmp: Path) -> list[tuple[float, bool]]:
    fs, sources = build(photos, cache, name)
    out: list[tuple[float, bool]] = []
    for k, (db, root, main, paths) in enumerate(sources):
        work = tmp / f"{name}-{k}.db"
        backup_database(db, work)
        libsets.present_only(work, paths)
        with Library(work) as lib:
            lib.cluster()
            truth = {fs.path[r]: i for r, i in fs.main.items() if fs.path[r] in paths}
            major = majority(state(work, root, main, truth), truth)
            from photoclust.people.suggest import _centred, library_mean_of

            rows = lib.people.tables.person_faces()
            X = _centred(lib.people, rows, library_mean_of(lib.people))
            keys, inv, P, size = group_sums(X, np.array([r[0] for r in rows], dtype=np.int64))
            photos_of: dict[int, set[int]] = {}
            for (_p, ph, _e), i in zip(rows, inv.tolist(), strict=True):
                photos_of.setdefault(i, set()).add(int(ph))
            ij, _d, excess = close_pairs(P, size, slack=SUGGEST_SLACK)
            for (i, j), e in zip(ij.tolist(), excess.tolist(), strict=True):
                a, b = int(keys[i]), int(keys[j])
                if photos_of[i] & photos_of[j] or a not in major or b not in major:
                    continue
                out.append((e, major[a] == major[b]))
    return out


def fit(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    """Logistic regression p(y) = 1 / (1 + exp((x - mid) / scale)) by Newton steps on (a, b), p = σ(a + b x)."""
    a, b = 0.0, -10.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a + b * xs)))
        w = p * (1 - p) + 1e-9
        g = np.array([np.sum(ys - p), np.sum((ys - p) * xs)])
        H = np.array([[np.sum(w), np.sum(w * xs)], [np.sum(w * xs), np.sum(w * xs * xs)]]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(H, g)
        a, b = a + step[0], b + step[1]
        if np.abs(step).max() < 1e-8:
            break
    return -a / b, -1.0 / b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("bench-out"))
    ap.add_argument("--sets", nargs="+", default=["lfw-A", "family-A", "celeba_wild"], choices=SETS)
    args = ap.parse_args()
    print(stamp())
    data: list[tuple[float, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            got = pairs_of(name, args.photos.resolve(), args.cache, Path(tmp))
            print(f"{name}: {len(got)} candidate pairs, {sum(r for _, r in got)} right")
            data += got
    xs = np.array([x for x, _ in data])
    ys = np.array([float(y) for _, y in data])
    mid, scale = fit(xs, ys)
    print(f"SUGGEST_MID = {mid:.3f}, SUGGEST_SCALE = {scale:.3f}  ({xs.size} pairs)")
    edges = [-1.0, 0.0, 0.03, 0.06, 0.09, SUGGEST_SLACK + 1e-9]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (xs >= lo) & (xs < hi)
        if m.any():
            pred = 1.0 / (1.0 + np.exp((xs[m] - mid) / scale))
            print(
                f"  excess {lo:+.2f}..{hi:+.2f}: {int(m.sum()):4d} pairs, right {ys[m].mean():.2f}, predicted {pred.mean():.2f}"
            )


if __name__ == "__main__":
    main()
