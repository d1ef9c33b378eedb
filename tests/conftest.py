"""Shared fixtures. Tests never touch the network (neither does any process they start) and never write
outside a temp dir."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.store import Store
from photoclust.tui.app import PhotoclustApp, make_app
from tests.helpers import build_library

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PHOTOS = DATA / "photos"
NETGUARD = ROOT / "tests" / "netguard"  # its sitecustomize.py blocks the network in subprocesses


class NetworkBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guard(self: socket.socket, address: object) -> None:
    if self.family == socket.AF_UNIX:
        return
    raise NetworkBlocked(f"test tried to open a network connection to {address!r}")


def _connect(self: socket.socket, address: object) -> None:
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    _guard(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network_and_temp_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Block outgoing connections; point the model cache and default database at temp dirs.

    The model cache is shared by the whole test run, so the real FaceNet conversion runs once per run.
    """
    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", _connect)
    mp.setattr(socket.socket, "connect_ex", _connect_ex)
    base = tmp_path_factory.mktemp("env")
    mp.setenv("PHOTOCLUST_CACHE_DIR", str(base / "cache"))
    mp.setenv("PHOTOCLUST_DB", str(base / "default.db"))
    mp.setenv("XDG_DATA_HOME", str(base / "xdg-data"))
    mp.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
    mp.setenv("XDG_CONFIG_HOME", str(base / "xdg-config"))
    mp.setenv("PHOTOCLUST_CONFIG_DIR", str(base / "config"))
    mp.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    # every Python process a test starts (CLI runs, scans, their spawned workers) gets the same guard
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(NETGUARD), os.environ.get("PYTHONPATH")) if p))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no saved settings (the TUI's zoom, say), and what it saves stays its own."""
    monkeypatch.setenv("PHOTOCLUST_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    return PHOTOS


@pytest.fixture(scope="session")
def labels() -> dict[str, str]:
    """``relative path under data/photos`` -> identity, for the single-person photos."""
    with open(DATA / "labels.csv", newline="") as fh:
        return {row["path"]: row["identity"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def group_counts() -> dict[str, int]:
    with open(DATA / "groups.csv", newline="") as fh:
        return {row["path"]: int(row["n_faces"]) for row in csv.DictReader(fh)}


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a file or folder read-only for real, even for root (who ignores file modes): the immutable
    attribute (``chattr +i``), which the kernel enforces for everybody; plain modes for other users."""
    done: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() == 0:
            r = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if r.returncode != 0:
                pytest.skip(f"cannot make {path} read-only as root here: {r.stderr.strip()}")
        else:
            path.chmod(0o555 if path.is_dir() else 0o444)
        done.append(path)
        assert not os.access(path, os.W_OK)

    yield make
    for path in reversed(done):
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755 if path.is_dir() else 0o644)


# -- the test library (tests/helpers.py builds it) and the TUI on it ------------------------


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    path = tmp_path_factory.mktemp("tui") / "template.db"
    faces = build_library(path)
    return path, faces


@pytest.fixture
def library_path(tmp_path: Path, template_db: tuple[Path, dict[str, list[int]]]) -> Path:
    dst = tmp_path / "lib.db"
    with Store.open(template_db[0]) as src:
        src.db.execute("VACUUM INTO ?", [str(dst)])
    return dst


@pytest.fixture
def faces(template_db: tuple[Path, dict[str, list[int]]]) -> dict[str, list[int]]:
    return template_db[1]


@pytest.fixture
def app(library_path: Path) -> Iterator[PhotoclustApp]:
    app = make_app(library_path, renderer="halfcell", scan_settings=ScanSettings(workers=1))
    yield app
    app.backend.close()


@pytest.fixture
def check(library_path: Path) -> Iterator[Library]:
    """A second connection to the same database, to check what the app wrote."""
    lib = Library(library_path)
    yield lib
    lib.close()
