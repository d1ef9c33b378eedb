"""Calibrate the verification threshold: ROC of genuine vs impostor pairs on labelled photo sets.

Usage::

    .venv/bin/python benchmarks/calibrate.py SET [SET ...] [--cache FILE.npz] [--db LIBRARY.db]
        [--threads T] [--limit N] [--json FILE]

A labelled set is a folder with ``<identity>/<file>`` photos and ``labels.csv`` (``path,identity``, paths
relative to the folder), e.g. ``/work/shared/photos/celeb5``. Several sets are pooled; identities are
prefixed with their set's name, so the same name in two sets counts as two people (no pair across sets
is called genuine by mistake, at worst an impostor pair is really genuine, which makes the figures a
little pessimistic).

Per photo the *largest* face is taken, exactly as photoclust indexes it: photoclust's own detector
(MTCNN, rotation fallback, quality crops from the full-resolution photo) and the default embedder
(FaceNet, flip-averaged, L2-normalised). Embeddings are reused where possible:

* ``--db LIBRARY.db``: a photoclust library that has scanned (some of) these photos: its stored
  embeddings are taken for every photo whose path it knows (same pipeline, no recomputation);
* ``--cache FILE.npz``: every embedding computed here is saved there (incrementally, so an interrupted
  run resumes) and read back next time.

Figures, on cosine *distance* (1 - cosine similarity; photoclust calls a pair the same person when the
distance is <= the threshold):

* pairs: ROC AUC, equal error rate, and for FAR = 1e-2 and 1e-3 the threshold and the TAR there;
  the FAR = 1e-3 threshold is what ``photoclust.config.VERIFY_THRESHOLD`` ships;
* templates (what ``photoclust identify`` and ``enrol`` compare against): a probe photo against the
  normalised mean of k other photos of a person, k = 1, 3, 5, 10: TAR and FAR at the shipped pair
  threshold, and the FAR = 1e-3 threshold for templates.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled import label_rows  # noqa: E402
from stamp import stamp  # noqa: E402
from verification import eer, pair_scores, roc_auc, threshold_at_far  # noqa: E402

FARS = (1e-2, 1e-3)
TEMPLATE_KS = (1, 3, 5, 10)


@dataclass
class Item:
    path: str  # absolute
    identity: str  # "<set>/<identity>"


def read_sets(sets: list[Path], limit: int | None) -> list[Item]:
    items = [
        Item(os.path.abspath(root / path), f"{root.name}/{identity}")
        for root in sets
        for path, identity in label_rows(root)
    ]
    if limit is not None:
        items = items[:limit]
    return items


def from_library(db_path: Path, items: list[Item]) -> dict[str, np.ndarray]:
    """Largest live face per photo of a photoclust library, for the paths it knows."""
    from photoclust.embed import MODEL_VERSION

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    wanted = {it.path for it in items}
    out: dict[str, np.ndarray] = {}
    rows = conn.execute(
        "SELECT files.path, faces.x1, faces.y1, faces.x2, faces.y2, faces.embedding FROM files"
        " JOIN faces ON faces.photo_id = files.photo_id WHERE faces.model_version = ?",
        [MODEL_VERSION],
    ).fetchall()
    best: dict[str, tuple[float, bytes]] = {}
    for path, x1, y1, x2, y2, emb in rows:
        if path not in wanted:
            continue
        area = (x2 - x1) * (y2 - y1)
        if path not in best or area > best[path][0]:
            best[path] = (area, emb)
    for path, (_a, emb) in best.items():
        out[path] = np.frombuffer(emb, dtype="<f4").copy()
    # photos the library indexed without a face count as "no face" (not recomputed)
    for (path,) in conn.execute(
        "SELECT files.path FROM files JOIN photos ON photos.id = files.photo_id WHERE photos.face_count = 0"
    ):
        if path in wanted and path not in out:
            out[path] = np.zeros(0, np.float32)
    conn.close()
    return out


def load_cache(path: Path | None) -> dict[str, np.ndarray]:
    if path is None or not path.exists():
        return {}
    data = np.load(path)
    paths = [str(p) for p in data["paths"]]
    embs = data["embeddings"]
    found = data["found"]
    return {p: (embs[i] if found[i] else np.zeros(0, np.float32)) for i, p in enumerate(paths)}


def save_cache(path: Path | None, cache: dict[str, np.ndarray]) -> None:
    if path is None:
        return
    paths = sorted(cache)
    embs = np.stack([cache[p] if cache[p].size else np.zeros(512, np.float32) for p in paths]).astype(np.float32)
    found = np.array([cache[p].size > 0 for p in paths])
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, paths=np.array(paths), embeddings=embs, found=found)
    os.replace(tmp, path)


def embed_missing(items: list[Item], cache: dict[str, np.ndarray], cache_path: Path | None, threads: int) -> None:
    """Run photoclust's own per-photo pipeline (read, decode, detect, crop, embed) on uncached photos."""
    todo = [it for it in items if it.path not in cache]
    if not todo:
        return
    from photoclust._torch import set_threads
    from photoclust.scan import Analysed, PhotoAnalyser
    from photoclust.types import FileEntry

    set_threads(threads)
    analyser = PhotoAnalyser(None, embed=True, flip_average=True)
    t0 = time.perf_counter()
    for i, it in enumerate(todo, 1):
        st = os.stat(it.path)
        result = analyser(FileEntry(it.path, st.st_size, st.st_mtime_ns))
        emb = np.zeros(0, np.float32)
        if isinstance(result, Analysed) and result.photo.faces and result.embeddings is not None:
            areas = [
                (f.detection.box[2] - f.detection.box[0]) * (f.detection.box[3] - f.detection.box[1])
                for f in result.photo.faces
            ]
            emb = result.embeddings[int(np.argmax(areas))].astype(np.float32)
        elif not isinstance(result, Analysed):
            print(f"  unreadable {it.path}: {getattr(result, 'reason', result)}", file=sys.stderr)
        cache[it.path] = emb
        if i % 50 == 0 or i == len(todo):
            save_cache(cache_path, cache)
            rate = i / (time.perf_counter() - t0)
            print(f"  embedded {i}/{len(todo)} photos ({rate:.1f}/s)", file=sys.stderr, flush=True)


def pair_figures(X: np.ndarray, ids: np.ndarray) -> dict[str, object]:
    _sim, genuine_sim, impostor_sim = pair_scores(X, ids)
    genuine, impostor = 1.0 - genuine_sim, 1.0 - impostor_sim  # cosine distances
    e, t_eer = eer(genuine, impostor, distance=True)
    out: dict[str, object] = {
        "genuine_pairs": int(len(genuine)),
        "impostor_pairs": int(len(impostor)),
        "roc_auc": roc_auc(-genuine, -impostor),
        "eer": e,
        "eer_threshold": t_eer,
        "genuine_mean_distance": float(genuine.mean()),
        "impostor_mean_distance": float(impostor.mean()),
    }
    for far in FARS:
        t = threshold_at_far(impostor, far)
        out[f"far_{far:g}"] = {
            "threshold": t,
            "tar": float((genuine <= t).mean()),
            "far_measured": float((impostor <= t).mean()),
        }
    return out


def template_figures(
    X: np.ndarray, ids: np.ndarray, threshold: float, rounds: int = 5, seed: int = 0
) -> list[dict[str, object]]:
    """Probe vs template (normalised mean of k other photos of one person)."""
    rng = np.random.default_rng(seed)
    by_id = {i: np.flatnonzero(ids == i) for i in np.unique(ids)}
    out = []
    for k in TEMPLATE_KS:
        eligible = [i for i, idx in by_id.items() if len(idx) >= k + 1]
        if len(eligible) < 2:
            continue
        genuine: list[np.ndarray] = []
        impostor: list[np.ndarray] = []
        for _ in range(rounds):
            templates, probes, probe_owner = [], [], []
            for j, ident in enumerate(eligible):
                idx = rng.permutation(by_id[ident])
                t = X[idx[:k]].mean(axis=0)
                templates.append(t / np.linalg.norm(t))
                probes.append(idx[k:])
                probe_owner.append(np.full(len(idx) - k, j))
            T = np.stack(templates)
            P = np.concatenate(probes)
            owner = np.concatenate(probe_owner)
            d = 1.0 - X[P] @ T.T  # probes x templates
            mask = owner[:, None] == np.arange(len(eligible))[None, :]
            genuine.append(d[mask])
            impostor.append(d[~mask])
        g, imp = np.concatenate(genuine), np.concatenate(impostor)
        row: dict[str, object] = {
            "k": k,
            "people": len(eligible),
            "genuine": int(len(g)),
            "impostor": int(len(imp)),
            "roc_auc": roc_auc(-g, -imp),
            "tar_at_shipped": float((g <= threshold).mean()),
            "far_at_shipped": float((imp <= threshold).mean()),
        }
        t3 = threshold_at_far(imp, 1e-3)
        row["threshold_far_0.001"] = t3
        row["tar_far_0.001"] = float((g <= t3).mean())
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path, help="labelled set folder(s) with labels.csv")
    ap.add_argument("--cache", type=Path, default=None, help="read/write embeddings here (.npz)")
    ap.add_argument("--db", type=Path, default=None, help="reuse the embeddings of a photoclust library")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos (for a quick look)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    print(stamp(), flush=True)

    items = read_sets(args.sets, args.limit)
    print(f"{len(items)} labelled photos of {len({it.identity for it in items})} people in {len(args.sets)} set(s)")
    cache = load_cache(args.cache)
    reused = 0
    if args.db is not None:
        from_db = from_library(args.db, items)
        for p, e in from_db.items():
            if p not in cache:
                cache[p] = e
                reused += 1
        print(f"{reused} embeddings taken from {args.db}")
    t0 = time.perf_counter()
    embed_missing(items, cache, args.cache, args.threads)
    print(f"embedding: {time.perf_counter() - t0:.0f} s")

    found = [it for it in items if cache[it.path].size]
    missed = len(items) - len(found)
    ids = np.array([it.identity for it in found])
    names, counts = np.unique(ids, return_counts=True)
    keep = np.isin(ids, names[counts >= 2])
    X = np.stack([cache[it.path] for it in found]).astype(np.float64)[keep]
    ids = ids[keep]
    print(
        f"{len(ids)} faces of {len(np.unique(ids))} people used ({missed} photos without a face, "
        f"{int((~keep).sum())} alone of their identity)"
    )

    pairs = pair_figures(X, ids)
    print(f"\npairs: {pairs['genuine_pairs']} genuine, {pairs['impostor_pairs']} impostor (cosine distance)")
    print(f"  ROC AUC {pairs['roc_auc']:.5f}   EER {pairs['eer']:.4f} at distance {pairs['eer_threshold']:.4f}")
    print(
        f"  mean distance: genuine {pairs['genuine_mean_distance']:.4f}, impostor {pairs['impostor_mean_distance']:.4f}"
    )
    for far in FARS:
        f = pairs[f"far_{far:g}"]
        assert isinstance(f, dict)
        print(
            f"  FAR {far:g}: threshold {f['threshold']:.4f} -> TAR {f['tar']:.4f} (measured FAR {f['far_measured']:.5f})"
        )
    f3 = pairs["far_0.001"]
    assert isinstance(f3, dict)
    shipped = round(float(f3["threshold"]), 3)
    from photoclust import config

    current = getattr(config, "VERIFY_THRESHOLD", None)
    print(f"\nVERIFY_THRESHOLD = {shipped}  (FAR 1e-3 threshold, rounded; config.py has {current})")

    use = float(current) if current is not None else shipped
    templates = template_figures(X, ids, use)
    print(f"\ntemplates (probe vs normalised mean of k photos), at the shipped threshold {use}:")
    print(f"  {'k':>3} {'people':>6} {'AUC':>8} {'TAR':>7} {'FAR':>9} {'thr@FAR1e-3':>12} {'TAR there':>10}")
    for r in templates:
        print(
            f"  {r['k']:>3} {r['people']:>6} {r['roc_auc']:8.5f} {r['tar_at_shipped']:7.4f} {r['far_at_shipped']:9.5f}"
            f" {r['threshold_far_0.001']:12.4f} {r['tar_far_0.001']:10.4f}"
        )
    if args.json is not None:
        report = {
            "sets": [str(s) for s in args.sets],
            "photos": len(items),
            "faces_used": int(len(ids)),
            "people": int(len(np.unique(ids))),
            "photos_without_face": missed,
            "pairs": pairs,
            "verify_threshold": shipped,
            "templates": templates,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
