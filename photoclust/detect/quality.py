"""Face crops, quality measures and thumbnails. numpy and Pillow only (no torch).

The 160x160 crop reproduces ``facenet_pytorch.models.utils.detect_face.extract_face`` for PIL images
exactly (the FaceNet weights are meant to be fed its crops): the margin is given in pixels of the
*output* (``CROP_MARGIN`` of ``CROP_SIZE``), i.e. ``margin * box_side / (CROP_SIZE - margin)`` source
pixels split evenly on both sides; the widened box is clamped to the photo (no padding, so a face at
the edge is stretched, as in facenet-pytorch), truncated to integers, cropped and resized with
Pillow's bilinear filter. The only difference: we crop from the full-resolution photo, not from the
reduced copy MTCNN ran on.

Sideways faces: when the landmarks say a face lies on its side or upside down (the detector's
rotation fallback finds such faces in photos that lack their EXIF orientation), crop and thumbnail are
turned upright: the result is exactly ``extract_face`` on the photo turned by a multiple of 90 degrees.

Aligned crops (``align`` of ``face_crop`` / ``analyse_faces``; "roll" is the default): "roll" is the same box
crop rotated about the box centre so that the eyes are level (same scale and margin, bilinear, the part
past the photo's edge filled with its edge pixels); "similarity" fits the five landmarks to
``FACE_TEMPLATE``. Measured by ``benchmarks/eval_align.py`` (largest face per photo, flip-averaged
FaceNet) on the 1,265 faces of 60 people of celeba_wild: box crop NN accuracy 0.9794, TAR@FAR1e-3 0.7991,
EER 0.0385; roll 0.9842, 0.8126, 0.0358 (+6/-0 nearest neighbours; TAR +1.35 points, identity bootstrap
median +1.2, 90% interval +0.3..+2.2); similarity 0.9779, 0.7158, 0.0535 (the davidsandberg weights were trained on
unaligned box crops). The smaller sets are saturated or slightly worse with roll (celeb5 ROC AUC 0.9889 ->
0.9847, mostly from padding instead of clamping its tight web crops). Below the +2 point bar first set
for changing the crop FaceNet sees, but grouping decides: with roll crops, BCubed F of the people found
in celeba_wild rose from 0.9496 to 0.9546 at the same precision (benchmarks/eval_people.py), so
``CROP_ALIGN`` is "roll".
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from PIL import Image

from photoclust import config
from photoclust.types import Box, DetectedFace, FaceCrop, FaceQuality, Landmarks

# How much wider than the face box the square thumbnail is.
THUMB_CONTEXT = 1.6
THUMB_QUALITY = 85


def to_rgb(image: Image.Image) -> Image.Image:
    """Return an 8-bit RGB version of ``image`` (the same object when it already is one).

    Transparent pixels are put on white; 16-bit and float greyscale are scaled to 8 bits rather
    than clipped (Pillow's plain ``convert`` would turn most of a 16-bit photo white).
    """
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(image, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        if hi > 255.0:
            arr = arr * (255.0 / (65535.0 if hi <= 65535.0 else hi))
        grey = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
        return grey.convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class Frame:
    """The photo turned counter-clockwise by ``turns`` quarter turns (Pillow's ``ROTATE_90`` per turn),
    with point and box conversions between the photo's coordinates and the turned ones."""

    _TRANSPOSE = (
        None,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.ROTATE_270,
    )

    def __init__(self, size: tuple[int, int], turns: int) -> None:
        self.w, self.h = size
        self.turns = turns % 4

    @property
    def size(self) -> tuple[int, int]:
        return (self.w, self.h) if self.turns % 2 == 0 else (self.h, self.w)

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        if self.turns == 1:
            return y, self.w - x
        if self.turns == 2:
            return self.w - x, self.h - y
        if self.turns == 3:
            return self.h - y, x
        return x, y

    def from_frame(self, u: float, v: float) -> tuple[float, float]:
        if self.turns == 1:
            return self.w - v, u
        if self.turns == 2:
            return self.w - u, self.h - v
        if self.turns == 3:
            return v, self.h - u
        return u, v

    @staticmethod
    def _box(p: tuple[float, float], q: tuple[float, float]) -> Box:
        return min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1])

    def box_to_frame(self, box: Box) -> Box:
        return self._box(self.to_frame(box[0], box[1]), self.to_frame(box[2], box[3]))

    def box_from_frame(self, box: Box) -> Box:
        return self._box(self.from_frame(box[0], box[1]), self.from_frame(box[2], box[3]))

    def landmarks_to_frame(self, landmarks: Landmarks) -> Landmarks:
        return tuple(self.to_frame(x, y) for x, y in landmarks)

    def turn(self, image: Image.Image) -> Image.Image:
        """The whole photo, turned."""
        op = self._TRANSPOSE[self.turns]
        return image if op is None else image.transpose(op)

    def crop(self, image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
        """``box`` (in the turned photo) cut from the turned photo, without turning the whole photo.
        Parts outside the photo are black (as ``Image.crop``)."""
        x1, y1, x2, y2 = (round(v) for v in self.box_from_frame(box))
        region = image.crop((x1, y1, x2, y2))
        op = self._TRANSPOSE[self.turns]
        return region if op is None else region.transpose(op)


def upright_turns(landmarks: Landmarks) -> int:
    """How many counter-clockwise quarter turns make the face upright (eyes above the mouth): 0 for an
    ordinary face, 1 when the top of the head points to the image's right, 3 to its left, 2 upside down."""
    if len(landmarks) < 5:
        return 0
    ux = (landmarks[0][0] + landmarks[1][0] - landmarks[3][0] - landmarks[4][0]) / 2
    uy = (landmarks[0][1] + landmarks[1][1] - landmarks[3][1] - landmarks[4][1]) / 2
    # "Up" in image coordinates is -y; a counter-clockwise quarter turn maps a vector (dx, dy) to (dy, -dx).
    if abs(ux) <= abs(uy):
        return 0 if uy <= 0 else 2
    return 1 if ux > 0 else 3


def crop_box(
    box: Box, image_size: tuple[int, int], size: int = config.CROP_SIZE, margin: int = config.CROP_MARGIN
) -> tuple[int, int, int, int]:
    """The integer pixel box facenet-pytorch's ``extract_face`` crops for ``box`` (see module docs).

    Unlike facenet-pytorch, a box that would be empty (face entirely outside the photo) is widened
    to at least one pixel inside the photo instead of failing.
    """
    w, h = image_size
    mx = margin * (box[2] - box[0]) / (size - margin)
    my = margin * (box[3] - box[1]) / (size - margin)
    x1 = int(max(box[0] - mx / 2, 0))
    y1 = int(max(box[1] - my / 2, 0))
    x2 = int(min(box[2] + mx / 2, w))
    y2 = int(min(box[3] + my / 2, h))
    x1, y1 = min(x1, w - 1), min(y1, h - 1)
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    return x1, y1, x2, y2


def extract_crop(full: Image.Image, box: Box, turns: int = 0) -> np.ndarray:
    """The (CROP_SIZE, CROP_SIZE, 3) uint8 RGB face crop FaceNet is fed. ``full`` must be RGB.

    ``turns``: counter-clockwise quarter turns that make the face upright (see ``upright_turns``).
    """
    frame = Frame(full.size, turns)
    region = frame.crop(full, crop_box(frame.box_to_frame(box), frame.size))
    out = region.resize((config.CROP_SIZE, config.CROP_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8).copy()


# --- aligned crops (measured against the plain box crop by benchmarks/eval_align.py) ------------------------

CropAlign = Literal["box", "roll", "similarity"]
PadMode = Literal["edge", "reflect", "black"]

# The crop ``analyse_faces`` makes by default (see the module docs for the measurement behind it).
CROP_ALIGN: CropAlign = "roll"

# Five MTCNN landmarks (left eye, right eye, nose, mouth left, mouth right) of an average upright
# face in the 160-px box crop (box plus margin 32): the target of the "similarity" alignment. The
# generalised Procrustes mean (scale and centre of the plain mean, made left-right symmetric) of the 1,436
# largest faces of the celeba_wild, celeb5, deepface and face_recognition sets, in box-crop coordinates.
FACE_TEMPLATE: Landmarks = (
    (51.5, 66.7),
    (108.5, 66.7),
    (80.0, 93.1),
    (54.7, 112.5),
    (105.3, 112.5),
)

Affine = tuple[float, float, float, float, float, float]


def roll_angle(landmarks: Landmarks) -> float:
    """Angle of the line from the left to the right eye, in radians, in image coordinates (y down):
    0 for level eyes, positive when the right eye (on the image's right) is lower. 0 without landmarks."""
    if len(landmarks) < 2:
        return 0.0
    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    if lx == rx and ly == ry:
        return 0.0
    return math.atan2(ry - ly, rx - lx)


def warp_crop(full: Image.Image, to_src: Affine, size: int = config.CROP_SIZE, pad: PadMode = "edge") -> np.ndarray:
    """The (size, size, 3) uint8 crop whose point (u, v) (continuous pixel coordinates, 0..size) shows the
    photo's point ``(a*u + b*v + c, d*u + e*v + f)`` for ``to_src = (a, b, c, d, e, f)``.

    Sampled bilinearly at the photo's own resolution, then resized to ``size`` with Pillow's bilinear
    filter (which averages when shrinking, as ``extract_crop`` does), so large faces do not alias. Parts of
    the crop outside the photo repeat the photo's edge pixels (``pad="edge"``), mirror them
    (``"reflect"``) or are black (``"black"``).
    """
    a, b, c, d, e, f = (float(v) for v in to_src)
    w, h = full.size
    # Source pixels per output pixel along the crop's two axes.
    fx, fy = math.hypot(a, d), math.hypot(b, e)
    # Faces much larger than the crop: shrink the source region first by a whole factor (box filter).
    k = max(1, int(min(fx, fy) / 2))
    corners_x = [c + a * u + b * v for u, v in ((0, 0), (size, 0), (0, size), (size, size))]
    corners_y = [f + d * u + e * v for u, v in ((0, 0), (size, 0), (0, size), (size, size))]
    x0, x1 = math.floor(min(corners_x)) - 2 * k, math.ceil(max(corners_x)) + 2 * k
    y0, y1 = math.floor(min(corners_y)) - 2 * k, math.ceil(max(corners_y)) + 2 * k
    # The part inside the photo (at least one pixel), then padded out to the whole (x0, y0, x1, y1).
    ix0, iy0 = min(max(x0, 0), w - 1), min(max(y0, 0), h - 1)
    ix1, iy1 = max(min(x1, w), ix0 + 1), max(min(y1, h), iy0 + 1)
    region = full.crop((ix0, iy0, ix1, iy1))
    pl, pt = max(0, ix0 - x0), max(0, iy0 - y0)
    pr, pb = max(0, x1 - ix1), max(0, y1 - iy1)
    if pl or pt or pr or pb:
        arr = np.asarray(region)
        widths = ((pt, pb), (pl, pr), (0, 0))
        if pad == "black":
            arr = np.pad(arr, widths)
        else:
            arr = np.pad(arr, widths, mode="edge" if pad == "edge" or min(arr.shape[:2]) < 2 else "reflect")
        region = Image.fromarray(arr)
    ox, oy = ix0 - pl, iy0 - pt  # photo coordinates of the region's top-left corner
    if k > 1:
        region = region.reduce(k)
    s = 1.0 / k
    # Intermediate crop at about the source's resolution: (iw, ih) pixels for the size x size square.
    iw, ih = max(size, round(size * fx * s)), max(size, round(size * fy * s))
    sx, sy = size / iw, size / ih
    coeffs = (a * sx * s, b * sy * s, (c - ox) * s, d * sx * s, e * sy * s, (f - oy) * s)
    out = region.transform((iw, ih), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    if (iw, ih) != (size, size):
        out = out.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8).copy()


def _affine_through(fn: Callable[[float, float], tuple[float, float]]) -> Affine:
    """The coefficients of an affine map given as a function."""
    x0, y0 = fn(0.0, 0.0)
    xu, yu = fn(1.0, 0.0)
    xv, yv = fn(0.0, 1.0)
    return (xu - x0, xv - x0, x0, yu - y0, yv - y0, y0)


def roll_transform(
    box: Box,
    landmarks: Landmarks,
    image_size: tuple[int, int],
    size: int = config.CROP_SIZE,
    margin: int = config.CROP_MARGIN,
    level: bool = True,
    angle: float | None = None,
) -> Affine:
    """The ``warp_crop`` map of the roll-corrected box crop: the box plus margin (as ``crop_box``, but
    not clamped to the photo nor rounded), turned upright by quarter turns (``upright_turns``) and then
    (``level``) rotated about its centre by the remaining tilt of the eye line, so the eyes are level.
    ``angle`` (radians, in the upright frame) overrides the eye line's tilt."""
    turns = upright_turns(landmarks)
    frame = Frame(image_size, turns)
    x1, y1, x2, y2 = frame.box_to_frame(box)
    if angle is None:
        angle = roll_angle(frame.landmarks_to_frame(landmarks)) if level else 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    bw = (x2 - x1) * size / (size - margin)
    bh = (y2 - y1) * size / (size - margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2

    def to_src(u: float, v: float) -> tuple[float, float]:
        du, dv = (u / size - 0.5) * bw, (v / size - 0.5) * bh
        return frame.from_frame(cx + cos * du - sin * dv, cy + sin * du + cos * dv)

    return _affine_through(to_src)


def similarity_transform(src: Landmarks, dst: Landmarks) -> Affine:
    """Least-squares similarity (rotation, uniform scale, translation) taking the points ``src`` to ``dst``,
    as ``(a, b, c, d, e, f)`` with ``dst ~ (a*x + b*y + c, d*x + e*y + f)`` and ``b == -d``, ``e == a``."""
    s = np.asarray(src, dtype=np.float64)
    t = np.asarray(dst, dtype=np.float64)
    if s.shape != t.shape or s.ndim != 2 or s.shape[1] != 2 or len(s) < 2:
        raise ValueError("need two matching sequences of at least two (x, y) points")
    n = len(s)
    m = np.zeros((2 * n, 4))
    m[0::2] = np.column_stack([s[:, 0], -s[:, 1], np.ones(n), np.zeros(n)])
    m[1::2] = np.column_stack([s[:, 1], s[:, 0], np.zeros(n), np.ones(n)])
    (p, q, tx, ty), *_ = np.linalg.lstsq(m, t.reshape(-1), rcond=None)
    return (float(p), float(-q), float(tx), float(q), float(p), float(ty))


def apply_affine(m: Affine, points: Landmarks) -> Landmarks:
    a, b, c, d, e, f = m
    return tuple((a * x + b * y + c, d * x + e * y + f) for x, y in points)


def invert_affine(m: Affine) -> Affine:
    a, b, c, d, e, f = m
    det = a * e - b * d
    if det == 0:
        raise ValueError("singular affine map")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return (ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f))


def crop_transform(
    box: Box, landmarks: Landmarks, image_size: tuple[int, int], align: CropAlign, size: int = config.CROP_SIZE
) -> Affine:
    """The ``warp_crop`` map of a face's crop for ``align`` ("box": the unrotated box crop with margin,
    turned upright by quarter turns; "roll": that crop with the eyes levelled; "similarity": the five
    landmarks fitted to ``FACE_TEMPLATE``). Faces without five landmarks get the "box" map."""
    if align == "similarity" and len(landmarks) >= 5:
        template = tuple((x * size / config.CROP_SIZE, y * size / config.CROP_SIZE) for x, y in FACE_TEMPLATE)
        return similarity_transform(template, landmarks[:5])
    if align in ("box", "roll", "similarity"):
        return roll_transform(box, landmarks, image_size, size, level=align == "roll")
    raise ValueError(f"unknown alignment {align!r}")


def laplacian_variance(crop: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (OpenCV's ``Laplacian(ksize=1)``) of the grey image,
    over the interior pixels. ``crop``: HxWx3 RGB or HxW grey; grey uses ITU-R 601 weights."""
    a = np.asarray(crop, dtype=np.float64)
    grey = a @ np.array([0.299, 0.587, 0.114]) if a.ndim == 3 else a
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4.0 * grey[1:-1, 1:-1]
    return float(lap.var())


def yaw_from_landmarks(landmarks: Landmarks) -> float:
    """Head turn from MTCNN's five landmarks, in [-1, 1].

    The nose is projected on the line through the eyes (so in-plane tilt does not count); its offset
    from the eyes' midpoint is divided by half the inter-ocular distance: 0 when the nose sits midway
    between the eyes (frontal), +-1 when it is level with (or beyond) one eye (profile). Positive
    when the nose is nearer the eye on the image's right, i.e. the face is turned towards the
    image's right.
    """
    if len(landmarks) < 3:
        return 0.0
    (lx, ly), (rx, ry), (nx, ny) = landmarks[0], landmarks[1], landmarks[2]
    ex, ey = rx - lx, ry - ly
    d2 = ex * ex + ey * ey
    if not d2 > 1e-12:
        return 0.0
    t = ((nx - (lx + rx) / 2) * ex + (ny - (ly + ry) / 2) * ey) / d2  # -0.5 .. 0.5 between the eyes
    return float(np.clip(2.0 * t, -1.0, 1.0))


def quality_flags(probability: float, size_px: float, blur: float, yaw: float) -> tuple[str, ...]:
    flags: list[str] = []
    if probability < config.FLAG_PROBABILITY:
        flags.append(config.FLAG_LOW_PROBABILITY)
    if size_px < config.FLAG_SIZE_PX:
        flags.append(config.FLAG_SMALL)
    if blur < config.FLAG_BLUR:
        flags.append(config.FLAG_BLURRY)
    if abs(yaw) > config.FLAG_YAW:
        flags.append(config.FLAG_PROFILE)
    return tuple(flags)


def thumbnail_jpeg(full: Image.Image, box: Box, size: int = config.THUMB_SIZE, turns: int = 0) -> bytes:
    """A ``size`` x ``size`` JPEG of the face with some context around it, upright (``turns`` as in
    ``extract_crop``).

    The square is ``THUMB_CONTEXT`` times the box's longer side, centred on the face and shifted to
    stay inside the photo where it fits; what still falls outside is filled with black.
    """
    frame = Frame(full.size, turns)
    box = frame.box_to_frame(box)
    w, h = frame.size
    bw, bh = box[2] - box[0], box[3] - box[1]
    side = max(1, round(max(bw, bh) * THUMB_CONTEXT))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2

    def start(c: float, extent: int) -> int:
        s = round(c - side / 2)
        if side <= extent:
            return min(max(s, 0), extent - side)
        return (extent - side) // 2

    x0, y0 = start(cx, w), start(cy, h)
    region = frame.crop(full, (x0, y0, x0 + side, y0 + side))
    thumb = region.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buf = io.BytesIO()
    thumb.save(buf, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    return buf.getvalue()


def face_crop(full: Image.Image, face: DetectedFace, align: CropAlign = CROP_ALIGN) -> np.ndarray:
    """The 160x160 crop of ``face`` for ``align``: "box" is ``extract_crop`` (facenet-pytorch's crop, turned
    upright by quarter turns); "roll" and "similarity" are ``warp_crop`` of ``crop_transform``."""
    if align == "box":
        return extract_crop(full, face.box, upright_turns(face.landmarks))
    return warp_crop(full, crop_transform(face.box, face.landmarks, full.size, align))


def analyse_face(full: Image.Image, face: DetectedFace, align: CropAlign = CROP_ALIGN) -> FaceCrop:
    """Crop (``face_crop``), measure and thumbnail one face. ``full``: the full-resolution RGB photo."""
    turns = upright_turns(face.landmarks)
    crop = face_crop(full, face, align)
    size_px = float(min(face.box[2] - face.box[0], face.box[3] - face.box[1]))
    blur = laplacian_variance(crop)
    yaw = yaw_from_landmarks(Frame(full.size, turns).landmarks_to_frame(face.landmarks))
    quality = FaceQuality(
        size_px=size_px, blur=blur, yaw=yaw, flags=quality_flags(face.probability, size_px, blur, yaw)
    )
    thumbnail = thumbnail_jpeg(full, face.box, turns=turns)
    return FaceCrop(detection=face, quality=quality, crop=crop, thumbnail=thumbnail)


def analyse_faces(full: Image.Image, faces: list[DetectedFace], align: CropAlign = CROP_ALIGN) -> list[FaceCrop]:
    """``analyse_face`` for each face, in the given order. ``full`` may be any mode (made RGB here)."""
    if not faces:
        return []
    rgb = to_rgb(full)
    return [analyse_face(rgb, f, align) for f in faces]
