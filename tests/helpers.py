"""What several test files share: the test library built from data/photos, synthetic rows, Pilot helpers.

Fixtures live in conftest.py; no test file imports from another test file.
"""

from __future__ import annotations

import asyncio
import functools
import io
import shutil
import struct
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from textual.pilot import Pilot

from photoclust.library import Library
from photoclust.people import People
from photoclust.store import Store
from photoclust.tui.app import PhotoclustApp
from photoclust.tui.screens.person import PersonScreen
from photoclust.tui.widgets.grid import FaceGrid, PeopleGrid, UnknownEntry
from photoclust.types import AnalysedPhoto, DetectedFace, FaceCrop, FaceQuality, FailedPhoto, FileEntry, PhotoInfo

SAMPLE = ["obama/01.jpg", "obama/02.jpg", "biden/01.jpg", "madonna/01.jpg", "rose_leslie/01.jpg"]


def proc_state(pid: int) -> str | None:
    """The process's state letter from /proc (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"


SIZE = (120, 40)


# Face boxes (x1, y1, x2, y2) that MTCNN finds in data/photos, rounded: the tests need no model.
BOXES: dict[str, list[tuple[int, int, int, int]]] = {
    "ben_afflek/01.jpg": [(24, 7, 117, 137)],
    "ben_afflek/02.jpg": [(16, 12, 40, 44)],
    "ben_afflek/03.jpg": [(16, 7, 62, 72)],
    "ben_afflek/04.jpg": [(39, 12, 132, 152)],
    "ben_afflek/05.jpg": [(9, 3, 59, 76)],
    "ben_afflek/06.jpg": [(0, 0, 127, 173)],
    "ben_afflek/07.jpg": [(24, 1, 102, 109)],
    "biden/01.jpg": [(295, 116, 511, 415)],
    "biden/02.jpg": [(431, 173, 878, 774)],
    "elton_john/01.jpg": [(21, 26, 59, 76)],
    "elton_john/02.jpg": [(27, 5, 118, 123)],
    "elton_john/03.jpg": [(28, 0, 152, 157)],
    "elton_john/04.jpg": [(39, 20, 101, 103)],
    "elton_john/05.jpg": [(22, 10, 91, 107)],
    "elton_john/06.jpg": [(26, 9, 148, 166)],
    "elton_john/07.jpg": [(25, 9, 112, 121)],
    "group/dlib_2008_002470.jpg": [
        (57, 151, 97, 204),
        (153, 167, 183, 202),
        (184, 82, 214, 122),
        (238, 68, 275, 114),
        (277, 171, 324, 230),
        (328, 47, 370, 102),
    ],
    "group/face_recognition_kit_with_rose.jpg": [(79, 107, 158, 210), (258, 79, 349, 199)],
    "group/face_recognition_obama_and_biden.jpg": [
        (609, 325, 743, 509),
        (914, 288, 1065, 482),
        (1311, 855, 1415, 978),
    ],
    "kit_harington/01.jpeg": [(686, 82, 798, 235)],
    "kit_harington/02.jpeg": [(318, 73, 479, 282)],
    "kit_harington/03.jpg": [(261, 148, 432, 370)],
    "madonna/01.jpg": [(20, 0, 105, 121)],
    "madonna/02.jpg": [(45, 12, 172, 176)],
    "madonna/03.jpg": [(8, 0, 108, 138)],
    "madonna/04.jpg": [(10, 7, 57, 69)],
    "madonna/05.jpg": [(24, 3, 168, 189)],
    "madonna/06.jpg": [(28, 3, 137, 155)],
    "madonna/07.jpg": [(29, 13, 105, 123)],
    "mindy_kaling/01.jpg": [(21, 2, 137, 156)],
    "mindy_kaling/02.jpg": [(18, 8, 89, 99)],
    "mindy_kaling/03.jpg": [(25, 6, 75, 79)],
    "mindy_kaling/04.jpg": [(21, 7, 118, 132)],
    "mindy_kaling/05.jpg": [(21, 3, 130, 149)],
    "mindy_kaling/06.jpg": [(20, 5, 133, 149)],
    "mindy_kaling/07.jpg": [(21, 0, 96, 98)],
    "obama/01.jpg": [(374, 80, 612, 420)],
    "obama/02.jpg": [(541, 116, 898, 626)],
    "obama/03.jpg": [(193, 219, 473, 637)],
    "obama/04.jpg": [(437, 170, 628, 417)],
    "obama/05.jpg": [(105, 38, 215, 189)],
    "rose_leslie/01.jpg": [(611, 52, 870, 394)],
    "rose_leslie/02.jpg": [(172, 113, 415, 443)],
}


TAKEN = {"obama/01.jpg": "2012-12-06T15:46:01", "obama/03.jpg": "2009-09-09T20:27:09"}


# Who the faces of the group photos are (left to right); None: nobody known.
GROUP_IDENTITIES = {
    "group/face_recognition_obama_and_biden.jpg": ["biden", "obama", None],
    "group/face_recognition_kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
}


# Identities the library starts with a name for; the others are unnamed people (as after clustering).
NAMES = {"obama": "Barack Obama", "madonna": "Madonna", "elton_john": "Elton John", "biden": "Joe Biden"}


HIDDEN = {"biden"}


# Faces left unknown although their identity has a person: the library suggests that person for them.
UNASSIGNED = {"madonna/07.jpg"}


def thumbnail(img: Image.Image, box: tuple[int, int, int, int], size: int = 128) -> bytes:
    """The face with some context, as the scanner stores it: a square JPEG of ``size`` pixels."""
    side = round(max(box[2] - box[0], box[3] - box[1]) * 1.6)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    square = Image.new("RGB", (side, side))
    square.paste(img.crop((max(0, x0), max(0, y0), x0 + side, y0 + side)), (max(0, -x0), max(0, -y0)))
    buf = io.BytesIO()
    square.resize((size, size), Image.Resampling.LANCZOS).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def build_library(db_path: Path, *, people: bool = True) -> dict[str, list[int]]:
    """A library of the photos in data/photos with their real faces; returns face ids per identity.

    With ``people``, the faces of each identity form one person (as clustering would), some named,
    Joe Biden hidden; the faces of the big group photo, the child and one of Madonna stay unknown.
    """
    store = Store.open(db_path)
    rng = np.random.default_rng(7)
    centres: dict[str, np.ndarray] = {}
    rows = []
    owners: list[str | None] = []
    for rel in sorted(BOXES):
        path = PHOTOS / rel
        with Image.open(path) as raw:
            img = ImageOps.exif_transpose(raw).convert("RGB")
        boxes = BOXES[rel]
        folder = rel.split("/")[0]
        identities = GROUP_IDENTITIES.get(rel, [None if folder == "group" else folder] * len(boxes))
        faces, vectors = [], []
        for box, who in zip(boxes, identities, strict=True):
            face = DetectedFace(tuple(float(v) for v in box), ((0.0, 0.0),) * 5, 0.999)  # type: ignore[arg-type]
            size = float(min(box[2] - box[0], box[3] - box[1]))
            faces.append(
                FaceCrop(face, FaceQuality(size, 100.0, 0.0, ()), np.zeros((0,), np.uint8), thumbnail(img, box))
            )
            key = who or f"stranger-{len(owners)}"
            centre = centres.setdefault(key, rng.normal(size=512))
            vec = centre + 0.3 * rng.normal(size=512)
            vectors.append(vec / np.linalg.norm(vec))
            owners.append(None if rel in UNASSIGNED else who)
        stat = path.stat()
        info = PhotoInfo(f"sha-{rel}", img.width, img.height, TAKEN.get(rel), "JPEG")
        entry = FileEntry(str(path), stat.st_size, stat.st_mtime_ns)
        rows.append((AnalysedPhoto(entry, info, tuple(faces)), np.array(vectors, np.float32), "test"))
    store.write_batch(rows, [], [])
    face_ids = [int(r[0]) for r in store.db.execute("SELECT id FROM faces ORDER BY id").fetchall()]
    by_identity: dict[str, list[int]] = {}
    for fid, who in zip(face_ids, owners, strict=True):
        by_identity.setdefault(who or "unknown", []).append(fid)
    if people:
        ppl = People(store)
        groups = [ids for who, ids in sorted(by_identity.items()) if who != "unknown"]
        ppl.apply_assignment({}, groups, kind="cluster")
        for who, name in NAMES.items():
            ppl.name(person_of(store, by_identity[who][0]), name)
        for who in HIDDEN:
            ppl.set_hidden(person_of(store, by_identity[who][0]))
        store.db.execute("DELETE FROM ops")  # the fixture's setup is not the user's history
    store.close()
    return by_identity


def person_of(store: Store, face_id: int) -> int:
    return int(store.db.execute("SELECT person_id FROM faces WHERE id = ?", [face_id]).fetchone()[0])


def run_async(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test with asyncio (no pytest async plugin needed); fixtures pass through."""

    @functools.wraps(test)
    def wrapper(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return wrapper


async def settle(pilot: Pilot[None]) -> None:
    """Wait until every worker is done and every message they sent is handled.

    Workers hand results over with ``call_from_thread``, which returns once the app thread ran them,
    so a finished worker's results are on screen; they may have started more workers (thumbnails).
    """
    app = pilot.app
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return
    raise AssertionError("workers never settled")


async def press(pilot: Pilot[None], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[("space" if c == " " else c) for c in text])
    await settle(pilot)


def person_named(lib: Library, name: str) -> int:
    matches = [p.id for p in lib.list_people(include_hidden=True) if p.name == name]
    assert len(matches) == 1, (name, matches)
    return matches[0]


def people_grid(app: PhotoclustApp) -> PeopleGrid:
    return app.screen.query_one(PeopleGrid)


def face_grid(app: PhotoclustApp) -> FaceGrid:
    return app.screen.query_one(FaceGrid)


async def open_person(pilot: Pilot[None], name: str) -> PersonScreen:
    """Filter the People screen down to ``name`` and open it with Enter."""
    app = pilot.app
    assert isinstance(app, PhotoclustApp)
    await settle(pilot)
    await type_text(pilot, name)
    grid = people_grid(app)
    assert grid.current is not None and not isinstance(grid.current, UnknownEntry), grid.items
    await press(pilot, "enter")
    screen = app.screen
    assert isinstance(screen, PersonScreen)
    return screen


def analysed_photo(path: str, sha: str, n_faces: int) -> tuple[AnalysedPhoto, np.ndarray, str]:
    faces = tuple(
        FaceCrop(
            DetectedFace((10.0 * i, 5.0, 10.0 * i + 50, 60.0), ((1.0, 2.0),) * 5, 0.99),
            FaceQuality(50.0, 100.0, 0.1, ("small",) if i else ()),
            np.zeros((0,), np.uint8),
            b"jpeg",
        )
        for i in range(n_faces)
    )
    photo = AnalysedPhoto(FileEntry(path, 100, 1), PhotoInfo(sha, 640, 480, None, "JPEG"), faces)
    emb = np.eye(n_faces, 512, dtype=np.float32)
    return photo, emb, "test-model"


def failed_photos(n: int, prefix: str = "/p/bad") -> list[FailedPhoto]:
    return [FailedPhoto(FileEntry(f"{prefix}{i:05d}.jpg", i, i), "not an image " + "x" * 100) for i in range(n)]


def snapshot(store: Store) -> tuple[object, ...]:
    q = store.db.execute
    return (
        q("SELECT id, person_id, confirmed, not_face FROM faces ORDER BY id").fetchall(),
        q("SELECT id, name, hidden, cover_face_id FROM people ORDER BY id").fetchall(),
        q("SELECT face_id, person_id FROM rejections ORDER BY 1, 2").fetchall(),
    )


def copy_sample(photos_dir: Path, dest: Path, names: list[str] = SAMPLE) -> list[Path]:
    out = []
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(photos_dir / name, target)
        out.append(target)
    return out


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if proc_state(p) not in (None, "Z", "X")}


def write_photos(store: Store, photos: list[np.ndarray], start: int) -> None:
    """Synthetic photos /p/<start + k>.jpg, one per matrix of ``photos``: a face per row (embedding, made
    unit length), side by side, all of good quality."""
    rows = []
    for k, vectors in enumerate(photos):
        faces = tuple(
            FaceCrop(
                DetectedFace((100.0 * j + 10, 10.0, 100.0 * j + 90, 90.0), ((0.0, 0.0),) * 5, 0.999),
                FaceQuality(80.0, 100.0, 0.0, ()),
                np.zeros((0,), np.uint8),
                b"thumb",
            )
            for j in range(len(vectors))
        )
        info = PhotoInfo(f"sha-{start + k}", 640, 480, None, "JPEG")
        emb = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        rows.append((AnalysedPhoto(FileEntry(f"/p/{start + k}.jpg", 1, 1), info, faces), emb, "m"))
    store.write_batch(rows, [], [])


def write_faces(store: Store, vectors: np.ndarray, start: int) -> None:
    """One photo per vector, one face each."""
    write_photos(store, [v[None, :] for v in vectors], start)


def huge_png_header(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming a huge size, with a tiny IDAT (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


# -- generated videos (PyAV) from the real photos ------------------------------------------------


def head(rel: str, side: int = 200) -> Image.Image:
    """The face of data/photos/``rel`` (its first frozen box) with some context, ``side`` px square."""
    x1, y1, x2, y2 = BOXES[rel][0]
    cx, cy, s = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 1.8
    with Image.open(PHOTOS / rel) as raw:
        img = ImageOps.exif_transpose(raw).convert("RGB")
    box = (int(cx - s / 2), int(cy - s / 2), int(cx + s / 2), int(cy + s / 2))
    return img.crop(box).resize((side, side))


def frames_of(*scenes: tuple[float, list[tuple[str, int]]], size: tuple[int, int] = (480, 360), fps: int = 10,
              pan: int = 0) -> list[Image.Image]:  # fmt: skip
    """Frames of ``scenes``: (seconds, [(photo, x)]) each; the heads are placed at x (drifting ``pan`` px
    over a scene) on a plain background; an empty list is a scene with nobody."""
    out = []
    for seconds, people in scenes:
        heads = [(head(rel), x) for rel, x in people]
        n = int(seconds * fps)
        for i in range(n):
            canvas = Image.new("RGB", size, (40, 60, 80))
            for h, x in heads:
                canvas.paste(h, (int(x + pan * i / max(n, 1)), 80))
            out.append(canvas)
    return out


def make_clip(path: Path, frames: list[Image.Image], fps: int = 10, rotation: int = 0) -> Path:
    """Encode ``frames`` as an H.264 MP4; ``rotation``: the display rotation a phone writes (the frames are
    stored turned the other way, as a phone's sensor gives them)."""
    import av

    if rotation:
        frames = [f.rotate(-rotation, expand=True) for f in frames]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_dng(img: Image.Image, path: Path, orientation: int = 1) -> Path:
    """A DNG of ``img`` as a camera would record it: a 16-bit RGGB Bayer mosaic of its linear light, with
    the EXIF ``orientation`` to show it by (pidng writes it; LibRaw reads it back like any camera's)."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, PhotometricInterpretation

    rgb = (np.asarray(img.convert("RGB"), np.float32) / 255.0) ** 2.2
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    rgb = rgb[:h, :w]
    bayer = np.zeros((h, w), np.uint16)
    for dy, dx, channel in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):
        bayer[dy::2, dx::2] = rgb[dy::2, dx::2, channel] * 65535
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, w),
        (Tag.ImageLength, h),
        (Tag.TileWidth, w),
        (Tag.TileLength, h),
        (Tag.Orientation, orientation),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 16),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB),
        (Tag.BlackLevel, 0),
        (Tag.WhiteLevel, 65535),
        (Tag.ColorMatrix1, [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, "photoclust"),
        (Tag.Model, "test"),
        (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ):
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(bayer, filename=path.stem)
    return path
