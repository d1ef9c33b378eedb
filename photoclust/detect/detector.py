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

import math
from collections.abc import Callable
from typing import Any

from PIL import Image

from photoclust import config
from photoclust._torch import LazyModel, import_facenet_pytorch, import_torch
from photoclust.detect.mtcnn import detect_faces
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
# Photos per MTCNN batch in detect_many, on a GPU (a batch of 1024 x 768 copies takes about 60 MB a photo
# there). On a CPU one photo at a time is faster: 183 ms a 1024 x 768 photo alone, 256 ms in batches of 4
# (the larger tensors fall out of the caches), and it keeps a worker's memory down.
BATCH_GPU = 32


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

    def __init__(
        self,
        device: str = "cpu",
        min_face_size: int = 20,
        try_rotations: bool = True,
        min_face_px: float = config.FLAG_SIZE_PX,
    ) -> None:
        """``device``: "cpu", "cuda" (or "cuda:N") or "auto" (CUDA when available). ``min_face_size``:
        the smallest face MTCNN looks for, in pixels of the copy it runs on (long side <= DETECT_LONG_SIDE).
        ``min_face_px``: the smallest face worth finding in the photo's own pixels (faces under
        ``FLAG_SIZE_PX`` are flagged low quality); the pyramid levels that can only find smaller faces
        are skipped (see :func:`pyramid_min_size`). ``try_rotations``: look for sideways faces in photos
        where none was found upright."""
        if min_face_size < 12:
            raise ValueError("min_face_size must be at least 12 (MTCNN's P-Net window)")
        self.device = device
        self.min_face_size = int(min_face_size)
        self.min_face_px = float(min_face_px)
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
        return self.detect_many([image], [scale])[0]

    def detect_many(self, images: list[Image.Image], scales: list[float]) -> list[list[DetectedFace]]:
        """:meth:`detect` for several photos at once. On a GPU, those whose reduced copies have the same size
        (photos from one camera) go through MTCNN together, in batches of up to ``BATCH_GPU`` (one pyramid,
        one R-Net and one O-Net pass each), which is what keeps a GPU busy; on a CPU one at a time. Same
        faces as one :meth:`detect` each."""
        if len(images) != len(scales):
            raise ValueError("detect_many needs one scale per image")
        for scale in scales:
            if not scale > 0:
                raise ValueError(f"scale must be positive, got {scale!r}")
        found: list[list[DetectedFace]] = [[] for _ in images]
        groups: dict[tuple[tuple[int, int], float], list[tuple[int, Image.Image, float, float]]] = {}
        for i, (image, scale) in enumerate(zip(images, scales, strict=True)):
            if min(image.size) < self.min_face_size:
                continue  # no face of the minimum size fits, and MTCNN's pyramid would be empty (it then fails)
            small, fx, fy = _reduce(to_rgb(image), config.DETECT_LONG_SIDE)
            minsize = pyramid_min_size(self.min_face_size, self.min_face_px / (fx * scale))
            if min(small.size) >= minsize:
                groups.setdefault((small.size, minsize), []).append((i, small, fx * scale, fy * scale))
        if not groups:
            return found
        self.load()
        batch = 1 if self.device == "cpu" else BATCH_GPU
        for (_, minsize), members in groups.items():
            for start in range(0, len(members), batch):
                part = members[start : start + batch]
                faces = self.run_batch([m[1] for m in part], config.DROP_PROBABILITY, minsize)
                for (i, small, kx, ky), fs in zip(part, faces, strict=True):
                    if not fs and self.try_rotations:
                        fs = self._run_sideways(small, kx)
                    fs = [_map(f, lambda x, y: (x * kx, y * ky)) for f in fs]  # noqa: B023
                    fs.sort(key=_area, reverse=True)
                    found[i] = fs
        return found

    def _run_sideways(self, rgb: Image.Image, scale: float) -> list[DetectedFace]:
        """The faces in ``rgb`` turned a quarter turn each way, in ``rgb``'s coordinates.

        Both turns are tried: MTCNN sometimes also finds a face upside down (in the wrong turn), with
        a lower probability than in the right one, so where the two turns find the same face the more
        probable detection is kept.
        """
        found: list[DetectedFace] = []
        for turns in (1, 3):
            frame = Frame(rgb.size, turns)
            turned, rx, ry = _reduce(frame.turn(rgb), ROTATED_LONG_SIDE)
            for f in self._run(turned, ROTATED_MIN_PROBABILITY, scale * rx):
                found.append(_map(f, lambda u, v: frame.from_frame(u * rx, v * ry)))  # noqa: B023
        found.sort(key=lambda f: f.probability, reverse=True)
        kept: list[DetectedFace] = []
        for f in found:
            if all(iou(f.box, k.box) <= 0.3 for k in kept):
                kept.append(f)
        return kept

    def _run(self, rgb: Image.Image, min_probability: float, scale: float) -> list[DetectedFace]:
        """MTCNN on ``rgb`` as it is (one pixel of it = ``scale`` photo pixels); faces in its
        coordinates, unsorted."""
        minsize = pyramid_min_size(self.min_face_size, self.min_face_px / scale)
        if min(rgb.size) < minsize:
            return []
        return self.run_batch([rgb], min_probability, minsize)[0]

    def run_batch(self, images: list[Image.Image], min_probability: float, minsize: float) -> list[list[DetectedFace]]:
        """MTCNN on equal-size RGB ``images`` in one batch (one pyramid, one R-Net and one O-Net pass
        for all of them); each image's faces in its coordinates, unsorted."""
        self.load()
        torch = import_torch()
        with torch.inference_mode():
            found = detect_faces(images, minsize, self._model)
        out: list[list[DetectedFace]] = []
        for boxes, points in found:
            faces: list[DetectedFace] = []
            for box, pts in zip(boxes, points, strict=True):
                p = float(box[4])
                if p >= min_probability:
                    x1, y1, x2, y2 = (float(v) for v in box[:4])
                    landmarks = tuple((float(px), float(py)) for px, py in pts)
                    faces.append(DetectedFace(box=(x1, y1, x2, y2), landmarks=landmarks, probability=p))
            out.append(faces)
        return out


def pyramid_min_size(min_face_size: int, wanted: float) -> float:
    """The ``minsize`` to give MTCNN so that it looks for faces of ``wanted`` px and up, but never
    below ``min_face_size``: ``min_face_size`` divided by a whole power of the pyramid factor. The
    pyramid's levels are then exactly those of ``min_face_size`` less the first (largest, costliest)
    ones, so faces of ``wanted`` px and more are found at the very same scales as before. On a
    500 px photo (``wanted`` 40) this skips 2 levels: detection 121 -> 68 ms (benchmarks/RESULTS.md)."""
    if wanted <= min_face_size:
        return float(min_face_size)
    skip = math.floor(math.log(wanted / min_face_size) / -math.log(PYRAMID_FACTOR) + 1e-9)
    return min_face_size / PYRAMID_FACTOR**skip


def _area(f: DetectedFace) -> float:
    return (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])


def _map(face: DetectedFace, point: Callable[[float, float], tuple[float, float]]) -> DetectedFace:
    """``face`` with every point sent through ``point`` (a scaling and/or quarter turns)."""
    a, b = point(face.box[0], face.box[1]), point(face.box[2], face.box[3])
    box = (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
    return DetectedFace(box=box, landmarks=tuple(point(x, y) for x, y in face.landmarks), probability=face.probability)
