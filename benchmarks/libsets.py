"""Library-shaped evaluation sets built from scanned photoclust databases, shared by the people benchmarks.

A *set* is every live face of some labelled photos (all faces take part in clustering, as in a real
library) plus, per labelled photo, its **main face** (the one scored) and identity:

* ``largest``: the photo's largest face (celeba_wild, deepface, celeb5: the label is the main person);
* ``centre``: the face nearest the photo's centre (lfw_gray_a: photos are centred on the labelled face,
  other people often appear at the border).

Splits (tune on one part, report on the other): ``split_identities`` halves the identities of a set by a
seeded hash of the name, so the split is the same on every machine and independent of file order.

The **family library** mix: celeba_wild people (family and friends, ~20 photos each, colour) plus
lfw_gray_a people seen once (strangers, black and white).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval_people import scores  # noqa: E402
from labelled import read_labels  # noqa: E402

from photoclust.config import WEAK_FLAGS  # noqa: E402


@dataclass
class FaceSet:
    """Faces of a library (rows) and the scored main faces."""

    X: np.ndarray  # float32 (n, 512)
    photo: np.ndarray  # int64 (n,) photo key (unique across merged sets)
    weak: np.ndarray  # bool (n,) flagged low quality
    path: list[str]  # (n,) file path of each face's photo
    person: np.ndarray  # int64 (n,) person id in the database (-1 unknown)
    main: dict[int, str] = field(default_factory=dict)  # row -> identity, one per labelled photo
    missing: list[str] = field(default_factory=list)  # identities of labelled photos with no face

    def subset(self, rows: np.ndarray) -> FaceSet:
        pos = {int(r): k for k, r in enumerate(rows.tolist())}
        return FaceSet(
            X=self.X[rows],
            photo=self.photo[rows],
            weak=self.weak[rows],
            path=[self.path[r] for r in rows.tolist()],
            person=self.person[rows],
            main={pos[r]: i for r, i in self.main.items() if r in pos},
            missing=list(self.missing),
        )

    def truth(self) -> dict[int, str]:
        return dict(self.main)


def present_only(db: Path, paths: set[str]) -> None:
    """Mark the files of ``db`` present if in ``paths``, else missing (a library holding only those)."""
    con = sqlite3.connect(db)
    with con:
        con.execute("CREATE TEMP TABLE keep(path TEXT PRIMARY KEY)")
        con.executemany("INSERT INTO keep VALUES (?)", [(p,) for p in paths])
        con.execute(
            "UPDATE files SET status = CASE WHEN path IN (SELECT path FROM keep) THEN 'present' ELSE 'missing' END"
        )
    con.close()


def load(db: Path, root: Path, main: str = "largest", photo_offset: int = 0) -> FaceSet:
    """Every live face of the labelled photos under ``root`` in the scanned database ``db``."""
    labels = read_labels(root.resolve())
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT files.path, f.photo_id, f.x1, f.y1, f.x2, f.y2, f.flags, f.embedding, p.width, p.height,"
        " coalesce(f.person_id, -1)"
        " FROM files JOIN faces f ON f.photo_id = files.photo_id JOIN photos p ON p.id = f.photo_id"
        " WHERE files.status = 'present' AND f.not_face = 0 ORDER BY files.path, f.id"
    ).fetchall()
    con.close()
    X, photo, weak, path, person = [], [], [], [], []
    best: dict[str, tuple[float, int]] = {}
    seen_photo: dict[int, str] = {}
    for p, pid, x1, y1, x2, y2, flags, emb, w, h, who in rows:
        if p not in labels or seen_photo.setdefault(pid, p) != p:
            continue  # unlabelled file, or a second copy of one photo
        r = len(X)
        X.append(np.frombuffer(emb, dtype=np.float32))
        photo.append(pid + photo_offset)
        weak.append(bool(WEAK_FLAGS.intersection((flags or "").split(","))))
        path.append(p)
        person.append(who)
        if main == "largest":
            score = -(x2 - x1) * (y2 - y1)
        else:
            score = ((x1 + x2) / 2 - w / 2) ** 2 + ((y1 + y2) / 2 - h / 2) ** 2
        if p not in best or score < best[p][0]:
            best[p] = (score, r)
    fs = FaceSet(
        X=np.vstack(X).astype(np.float32) if X else np.zeros((0, 512), np.float32),
        photo=np.array(photo, dtype=np.int64),
        weak=np.array(weak, dtype=bool),
        path=path,
        person=np.array(person, dtype=np.int64),
    )
    fs.main = {r: labels[p] for p, (_, r) in best.items()}
    fs.missing = [labels[p] for p in labels if p not in best]
    return fs


def identity_half(identity: str, seed: str = "photoclust") -> str:
    """'A' or 'B', by a seeded hash of the identity's name."""
    return "AB"[hashlib.sha256(f"{seed}:{identity}".encode()).digest()[0] & 1]


def split_identities(fs: FaceSet, half: str) -> FaceSet:
    """The photos whose labelled identity falls in ``half`` (all their faces)."""
    keep_photos = {fs.photo[r] for r, ident in fs.main.items() if identity_half(ident) == half}
    rows = np.flatnonzero(np.isin(fs.photo, list(keep_photos)))
    out = fs.subset(rows)
    out.missing = [m for m in fs.missing if identity_half(m) == half]
    return out


def singletons(fs: FaceSet) -> FaceSet:
    """Only the photos of identities with exactly one labelled photo (strangers)."""
    counts: dict[str, int] = {}
    for ident in fs.main.values():
        counts[ident] = counts.get(ident, 0) + 1
    keep = {fs.photo[r] for r, ident in fs.main.items() if counts[ident] == 1}
    out = fs.subset(np.flatnonzero(np.isin(fs.photo, list(keep))))
    out.missing = []
    return out


def concat(*sets: FaceSet) -> FaceSet:
    off = 0
    X, photo, weak, path, person, main = [], [], [], [], [], {}
    for s in sets:
        X.append(s.X)
        photo.append(s.photo)
        weak.append(s.weak)
        path += s.path
        person.append(s.person)
        main.update({r + off: i for r, i in s.main.items()})
        off += s.X.shape[0]
    return FaceSet(np.vstack(X), np.concatenate(photo), np.concatenate(weak), path, np.concatenate(person), main, [])


def score_labels(fs: FaceSet, labels: np.ndarray) -> dict[str, float]:
    """Scores of per-row labels (-1 = unknown, its own cluster) on the main faces; missing photos alone."""
    truth: dict[object, str] = {}
    pred: dict[object, object] = {}
    for r, ident in fs.main.items():
        truth[r] = ident
        pred[r] = int(labels[r]) if labels[r] >= 0 else ("alone", r)
    for k, ident in enumerate(fs.missing):
        truth[("missing", k)] = ident
        pred[("missing", k)] = ("missing", k)
    out = scores(truth, pred)
    # people made only of faces whose identity is seen once (strangers grouped together)
    counts: dict[str, int] = {}
    for ident in fs.main.values():
        counts[ident] = counts.get(ident, 0) + 1
    by_cluster: dict[int, list[str]] = {}
    for r, ident in fs.main.items():
        if labels[r] >= 0:
            by_cluster.setdefault(int(labels[r]), []).append(ident)
    out["clusters"] = len(by_cluster)
    out["stranger_people"] = sum(1 for m in by_cluster.values() if len(m) > 1 and all(counts[i] == 1 for i in m))
    out["mixed_people"] = sum(1 for m in by_cluster.values() if len(set(m)) > 1)
    return out


def fmt(label: str, r: dict[str, float]) -> str:
    return (
        f"{label:<40} BCubed P {r['bcubed_p']:.4f} R {r['bcubed_r']:.4f} F {r['bcubed_f']:.4f} | "
        f"pair P {r['pair_p']:.4f} R {r['pair_r']:.4f} F {r['pair_f']:.4f} | people {r.get('clusters', 0):.0f} "
        f"mixed {r.get('mixed_people', 0):.0f} strangers-only {r.get('stranger_people', 0):.0f}"
    )
