"""The sample mosaic is pinned: `make mosaic`'s pixels, bit for bit.

The hash was recorded before the renovation (issue 16) and holds through refactors; a change
that is meant to move the sample's pixels (a new default) updates it in the same commit and
says why in the message.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import rasterio

from pipeline.orchestration import run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PIXELS_SHA256 = "4db6a3e06d9320baf2725ab27d49c57b5da344ff59a04d08940ed02314afd1c2"
"""sha256 over every band's pixels (rasterio ``read(b).tobytes()``, bands in order) of the mosaic of
``sample_images/`` with ``configs/default.yaml`` (1309 x 738 px, bands iof + count)."""


def pixel_hash(path: Path) -> str:
    h = hashlib.sha256()
    with rasterio.open(path) as ds:
        for band in range(1, ds.count + 1):
            h.update(ds.read(band).tobytes())
    return h.hexdigest()


def test_sample_mosaic_is_bit_for_bit_the_pinned_one(tmp_path):
    out = tmp_path / "mosaic.tif"
    run(ROOT / "sample_images", out, calibration=ROOT / "sample_images" / "calibration", report=False)
    assert pixel_hash(out) == SAMPLE_PIXELS_SHA256
