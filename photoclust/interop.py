"""XMP sidecars in and out: the library's named faces as MWG face regions, and other tools' regions as names.

* :func:`export_xmp` writes, next to every present file of every photo with a named face, an XMP sidecar
  (digiKam style ``photo.jpg.xmp`` or Lightroom style ``photo.xmp``) with the photo's named faces as MWG
  regions (see :mod:`photoclust.xmp`). Photo files are never opened for writing. An existing sidecar is
  merged, not overwritten: only its ``mwg-rs:Regions`` change, and of those only the regions photoclust
  writes again (the same face, i.e. IoU >= ``XMP_MATCH_IOU``, or the same name) are replaced; regions
  photoclust does not know (pets, faces it did not detect, tags on faces it has no name for) are kept.
  Sidecars are written atomically (temporary file + rename).
* :func:`import_xmp` reads MWG (or Microsoft) face regions from sidecars and from XMP embedded in photos,
  matches each named region to the detected face it overlaps most (IoU >= ``XMP_MATCH_IOU``, in the
  photo's oriented pixels) and records "this face is NAME" as confirmed decisions, creating the people
  that do not exist yet; one import is one undoable operation.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from photoclust import config, xmp
from photoclust.crawl import file_orientation as orientation
from photoclust.fileio import atomic_write_text
from photoclust.people import HistoryEntry, People
from photoclust.store import Store
from photoclust.types import Box, iou


@dataclass
class XmpExportReport:
    written: int = 0  # sidecars created or updated
    unchanged: int = 0  # sidecars that already said exactly this
    photos: int = 0  # photos with at least one named face
    regions: int = 0  # face regions written
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sidecar or photo path, why)
    sidecars: list[str] = field(default_factory=list)  # paths written


@dataclass
class XmpImportReport:
    packets: int = 0  # XMP packets read (sidecars and embedded)
    regions: int = 0  # named face regions in them
    matched: int = 0  # regions matched to a detected face
    confirmed: int = 0  # faces newly confirmed for a person
    unchanged: int = 0  # faces that already were that person, confirmed
    created: list[str] = field(default_factory=list)  # people created
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (photo path, name): no detected face there
    not_indexed: list[str] = field(default_factory=list)  # packets whose photo is not in the library
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (photo path, name, why skipped)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, why it could not be read)
    operation: HistoryEntry | None = None


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------


def export_xmp(store: Store, style: xmp.SidecarStyle = "digikam", confirmed_only: bool = False) -> XmpExportReport:
    if style not in ("digikam", "lightroom"):
        raise ValueError(f"unknown sidecar style {style!r}: use digikam or lightroom")
    named: dict[int, list[tuple[Box, str]]] = defaultdict(list)
    for photo_id, box, name in store.faces.named_boxes(confirmed_only):
        named[photo_id].append((box, " ".join(name.split())))
    report = XmpExportReport(photos=len(named))
    if not named:
        return report
    sizes = store.photos.sizes(list(named))
    files = store.photos.all_present_files(list(named))
    folder_cache: dict[str, list[str]] = {}
    for photo_id, faces in named.items():
        w, h = sizes[photo_id]
        for path in files[photo_id]:
            sidecar = xmp.sidecar_path(path, style)
            if style == "lightroom":
                other = _shares_sidecar(path, folder_cache)
                if other:
                    report.skipped.append(
                        (str(sidecar), f"would be shared with {other}: use --sidecar-style digikam for this folder")
                    )
                    continue
            o = orientation(path)
            stored_size = (h, w) if o in (5, 6, 7, 8) else (w, h)
            regions = [xmp.Region(name, xmp.to_stored(xmp.normalise(box, w, h), o), "Face") for box, name in faces]
            try:
                changed = _write_sidecar(sidecar, regions, stored_size)
            except xmp.XmpError as exc:
                report.skipped.append((str(sidecar), f"existing sidecar left alone, it is not valid XMP ({exc})"))
                continue
            except OSError as exc:
                report.skipped.append((str(sidecar), f"cannot write: {exc.strerror or exc}"))
                continue
            report.regions += len(regions)
            if changed:
                report.written += 1
                report.sidecars.append(str(sidecar))
            else:
                report.unchanged += 1
    return report


def _shares_sidecar(path: str, cache: dict[str, list[str]]) -> str | None:
    """Another file with the same stem in the folder (``photo.jpg`` and ``photo.cr2`` share ``photo.xmp``)."""
    folder, name = os.path.split(path)
    if folder not in cache:
        try:
            cache[folder] = os.listdir(folder)
        except OSError:
            cache[folder] = []
    stem = os.path.splitext(name)[0]
    for other in cache[folder]:
        o_stem, o_ext = os.path.splitext(other)
        if other != name and o_stem == stem and o_ext.lower() != ".xmp" and o_ext:
            return os.path.join(folder, other)
    return None


def _write_sidecar(sidecar: Path, regions: list[xmp.Region], stored_size: tuple[int, int]) -> bool:
    existing: str | None = None
    if sidecar.exists():
        existing = xmp.decode_packet(sidecar.read_bytes(), strict=True)
    names = {r.name.casefold() for r in regions if r.name}

    def replaces(old: xmp.Region) -> bool:
        if not old.is_face:
            return False
        if old.name and old.name.casefold() in names:
            return True
        return any(iou(old.box, r.box) >= config.XMP_MATCH_IOU for r in regions)

    text = xmp.merge_regions(existing, regions, stored_size, replaces)
    if existing is not None and text == existing:
        return False
    atomic_write_text(sidecar, text)
    return True


# ------------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Packet:
    source: str  # the sidecar, or the photo with embedded XMP
    text: str
    embedded: bool


def _sources(store: Store, paths: Iterable[str | os.PathLike[str]], report: XmpImportReport) -> list[_Packet]:
    """Sidecars and embedded packets under ``paths`` (folders are walked; hidden folders skipped)."""
    from photoclust import crawl

    sidecars: list[str] = []
    images: list[str] = []
    explicit: set[str] = set()  # photos named on the command line (not found by walking a folder)
    for raw in paths:
        p = os.path.abspath(os.fspath(raw))
        if os.path.isdir(p):
            for folder, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in crawl.JUNK_NAMES)
                for n in sorted(names):
                    full = os.path.join(folder, n)
                    if n.lower().endswith(".xmp") and not n.startswith("."):
                        sidecars.append(full)
                    elif crawl.is_candidate(n, full):
                        images.append(full)
        elif p.lower().endswith(".xmp"):
            sidecars.append(p)
        else:
            images.append(p)
            explicit.add(p)
            for style in ("digikam", "lightroom"):
                s = str(xmp.sidecar_path(p, style))
                if os.path.isfile(s) and s not in sidecars:
                    sidecars.append(s)
    known = store.photos.all_paths() if images else set()
    out: list[_Packet] = []
    for img in dict.fromkeys(images):
        if img not in known:  # a photo the library does not know: its packet could name nothing
            if img in explicit:
                report.not_indexed.append(img)
            continue
        try:
            text = xmp.read_embedded(img)
        except OSError as exc:
            report.errors.append((img, exc.strerror or str(exc)))
            continue
        if text:
            out.append(_Packet(img, text, True))
    for s in dict.fromkeys(sidecars):
        try:
            data = Path(s).read_bytes()
        except OSError as exc:
            report.errors.append((s, exc.strerror or str(exc)))
            continue
        out.append(_Packet(s, xmp.decode_packet(data), False))
    return out


def _photo_of(store: Store, packet: _Packet) -> tuple[int, str] | None | str:
    """(photo id, a present file of it) for a packet; None when not in the library; a message when ambiguous."""
    photos = store.photos
    if packet.embedded:
        candidates = [packet.source]
    else:
        exact, stem = xmp.photo_for_sidecar(packet.source)
        candidates = [exact] if exact else []
        if exact is None or photos.photo_of_path(exact) is None:
            candidates = [c for c in photos.paths_starting(stem) if os.sep not in c[len(stem) + 1 :]]
            candidates = [c for c in candidates if not c.lower().endswith(".xmp")]
    rows = []
    for c in candidates:
        found = photos.photo_of_path(c)
        if found is not None:
            rows.append((found, c))
    ids = {pid for pid, _c in rows}
    if not ids:
        return None
    if len(ids) > 1:
        return f"sidecar fits several photos ({', '.join(sorted(c for _p, c in rows))})"
    photo_id = next(iter(ids))
    return photo_id, photos.present_path(photo_id) or rows[0][1]


def import_xmp(store: Store, people: People, paths: Sequence[str | os.PathLike[str]]) -> XmpImportReport:
    from photoclust.decisions import NamingBatch

    report = XmpImportReport()
    packets = _sources(store, paths, report)
    # face id -> (name, photo path, from a sidecar); a sidecar outranks the photo's embedded XMP
    decisions: dict[int, tuple[str, str, bool, float]] = {}
    regions_seen: dict[int, set[tuple[str, tuple[float, ...], tuple[int, int] | None]]] = {}
    for packet in sorted(packets, key=lambda p: not p.embedded):  # embedded first, sidecars override
        try:
            info = xmp.read_regions(packet.text)
        except xmp.XmpError as exc:
            report.errors.append((packet.source, f"not valid XMP: {exc}"))
            continue
        report.packets += 1
        named = [r for r in info.regions if r.name and r.is_face]
        if not named:
            continue
        found = _photo_of(store, packet)
        if found is None:
            report.not_indexed.append(packet.source)
            continue
        if isinstance(found, str):
            report.errors.append((packet.source, found))
            continue
        photo_id, photo_path = found
        # one photo can have several packets saying the same (photo.jpg.xmp and photo.xmp, or a sidecar
        # and the embedded XMP): a region already read for this photo counts (and matches) once
        seen = regions_seen.setdefault(photo_id, set())
        fresh = []
        for r in named:
            seen_key = (r.name.casefold() if r.name else "", tuple(round(v, 4) for v in r.box), info.dimensions)
            if seen_key not in seen:
                seen.add(seen_key)
                fresh.append(r)
        named = fresh
        if not named:
            continue
        report.regions += len(named)
        w, h = store.photos.sizes([photo_id])[photo_id]
        shown = xmp.regions_in_oriented_frame(
            xmp.RegionInfo(tuple(named), info.dimensions), orientation(photo_path), (int(w), int(h))
        )
        boxes = {fid: xmp.normalise(box, w, h) for fid, box in store.faces.boxes_of_photo(photo_id).items()}
        pairs = sorted(
            ((iou(r.box, b), i, fid) for i, r in enumerate(shown) for fid, b in boxes.items()),
            reverse=True,
        )
        used_regions: set[int] = set()
        used_faces: set[int] = set()
        for score, i, fid in pairs:
            if score < config.XMP_MATCH_IOU:
                break
            if i in used_regions or fid in used_faces:
                continue
            used_regions.add(i)
            used_faces.add(fid)
            name = shown[i].name
            assert name is not None
            decisions[fid] = (name, photo_path, not packet.embedded, score)
        report.matched += len(used_regions)
        for i, r in enumerate(shown):
            if i not in used_regions:
                report.unmatched.append((photo_path, r.name or ""))
    if not decisions:
        return report
    # one face per person per photo: the best overlap wins, the others are reported
    photo_of = people.photo_of(list(decisions))
    best: dict[tuple[int, str], int] = {}
    for fid, (name, path, _sc, score) in decisions.items():
        key = (int(photo_of[fid]), name.casefold())
        if key not in best or score > decisions[best[key]][3]:
            if key in best:
                report.conflicts.append((path, name, "the same name is on two faces of this photo"))
            best[key] = fid
        else:
            report.conflicts.append((path, name, "the same name is on two faces of this photo"))
    batch = NamingBatch(people)
    for fid in sorted(best.values()):
        name, path, _sc, _score = decisions[fid]
        pid = batch.person_for(name)
        before = len(batch.report.conflicts)
        if not batch.confirm(fid, pid):
            for _f, why in batch.report.conflicts[before:]:
                report.conflicts.append((path, name, f"face {fid} is {why}"))
    report.confirmed = batch.report.confirmed
    report.unchanged = batch.report.unchanged
    n = len({decisions[f][0].casefold() for f in best.values()})
    report.operation = batch.commit("import-xmp", f"imported {batch.report.confirmed} face names ({n} people) from XMP")
    report.created = list(batch.report.created)
    return report
