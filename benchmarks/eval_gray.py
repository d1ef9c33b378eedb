"""Should every face be embedded from a grayscale crop instead of the colour one?

Usage::

    .venv/bin/python benchmarks/eval_gray.py GROUP [GROUP ...] [--limit N] [--threads T] [--cache DIR]
        [--bias-n 300] [--real-gray SET] [--real-n 150] [--seed S]

A GROUP is a labelled set folder (``<identity>/<file>`` photos and ``labels.csv``, e.g.
``/work/shared/photos/celeba_wild``) or several joined with commas, which are pooled (identities prefixed
with the set's name). Per photo the largest face is taken (``photoclust.detect.Detector``, as the scan does;
detections cached as by ``eval_align.py``) and cropped as photoclust crops it (``face_crop``: 160 px, margin
32, eyes levelled); photos without a face and people left with one face are skipped. ``--limit`` keeps at
most N photos per set, round-robin over people.

Embeddings (``Embedder(flip_average=True)``, i.e. what photoclust stores: raw embeddings of the crop and its
mirror averaged, then L2-normalised):

* ``colour``: the colour crop (today);
* ``gray``: the crop converted to L (Pillow, ITU-R 601) and replicated to three channels;
* ``avg``: ``colour`` and ``gray`` unit embeddings averaged and normalised.

Figures, per group:

* per variant, leave-one-out nearest-neighbour identity accuracy, ROC AUC, EER, TAR at FAR 1e-3 and mean
  genuine / impostor cosine (``verification.evaluate``), on the photos as they are (``pure``) and on a
  *mixed* library where every other photo of each person is replaced by its B&W copy (``mixed``; under
  ``colour`` a B&W photo's embedding is the ``gray`` one, since its crop already is gray);
* colour <-> B&W consistency: cosine distance between the embedding of a colour crop and that of its B&W copy
  under each variant (median, 95th percentile, share above ``config.VERIFY_THRESHOLD``): ``colour`` compares
  ``colour`` with ``gray``, ``gray`` is 0 by construction, ``avg`` compares ``avg`` with ``gray``;
* B&W bias (first group only): ``--bias-n`` faces, round-robin over people, split at random into a colour
  half and a half replaced by B&W copies; impostor pairs (different people) only: mean cosine within the B&W
  half, within the colour half and across, and the share of those pairs accepted as the same person at
  the variant's own FAR 1e-3 threshold (from the group's ``pure`` impostors) and, for ``colour``, at
  ``config.VERIFY_THRESHOLD``; plus the same ``--bias-n`` faces all colour vs all B&W.
* ``--real-gray``: the same bias figures with real grayscale photos: ``--real-n`` photos of different people
  of that set (e.g. ``/work/shared/photos/lfw_gray_a``) as the B&W half, against as many colour faces of
  the first group.

Caches (``--cache``, default ``bench-out/eval_gray``): per set ``<set>.npz`` with the detections (the
format of ``eval_align.py``), the crops and the embeddings keyed by a hash of the crops; a second run only
reads them.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_align import ROOT, detect, embed_cached, load_cache, load_photo, read_set, save_cache  # noqa: E402
from PIL import Image  # noqa: E402
from stamp import stamp  # noqa: E402
from verification import evaluate  # noqa: E402

from photoclust.config import CROP_SIZE, VERIFY_THRESHOLD  # noqa: E402
from photoclust.detect.quality import CROP_ALIGN, face_crop  # noqa: E402
from photoclust.types import DetectedFace  # noqa: E402

VARIANTS = ("colour", "gray", "avg")
FAR = 1e-3


@dataclass
class Faces:
    """Largest face per photo of one or several sets: colour and gray unit embeddings, identities."""

    name: str
    ids: np.ndarray  # (N,) str
    colour: np.ndarray  # (N, 512)
    gray: np.ndarray  # (N, 512)

    def variant(self, name: str, bw: np.ndarray | None = None) -> np.ndarray:
        """Embeddings under ``name``; faces flagged in ``bw`` are B&W copies (their crop is gray)."""
        if name == "gray":
            return self.gray
        colour = self.colour if name == "colour" else unit(self.colour + self.gray)
        return colour if bw is None else np.where(bw[:, None], self.gray, colour)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def to_gray(crops: np.ndarray) -> np.ndarray:
    """RGB crops -> Pillow ``convert("L")`` replicated to three channels."""
    out = np.empty_like(crops)
    for i, c in enumerate(crops):
        out[i] = np.asarray(Image.fromarray(c).convert("L"))[:, :, None]
    return out


def cached_crops(
    root: Path, rels: list[str], det_faces: list[DetectedFace], cache: dict[str, np.ndarray]
) -> np.ndarray:
    """photoclust's crops of the given faces, reusing those cached for the same photo and alignment."""
    known: dict[str, np.ndarray] = {}
    if "crop_paths" in cache and str(cache.get("crop_align", "")) == CROP_ALIGN:
        known = {str(p): cache["crops"][j] for j, p in enumerate(cache["crop_paths"])}
    todo = [(r, f) for r, f in zip(rels, det_faces, strict=True) if r not in known]
    start = time.perf_counter()
    for rel, face in todo:
        known[rel] = face_crop(load_photo(root / rel), face)
    if todo:
        print(f"  {root.name}: {len(todo)} crops in {time.perf_counter() - start:.0f} s", flush=True)
        allp = sorted(known)
        cache["crop_paths"] = np.array(allp)
        cache["crops"] = np.stack([known[p] for p in allp])
        cache["crop_align"] = np.array(CROP_ALIGN)
    empty = np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    return np.stack([known[r] for r in rels]) if rels else empty


def load_set(
    root: Path, limit: int | None, args: argparse.Namespace, embedder: object
) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], int]:
    """(rows of (identity, colour, gray) per face found, photos without a face) for one set."""
    items = read_set(root, limit)
    cache_path = args.cache / f"{root.name}.npz"
    cache = load_cache(cache_path)
    det = detect(root, [p for p, _ in items], cache, args.threads)
    idx = np.flatnonzero(det.found)
    rels = [det.paths[i] for i in idx]
    crops = cached_crops(root, rels, [det.face(int(i)) for i in idx], cache)
    colour = embed_cached(crops, "colour", cache, embedder)
    gray = embed_cached(to_gray(crops), "gray", cache, embedder)
    save_cache(cache_path, cache)
    rows = [(items[i][1], colour[n], gray[n]) for n, i in enumerate(idx)]
    return rows, int((~det.found).sum())


def load_group(spec: str, args: argparse.Namespace, embedder: object, min_faces: int = 2) -> Faces:
    roots = [Path(p) for p in spec.split(",") if p]
    ids, colour, gray, missed = [], [], [], 0
    for root in roots:
        rows, miss = load_set(root, args.limit, args, embedder)
        missed += miss
        for identity, c, g in rows:
            ids.append(f"{root.name}/{identity}" if len(roots) > 1 else identity)
            colour.append(c)
            gray.append(g)
    ids_a = np.array(ids)
    names, counts = np.unique(ids_a, return_counts=True)
    keep = np.isin(ids_a, names[counts >= min_faces])
    faces = Faces(
        name="+".join(r.name for r in roots), ids=ids_a[keep], colour=np.array(colour)[keep], gray=np.array(gray)[keep]
    )
    print(
        f"\n== {faces.name}: {len(faces.ids)} faces of {len(np.unique(faces.ids))} people ({missed} photos "
        f"without a face, {int((~keep).sum())} faces alone of their identity dropped)"
    )
    return faces


def rank_in_identity(ids: np.ndarray) -> np.ndarray:
    """Per face: how many faces of the same identity come before it (0 for each person's first)."""
    seen: dict[str, int] = {}
    out = np.zeros(len(ids), int)
    for i, identity in enumerate(ids):
        out[i] = seen.get(identity, 0)
        seen[identity] = out[i] + 1
    return out


def alternate(ids: np.ndarray) -> np.ndarray:
    """Every other face of each identity (its 2nd, 4th...) flagged: the B&W half of the mixed library."""
    return rank_in_identity(ids) % 2 == 1


def report_group(faces: Faces) -> dict[str, float]:
    """Print the verification table and the consistency figures; return each variant's FAR 1e-3
    similarity threshold on the pure faces."""
    bw = alternate(faces.ids)
    thresholds: dict[str, float] = {}
    print(f"  mixed library: {int(bw.sum())} of {len(bw)} faces replaced by their B&W copy")
    print(
        f"  {'variant':<8} {'library':<7} {'NN acc':>7} {'ROC AUC':>8} {'EER':>7} {'TAR@1e-3':>9} "
        f"{'genuine':>8} {'impostor':>9} {'NN vs colour':>13}"
    )
    base = {lib: evaluate(faces.variant("colour", m), faces.ids) for lib, m in (("pure", None), ("mixed", bw))}
    for name in VARIANTS:
        for lib, mask in (("pure", None), ("mixed", bw)):
            vec = faces.variant(name, mask)
            r = evaluate(vec, faces.ids)
            if lib == "pure":
                thresholds[name] = impostor_threshold(vec, faces.ids)
            b = base[lib]
            delta = f"+{int((r.nn_ok & ~b.nn_ok).sum())}/-{int((~r.nn_ok & b.nn_ok).sum())}"
            print(
                f"  {name:<8} {lib:<7} {r.nn_acc:7.4f} {r.auc:8.5f} {r.eer:7.4f} {r.tar:9.4f} "
                f"{r.genuine:8.4f} {r.impostor:9.4f} {delta if name != 'colour' else '':>13}"
            )
    print("  colour <-> B&W copy of the same crop, cosine distance:")
    for name in VARIANTS:
        d = 1.0 - np.sum(faces.variant(name) * faces.gray, axis=1)
        print(
            f"    {name:<8} median {np.median(d):.4f}  p95 {np.quantile(d, 0.95):.4f}  max {d.max():.4f}  "
            f"> VERIFY_THRESHOLD {VERIFY_THRESHOLD}: {int((d > VERIFY_THRESHOLD).sum())} of {len(d)}"
        )
    genuine_d = 1.0 - pair_sims(faces.colour, faces.ids, same=True)
    print(
        f"    (for scale: genuine pairs of different colour photos, colour: median {np.median(genuine_d):.4f}, "
        f"p5 {np.quantile(genuine_d, 0.05):.4f})"
    )
    return thresholds


def pair_sims(
    v: np.ndarray, ids: np.ndarray, *, same: bool, w: np.ndarray | None = None, wids: np.ndarray | None = None
) -> np.ndarray:
    """Cosines of genuine (``same``) or impostor pairs: within ``v`` (each pair once), or between ``v`` and
    ``w`` (labelled ``wids``) when given."""
    if w is None or wids is None:
        iu = np.triu_indices(len(ids), k=1)
        sim, eq = (v @ v.T)[iu], (ids[:, None] == ids[None, :])[iu]
    else:
        sim, eq = (v @ w.T).ravel(), (ids[:, None] == wids[None, :]).ravel()
    return sim[eq] if same else sim[~eq]


def impostor_threshold(v: np.ndarray, ids: np.ndarray) -> float:
    """The similarity above which 1 in 1,000 impostor pairs lies (as ``verification.tar_at_far``)."""
    return float(np.quantile(pair_sims(v, ids, same=False), 1.0 - FAR, method="higher"))


def bias_line(label: str, sims: np.ndarray, t_own: float, t_cal: float | None) -> str:
    line = f"    {label:<22} {len(sims):>6} {sims.mean():8.4f} {sims.std():7.4f} {(sims > t_own).mean():10.4f}"
    return line + (f" {(sims >= 1.0 - t_cal).mean():12.4f}" if t_cal is not None else "")


def bias_table(
    title: str,
    colour_side: tuple[Faces, np.ndarray],
    bw_side: tuple[Faces, np.ndarray],
    thresholds: dict[str, float],
    bw_is_copy: bool,
) -> None:
    """Impostor cosines within the B&W half, within the colour half and across, under each variant."""
    (cf, ci), (bf, bi) = colour_side, bw_side
    print(f"  {title}")
    print(
        f"    {'variant / pairs':<22} {'pairs':>6} {'mean':>8} {'std':>7} {'FAR@own':>10} "
        f"{'FAR@' + str(VERIFY_THRESHOLD):>12}"
    )
    for name in VARIANTS:
        c = cf.variant(name)[ci]
        # A B&W copy's crop is gray, so every variant embeds it as ``gray`` (``avg`` of gray and gray).
        b = bf.gray[bi] if bw_is_copy else bf.variant(name)[bi]
        t_own = thresholds[name]
        t_cal = VERIFY_THRESHOLD if name == "colour" else None
        cid, bid = cf.ids[ci], bf.ids[bi]
        print(f"    {name}")
        print(bias_line("  B&W x B&W", pair_sims(b, bid, same=False), t_own, t_cal))
        print(bias_line("  colour x colour", pair_sims(c, cid, same=False), t_own, t_cal))
        print(bias_line("  colour x B&W", pair_sims(c, cid, same=False, w=b, wids=bid), t_own, t_cal))


def report_bias(faces: Faces, n: int, thresholds: dict[str, float], seed: int) -> None:
    """``n`` faces round-robin over people (the group's order), half of them (at random) B&W copies."""
    rng = np.random.default_rng(seed)
    order = np.argsort(rank_in_identity(faces.ids), kind="stable")
    pick = order[: min(n, len(order))]
    perm = rng.permutation(pick)
    half = len(perm) // 2
    ci, bi = np.sort(perm[:half]), np.sort(perm[half:])
    print(f"\n== B&W bias, {faces.name}: {len(pick)} faces of {len(np.unique(faces.ids[pick]))} people, impostor pairs")
    bias_table(
        f"colour half {len(ci)} faces, B&W copies of the other {len(bi)}:",
        (faces, ci),
        (faces, bi),
        thresholds,
        bw_is_copy=True,
    )
    print("  the same faces all colour vs all B&W copies (impostor pairs), under colour:")
    all_c = pair_sims(faces.colour[pick], faces.ids[pick], same=False)
    all_g = pair_sims(faces.gray[pick], faces.ids[pick], same=False)
    t = thresholds["colour"]
    print(
        f"    all colour: mean {all_c.mean():.4f}, FAR@own {(all_c > t).mean():.4f}, "
        f"FAR@{VERIFY_THRESHOLD} {(all_c >= 1 - VERIFY_THRESHOLD).mean():.4f}"
    )
    print(
        f"    all B&W:    mean {all_g.mean():.4f}, FAR@own {(all_g > t).mean():.4f}, "
        f"FAR@{VERIFY_THRESHOLD} {(all_g >= 1 - VERIFY_THRESHOLD).mean():.4f}"
    )


def report_real_gray(faces: Faces, real: Faces, n: int, thresholds: dict[str, float], seed: int) -> None:
    """``n`` real B&W faces of different people against ``n`` colour faces of ``faces`` (round-robin)."""
    rng = np.random.default_rng(seed)
    _, first = np.unique(real.ids, return_index=True)
    bi = np.sort(rng.permutation(first)[: min(n, len(first))])
    order = np.argsort(rank_in_identity(faces.ids), kind="stable")
    ci = np.sort(order[: len(bi)])
    print(f"\n== real B&W: {len(bi)} {real.name} faces of different people vs {len(ci)} {faces.name} colour faces")
    bias_table("impostor pairs:", (faces, ci), (real, bi), thresholds, bw_is_copy=False)
    d = 1.0 - np.sum(real.colour * real.gray, axis=1)
    print(f"  (check: {real.name} colour vs gray embedding distance, max {d.max():.2e}: its photos are gray)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("groups", nargs="+", help="labelled set folder(s); comma-separated folders are pooled")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos per set (round-robin over people)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench-out" / "eval_gray", help="cache folder")
    ap.add_argument("--bias-n", type=int, default=300, help="faces of the first group for the B&W-bias figure")
    ap.add_argument("--real-gray", type=str, default=None, help="a grayscale labelled set, e.g. lfw_gray_a")
    ap.add_argument("--real-n", type=int, default=150, help="photos (of different people) of --real-gray")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(stamp(), flush=True)

    from photoclust.embed import Embedder

    t0 = time.perf_counter()
    embedder = Embedder(device="cpu", flip_average=True, threads=args.threads)
    first: tuple[Faces, dict[str, float]] | None = None
    for spec in args.groups:
        faces = load_group(spec, args, embedder)
        thresholds = report_group(faces)
        if first is None:
            first = (faces, thresholds)
    assert first is not None
    report_bias(first[0], args.bias_n, first[1], args.seed)
    if args.real_gray:
        # One photo per person is needed: --real-n people, round-robin takes each one's first photo first.
        saved, args.limit = args.limit, args.real_n
        real = load_group(args.real_gray, args, embedder, min_faces=1)
        args.limit = saved
        report_real_gray(first[0], real, args.real_n, first[1], args.seed)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
