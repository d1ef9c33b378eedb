"""Faces in videos: clips generated from the real photos in data/ (PyAV), scanned through the real models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoclust.config import ScanSettings
from photoclust.crawl import video
from photoclust.detect.track import link
from photoclust.library import Library
from photoclust.types import DetectedFace, FaceCrop, FaceQuality
from tests.helpers import PHOTOS, frames_of, make_clip

pytestmark = pytest.mark.slow

OBAMA = ["obama/01.jpg", "obama/02.jpg", "obama/03.jpg"]
MADONNA = ["madonna/01.jpg", "madonna/03.jpg", "madonna/04.jpg", "madonna/05.jpg"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Photos of two people, and clips of them: panning, two people, rotated, leaving and coming back,
    and a truncated one."""
    root = tmp_path_factory.mktemp("video")
    folder = root / "library"
    folder.mkdir()
    for rel in OBAMA + MADONNA:
        shutil.copy2(PHOTOS / rel, folder / rel.replace("/", "_"))
    make_clip(folder / "obama_pan.mp4", frames_of((4.0, [("obama/04.jpg", 10)]), pan=260))
    make_clip(folder / "two.mov", frames_of((3.0, [("obama/05.jpg", 10), ("madonna/06.jpg", 260)])))
    make_clip(folder / "portrait.mp4", frames_of((3.0, [("madonna/02.jpg", 140)])), rotation=90)
    make_clip(
        folder / "comeback.mp4",
        frames_of((1.5, [("obama/02.jpg", 40)]), (2.0, []), (1.5, [("obama/02.jpg", 240)])),
    )
    whole = make_clip(root / "whole.mp4", frames_of((2.0, [("obama/01.jpg", 100)])))
    (folder / "broken.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    db = root / "lib.db"
    with Library(db) as lib:
        report = lib.scan([folder], settings=ScanSettings(workers=1))
        assert report.new == len(OBAMA) + len(MADONNA) + 4 and report.unreadable == 1
        lib.cluster()
    return db, folder


def video_faces(lib: Library, name: str) -> list:
    return [f for f in lib.faces_in_file(name) if f.video_time is not None]


def test_a_panning_face_is_one_track_and_joins_the_person_of_the_photos(library: tuple[Path, Path]) -> None:
    db, folder = library
    with Library(db) as lib:
        (face,) = video_faces(lib, str(folder / "obama_pan.mp4"))
        assert 0.0 < face.video_time < 4.0
        obama = {f.person_id for rel in OBAMA for f in lib.faces_in_file(str(folder / rel.replace("/", "_")))}
        assert face.person_id is not None and obama == {face.person_id}
        # the box is in the best frame's coordinates: inside the 480x360 frame
        assert 0 <= face.box[0] < face.box[2] <= 480 and 0 <= face.box[1] < face.box[3] <= 360


def test_two_people_in_one_clip_are_two_faces_never_one_person(library: tuple[Path, Path]) -> None:
    db, folder = library
    with Library(db) as lib:
        faces = video_faces(lib, str(folder / "two.mov"))
        assert len(faces) == 2
        people = [f.person_id for f in faces]
        assert people[0] is None or people[0] != people[1]


def test_a_rotated_phone_clip_is_read_upright(library: tuple[Path, Path]) -> None:
    db, folder = library
    path = str(folder / "portrait.mp4")
    assert video.probe(path).width == 360  # stored sideways ...
    first = next(iter(video.frames(path)))
    assert first.image.size == (480, 360)  # ... shown upright
    with Library(db) as lib:
        (face,) = video_faces(lib, path)
        assert face.box[2] <= 480 and face.box[3] <= 360


def test_a_face_that_leaves_and_comes_back_is_one_face(library: tuple[Path, Path]) -> None:
    db, folder = library
    with Library(db) as lib:
        assert len(video_faces(lib, str(folder / "comeback.mp4"))) == 1


def test_a_truncated_video_is_reported_once_with_a_reason(library: tuple[Path, Path]) -> None:
    db, folder = library
    with Library(db) as lib:
        errors = dict(lib.errors())
        assert "video" in errors[str(folder / "broken.mp4")]
        again = lib.scan([folder], settings=ScanSettings(workers=1))
        assert again.new == 0 and again.seconds < 5  # an unchanged broken file is not decoded again
        assert [p for p, _why in lib.errors() if p.endswith("broken.mp4")] == [str(folder / "broken.mp4")]


def test_search_and_person_give_the_time_in_the_video(library: tuple[Path, Path]) -> None:
    db, folder = library
    with Library(db) as lib:
        (face,) = video_faces(lib, str(folder / "obama_pan.mp4"))
        assert face.person_id is not None
        lib.name(face.person_id, "Barack Obama")
    out = subprocess.run(
        [sys.executable, "-m", "photoclust", "search", "Barack Obama", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    clip = [line for line in out if "obama_pan.mp4" in line]
    assert clip == [f"{folder / 'obama_pan.mp4'} @ 0:0{int(face.video_time or 0)}"]
    assert any(line.endswith(".jpg") for line in out)
    exported = json.loads(
        subprocess.run(
            [sys.executable, "-m", "photoclust", "export", "--format", "json", "--db", str(db)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    times = {r["path"]: r["time"] for r in exported if r["person_name"] == "Barack Obama"}
    assert times[str(folder / "obama_pan.mp4")] == pytest.approx(face.video_time)
    assert times[str(folder / "obama_01.jpg")] is None


def test_rescan_of_an_unchanged_video_costs_nothing_and_a_moved_one_keeps_its_person(
    library: tuple[Path, Path], tmp_path: Path
) -> None:
    db, folder = library
    work = tmp_path / "lib.db"
    with Library(db) as lib:
        lib.backup(work)
    moved = folder / "obama_pan.mp4"
    with Library(work) as lib:
        before = video_faces(lib, str(moved))
        target = folder / "renamed.mp4"
        moved.rename(target)
        try:
            report = lib.scan([folder], settings=ScanSettings(workers=1))
            assert report.new == 0 and report.moved == 1
            after = video_faces(lib, str(target))
            assert [(f.id, f.person_id) for f in after] == [(f.id, f.person_id) for f in before]
        finally:
            target.rename(moved)


def test_two_faces_of_one_frame_are_never_one_track() -> None:
    """The tracker on its own: two faces side by side in every frame stay two tracks."""

    def face(x: float) -> FaceCrop:
        return FaceCrop(
            DetectedFace((x, 10.0, x + 80, 90.0), ((0.0, 0.0),) * 5, 0.99),
            FaceQuality(80.0, 100.0, 0.0, ()),
            np.zeros((0,), np.uint8),
            b"",
        )

    same = np.ones(4, np.float32) / 2  # even identical embeddings (twins) do not make them one track
    frames = [(t * 0.5, [face(10.0), face(60.0)], [same, same]) for t in range(6)]
    tracks = link(frames)  # type: ignore[arg-type]
    assert len(tracks) == 2 and all(len(tr.sightings) == 6 for tr in tracks)


def test_a_file_with_sound_only_is_reported_not_crashed(tmp_path: Path) -> None:
    import av

    from photoclust.errors import ImageError

    path = tmp_path / "voice.m4a.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(ImageError, match="no video stream"):
        video.probe(str(path))
    with Library(tmp_path / "lib.db") as lib:
        report = lib.scan([path], settings=ScanSettings(workers=1))
        assert report.unreadable == 1
        assert dict(lib.errors())[str(path)] == "no video stream (audio only?)"


def test_viewer_command_starts_a_player_at_the_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from photoclust.tui.app import viewer_command

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("xdg-open", "mpv"):
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert viewer_command("/v/clip.mp4", 42.0) == ["mpv", "--start=42.0", "/v/clip.mp4"]
    assert viewer_command("/p/photo.jpg") == ["xdg-open", "/p/photo.jpg"]
    (bin_dir / "mpv").unlink()
    assert viewer_command("/v/clip.mp4", 42.0) == ["xdg-open", "/v/clip.mp4"]  # no player that can start there


def test_the_tui_marks_video_faces_shows_their_best_frame_and_opens_them_at_the_time(
    library: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from photoclust.tui import app as tui_app
    from photoclust.tui.screens.photo import PhotoScreen
    from tests.helpers import SIZE, face_grid, open_person, press, settle

    db, folder = library
    work = tmp_path / "lib.db"
    with Library(db) as lib:
        lib.backup(work)
    with Library(work) as lib:
        (face,) = video_faces(lib, str(folder / "obama_pan.mp4"))
        assert face.person_id is not None
        lib.name(face.person_id, "Video Obama")
    opened: list[tuple[str, float | None]] = []
    monkeypatch.setattr(tui_app, "open_in_viewer", lambda path, at=None: opened.append((path, at)))

    async def run() -> None:
        app = tui_app.make_app(work, renderer="halfcell")
        try:
            async with app.run_test(size=SIZE) as pilot:
                await open_person(pilot, "Video Obama")
                grid = face_grid(app)
                grid.cursor = next(i for i, f in enumerate(grid.items) if f.id == face.id)
                await settle(pilot)
                tile_text = " ".join(str(t.render()) for t in grid.query(".line1"))
                assert "▶ 0:0" in tile_text
                await press(pilot, "o")
                assert opened == [(str(folder / "obama_pan.mp4"), face.video_time)]
                await press(pilot, "enter")
                await settle(pilot)
                assert isinstance(app.screen, PhotoScreen) and app.screen.at == face.video_time
                await pilot.pause(1.0)
                assert not [n for n in app._notifications if n.severity == "error"]
        finally:
            app.backend.close()

    asyncio.run(run())
