"""Does averaging each face's embedding with its mirror image's help verification?

Usage::

    .venv/bin/python benchmarks/eval_flip.py SET [SET ...] [--limit N] [--threads T] [--crops FILE.npz]

A labelled set is a folder with ``<identity>/<file>`` photos and ``labels.csv`` (``path,identity``,
paths relative to the folder), e.g. ``/work/shared/photos/celeb5``. Several sets are pooled (identities
are prefixed with the set's name). Per photo the largest face is taken (facenet-pytorch MTCNN on a copy
no larger than 1024 px, crop 160 px with margin 32 from the full-resolution photo); photos without a face
are counted and skipped.

``--yaw T [T ...]`` adds variants that embed the mirror image only for faces turned more than T (|yaw|
from the five landmarks, 0 frontal, 1 profile), with the share of faces that costs twice.

Three embeddings are compared: ``plain`` (no flip), ``flip-raw`` (what photoclust does: mean of the raw
embeddings of the crop and its mirror, then L2-normalised) and ``flip-unit`` (mean of the two unit
embeddings, normalised). Figures: leave-one-out nearest-neighbour identity accuracy, ROC AUC of
genuine vs impostor pair cosine similarity, equal error rate, TAR at FAR 1e-3, and how many faces'
nearest neighbour flips from wrong to right (and right to wrong) against ``plain``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled import label_rows, round_robin  # noqa: E402
from stamp import stamp  # noqa: E402
from verification import evaluate  # noqa: E402

from photoclust.config import CROP_MARGIN, CROP_SIZE, DETECT_LONG_SIDE  # noqa: E402
from photoclust.embed import Embedder  # noqa: E402


def read_sets(sets: list[Path], limit: int | None) -> list[tuple[Path, str]]:
    """(photo path, identity), round-robin over identities so that ``--limit`` keeps many people."""
    by_identity: dict[str, list[Path]] = {}
    for root in sets:
        for path, identity in label_rows(root):
            key = f"{root.name}/{identity}" if len(sets) > 1 else identity
            by_identity.setdefault(key, []).append(root / path)
    return round_robin(by_identity, limit)


def detect_crops(items: list[tuple[Path, str]], threads: int) -> tuple[np.ndarray, list[str], int, np.ndarray]:
    from PIL import Image, ImageOps

    from photoclust._torch import import_facenet_pytorch, set_threads

    set_threads(threads)
    facenet = import_facenet_pytorch()
    from facenet_pytorch.models.utils.detect_face import extract_face

    mtcnn = facenet.MTCNN(image_size=CROP_SIZE, margin=CROP_MARGIN, post_process=False, device="cpu")
    from photoclust.detect.quality import yaw_from_landmarks

    crops, ids, missed, yaws = [], [], 0, []
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
        boxes, _, points = mtcnn.detect(small, landmarks=True)
        if boxes is None or len(boxes) == 0:
            missed += 1
            continue
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        largest = int(np.argmax(areas))
        box = boxes[largest] / scale
        yaws.append(yaw_from_landmarks(tuple((float(x), float(y)) for x, y in points[largest])))
        face = extract_face(img, box, CROP_SIZE, CROP_MARGIN)
        crops.append(face.permute(1, 2, 0).round().clamp(0, 255).byte().numpy())
        ids.append(identity)
        if (i + 1) % 100 == 0:
            print(f"  detected {i + 1}/{len(items)} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    empty = np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    return (np.stack(crops) if crops else empty), ids, missed, np.array(yaws, dtype=np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("sets", nargs="+", type=Path, help="labelled set folder(s) with labels.csv")
    ap.add_argument("--limit", type=int, default=None, help="at most N photos (round-robin over people)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--crops", type=Path, default=None, help="cache detected crops in this .npz")
    ap.add_argument(
        "--yaw", type=float, nargs="*", default=[], help="also: flip-averaged only for faces with |yaw| > T"
    )
    args = ap.parse_args()
    print(stamp(), flush=True)

    t0 = time.perf_counter()
    if args.crops is not None and args.crops.exists():
        saved = np.load(args.crops)
        crops, ids_list, missed = saved["crops"], [str(s) for s in saved["ids"]], int(saved["missed"])
        yaws = saved["yaws"] if "yaws" in saved else np.zeros(len(ids_list), np.float32)
        print(f"crops loaded from {args.crops}")
    else:
        items = read_sets(args.sets, args.limit)
        print(f"{len(items)} photos of {len({i for _, i in items})} people in {', '.join(map(str, args.sets))}")
        crops, ids_list, missed, yaws = detect_crops(items, args.threads)
        if args.crops is not None:
            np.savez(args.crops, crops=crops, ids=np.array(ids_list), missed=missed, yaws=yaws)
    t_detect = time.perf_counter() - t0
    # Keep only people who still have two faces after detection.
    ids = np.array(ids_list)
    names, counts = np.unique(ids, return_counts=True)
    keep = np.isin(ids, names[counts >= 2])
    crops, ids, yaws = crops[keep], ids[keep], yaws[keep]
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
    variants = [("plain", plain), ("flip-raw", flip_raw), ("flip-unit", flip_unit)]
    for t in args.yaw:  # the mirror only for faces turned more than t (|yaw| from the landmarks)
        turned = np.abs(yaws) > t
        variants.append((f"yaw>{t:g}", np.where(turned[:, None], flip_raw, plain)))
        print(f"yaw>{t:g}: {100 * turned.mean():.1f} % of the faces embedded twice")
    for name, vectors in variants:
        r = evaluate(vectors, ids)
        gained = int((r.nn_ok & ~base.nn_ok).sum())
        lost = int((~r.nn_ok & base.nn_ok).sum())
        print(
            f"{name:<10} {r.nn_acc:8.4f} {r.auc:9.5f} {r.eer:7.4f} {r.tar:12.4f} "
            f"{r.genuine:8.4f} {r.impostor:9.4f}" + (f"   NN vs plain: +{gained} / -{lost}" if name != "plain" else "")
        )


if __name__ == "__main__":
    main()
