"""The CUDA path: used when present, never required. Skipped on machines without a usable GPU (CI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from photoclust._torch import import_torch
from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.store import blobs_to_matrix

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not import_torch().cuda.is_available(), reason="no CUDA GPU here"),
]


def test_cuda_embeddings_match_cpu() -> None:
    from photoclust.embed import Embedder

    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, size=(16, 160, 160, 3), dtype=np.uint8)
    cpu = Embedder(device="cpu", precision="fp32").embed(crops)
    gpu = Embedder(device="cuda").embed(crops)  # auto: the float network on a GPU
    assert (np.sum(cpu * gpu, axis=1) > 0.9999).all()


def test_scan_on_cuda_matches_cpu(tmp_path: Path, photos_dir: Path) -> None:
    folder = tmp_path / "p"
    for who in ("obama", "madonna"):
        shutil.copytree(photos_dir / who, folder / who)
    out = {}
    for device in ("cpu", "cuda"):
        with Library(tmp_path / f"{device}.db") as lib:
            report = lib.scan([folder], settings=ScanSettings(device=device, workers=2))
            assert report.unreadable == 0
            rows = lib.store.db.execute(
                "SELECT photos.sha256, faces.x1, faces.embedding FROM faces JOIN photos ON photos.id = faces.photo_id"
                " ORDER BY photos.sha256, faces.x1"
            ).fetchall()
            out[device] = ([(r[0], round(r[1])) for r in rows], blobs_to_matrix(r[2] for r in rows))
    assert out["cpu"][0] == out["cuda"][0]
    # The CPU scan embeds with the int8 network, the GPU scan with the float one: the same space.
    assert (np.sum(out["cpu"][1] * out["cuda"][1], axis=1) > 0.99).all()


def test_batched_mtcnn_on_cuda_matches_cpu(photos_dir: Path) -> None:
    """The GPU pipeline's detector: equal-size photos in one MTCNN batch on the GPU find the CPU's faces."""
    from PIL import Image, ImageOps

    from photoclust.detect import Detector

    images = [ImageOps.pad(Image.open(p).convert("RGB"), (640, 480)) for p in sorted(photos_dir.glob("*/*.jpg"))[:12]]
    scales = [1.0] * len(images)
    cpu = Detector(device="cpu").detect_many(images, scales)
    gpu = Detector(device="cuda").detect_many(images, scales)
    assert sum(map(len, cpu)) >= 10
    for a, b in zip(cpu, gpu, strict=True):
        assert len(a) == len(b)
        for fa, fb in zip(a, b, strict=True):
            assert np.allclose(fa.box, fb.box, atol=1.0) and abs(fa.probability - fb.probability) < 1e-3
