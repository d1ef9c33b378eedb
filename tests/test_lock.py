"""The environment the tests run in is the one the lock describes (`make install-dev` installs it)."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(path: Path) -> dict[str, str]:
    """name -> version for each pin of a lock file whose marker holds on this interpreter."""
    out = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m and (m.group(3) is None or Marker(m.group(3)).evaluate()):
            out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def test_every_lock_pin_has_a_hash() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        pins = [e for e in entries if PIN.match(e.splitlines()[0])]
        assert len(pins) > 30
        assert all("--hash=sha256:" in e for e in pins), lock


def test_installed_versions_equal_the_dev_lock() -> None:
    want = locked(ROOT / "requirements-dev.lock")
    assert "sqlite-utils" in want and "hdbscan" in want and "torch" not in want
    have = {name: metadata.version(name) for name in want}
    assert {n: v for n, v in have.items() if v != want[n]} == {}


def test_runtime_lock_agrees_with_the_dev_lock() -> None:
    run, dev = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-dev.lock")
    assert set(run) < set(dev)
    assert {n: v for n, v in run.items() if dev[n] != v} == {}


def test_lock_matches_pyproject(tmp_path: Path) -> None:
    script = ROOT / ".ci" / "lock.py"
    torch = re.search(r"^TORCH_VERSION := (\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert torch
    ok = subprocess.run([sys.executable, script, "check", "--torch", torch.group(1)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    # A changed pin is caught, with one line saying how to refresh the lock.
    stale = subprocess.run([sys.executable, script, "check", "--torch", "9.9.9"], capture_output=True, text=True)
    assert stale.returncode == 1
    assert stale.stderr.strip().count("\n") == 0 and "make lock" in stale.stderr


@pytest.mark.parametrize("spec", ["sqlite-utils", "hdbscan", "opencv-python-headless"])
def test_bounds_are_in_pyproject(spec: str) -> None:
    """The private/removed APIs we rely on are fenced by upper bounds (see comments in pyproject.toml)."""
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'"{spec}>=[^"]*,<', text)


def test_opencv_reads_the_tensorflow_graph() -> None:
    """The conversion test's independent reference needs OpenCV's TensorFlow reader (only 5.0.x has it and
    reads our graph next to numpy 2): a lock that resolves another OpenCV must fail here, not be skipped."""
    import cv2

    assert hasattr(cv2.dnn, "readNetFromTensorflow"), cv2.__version__
