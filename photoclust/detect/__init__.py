"""Face detection (MTCNN from facenet-pytorch), quality gates, 160x160 crops and thumbnails.

``Detector`` imports torch only when first used; ``analyse_faces`` and the helpers in ``quality``
need only numpy and Pillow.

    detector = Detector(device="cpu")            # lazy; load() is locked and idempotent
    faces = detector.detect(image, scale=1.0)    # list[DetectedFace], full-resolution coordinates
    crops = analyse_faces(full_image, faces)     # list[FaceCrop]: 160x160 crop, quality, JPEG thumbnail

Measured on the 1,269 CelebA "in the wild" photos (60 people, 128-1600 px): a face is found in 99.4%
of them by the upright pass, 99.7% with the sideways passes. The four misses: three extreme poses
(looking straight down or up, lying on the side) and one frontal swimmer that MTCNN scores below the
0.90 drop gate at every setting tried.
"""

from __future__ import annotations

from photoclust.detect.detector import Detector
from photoclust.detect.quality import analyse_faces, to_rgb

__all__ = ["Detector", "analyse_faces", "to_rgb"]
