"""The crawler: walking folders, reading, hashing and decoding real and broken files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from photoclust import crawl
from photoclust.errors import ImageError
from photoclust.types import FileEntry
from tests.helpers import huge_png_header


def entry(path: Path) -> FileEntry:
    st = path.stat()
    return FileEntry(str(path), st.st_size, st.st_mtime_ns)


def make_jpeg(path: Path, size: tuple[int, int] = (64, 48), **save: object) -> Path:
    Image.new("RGB", size, (200, 120, 40)).save(path, "JPEG", **save)
    return path


def test_walk_finds_images_skips_junk_hidden_and_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    make_jpeg(tmp_path / "a" / "one.jpg")
    make_jpeg(tmp_path / "a" / "b" / "two.JPEG")
    (tmp_path / "a" / "notes.txt").write_text("hello")
    (tmp_path / "a" / "clip.mp4").write_bytes(b"\x00" * 10)  # a video (by its name): found, read later
    for junk in (".thumbnails", "@eaDir", ".hidden"):
        (tmp_path / junk).mkdir()
        make_jpeg(tmp_path / junk / "thumb.jpg")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"x")
    # a JPEG with no extension is found by its magic bytes
    make_jpeg(tmp_path / "a" / "IMG_0001")
    # symlink loop and a second link to the same folder: followed once
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")
    os.symlink(tmp_path / "a", tmp_path / "again")
    found = sorted(os.path.relpath(e.path, tmp_path) for e in crawl.walk([tmp_path]))
    assert found == ["a/IMG_0001", "a/b/two.JPEG", "a/clip.mp4", "a/one.jpg"]


def test_walk_accepts_files_as_roots_and_reports_unlistable_folders(tmp_path: Path) -> None:
    photo = make_jpeg(tmp_path / "x.jpg")
    locked = tmp_path / "locked"
    locked.mkdir()
    make_jpeg(locked / "secret.jpg")
    locked.chmod(0)
    errors: list[tuple[str, str]] = []
    try:
        roots = [photo, tmp_path, tmp_path / "gone"]
        found = [e.path for e in crawl.walk(roots, on_error=lambda p, r: errors.append((p, r)))]
    finally:
        locked.chmod(0o755)
    reasons = dict(errors)
    assert "vanished" in reasons[str(tmp_path / "gone")]
    if os.geteuid() != 0:  # root can list anything
        assert reasons[str(locked)] == "permission denied"
        assert found == [str(photo)]  # the file given twice (as root and inside the folder) is yielded once
    else:
        assert found == [str(photo), str(locked / "secret.jpg")]


def test_unicode_and_spaces_in_paths(tmp_path: Path) -> None:
    folder = tmp_path / "Été 2019 — Zoë's party"
    folder.mkdir()
    make_jpeg(folder / "résumé photo ü.jpg")
    [e] = list(crawl.walk([tmp_path]))
    raw = crawl.read_file(e)
    assert crawl.decode(raw).image.size == (64, 48)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.jpg", b"", "empty file"),
        ("text.jpg", b"this is not a photo at all\n" * 10, "not an image"),
        ("bomb.png", huge_png_header(50_000, 50_000), "too large"),
    ],
)
def test_broken_files_give_one_line_reasons(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        crawl.decode(crawl.read_file(entry(path)))
    assert reason in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_jpeg_is_an_error_not_a_crash(tmp_path: Path, photos_dir: Path) -> None:
    data = (photos_dir / "obama" / "01.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        crawl.decode(crawl.read_file(entry(path)))


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    path = make_jpeg(tmp_path / "locked.jpg")
    path.chmod(0)
    with pytest.raises(ImageError, match="permission denied"):
        crawl.read_file(entry(path))


def test_format_is_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "really_webp.jpg"
    Image.new("RGB", (40, 30), (10, 200, 30)).save(path, "WEBP")
    d = crawl.decode(crawl.read_file(entry(path)))
    assert d.info.format == "WEBP"
    assert d.image.mode == "RGB" and d.image.size == (40, 30)


@pytest.mark.parametrize("fmt, mode", [("PNG", "RGBA"), ("GIF", "P"), ("TIFF", "RGB"), ("BMP", "L")])
def test_other_formats_decode_to_rgb(tmp_path: Path, fmt: str, mode: str) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new(mode, (33, 21)).save(path, fmt)
    d = crawl.decode(crawl.read_file(entry(path)))
    assert d.image.mode == "RGB" and d.image.size == (33, 21) and d.info.format == fmt


def test_heic_decodes(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "phone.heic"
    heif = pillow_heif.from_pillow(Image.new("RGB", (64, 48), (90, 90, 200)))
    heif.save(str(path), quality=80)
    d = crawl.decode(crawl.read_file(entry(path)))
    assert d.image.size == (64, 48) and d.info.format in ("HEIF", "HEIC")


def test_exif_orientation_and_date(tmp_path: Path) -> None:
    img = Image.new("RGB", (80, 40), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif.get_ifd(0x8769)[36867] = "2019:07:14 16:05:33"
    path = tmp_path / "rotated.jpg"
    img.save(path, "JPEG", exif=exif)
    d = crawl.decode(crawl.read_file(entry(path)))
    assert d.image.size == (40, 80)
    assert (d.info.width, d.info.height) == (40, 80)
    assert d.info.taken_at == "2019-07-14T16:05:33"


def test_jpeg_draft_reduces_during_decode_and_reports_scale(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "big.jpg", size=(4000, 3000), quality=80)
    raw = crawl.read_file(entry(path))
    d = crawl.decode(raw, max_long_side=1024)
    # draft reduces by a power of two, never below the requested size
    assert d.image.size == (2000, 1500)
    assert d.scale == pytest.approx(2.0)
    assert (d.info.width, d.info.height) == (4000, 3000)
    small, k = crawl.resized(d.image, 1024)
    assert max(small.size) == 1024 and k == pytest.approx(2000 / 1024)


def test_hash_is_content_identity(tmp_path: Path) -> None:
    a = make_jpeg(tmp_path / "a.jpg")
    b = tmp_path / "b.jpg"
    b.write_bytes(a.read_bytes())
    assert crawl.read_file(entry(a)).sha256 == crawl.read_file(entry(b)).sha256
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 0, 0)).save(buf, "JPEG")
    (tmp_path / "c.jpg").write_bytes(buf.getvalue())
    assert crawl.read_file(entry(tmp_path / "c.jpg")).sha256 != crawl.read_file(entry(a)).sha256
