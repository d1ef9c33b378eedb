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
"""

from __future__ import annotations

import io

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
        flags.append("low_probability")
    if size_px < config.FLAG_SIZE_PX:
        flags.append("small")
    if blur < config.FLAG_BLUR:
        flags.append("blurry")
    if abs(yaw) > config.FLAG_YAW:
        flags.append("profile")
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


def analyse_face(full: Image.Image, face: DetectedFace) -> FaceCrop:
    """Crop, measure and thumbnail one face. ``full``: the full-resolution RGB photo."""
    turns = upright_turns(face.landmarks)
    crop = extract_crop(full, face.box, turns)
    size_px = float(min(face.box[2] - face.box[0], face.box[3] - face.box[1]))
    blur = laplacian_variance(crop)
    yaw = yaw_from_landmarks(Frame(full.size, turns).landmarks_to_frame(face.landmarks))
    quality = FaceQuality(
        size_px=size_px, blur=blur, yaw=yaw, flags=quality_flags(face.probability, size_px, blur, yaw)
    )
    thumbnail = thumbnail_jpeg(full, face.box, turns=turns)
    return FaceCrop(detection=face, quality=quality, crop=crop, thumbnail=thumbnail)


def analyse_faces(full: Image.Image, faces: list[DetectedFace]) -> list[FaceCrop]:
    """``analyse_face`` for each face, in the given order. ``full`` may be any mode (made RGB here)."""
    if not faces:
        return []
    rgb = to_rgb(full)
    return [analyse_face(rgb, f) for f in faces]
