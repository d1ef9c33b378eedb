"""Find photo files, read and hash them, decode them (no torch, no database).

* :func:`walk` yields candidate files under the given roots: symlinked folders are followed once (no
  loops), hidden folders and OS junk (``.thumbnails``, ``@eaDir``...) are skipped.
* :func:`read_file` reads a file's bytes and sha256 (the photo's identity).
* :func:`decode` turns bytes into an RGB, EXIF-oriented Pillow image, reduced during decoding (JPEG
  draft mode) when only a smaller copy is needed, and the photo's :class:`PhotoInfo`.

The format is detected from the content, not the extension: a WEBP named ``.jpg`` is read, a text
file named ``.jpg`` is an :class:`ImageError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from photoclust.config import MAX_PIXELS
from photoclust.crawl.video import VIDEO_EXTENSIONS, is_video
from photoclust.crawl.video import frame_at as video_frame_at
from photoclust.errors import ImageError
from photoclust.types import FileEntry, PhotoInfo

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".dib", ".gif", ".heic", ".heif",
     ".hif", ".avif"}
)  # fmt: skip
JUNK_NAMES = frozenset(
    {".thumbnails", "@eaDir", "#recycle", "#snapshot", "$RECYCLE.BIN", "System Volume Information", "__MACOSX",
     "lost+found", ".Trash", ".Trashes", ".Spotlight-V100", ".fseventsd", "Thumbs.db", ".DS_Store", "desktop.ini"}
)  # fmt: skip
# Camera RAW files, read with LibRaw (rawpy); most are TIFF inside, so they are told apart by their name.
RAW_EXTENSIONS = frozenset(
    {".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".rwl",
     ".pef", ".srw", ".3fr", ".erf", ".kdc", ".dcr", ".mrw", ".x3f", ".iiq"}
)  # fmt: skip
# Magic numbers for files with no extension (camera dumps, some phone exports).
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # optional: without it HEIC files are reported as unsupported
            pass
        _heif_registered = True


def _looks_like_image(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif", b"ftyphevc"):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head.startswith(_MAGIC)


def is_candidate(name: str, path: str | None = None) -> bool:
    """A file worth opening: a photo, RAW or video extension, or no extension and image or video magic."""
    if name in JUNK_NAMES or name.startswith("._"):
        return False
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS or ext in RAW_EXTENSIONS or ext in VIDEO_EXTENSIONS:
        return True
    return ext == "" and path is not None and (_looks_like_image(path) or is_video(path))


def walk(
    roots: Iterable[str | os.PathLike[str]],
    on_error: Callable[[str, str], None] | None = None,
) -> Iterator[FileEntry]:
    """Yield every candidate photo under ``roots`` (files may be roots too), each path once.

    ``on_error(path, reason)`` is called for folders that cannot be listed.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()

    def report(path: str, reason: str) -> None:
        if on_error is not None:
            on_error(path, reason)

    for root in roots:
        top = os.path.abspath(os.fspath(root))
        try:
            st = os.stat(top)
        except OSError as exc:
            report(top, os_reason(exc))
            continue
        if stat.S_ISREG(st.st_mode):
            if top not in seen_files:
                seen_files.add(top)
                yield FileEntry(top, st.st_size, st.st_mtime_ns)
            continue
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                fst = os.stat(folder)
            except OSError as exc:
                report(folder, os_reason(exc))
                continue
            key = (fst.st_dev, fst.st_ino)
            if key in seen_dirs:
                continue
            seen_dirs.add(key)
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                report(folder, os_reason(exc))
                continue
            subdirs = []
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name in JUNK_NAMES:
                    continue
                try:
                    if entry.is_dir(follow_symlinks=True):
                        subdirs.append(entry.path)
                        continue
                    if not entry.is_file(follow_symlinks=True):
                        continue
                    if not is_candidate(name, entry.path):
                        continue
                    est = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    report(entry.path, os_reason(exc))
                    continue
                if entry.path in seen_files:
                    continue
                seen_files.add(entry.path)
                yield FileEntry(entry.path, est.st_size, est.st_mtime_ns)
            stack.extend(reversed(subdirs))


def os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file or folder vanished during the scan"
    if isinstance(exc, IsADirectoryError):
        return "is a folder"
    return f"cannot read: {exc.strerror or exc}"


@dataclass(frozen=True)
class RawPhoto:
    data: bytes
    sha256: str
    name: str = ""  # the file's name: RAW formats are told apart by it


def is_raw(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in RAW_EXTENSIONS


def read_file(entry: FileEntry) -> RawPhoto:
    """Read a file's bytes and hash them. Raises :class:`ImageError` with a one-line reason."""
    if entry.size == 0:
        raise ImageError("empty file (0 bytes)")
    try:
        with open(entry.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ImageError(os_reason(exc)) from exc
    if not data:
        raise ImageError("empty file (0 bytes)")
    return RawPhoto(data, hashlib.sha256(data).hexdigest(), os.path.basename(entry.path))


@dataclass(frozen=True)
class Decoded:
    """A decoded, EXIF-oriented RGB image and how it relates to the full-resolution photo."""

    image: Image.Image
    scale: float  # full-resolution pixels per pixel of ``image`` (1.0 when decoded at full size)
    info: PhotoInfo


def _taken_at(img: Image.Image) -> str | None:
    try:
        exif = img.getexif()
        raw = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, else DateTime
    except Exception:  # noqa: BLE001 - broken EXIF must never cost the photo
        return None
    if not raw:
        return None
    text = raw.decode(errors="ignore") if isinstance(raw, bytes) else str(raw)
    text = text.strip().strip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text[:19], fmt).isoformat()
        except ValueError:
            continue
    return None


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation (1..8) of an opened image; 1 when absent, out of range or unreadable."""
    try:
        value = int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - any unreadable header means "no orientation"
        return 1
    return value if 1 <= value <= 8 else 1


def file_orientation(path: str | os.PathLike[str]) -> int:
    """The EXIF orientation (1..8) of a photo file, reading its header only; 1 when absent or unreadable."""
    try:
        with Image.open(path) as im:
            return exif_orientation(im)
    except Exception:  # noqa: BLE001 - an unreadable file has no orientation to apply
        return 1


def decode(raw: RawPhoto, max_long_side: int | None = None, max_pixels: int = MAX_PIXELS) -> Decoded:
    """Decode a photo to RGB with EXIF orientation applied.

    With ``max_long_side``, a JPEG is reduced *during* decoding (draft mode: by 1/2, 1/4 or 1/8, never
    below the requested size), which is several times faster than a full decode for big photos; other
    formats are decoded in full. The result's ``scale`` maps its pixels back to full resolution.
    Raises :class:`ImageError` with a one-line reason for anything that is not a readable photo.
    """
    if is_raw(raw.name):
        return decode_raw(raw, max_long_side)
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(raw.data))
        fmt = img.format or "unknown"
        w0, h0 = img.size
        if w0 <= 0 or h0 <= 0:
            raise ImageError("image has no pixels")
        if w0 * h0 > max_pixels:
            raise ImageError(f"image too large: {w0}x{h0} = {w0 * h0 / 1e6:.0f} MP (limit {max_pixels / 1e6:.0f} MP)")
        orientation = exif_orientation(img)
        taken_at = _taken_at(img)
        if max_long_side and fmt == "JPEG" and max(w0, h0) > max_long_side:
            k = max_long_side / max(w0, h0)
            img.draft("RGB", (max(1, int(w0 * k)), max(1, int(h0 * k))))
        img.load()
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        scale = w0 / img.size[0]
        out: Image.Image = ImageOps.exif_transpose(img) if orientation != 1 else img
        if out.mode != "RGB":
            out = _to_rgb(out)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError("not an image, or an unsupported format") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large (decompression bomb): {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"corrupt or truncated image: {text}") from exc
    except MemoryError as exc:
        raise ImageError("image too large to decode in memory") from exc
    full_w, full_h = (h0, w0) if orientation in (5, 6, 7, 8) else (w0, h0)
    info = PhotoInfo(sha256=raw.sha256, width=full_w, height=full_h, taken_at=taken_at, format=fmt)
    return Decoded(image=out, scale=scale, info=info)


def decode_raw(raw: RawPhoto, max_long_side: int | None = None) -> Decoded:
    """A camera RAW file, upright, through LibRaw (rawpy).

    Coordinates are those of the developed image (what LibRaw's development gives, turned upright), so
    boxes and XMP regions line up with what a RAW editor shows. The embedded JPEG preview is the fast
    path when it shows the whole frame (same aspect) at least as large as needed; otherwise the RAW is
    developed, at half size when that is still larger than needed.
    """
    import rawpy

    try:
        with rawpy.imread(io.BytesIO(raw.data)) as r:
            flip = int(r.sizes.flip)  # LibRaw: 3 = 180, 5 = 90 counter-clockwise, 6 = 90 clockwise
            full_w, full_h = int(r.sizes.width), int(r.sizes.height)
            if flip in (5, 6):
                full_w, full_h = full_h, full_w
            need = min(max(full_w, full_h), max_long_side or max(full_w, full_h))
            img = _raw_preview(r, flip, full_w, full_h, need)
            if img is None:
                half = bool(max_long_side) and max(full_w, full_h) >= 2 * need
                img = Image.fromarray(r.postprocess(use_camera_wb=True, half_size=half, output_bps=8))
    except rawpy.LibRawError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"corrupt or unsupported RAW file: {text}") from exc
    except MemoryError as exc:
        raise ImageError("RAW file too large to decode in memory") from exc
    info = PhotoInfo(sha256=raw.sha256, width=full_w, height=full_h, taken_at=None, format="RAW")
    return Decoded(image=img, scale=full_w / img.size[0], info=info)


def _raw_preview(r: Any, flip: int, full_w: int, full_h: int, need: int) -> Image.Image | None:
    """The RAW's embedded JPEG preview, upright, when it shows the whole frame at ``need`` px or more."""
    import rawpy

    try:
        thumb = r.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    try:
        img: Image.Image = Image.open(io.BytesIO(thumb.data))
        img.load()
    except (OSError, SyntaxError, ValueError):
        return None
    turn = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}.get(flip)
    if turn is not None:
        img = img.transpose(turn)  # previews are stored like the sensor: turn them as the RAW is turned
    w, h = img.size
    if max(w, h) < need or abs(w / h - full_w / full_h) > 0.02:
        return None
    return img.convert("RGB")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGB", img.size, (255, 255, 255))
        bg.paste(img, mask=img.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(img, dtype="float32")
        hi = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / hi)).clip(0, 255).astype("uint8")).convert("RGB")
    return img.convert("RGB")


def resized(img: Image.Image, long_side: int) -> tuple[Image.Image, float]:
    """A copy whose long side is at most ``long_side``; returns it and its pixel scale factor."""
    w, h = img.size
    if max(w, h) <= long_side:
        return img, 1.0
    k = long_side / max(w, h)
    small = img.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return small, w / small.size[0]


def display_image(path: str, max_side: int, at: float | None = None) -> tuple[Image.Image, float]:
    """A photo, RAW photo or video frame (at ``at`` seconds) as an upright RGB image of about ``max_side``
    pixels, and the factor from the coordinates faces are stored in (full-resolution, upright) to its
    pixels. Raises :class:`ImageError`."""
    w0: float
    if is_video(path):
        img = video_frame_at(path, at or 0.0)
        w0 = img.width
    elif is_raw(os.path.basename(path)):
        entry = FileEntry(path, 1, 0)
        decoded = decode(read_file(entry), max_long_side=max_side)
        img, w0 = decoded.image, decoded.info.width
    else:
        _register_heif()
        try:
            with Image.open(path) as raw:
                stored_w = raw.width
                raw.draft("RGB", (max_side, max_side))
                k = raw.width / stored_w
                img = ImageOps.exif_transpose(raw).convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageError(f"cannot read {path}: {exc}") from exc
        w0 = img.width / k
    img.thumbnail((max_side, max_side))
    return img, img.width / w0
