"""Videos: seconds to index a 1-minute 1080p phone-style clip, and whether video faces join the right people.

    .venv/bin/python benchmarks/bench_video.py PHOTOS [--people 12] [--seconds 60]

PHOTOS is the folder of labelled sets (``../shared/photos``); celeba_wild is used.

1. **Speed**: a 1920x1080, 30 fps H.264 clip of ``--seconds`` seconds (three celeba_wild faces drifting
   and zooming across a plain scene, a new cast every 10 s) is encoded once, then indexed by
   ``photoclust scan`` (fresh library, default workers): seconds and sampled frames. Target <= 10 s.
2. **Identity**: for ``--people`` celeba_wild people with at least 8 photos, two of their photos become
   a 6-second 640x480 clip each (the face panning); the library holds their other photos and the clips.
   After ``photoclust cluster``, a clip's face is *right* when it is in the person that holds most of that
   identity's photo faces, *wrong* when it is in another person, *unknown* when it joined nobody.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labelled import read_labels  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.config import ScanSettings  # noqa: E402
from photoclust.library import Library  # noqa: E402


def encode(path: Path, frames: list[Image.Image], fps: int) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def face_square(path: Path, side: int) -> Image.Image:
    with Image.open(path) as raw:
        img = ImageOps.exif_transpose(raw).convert("RGB")
    s = min(img.size)
    left, top = (img.width - s) // 2, (img.height - s) // 2
    return img.crop((left, top, left + s, top + s)).resize((side, side))


def speed_clip(photos: list[Path], seconds: int, out: Path) -> None:
    fps, size = 30, (1920, 1080)
    frames = []
    rng = random.Random(1)
    for scene in range(0, seconds, 10):
        cast = [face_square(p, 360) for p in rng.sample(photos, 3)]
        for i in range(10 * fps):
            canvas = Image.new("RGB", size, (70, 90, 110))
            for k, f in enumerate(cast):
                grow = int(360 * (1 + 0.3 * i / (10 * fps)))
                canvas.paste(f.resize((grow, grow)), (120 + 600 * k + i // 3, 200 + (scene // 10 % 2) * 60))
            frames.append(canvas)
        if len(frames) >= seconds * fps:
            break
    encode(out, frames[: seconds * fps], fps)


def identity_clip(photo: Path, out: Path) -> None:
    face = face_square(photo, 300)
    frames = []
    for i in range(6 * 10):
        canvas = Image.new("RGB", (640, 480), (70, 90, 110))
        canvas.paste(face, (20 + 5 * i, 90))
        frames.append(canvas)
    encode(out, frames, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--people", type=int, default=12)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    print(stamp(), flush=True)
    root = args.photos / "celeba_wild"
    labels = read_labels(root)
    by_id: dict[str, list[Path]] = {}
    for rel, who in sorted(labels.items()):
        by_id.setdefault(who, []).append(root / rel)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = work / "speed" / "clip.mp4"
        clip.parent.mkdir()
        t0 = time.monotonic()
        speed_clip([p for ps in by_id.values() for p in ps], args.seconds, clip)
        print(f"encoded a {args.seconds} s 1920x1080 30 fps H.264 clip in {time.monotonic() - t0:.1f} s", flush=True)
        with Library(work / "speed.db") as lib:
            t0 = time.monotonic()
            report = lib.scan([clip.parent], settings=ScanSettings())
            took = time.monotonic() - t0
        print(f"index the clip: {took:.1f} s ({report.faces} faces = tracks; target <= 10 s)", flush=True)

        chosen = [who for who, ps in sorted(by_id.items()) if len(ps) >= 8][: args.people]
        lib_dir = work / "library"
        lib_dir.mkdir()
        clips: dict[Path, str] = {}
        for who in chosen:
            for k, p in enumerate(by_id[who]):
                if k < 2:
                    target = lib_dir / f"{who}_{k}.mp4"
                    identity_clip(p, target)
                    clips[target] = who
                else:
                    (lib_dir / f"{who}_{p.name}").write_bytes(p.read_bytes())
        with Library(work / "identity.db") as lib:
            lib.scan([lib_dir], settings=ScanSettings())
            lib.cluster()
            right = wrong = unknown = missed = 0
            for path, who in clips.items():
                faces = [f for f in lib.faces_in_file(path) if f.video_time is not None]
                if not faces:
                    missed += 1
                    continue
                face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
                owners = Counter(
                    f.person_id
                    for q in lib_dir.glob(f"{who}_*.jpg")
                    for f in lib.faces_in_file(q)
                    if f.person_id is not None
                )
                majority = owners.most_common(1)[0][0] if owners else None
                if face.person_id is None:
                    unknown += 1
                elif face.person_id == majority:
                    right += 1
                else:
                    wrong += 1
        n = len(clips)
        print(
            f"identity ({len(chosen)} celeba_wild people, {n} clips): right {right}/{n}, wrong {wrong}, "
            f"unknown {unknown}, no face found {missed}",
            flush=True,
        )


if __name__ == "__main__":
    main()
