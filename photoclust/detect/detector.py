"""MTCNN face detector (facenet-pytorch), loaded lazily and used behind a small typed interface.

Coordinates: ``Detector.detect(image, scale)`` returns boxes and landmarks in the coordinates of the
*full-resolution* photo. ``image`` is either the full-resolution photo itself (``scale=1.0``) or a
reduced copy of it (e.g. decoded with ``Image.draft``), with ``scale = full width / image width``.
MTCNN itself runs on a further reduced copy whose long side is at most ``DETECT_LONG_SIDE``; that
reduction is undone here, so callers never see detector coordinates.

Boxes are MTCNN's own (x1, y1, x2, y2) and may reach a few pixels past the photo's edges; crops
(``analyse_faces``) clamp them the way facenet-pytorch does, and anything drawing them should clamp too.
"""

from __future__ import annotations

import threading
from typing import Any

from PIL import Image

from photoclust import config
from photoclust._torch import import_facenet_pytorch, import_torch
from photoclust.detect.quality import to_rgb
from photoclust.errors import ModelError
from photoclust.types import DetectedFace

# facenet-pytorch's defaults; measured on 1,269 CelebA "in the wild" photos (see the module docs in
# photoclust/detect/__init__.py) they find a face in >= 99% of photos, so they are kept.
STAGE_THRESHOLDS = (0.6, 0.7, 0.7)
PYRAMID_FACTOR = 0.709


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


class Detector:
    """MTCNN behind a lazy, thread-safe ``load()`` and a ``detect()`` that returns ``DetectedFace`` s.

    No torch is imported until ``load()`` (or the first ``detect()``). The weights are the P/R/O-Net
    state dicts shipped inside the facenet-pytorch wheel; nothing is downloaded.
    """

    def __init__(self, device: str = "cpu", min_face_size: int = 20) -> None:
        if min_face_size < 12:
            raise ValueError("min_face_size must be at least 12 (MTCNN's P-Net window)")
        self.device = device
        self.min_face_size = int(min_face_size)
        self._mtcnn: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._mtcnn is not None

    def load(self) -> None:
        """Build MTCNN once (idempotent, safe to call from several threads)."""
        if self._mtcnn is not None:
            return
        with self._lock:
            if self._mtcnn is not None:
                return
            facenet = import_facenet_pytorch()
            torch = import_torch()
            try:
                mtcnn = facenet.MTCNN(
                    min_face_size=self.min_face_size,
                    thresholds=list(STAGE_THRESHOLDS),
                    factor=PYRAMID_FACTOR,
                    post_process=False,
                    keep_all=True,
                    device=torch.device(self.device),
                )
            except (OSError, RuntimeError) as exc:
                raise ModelError(
                    f"could not load the MTCNN face detector weights from facenet-pytorch: {exc}; "
                    "reinstall facenet-pytorch"
                ) from exc
            mtcnn.eval()
            self._mtcnn = mtcnn

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
        w, h = image.size
        if min(w, h) < self.min_face_size:
            # No face of the minimum size fits, and MTCNN's pyramid would be empty (it then fails).
            return []
        self.load()
        small, fx, fy = _reduce(to_rgb(image), config.DETECT_LONG_SIDE)
        if min(small.size) < self.min_face_size:
            return []
        sx, sy = fx * scale, fy * scale
        torch = import_torch()
        with torch.inference_mode():
            try:
                boxes, probs, points = self._mtcnn.detect(small, landmarks=True)
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
            if not p >= config.DROP_PROBABILITY:
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            faces.append(
                DetectedFace(
                    box=(x1 * sx, y1 * sy, x2 * sx, y2 * sy),
                    landmarks=tuple((float(px) * sx, float(py) * sy) for px, py in pts),
                    probability=p,
                )
            )
        faces.sort(key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
        return faces
