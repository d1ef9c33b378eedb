"""Does aligning the face crop help FaceNet verification and identification on in-the-wild photos?

Usage::

    .venv/bin/python benchmarks/eval_align.py SET [SET ...] [--limit N] [--threads T] [--cache DIR]
        [--variants box,pad,roll,similarity] [--bootstrap B]

A labelled set is a folder with ``<identity>/<file>`` photos and ``labels.csv`` (``path,identity``,
paths relative to the folder), e.g. ``/work/shared/photos/celeba_wild``. Each set is measured on its own.
Per photo the largest face is taken (``photoclust.detect.Detector``, sideways passes included, as the scan
does); photos without a face are counted and skipped, and so are people left with a single face.

Crop variants (all 160x160, fed to ``Embedder(device="cpu", flip_average=True)``):

* ``box``: today's crop, facenet-pytorch's ``extract_face`` convention (box plus margin 32, clamped to the
  photo, no rotation; sideways faces turned upright by quarter turns) - ``quality.extract_crop``;
* ``pad``: the same square, but with float bounds and the part outside the photo filled with the photo's
  edge pixels instead of clamping (isolates the border handling of the two warped variants);
* ``roll``: ``pad`` rotated about the box centre so that the eye line is horizontal (same size and margin);
* ``similarity``: the five landmarks fitted (least squares, rotation + uniform scale + shift) to
  ``quality.FACE_TEMPLATE``, an average face in box-crop geometry;
* ``roll5``: ``roll`` with the tilt taken from the least-squares similarity fit of all five landmarks to
  the template instead of the eye line; ``roll-reflect`` / ``roll-black``: ``roll`` with the part past the
  photo mirrored / black instead of repeating the edge pixels (not run unless named in ``--variants``);
* ``roll>T`` (derived, no extra embedding): ``roll`` for faces tilted by more than T degrees, ``box`` else.

Figures per variant: leave-one-out nearest-neighbour identity accuracy, ROC AUC of genuine vs impostor
pair cosine similarity, TAR at FAR 1e-3, equal error rate, mean genuine / impostor cosine, how many faces'
nearest neighbour turns right (+) or wrong (-) against ``box``, NN accuracy on the tilted faces
(|roll| > 10 degrees), and (``--bootstrap``) a 90% interval of the TAR difference against ``box`` from
resampling identities.

Caches (``--cache``, default ``bench-out/eval_align``): one ``<set>.npz`` per set with the largest face's
box, landmarks and probability per photo, and the embeddings per variant keyed by a hash of the crops, so a
rerun detects and embeds only what changed.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled import label_rows, round_robin  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from stamp import stamp  # noqa: E402
from verification import evaluate, tar_at_far  # noqa: E402

from photoclust.detect.quality import (  # noqa: E402
    FACE_TEMPLATE,
    crop_transform,
    extract_crop,
    roll_angle,
    roll_transform,
    similarity_transform,
    upright_turns,
    warp_crop,
)
from photoclust.types import DetectedFace  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASE_VARIANTS = ("box", "pad", "roll", "similarity")
GATES_DEG = (5.0, 10.0, 15.0)
TILTED_DEG = 10.0


def read_set(root: Path, limit: int | None) -> list[tuple[str, str]]:
    """(path relative to ``root``, identity), round-robin over identities so that ``--limit`` keeps many people."""
    by_identity: dict[str, list[str]] = {}
    for path, identity in label_rows(root):
        by_identity.setdefault(identity, []).append(path)
    return round_robin(by_identity, limit)


def load_photo(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


# --- detection, cached ---------------------------------------------------------------------------------------


@dataclass
class Detections:
    """The largest face per photo: ``found[i]`` False when none (or the photo could not be read)."""

    paths: list[str]
    found: np.ndarray  # (N,) bool
    boxes: np.ndarray  # (N, 4)
    landmarks: np.ndarray  # (N, 5, 2)
    probability: np.ndarray  # (N,)

    def face(self, i: int) -> DetectedFace:
        box = tuple(float(v) for v in self.boxes[i])
        lms = tuple((float(x), float(y)) for x, y in self.landmarks[i])
        return DetectedFace(box=box, landmarks=lms, probability=float(self.probability[i]))  # type: ignore[arg-type]


def load_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_cache(path: Path, data: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **data)  # type: ignore[arg-type]
    tmp.replace(path)


def detect(root: Path, rels: list[str], cache: dict[str, np.ndarray], threads: int) -> Detections:
    known: dict[str, tuple[bool, np.ndarray, np.ndarray, float]] = {}
    if "det_paths" in cache:
        for j, p in enumerate(cache["det_paths"]):
            known[str(p)] = (
                bool(cache["det_found"][j]),
                cache["det_boxes"][j],
                cache["det_landmarks"][j],
                float(cache["det_probability"][j]),
            )
    todo = [r for r in rels if r not in known]
    if todo:
        from photoclust._torch import set_threads
        from photoclust.detect import Detector

        set_threads(threads)
        detector = Detector(device="cpu")
        start = time.perf_counter()
        for i, rel in enumerate(todo):
            try:
                faces = detector.detect(load_photo(root / rel))
            except OSError as exc:
                print(f"  skip {rel}: {exc}", file=sys.stderr)
                faces = []
            if faces:
                f = faces[0]  # largest first
                known[rel] = (True, np.array(f.box), np.array(f.landmarks), f.probability)
            else:
                known[rel] = (False, np.zeros(4), np.zeros((5, 2)), 0.0)
            if (i + 1) % 100 == 0:
                print(f"  detected {i + 1}/{len(todo)} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        allp = sorted(known)
        cache["det_paths"] = np.array(allp)
        cache["det_found"] = np.array([known[p][0] for p in allp])
        cache["det_boxes"] = np.stack([known[p][1] for p in allp]).astype(np.float64)
        cache["det_landmarks"] = np.stack([known[p][2] for p in allp]).astype(np.float64)
        cache["det_probability"] = np.array([known[p][3] for p in allp])
    return Detections(
        paths=rels,
        found=np.array([known[r][0] for r in rels]),
        boxes=np.stack([known[r][1] for r in rels]) if rels else np.zeros((0, 4)),
        landmarks=np.stack([known[r][2] for r in rels]) if rels else np.zeros((0, 5, 2)),
        probability=np.array([known[r][3] for r in rels]),
    )


# --- crops and embeddings -----------------------------------------------------------------------------------


def make_crop(full: Image.Image, face: DetectedFace, variant: str) -> np.ndarray:
    if variant == "box":
        return extract_crop(full, face.box, upright_turns(face.landmarks))
    if variant == "pad":
        return warp_crop(full, crop_transform(face.box, face.landmarks, full.size, "box"))
    if variant == "roll":
        return warp_crop(full, crop_transform(face.box, face.landmarks, full.size, "roll"))
    if variant == "similarity":
        return warp_crop(full, crop_transform(face.box, face.landmarks, full.size, "similarity"))
    if variant == "roll5":
        return warp_crop(full, roll_transform(face.box, face.landmarks, full.size, angle=_template_roll(face)))
    if variant == "roll-reflect":
        return warp_crop(full, crop_transform(face.box, face.landmarks, full.size, "roll"), pad="reflect")
    if variant == "roll-black":
        return warp_crop(full, crop_transform(face.box, face.landmarks, full.size, "roll"), pad="black")
    raise ValueError(f"unknown variant {variant!r}")


def build_crops(root: Path, det: Detections, idx: np.ndarray, variants: list[str]) -> dict[str, np.ndarray]:
    crops = {v: np.empty((len(idx), 160, 160, 3), np.uint8) for v in variants}
    start = time.perf_counter()
    for n, i in enumerate(idx):
        full = load_photo(root / det.paths[i])
        face = det.face(int(i))
        for v in variants:
            crops[v][n] = make_crop(full, face, v)
    print(f"  crops: {time.perf_counter() - start:.0f} s for {len(idx)} faces x {len(variants)} variants")
    return crops


def embed_cached(crops: np.ndarray, variant: str, cache: dict[str, np.ndarray], embedder: object) -> np.ndarray:
    digest = hashlib.sha1(crops.tobytes()).hexdigest()[:16]
    key = f"emb_{variant}_{digest}"
    if key in cache:
        return cache[key]
    start = time.perf_counter()
    vectors = embedder.embed(crops)  # type: ignore[attr-defined]
    print(f"  embedded {variant}: {time.perf_counter() - start:.0f} s")
    for old in [k for k in cache if k.startswith(f"emb_{variant}_")]:
        del cache[old]
    cache[key] = vectors
    return vectors


# --- bootstrap ----------------------------------------------------------------------------------------------


def bootstrap_tar_diff(
    a: np.ndarray, b: np.ndarray, ids: np.ndarray, rounds: int, seed: int = 0
) -> tuple[float, float, float]:
    """TAR@FAR1e-3 of ``b`` minus that of ``a`` over ``rounds`` resamplings of the identities (with
    replacement; returns the 5%, 50% and 95% quantiles). A person drawn twice brings their genuine pairs
    twice; pairs across two draws of one person are neither genuine nor impostor and are left out."""
    rng = np.random.default_rng(seed)
    names = np.unique(ids)
    members = [np.flatnonzero(ids == n) for n in names]
    sims = [v @ v.T for v in (a, b)]
    diffs = []
    for _ in range(rounds):
        pick = rng.integers(0, len(names), size=len(names))
        idx = np.concatenate([members[p] for p in pick])
        draw = np.concatenate([np.full(len(members[p]), k) for k, p in enumerate(pick)])
        person = pick[draw]
        iu = np.triu_indices(len(idx), k=1)
        same_draw = (draw[:, None] == draw[None, :])[iu]
        other_person = (person[:, None] != person[None, :])[iu]
        tars = []
        for sim in sims:
            s = sim[np.ix_(idx, idx)][iu]
            tars.append(tar_at_far(s[same_draw], s[other_person]))
        diffs.append(tars[1] - tars[0])
    lo, mid, hi = np.quantile(diffs, [0.05, 0.5, 0.95])
    return float(lo), float(mid), float(hi)


# --- main ------------------------------------------------------------------------------------------------------


def run_set(root: Path, args: argparse.Namespace, embedder: object) -> None:
    items = read_set(root, args.limit)
    cache_path = args.cache / f"{root.name}.npz"
    cache = load_cache(cache_path)
    t0 = time.perf_counter()
    det = detect(root, [p for p, _ in items], cache, args.threads)
    save_cache(cache_path, cache)
    ids_all = np.array([i for _, i in items])
    names, counts = np.unique(ids_all[det.found], return_counts=True)
    keep = det.found & np.isin(ids_all, names[counts >= 2])
    idx = np.flatnonzero(keep)
    ids = ids_all[idx]
    print(
        f"\n== {root}: {len(items)} photos, {len(idx)} faces of {len(np.unique(ids))} people "
        f"({int((~det.found).sum())} photos without a face, {int((det.found & ~keep).sum())} faces alone of "
        f"their identity dropped); detection {time.perf_counter() - t0:.0f} s"
    )
    rolls = np.array([abs(math.degrees(_residual_roll(det.face(int(i))))) for i in idx])
    near_edge = np.array([_reaches_past_edge(root, det, int(i)) for i in idx]) if args.edges else None
    print(
        "  |roll| after quarter turns: median {:.1f} deg; > 5: {}, > 10: {}, > 15: {}, > 25: {} faces".format(
            float(np.median(rolls)), *(int((rolls > t).sum()) for t in (5, 10, 15, 25))
        )
        + (f"; crop reaches past the photo: {int(near_edge.sum())} faces" if near_edge is not None else "")
    )
    crops = build_crops(root, det, idx, args.variants)
    vectors = {v: embed_cached(crops[v], v, cache, embedder) for v in args.variants}
    save_cache(cache_path, cache)
    if "box" in vectors and "roll" in vectors:
        for t in GATES_DEG:
            vectors[f"roll>{t:g}"] = np.where((rolls > t)[:, None], vectors["roll"], vectors["box"])
    base = evaluate(vectors["box"], ids) if "box" in vectors else None
    tilted = rolls > TILTED_DEG
    if base is not None:
        print(
            f"  {base.pairs[0]} genuine pairs, {base.pairs[1]} impostor pairs; {int(tilted.sum())} faces tilted > 10 deg"
        )
    header = (
        f"  {'variant':<12} {'NN acc':>7} {'ROC AUC':>8} {'TAR@1e-3':>9} {'EER':>7} {'genuine':>8} {'impostor':>9}"
        f" {'NN vs box':>10} {'NN tilted':>10}" + ("  TAR diff vs box, 90% (bootstrap)" if args.bootstrap else "")
    )
    print(header)
    for name, vec in vectors.items():
        r = evaluate(vec, ids)
        line = f"  {name:<12} {r.nn_acc:7.4f} {r.auc:8.5f} {r.tar:9.4f} {r.eer:7.4f} {r.genuine:8.4f} {r.impostor:9.4f}"
        if base is not None:
            gained, lost = int((r.nn_ok & ~base.nn_ok).sum()), int((~r.nn_ok & base.nn_ok).sum())
            line += f" {f'+{gained}/-{lost}':>10}"
        tilted_acc = float(r.nn_ok[tilted].mean()) if tilted.any() else float("nan")
        line += f" {tilted_acc:10.4f}"
        if args.bootstrap and base is not None and name != "box":
            lo, mid, hi = bootstrap_tar_diff(vectors["box"], vec, ids, args.bootstrap)
            line += f"  {mid:+.4f} [{lo:+.4f}, {hi:+.4f}]"
        print(line, flush=True)


def _residual_roll(face: DetectedFace) -> float:
    """The eye line's tilt left after ``upright_turns``' quarter turns, radians."""
    from photoclust.detect.quality import Frame

    frame = Frame((1, 1), upright_turns(face.landmarks))
    return roll_angle(frame.landmarks_to_frame(face.landmarks))


def _template_roll(face: DetectedFace) -> float:
    """The rotation of the least-squares similarity fit of ``FACE_TEMPLATE`` to all five landmarks (in the
    frame turned upright by quarter turns), radians: a roll estimate that uses the mouth and nose too."""
    from photoclust.detect.quality import Frame

    frame = Frame((1, 1), upright_turns(face.landmarks))
    a, _, _, d, _, _ = similarity_transform(FACE_TEMPLATE, frame.landmarks_to_frame(face.landmarks))
    return math.atan2(d, a)


def _reaches_past_edge(root: Path, det: Detections, i: int) -> bool:
    with Image.open(root / det.paths[i]) as im:
        w, h = ImageOps.exif_transpose(im).size
    a, b, c, d, e, f = crop_transform(det.face(i).box, det.face(i).landmarks, (w, h), "roll")
    xs = [c + a * u + b * v for u, v in ((0, 0), (160, 0), (0, 160), (160, 160))]
    ys = [f + d * u + e * v for u, v in ((0, 0), (160, 0), (0, 160), (160, 160))]
    return min(xs) < 0 or min(ys) < 0 or max(xs) > w or max(ys) > h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("sets", nargs="+", type=Path, help="labelled set folder(s) with labels.csv")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos per set (round-robin over people)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench-out" / "eval_align", help="cache folder")
    ap.add_argument(
        "--variants",
        type=lambda s: [v for v in s.split(",") if v],
        default=list(BASE_VARIANTS),
        help=f"comma-separated crop variants (default {','.join(BASE_VARIANTS)}; also roll5, roll-reflect, roll-black)",
    )
    ap.add_argument("--bootstrap", type=int, default=0, help="identity-bootstrap rounds for the TAR difference")
    ap.add_argument("--edges", action="store_true", help="count crops that reach past the photo (reads sizes)")
    ap.add_argument("--detect-only", action="store_true", help="only fill the detection cache")
    args = ap.parse_args()
    print(stamp(), flush=True)

    from photoclust.embed import Embedder

    embedder = Embedder(device="cpu", flip_average=True, threads=args.threads)
    for root in args.sets:
        if args.detect_only:
            cache_path = args.cache / f"{root.name}.npz"
            cache = load_cache(cache_path)
            detect(root, [p for p, _ in read_set(root, args.limit)], cache, args.threads)
            save_cache(cache_path, cache)
            continue
        run_set(root, args, embedder)


if __name__ == "__main__":
    main()
