"""Face embeddings: FaceNet (Inception-ResNet-v1, CASIA-WebFace) on 160x160 RGB crops -> 512-d unit vectors.

Importing this package does not import torch; the model is loaded on first use (:meth:`Embedder.load`).
The weights come from :mod:`photoclust.embed.convert`, never from the internet; on a CPU the network runs
quantized to int8 on ONNX Runtime (:mod:`photoclust.embed.quantize`), on a GPU in float32 on torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from photoclust._memory import trim_heap
from photoclust._torch import LazyModel
from photoclust.errors import DeviceError, ModelError
from photoclust.types import EMBEDDING_DIM

# Recorded with every stored embedding: embeddings of different versions must never be compared.
MODEL_VERSION = "facenet-20180408-102900/casia-webface/pt1"
CROP_SIZE = 160
# "int8": the quantized network on ONNX Runtime (CPU only; :mod:`photoclust.embed.quantize`); "fp32": the
# float network on torch; "auto": int8 on the CPU, fp32 on a GPU.
PRECISIONS = ("auto", "int8", "fp32")

__all__ = ["EMBEDDING_DIM", "MODEL_VERSION", "Embedder", "model_is_prepared", "prepare_model", "resolve_device"]


def gpu_present() -> bool:
    """False when this machine certainly has no GPU torch could use: on Linux, no NVIDIA (``/dev/nvidiactl``)
    or ROCm (``/dev/kfd``) device node. True elsewhere, where only torch can tell."""
    if not sys.platform.startswith("linux"):
        return True
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/kfd")


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` where CUDA works, else ``cpu``; ``cuda`` (or ``cuda:N``) must be available."""
    req = (requested or "auto").strip().lower()
    if req == "cpu":
        return "cpu"
    if req not in ("auto", "cuda", "mps") and not (req.startswith("cuda:") and req[5:].isdigit()):
        raise DeviceError(f"unknown device {requested!r}: use auto, cpu or cuda")
    if req == "auto" and not gpu_present():
        return "cpu"  # without importing torch (1-1.5 s of CPU that a scan's workers need more)
    from photoclust._torch import import_torch

    torch = import_torch()
    if req == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if req == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' was requested but Apple Metal is not available; use --device cpu")
        return "mps"
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device {requested!r} was requested but CUDA is not available "
            "(no NVIDIA GPU, driver, or CUDA build of torch); use --device cpu or auto"
        )
    if req.startswith("cuda:") and int(req[5:]) >= torch.cuda.device_count():
        raise DeviceError(f"device {requested!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found")
    return req


def _runs_int8(device: str, precision: str = "auto") -> bool:
    """Whether the int8 network serves ``device`` at ``precision`` (see PRECISIONS)."""
    return precision == "int8" or (precision == "auto" and device == "cpu")


def model_is_prepared(device: str, cache: Path | None = None) -> bool:
    """Whether the model files ``device`` needs (the converted weights; on a CPU also the int8 network)
    are already in the cache: a glance at their sidecars, nothing hashed or imported. When False, the first
    embedding will spend 10-20 s making them (see :func:`prepare_model`)."""
    from photoclust.config import cache_dir
    from photoclust.embed.convert import WEIGHTS_NAME
    from photoclust.embed.quantize import INT8_NAME

    directory = Path(cache) if cache is not None else cache_dir()
    names = [WEIGHTS_NAME, INT8_NAME] if _runs_int8(device) else [WEIGHTS_NAME]
    return all((directory / f"{name}.json").is_file() for name in names)


def prepare_model(device: str, cache: Path | None = None, precision: str = "auto") -> Path:
    """The model file ``device`` runs at ``precision`` (the int8 network or the converted weights), made
    first if the cache lacks it (once per machine)."""
    from photoclust.embed.convert import ensure_weights

    weights = ensure_weights(cache)
    if not _runs_int8(device, precision):
        return weights
    from photoclust.embed.quantize import ensure_int8

    return ensure_int8(weights)


class Embedder(LazyModel):
    """FaceNet embedder. Cheap to construct; :meth:`load` (or the first :meth:`embed`) loads the model.

    ``flip_average``: embed each crop and its mirror image, average the two raw (pre-normalisation)
    embeddings, then L2-normalise. ``cache``: directory of the converted weights (default
    ``config.cache_dir()``). ``threads``: if given, ``torch.set_num_threads`` at load time.
    ``precision``: see PRECISIONS; the int8 network embeds a face ~4x faster on a CPU, its vectors within a
    cosine of 0.995 of the float network's (same space, same thresholds).
    ``freeze`` (float network only): run it as a frozen TorchScript graph (see :func:`_frozen`): the same
    vectors, faster per face, for about 1.3 s at load.
    """

    def __init__(
        self,
        device: str = "auto",
        flip_average: bool = True,
        cache: Path | None = None,
        batch_size: int = 64,
        threads: int | None = None,
        freeze: bool = True,
        precision: str = "auto",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.requested_device = device
        self.flip_average = flip_average
        self.cache = cache
        self.batch_size = batch_size
        self.threads = threads
        self.freeze = freeze
        self.precision = precision
        self._device: str | None = None
        super().__init__()

    @property
    def device(self) -> str:
        """The resolved device (``cpu``, ``cuda``...); raises DeviceError if the requested one is missing."""
        if self._device is None:
            self._device = resolve_device(self.requested_device)
        return self._device

    def _build(self) -> Any:
        """Convert the weights if needed and load the model (:meth:`load` calls it once)."""
        from photoclust._torch import import_torch, set_threads

        torch = import_torch()
        device = self.device
        if self.threads is not None:
            set_threads(self.threads)
        path = prepare_model(device, self.cache, self.precision)
        if self.int8:
            from photoclust.embed.quantize import session

            return session(path, torch.get_num_threads())
        model = load_facenet(path)
        try:
            model.to(device)
        except RuntimeError as exc:
            raise DeviceError(f"cannot use device {device!r}: {exc}".splitlines()[0]) from exc
        if not self.freeze:
            return model
        frozen = _frozen(model, torch, device)
        del model
        release_freed_memory()  # the eager weights and the tracing's garbage: ~250 MB of RSS
        return frozen

    @property
    def int8(self) -> bool:
        """Whether this embedder runs the int8 network (``precision`` int8, or auto on the CPU)."""
        return _runs_int8(self.device, self.precision)

    def embed(self, crops: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """uint8 RGB crops ``(N, 160, 160, 3)`` -> float32 ``(N, 512)`` L2-normalised embeddings."""
        arr = np.asarray(crops)
        if arr.ndim != 4 or arr.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
            raise ValueError(f"expected crops of shape (N, {CROP_SIZE}, {CROP_SIZE}, 3), got {arr.shape}")
        if arr.dtype != np.uint8:
            raise ValueError(f"expected uint8 crops, got {arr.dtype}")
        n = arr.shape[0]
        if n == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        self.load()
        step = batch_size or self.batch_size
        if self.int8:
            return self._embed_int8(arr, step)
        from photoclust._torch import import_torch

        torch = import_torch()
        out = np.empty((n, EMBEDDING_DIM), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, n, step):
                chunk = torch.from_numpy(np.ascontiguousarray(arr[start : start + step]))
                x = chunk.to(self.device).permute(0, 3, 1, 2).float()
                x = (x - 127.5) / 128.0
                if self.flip_average:
                    m = x.shape[0]
                    raw = self._model(torch.cat([x, x.flip(3)], dim=0))
                    raw = (raw[:m] + raw[m:]) / 2
                else:
                    raw = self._model(x)
                emb = torch.nn.functional.normalize(raw.float(), p=2, dim=1)
                out[start : start + len(emb)] = emb.cpu().numpy()
        return out

    def _embed_int8(self, arr: np.ndarray, step: int) -> np.ndarray:
        from photoclust.embed.quantize import normalise

        out = np.empty((len(arr), EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, len(arr), step):
            x = normalise(arr[start : start + step])
            m = len(x)
            if self.flip_average:
                raw = self._model.run(None, {"x": np.concatenate([x, x[..., ::-1]])})[0]
                raw = (raw[:m] + raw[m:]) / 2
            else:
                raw = self._model.run(None, {"x": x})[0]
            out[start : start + m] = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        return out


def load_facenet(weights: Path) -> Any:
    """The float32 FaceNet network from the converted ``weights``, in eval mode on the CPU, returning the
    raw 512-d output of its last batch norm (no L2 normalisation: flipped pairs are averaged first)."""
    from photoclust._torch import import_facenet_pytorch, import_torch

    torch = import_torch()
    facenet = import_facenet_pytorch()
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model = facenet.InceptionResnetV1(pretrained=None, classify=False)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - any failure here is a broken weights file
        raise ModelError(f"cannot load the FaceNet weights {weights}: {exc}".splitlines()[0]) from exc
    # With classify=True, forward() ends with self.logits: made the identity, it returns last_bn's output.
    model.classify = True
    model.logits = torch.nn.Identity()
    return model.eval()


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap back to the OS."""
    import gc

    gc.collect()
    trim_heap()


def _frozen(model: Any, torch: Any, device: str) -> Any:
    """``model`` traced, frozen and optimised for inference: batch norms folded into the convolutions
    before them, constants propagated. The same function to float rounding (max difference ~2e-6 on a
    unit vector) and 27 % faster per face on one CPU thread (52 -> 38 ms, benchmarks/RESULTS.md). A
    trace of one input shape serves every batch size, since the network has no shape-dependent branch.
    Where tracing fails (an unusual torch build), the eager model is used as it is."""
    import warnings

    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # torch 2.13 marks TorchScript deprecated (for torch.compile, which needs a C++ compiler and
            # minutes of compilation here); it still works, and the fallback below covers its removal.
            warnings.simplefilter("ignore", DeprecationWarning)
            example = torch.zeros(2, 3, CROP_SIZE, CROP_SIZE, device=device)
            traced = torch.jit.trace(model, example, check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    except Exception:  # noqa: BLE001 - an optimisation only: fall back to the model that works
        return model
