"""Face detection (MTCNN from facenet-pytorch), quality gates, 160x160 crops and thumbnails.

``Detector`` imports torch only when first used; ``analyse_faces`` and the helpers in ``quality``
need only numpy and Pillow.
"""

from __future__ import annotations

from photoclust.detect.detector import Detector
from photoclust.detect.quality import analyse_faces, to_rgb

__all__ = ["Detector", "analyse_faces", "to_rgb"]
