"""FaceNet in int8 for the CPU: the converted weights exported to ONNX, quantized with ONNX Runtime.

Made once per machine, next to the converted weights (:func:`ensure_int8`, about 10 s), from files this
package already has: the converted state dict and ``calibration.jpg`` (aligned face crops from the
bundled sample photos, written by ``benchmarks/make_calibration.py``). Static quantization: weights int8
per output channel, activations uint8 with ranges from the calibration crops and their mirror images
(MinMax, label-free), in QDQ form so that ONNX Runtime fuses them into its int8 kernels.

Why: one CPU thread embeds a face in ~7.5 ms against ~31 ms for the frozen float32 network (4x), and the
vectors are the same to a cosine of >= 0.995 (mean 0.9996) on in-the-wild faces; the verification and
people figures it keeps are in benchmarks/RESULTS.md ("Indexing speed (issue 15)"). The vectors live in
the float network's space, so they keep its MODEL_VERSION and its calibrated thresholds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from photoclust.errors import ModelError

CALIBRATION = Path(__file__).with_name("calibration.jpg")
COLUMNS = 8  # crops per row of the calibration mosaic
# Changes whenever the recipe (export, quantization settings, calibration set) changes: the cached file
# is then made again.
QUANT_FORMAT = "facenet-int8-qdq-minmax/1"
INT8_NAME = "facenet-20180408-102900-int8.onnx"
_OPSET = 17


def calibration_crops() -> np.ndarray:
    """The calibration crops, ``(N, 160, 160, 3)`` uint8 (empty tiles of the mosaic left out)."""
    from PIL import Image

    with Image.open(CALIBRATION) as im:
        mosaic = np.asarray(im.convert("RGB"))
    size = mosaic.shape[1] // COLUMNS
    tiles = [
        mosaic[r : r + size, c : c + size]
        for r in range(0, mosaic.shape[0], size)
        for c in range(0, mosaic.shape[1], size)
    ]
    return np.stack([t for t in tiles if t.max() > 16])


def normalise(crops: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` -> float32 ``(N, 3, H, W)`` in FaceNet's input range, (x - 127.5) / 128."""
    return (crops.transpose(0, 3, 1, 2).astype(np.float32) - 127.5) / 128.0


def ensure_int8(weights: Path) -> Path:
    """Path of the int8 network made from the converted float32 ``weights`` (in the same cache folder);
    made first if missing or stale (a different weights file, recipe or ONNX Runtime version)."""
    import onnxruntime

    from photoclust.embed.convert import cached_file, recorded_sha256, sha256_of

    made_from = {
        "format": QUANT_FORMAT,
        "weights_sha256": recorded_sha256(weights),
        "calibration_sha256": sha256_of(CALIBRATION),
        "onnxruntime": onnxruntime.__version__,
    }
    return cached_file(
        weights.with_name(INT8_NAME), made_from, lambda path: _build(weights, path), "the int8 FaceNet network"
    )


def _build(weights: Path, out: Path) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from photoclust.fileio import atomic_write

    crops = calibration_crops()
    batches = [
        normalise(np.concatenate([crops[i : i + 8], crops[i : i + 8, :, ::-1]])) for i in range(0, len(crops), 8)
    ]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {"x": x}

    with tempfile.TemporaryDirectory(prefix="photoclust-int8-") as tmp:
        plain, prepared, quantized = (Path(tmp) / n for n in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        try:
            _export(weights, plain)
            quant_pre_process(str(plain), str(prepared))
            quantize_static(
                str(prepared),
                str(quantized),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - export and quantization raise many kinds of error
            raise ModelError(f"cannot make the int8 FaceNet network: {exc}".splitlines()[0]) from exc
        data = quantized.read_bytes()
    atomic_write(out, lambda fh: fh.write(data))


def _export(weights: Path, out: Path) -> None:
    """The float32 network (raw 512-d output, before L2 normalisation) as ONNX, any batch size."""
    import warnings

    from photoclust._torch import import_torch
    from photoclust.embed import load_facenet

    torch = import_torch()
    model = load_facenet(weights)
    with torch.no_grad(), warnings.catch_warnings():
        # torch 2.13 marks the TorchScript-based exporter deprecated; the torch.export-based one needs
        # onnxscript as well. This one needs only the onnx package and gives the same graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.zeros(2, 3, 160, 160),),
            str(out),
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
            opset_version=_OPSET,
            dynamo=False,
        )


def session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU with ``threads`` threads that sleep, not spin, when idle."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: the quantized graph's notes are not for users
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a corrupt file: ONNX Runtime raises its own error types
        raise ModelError(f"cannot load the int8 FaceNet network {path}: {exc}".splitlines()[0]) from exc
