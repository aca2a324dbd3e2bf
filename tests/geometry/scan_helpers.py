"""Helpers of the line-scan / push-frame tests: where the reference data lives, truth loading."""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from pipeline.geometry import load_camera

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
LINESCAN = SHARED / "reference" / "linescan"
TRUTH = LINESCAN / "truth"
ISDS = LINESCAN / "isds"
USGSCSM_ISDS = ISDS / "usgscsm"


def require(path: Path) -> Path:
    """``path``, or skip the test with a clear message when the reference data is absent."""
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (clone the project next to shared/)")
    return path


def truth_files() -> list[Path]:
    """The computed usgscsm truths (empty when ../shared is absent: the tests then skip)."""
    return sorted((TRUTH / "computed").glob("*.truth.json"))


@cache
def truth(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def isd_of(truth_doc: dict) -> Path:
    """The ISD a truth file was computed from (its ``isd_file`` is relative to shared's parent)."""
    return SHARED.parent / truth_doc["isd_file"]


@cache
def camera(path: Path):
    return load_camera(require(Path(path)))


def points(truth_doc: dict) -> dict[str, np.ndarray]:
    """The truth points as arrays: line, sample, height, xyz (N, 3), back_line, back_sample, hit."""
    pts = truth_doc["points"]
    col = {
        k: np.array([p[k] for p in pts], dtype=float)
        for k in ("line", "sample", "height", "back_line", "back_sample")
    }
    col["xyz"] = np.array([[p["x"], p["y"], p["z"]] for p in pts])
    col["hit"] = np.array([bool(p.get("on_ellipsoid_at_height", True)) for p in pts])
    return col


@cache
def upstream_rows() -> tuple[dict, ...]:
    path = require(TRUTH / "usgscsm_upstream_asserts.csv")
    with path.open(newline="") as fh:
        return tuple(csv.DictReader(fh))


def upstream(test: str) -> dict:
    """The row of ``usgscsm_upstream_asserts.csv`` of one usgscsm test."""
    rows = [r for r in upstream_rows() if r["test"] == test]
    assert len(rows) == 1, f"{test}: {len(rows)} rows in usgscsm_upstream_asserts.csv"
    return rows[0]


def numbers(text: str) -> dict[str, float]:
    """``name=value`` pairs of a CSV cell, e.g. ``"x=9.99999500000 y=0.0"``."""
    return {k: float(v) for k, v in re.findall(r"([A-Za-z_]\w*)=(-?[\d.]+(?:e-?\d+)?)", text)}


def tolerance(row: dict) -> float:
    """The numeric tolerance of a row (``1e-10 m`` -> 1e-10; ``DOUBLE_EQ`` -> 4 ulp-ish)."""
    tol = row["tolerance"].split()[0]
    return 1e-15 if tol == "DOUBLE_EQ" else float(tol)
