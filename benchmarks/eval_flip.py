"""Does averaging each face's embedding with its mirror image's help verification?

Usage::

    .venv/bin/python benchmarks/eval_flip.py SET [SET ...] [--limit N] [--threads T] [--crops FILE.npz]

A labelled set is a folder with ``<identity>/<file>`` photos and ``labels.csv`` (``path,identity``,
paths relative to the folder), e.g. ``/work/shared/photos/celeb5``. Several sets are pooled (identities
are prefixed with the set's name). Per photo the largest face is taken (facenet-pytorch MTCNN on a copy
no larger than 1024 px, crop 160 px with margin 32 from the full-resolution photo); photos without a face
are counted and skipped.

Three embeddings are compared: ``plain`` (no flip), ``flip-raw`` (what photoclust does: mean of the raw
embeddings of the crop and its mirror, then L2-normalised) and ``flip-unit`` (mean of the two unit
embeddings, normalised). Figures: leave-one-out nearest-neighbour identity accuracy, ROC AUC of
genuine vs impostor pair cosine similarity, equal error rate, TAR at FAR 1e-3, and how many faces'
nearest neighbour flips from wrong to right (and right to wrong) against ``plain``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photoclust.config import CROP_MARGIN, CROP_SIZE, DETECT_LONG_SIDE  # noqa: E402
from photoclust.embed import Embedder  # noqa: E402


def read_sets(sets: list[Path], limit: int | None) -> list[tuple[Path, str]]:
    """(photo path, identity), round-robin over identities so that ``--limit`` keeps many people."""
    by_identity: dict[str, list[Path]] = {}
    for root in sets:
        with open(root / "labels.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                key = f"{root.name}/{row['identity']}" if len(sets) > 1 else row["identity"]
                by_identity.setdefault(key, []).append(root / row["path"])
    # Identities with a single photo cannot produce a genuine pair or a correct nearest neighbour.
    queues = {k: sorted(v) for k, v in sorted(by_identity.items()) if len(v) >= 2}
    out: list[tuple[Path, str]] = []
    depth = 0
    while any(len(v) > depth for v in queues.values()):
        for identity, paths in queues.items():
            if depth < len(paths):
                out.append((paths[depth], identity))
        depth += 1
    if limit is not None:
        out = out[:limit]
    return out


def detect_crops(items: list[tuple[Path, str]], threads: int) -> tuple[np.ndarray, list[str], int]:
    from PIL import Image, ImageOps

    from photoclust._torch import import_facenet_pytorch, set_threads

    set_threads(threads)
    facenet = import_facenet_pytorch()
    from facenet_pytorch.models.utils.detect_face import extract_face

    mtcnn = facenet.MTCNN(image_size=CROP_SIZE, margin=CROP_MARGIN, post_process=False, device="cpu")
    crops, ids, missed = [], [], 0
    start = time.perf_counter()
    for i, (path, identity) in enumerate(items):
        try:
            with Image.open(path) as im:
                img = ImageOps.exif_transpose(im).convert("RGB")
        except OSError as exc:
            print(f"  skip {path}: {exc}", file=sys.stderr)
            missed += 1
            continue
        scale = min(1.0, DETECT_LONG_SIDE / max(img.size))
        small = img.resize((round(img.width * scale), round(img.height * scale))) if scale < 1 else img
        boxes, _ = mtcnn.detect(small)
        if boxes is None or len(boxes) == 0:
            missed += 1
            continue
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        box = boxes[int(np.argmax(areas))] / scale
        face = extract_face(img, box, CROP_SIZE, CROP_MARGIN)
        crops.append(face.permute(1, 2, 0).round().clamp(0, 255).byte().numpy())
        ids.append(identity)
        if (i + 1) % 100 == 0:
            print(f"  detected {i + 1}/{len(items)} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    empty = np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    return (np.stack(crops) if crops else empty), ids, missed


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Probability that a genuine pair scores above an impostor pair (ties count half)."""
    scores = np.concatenate([genuine, impostor])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    n_g, n_i = len(genuine), len(impostor)
    return float((ranks[:n_g].sum() - n_g * (n_g + 1) / 2.0) / (n_g * n_i))


def eer_and_tar(genuine: np.ndarray, impostor: np.ndarray, far: float = 1e-3) -> tuple[float, float]:
    thresholds = np.unique(np.concatenate([genuine, impostor]))
    g = np.sort(genuine)
    imp = np.sort(impostor)
    frr = np.searchsorted(g, thresholds, side="left") / len(g)  # genuine below threshold
    fars = 1.0 - np.searchsorted(imp, thresholds, side="left") / len(imp)  # impostors at/above
    i = int(np.argmin(np.abs(frr - fars)))
    eer = float((frr[i] + fars[i]) / 2)
    threshold = np.quantile(imp, 1.0 - far, method="higher")
    tar = float((genuine > threshold).mean())
    return eer, tar


@dataclass
class Result:
    nn_ok: np.ndarray
    nn_acc: float
    auc: float
    eer: float
    tar: float
    genuine: float
    impostor: float
    pairs: tuple[int, int]


def evaluate(vectors: np.ndarray, ids: np.ndarray) -> Result:
    sim = vectors @ vectors.T
    n = len(ids)
    np.fill_diagonal(sim, -np.inf)
    nearest_ok = ids[np.argmax(sim, axis=1)] == ids
    iu = np.triu_indices(n, k=1)
    same = (ids[:, None] == ids[None, :])[iu]
    scores = sim[iu]
    genuine, impostor = scores[same], scores[~same]
    eer, tar = eer_and_tar(genuine, impostor)
    return Result(
        nn_ok=nearest_ok,
        nn_acc=float(nearest_ok.mean()),
        auc=roc_auc(genuine, impostor),
        eer=eer,
        tar=tar,
        genuine=float(genuine.mean()),
        impostor=float(impostor.mean()),
        pairs=(len(genuine), len(impostor)),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("sets", nargs="+", type=Path, help="labelled set folder(s) with labels.csv")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos (round-robin over people)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--crops", type=Path, default=None, help="cache detected crops in this .npz")
    args = ap.parse_args()

    t0 = time.perf_counter()
    if args.crops is not None and args.crops.exists():
        saved = np.load(args.crops)
        crops, ids_list, missed = saved["crops"], [str(s) for s in saved["ids"]], int(saved["missed"])
        print(f"crops loaded from {args.crops}")
    else:
        items = read_sets(args.sets, args.limit)
        print(f"{len(items)} photos of {len({i for _, i in items})} people in {', '.join(map(str, args.sets))}")
        crops, ids_list, missed = detect_crops(items, args.threads)
        if args.crops is not None:
            np.savez(args.crops, crops=crops, ids=np.array(ids_list), missed=missed)
    t_detect = time.perf_counter() - t0
    # Keep only people who still have two faces after detection.
    ids = np.array(ids_list)
    names, counts = np.unique(ids, return_counts=True)
    keep = np.isin(ids, names[counts >= 2])
    crops, ids = crops[keep], ids[keep]
    print(
        f"{len(ids)} faces of {len(np.unique(ids))} people ({missed} photos without a face, "
        f"{int((~keep).sum())} faces alone of their identity dropped); detection {t_detect:.0f} s"
    )

    t1 = time.perf_counter()
    plain_embedder = Embedder(device="cpu", flip_average=False, threads=args.threads)
    plain = plain_embedder.embed(crops)
    mirrored = plain_embedder.embed(np.ascontiguousarray(crops[:, :, ::-1]))
    flip_raw = Embedder(device="cpu", flip_average=True, threads=args.threads).embed(crops)
    unit = plain + mirrored
    flip_unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    print(f"embedding: {time.perf_counter() - t1:.0f} s for 4 passes over {len(ids)} faces")
    print(f"cosine(plain, mirrored): mean {float(np.mean(np.sum(plain * mirrored, axis=1))):.4f}")

    base = evaluate(plain, ids)
    g, i = base.pairs
    print(f"{g} genuine pairs, {i} impostor pairs")
    print(f"{'variant':<10} {'NN acc':>8} {'ROC AUC':>9} {'EER':>7} {'TAR@FAR1e-3':>12} {'genuine':>8} {'impostor':>9}")
    for name, vectors in (("plain", plain), ("flip-raw", flip_raw), ("flip-unit", flip_unit)):
        r = evaluate(vectors, ids)
        gained = int((r.nn_ok & ~base.nn_ok).sum())
        lost = int((~r.nn_ok & base.nn_ok).sum())
        print(
            f"{name:<10} {r.nn_acc:8.4f} {r.auc:9.5f} {r.eer:7.4f} {r.tar:12.4f} "
            f"{r.genuine:8.4f} {r.impostor:9.4f}" + (f"   NN vs plain: +{gained} / -{lost}" if name != "plain" else "")
        )


if __name__ == "__main__":
    main()
