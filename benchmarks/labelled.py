"""Labelled photo sets: a folder with ``<identity>/<file>`` photos and ``labels.csv`` (``path,identity``,
paths relative to the folder), e.g. ``/work/shared/photos/celeb5``. Shared by the benchmarks, which run as
scripts with their own folder on ``sys.path``."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def label_rows(root: Path) -> list[tuple[str, str]]:
    """(path relative to ``root``, identity) per row of ``root/labels.csv``, in file order."""
    with open(root / "labels.csv", newline="") as fh:
        return [(row["path"], row["identity"]) for row in csv.DictReader(fh)]


def read_labels(root: Path) -> dict[str, str]:
    """Normalised full path -> identity."""
    return {os.path.normpath(str(root / path)): identity for path, identity in label_rows(root)}


def round_robin(by_identity: dict[str, list[T]], limit: int | None = None) -> list[tuple[T, str]]:
    """(item, identity): each identity's sorted items taken in turn (identities in sorted order), so that
    ``limit`` keeps many people. Identities with a single item are left out: they can produce neither a
    genuine pair nor a correct nearest neighbour."""
    queues = {k: sorted(v) for k, v in sorted(by_identity.items()) if len(v) >= 2}  # type: ignore[type-var]
    out: list[tuple[T, str]] = []
    depth = 0
    while any(len(v) > depth for v in queues.values()):
        for identity, items in queues.items():
            if depth < len(items):
                out.append((items[depth], identity))
        depth += 1
    return out[:limit] if limit is not None else out
