"""One line that says what produced a benchmark's figures: commit, versions, cores, load average, time."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("numpy", "scipy", "hdbscan", "torch", "onnxruntime", "sqlite-utils", "textual")


def stamp() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"# commit {commit} | {time.strftime('%Y-%m-%d %H:%M')} | Python {platform.python_version()} | "
        f"{'; '.join(versions)} | {os.cpu_count()} cores | load average {load}"
    )
