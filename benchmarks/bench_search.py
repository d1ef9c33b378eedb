"""Search speed on a large synthetic library: 100k photos, ~150k faces, 5k named people.

    .venv/bin/python benchmarks/bench_search.py [--photos N] [--faces N] [--people N] [--db FILE]
        [--repeat R] [--drop-search-indices]

The library is made of synthetic rows written with SQL into a real photoclust database (all
migrations applied): photos with a present file each (2% also with a missing copy), faces with
2 KB embedding and 3 KB thumbnail BLOBs (so that rows and pages are as large as real ones), people
with Zipf-distributed popularity (a few people are in thousands of photos, most in a handful), 30% of
the faces unknown and a fifth of those flagged low quality. ``--db FILE`` keeps the library (and
reuses it when it exists); otherwise it lives in a temporary folder.

Every query goes through ``Library.search`` (name resolution included). Printed per query: the
number of photos found, the first run, the median and the slowest of ``--repeat`` more runs (wall
clock, ms) and their median CPU time (ms; what the query costs when other processes share the CPU).
``--drop-search-indices`` drops the indices of migration 0003_search first, to show what they buy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stamp import stamp  # noqa: E402

from photoclust.library import Library  # noqa: E402
from photoclust.store import Store  # noqa: E402

FIRST = ["Ann", "Bob", "Carla", "Dev", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jon", "Kim", "Lea", "Max", "Nia"]
LAST = ["Smith", "Garcia", "Müller", "Rossi", "Dubois", "Novak", "Kowalski", "Silva", "Jensen", "Ito"]


def person_name(i: int) -> str:
    return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}"


def build(db_path: Path, n_photos: int, n_faces: int, n_people: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    store = Store.open(db_path)
    db = store.db
    now = time.time()
    emb = bytes(2048)
    thumb = bytes(3000)
    with db.atomic():
        db.execute("PRAGMA cache_size = -200000")
        taken = rng.integers(0, 20 * 365 * 86400, size=n_photos)
        photos = []
        for i in range(n_photos):
            when = None
            if rng.random() > 0.15:
                when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(946684800 + int(taken[i])))
            photos.append((i + 1, f"{i:064x}", 4000, 3000, "JPEG", when, 0, "bench", now))
        db.conn.executemany(
            "INSERT INTO photos (id, sha256, width, height, format, taken_at, face_count, model_version, indexed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            photos,
        )
        files = [
            (f"/photos/{i // 1000:03d}/IMG_{i:06d}.jpg", i + 1, 3_000_000, 0, "present", now, now)
            for i in range(n_photos)
        ]
        n_missing = n_photos // 50
        files += [
            (f"/old/IMG_{i:06d}.jpg", int(i) + 1, 3_000_000, 0, "missing", now, now)
            for i in rng.choice(n_photos, n_missing, replace=False)
        ]
        db.conn.executemany(
            "INSERT INTO files (path, photo_id, size, mtime_ns, status, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
            files,
        )
        db.conn.executemany(
            "INSERT INTO people (id, name, hidden, cover_face_id, created_at) VALUES (?, ?, ?, NULL, ?)",
            [(p + 1, person_name(p), int(rng.random() < 0.02), now) for p in range(n_people)],
        )
        # faces: photo of each face (photos get 0..several faces), person by Zipf popularity
        photo_of = np.sort(rng.integers(1, n_photos + 1, size=n_faces))
        weights = 1.0 / np.arange(1, n_people + 1) ** 1.1
        weights /= weights.sum()
        person = rng.choice(np.arange(1, n_people + 1), size=n_faces, p=weights)
        unknown = rng.random(n_faces) < 0.30
        flagged = unknown & (rng.random(n_faces) < 0.2)
        seen: set[tuple[int, int]] = set()
        rows = []
        for k in range(n_faces):
            ph, pid = int(photo_of[k]), int(person[k])
            if not unknown[k] and (ph, pid) in seen:  # one person once per photo
                unknown[k] = True
            pid_or_none = None if unknown[k] else pid
            if pid_or_none is not None:
                seen.add((ph, pid))
            x = float(rng.integers(0, 3500))
            rows.append(
                (
                    ph,
                    x,
                    100.0,
                    x + 200,
                    300.0,
                    "[]",
                    0.99,
                    200.0,
                    100.0,
                    0.0,
                    "blurry" if flagged[k] else "",
                    thumb,
                    emb,
                    "bench",
                    pid_or_none,
                    int(rng.random() < 0.3 and pid_or_none is not None),
                )
            )
            if len(rows) >= 10000:
                _insert_faces(db, rows)
                rows = []
        _insert_faces(db, rows)
        db.execute("UPDATE photos SET face_count = (SELECT count(*) FROM faces WHERE faces.photo_id = photos.id)")
    db.execute("ANALYZE")
    store.close()
    print(f"built {db_path} in {time.perf_counter() - t0:.0f} s ({os.path.getsize(db_path) / 1e6:.0f} MB)")


def _insert_faces(db: object, rows: list[tuple[object, ...]]) -> None:
    db.conn.executemany(  # type: ignore[attr-defined]
        "INSERT INTO faces (photo_id, x1, y1, x2, y2, landmarks, probability, size_px, blur, yaw, flags, thumbnail,"
        " embedding, model_version, person_id, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--faces", type=int, default=150_000)
    ap.add_argument("--people", type=int, default=5_000)
    ap.add_argument("--db", type=Path, default=None, help="keep (and reuse) the synthetic library here")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--drop-search-indices", action="store_true")
    args = ap.parse_args()
    print(stamp(), flush=True)

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory()
        db_path = Path(tmp.name) / "bench.db"
    else:
        db_path = args.db
    if not db_path.exists():
        build(db_path, args.photos, args.faces, args.people)
    with Library(db_path) as lib:
        db = lib.store.db
        if args.drop_search_indices:
            for name in ("faces_person_photo", "faces_photo_person", "files_photo_present"):
                db.execute(f"DROP INDEX IF EXISTS {name}")
            db.execute("ANALYZE")
        counts = db.execute(
            "SELECT person_id, count(*) AS n FROM faces WHERE person_id IS NOT NULL GROUP BY person_id ORDER BY n DESC"
        ).fetchall()
        n_photos = db.execute("SELECT count(*) FROM photos").fetchone()[0]
        n_faces = db.execute("SELECT count(*) FROM faces").fetchone()[0]
        n_people = db.execute("SELECT count(*) FROM people").fetchone()[0]
        print(f"library: {n_photos} photos, {n_faces} faces, {n_people} people; most faces {counts[0][1]}")
        name = {int(i): n for i, n in db.execute("SELECT id, name FROM people")}
        top = [name[int(p)] for p, _n in counts[:3]]
        mid = [name[int(p)] for p, _n in counts[50:53]]
        rare = [name[int(p)] for p, _n in counts[-3:]]
        queries: list[tuple[str, list[str], str]] = [
            ("1 popular person", top[:1], "all"),
            ("2 popular, all", top[:2], "all"),
            ("3 popular, any", top, "any"),
            ("2 popular, only", top[:2], "only"),
            ("1 popular, only", top[:1], "only"),
            ("3 mid, any", mid, "any"),
            ("2 mid, all", mid[:2], "all"),
            ("1 rare person", rare[:1], "all"),
            ("3 rare, only", rare, "only"),
        ]
        print(f"{'query':<20} {'photos':>7} {'cold ms':>8} {'median ms':>10} {'max ms':>8} {'cpu ms':>7}")
        worst = 0.0
        for label, names, mode in queries:
            t = time.perf_counter()
            found = lib.search(names, mode)  # type: ignore[arg-type]
            cold = (time.perf_counter() - t) * 1000
            times, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                lib.search(names, mode)  # type: ignore[arg-type]
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
            worst = max(worst, max(times), cold)
            print(
                f"{label:<20} {len(found):>7} {cold:8.1f} {statistics.median(times):10.1f} {max(times):8.1f}"
                f" {statistics.median(cpu):7.1f}"
            )
        print(f"slowest single query: {worst:.1f} ms")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
