"""Lazy, safe import of torch and facenet-pytorch.

Only ``detect/`` and ``embed/`` call these, and only when a model is actually needed, so that
``photoclust --help`` and the TUI start without loading torch.

* ``OMP_WAIT_POLICY=PASSIVE`` is set before torch is first imported: with OpenMP's default
  spin-waiting, torch on a busy 2-core machine ran ~20x slower (see benchmarks/RESULTS.md).
* ``ONEDNN_PRIMITIVE_CACHE_CAPACITY=8`` likewise: oneDNN keeps a compiled kernel for every input shape it
  has seen (up to 1024 by default), and MTCNN sees new shapes with every photo size (each pyramid level,
  each batch of candidate boxes): a scan worker's memory grew by ~300 MB over 600 photos of many sizes.
  With 8 it stays ~700 MB, at no measurable cost in speed (benchmarks/RESULTS.md, issue 15).
* facenet-pytorch imports ``torchvision.ops.boxes.batched_nms`` and
  ``torchvision.transforms.functional.to_tensor``. Where a working torchvision is installed we use
  it; where torchvision is missing or broken (PyPI's CUDA-only build next to a CPU torch fails at
  import with "operator torchvision::nms does not exist"), we register a minimal stand-in for exactly
  those two functions before importing facenet_pytorch.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from typing import Any

_lock = threading.Lock()
_facenet: Any = None
SHIM_IN_USE = False


class LazyModel:
    """A model built on first use, once, even when several threads ask at the same time (Immich's
    ``InferenceModel``): subclasses implement :meth:`_build`; :meth:`load` is idempotent and locked."""

    def __init__(self) -> None:
        self._model: Any = None
        self._model_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        if self._model is not None:
            return
        with self._model_lock:
            if self._model is None:
                self._model = self._build()

    def _build(self) -> Any:
        raise NotImplementedError


def import_torch() -> Any:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8")
    import torch

    return torch


def nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Greedy non-maximum suppression, same contract as ``torchvision.ops.nms``.

    Returns the int64 indices of the kept boxes, sorted by decreasing score. Boxes are (x1, y1, x2, y2);
    a box is dropped when its IoU with a kept, higher-scoring box is *greater than* ``iou_threshold``.
    """
    import numpy as np

    torch = import_torch()
    b = boxes.detach().cpu().double().numpy()
    s = scores.detach().cpu().double().numpy()
    if b.shape[0] == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou > iou_threshold)]
    return torch.as_tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(boxes: Any, scores: Any, idxs: Any, iou_threshold: float) -> Any:
    """``torchvision.ops.batched_nms``: NMS done independently per category ``idxs``."""
    torch = import_torch()
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    # Offset boxes per category so boxes of different categories never overlap (torchvision's trick).
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def to_tensor(pic: Any) -> Any:
    """``torchvision.transforms.functional.to_tensor`` for numpy HWC arrays and PIL images.

    uint8 input is scaled to [0, 1]; other dtypes are kept as they are (torchvision's behaviour).
    """
    import numpy as np

    torch = import_torch()
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    if t.dtype == torch.uint8:
        return t.float().div(255)
    return t


def _torchvision_works() -> bool:
    try:
        from torchvision.ops.boxes import batched_nms as _bn  # noqa: F401
        from torchvision.transforms import functional as _f  # noqa: F401

        torch = import_torch()
        _bn(torch.zeros((1, 4)), torch.zeros(1), torch.zeros(1, dtype=torch.int64), 0.5)
        return True
    except Exception:  # noqa: BLE001 - any failure means "use the stand-in"
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        return False


def install_torchvision_shim() -> None:
    """Register stand-in ``torchvision`` modules that provide exactly what facenet_pytorch imports."""
    tv = types.ModuleType("torchvision")
    tv.__path__ = []  # a package, so submodule imports resolve through sys.modules
    ops = types.ModuleType("torchvision.ops")
    ops.__path__ = []
    boxes = types.ModuleType("torchvision.ops.boxes")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__path__ = []
    functional = types.ModuleType("torchvision.transforms.functional")
    boxes.batched_nms = batched_nms  # type: ignore[attr-defined]
    boxes.nms = nms  # type: ignore[attr-defined]
    ops.batched_nms = batched_nms  # type: ignore[attr-defined]
    ops.nms = nms  # type: ignore[attr-defined]
    ops.boxes = boxes  # type: ignore[attr-defined]
    functional.to_tensor = to_tensor  # type: ignore[attr-defined]
    transforms.functional = functional  # type: ignore[attr-defined]
    tv.ops = ops  # type: ignore[attr-defined]
    tv.transforms = transforms  # type: ignore[attr-defined]
    tv.__photoclust_shim__ = True  # type: ignore[attr-defined]
    sys.modules.update(
        {
            "torchvision": tv,
            "torchvision.ops": ops,
            "torchvision.ops.boxes": boxes,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
        }
    )


def import_facenet_pytorch() -> Any:
    """Import facenet_pytorch, with the torchvision stand-in when the real one is unusable."""
    global _facenet, SHIM_IN_USE
    with _lock:
        if _facenet is None:
            import_torch()
            if "facenet_pytorch" not in sys.modules and not _torchvision_works():
                install_torchvision_shim()
                SHIM_IN_USE = True
            import facenet_pytorch

            _facenet = facenet_pytorch
    return _facenet


def set_threads(n: int) -> None:
    """Limit torch's intra-op threads (one per worker process on small machines)."""
    torch = import_torch()
    torch.set_num_threads(max(1, n))
