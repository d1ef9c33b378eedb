"""MTCNN face detector (facenet-pytorch), loaded lazily and used behind a small typed interface.

Coordinates: ``Detector.detect(image, scale)`` returns boxes and landmarks in the coordinates of the
*full-resolution* photo. ``image`` is either the full-resolution photo itself (``scale=1.0``) or a
reduced copy of it (e.g. decoded with ``Image.draft``), with ``scale = full width / image width``.
MTCNN itself runs on a further reduced copy whose long side is at most ``DETECT_LONG_SIDE``; that
reduction is undone here, so callers never see detector coordinates.

Boxes are MTCNN's own (x1, y1, x2, y2) and may reach a few pixels past the photo's edges; crops
(``analyse_faces``) clamp them the way facenet-pytorch does, and anything drawing them should clamp too.

Sideways photos: MTCNN only finds roughly upright faces. When a photo gives no face at all, the
detector (``try_rotations=True``) looks again in the photo turned by 90 degrees both ways, on a copy of
at most ``ROTATED_LONG_SIDE`` px, and keeps what it finds there with probability >= ``ROTATED_MIN_PROBABILITY``
(the stricter bar keeps the extra passes from adding false faces to photos without people). The faces
are returned in the photo's own coordinates; their landmarks tell ``analyse_faces`` which way is up.
Cost: two more, smaller passes, only on photos where the first found nothing (see ``_run_sideways``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image

from photoclust import config
from photoclust._torch import LazyModel, import_facenet_pytorch, import_torch
from photoclust.detect.quality import Frame, to_rgb
from photoclust.errors import DeviceError, ModelError
from photoclust.types import DetectedFace, iou

# facenet-pytorch's defaults. With them (and the 0.90 drop gate) the upright pass finds a face in 99.4% of
# 1,269 CelebA "in the wild" photos, 99.7% with the sideways passes; lower stage thresholds only add
# candidates that end below the drop gate (measured on the misses), so they are kept.
STAGE_THRESHOLDS = (0.6, 0.7, 0.7)
PYRAMID_FACTOR = 0.709
ROTATED_LONG_SIDE = 640
ROTATED_MIN_PROBABILITY = config.FLAG_PROBABILITY


def _reduce(image: Image.Image, long_side: int) -> tuple[Image.Image, float, float]:
    """Shrink ``image`` so its long side is at most ``long_side``; return it with the x/y factors
    that map its coordinates back to ``image``'s."""
    w, h = image.size
    if max(w, h) <= long_side:
        return image, 1.0, 1.0
    f = long_side / max(w, h)
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    small = image.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return small, w / nw, h / nh


class Detector(LazyModel):
    """MTCNN behind a lazy, thread-safe ``load()`` and a ``detect()`` that returns ``DetectedFace`` s.

    No torch is imported until ``load()`` (or the first ``detect()``). The weights are the P/R/O-Net
    state dicts shipped inside the facenet-pytorch wheel; nothing is downloaded.
    """

    def __init__(self, device: str = "cpu", min_face_size: int = 20, try_rotations: bool = True) -> None:
        """``device``: "cpu", "cuda" (or "cuda:N") or "auto" (CUDA when available). ``min_face_size``:
        the smallest face MTCNN looks for, in pixels of the copy it runs on (long side <= DETECT_LONG_SIDE).
        ``try_rotations``: look for sideways faces in photos where none was found upright."""
        if min_face_size < 12:
            raise ValueError("min_face_size must be at least 12 (MTCNN's P-Net window)")
        self.device = device
        self.min_face_size = int(min_face_size)
        self.try_rotations = try_rotations
        super().__init__()

    def _build(self) -> Any:
        """Build MTCNN (:meth:`load` calls it once)."""
        facenet = import_facenet_pytorch()
        torch = import_torch()
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device.startswith("cuda") and not torch.cuda.is_available():
            raise DeviceError("CUDA was asked for but is not available here; use --device cpu")
        try:
            mtcnn = facenet.MTCNN(
                min_face_size=self.min_face_size,
                thresholds=list(STAGE_THRESHOLDS),
                factor=PYRAMID_FACTOR,
                post_process=False,
                keep_all=True,
                device=torch.device(device),
            )
        except (OSError, RuntimeError) as exc:
            raise ModelError(
                f"could not load the MTCNN face detector weights from facenet-pytorch: {exc}; reinstall facenet-pytorch"
            ) from exc
        mtcnn.eval()
        return mtcnn

    def detect(self, image: Image.Image, scale: float = 1.0) -> list[DetectedFace]:
        """Find the faces in ``image``.

        ``image``: the photo, EXIF orientation already applied, any mode (converted to RGB here).
        ``scale``: how many full-resolution pixels one pixel of ``image`` stands for (1.0 when
        ``image`` is the full-resolution photo; 2.0 for a copy decoded at half size). The returned
        boxes and landmarks are multiplied by it, so they are in full-resolution coordinates.

        Returns the faces with probability >= ``DROP_PROBABILITY``, largest box first; ``[]`` when none.
        """
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        if min(image.size) < self.min_face_size:
            # No face of the minimum size fits, and MTCNN's pyramid would be empty (it then fails).
            return []
        self.load()
        small, fx, fy = _reduce(to_rgb(image), config.DETECT_LONG_SIDE)
        faces = self._run(small, config.DROP_PROBABILITY)
        if not faces and self.try_rotations:
            faces = self._run_sideways(small)
        faces = [_map(f, lambda x, y: (x * fx * scale, y * fy * scale)) for f in faces]
        faces.sort(key=_area, reverse=True)
        return faces

    def _run_sideways(self, rgb: Image.Image) -> list[DetectedFace]:
        """The faces in ``rgb`` turned a quarter turn each way, in ``rgb``'s coordinates.

        Both turns are tried: MTCNN sometimes also finds a face upside down (in the wrong turn), with
        a lower probability than in the right one, so where the two turns find the same face the more
        probable detection is kept.
        """
        found: list[DetectedFace] = []
        for turns in (1, 3):
            frame = Frame(rgb.size, turns)
            turned, rx, ry = _reduce(frame.turn(rgb), ROTATED_LONG_SIDE)
            for f in self._run(turned, ROTATED_MIN_PROBABILITY):
                found.append(_map(f, lambda u, v: frame.from_frame(u * rx, v * ry)))  # noqa: B023
        found.sort(key=lambda f: f.probability, reverse=True)
        kept: list[DetectedFace] = []
        for f in found:
            if all(iou(f.box, k.box) <= 0.3 for k in kept):
                kept.append(f)
        return kept

    def _run(self, rgb: Image.Image, min_probability: float) -> list[DetectedFace]:
        """MTCNN on ``rgb`` as it is; faces in its coordinates, unsorted."""
        if min(rgb.size) < self.min_face_size:
            return []
        torch = import_torch()
        with torch.inference_mode():
            try:
                boxes, probs, points = self._model.detect(rgb, landmarks=True)
            except RuntimeError as exc:
                # facenet-pytorch's second/third stage torch.cat()s an empty list when every
                # candidate box lies outside the image; that means "no face", not a failure.
                if "non-empty list of Tensors" in str(exc):
                    return []
                raise
        if boxes is None:
            return []
        faces: list[DetectedFace] = []
        for box, prob, pts in zip(boxes, probs, points, strict=True):
            p = float(prob)
            if p >= min_probability:
                x1, y1, x2, y2 = (float(v) for v in box)
                landmarks = tuple((float(px), float(py)) for px, py in pts)
                faces.append(DetectedFace(box=(x1, y1, x2, y2), landmarks=landmarks, probability=p))
        return faces


def _area(f: DetectedFace) -> float:
    return (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])


def _map(face: DetectedFace, point: Callable[[float, float], tuple[float, float]]) -> DetectedFace:
    """``face`` with every point sent through ``point`` (a scaling and/or quarter turns)."""
    a, b = point(face.box[0], face.box[1]), point(face.box[2], face.box[3])
    box = (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
    return DetectedFace(box=box, landmarks=tuple(point(x, y) for x, y in face.landmarks), probability=face.probability)
