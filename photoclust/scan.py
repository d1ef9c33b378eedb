"""The indexing pipeline: crawl → read/hash → decode → detect → crop → embed → store.

Work per photo runs in worker processes (spawned, one torch thread each, SIGINT ignored so that Ctrl-C
is handled once, by the parent). On the CPU each worker also embeds its faces; with CUDA the parent
embeds all faces in large batches on the GPU. The parent writes results per batch in one transaction,
so a scan killed at any moment leaves a consistent database and the next scan continues where it
stopped: a photo is either fully indexed (photo, its faces, its file row) or not at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

import numpy as np

from photoclust import crawl
from photoclust.config import CROP_SIZE, DETECT_LONG_SIDE, ScanSettings, default_workers
from photoclust.crawl import video
from photoclust.errors import ImageError
from photoclust.progress import NullProgress, Progress
from photoclust.store import Store
from photoclust.store.photos import HashLookup
from photoclust.types import (
    EMBEDDING_DIM,
    AnalysedPhoto,
    DetectedFace,
    FaceCrop,
    FailedPhoto,
    FileEntry,
    PhotoInfo,
    ScanReport,
)

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class Linked:
    """A file whose content is already indexed (moved, renamed, copied or merely touched)."""

    entry: FileEntry
    sha256: str


@dataclass(frozen=True)
class Analysed:
    photo: AnalysedPhoto
    embeddings: np.ndarray | None  # None when the parent must embed


WorkResult = Analysed | Linked | FailedPhoto


# ----------------------------------------------------------------------------------------------
# Per-photo work (runs in a worker process, or in-process with --workers 1)
# ----------------------------------------------------------------------------------------------


class PhotoAnalyser:
    """Reads, decodes, detects, crops and (optionally) embeds photos, a few at a time (:meth:`analyse_many`).

    ``device``: where MTCNN runs ("cpu", or "cuda" for the GPU pipeline, where the parent embeds). Faces
    embedded here are embedded on the CPU, by the int8 network (see ``Embedder``)."""

    def __init__(
        self,
        db_path: str | None,
        embed: bool,
        flip_average: bool,
        device: str = "cpu",
    ) -> None:
        from photoclust.detect import Detector

        self.db_path = db_path
        self.device = device
        self.detector = Detector(device=device)
        self.embedder: Any = None
        self.model_version = ""
        if embed:
            from photoclust.embed import Embedder

            self.embedder = Embedder(device=device, flip_average=flip_average)
        self._known = HashLookup(db_path)
        self.video_detector: Any = None  # made on the first video (faces in video frames: see VIDEO_MIN_FACE)

    def __call__(self, entry: FileEntry) -> WorkResult:
        return self.analyse_many([entry])[0]

    def analyse_many(self, entries: list[FileEntry]) -> list[WorkResult]:
        """One result per entry, in order. The photos' faces are detected together (equal-size photos in
        one MTCNN batch) and embedded together (one FaceNet batch): fewer, larger batches, the same
        faces and vectors as one photo at a time."""
        results: list[WorkResult | None] = [None] * len(entries)
        todo: list[tuple[int, FileEntry, crawl.RawPhoto, crawl.Decoded, Image.Image, float]] = []
        for i, entry in enumerate(entries):
            if video.is_video(entry.path):
                results[i] = self._video(entry)
                continue
            try:
                raw = crawl.read_file(entry)
            except ImageError as exc:
                results[i] = FailedPhoto(entry, str(exc))
                continue
            if self._known(raw.sha256):
                results[i] = Linked(entry, raw.sha256)
                continue
            try:
                decoded, small, scale = _for_detection(raw)
            except ImageError as exc:
                results[i] = FailedPhoto(entry, str(exc), raw.sha256)
                continue
            todo.append((i, entry, raw, decoded, small, scale))
        found = self.detector.detect_many([t[4] for t in todo], [t[5] for t in todo]) if todo else []
        photos: list[tuple[int, AnalysedPhoto]] = []
        for (i, entry, raw, decoded, _, _), dets in zip(todo, found, strict=True):
            try:
                photos.append((i, self._crops(entry, raw, decoded, dets)))
            except ImageError as exc:
                results[i] = FailedPhoto(entry, str(exc), raw.sha256)
        vectors: list[np.ndarray | None] = [None] * len(photos)
        if self.embedder is not None:
            crops = [f.crop for _, p in photos for f in p.faces]
            stacked = np.stack(crops).astype(np.uint8) if crops else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
            embeddings = self.embedder.embed(stacked)
            offsets = np.cumsum([0] + [len(p.faces) for _, p in photos])
            vectors = [embeddings[offsets[k] : offsets[k + 1]] for k in range(len(photos))]
        for (i, photo), emb in zip(photos, vectors, strict=True):
            results[i] = _analysed(photo, emb)
        return [r for r in results if r is not None]

    def analyse(self, entry: FileEntry, raw: crawl.RawPhoto) -> AnalysedPhoto:
        """The faces of one photo already read (``raw``), not embedded."""
        decoded, small, scale = _for_detection(raw)
        return self._crops(entry, raw, decoded, self.detector.detect(small, scale=scale))

    def _crops(
        self, entry: FileEntry, raw: crawl.RawPhoto, decoded: crawl.Decoded, dets: list[DetectedFace]
    ) -> AnalysedPhoto:
        """The photo with its faces cropped, aligned and rated; ``dets`` are in the photo's own pixels."""
        from photoclust.detect import analyse_faces

        if not dets:
            return AnalysedPhoto(entry, decoded.info, ())
        # Crop from the decoded image when it is sharp enough for every face (each face at least
        # CROP_SIZE px there); otherwise decode the photo at full resolution for the crops.
        source, s_source = decoded.image, decoded.scale
        smallest = min(min(d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in dets) / decoded.scale
        if decoded.scale > 1.0 and smallest < CROP_SIZE:
            full = crawl.decode(raw)
            source, s_source = full.image, 1.0
        crops = analyse_faces(source, [_scaled(d, 1 / s_source) for d in dets])
        faces = tuple(_crop_scaled(c, s_source) for c in crops)
        return AnalysedPhoto(entry, decoded.info, faces)

    def _video(self, entry: FileEntry) -> WorkResult:
        try:
            sha = video.sha256_of(entry.path)
        except OSError as exc:
            return FailedPhoto(entry, crawl.os_reason(exc))
        if self._known(sha):
            return Linked(entry, sha)
        try:
            photo, embeddings = self.analyse_video(entry, sha)
        except ImageError as exc:
            return FailedPhoto(entry, str(exc), sha)
        return _analysed(photo, embeddings)

    def analyse_video(self, entry: FileEntry, sha256: str) -> tuple[AnalysedPhoto, np.ndarray | None]:
        """Faces of a video: detect in the sampled frames, track by box overlap, keep each track's best
        frames (detect/track.py). With an embedder, the best frames of each piece of a track are embedded
        here and the pieces of one person rejoined; without one (the parent embeds), the pieces stay as
        they are and the parent embeds each one's best crop."""
        from photoclust.detect import Detector, analyse_faces
        from photoclust.detect.track import best_of, best_sightings, link, rejoin

        if self.video_detector is None:
            self.video_detector = Detector(device=self.device, min_face_size=VIDEO_MIN_FACE, try_rotations=False)
        meta = video.probe(entry.path)
        sampled: list[tuple[float, list[FaceCrop], list[np.ndarray | None]]] = []
        w, h = meta.width, meta.height
        for frame in video.frames(entry.path):
            w, h = frame.image.size  # upright (a phone's portrait clip is stored sideways)
            small, s_small = crawl.resized(frame.image, VIDEO_DETECT_LONG_SIDE)
            dets = self.video_detector.detect(small)
            crops = analyse_faces(frame.image, [_scaled(d, s_small) for d in dets]) if dets else []
            sampled.append((frame.time, crops, [None] * len(crops)))
        tracks = link(sampled)
        if self.embedder is not None:  # embed each piece's best frames, then join the pieces of a person
            best = [s for track in tracks for s in best_sightings(track)]
            if best:
                vectors = self.embedder.embed(np.stack([s.face.crop for s in best]).astype(np.uint8))
                for s, v in zip(best, vectors, strict=True):
                    s.embedding = v
            tracks = rejoin(tracks)
        faces = [best_of(track) for track in tracks]
        info = PhotoInfo(sha256, w, h, meta.created, meta.codec, duration=meta.duration)
        photo = AnalysedPhoto(entry, info, tuple(f.face for f in faces))
        if self.embedder is None:
            return photo, None
        embeddings = [f.embedding for f in faces]
        if any(e is None for e in embeddings):  # unreachable: every sighting was embedded
            raise ImageError("internal error: a video face without an embedding")
        matrix = (
            np.stack([e for e in embeddings if e is not None]) if faces else np.zeros((0, EMBEDDING_DIM), np.float32)
        )
        return photo, matrix.astype(np.float32)


def _for_detection(raw: crawl.RawPhoto) -> tuple[crawl.Decoded, Image.Image, float]:
    """The photo decoded (reduced while decoding where it is large), its copy for the detector (long side
    at most DETECT_LONG_SIDE), and how many of the photo's own pixels one pixel of that copy stands for."""
    decoded = crawl.decode(raw, max_long_side=DETECT_LONG_SIDE)
    small, s_small = crawl.resized(decoded.image, DETECT_LONG_SIDE)
    return decoded, small, s_small * decoded.scale


_EMPTY = np.zeros((0,), dtype=np.uint8)


def _analysed(photo: AnalysedPhoto, embeddings: np.ndarray | None) -> Analysed:
    """The result to send back; once embedded, the crops are not needed: they are not shipped."""
    if embeddings is not None:
        photo = replace(photo, faces=tuple(replace(f, crop=_EMPTY) for f in photo.faces))
    return Analysed(photo, embeddings)


# Video frames are searched on a copy of at most 720 px, for faces of 32 px and more there (about 85 px
# in a 1080p frame): 6x faster than the photo settings on 1080p frames (363 -> 57 ms a frame), and the
# faces they miss are too small for a useful embedding; a track's best frames are its largest.
VIDEO_DETECT_LONG_SIDE = 720
VIDEO_MIN_FACE = 32


def _scaled(d: DetectedFace, k: float) -> DetectedFace:
    if k == 1.0:
        return d
    x1, y1, x2, y2 = d.box
    return DetectedFace(
        box=(x1 * k, y1 * k, x2 * k, y2 * k),
        landmarks=tuple((x * k, y * k) for x, y in d.landmarks),
        probability=d.probability,
    )


def _crop_scaled(c: FaceCrop, k: float) -> FaceCrop:
    if k == 1.0:
        return c
    return replace(c, detection=_scaled(c.detection, k), quality=replace(c.quality, size_px=c.quality.size_px * k))


_worker: PhotoAnalyser | None = None

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_S = 1.0


def die_with_parent(parent_pid: int, pdeathsig: bool) -> None:
    """Make this (worker) process exit whenever ``parent_pid`` dies, however it dies (``kill -9`` included).

    A worker waits on a queue whose other end its siblings also hold, so it would never notice on its
    own: orphans used to live on for good, each holding its models (500-700 MB). Two mechanisms:

    - Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker at once. It fires when
      the *thread* that spawned the worker ends, so the caller asks for it only when the pool is created
      from the main thread (the CLI); a pool created in a worker thread (the TUI's scan) skips it.
    - everywhere: a daemon thread that checks every second that the parent is still the parent (an
      orphan is re-parented to init or a subreaper, so ``os.getppid()`` changes), then ``os._exit``.
    """
    if pdeathsig and sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the watchdog below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="photoclust-parent-watch", daemon=True).start()


def _init_worker(
    db_path: str | None, embed: bool, flip_average: bool, device: str, parent_pid: int, pdeathsig: bool
) -> None:
    die_with_parent(parent_pid, pdeathsig)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers report through their results, never by printing: the parent may be drawing a TUI.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from photoclust._torch import set_threads

    set_threads(1)
    global _worker
    _worker = PhotoAnalyser(db_path, embed, flip_average, device)


def _work(entries: list[FileEntry]) -> list[WorkResult]:
    assert _worker is not None
    try:
        return _worker.analyse_many(entries)
    except MemoryError:
        if len(entries) > 1:  # one of them is too large: find which, the others are fine
            return [r for e in entries for r in _work([e])]
        return [FailedPhoto(entries[0], "out of memory while decoding this photo")]


def _chunks(todo: list[FileEntry], size: int, tail: int = 0) -> Generator[list[FileEntry], None, None]:
    """``todo`` in runs of ``size``, the last ``tail`` entries one by one (so that the workers finish
    together: a run of four 12 MP photos is 1.5 s of one worker's time); every video alone (it is a
    minute's work, not a photo's). Videos are told by name here, not by content: the parent opens no file
    (a NAS would make that slow); a video with an odd name is still analysed as a video, inside a run."""
    run: list[FileEntry] = []
    single_from = len(todo) - tail
    for i, entry in enumerate(todo):
        if os.path.splitext(entry.path)[1].lower() in video.VIDEO_EXTENSIONS or i >= single_from:
            if run:
                yield run
                run = []
            yield [entry]
            continue
        run.append(entry)
        if len(run) >= size:
            yield run
            run = []
    if run:
        yield run


# Photos per task. On the CPU a few (their faces embedded in one batch), so that progress stays smooth;
# on a GPU enough for full MTCNN batches. The last photos go one by one (see _chunks).
CHUNK_CPU = 4
CHUNK_GPU = 16


# ----------------------------------------------------------------------------------------------
# The scan
# ----------------------------------------------------------------------------------------------


NON_UTF8_NAME = "the file name is not valid UTF-8, which the library cannot store: rename the file to index it"


def unstorable_name(path: str) -> str | None:
    """For a path that is not valid UTF-8 (stored as text it would stop the whole scan), a printable form
    with the odd bytes as ``\\xNN``; None for any other path."""
    try:
        path.encode("utf-8")
        return None
    except UnicodeEncodeError:
        try:
            return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _results(
    todo: list[FileEntry], db_path: str | None, device: str, embed_in_workers: bool, settings: ScanSettings
) -> Generator[WorkResult, None, None]:
    workers = settings.workers or default_workers(device)
    size = CHUNK_CPU if device == "cpu" else CHUNK_GPU
    chunks = _chunks(todo, size, tail=2 * workers * size)
    if workers <= 1:
        analyser = PhotoAnalyser(db_path, embed_in_workers, settings.flip_average, device)
        for chunk in chunks:
            yield from analyser.analyse_many(chunk)
        return
    ctx = get_context("spawn")
    window = workers * 2
    # The pool spawns its processes from this thread (on submit), and it is shut down before this
    # generator returns (the caller closes it): PR_SET_PDEATHSIG is safe when this is the main thread.
    pdeathsig = threading.current_thread() is threading.main_thread()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(db_path, embed_in_workers, settings.flip_average, device, os.getpid(), pdeathsig),
    ) as pool:
        pending: set[Future[list[WorkResult]]] = set()
        try:
            while True:
                while len(pending) < window:
                    nxt = next(chunks, None)
                    if nxt is None:
                        break
                    pending.add(pool.submit(_work, nxt))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield from fut.result()
        finally:
            for fut in pending:
                fut.cancel()


def scan(
    store: Store,
    roots: Iterable[str | os.PathLike[str]],
    settings: ScanSettings | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanReport:
    """Index every photo under ``roots`` into ``store``; incremental and resumable.

    ``should_stop`` is polled between batches (the TUI's cancel button); Ctrl-C (KeyboardInterrupt)
    finishes writing the current batch, then the scan returns a report with ``interrupted=True``.
    """
    settings = settings or ScanSettings()
    progress = progress or NullProgress()
    t0 = time.monotonic()
    report = ScanReport()
    root_list = [os.path.abspath(os.fspath(r)) for r in roots]
    for r in root_list:
        if not os.path.exists(r):
            raise ImageError(f"no such file or folder: {r}")

    parent_embedder: Any = None

    scan_id = store.begin_scan(root_list)
    known = store.known_files()
    unlisted: list[str] = []
    walk_errors: list[FailedPhoto] = []

    def on_walk_error(path: str, reason: str) -> None:
        unlisted.append(path)
        if os.path.isfile(path):
            walk_errors.append(FailedPhoto(FileEntry(unstorable_name(path) or path, -1, -1), reason))

    progress.start(None, "Looking for photos")
    todo: list[FileEntry] = []
    seen: set[str] = set()
    for entry in crawl.walk(root_list, on_error=on_walk_error):
        report.seen += 1
        shown = unstorable_name(entry.path)
        if shown is not None:  # reported on every scan (the name never matches what is stored)
            walk_errors.append(FailedPhoto(FileEntry(shown, -1, -1), NON_UTF8_NAME))
            report.unreadable += 1
            continue
        seen.add(entry.path)
        k = known.get(entry.path)
        if k is not None and k.size == entry.size and k.mtime_ns == entry.mtime_ns and k.kind != "missing":
            if k.kind == "error":
                report.unreadable += 1
            else:
                report.unchanged += 1
            continue
        todo.append(entry)
        if report.seen % 1000 == 0:
            progress.advance(1000)
    progress.finish()

    missing = [p for p, k in known.items() if k.kind == "present" and p not in seen and _under(p, root_list)]
    missing = [p for p in missing if not _under(p, unlisted)]

    # torch is imported only when there is something to analyse: a no-change rescan never loads it.
    device, model_version = "cpu", ""
    if todo:
        from photoclust.embed import MODEL_VERSION, model_is_prepared, prepare_model, resolve_device

        device, model_version = resolve_device(settings.device), MODEL_VERSION
        if not model_is_prepared(device):  # first scan on this machine: say why nothing moves for a while
            progress.start(None, "Preparing the face model (first scan only, about 20 s)")
            prepare_model(device)
            progress.finish()
    embed_in_workers = device == "cpu"

    progress.start(len(todo), "Indexing photos")
    db_path = str(store.path) if store.path is not None else None
    analysed: list[tuple[AnalysedPhoto, np.ndarray | None]] = []
    linked: list[tuple[FileEntry, str]] = []
    failed: list[FailedPhoto] = list(walk_errors)
    pending_faces = 0

    def flush() -> None:
        nonlocal analysed, linked, failed, pending_faces, parent_embedder
        rows: list[tuple[AnalysedPhoto, np.ndarray, str]] = []
        by_id: dict[int, np.ndarray] = {}
        need = [p for p, e in analysed if e is None and p.faces]
        if need:
            if parent_embedder is None:
                from photoclust.embed import Embedder

                parent_embedder = Embedder(device=device, flip_average=settings.flip_average)
            crops = np.stack([f.crop for p in need for f in p.faces]).astype(np.uint8)
            embs = parent_embedder.embed(crops)
            offsets = np.cumsum([0] + [len(p.faces) for p in need])
            by_id = {id(p): embs[offsets[i] : offsets[i + 1]] for i, p in enumerate(need)}
        for photo, emb in analysed:
            if emb is None:
                emb = by_id[id(photo)] if photo.faces else np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
            rows.append((photo, emb, model_version))
        store.write_batch(rows, linked, failed)
        analysed, linked, failed, pending_faces = [], [], [], 0

    commit_every = max(8, settings.batch_size)
    try:
        with contextlib.closing(_results(todo, db_path, device, embed_in_workers, settings)) as results:
            for result in results:
                path = result.photo.entry.path if isinstance(result, Analysed) else result.entry.path
                k = known.get(path)
                if isinstance(result, FailedPhoto):
                    failed.append(result)
                    report.unreadable += 1
                    progress.message(f"{path}: {result.reason}")
                    progress.advance(1)
                elif isinstance(result, Linked):
                    linked.append((result.entry, result.sha256))
                    if k is None:
                        report.moved += 1
                    else:
                        report.unchanged += 1
                    progress.advance(1)
                else:
                    analysed.append((result.photo, result.embeddings))
                    nf = len(result.photo.faces)
                    pending_faces += nf
                    report.faces += nf
                    if k is None or k.kind == "error":
                        report.new += 1
                    else:
                        report.changed += 1
                    progress.advance(1, faces=nf)
                if len(analysed) + len(linked) + len(failed) >= commit_every or pending_faces >= settings.batch_size:
                    flush()
                    if should_stop is not None and should_stop():
                        report.interrupted = True
                        break
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        # Whatever was finished is kept, also when interrupted.
        flush()
        progress.finish()

    if not report.interrupted:
        # Only a complete walk can tell that a file is gone.
        report.deleted = store.mark_missing(missing)
    report.seconds = time.monotonic() - t0
    store.end_scan(scan_id, report.__dict__)
    return report
