"""Settings and locations. Nothing is created at import time; call the functions."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs

APP = "photoclust"

# Quality gates (issue: Index). Faces below DROP_PROBABILITY are not stored at all.
DROP_PROBABILITY = 0.90
FLAG_PROBABILITY = 0.97
FLAG_SIZE_PX = 40.0
# Variance of the Laplacian on the 160x160 grey crop below which a face is flagged "blurry".
# Calibrated on the 1,329 faces MTCNN finds in 1,269 CelebA-in-the-wild photos: < 12 flags 3.6% of them,
# nearly all clearly blurred or not faces at all; at 25 (4.6%) many flagged faces were sharp.
FLAG_BLUR = 12.0
# |yaw| above which a face is flagged "profile" (yaw: nose offset from the eyes' midpoint along the eye line,
# in half inter-ocular distances). Same faces: 0.6-0.8 are ordinary three-quarter views (10% of faces are
# above 0.6); > 0.85 flags 3.5%, strong three-quarter to full profile.
FLAG_YAW = 0.85
# The flags a face can carry (detect/quality.py sets them). Faces with a WEAK flag do not *form* people
# (their embeddings are unreliable), but they may join a person they are clearly close to; "profile"
# faces cluster like the others.
FLAG_LOW_PROBABILITY = "low_probability"
FLAG_SMALL = "small"
FLAG_BLURRY = "blurry"
FLAG_PROFILE = "profile"
WEAK_FLAGS = frozenset({FLAG_LOW_PROBABILITY, FLAG_SMALL, FLAG_BLURRY})

MAX_PIXELS = 200_000_000  # refuse decompression bombs above 200 MP
DETECT_LONG_SIDE = 1024  # MTCNN runs on a copy no larger than this
CROP_SIZE = 160
CROP_MARGIN = 32
THUMB_SIZE = 128


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    """Where converted model weights live; ``PHOTOCLUST_CACHE_DIR`` overrides."""
    env = os.environ.get("PHOTOCLUST_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir(APP))


def config_dir() -> Path:
    """Where the user's settings live (never in the library database); ``PHOTOCLUST_CONFIG_DIR`` overrides."""
    env = os.environ.get("PHOTOCLUST_CONFIG_DIR")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP))


def default_db_path() -> Path:
    """The library database: ``PHOTOCLUST_DB`` or ``<user data dir>/photoclust.db``."""
    env = os.environ.get("PHOTOCLUST_DB")
    return Path(env) if env else data_dir() / "photoclust.db"


def default_workers(device: str = "cpu") -> int:
    """Worker processes for a scan: on the CPU one per core, up to 4; with a GPU (MTCNN batched on it, the
    parent embedding) the workers mostly decode JPEGs, so up to 12 keep one GPU fed."""
    cores = os.cpu_count() or 1
    return max(1, min(4 if device == "cpu" else 12, cores))


@dataclass(frozen=True)
class ScanSettings:
    device: str = "auto"
    workers: int = 0  # 0 = default_workers()
    batch_size: int = 32
    flip_average: bool = True


# Face verification (verify / identify / enrol): two faces are the same person when the cosine distance
# (1 - cosine similarity) of their embeddings is <= VERIFY_THRESHOLD. Calibrated, not guessed:
# `benchmarks/calibrate.py` on 1,436 photos of 83 people (celeba_wild, celeb5, deepface, face_recognition,
# facenet_pytorch; largest face per photo, flip-averaged embeddings): the threshold at which 1 in 1,000
# impostor pairs is accepted (FAR 1e-3); it accepts 80.7% of genuine pairs there (ROC AUC 0.988).
VERIFY_THRESHOLD = 0.486
# A face region read from XMP (digiKam, Lightroom...) names the detected face it overlaps with at least
# this intersection-over-union, in the photo's oriented coordinates.
XMP_MATCH_IOU = 0.3


@dataclass(frozen=True)
class UiSettings:
    """What the terminal UI remembers between runs (``<config dir>/tui.json``)."""

    tile_size: int | None = None  # zoom level of the picture grids; None: the largest that shows two rows
    preview: bool = False  # the large picture of the face under the cursor, beside the face grids


def ui_settings_path() -> Path:
    return config_dir() / "tui.json"


def load_ui_settings(path: Path | None = None) -> UiSettings:
    """The saved settings; the defaults when there are none or the file is damaged (it is only a preference)."""
    try:
        raw = json.loads((path or ui_settings_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UiSettings()
    if not isinstance(raw, dict):
        return UiSettings()
    defaults = UiSettings()
    tile = raw.get("tile_size")
    preview = raw.get("preview")
    return UiSettings(
        tile_size=tile if isinstance(tile, int) and not isinstance(tile, bool) else defaults.tile_size,
        preview=preview if isinstance(preview, bool) else defaults.preview,
    )


def save_ui_settings(settings: UiSettings, path: Path | None = None) -> None:
    """Write the settings (to a temporary name, then renamed: never half a file). Raises OSError."""
    target = path or ui_settings_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    data = {f.name: getattr(settings, f.name) for f in fields(settings)}
    fd, tmp = tempfile.mkstemp(prefix=".tui-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
