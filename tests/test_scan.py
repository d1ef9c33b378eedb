"""Scanning real photos through the real models into a real SQLite file."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from photoclust.config import ScanSettings
from photoclust.errors import DatabaseError
from photoclust.library import Library
from photoclust.store import Store
from tests.helpers import SAMPLE, alive, copy_sample, make_clip

pytestmark = pytest.mark.slow

ONE_WORKER = ScanSettings(workers=1, batch_size=8)


def faces_by_content(db: Path) -> set[tuple[str, int, int, int, int]]:
    with Store.open(db) as s:
        rows = s.db.execute(
            "SELECT photos.sha256, faces.x1, faces.y1, faces.x2, faces.y2 FROM faces JOIN photos ON photos.id = faces.photo_id"
        ).fetchall()
    return {(sha, round(x1), round(y1), round(x2), round(y2)) for sha, x1, y1, x2, y2 in rows}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> tuple[Path, Path]:
    """A folder with the sample photos and a library that has scanned it once (cloned per test)."""
    base = tmp_path_factory.mktemp("scanned")
    folder = base / "Photos"
    copy_sample(photos_dir, folder)
    with Library(base / "lib.db") as lib:
        report = lib.scan([folder], settings=ONE_WORKER)
    assert report.new == len(SAMPLE) and report.unreadable == 0
    return folder, base / "lib.db"


@pytest.fixture
def lib_copy(scanned: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Library]:
    folder, db = scanned
    shutil.copytree(folder, tmp_path / "Photos")
    # the copy's paths differ: scanning it links the known content to the new paths (no re-analysis)
    shutil.copy(db, tmp_path / "lib.db")
    lib = Library(tmp_path / "lib.db")
    lib.scan([tmp_path / "Photos"], settings=ONE_WORKER)
    lib.store.mark_missing([p for p in lib.store.known_files() if not p.startswith(str(tmp_path))])
    yield tmp_path / "Photos", lib
    lib.close()


def test_scan_finds_faces_and_rescan_costs_nothing(scanned: tuple[Path, Path]) -> None:
    folder, db = scanned
    with Library(db) as lib:
        st = lib.status()
        assert st.photos == len(SAMPLE)
        assert st.faces >= len(SAMPLE)
        t = time.monotonic()
        report = lib.scan([folder], settings=ONE_WORKER)
        assert time.monotonic() - t < 2.0
    assert (report.new, report.changed, report.unchanged, report.faces) == (0, 0, len(SAMPLE), 0)
    with Store.open(db) as s:
        assert s.integrity_check() == "ok"
        assert s.db.execute("SELECT count(DISTINCT model_version) FROM faces").fetchone()[0] == 1
        emb = s.db.execute("SELECT embedding FROM faces LIMIT 1").fetchone()[0]
        assert len(emb) == 512 * 4


def test_moved_and_renamed_files_keep_their_faces_and_people(lib_copy: tuple[Path, Library]) -> None:
    folder, lib = lib_copy
    obama = [f for f in lib.store.db.execute("SELECT id FROM faces").fetchall()][0][0]
    pid = lib.create_person("Somebody", [obama])
    before = {f.id for f in lib.faces(pid)}
    (folder / "moved" / "deeper").mkdir(parents=True)
    for p in folder.glob("obama/*.jpg"):
        p.rename(folder / "moved" / "deeper" / ("renamed " + p.name))
    report = lib.scan([folder], settings=ONE_WORKER)
    assert report.moved == 2 and report.deleted == 2 and report.new == 0
    assert {f.id for f in lib.faces(pid)} == before
    assert all("renamed" in f.path for f in lib.faces(pid) if "obama" not in f.path)


def test_modified_file_is_reindexed_and_deleted_file_leaves_views(lib_copy: tuple[Path, Library]) -> None:
    folder, lib = lib_copy
    faces_before = lib.status().faces
    target = folder / "madonna" / "01.jpg"
    Image.open(target).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(target, quality=90)
    report = lib.scan([folder], settings=ONE_WORKER)
    assert report.changed == 1 and report.new == 0
    assert lib.status().faces == faces_before  # old version's faces left the views, new ones came
    (folder / "biden" / "01.jpg").unlink()
    report = lib.scan([folder], settings=ONE_WORKER)
    assert report.deleted == 1
    assert lib.status().faces < faces_before
    assert lib.status().files_missing >= 1


def test_broken_files_are_recorded_once_and_never_stop_the_scan(lib_copy: tuple[Path, Library]) -> None:
    folder, lib = lib_copy
    bad = folder / "bad"
    bad.mkdir()
    (bad / "zero.jpg").write_bytes(b"")
    (bad / "text.jpg").write_text("not a photo")
    data = (folder / "obama" / "01.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(data[: len(data) // 4])
    from tests.helpers import huge_png_header

    (bad / "bomb.png").write_bytes(huge_png_header(40_000, 40_000))
    good = folder / "Été 2019" / "ünïcode photo.jpg"
    good.parent.mkdir()
    shutil.copy(Path(__file__).parent.parent / "data" / "photos" / "elton_john" / "01.jpg", good)
    report = lib.scan([folder], settings=ONE_WORKER)
    assert report.unreadable == 4 and report.new == 1
    reasons = dict(lib.errors())
    assert set(reasons) == {str(bad / n) for n in ("zero.jpg", "text.jpg", "truncated.jpg", "bomb.png")}
    assert "too large" in reasons[str(bad / "bomb.png")]
    assert all("\n" not in r for r in reasons.values())
    # recorded once: a rescan does not retry unchanged broken files
    report = lib.scan([folder], settings=ONE_WORKER)
    assert report.unreadable == 4 and report.new == 0 and len(lib.errors()) == 4
    # a fixed file leaves the error list
    shutil.copy(folder / "biden" / "01.jpg", bad / "text.jpg")
    report = lib.scan([folder], settings=ONE_WORKER)
    assert str(bad / "text.jpg") not in dict(lib.errors())


def test_parallel_workers_give_the_same_result(scanned: tuple[Path, Path], tmp_path: Path) -> None:
    folder, db = scanned
    with Library(tmp_path / "par.db") as lib:
        lib.scan([folder], settings=ScanSettings(workers=2, batch_size=2))
    assert faces_by_content(tmp_path / "par.db") == faces_by_content(db)


def _scan_subprocess(folder: Path, db: Path, *extra: str, workers: int = 1) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "photoclust", "scan", str(folder), "--db", str(db), "--workers", str(workers), *extra]
    # its own process group, like a command in a terminal: Ctrl-C reaches the scan and its workers
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_photos(db: Path, n: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        if db.exists():
            try:
                conn = sqlite3.connect(db, timeout=1)
                count = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
                conn.close()
                if count >= n:
                    return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("scan made no progress")


@pytest.mark.parametrize("sig, workers", [(signal.SIGKILL, 1), (signal.SIGINT, 1), (signal.SIGINT, 2)])
def test_killed_scan_leaves_a_consistent_db_and_resumes(
    sig: signal.Signals, workers: int, scanned: tuple[Path, Path], tmp_path: Path, photos_dir: Path
) -> None:
    _folder, clean_db = scanned
    folder = tmp_path / "Photos"
    copy_sample(photos_dir, folder)
    db = tmp_path / "killed.db"
    proc = _scan_subprocess(folder, db, "--batch-size", "1", workers=workers)
    _wait_for_photos(db, 2, proc)
    os.killpg(proc.pid, sig)  # the whole group, as Ctrl-C in a terminal (or a kill -9 of everything)
    out = proc.communicate(timeout=120)[0].decode()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, out
        assert "interrupted" in out
    with Store.open(db) as s:
        assert s.integrity_check() == "ok"
        done = s.db.execute("SELECT count(*) FROM photos").fetchone()[0]
        # every indexed photo has its file row and all its faces (written in one transaction)
        assert (
            s.db.execute("SELECT count(*) FROM photos WHERE id NOT IN (SELECT photo_id FROM files)").fetchone()[0] == 0
        )
        assert (
            s.db.execute(
                "SELECT count(*) FROM photos WHERE face_count != (SELECT count(*) FROM faces WHERE photo_id = photos.id)"
            ).fetchone()[0]
            == 0
        )
    assert 2 <= done <= len(SAMPLE)
    resume = _scan_subprocess(folder, db)
    out = resume.communicate(timeout=300)[0].decode()
    assert resume.returncode == 0, out
    assert f"{len(SAMPLE) - done} new" in out
    assert faces_by_content(db) == faces_by_content(clean_db)


def test_scan_of_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "photoclust", "scan", str(tmp_path / "nope"), "--db", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


def test_no_network_connection_is_attempted_during_a_scan(tmp_path: Path, photos_dir: Path) -> None:
    from tests.conftest import NetworkBlocked

    # the guard is real: any TCP connection attempt in this process raises ...
    with pytest.raises(NetworkBlocked):
        import socket

        socket.create_connection(("127.0.0.1", 9), timeout=1)
    # ... and a fresh scan (model conversion included, in this process) runs under it
    folder = tmp_path / "p"
    copy_sample(photos_dir, folder, ["kit_harington/03.jpg"])
    with Library(tmp_path / "n.db") as lib:
        report = lib.scan([folder], settings=ONE_WORKER)
    assert report.new == 1 and report.faces >= 1


def test_deleted_photo_keeps_decisions_until_gc(lib_copy: tuple[Path, Library], tmp_path: Path) -> None:
    folder, lib = lib_copy
    target = folder / "rose_leslie" / "01.jpg"
    saved = tmp_path / "saved.jpg"
    shutil.copy2(target, saved)
    face_id = next(f.id for f in lib.faces(None) if f.path == str(target))
    pid = lib.create_person("Rose", [face_id])
    target.unlink()
    lib.scan([folder], settings=ONE_WORKER)
    assert lib.person(pid).faces == 0 and lib.person(pid).name == "Rose"  # left the views only
    # the photo comes back (restored from a backup, elsewhere): its face is Rose's again, no re-analysis
    shutil.copy2(saved, folder / "restored.jpg")
    report = lib.scan([folder], settings=ONE_WORKER)
    assert report.moved == 1 and report.new == 0
    assert [f.id for f in lib.faces(pid)] == [face_id]
    # gone again, then gc: the photo, its face and the decision are forgotten; the named person stays
    (folder / "restored.jpg").unlink()
    lib.scan([folder], settings=ONE_WORKER)
    assert lib.gc(dry_run=True)["photos"] == 1
    assert lib.gc() == {"photos": 1, "faces": 1, "errors": 0}
    assert lib.store.db.execute("SELECT count(*) FROM faces WHERE id = ?", [face_id]).fetchone()[0] == 0
    assert lib.person(pid).name == "Rose"
    assert lib.store.integrity_check() == "ok"
    assert lib.gc() == {"photos": 0, "faces": 0, "errors": 0}


def test_full_disk_stops_the_scan_cleanly_and_loses_nothing(tmp_path: Path, photos_dir: Path) -> None:
    folder = tmp_path / "p"
    copy_sample(photos_dir, folder)
    with Library(tmp_path / "full.db") as lib:
        # SQLite's own limit on the file size: writes fail exactly as on a full disk
        pages = lib.store.db.execute("PRAGMA page_count").fetchone()[0]
        lib.store.db.execute(f"PRAGMA max_page_count = {pages + 8}")
        with pytest.raises(DatabaseError, match="disk is full") as info:
            lib.scan([folder], settings=ScanSettings(workers=1, batch_size=1))
        assert "\n" not in str(info.value)
        assert lib.store.integrity_check() == "ok"
        kept = lib.store.db.execute("SELECT count(*) FROM photos").fetchone()[0]
        assert kept < len(SAMPLE)
        # room again: the next scan finishes the job, nothing duplicated
        lib.store.db.execute("PRAGMA max_page_count = 1073741823")
        report = lib.scan([folder], settings=ONE_WORKER)
        assert report.new == len(SAMPLE) - kept
        assert lib.store.db.execute("SELECT count(*) FROM photos").fetchone()[0] == len(SAMPLE)


def test_permission_denied_while_reading_is_recorded(
    tmp_path: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root can read anything, so the OS error is injected where the crawler opens the file."""
    import builtins

    from photoclust import crawl

    folder = tmp_path / "p"
    copy_sample(photos_dir, folder, ["obama/01.jpg", "biden/01.jpg"])
    locked = str(folder / "biden" / "01.jpg")
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(crawl, "open", guarded_open, raising=False)
    with Library(tmp_path / "perm.db") as lib:
        report = lib.scan([folder], settings=ONE_WORKER)
        assert (report.new, report.unreadable) == (1, 1)
        assert lib.errors() == [(locked, "permission denied")]


# -- the scan's worker processes never outlive it --------------------------------------------------


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren...), from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - out
        out |= frontier
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture(scope="module")
def clean_photos_db(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> Path:
    """The whole of data/photos scanned once, without interruption."""
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    with Library(db) as lib:
        lib.scan([photos_dir], settings=ScanSettings(workers=1, batch_size=8))
    return db


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_workers_die_with_a_killed_scan_and_the_next_scan_resumes(
    clean_photos_db: Path, tmp_path: Path, photos_dir: Path
) -> None:
    """kill -9 of the scan process alone (not its group): its workers must not live on as orphans."""
    db = tmp_path / "killed.db"
    proc = _scan_subprocess(photos_dir, db, "--batch-size", "1", workers=2)
    tracked: set[int] = set()
    try:
        _wait_for_photos(db, 1, proc)
        deadline = time.monotonic() + 60
        while len(tracked) < 2 and time.monotonic() < deadline:  # both workers
            tracked |= {p for p in descendants(proc.pid) if b"spawn_main" in _cmdline(p)}
            time.sleep(0.05)
        assert len(tracked) >= 2, "the scan started no worker processes"
        tracked |= descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while alive(tracked) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = alive(tracked)
        assert not survivors, f"{len(survivors)} worker processes outlived the killed scan: {sorted(survivors)}"
    finally:
        for pid in alive(tracked):  # never leave orphans behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
    with Store.open(db) as s:
        assert s.integrity_check() == "ok"
        done = s.db.execute("SELECT count(*) FROM photos").fetchone()[0]
    with Store.open(clean_photos_db) as s:
        total = s.db.execute("SELECT count(*) FROM photos").fetchone()[0]
    assert 1 <= done < total
    resume = _scan_subprocess(photos_dir, db, workers=2)
    out = resume.communicate(timeout=600)[0].decode()
    assert resume.returncode == 0, out
    assert faces_by_content(db) == faces_by_content(clean_photos_db)


def test_photos_analysed_together_give_what_each_gives_alone(tmp_path: Path, photos_dir: Path) -> None:
    """A worker's task is a few photos: detected in one MTCNN batch where their sizes match, embedded in
    one FaceNet batch. The faces and vectors must be those of one photo at a time, each result in its
    entry's place, with an unreadable file among them."""
    import numpy as np

    from photoclust.scan import Analysed, PhotoAnalyser, _chunks
    from photoclust.types import FailedPhoto, FileEntry

    paths = [tmp_path / f"same{i}.jpg" for i in range(3)]
    for i, src in enumerate(sorted((photos_dir / "obama").glob("*.jpg"))[:3]):
        ImageOps.pad(Image.open(src).convert("RGB"), (480, 360)).save(paths[i])  # one size: one MTCNN batch
    paths.insert(1, tmp_path / "broken.jpg")
    paths[1].write_bytes(b"\xff\xd8\xff not really a jpeg")
    paths.append(sorted((photos_dir / "madonna").glob("*.jpg"))[0])
    entries = [FileEntry(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    analyser = PhotoAnalyser(None, embed=True, flip_average=True)
    together = analyser.analyse_many(entries)
    alone = [analyser(e) for e in entries]
    assert [type(r) for r in together] == [Analysed, FailedPhoto, Analysed, Analysed, Analysed]
    for a, b in zip(together, alone, strict=True):
        assert type(a) is type(b)
        if isinstance(a, Analysed) and isinstance(b, Analysed):
            assert a.photo.entry == b.photo.entry and len(a.photo.faces) == len(b.photo.faces) >= 1
            assert a.embeddings is not None and b.embeddings is not None
            assert np.abs(a.embeddings - b.embeddings).max() < 1e-4
            for fa, fb in zip(a.photo.faces, b.photo.faces, strict=True):
                assert np.allclose(fa.detection.box, fb.detection.box, atol=0.05)
    make_clip(tmp_path / "clip.mp4", [Image.new("RGB", (64, 48))] * 3)
    clip = FileEntry(str(tmp_path / "clip.mp4"), 1, 1)
    runs = list(_chunks([entries[0], clip, *entries[1:]], 2))
    assert runs == [[entries[0]], [clip], entries[1:3], entries[3:5]]  # a video is a task of its own
    runs = list(_chunks(entries, 2, tail=3))
    assert runs == [entries[0:2], [entries[2]], [entries[3]], [entries[4]]]  # the last ones go one by one


@pytest.mark.slow
def test_first_scan_on_a_machine_says_it_is_preparing_the_model(
    tmp_path: Path, photos_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new machine has no int8 network yet: the scan makes it first, under its own progress phase (not
    silently inside the first photos, where the bar would sit at 0 for 10-20 s); the next scan does not."""
    from photoclust.config import cache_dir
    from photoclust.embed import convert, model_is_prepared
    from photoclust.progress import NullProgress

    shared = convert.ensure_weights()  # the test run's converted weights: only the int8 network is missing
    fresh = tmp_path / "cache"
    fresh.mkdir()
    for name in (shared.name, shared.name + ".json"):
        shutil.copy(shared.with_name(name), fresh / name)
    monkeypatch.setenv("PHOTOCLUST_CACHE_DIR", str(fresh))
    assert cache_dir() == fresh and not model_is_prepared("cpu")

    class Phases(NullProgress):
        def __init__(self) -> None:
            self.names: list[str] = []

        def start(self, total: int | None, description: str) -> None:
            self.names.append(description)

    for round_, folder in enumerate(("obama", "biden")):
        phases = Phases()
        with Library(tmp_path / "lib.db") as lib:
            report = lib.scan([photos_dir / folder], settings=ScanSettings(workers=1, device="cpu"), progress=phases)
        assert report.faces > 0
        preparing = [n for n in phases.names if n.startswith("Preparing the face model")]
        assert len(preparing) == (1 if round_ == 0 else 0), phases.names
        assert model_is_prepared("cpu")
