"""Typed values passed between the stages. Frozen dataclasses; arrays are numpy.

Coordinates are pixels of the *oriented* photo (EXIF orientation applied), full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

# Length of a FaceNet embedding (float32, L2-normalised) as stored and compared everywhere.
EMBEDDING_DIM = 512

Box = tuple[float, float, float, float]  # x1, y1, x2, y2


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (any one unit: pixels, or fractions of the photo)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


Landmarks = tuple[tuple[float, float], ...]  # 5 points: left eye, right eye, nose, mouth left, mouth right


@dataclass(frozen=True)
class FileEntry:
    """A candidate photo file found by the crawler (nothing decoded yet)."""

    path: str  # absolute
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DetectedFace:
    """One face found by the detector."""

    box: Box
    landmarks: Landmarks
    probability: float


@dataclass(frozen=True)
class FaceQuality:
    """Quality measures of one detected face; ``flags`` names the gates it failed."""

    size_px: float  # shorter side of the box, full-resolution pixels
    blur: float  # variance of the Laplacian on the 160x160 grey crop (higher is sharper)
    yaw: float  # landmark-based pose, -1 (profile left) .. 0 (frontal) .. 1 (profile right)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class VideoSpan:
    """When a face of a video is on screen (its track), in seconds from the start, and its best frame."""

    start: float
    end: float
    best: float


@dataclass(frozen=True)
class FaceCrop:
    """A detected face ready to embed: its 160x160 RGB crop and a small JPEG thumbnail."""

    detection: DetectedFace
    quality: FaceQuality
    crop: np.ndarray = field(repr=False)  # uint8, (160, 160, 3), RGB
    thumbnail: bytes = field(repr=False)  # JPEG
    span: VideoSpan | None = None  # a face of a video: its track (the box is in the best frame)


@dataclass(frozen=True)
class PhotoInfo:
    """What decoding a photo tells us, faces aside."""

    sha256: str
    width: int
    height: int
    taken_at: str | None  # ISO 8601 from EXIF DateTimeOriginal, when present
    format: str
    duration: float | None = None  # a video: its length in seconds (``format`` is its codec)


@dataclass(frozen=True)
class AnalysedPhoto:
    """A photo after decoding and detection (before embedding)."""

    entry: FileEntry
    info: PhotoInfo
    faces: tuple[FaceCrop, ...]


@dataclass(frozen=True)
class FailedPhoto:
    """A file that could not be read as a photo, with a one-line reason."""

    entry: FileEntry
    reason: str
    sha256: str | None = None


@dataclass
class ScanReport:
    """Summary of one scan."""

    seen: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    unchanged: int = 0
    deleted: int = 0
    unreadable: int = 0
    faces: int = 0
    interrupted: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None
    faces: int
    photos: int
    cover_face_id: int | None
    hidden: bool = False

    @property
    def label(self) -> str:
        return self.name if self.name else f"Unnamed · {self.faces} faces"


@dataclass(frozen=True)
class Face:
    id: int
    photo_id: int
    path: str
    box: Box
    probability: float
    person_id: int | None
    confirmed: bool
    flags: tuple[str, ...] = ()
    taken_at: str | None = None
    video_time: float | None = None  # a face of a video: seconds from the start to its best frame

    @property
    def where(self) -> str:
        """Where to look: the path, and for a video the time of the face ("clip.mp4 @ 0:42")."""
        return self.path if self.video_time is None else f"{self.path} @ {clock(self.video_time)}"


class SearchHit(NamedTuple):
    """A photo (or video) found by the people in it; ``time``: for a video, when the first of them shows."""

    photo_id: int
    path: str
    time: float | None = None

    @property
    def where(self) -> str:
        return self.path if self.time is None else f"{self.path} @ {clock(self.time)}"


def clock(seconds: float) -> str:
    """0:42, 12:05, 1:02:03."""
    s = max(0, int(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


@dataclass(frozen=True)
class HistoryEntry:
    """One operation of the people log (``photoclust history``)."""

    id: int
    at: float
    kind: str
    description: str
    undone: bool
