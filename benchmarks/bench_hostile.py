"""Hostile files: scan ≥ 1,000 files made from the real photos by mutation, and count what happens.

    .venv/bin/python benchmarks/bench_hostile.py [--count 1000] [--workers 2] [--timeout 1800] [--keep DIR]

Mutations of data/photos: bit flips, truncation at random offsets, wrong extensions, lying headers,
0×0 and 1×65535 images, 16-bit, CMYK, palette + alpha, animated GIF and WebP, EXIF orientation out of
range, huge EXIF and ICC blocks, decompression bombs, symlink loops, unreadable files, non-UTF-8 names.
One ``photoclust scan`` over all of them (a subprocess, with a time limit), then: files indexed, files
reported bad (``photoclust errors``), files unaccounted for, crashes (non-zero exit, traceback), hangs
(time limit), peak RSS of the scan and of its largest worker.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

from PIL import Image
from stamp import stamp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_bytes(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def exif_with_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def make_files(out: Path, count: int, rng: random.Random) -> Counter[str]:
    sources = sorted((ROOT / "data" / "photos").rglob("*.jpg"))
    raws = [p.read_bytes() for p in sources]
    kinds: Counter[str] = Counter()

    def write(kind: str, name: str, data: bytes) -> None:
        d = out / kind
        d.mkdir(exist_ok=True)
        (d / name).write_bytes(data)
        kinds[kind] += 1

    i = 0
    while sum(kinds.values()) < count:
        i += 1
        raw = rng.choice(raws)
        im = Image.open(io.BytesIO(raw)).convert("RGB")
        im.thumbnail((400, 400))
        k = i % 16
        if k == 0:  # bit flips
            b = bytearray(raw)
            for _ in range(rng.randint(1, 64)):
                pos = rng.randrange(len(b))
                b[pos] ^= 1 << rng.randrange(8)
            write("bitflip", f"{i}.jpg", bytes(b))
        elif k == 1:  # truncation at a random offset
            write("truncated", f"{i}.jpg", raw[: rng.randrange(len(raw))])
        elif k == 2:  # wrong extensions
            buf = io.BytesIO()
            im.save(buf, rng.choice(["PNG", "WEBP", "BMP", "TIFF"]))
            write("wrong_ext", f"{i}.{rng.choice(['jpg', 'png', 'heic', 'gif'])}", buf.getvalue())
        elif k == 3:  # lying headers: one format's magic, another's (or random) body
            magic = rng.choice([b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBP", b"GIF89a", b"II*\0"])
            body = raw[rng.randrange(len(raw) // 2) :] if rng.random() < 0.5 else os.urandom(rng.randint(0, 5000))
            write("lying_header", f"{i}.jpg", magic + body)
        elif k == 4:  # 0x0 and 1x65535
            if rng.random() < 0.5:
                write("degenerate", f"{i}.png", png_header_only(0, 0))
            else:
                buf = io.BytesIO()
                Image.new("RGB", (1, 65535), (128, 100, 90)).save(buf, "PNG")
                write("degenerate", f"{i}.png", buf.getvalue())
        elif k == 5:  # 16-bit greyscale
            buf = io.BytesIO()
            im.convert("L").point(lambda v: v * 256).convert("I;16").save(buf, "PNG")
            write("16bit", f"{i}.png", buf.getvalue())
        elif k == 6:  # CMYK JPEG
            write("cmyk", f"{i}.jpg", jpeg_bytes(im.convert("CMYK")))
        elif k == 7:  # palette + alpha
            p = im.convert("P", palette=Image.Palette.ADAPTIVE)
            buf = io.BytesIO()
            p.save(buf, "PNG", transparency=rng.randrange(256))
            write("palette_alpha", f"{i}.png", buf.getvalue())
        elif k == 8:  # animated GIF / WebP
            frames = [im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), im.rotate(90)]
            buf = io.BytesIO()
            fmt = rng.choice(["GIF", "WEBP"])
            frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
            write("animated", f"{i}.{fmt.lower()}", buf.getvalue())
        elif k == 9:  # EXIF orientation out of range
            write(
                "exif_orientation",
                f"{i}.jpg",
                jpeg_bytes(im, exif=exif_with_orientation(rng.choice([0, 9, 255, 65535]))),
            )
        elif k == 10:  # huge EXIF block (almost 64 KB, the most a JPEG segment holds) and huge ICC profile
            exif = Image.Exif()
            exif[0x9286] = b"ASCII\0\0\0" + os.urandom(60000)  # UserComment
            exif[0x0112] = 1
            if rng.random() < 0.5:
                write("huge_metadata", f"{i}.jpg", jpeg_bytes(im, exif=exif.tobytes()))
            else:
                write(
                    "huge_metadata", f"{i}.jpg", jpeg_bytes(im, icc_profile=os.urandom(rng.choice([70_000, 2_000_000])))
                )
        elif k == 11:  # decompression bombs (dimensions in the header)
            w, h = rng.choice([(40_000, 40_000), (100_000, 3), (65_535, 65_535)])
            write("bomb", f"{i}.png", png_header_only(w, h))
        elif k == 12:  # non-UTF-8 names (a healthy photo)
            d = out / "non_utf8"
            d.mkdir(exist_ok=True)
            name = b"photo-\xff\xfe-" + str(i).encode() + b".jpg"
            with open(os.path.join(os.fsencode(d), name), "wb") as fh:
                fh.write(raw)
            kinds["non_utf8"] += 1
        elif k == 13:  # unreadable files (root reads them anyway)
            write("unreadable", f"{i}.jpg", raw)
            (out / "unreadable" / f"{i}.jpg").chmod(0)
        elif k == 14:  # symlink loops: a folder linking to its parent, files linking to each other
            d = out / "symlinks" / f"d{i}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "up").symlink_to("..")
            (d / "a.jpg").symlink_to("b.jpg")
            (d / "b.jpg").symlink_to("a.jpg")
            (d / "dangling.jpg").symlink_to("nowhere.jpg")
            kinds["symlinks"] += 3
        else:  # zero bytes and text
            write("junk", f"{i}.jpg", b"" if rng.random() < 0.5 else b"not a photo\n" * rng.randint(1, 100))
    return kinds


def tree_rss(pid: int) -> tuple[int, int]:
    """(RSS of pid, largest RSS of its descendants) in KB."""
    main, worker = 0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        if int(entry.name) == pid:
            main = rss
        elif int(fields.get("PPid", "0")) == pid:
            worker = max(worker, rss)
    return main, worker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="make the files here and keep them")
    args = ap.parse_args()
    print(stamp(), flush=True)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench_hostile.") as tmp:
        base = args.keep or Path(tmp)
        files = base / "files"
        files.mkdir(parents=True, exist_ok=True)
        kinds = make_files(files, args.count, rng)
        print(f"{sum(kinds.values())} hostile files: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        db = base / "hostile.db"
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        cmd = [sys.executable, "-m", "photoclust", "scan", str(files), "--db", str(db), "--workers", str(args.workers)]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        out_chunks: list[bytes] = []
        import threading

        reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read() if proc.stdout else b""))
        reader.start()
        peak_main = peak_worker = 0
        hung = False
        while proc.poll() is None:
            m, w = tree_rss(proc.pid)
            peak_main, peak_worker = max(peak_main, m), max(peak_worker, w)
            if time.monotonic() - t0 > args.timeout:
                hung = True
                os.killpg(proc.pid, 9)
                break
            time.sleep(0.2)
        proc.wait()
        reader.join()
        seconds = time.monotonic() - t0
        out = b"".join(out_chunks).decode(errors="replace")
        crashed = proc.returncode != 0 and not hung
        conn = sqlite3.connect(db)
        indexed = conn.execute("SELECT count(*) FROM files WHERE status = 'present'").fetchone()[0]
        bad = conn.execute("SELECT count(*) FROM errors").fetchone()[0]
        faces = conn.execute("SELECT count(*) FROM faces").fetchone()[0]
        reasons = Counter(r.split(":")[0][:60] for (r,) in conn.execute("SELECT reason FROM errors"))
        per_kind: dict[str, Counter[str]] = {}

        def kind_of(path: str) -> str:
            return Path(path).relative_to(files).parts[0]

        for (path,) in conn.execute("SELECT path FROM files WHERE status = 'present'"):
            per_kind.setdefault(kind_of(path), Counter())["indexed"] += 1
        for path, reason in conn.execute("SELECT path, reason FROM errors"):
            per_kind.setdefault(kind_of(path), Counter())[reason.split(":")[0][:40]] += 1
        conn.close()
        regular = sum(1 for p in files.rglob("*") if p.is_file() and not p.is_symlink())
        print(f"scan: exit {proc.returncode}, {seconds:.0f} s, {'HUNG' if hung else 'finished'}")
        print(f"indexed: {indexed} files ({faces} faces); reported bad: {bad}; regular files on disk: {regular}")
        print(f"crashes: {int(crashed)} (traceback in output: {'Traceback' in out}); hangs: {int(hung)}")
        print(f"peak RSS: scan process {peak_main / 1024:.0f} MB, largest worker {peak_worker / 1024:.0f} MB")
        print("reasons reported: " + "; ".join(f"{r} ×{n}" for r, n in reasons.most_common(12)))
        for kind in sorted(per_kind):
            print(f"  {kind}: " + ", ".join(f"{r} {n}" for r, n in per_kind[kind].most_common()))
        if crashed or "Traceback" in out:
            print(out[-3000:])
        sys.exit(1 if crashed or hung else 0)


if __name__ == "__main__":
    main()
