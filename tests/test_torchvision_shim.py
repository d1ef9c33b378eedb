"""The torchvision stand-in in photoclust._torch: NMS against a brute-force reference, to_tensor against
torchvision's documented behaviour, and import_facenet_pytorch() with torchvision missing, broken or working
(each in a fresh interpreter, since the choice is made once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photoclust import _torch

torch = _torch.import_torch()

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]


# --- brute-force references ---------------------------------------------------------------------------


def ref_iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def ref_nms(boxes: list[list[float]], scores: list[float], thr: float) -> list[int]:
    """Greedy NMS by definition: visit boxes by decreasing score (ties: lower index first); keep a box
    unless its IoU with an already kept box is greater than ``thr``."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        if all(not ref_iou(boxes[i], boxes[k]) > thr for k in kept):
            kept.append(i)
    return kept


def ref_batched_nms(boxes: list[list[float]], scores: list[float], cats: list[int], thr: float) -> list[int]:
    kept: list[int] = []
    for c in sorted(set(cats)):
        members = [i for i in range(len(cats)) if cats[i] == c]
        sub = ref_nms([boxes[i] for i in members], [scores[i] for i in members], thr)
        kept.extend(members[j] for j in sub)
    return sorted(kept, key=lambda i: (-scores[i], i))


def random_boxes(rng: np.random.Generator, n: int, spread: float = 100.0) -> np.ndarray:
    xy = rng.uniform(0, spread, size=(n, 2))
    wh = rng.uniform(1, spread / 2, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


# --- nms -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(8))
def test_nms_matches_reference_on_random_boxes(seed: int, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    boxes = torch.as_tensor(random_boxes(rng, n), dtype=dtype)
    scores = torch.as_tensor(rng.random(n), dtype=dtype)
    b64 = boxes.double().tolist()
    s64 = scores.double().tolist()
    for thr in THRESHOLDS:
        keep = _torch.nms(boxes, scores, thr)
        assert keep.dtype == torch.int64
        assert keep.tolist() == ref_nms(b64, s64, thr), thr


def test_nms_ties_keep_lower_index_first() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.5, 0.5, 0.5, 0.5])
    assert _torch.nms(boxes, scores, 0.5).tolist() == [0, 2]
    # An identical box (IoU exactly 1.0) is not suppressed when the threshold is 1.0 ("greater than").
    assert _torch.nms(boxes, scores, 1.0).tolist() == [0, 1, 2, 3]


def test_nms_iou_exactly_at_threshold_is_kept() -> None:
    # IoU exactly 0.5 (inter 2, union 4): suppression needs IoU *greater than* the threshold.
    boxes = torch.tensor([[0, 0, 4, 1], [0, 0, 2, 1]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8])
    assert _torch.nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert _torch.nms(boxes, scores, 0.49).tolist() == [0]


def test_nms_empty() -> None:
    keep = _torch.nms(torch.zeros((0, 4)), torch.zeros(0), 0.5)
    assert keep.dtype == torch.int64 and keep.shape == (0,)
    keep = _torch.batched_nms(torch.zeros((0, 4)), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)
    assert keep.dtype == torch.int64 and keep.shape == (0,)


# Coordinates on a 1/4-pixel grid, so the category offsets added by batched_nms are exact in float32 and the
# reference (which never offsets) sees the very same IoUs. torchvision's contract: 0 <= x1 < x2, 0 <= y1 < y2.
_coord = st.integers(0, 400).map(lambda v: v / 4)
_size = st.integers(1, 200).map(lambda v: v / 4)
_box = st.tuples(_coord, _coord, _size, _size).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])
_score = st.integers(0, 20).map(lambda v: v / 20)  # few distinct values: many ties


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.tuples(_box, _score, st.integers(0, 3)), min_size=1, max_size=40),
    thr=st.sampled_from(THRESHOLDS),
)
def test_batched_nms_matches_reference(data: list[tuple[list[float], float, int]], thr: float) -> None:
    boxes = [d[0] for d in data]
    scores = [d[1] for d in data]
    cats = [d[2] for d in data]
    keep = _torch.batched_nms(
        torch.tensor(boxes, dtype=torch.float32),
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(cats, dtype=torch.int64),
        thr,
    )
    s32 = torch.tensor(scores, dtype=torch.float32).double().tolist()
    assert keep.tolist() == ref_batched_nms(boxes, s32, cats, thr)


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(st.tuples(_box, _score), min_size=1, max_size=40),
    thr=st.sampled_from(THRESHOLDS),
)
def test_nms_matches_reference_with_ties(data: list[tuple[list[float], float]], thr: float) -> None:
    boxes = [d[0] for d in data]
    scores = [d[1] for d in data]
    keep = _torch.nms(torch.tensor(boxes), torch.tensor(scores, dtype=torch.float64), thr)
    assert keep.tolist() == ref_nms(boxes, scores, thr)


def test_batched_nms_single_category_allows_negative_coordinates() -> None:
    # facenet-pytorch passes MTCNN boxes that can start left of / above the image, always with one
    # category per image; with a single category no offset is added, so this equals plain NMS.
    rng = np.random.default_rng(7)
    boxes = torch.as_tensor(random_boxes(rng, 40) - 30.0, dtype=torch.float32)
    scores = torch.as_tensor(rng.random(40), dtype=torch.float32)
    idxs = torch.zeros(40, dtype=torch.int64)
    for thr in (0.5, 0.7):
        assert _torch.batched_nms(boxes, scores, idxs, thr).tolist() == _torch.nms(boxes, scores, thr).tolist()


def test_batched_nms_separates_categories() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert _torch.batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert _torch.batched_nms(boxes, scores, torch.tensor([0, 0, 0]), 0.5).tolist() == [0]


# --- to_tensor -----------------------------------------------------------------------------------------


def test_to_tensor_uint8_is_scaled_chw_float32() -> None:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    t = _torch.to_tensor(arr)
    assert t.dtype == torch.float32 and tuple(t.shape) == (3, 5, 7)
    expected = arr.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_allclose(t.numpy(), expected, rtol=0, atol=1e-7)
    assert float(_torch.to_tensor(np.full((1, 1, 3), 255, np.uint8)).max()) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_tensor_float_keeps_values_and_dtype(dtype: type) -> None:
    # facenet-pytorch's extract_face calls F.to_tensor(np.float32(face)): values must stay 0..255.
    rng = np.random.default_rng(2)
    arr = (rng.random((4, 6, 3)) * 255).astype(dtype)
    t = _torch.to_tensor(arr)
    assert t.dtype == torch.from_numpy(arr).dtype and tuple(t.shape) == (3, 4, 6)
    np.testing.assert_array_equal(t.numpy(), arr.transpose(2, 0, 1))


def test_to_tensor_grey_and_pil() -> None:
    from PIL import Image

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    t = _torch.to_tensor(grey)
    assert tuple(t.shape) == (1, 3, 4)
    np.testing.assert_allclose(t[0].numpy(), grey / 255.0, atol=1e-7)
    rgb = np.random.default_rng(3).integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_torch.to_tensor(Image.fromarray(rgb)).numpy(), _torch.to_tensor(rgb).numpy())
    flipped = rgb[:, ::-1]  # negative strides, which torch.from_numpy refuses on its own
    np.testing.assert_allclose(_torch.to_tensor(flipped).numpy(), flipped.transpose(2, 0, 1) / 255.0, atol=1e-7)


# --- import_facenet_pytorch in a fresh interpreter --------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import sys
    {prelude}
    from photoclust import _torch
    facenet = _torch.import_facenet_pytorch()
    tv = sys.modules["torchvision"]
    from PIL import Image
    mtcnn = facenet.MTCNN(keep_all=True, post_process=False)
    boxes, probs = mtcnn.detect(Image.open(sys.argv[1]).convert("RGB"))
    print("SHIM", _torch.SHIM_IN_USE, getattr(tv, "__photoclust_shim__", False), len(boxes))
    """
)

BLOCK_TORCHVISION = textwrap.dedent(
    """
    import importlib.abc
    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torchvision" or name.startswith("torchvision."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _Block())
    """
)

PHOTO = ROOT / "data" / "photos" / "group" / "face_recognition_kit_with_rose.jpg"


def run_probe(prelude: str = "", fake_torchvision: dict[str, str] | None = None, tmp: Path | None = None) -> str:
    env = dict(os.environ)
    path = [str(ROOT)]
    if fake_torchvision is not None:
        assert tmp is not None
        for rel, text in fake_torchvision.items():
            f = tmp / "fake" / "torchvision" / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(textwrap.dedent(text))
        path.insert(0, str(tmp / "fake"))
    env["PYTHONPATH"] = os.pathsep.join(path + [env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(prelude=prelude), str(PHOTO)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_import_facenet_pytorch_without_torchvision() -> None:
    assert run_probe(BLOCK_TORCHVISION) == "SHIM True True 2"


def test_import_facenet_pytorch_with_torchvision_that_fails_to_import(tmp_path: Path) -> None:
    broken = {"__init__.py": 'raise RuntimeError("operator torchvision::nms does not exist")\n'}
    assert run_probe(fake_torchvision=broken, tmp=tmp_path) == "SHIM True True 2"


def test_import_facenet_pytorch_with_torchvision_whose_nms_fails(tmp_path: Path) -> None:
    # Imports fine (as the CUDA-only wheel next to a CPU torch can), but the NMS operator is missing.
    broken = {
        "__init__.py": "",
        "ops/__init__.py": "",
        "ops/boxes.py": """
            def batched_nms(*args, **kwargs):
                raise RuntimeError("Could not run 'torchvision::nms' with arguments from the 'CPU' backend")
        """,
        "transforms/__init__.py": "",
        "transforms/functional.py": "def to_tensor(pic):\n    raise AssertionError('not reached')\n",
    }
    assert run_probe(fake_torchvision=broken, tmp=tmp_path) == "SHIM True True 2"


def test_import_facenet_pytorch_uses_a_working_torchvision(tmp_path: Path) -> None:
    working = {
        "__init__.py": "",
        "ops/__init__.py": "",
        "ops/boxes.py": "from photoclust._torch import batched_nms, nms\n",
        "transforms/__init__.py": "",
        "transforms/functional.py": "from photoclust._torch import to_tensor\n",
    }
    assert run_probe(fake_torchvision=working, tmp=tmp_path) == "SHIM False False 2"
