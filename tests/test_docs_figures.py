"""Figures cannot rot: the README quotes RESULTS.md, and every benchmark stamps what produced its figures."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"(?<![\d.])\d+\.\d+(?![\d.])"
# Decimals in the README that are not measured figures: constants, versions and published facts.
NOT_FIGURES = {
    "127.5": "FaceNet's input standardisation (x - 127.5) / 128",
    "99.05": "the published LFW accuracy of the FaceNet weights",
    "2.13": "torch version",
    "2.3": "facenet-pytorch's stale torch pin",
    "10.3": "facenet-pytorch's stale Pillow pin",
    "4.0": "sqlite-utils version bound",
    "4.10": "OpenCV versions",
    "4.14": "OpenCV versions",
    "5.0": "OpenCV version bound",
    "5.1": "OpenCV version bound",
}


def quoted_from(figure: str, results: set[str]) -> bool:
    """``figure`` is one of ``results`` rounded to the figure's decimals (0.962 quotes 0.9620)."""
    places = len(figure.split(".")[1])
    step = Decimal(1).scaleb(-places)
    return any(
        Decimal(r).quantize(step, ROUND_HALF_UP) == Decimal(figure) for r in results if len(r.split(".")[1]) >= places
    )


def test_every_figure_in_the_readme_is_in_results() -> None:
    readme = (ROOT / "README.md").read_text()
    results = set(re.findall(NUMBER, (ROOT / "benchmarks" / "RESULTS.md").read_text()))
    stray = sorted(n for n in set(re.findall(NUMBER, readme)) if n not in NOT_FIGURES and not quoted_from(n, results))
    assert stray == [], f"README figures not found in benchmarks/RESULTS.md: {stray}"


def test_the_figure_check_catches_a_changed_figure() -> None:
    assert quoted_from("0.962", {"0.9620"})
    assert not quoted_from("0.963", {"0.9620"})
    assert not quoted_from("0.9620", {"0.962"})  # more precise than what was measured


def test_every_benchmark_stamps_its_output() -> None:
    """A benchmark prints one line with the commit, versions, cores and load average before its figures."""
    unstamped = [
        p.name
        for p in sorted((ROOT / "benchmarks").glob("*.py"))
        if "def main(" in (text := p.read_text()) and "print(stamp()" not in text
    ]
    assert unstamped == []
