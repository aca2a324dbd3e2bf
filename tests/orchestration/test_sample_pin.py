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
SAMPLE_PIXELS_SHA256 = "d42c189c171d5c4f4698e94aa4a347911f3b1bf2f7863891ac10bd66f0b66d09"
"""sha256 over every band's pixels (rasterio ``read(b).tobytes()``, bands in order) of the mosaic of
``sample_images/`` with ``configs/default.yaml`` (738 x 1309 px, width x height; bands iof, count,
top_index). History: before the renovation the default bands were iof + count, hashing to
c0c05290... (unchanged by the renovation); ``top_index`` joined the defaults for the QA report's
seam map (2515dcb9..., the iof and count bands still c0c05290...); then the photometric law became
fitted to the data (``calibration.photometry.model: auto``; it finds L = 0.503 on the sample,
rendered with L = 0.5), 38151bb5...; the bundle adjustment moved to a sparse reduced-camera solver
(issue 21: a different linear algebra path, the same minimum to rounding), 94d26376...; then camera-guided area matching became the
default matcher (registration.matcher: area: 5x the tie points, residual RMS 0.032 px), d42c189c...."""


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
