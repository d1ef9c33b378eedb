"""Random kill -9 campaign: scans, CLI edits and exports killed at random moments.

    .venv/bin/python benchmarks/bench_kills.py --runs 12 [--photos data/photos] [--seed 1]

Each run:
1. starts ``photoclust scan`` (1, 2 and 4 workers in turn) on a fresh library, SIGKILLs the scan process
   alone (not its group) at a random moment, then checks: no process of the scan is alive 5 s later,
   ``PRAGMA integrity_check`` is ok, and after a resumed scan the library's faces equal a clean scan's;
2. runs ``photoclust name / merge / undo / redo`` and ``export --out`` on a clustered copy of the clean library,
   SIGKILLing each at a random moment, and checks: integrity ok; an edit that reported success is in the
   database; a killed edit is all or nothing; the export file is the previous complete one or the new
   complete one, never half written.

Prints runs, kills and failures. Linux only (reads the process tree from /proc).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stamp import stamp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PHOTOCLUST = [sys.executable, "-m", "photoclust"]


# -- processes ------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - out
        out |= frontier
    return out


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if (f := _stat(p)) is not None and f[0] not in ("Z", "X")}


def start(args: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    return subprocess.Popen(
        [*PHOTOCLUST, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def run_ok(args: list[str]) -> str:
    proc = start(args)
    out = proc.communicate(timeout=1800)[0].decode()
    if proc.returncode != 0:
        raise RuntimeError(f"photoclust {' '.join(args)} failed: {out}")
    return out


def kill_at(proc: subprocess.Popen[bytes], delay: float) -> tuple[bool, set[int], str]:
    """Watch the process tree for ``delay`` s, then SIGKILL the process alone. Returns (killed, pids, output)."""
    tracked: set[int] = set()
    t_end = time.monotonic() + delay
    while time.monotonic() < t_end and proc.poll() is None:
        tracked |= descendants(proc.pid)
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        tracked |= descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    out = proc.communicate(timeout=600)[0].decode(errors="replace")
    return killed, tracked, out


def survivors_after(pids: set[int], grace: float = 5.0) -> set[int]:
    deadline = time.monotonic() + grace
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = alive(pids)
    for pid in left:  # report them, and never leave them behind
        os.kill(pid, signal.SIGKILL)
    return left


# -- the database -----------------------------------------------------------------------------------


def query(db: Path, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def integrity(db: Path) -> str:
    return str(query(db, "PRAGMA integrity_check")[0][0]) if db.exists() else "ok"


def faces_by_content(db: Path) -> set[tuple[object, ...]]:
    rows = query(db, "SELECT p.sha256, f.x1, f.y1, f.x2, f.y2 FROM faces f JOIN photos p ON p.id = f.photo_id")
    return {(sha, round(x1), round(y1), round(x2), round(y2)) for sha, x1, y1, x2, y2 in rows}  # type: ignore[call-overload]


# -- the campaign -----------------------------------------------------------------------------------


class Tally:
    def __init__(self) -> None:
        self.runs = self.kills = self.completed = 0
        self.failures: list[str] = []
        self.by_kind: dict[str, list[int]] = {}

    def count(self, kind: str, killed: bool) -> None:
        k = self.by_kind.setdefault(kind, [0, 0])
        k[0 if killed else 1] += 1
        if killed:
            self.kills += 1
        else:
            self.completed += 1

    def fail(self, what: str) -> None:
        print(f"  FAILURE: {what}", flush=True)
        self.failures.append(what)


def scan_run(
    photos: Path,
    work: Path,
    workers: int,
    scan_seconds: float,
    clean: set[tuple[object, ...]],
    rng: random.Random,
    t: Tally,
) -> None:
    db = work / f"scan-{workers}.db"
    for p in work.glob(f"scan-{workers}.db*"):
        p.unlink()
    delay = rng.uniform(0.5, scan_seconds)
    proc = start(["scan", str(photos), "--db", str(db), "--workers", str(workers), "--batch-size", "4"])
    killed, tracked, out = kill_at(proc, delay)
    t.count(f"scan, {workers} worker{'s' if workers > 1 else ''}", killed)
    left = survivors_after(tracked | {proc.pid})
    if left:
        t.fail(f"scan with {workers} workers killed at {delay:.1f} s: {len(left)} processes outlived it")
    if (ok := integrity(db)) != "ok":
        t.fail(f"scan killed at {delay:.1f} s: integrity_check says {ok!r}")
        return
    done = query(db, "SELECT count(*) FROM photos")[0][0] if db.exists() else 0
    print(
        f"  scan, {workers} workers, killed={killed} at {delay:.1f} s: {done} photos in, {len(tracked)} children",
        flush=True,
    )
    run_ok(["scan", str(photos), "--db", str(db), "--workers", str(workers)])
    if faces_by_content(db) != clean:
        t.fail(f"scan with {workers} workers killed at {delay:.1f} s: the resumed library differs from a clean scan")


DURATION: dict[str, float] = {}


def export_rows(text: str) -> int:
    return len(list(csv.DictReader(io.StringIO(text))))


def edit_run(clustered: Path, work: Path, edits: int, rng: random.Random, t: Tally) -> None:
    db = work / "edits.db"
    for p in work.glob("edits.db*"):
        p.unlink()
    shutil.copy(clustered, db)
    out_csv = work / "export.csv"
    out_csv.unlink(missing_ok=True)
    n_faces = query(db, "SELECT count(*) FROM faces")[0][0]
    for i in range(edits):
        people = [int(r[0]) for r in query(db, "SELECT DISTINCT person_id FROM faces WHERE person_id IS NOT NULL")]
        ops_before = query(db, "SELECT count(*), coalesce(sum(undone), 0) FROM ops")[0]
        kinds = ["name", "merge", "undo", "export"] if len(people) >= 3 else ["name", "undo", "redo", "export"]
        kind = rng.choice(kinds if people else ["undo", "redo", "export"])  # (undo may take the clustering back)
        if kind == "name":
            pid = rng.choice(people)
            new = f"Person {i}-{rng.randrange(10**6)}"
            old = query(db, "SELECT name FROM people WHERE id = ?", (pid,))[0][0]
            args = ["name", str(pid), new]
        elif kind == "merge":
            a, b, into = rng.sample(people, 3)
            args = ["merge", str(a), str(b), "--into", str(into)]
            moving = query(db, "SELECT count(*) FROM faces WHERE person_id IN (?, ?)", (a, b))[0][0]
        elif kind in ("undo", "redo"):
            args = [kind]
        else:
            args = ["export", "--format", "csv", "--out", str(out_csv)]
            previous = out_csv.read_text() if out_csv.exists() else None
        proc = start([*args, "--db", str(db)])
        # a random moment within the command's usual run time (learnt from the ones that finished)
        t_start = time.monotonic()
        killed, _tracked, out = kill_at(proc, rng.uniform(0.0, 1.1 * DURATION.get(kind, 1.0)))
        done = not killed and proc.returncode == 0
        if done:
            DURATION[kind] = time.monotonic() - t_start
        t.count(kind, killed)
        if survivors_after({proc.pid}, grace=5.0):
            t.fail(f"{kind} outlived its kill")
        if (ok := integrity(db)) != "ok":
            t.fail(f"{kind} killed: integrity_check says {ok!r}")
            return
        if kind == "name":
            now = query(db, "SELECT name FROM people WHERE id = ?", (pid,))[0][0]
            if done and now != new:
                t.fail(f"name reported done but the name is {now!r}, not {new!r}")
            if not done and now not in (old, new):
                t.fail(f"killed name left {now!r}")
        elif kind == "merge":
            left = query(db, "SELECT count(*) FROM faces WHERE person_id IN (?, ?)", (a, b))[0][0]
            if done and left:
                t.fail(f"merge reported done but {left} faces are still in the merged people")
            if not done and left not in (0, moving):
                t.fail(f"killed merge is half done: {left} of {moving} faces moved")
        elif kind == "undo":
            ops_after = query(db, "SELECT count(*), coalesce(sum(undone), 0) FROM ops")[0]
            if done and ops_after[1] != ops_before[1] + 1:
                t.fail(f"undo reported done but the log says {ops_after} (was {ops_before})")
        elif kind == "redo":
            ops_after = query(db, "SELECT count(*), coalesce(sum(undone), 0) FROM ops")[0]
            if done and ops_after[1] != ops_before[1] - 1:
                t.fail(f"redo reported done but the log says {ops_after} (was {ops_before})")
        else:
            text = out_csv.read_text() if out_csv.exists() else None
            if done and (text is None or export_rows(text) != n_faces):
                t.fail("export reported done but the file is missing or incomplete")
            if not done and text is not None and text != previous and export_rows(text) != n_faces:
                t.fail("killed export left a half-written file")
            if text is not None and not text.endswith("\n"):
                t.fail("export file does not end with a complete line")
    temp_left = [p.name for p in work.glob(".export.csv.*")]
    if temp_left:
        print(
            f"  note: {len(temp_left)} temp files of killed exports left next to the output (never the output itself)"
        )
        for p in work.glob(".export.csv.*"):
            p.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--photos", type=Path, default=ROOT / "data" / "photos")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--edits", type=int, default=12, help="killed CLI edits/exports per run")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(stamp(), flush=True)
    rng = random.Random(args.seed)
    workers = [int(w) for w in args.workers.split(",")]
    t0 = time.monotonic()
    t = Tally()
    with tempfile.TemporaryDirectory(prefix="bench_kills.") as tmp:
        work = Path(tmp)
        clean_db = work / "clean.db"
        ts = time.monotonic()
        run_ok(["scan", str(args.photos), "--db", str(clean_db), "--workers", "2"])
        scan_seconds = time.monotonic() - ts
        clean = faces_by_content(clean_db)
        clustered = work / "clustered.db"
        shutil.copy(clean_db, clustered)
        run_ok(["cluster", "--db", str(clustered)])
        print(f"clean scan: {len(clean)} faces in {scan_seconds:.1f} s; clustered copy ready", flush=True)
        for i in range(args.runs):
            t.runs += 1
            w = workers[i % len(workers)]
            print(f"run {i + 1}/{args.runs}", flush=True)
            scan_run(args.photos, work, w, scan_seconds, clean, rng, t)
            edit_run(clustered, work, args.edits, rng, t)
    print()
    print(f"runs: {t.runs}, kills: {t.kills} (+ {t.completed} commands that finished before their kill)")
    for kind, (k, c) in sorted(t.by_kind.items()):
        print(f"  {kind}: {k} killed, {c} finished")
    print(f"failures: {len(t.failures)}")
    for f in t.failures:
        print(f"  {f}")
    print(f"({time.monotonic() - t0:.0f} s, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})")
    sys.exit(1 if t.failures else 0)


if __name__ == "__main__":
    main()
