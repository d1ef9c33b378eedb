"""Verify, identify, enrol: one photo's face against another photo, against the named people, or as a person.

Each photo stands for its *largest* face. A photo already in the library (same content, whatever its
path) uses its stored face and embedding, so nothing is recomputed and the user's "not a face" marks
hold; any other photo goes through the indexing pipeline (:class:`photoclust.scan.PhotoAnalyser`:
decode, MTCNN, crop, flip-averaged FaceNet) without being stored, except by :func:`enrol`.

Scores are cosine distances (1 - cosine similarity of the L2-normalised embeddings): 0 is identical,
about 1 unrelated. Two faces are the same person when the distance is at most
``config.VERIFY_THRESHOLD``, calibrated by ``benchmarks/calibrate.py`` at a false accept rate of 1e-3.
A person is represented by a *template*: the normalised mean embedding of their confirmed faces (of all
their faces when none is confirmed); identify and enrol compare a face with templates, with the same
threshold (the calibration reports how templates of 1-10 photos behave at it).

torch is imported only when a photo has to be analysed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photoclust import config
from photoclust.errors import ConstraintError, ImageError, NotFound
from photoclust.people import People
from photoclust.people.learning import mapped
from photoclust.store import Store, blob_to_vector, blobs_to_matrix
from photoclust.types import EMBEDDING_DIM, Box, FileEntry


@dataclass(frozen=True)
class ProbeFace:
    """The largest face of a photo: its box (oriented full-resolution pixels) and embedding."""

    path: str
    box: Box
    embedding: np.ndarray = field(repr=False)
    face_id: int | None  # the stored face, when the photo is in the library
    faces_in_photo: int


@dataclass(frozen=True)
class Verification:
    a: ProbeFace
    b: ProbeFace
    distance: float
    threshold: float

    @property
    def same(self) -> bool:
        return self.distance <= self.threshold


@dataclass(frozen=True)
class Candidate:
    person_id: int
    name: str
    distance: float
    faces: int  # faces in the person's template
    match: bool


@dataclass(frozen=True)
class Identification:
    probe: ProbeFace
    candidates: tuple[Candidate, ...]  # closest first
    threshold: float

    @property
    def best(self) -> Candidate | None:
        """The closest named person when within the threshold; None means "unknown"."""
        return self.candidates[0] if self.candidates and self.candidates[0].match else None


@dataclass(frozen=True)
class Match:
    face_id: int
    photo_id: int
    path: str
    distance: float
    person_id: int | None  # the (unnamed) person the face is in now, or None when unknown


@dataclass(frozen=True)
class EnrolResult:
    person_id: int
    name: str
    created: bool
    enrolled: tuple[int, ...]  # face ids confirmed for the person
    added: tuple[str, ...]  # photos that were indexed into the library for this
    matches: tuple[Match, ...]  # library faces within the threshold, closest first
    assigned: int  # matches assigned (unconfirmed) when asked to
    threshold: float


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.dot(a.astype(np.float64), b.astype(np.float64)))


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


class Recognizer:
    """Probes photos for their largest face; loads the models once, on the first photo it must analyse."""

    def __init__(self, store: Store, threshold: float | None = None) -> None:
        self.store = store
        self.threshold = config.VERIFY_THRESHOLD if threshold is None else float(threshold)
        self._analyser: Any = None

    # -- probing -------------------------------------------------------------------------------
    def _entry(self, path: str | os.PathLike[str]) -> FileEntry:
        p = os.path.abspath(os.fspath(path))
        try:
            st = os.stat(p)
        except FileNotFoundError as exc:
            raise NotFound(f"no such photo: {p}") from exc
        except OSError as exc:
            raise ImageError(f"cannot read {p}: {exc.strerror or exc}") from exc
        if not os.path.isfile(p):
            raise ImageError(f"not a file: {p}")
        return FileEntry(p, st.st_size, st.st_mtime_ns)

    def stored_face(self, sha256: str) -> tuple[int, Box, np.ndarray, int] | None:
        """(face id, box, embedding, live faces) of the largest face stored for this content, or None."""
        from photoclust.embed import MODEL_VERSION

        rows = self.store.faces.of_content(sha256)
        if not rows or any(r[3] != MODEL_VERSION for r in rows):
            return None
        fid, box, emb, _v = max(rows, key=lambda r: (_area(r[1]), -r[0]))
        return fid, box, blob_to_vector(emb), len(rows)

    def is_indexed(self, sha256: str) -> bool:
        return self.store.photo_id_for_hash(sha256) is not None

    def probe(self, path: str | os.PathLike[str]) -> ProbeFace:
        """The largest face of a photo. Raises NotFound when it has none, ImageError when unreadable."""
        from photoclust import crawl

        entry = self._entry(path)
        raw = crawl.read_file(entry)
        stored = self.stored_face(raw.sha256)
        if stored is not None:
            fid, box, emb, n = stored
            return ProbeFace(entry.path, box, emb, fid, n)
        if self.is_indexed(raw.sha256) and not self.store.faces.of_content(raw.sha256):
            raise NotFound(f"no face found in {entry.path}")
        return self._analyse(entry, raw)

    def _analyse(self, entry: FileEntry, raw: Any) -> ProbeFace:
        from photoclust.scan import PhotoAnalyser

        if self._analyser is None:
            self._analyser = PhotoAnalyser(None, embed=True, flip_average=True)
        photo = self._analyser.analyse(entry, raw)
        if not photo.faces:
            raise NotFound(f"no face found in {entry.path}")
        crops = np.stack([f.crop for f in photo.faces]).astype(np.uint8)
        embeddings = self._analyser.embedder.embed(crops)
        i = max(range(len(photo.faces)), key=lambda k: _area(photo.faces[k].detection.box))
        return ProbeFace(entry.path, photo.faces[i].detection.box, embeddings[i], None, len(photo.faces))

    # -- verify ----------------------------------------------------------------------------------
    def verify(self, a: str | os.PathLike[str], b: str | os.PathLike[str]) -> Verification:
        pa, pb = self.probe(a), self.probe(b)
        return Verification(pa, pb, cosine_distance(pa.embedding, pb.embedding), self.threshold)

    # -- identify --------------------------------------------------------------------------------
    def templates(self, exclude_faces: Sequence[int] = ()) -> tuple[list[tuple[int, str, int]], np.ndarray]:
        """[(person id, name, faces used)] and their templates (rows, unit vectors) for the named, shown people."""
        from photoclust.embed import MODEL_VERSION

        rows = self.store.faces.named_people_faces(MODEL_VERSION)
        skip = set(exclude_faces)
        rows = [r for r in rows if r[0] not in skip]
        if not rows:
            return [], np.zeros((0, EMBEDDING_DIM), np.float32)
        pids = np.array([r[1] for r in rows], dtype=np.int64)
        conf = np.array([bool(r[2]) for r in rows])
        X = mapped(self.store, blobs_to_matrix(r[3] for r in rows)).astype(np.float64)  # the learned head
        people, inverse = np.unique(pids, return_inverse=True)
        has_confirmed = np.zeros(len(people), dtype=bool)
        np.logical_or.at(has_confirmed, inverse, conf)
        use = conf | ~has_confirmed[inverse]
        sums = np.zeros((len(people), X.shape[1]))
        np.add.at(sums, inverse[use], X[use])
        counts = np.bincount(inverse[use], minlength=len(people))
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        T = sums / np.where(norms > 0, norms, 1.0)
        names = self.store.people.names_of([int(p) for p in people])
        info = [(int(p), str(names[int(p)]), int(c)) for p, c in zip(people, counts, strict=True)]
        return info, T

    def identify(self, path: str | os.PathLike[str], top: int = 5) -> Identification:
        probe = self.probe(path)
        info, T = self.templates(exclude_faces=[probe.face_id] if probe.face_id is not None else [])
        if not info:
            return Identification(probe, (), self.threshold)
        d = 1.0 - T @ mapped(self.store, probe.embedding[None, :])[0].astype(np.float64)
        order = np.argsort(d, kind="stable")[: max(1, top)]
        cands = tuple(
            Candidate(info[i][0], info[i][1], float(d[i]), info[i][2], bool(d[i] <= self.threshold)) for i in order
        )
        return Identification(probe, cands, self.threshold)

    # -- enrol -----------------------------------------------------------------------------------
    def matches(self, template: np.ndarray, person_id: int | None, exclude: Sequence[int] = ()) -> list[Match]:
        """Faces that nobody has named yet (unknown, or in an unnamed person), not confirmed, not flagged
        low quality, not rejected for ``person_id``, within the threshold of ``template``; at most one per
        photo (the closest), none in a photo where the person already has a face; closest first."""
        from photoclust.embed import MODEL_VERSION

        rows = self.store.faces.unnamed_candidates(MODEL_VERSION, person_id)
        skip = set(exclude)
        rows = [r for r in rows if r[0] not in skip]
        if not rows:
            return []
        X = blobs_to_matrix(r[3] for r in rows).astype(np.float64)
        d = 1.0 - X @ template.astype(np.float64)
        taken: set[int] = set()
        if person_id is not None:
            taken = set(self.store.people.photos_with_face_of(person_id))
        out: list[Match] = []
        for i in np.argsort(d, kind="stable"):
            if d[i] > self.threshold:
                break
            fid, photo, pid, _e = rows[i]
            if photo in taken:
                continue
            taken.add(photo)
            out.append(Match(int(fid), int(photo), "", float(d[i]), pid))
        if out:
            paths = self.store.photos.present_paths([m.photo_id for m in out])
            out = [Match(m.face_id, m.photo_id, paths.get(m.photo_id, ""), m.distance, m.person_id) for m in out]
        return out


def enrol(
    store: Store,
    people: People,
    name: str,
    photos: Sequence[str | os.PathLike[str]],
    assign: bool = False,
    recognizer: Recognizer | None = None,
) -> EnrolResult:
    """Make ``name`` a person from the largest face of each photo (confirmed) and find matching faces.

    The person called ``name`` is extended when there is one, else created. A photo not in the library
    yet is indexed into it first (as ``photoclust scan PHOTO`` does), so the person keeps that face.
    With ``assign``, the matches become the person's faces, *unconfirmed* (suggestions that clustering
    and the user may still change); enrolment and assignment are one undoable operation.
    """
    from photoclust import crawl
    from photoclust.decisions import NamingBatch
    from photoclust.scan import scan

    name = " ".join(name.split())
    if not name:
        raise ConstraintError("a name cannot be empty")
    if not photos:
        raise ConstraintError("enrol needs at least one photo")
    rec = recognizer or Recognizer(store)
    face_ids: list[int] = []
    embeddings: list[np.ndarray] = []
    added: list[str] = []
    for photo in photos:
        entry = rec._entry(photo)
        raw = crawl.read_file(entry)
        if not rec.is_indexed(raw.sha256):
            report = scan(store, [entry.path], settings=config.ScanSettings(workers=1))
            if report.unreadable:
                reason = store.photos.error_reason(entry.path)
                raise ImageError(f"cannot read {entry.path}: {reason or 'unreadable'}")
            added.append(entry.path)
        stored = rec.stored_face(raw.sha256)
        if stored is None:
            raise NotFound(f"no face found in {entry.path}")
        face_ids.append(stored[0])
        embeddings.append(stored[2])
    batch = NamingBatch(people)
    pid = batch.person_for(name)
    created = bool(batch.report.created)
    for fid, photo in zip(face_ids, photos, strict=True):
        if not batch.confirm(fid, pid):
            why = batch.report.conflicts[-1][1]
            raise ConstraintError(f"the face in {photo} cannot be {name}: it is {why}")
    # the person's template: the enrolled faces and the person's other confirmed faces
    rows = store.faces.confirmed_embeddings(pid)
    vecs = embeddings + [blob_to_vector(e) for f, e in rows if f not in face_ids]
    t = np.mean(np.stack(vecs).astype(np.float64), axis=0)
    template = t / np.linalg.norm(t)
    found = rec.matches(template, pid, exclude=face_ids)
    # photos of the enrolled faces are taken by the person
    enrolled_photos = set(people.photo_of(face_ids).values())
    found = [m for m in found if m.photo_id not in enrolled_photos]
    assigned = 0
    if assign:
        for m in found:
            assigned += int(batch.suggest(m.face_id, pid))
    n = len(set(face_ids))
    desc = f"enrolled '{name}' from {n} photo{'s' if n != 1 else ''}"
    if assign:
        desc += f", {assigned} matching face{'s' if assigned != 1 else ''} assigned"
    batch.commit("enrol", desc)
    return EnrolResult(
        pid, name, created, tuple(dict.fromkeys(face_ids)), tuple(added), tuple(found), assigned, rec.threshold
    )
