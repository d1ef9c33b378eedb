"""Tracking faces through the sampled frames of a video: one track per person on screen, its best frames.

Video frames are worse than photos (small, blurred, badly lit faces), so a video face is recognised from
the best frames of its track rather than from every frame (the video face recognition recipe):

1. **Link** each frame's faces to the tracks seen in the last :data:`MAX_GAP_S` seconds: by box overlap
   (IoU >= :data:`LINK_IOU`) when the face stayed put, or by embedding (cosine distance <=
   :data:`LINK_DISTANCE`) when it moved and embeddings are at hand; greedily, best first; two faces of one
   frame never join one track. The scanner links by overlap alone and embeds only each piece's best
   frames: embedding every face of every frame cost most of a video's time.
2. **Rejoin** tracks that never overlap in time and whose mean embeddings are within
   :data:`REJOIN_DISTANCE` (a person who leaves the picture and comes back): tracks that do overlap are
   two people, and stay two faces of the video, which no person can hold both of (like two faces of one
   photo).
3. **Keep the best**: each track becomes one face: the box, crop and thumbnail of its best frame (sharp,
   frontal, large, sure), and the quality-weighted mean of the embeddings of its :data:`BEST_FRAMES` best
   frames.

Arrays and dataclasses in, dataclasses out; no video decoding, no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from photoclust.types import FaceCrop, VideoSpan, iou

LINK_IOU = 0.2
LINK_DISTANCE = 0.45
REJOIN_DISTANCE = 0.36
MAX_GAP_S = 2.1  # samples are at most 1 s apart in clips up to a minute: a face may be missed once
BEST_FRAMES = 3


@dataclass
class Sighting:
    time: float
    face: FaceCrop
    embedding: np.ndarray | None  # unit vector, or None when the worker does not embed


@dataclass
class Track:
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.sightings[0].time

    @property
    def end(self) -> float:
        return self.sightings[-1].time

    def mean(self) -> np.ndarray | None:
        vecs = [s.embedding for s in self.sightings if s.embedding is not None]
        if not vecs:
            return None
        m = np.mean(np.stack(vecs), axis=0)
        return np.asarray(m / max(float(np.linalg.norm(m)), 1e-12), dtype=np.float32)


def frame_score(face: FaceCrop) -> float:
    """How good a frame of a face is: sure, large (up to the crop size), sharp, frontal, unflagged."""
    q = face.quality
    score = face.detection.probability * min(q.size_px, 160.0) / 160.0
    score *= min(q.blur / 100.0, 1.0) * (1.0 - min(abs(q.yaw), 1.0) * 0.8)
    return score * (0.5 if q.flags else 1.0)


def _distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    return 1.0 - float(a @ b)


def link(frames: list[tuple[float, list[FaceCrop], list[np.ndarray | None]]]) -> list[Track]:
    """Tracks from the faces of each sampled frame: ``(time, faces, their embeddings or None)``, by time.
    Without embeddings, faces link by box overlap alone; :func:`rejoin` then joins the pieces of a person
    once the best frames of each piece are embedded (:func:`best_sightings`)."""
    tracks: list[Track] = []
    for t, faces, embs in frames:
        active = [k for k, tr in enumerate(tracks) if t - tr.end <= MAX_GAP_S]
        pairs: list[tuple[float, int, int]] = []
        for i, (face, emb) in enumerate(zip(faces, embs, strict=True)):
            for k in active:
                last = tracks[k].sightings[-1]
                overlap = iou(face.detection.box, last.face.detection.box)
                dist = _distance(emb, last.embedding)
                if dist is not None and dist > LINK_DISTANCE + 0.2:
                    continue  # clearly somebody else, however the boxes overlap
                if overlap >= LINK_IOU:
                    pairs.append((1.0 + overlap, i, k))
                elif dist is not None and dist <= LINK_DISTANCE:
                    pairs.append((1.0 - dist, i, k))
        used_faces: set[int] = set()
        used_tracks: set[int] = set()
        for _score, i, k in sorted(pairs, reverse=True):
            if i in used_faces or k in used_tracks:
                continue
            used_faces.add(i)
            used_tracks.add(k)
            tracks[k].sightings.append(Sighting(t, faces[i], embs[i]))
        for i, (face, emb) in enumerate(zip(faces, embs, strict=True)):
            if i not in used_faces:
                tracks.append(Track([Sighting(t, face, emb)]))
    return tracks


def best_sightings(track: Track, n: int = BEST_FRAMES) -> list[Sighting]:
    """The track's ``n`` best frames (:func:`frame_score`), best first: the ones worth embedding."""
    return sorted(track.sightings, key=lambda s: frame_score(s.face), reverse=True)[:n]


def rejoin(tracks: list[Track]) -> list[Track]:
    """Join tracks that never overlap in time and look like one person (see the module's docstring)."""
    tracks = sorted(tracks, key=lambda tr: tr.start)
    while True:
        best: tuple[float, int, int] | None = None
        means = [tr.mean() for tr in tracks]
        for a in range(len(tracks)):
            for b in range(a + 1, len(tracks)):
                if not (tracks[a].end < tracks[b].start or tracks[b].end < tracks[a].start):
                    continue
                d = _distance(means[a], means[b])
                if d is not None and d <= REJOIN_DISTANCE and (best is None or d < best[0]):
                    best = (d, a, b)
        if best is None:
            return tracks
        _d, a, b = best
        joined = Track(sorted(tracks[a].sightings + tracks[b].sightings, key=lambda s: s.time))
        tracks = [tr for k, tr in enumerate(tracks) if k not in (a, b)] + [joined]
        tracks.sort(key=lambda tr: tr.start)


@dataclass(frozen=True)
class VideoFace:
    face: FaceCrop  # the best frame's detection, quality, crop and thumbnail, with the track's span
    embedding: np.ndarray | None  # quality-weighted mean of the best frames' embeddings, or None


def best_of(track: Track) -> VideoFace:
    """The track as one face of the library (see the module's docstring)."""
    ranked = best_sightings(track)
    top = ranked[0]
    span = VideoSpan(track.start, track.end, top.time)
    chosen = [s for s in ranked if s.embedding is not None]
    embedding = None
    if chosen:
        weights = np.array([max(frame_score(s.face), 1e-3) for s in chosen])
        m = (weights[:, None] * np.stack([s.embedding for s in chosen if s.embedding is not None])).sum(axis=0)
        embedding = np.asarray(m / max(float(np.linalg.norm(m)), 1e-12), dtype=np.float32)
    face = FaceCrop(top.face.detection, top.face.quality, top.face.crop, top.face.thumbnail, span)
    return VideoFace(face, embedding)
