"""RAW photos: a DNG written from a real photo's Bayer mosaic, scanned through LibRaw and the real models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from photoclust import crawl
from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.types import FileEntry, iou
from tests.helpers import PHOTOS, write_dng

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_dng_is_developed_upright_and_its_face_found_where_the_jpeg_has_it(tmp_path: Path, orientation: int) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    with Image.open(PHOTOS / "obama/02.jpg") as jpeg:
        # the sensor records the scene as it lies on it: a camera held upright (6) stores it turned
        scene = jpeg.convert("RGB")
        stored = scene.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else scene
        write_dng(stored, folder / "IMG_0001.dng", orientation)
    shutil.copy2(PHOTOS / "obama/02.jpg", folder / "IMG_0001.jpg")  # RAW+JPEG of one shot
    entry = FileEntry(str(folder / "IMG_0001.dng"), 1, 0)
    decoded = crawl.decode(crawl.read_file(entry))
    assert decoded.info.format == "RAW"
    assert (decoded.info.width, decoded.info.height) == (scene.width // 2 * 2, scene.height // 2 * 2)
    with Library(tmp_path / "lib.db") as lib:
        report = lib.scan([folder], settings=ScanSettings(workers=1))
        assert report.new == 2 and report.unreadable == 0
        (raw_face,) = lib.faces_in_file(folder / "IMG_0001.dng")
        (jpeg_face,) = lib.faces_in_file(folder / "IMG_0001.jpg")
        assert iou(raw_face.box, jpeg_face.box) > 0.8  # developed-image coordinates: XMP regions line up
        lib.cluster()
        (raw_face,) = lib.faces_in_file(folder / "IMG_0001.dng")
        (jpeg_face,) = lib.faces_in_file(folder / "IMG_0001.jpg")
        # two files of one moment: two faces; one person can have both (they are not one photo)
        assert raw_face.photo_id != jpeg_face.photo_id


def test_a_broken_raw_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "DSC_0001.NEF"
    bad.write_bytes(b"II*\x00" + b"\x00" * 4000)
    with Library(tmp_path / "lib.db") as lib:
        report = lib.scan([bad], settings=ScanSettings(workers=1))
        assert report.unreadable == 1
        reason = dict(lib.errors())[str(bad)]
        assert reason.startswith("corrupt or unsupported RAW file") and "\n" not in reason
