"""Write ``photoclust/embed/calibration.jpg``: the face crops that calibrate FaceNet's int8 quantization.

    .venv/bin/python benchmarks/make_calibration.py [data/photos]

Every face photoclust finds in the bundled sample photos (``data/photos``: celeb5 and face_recognition
photos, see data/README.md), aligned to 160x160 exactly as a scan crops them, in a mosaic of 8 columns,
sorted by file name so that the output is the same on every run. ``photoclust.embed.quantize`` reads the
mosaic back and uses every crop and its mirror image to set the activation ranges of the int8 network
(label-free: no identity is used). Run it again only to change the calibration set; a changed mosaic
changes the int8 network, so quantize.QUANT_FORMAT should change with it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust import crawl  # noqa: E402
from photoclust.embed.quantize import CALIBRATION, COLUMNS  # noqa: E402
from photoclust.scan import PhotoAnalyser  # noqa: E402
from photoclust.types import FileEntry  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", type=Path, nargs="?", default=ROOT / "data" / "photos")
    args = ap.parse_args()
    print(stamp(), flush=True)
    analyser = PhotoAnalyser(None, embed=False, flip_average=False)
    crops = []
    for path in sorted(args.photos.rglob("*.jpg")):
        st = path.stat()
        entry = FileEntry(str(path), st.st_size, st.st_mtime_ns)
        photo = analyser.analyse(entry, crawl.read_file(entry))
        crops += [f.crop for f in photo.faces]
    rows = -(-len(crops) // COLUMNS)
    size = crops[0].shape[0]
    mosaic = np.zeros((rows * size, COLUMNS * size, 3), np.uint8)
    for k, crop in enumerate(crops):
        r, c = divmod(k, COLUMNS)
        mosaic[r * size : (r + 1) * size, c * size : (c + 1) * size] = crop
    Image.fromarray(mosaic).save(CALIBRATION, quality=95)
    print(f"{len(crops)} faces -> {CALIBRATION} ({CALIBRATION.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
