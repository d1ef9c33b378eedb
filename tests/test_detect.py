"""photoclust.detect: MTCNN on real photos, crops identical to facenet-pytorch's, quality gates, thumbnails.

Fast tests use numpy/Pillow only (plus facenet-pytorch's own extract_face as the reference for crops);
``slow`` tests run the real MTCNN, loaded once for the module.
"""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from photoclust import config
from photoclust.detect import Detector, analyse_faces, to_rgb
from photoclust.detect.quality import (
    CROP_ALIGN,
    FACE_TEMPLATE,
    Frame,
    apply_affine,
    crop_box,
    crop_transform,
    extract_crop,
    face_crop,
    invert_affine,
    laplacian_variance,
    quality_flags,
    roll_angle,
    similarity_transform,
    thumbnail_jpeg,
    upright_turns,
    warp_crop,
    yaw_from_landmarks,
)
from photoclust.types import Box, DetectedFace, FaceCrop, iou

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PHOTOS = DATA / "photos"
GROUP = PHOTOS / "group"
FRONTAL_LANDMARKS = ((40.0, 50.0), (80.0, 50.0), (60.0, 70.0), (45.0, 90.0), (75.0, 90.0))


def load(path: Path) -> Image.Image:
    """Open a photo the way the scan does before detection: EXIF orientation applied, RGB."""
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def face(
    box: Box, probability: float = 0.999, landmarks: tuple[tuple[float, float], ...] | None = None
) -> DetectedFace:
    if landmarks is None:
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        landmarks = tuple(
            (x1 + fx * w, y1 + fy * h) for fx, fy in [(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8)]
        )
    return DetectedFace(box=box, landmarks=landmarks, probability=probability)


def image_distance(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two images seen at 32x32 (insensitive to shifts of a few pixels)."""
    small = [np.asarray(im.convert("RGB").resize((32, 32), Image.Resampling.BOX), dtype=float) for im in (a, b)]
    return float(np.abs(small[0] - small[1]).mean())


def assert_valid_crop(c: FaceCrop) -> None:
    assert c.crop.shape == (config.CROP_SIZE, config.CROP_SIZE, 3)
    assert c.crop.dtype == np.uint8
    with Image.open(io.BytesIO(c.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (config.THUMB_SIZE, config.THUMB_SIZE)
        assert thumb.mode == "RGB"
    q = c.quality
    assert math.isfinite(q.blur) and q.blur >= 0
    assert -1.0 <= q.yaw <= 1.0
    assert set(q.flags) <= {"low_probability", "small", "blurry", "profile"}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return load(GROUP / "face_recognition_kit_with_rose.jpg")


# --- crops: identical to facenet-pytorch's extract_face ----------------------------------------------------


def test_crop_matches_facenet_extract_face_exactly(photo: Image.Image) -> None:
    from photoclust._torch import import_facenet_pytorch

    extract_face = import_facenet_pytorch().extract_face
    w, h = photo.size
    rng = np.random.default_rng(0)
    boxes: list[Box] = [
        (150.3, 120.7, 240.9, 230.2),  # inside
        (-12.5, -8.25, 60.0, 70.0),  # past the top-left corner
        (w - 50.0, h - 40.0, w + 15.5, h + 30.0),  # past the bottom-right corner
        (-30.0, 100.0, w + 30.0, 180.0),  # wider than the photo
        (10.0, 10.0, 13.0, 12.0),  # a few pixels
    ]
    for _ in range(30):
        x1, y1 = rng.uniform(-40, w), rng.uniform(-40, h)
        s = rng.uniform(5, 300)
        boxes.append((x1, y1, x1 + s * rng.uniform(0.7, 1.3), y1 + s))
    for box in boxes:
        x1, y1, x2, y2 = crop_box(box, photo.size)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        expected = extract_face(photo, np.array(box), config.CROP_SIZE, config.CROP_MARGIN)
        expected_u8 = expected.permute(1, 2, 0).numpy()
        got = extract_crop(photo, box)
        assert got.dtype == np.uint8 and got.shape == (160, 160, 3)
        np.testing.assert_array_equal(got, expected_u8.astype(np.uint8), err_msg=str(box))
        assert np.array_equal(expected_u8, expected_u8.round())  # facenet's values are whole 0..255


def test_crop_box_margin_convention() -> None:
    # A 128-px box with CROP_MARGIN 32 of 160: 32 * 128 / 128 = 32 source px in all, 16 each side.
    assert crop_box((100.0, 200.0, 228.0, 328.0), (1000, 1000)) == (84, 184, 244, 344)
    # Clamped at the photo's edges, never padded (as facenet-pytorch).
    assert crop_box((-20.0, -20.0, 108.0, 108.0), (100, 90)) == (0, 0, 100, 90)


def test_crop_box_never_empty() -> None:
    for box in [(500.0, 500.0, 600.0, 600.0), (-90.0, -90.0, -50.0, -50.0), (3.0, 3.0, 3.0, 3.0)]:
        x1, y1, x2, y2 = crop_box(box, (40, 30))
        assert 0 <= x1 < x2 <= 40 and 0 <= y1 < y2 <= 30


def test_frame_round_trip_and_turned_crop_matches_extract_face_on_turned_photo(photo: Image.Image) -> None:
    from photoclust._torch import import_facenet_pytorch

    extract_face = import_facenet_pytorch().extract_face
    box: Box = (150.3, 120.7, 240.9, 250.2)
    for turns in range(4):
        frame = Frame(photo.size, turns)
        turned = frame.turn(photo)
        assert turned.size == frame.size
        for x, y in [(0.0, 0.0), (12.5, 300.25), (photo.width, photo.height)]:
            assert frame.from_frame(*frame.to_frame(x, y)) == pytest.approx((x, y))
        # A pixel keeps its colour: the turned photo's pixel at to_frame(centre of (x, y)).
        u, v = frame.to_frame(200.5, 150.5)
        assert turned.getpixel((int(u), int(v))) == photo.getpixel((200, 150))
        tbox = frame.box_to_frame(box)
        expected = extract_face(turned, np.array(tbox), config.CROP_SIZE, config.CROP_MARGIN)
        got = extract_crop(photo, box, turns)
        np.testing.assert_array_equal(got, expected.permute(1, 2, 0).numpy().astype(np.uint8), err_msg=str(turns))


def test_upright_turns_from_landmarks() -> None:
    assert upright_turns(FRONTAL_LANDMARKS) == 0
    size = (200, 100)
    for turns in range(4):
        # The upright face as it appears in a photo that needs `turns` counter-clockwise turns to be upright.
        frame = Frame(size, turns)
        photo_landmarks = tuple(frame.from_frame(x, y) for x, y in FRONTAL_LANDMARKS)
        assert upright_turns(photo_landmarks) == turns
        assert yaw_from_landmarks(photo_landmarks) == pytest.approx(0.0, abs=1e-12)
    assert upright_turns(()) == 0


# --- aligned crops (roll / similarity; benchmarks/eval_align.py measures them) ------------------------------


def rotated_face(degrees: float, centre: tuple[float, float] = (300.0, 250.0), side: float = 120.0) -> DetectedFace:
    """An upright frontal face of box side ``side`` turned by ``degrees`` counter-clockwise (as seen on
    screen) about ``centre``; the box is the axis-aligned square of the same side around it, as MTCNN's."""
    t = math.radians(degrees)
    cos, sin = math.cos(t), math.sin(t)
    cx, cy = centre
    # FRONTAL_LANDMARKS (40 px between the eyes) scaled to a box of side `side`, centred on `centre`.
    k = side / 60.0
    pts = [((x - 60.0) * k, (y - 70.0) * k) for x, y in FRONTAL_LANDMARKS]
    landmarks = tuple((cx + cos * x + sin * y, cy - sin * x + cos * y) for x, y in pts)
    return face((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), landmarks=landmarks)


def crop_landmarks(f: DetectedFace, size: tuple[int, int], align: str) -> np.ndarray:
    m = crop_transform(f.box, f.landmarks, size, align)  # type: ignore[arg-type]
    return np.array(apply_affine(invert_affine(m), f.landmarks))


def test_default_crop_is_the_measured_choice() -> None:
    assert CROP_ALIGN == "roll"


def test_roll_angle() -> None:
    assert roll_angle(FRONTAL_LANDMARKS) == 0.0
    assert roll_angle(rotated_face(25).landmarks) == pytest.approx(math.radians(-25))  # y points down
    assert roll_angle(rotated_face(-40).landmarks) == pytest.approx(math.radians(40))
    assert roll_angle(()) == 0.0
    assert roll_angle(((3.0, 4.0), (3.0, 4.0))) == 0.0


def test_box_map_reproduces_extract_crop_when_the_bounds_are_whole(photo: Image.Image) -> None:
    # The widened boxes below have whole-pixel bounds inside the photo: warp_crop then gives extract_crop's
    # pixels exactly (both shrink with Pillow's bilinear filter); enlarging differs by rounding only.
    for box in [(116.0, 116.0, 244.0, 244.0), (100.0, 100.0, 420.0, 420.0), (200.0, 150.0, 328.0, 278.0)]:
        got = warp_crop(photo, crop_transform(box, face(box).landmarks, photo.size, "box"))
        np.testing.assert_array_equal(got, extract_crop(photo, box), err_msg=str(box))
    small: Box = (116.0, 116.0, 180.0, 180.0)
    got = warp_crop(photo, crop_transform(small, face(small).landmarks, photo.size, "box"))
    assert np.abs(got.astype(int) - extract_crop(photo, small).astype(int)).mean() < 2


@pytest.mark.parametrize("degrees", [-40, -25, -10, 0, 10, 25, 40, 65, 90, 135, 180, 270])
def test_roll_crop_levels_the_eyes_and_keeps_the_box_scale(degrees: float) -> None:
    f = rotated_face(degrees)
    lm = crop_landmarks(f, (640, 480), "roll")
    (lx, ly), (rx, ry), _, (mlx, mly), (mrx, mry) = lm
    assert ly == pytest.approx(ry, abs=1e-6) and lx < rx  # level, left eye on the left
    assert mly > ly and mry > ry  # upright: mouth below the eyes
    # Same scale and centre as the plain box crop of the upright face: box side * 160 / 128 source pixels.
    upright = crop_landmarks(rotated_face(0), (640, 480), "box")
    np.testing.assert_allclose(lm, upright, atol=1e-6)
    m = crop_transform(f.box, f.landmarks, (640, 480), "roll")
    assert apply_affine(m, ((80.0, 80.0),))[0] == pytest.approx((300.0, 250.0))
    assert math.hypot(m[0], m[3]) == pytest.approx(120.0 / 128.0)


@pytest.mark.parametrize("degrees", [0, 30, -35, 90, 200])
def test_similarity_crop_puts_the_landmarks_on_the_template(degrees: float) -> None:
    t, k = math.radians(degrees), 0.7
    m = (k * math.cos(t), k * math.sin(t), 250.0, -k * math.sin(t), k * math.cos(t), 200.0)
    f = face((250.0, 200.0, 350.0, 300.0), landmarks=apply_affine(m, FACE_TEMPLATE))
    np.testing.assert_allclose(crop_landmarks(f, (640, 480), "similarity"), FACE_TEMPLATE, atol=1e-6)
    # Landmarks off the template's shape: the least-squares fit still levels a symmetric face.
    lm = crop_landmarks(rotated_face(degrees, side=90.0), (640, 480), "similarity")
    assert lm[0][1] == pytest.approx(lm[1][1], abs=1e-6) and lm[0][0] < lm[1][0] < 160


def test_similarity_transform_and_affine_helpers() -> None:
    t, k, shift = 0.3, 1.7, (12.0, -5.0)
    m = (k * math.cos(t), -k * math.sin(t), shift[0], k * math.sin(t), k * math.cos(t), shift[1])
    dst = apply_affine(m, FACE_TEMPLATE)
    np.testing.assert_allclose(similarity_transform(FACE_TEMPLATE, dst), m, atol=1e-9)
    np.testing.assert_allclose(apply_affine(invert_affine(m), dst), FACE_TEMPLATE, atol=1e-9)
    # Noisy points: the least-squares fit is still a similarity.
    noisy = tuple((x + (-1) ** i, y + 0.5 * i) for i, (x, y) in enumerate(dst))
    a, b, _, d, e, _ = similarity_transform(FACE_TEMPLATE, noisy)
    assert a == pytest.approx(e) and b == pytest.approx(-d)
    with pytest.raises(ValueError):
        similarity_transform(FACE_TEMPLATE, dst[:3])
    with pytest.raises(ValueError):
        invert_affine((0.0, 0.0, 1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError):
        crop_transform((0.0, 0.0, 10.0, 10.0), FRONTAL_LANDMARKS, (20, 20), "bogus")  # type: ignore[arg-type]


def test_warped_crops_at_the_photo_border_repeat_edge_pixels() -> None:
    # A bright photo (no black pixel) with a tilted face in its corner: the rotated square reaches past the
    # photo, and the part outside repeats (or mirrors) the photo's edge instead of being black.
    rng = np.random.default_rng(3)
    im = Image.fromarray(rng.integers(60, 250, size=(200, 300, 3), dtype=np.uint8))
    for centre in [(10.0, 10.0), (295.0, 100.0), (150.0, 198.0), (-80.0, -80.0), (1000.0, 40.0)]:
        f = rotated_face(30, centre=centre, side=80.0)
        for align in ("roll", "similarity", "box"):
            m = crop_transform(f.box, f.landmarks, im.size, align)
            for pad in ("edge", "reflect"):
                crop = warp_crop(im, m, pad=pad)
                assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
                assert crop.min() >= 55, (centre, align, pad)
        if centre == (10.0, 10.0):
            black = warp_crop(im, crop_transform(f.box, f.landmarks, im.size, "roll"), pad="black")
            assert (black.max(axis=2) == 0).mean() > 0.1
    # Inside the photo the padding makes no difference.
    f = rotated_face(30, centre=(150.0, 100.0), side=60.0)
    m = crop_transform(f.box, f.landmarks, im.size, "roll")
    np.testing.assert_array_equal(warp_crop(im, m, pad="edge"), warp_crop(im, m, pad="black"))


def test_warp_crop_of_a_large_face_matches_the_same_face_smaller(photo: Image.Image) -> None:
    # The source is shrunk by a whole factor before warping when the face is much larger than the crop.
    f = rotated_face(20, centre=(250.0, 250.0), side=200.0)
    big = photo.resize((photo.width * 6, photo.height * 6), Image.Resampling.BICUBIC)
    fb = DetectedFace(
        box=tuple(v * 6 for v in f.box),  # type: ignore[arg-type]
        landmarks=tuple((x * 6, y * 6) for x, y in f.landmarks),
        probability=f.probability,
    )
    for align in ("roll", "similarity"):
        a = face_crop(photo, f, align)
        b = face_crop(big, fb, align)
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 4, align


@pytest.mark.parametrize("align", ["box", "roll", "similarity"])
@pytest.mark.parametrize("size", [(1, 1), (3, 2), (40, 25)])
def test_every_alignment_works_on_tiny_images(size: tuple[int, int], align: str) -> None:
    im = Image.new("RGB", size, (120, 90, 60))
    w, h = size
    faces = [face((0.0, 0.0, float(w), float(h))), face((-5.0, -5.0, w + 5.0, h + 5.0)), rotated_face(30)]
    for c in analyse_faces(im, faces, align=align):  # type: ignore[arg-type]
        assert_valid_crop(c)
        assert (c.crop == (120, 90, 60)).all()


def test_analyse_faces_with_roll_alignment(photo: Image.Image) -> None:
    f = face((150.0, 120.0, 260.0, 240.0))  # level eyes: the roll crop is the box crop (up to rounding)
    (plain,) = analyse_faces(photo, [f], align="box")
    (rolled,) = analyse_faces(photo, [f])  # roll is the default
    assert_valid_crop(rolled)
    np.testing.assert_array_equal(plain.crop, extract_crop(photo, f.box))
    assert image_distance(Image.fromarray(plain.crop), Image.fromarray(rolled.crop)) < 8
    assert rolled.thumbnail == plain.thumbnail and rolled.quality.yaw == plain.quality.yaw


# --- quality measures ---------------------------------------------------------------------------------------


def test_laplacian_variance_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(160, 160, 3), dtype=np.uint8)
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    ref = cv2.Laplacian(grey, cv2.CV_64F, ksize=1)[1:-1, 1:-1].var()
    assert laplacian_variance(rgb) == pytest.approx(ref, rel=1e-9)
    assert laplacian_variance(grey) == pytest.approx(ref, rel=1e-9)


def test_laplacian_variance_orders_sharp_and_blurred(photo: Image.Image) -> None:
    region = photo.crop((150, 100, 400, 350)).resize((160, 160))
    sharp = laplacian_variance(np.asarray(region))
    soft = laplacian_variance(np.asarray(region.filter(ImageFilter.GaussianBlur(2))))
    softer = laplacian_variance(np.asarray(region.filter(ImageFilter.GaussianBlur(5))))
    assert sharp > soft > softer >= 0
    assert softer < config.FLAG_BLUR < sharp
    assert laplacian_variance(np.full((160, 160, 3), 77, np.uint8)) == 0.0
    assert laplacian_variance(np.zeros((2, 2, 3), np.uint8)) == 0.0


def test_yaw_from_landmarks() -> None:
    assert yaw_from_landmarks(FRONTAL_LANDMARKS) == pytest.approx(0.0)
    le, re, _, ml, mr = FRONTAL_LANDMARKS
    assert yaw_from_landmarks((le, re, (70.0, 70.0), ml, mr)) == pytest.approx(0.5)  # towards image right
    assert yaw_from_landmarks((le, re, (50.0, 70.0), ml, mr)) == pytest.approx(-0.5)
    assert yaw_from_landmarks((le, re, (80.0, 75.0), ml, mr)) == pytest.approx(1.0)
    assert yaw_from_landmarks((le, re, (120.0, 70.0), ml, mr)) == 1.0  # clipped
    assert yaw_from_landmarks((le, re, (-20.0, 70.0), ml, mr)) == -1.0
    # In-plane rotation does not count: the same frontal face rotated by 90 degrees.
    rotated = tuple((-y, x) for x, y in FRONTAL_LANDMARKS)
    assert yaw_from_landmarks(rotated) == pytest.approx(0.0, abs=1e-12)
    # Degenerate input: both eyes on one point, or too few points.
    assert yaw_from_landmarks(((5.0, 5.0), (5.0, 5.0), (9.0, 9.0), (0.0, 0.0), (0.0, 0.0))) == 0.0
    assert yaw_from_landmarks(()) == 0.0


def test_quality_flags() -> None:
    good = dict(probability=0.999, size_px=120.0, blur=300.0, yaw=0.1)
    assert quality_flags(**good) == ()
    assert quality_flags(**{**good, "probability": 0.95}) == ("low_probability",)
    assert quality_flags(**{**good, "size_px": 25.0}) == ("small",)
    assert quality_flags(**{**good, "blur": config.FLAG_BLUR / 2}) == ("blurry",)
    assert quality_flags(**{**good, "yaw": -0.95}) == ("profile",)
    assert quality_flags(0.91, 20.0, 1.0, 1.0) == ("low_probability", "small", "blurry", "profile")


# --- thumbnails and robustness of analyse_faces -----------------------------------------------------------


def test_thumbnail_keeps_the_face_centred_and_inside(photo: Image.Image) -> None:
    thumb = Image.open(io.BytesIO(thumbnail_jpeg(photo, (200.0, 100.0, 300.0, 200.0))))
    assert thumb.format == "JPEG" and thumb.size == (config.THUMB_SIZE, config.THUMB_SIZE)
    # A face in the corner: the square is shifted inside the photo, so no black padding appears.
    corner = np.asarray(Image.open(io.BytesIO(thumbnail_jpeg(photo, (0.0, 0.0, 60.0, 60.0)))))
    assert corner.mean() > 40 and min(corner[:4].mean(), corner[:, :4].mean()) > 20


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (40, 25)])
def test_analyse_faces_on_tiny_images(size: tuple[int, int]) -> None:
    im = Image.new("RGB", size, (120, 90, 60))
    w, h = size
    crops = analyse_faces(im, [face((0.0, 0.0, float(w), float(h))), face((-5.0, -5.0, w + 5.0, h + 5.0))])
    assert len(crops) == 2
    for c in crops:
        assert_valid_crop(c)
        assert "small" in c.quality.flags
        assert "blurry" in c.quality.flags  # a flat image has no detail at all


@pytest.mark.parametrize("mode", ["L", "LA", "I;16", "I", "F", "RGBA", "P", "CMYK", "1"])
def test_analyse_faces_converts_any_mode(photo: Image.Image, mode: str) -> None:
    grey = photo.convert("L")
    if mode in ("I;16", "I", "F"):  # 16-bit / 32-bit grey holding the same picture
        im = Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257).convert(mode)
    else:
        im = photo.convert(mode)
    assert im.mode == mode
    f = face((150.0, 120.0, 260.0, 240.0))
    (c,) = analyse_faces(im, [f], align="box")  # compared with the plain box crop below
    assert_valid_crop(c)
    if mode == "RGBA":
        np.testing.assert_array_equal(c.crop, extract_crop(photo, f.box))
    elif mode in ("L", "LA", "I;16", "I", "F"):
        ref = extract_crop(grey.convert("RGB"), f.box)
        assert np.abs(c.crop.astype(int) - ref.astype(int)).max() <= 1


def test_to_rgb() -> None:
    rgb = Image.new("RGB", (4, 4), (1, 2, 3))
    assert to_rgb(rgb) is rgb
    transparent = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_rgb(transparent).getpixel((0, 0)) == (255, 255, 255)
    p = Image.new("P", (4, 4), 0)
    p.putpalette([10, 20, 30] * 256)
    p.info["transparency"] = 1
    assert to_rgb(p).getpixel((0, 0)) == (10, 20, 30)
    sixteen = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert to_rgb(sixteen).getpixel((0, 0)) == (255, 255, 255)
    half = Image.fromarray(np.full((4, 4), 32768, np.uint16))
    assert to_rgb(half).getpixel((0, 0)) == (128, 128, 128)
    assert to_rgb(Image.new("F", (2, 2), 0.0)).getpixel((0, 0)) == (0, 0, 0)


def test_analyse_faces_empty() -> None:
    assert analyse_faces(Image.new("RGB", (10, 10)), []) == []


# --- Detector without the model --------------------------------------------------------------------------


def test_detector_is_lazy() -> None:
    code = (
        "import sys\n"
        "from photoclust.detect import Detector, analyse_faces\n"
        "d = Detector()\n"
        "from PIL import Image\n"
        "assert d.detect(Image.new('RGB', (1, 1))) == []\n"
        "assert not d.loaded\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'facenet_pytorch' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_detector_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Detector(min_face_size=5)
    with pytest.raises(ValueError):
        Detector().detect(Image.new("RGB", (50, 50)), scale=0.0)


def test_detector_without_cuda_says_so() -> None:
    from photoclust._torch import import_torch
    from photoclust.errors import DeviceError

    if import_torch().cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(DeviceError, match="CUDA"):
        Detector(device="cuda").load()


@pytest.mark.parametrize("size", [(1, 1), (19, 300), (300, 12)])
def test_detect_on_images_smaller_than_a_face(size: tuple[int, int]) -> None:
    assert Detector().detect(Image.new("RGB", size)) == []


# --- the real MTCNN ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> Iterator[Detector]:
    d = Detector()
    d.load()
    d.load()  # idempotent
    yield d


def box_area(f: DetectedFace) -> float:
    return (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])


def check_faces(faces: list[DetectedFace]) -> None:
    assert isinstance(faces, list)
    for f in faces:
        assert config.DROP_PROBABILITY <= f.probability <= 1.0
        assert len(f.box) == 4 and f.box[0] < f.box[2] and f.box[1] < f.box[3]
        assert len(f.landmarks) == 5 and all(len(p) == 2 for p in f.landmarks)
        assert all(isinstance(v, float) for v in f.box)
    areas = [box_area(f) for f in faces]
    assert areas == sorted(areas, reverse=True)


def group_counts() -> list[tuple[str, int]]:
    with open(DATA / "groups.csv", newline="") as fh:
        return [(row["path"], int(row["n_faces"])) for row in csv.DictReader(fh)]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "n_faces"), group_counts())
def test_group_photos_face_counts(detector: Detector, path: str, n_faces: int) -> None:
    faces = detector.detect(load(PHOTOS / path))
    check_faces(faces)
    assert abs(len(faces) - n_faces) <= 1, [round(f.probability, 3) for f in faces]


@pytest.mark.slow
def test_group_photo_boxes_match_ground_truth(detector: Detector) -> None:
    with open(DATA / "dlib_boxes.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["file"] == "dlib_2008_002470.jpg")
    truth = []
    for part in row["boxes_left_top_w_h"].split(";"):
        x, y, w, h = (float(v) for v in part.split())
        truth.append((x, y, x + w, y + h))
    faces = detector.detect(load(GROUP / "dlib_2008_002470.jpg"))
    best = [max((iou(t, f.box) for f in faces), default=0.0) for t in truth]
    assert sum(b >= 0.3 for b in best) >= len(truth) - 1, best
    assert np.median(best) >= 0.5, best


@pytest.mark.slow
def test_single_person_photos_have_a_face(detector: Detector, labels: dict[str, str]) -> None:
    missed = []
    for rel in sorted(labels):
        faces = detector.detect(load(PHOTOS / rel))
        check_faces(faces)
        if not faces:
            missed.append(rel)
    assert not missed


@pytest.mark.slow
@pytest.mark.parametrize("transpose", [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270], ids=["90", "270"])
def test_detect_finds_a_face_in_a_sideways_photo(detector: Detector, transpose: Image.Transpose) -> None:
    # A photo whose EXIF orientation was lost: MTCNN alone finds nothing, the sideways passes do.
    im = load(PHOTOS / "obama" / "01.jpg")
    (upright,) = detector.detect(im)
    (upright_crop,) = analyse_faces(im, [upright])
    sideways = im.transpose(transpose)
    assert Detector(try_rotations=False).detect(sideways) == []
    faces = detector.detect(sideways)
    check_faces(faces)
    assert len(faces) == 1
    turns = 1 if transpose == Image.Transpose.ROTATE_90 else 3
    back = Frame(im.size, turns)  # `sideways` is `im` turned by `turns`; undo it
    assert iou(back.box_from_frame(faces[0].box), upright.box) > 0.7
    # analyse_faces turns the crop and the thumbnail upright: they look like the ones from the upright
    # photo, and much less like those turned any other way.
    (c,) = analyse_faces(sideways, faces)
    assert_valid_crop(c)
    assert upright_turns(faces[0].landmarks) == 4 - turns
    thumb = Image.open(io.BytesIO(c.thumbnail))
    upright_thumb = Image.open(io.BytesIO(upright_crop.thumbnail))
    for got, want in [(Image.fromarray(c.crop), Image.fromarray(upright_crop.crop)), (thumb, upright_thumb)]:
        diffs = [image_distance(got, want.rotate(90 * k)) for k in range(4)]
        assert diffs[0] < 20 and diffs[0] < 0.6 * min(diffs[1:]), diffs
    assert abs(c.quality.yaw - upright_crop.quality.yaw) < 0.2


@pytest.mark.slow
def test_large_photo_gives_full_resolution_coordinates(detector: Detector) -> None:
    im = load(GROUP / "face_recognition_obama_and_biden.jpg")  # 1600 px: detection runs on a 1024-px copy
    k = 4000 / im.width
    big = im.resize((4000, round(im.height * k)), Image.Resampling.BILINEAR)
    ref = detector.detect(im)
    got = detector.detect(big)
    assert len(got) == len(ref) >= 2
    for r, g in zip(ref, got, strict=True):
        scaled: Box = (r.box[0] * k, r.box[1] * k, r.box[2] * k, r.box[3] * k)
        assert iou(scaled, g.box) > 0.9, (scaled, g.box)
        for (rx, ry), (gx, gy) in zip(r.landmarks, g.landmarks, strict=True):
            assert math.hypot(rx * k - gx, ry * k - gy) < 0.05 * (g.box[2] - g.box[0])


@pytest.mark.slow
def test_scale_maps_a_reduced_copy_to_full_resolution(detector: Detector) -> None:
    im = load(GROUP / "face_recognition_kit_with_rose.jpg")
    ref = detector.detect(im)
    half = im.reduce(2)
    got = detector.detect(half, scale=im.width / half.width)
    assert len(got) == len(ref) == 2
    for r, g in zip(ref, got, strict=True):
        assert iou(r.box, g.box) > 0.8
        assert all(0 <= v <= max(im.size) + 20 for v in g.box)


@pytest.mark.slow
def test_detect_accepts_any_mode_and_returns_empty_for_no_face(detector: Detector) -> None:
    im = load(GROUP / "face_recognition_kit_with_rose.jpg")
    for mode in ("L", "RGBA", "P"):
        assert len(detector.detect(im.convert(mode))) == 2, mode
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, size=(300, 400, 3), dtype=np.uint8))
    gradient = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (200, 1))).convert("RGB")
    for blank in (Image.new("RGB", (640, 480), (128, 128, 128)), noise, gradient, Image.new("RGB", (20, 20))):
        assert detector.detect(blank) == []


@pytest.mark.slow
def test_analyse_faces_on_real_detections(detector: Detector) -> None:
    from photoclust._torch import import_facenet_pytorch

    extract_face = import_facenet_pytorch().extract_face
    im = load(GROUP / "face_recognition_kit_with_rose.jpg")
    faces = detector.detect(im)
    crops = analyse_faces(im, faces, align="box")
    assert [c.detection for c in crops] == faces
    # the default (roll) crop is a face too, with its eyes level
    for rolled in analyse_faces(im, faces):
        assert_valid_crop(rolled)
        (inner,) = detector.detect(Image.fromarray(rolled.crop))[:1]
        (lx, ly), (rx, ry) = inner.landmarks[0], inner.landmarks[1]
        assert abs(math.degrees(math.atan2(ry - ly, rx - lx))) < 6
    for c in crops:
        assert_valid_crop(c)
        assert c.quality.flags == ()  # two large, sharp, frontal faces
        assert c.quality.size_px == pytest.approx(
            min(c.detection.box[2] - c.detection.box[0], c.detection.box[3] - c.detection.box[1])
        )
        ref = extract_face(im, np.array(c.detection.box), config.CROP_SIZE, config.CROP_MARGIN)
        np.testing.assert_array_equal(c.crop, ref.permute(1, 2, 0).numpy().astype(np.uint8))
        # The crop is a face: MTCNN finds one in it, roughly filling the box inside the margin.
        inner = detector.detect(Image.fromarray(c.crop))
        assert inner and iou(inner[0].box, (16.0, 16.0, 144.0, 144.0)) > 0.5

    small = analyse_faces(load(GROUP / "dlib_2008_002470.jpg"), detector.detect(load(GROUP / "dlib_2008_002470.jpg")))
    assert any("small" in c.quality.flags for c in small)
    assert all(c.quality.size_px < 60 for c in small)


def eye_tilt_degrees(landmarks: tuple[tuple[float, float], ...]) -> float:
    return math.degrees(roll_angle(landmarks))


@pytest.mark.slow
@pytest.mark.parametrize("degrees", [25, -25])
def test_roll_crop_of_a_tilted_real_face_has_level_eyes(detector: Detector, degrees: float) -> None:
    im = load(PHOTOS / "obama" / "01.jpg")
    # Turned with Pillow, the corners filled with grey; MTCNN still finds the tilted face.
    tilted = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    (f,) = detector.detect(tilted)
    assert abs(eye_tilt_degrees(f.landmarks) + degrees) < 6  # counter-clockwise on screen: negative in y-down
    box_crop, roll_crop = (face_crop(tilted, f, a) for a in ("box", "roll"))
    # Re-detected on the crops: the plain crop keeps the tilt, the roll crop has level eyes.
    (in_box,) = detector.detect(Image.fromarray(box_crop))
    (in_roll,) = detector.detect(Image.fromarray(roll_crop))
    assert abs(eye_tilt_degrees(in_box.landmarks) + degrees) < 6
    assert abs(eye_tilt_degrees(in_roll.landmarks)) < 5  # MTCNN's landmarks move by a few degrees
    # ... and looks more like the plain crop of the upright photo (MTCNN's box of a tilted face is larger).
    (upright,) = detector.detect(im)
    upright_crop = face_crop(im, upright, "box")
    assert image_distance(Image.fromarray(roll_crop), Image.fromarray(upright_crop)) < 0.75 * image_distance(
        Image.fromarray(box_crop), Image.fromarray(upright_crop)
    )
    assert iou(in_roll.box, detector.detect(Image.fromarray(upright_crop))[0].box) > 0.6


@pytest.mark.slow
def test_aligned_crops_of_a_real_face_at_the_photo_border(detector: Detector) -> None:
    im = load(PHOTOS / "obama" / "01.jpg")
    tilted = im.rotate(20, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    (f,) = detector.detect(tilted)
    # Cut the photo through the face (a third of it is lost past the left edge); the face keeps its
    # detected box and landmarks, moved with the cut.
    x0 = round(f.box[0] + (f.box[2] - f.box[0]) / 3)
    part = tilted.crop((x0, 0, tilted.width, tilted.height))
    moved = DetectedFace(
        box=(f.box[0] - x0, f.box[1], f.box[2] - x0, f.box[3]),
        landmarks=tuple((x - x0, y) for x, y in f.landmarks),
        probability=f.probability,
    )
    for align in ("box", "roll", "similarity"):
        (c,) = analyse_faces(part, [moved], align=align)
        assert_valid_crop(c)
        # Edge pixels repeated (or, for "box", the clamped box stretched), never black.
        assert (c.crop.max(axis=2) < 8).mean() < 0.01, align
        assert c.crop[:, :20].std() > 0 and c.crop[:, :20].mean() > 40, align
    # The roll crop keeps the face's scale and position: its right two thirds match the uncut photo's.
    whole = face_crop(tilted, f, "roll")
    cut = face_crop(part, moved, "roll")
    assert np.abs(whole[:, 80:].astype(int) - cut[:, 80:].astype(int)).mean() < 2


@pytest.mark.slow
def test_the_frozen_boxes_of_the_tui_tests_are_what_the_detector_finds() -> None:
    """tests/helpers.BOXES stands in for the detector in the TUI tests: it must stay what the scan finds."""
    from photoclust.scan import PhotoAnalyser
    from photoclust.types import FailedPhoto, FileEntry
    from tests.helpers import BOXES, PHOTOS

    analyser = PhotoAnalyser(None, embed=False, flip_average=False)
    for rel, frozen in BOXES.items():
        st = (PHOTOS / rel).stat()
        result = analyser(FileEntry(str(PHOTOS / rel), st.st_size, st.st_mtime_ns))
        assert not isinstance(result, FailedPhoto), rel
        found = [f.detection.box for f in result.photo.faces]
        assert len(found) == len(frozen), (rel, found)
        for box in frozen:
            assert max(iou(tuple(map(float, box)), f) for f in found) > 0.9, (rel, box, found)


# -- speed work (issue 15): the same results, faster ---------------------------------------------


def test_our_mtcnn_stages_give_facenet_pytorchs_boxes(detector: Detector) -> None:
    """detect/mtcnn.py resamples through a summed-area table and runs P-Net channels-last: the boxes,
    probabilities and landmarks must be facenet-pytorch's own ``detect_face``'s, to float rounding."""
    from facenet_pytorch.models.utils.detect_face import detect_face

    from photoclust._torch import import_torch
    from photoclust.detect.mtcnn import detect_faces

    torch = import_torch()
    m = detector._model
    paths = [p for p in sorted(PHOTOS.rglob("*.jpg")) if "group" in p.parts][:3] + sorted(PHOTOS.glob("obama/*.jpg"))[
        :2
    ]
    compared = 0
    for path in paths:
        rgb = to_rgb(load(path))
        for minsize in (20.0, 20 / 0.709**2):
            with torch.inference_mode():
                theirs, their_points = detect_face(
                    [rgb], minsize, m.pnet, m.rnet, m.onet, m.thresholds, m.factor, "cpu"
                )
                ((ours, our_points),) = detect_faces([rgb], minsize, m)
            theirs = np.asarray(theirs[0], dtype=np.float32).reshape(-1, 5)
            assert ours.shape == theirs.shape, path
            np.testing.assert_allclose(ours[:, :4], theirs[:, :4], atol=0.01)
            np.testing.assert_allclose(ours[:, 4], theirs[:, 4], atol=1e-5)
            np.testing.assert_allclose(our_points, np.asarray(their_points[0], np.float32).reshape(-1, 5, 2), atol=0.01)
            compared += len(ours)
    assert compared >= 10


def test_area_resampling_matches_torch_interpolate() -> None:
    from photoclust._torch import import_torch
    from photoclust.detect.mtcnn import crop_area, resize_area, summed_area

    torch = import_torch()
    rng = np.random.default_rng(1)
    img = torch.as_tensor(rng.integers(0, 256, (2, 3, 37, 53), dtype=np.uint8))
    table = summed_area(img)
    for size in ((11, 17), (37, 53), (50, 70), (1, 1)):
        want = torch.nn.functional.interpolate(img.float(), size=size, mode="area")
        assert torch.allclose(resize_area(table, size), want, atol=1e-4)
    # regions given as facenet-pytorch's pad() gives them: 1-based first row/column, inclusive last
    y, ey, x, ex = np.array([1, 5, 30]), np.array([37, 20, 33]), np.array([1, 10, 50]), np.array([53, 40, 53])
    got = crop_area(table, np.array([0, 1, 1]), y, ey, x, ex, 24)
    for k, n in enumerate((0, 1, 1)):
        region = img[n : n + 1, :, y[k] - 1 : ey[k], x[k] - 1 : ex[k]].float()
        want = torch.nn.functional.interpolate(region, size=(24, 24), mode="area")[0]
        assert torch.allclose(got[k], want, atol=1e-4)


def test_pyramid_min_size_skips_whole_levels() -> None:
    from photoclust.detect.detector import PYRAMID_FACTOR, pyramid_min_size

    assert pyramid_min_size(20, 10) == 20  # a reduced copy of a large photo: every level is needed
    assert pyramid_min_size(20, 20) == 20
    full = pyramid_min_size(20, config.FLAG_SIZE_PX)  # a photo at its own size: faces of 40 px and up
    assert full == pytest.approx(20 / PYRAMID_FACTOR**2) and full <= config.FLAG_SIZE_PX
    for wanted in (21, 33, 40, 57, 100, 400):
        m = pyramid_min_size(20, wanted)
        assert m <= wanted < m / PYRAMID_FACTOR + 1e-9  # never looks for less than one level too few
        skipped = math.log(m / 20) / -math.log(PYRAMID_FACTOR)
        assert abs(skipped - round(skipped)) < 1e-9  # the remaining levels are the base pyramid's own


def test_faces_under_the_small_size_are_not_searched_for(detector: Detector) -> None:
    """The pyramid levels that only find faces well under FLAG_SIZE_PX in the photo's own pixels are
    skipped: a 14 px face is not found in a photo at its own size, but is in a copy at a quarter of the
    size of a photo where it is 56 px, and is with the small size lowered."""
    photo = load(PHOTOS / "obama" / "02.jpg")
    face = detector.detect(photo)[0]
    k = 14 / (face.box[2] - face.box[0])
    canvas = Image.new("RGB", (320, 240), (128, 128, 128))
    canvas.paste(photo.resize((round(photo.width * k), round(photo.height * k))), (100, 90))
    assert detector.detect(canvas) == []
    assert len(detector.detect(canvas, scale=4.0)) == 1
    assert len(Detector(min_face_px=12).detect(canvas)) == 1


def test_detect_many_finds_what_detect_finds_one_by_one(detector: Detector) -> None:
    """Photos of one size go through MTCNN in one batch; the faces are those of one photo at a time."""
    paths = sorted(PHOTOS.glob("obama/*.jpg"))[:3] + sorted(PHOTOS.glob("madonna/*.jpg"))[:2]
    images = [load(p).resize((400, 300)) for p in paths[:4]] + [load(paths[4]), Image.new("RGB", (400, 300))]
    scales = [1.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    many = detector.detect_many(images, scales)
    assert sum(len(f) for f in many) >= 5 and many[-1] == []
    for image, scale, faces in zip(images, scales, many, strict=True):
        one = detector.detect(image, scale=scale)
        assert len(one) == len(faces)
        for a, b in zip(one, faces, strict=True):
            assert np.allclose(a.box, b.box, atol=0.05) and abs(a.probability - b.probability) < 1e-5
    with pytest.raises(ValueError, match="one scale per image"):
        detector.detect_many(images, scales[:2])
