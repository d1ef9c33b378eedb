"""Videos: recognise them by content, hash them without loading them, and sample upright frames (PyAV).

Which frames: about :data:`SAMPLE_FPS` per second (a face on screen for half a second is seen at least
once), at most :data:`MAX_FRAMES` per video, spread evenly over the whole clip when it is longer (a
one-minute clip is sampled once a second, a 2-hour film once every two minutes: it cannot stall a scan),
and never more than
:data:`TIME_BUDGET_S` seconds of decoding. Short clips (every phone clip up to a minute) are decoded
once from start to end, keeping the frame nearest each sample time: no seeking, which is fastest when
most of the stream is wanted anyway. Longer ones seek to the keyframe before each sample time and decode
forward to it. Each frame is turned upright with the stream's rotation (the display matrix phones write).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image

from photoclust.errors import ImageError

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".3g2", ".mkv", ".avi", ".webm"})
SAMPLE_FPS = 2.0
MAX_FRAMES = 60
TIME_BUDGET_S = 60.0
SEQUENTIAL_MAX_S = 90.0  # clips up to this long are decoded straight through; longer ones seek
# ISO BMFF brands of still images (HEIC/AVIF): an ``ftyp`` box with any other brand is a video.
_IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"hevc", b"hevx")


def looks_like_video(head: bytes) -> bool:
    """Video magic in the first 16 bytes: MP4/MOV/3GP (``ftyp``), Matroska/WebM (EBML), AVI (RIFF)."""
    if head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # old QuickTime files start with an atom
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return True
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


def is_video(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return looks_like_video(fh.read(16))
    except OSError:
        return False


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    """The file's sha256, read in chunks (a video is never held in memory whole)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class VideoInfo:
    width: int  # of the upright frames
    height: int
    duration: float  # seconds
    created: str | None  # ISO 8601 from the container's creation_time, when present
    codec: str


@dataclass(frozen=True)
class Frame:
    time: float  # seconds from the start
    image: Image.Image  # RGB, upright


def _open(path: str) -> tuple[Any, Any]:
    import av

    try:
        container = av.open(path)
    except av.error.InvalidDataError as exc:
        raise ImageError("corrupt or unsupported video: FFmpeg cannot read it") from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ImageError(f"cannot open video: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    if not container.streams.video:
        container.close()
        raise ImageError("no video stream (audio only?)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return 0.0


def _created(container: Any) -> str | None:
    raw = (container.metadata or {}).get("creation_time")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).replace(tzinfo=None).isoformat()
    except ValueError:
        return None


def sample_times(duration: float, fps: float = SAMPLE_FPS, most: int = MAX_FRAMES) -> list[float]:
    """The times to sample: every 1/fps s from 1/(2 fps), thinned evenly to ``most``; one frame at least."""
    if duration <= 0:
        return [0.0]
    n = max(1, int(duration * fps))
    if n > most:
        return [duration * (i + 0.5) / most for i in range(most)]
    return [(i + 0.5) / fps for i in range(n)]


def _upright(frame: Any) -> Image.Image:
    img: Image.Image = frame.to_image()
    turn = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    # FFmpeg's rotation is counter-clockwise, in degrees, the way to turn the picture to show it upright
    if turn == 90:
        img = img.transpose(Image.Transpose.ROTATE_90)
    elif turn == 180:
        img = img.transpose(Image.Transpose.ROTATE_180)
    elif turn == 270:
        img = img.transpose(Image.Transpose.ROTATE_270)
    return img


def probe(path: str) -> VideoInfo:
    """What the container says: upright size, duration, creation time. Raises ImageError."""
    container, stream = _open(path)
    try:
        w, h = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        duration = _duration(container, stream)
        created = _created(container)
        codec = str(stream.codec_context.name)
    finally:
        container.close()
    if w <= 0 or h <= 0:
        raise ImageError("video stream has no frames of a known size")
    return VideoInfo(w, h, duration, created, codec)


def _frames(path: str, budget_s: float = TIME_BUDGET_S) -> Generator[Frame, None, None]:
    """Upright RGB frames at the sample times (see the module's docstring). Raises ImageError when the
    video cannot be read at all; a stream that breaks off midway yields what came before the break."""
    import av

    container, stream = _open(path)
    started = time.monotonic()
    yielded = 0
    try:
        duration = _duration(container, stream)
        wanted = sample_times(duration)
        base = float(stream.time_base) if stream.time_base is not None else 0.0
        if duration <= SEQUENTIAL_MAX_S:
            k = 0
            for frame in container.decode(stream):
                t = float(frame.pts * base) if frame.pts is not None and base else float(frame.time or 0.0)
                if t + 1e-6 < wanted[k]:
                    continue
                yielded += 1
                yield Frame(t, _upright(frame))
                while k < len(wanted) and wanted[k] <= t + 1e-6:
                    k += 1
                if k >= len(wanted) or time.monotonic() - started > budget_s:
                    break
        else:
            for target in wanted:
                if time.monotonic() - started > budget_s:
                    break
                container.seek(int(target / base) if base else int(target * 1_000_000), stream=stream)
                for frame in container.decode(stream):
                    t = float(frame.pts * base) if frame.pts is not None and base else target
                    if t + 1e-6 >= target or frame.pts is None:
                        yielded += 1
                        yield Frame(t, _upright(frame))
                        break
    except av.error.FFmpegError as exc:
        if not yielded:
            raise ImageError(f"corrupt or truncated video: {str(exc).splitlines()[0]}") from exc
        # a stream that breaks off midway: the frames decoded before the break stand
    finally:
        container.close()
    if not yielded:
        raise ImageError("corrupt or truncated video: no frame could be decoded")


def frames(path: str, budget_s: float = TIME_BUDGET_S, ahead: int = 4) -> Iterator[Frame]:
    """:func:`_frames` decoded in a thread of its own, ``ahead`` frames ahead of the consumer: FFmpeg
    decodes the next frames while the detector looks at this one (both release the GIL), which uses a
    second core for a video scanned alone. Errors are raised in the consumer, as without the thread."""
    import queue
    import threading

    out: queue.Queue[Frame | BaseException | None] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Frame | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        source = _frames(path, budget_s)
        try:
            for frame in source:
                if not put(frame):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer, raised there
            put(exc)
            return
        finally:
            source.close()
        put(None)

    worker = threading.Thread(target=decode, name="photoclust-video-decode", daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def frame_at(path: str, at: float) -> Image.Image:
    """The upright frame at ``at`` seconds (the first one at or after it; the last one near the end)."""
    import av

    container, stream = _open(path)
    try:
        base = float(stream.time_base) if stream.time_base is not None else 0.0
        if at > 0 and base:
            container.seek(int(at / base), stream=stream)
        last = None
        for frame in container.decode(stream):
            last = frame
            if frame.pts is None or not base or float(frame.pts * base) + 1e-6 >= at:
                break
        if last is None:
            raise ImageError("corrupt or truncated video: no frame could be decoded")
        return _upright(last)
    except av.error.FFmpegError as exc:
        raise ImageError(f"corrupt or truncated video: {str(exc).splitlines()[0]}") from exc
    finally:
        container.close()
