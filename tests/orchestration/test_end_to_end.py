"""End to end on a small generated survey: the whole pipeline against the generator's truth.

The survey is generated once per session (2 strips x 3 frames of 192 px, pointing errors
0.1-0.3 deg per axis, 500 m position errors, every sensor effect), and mosaicked once with
the synchronous scheduler; the tests check that one result.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from bench.accuracy import coverage_percent, footprint_rowcol, mosaic_accuracy, polygon_union
from pipeline.errors import OutputExists
from pipeline.orchestration import run
from pipeline.simulation import load_truth
from tests.conftest import small_config

pytestmark = pytest.mark.slow

@pytest.fixture(scope="session")
def mosaic_run(survey, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    out = tmp / "mosaic.tif"
    result = run(survey, out, calibration=survey / "calibration", config=small_config(tmp))
    return result, out, load_truth(survey)


def test_output_is_a_valid_cog_in_a_lunar_crs(mosaic_run):
    result, out, _ = mosaic_run
    valid, errors, _warnings = cog_validate(str(out))
    assert valid, errors
    with rasterio.open(out) as ds:
        assert ds.dtypes[0] == "float32"
        assert math.isnan(ds.nodata)
        assert ds.overviews(1), "internal overviews"
        assert abs(ds.crs.to_dict().get("R", 0) - 1_737_400) < 1 or "Moon" in ds.crs.to_wkt()
        tags = ds.tags()
        assert "farside_config" in tags and "farside_inputs" in tags
    assert out.with_suffix(".png").exists()
    item = json.loads(out.with_suffix(".stac.json").read_text())
    assert item["properties"]["proj:shape"] == list(result.plan.grid.shape)


def test_every_frame_used_and_no_failure(mosaic_run):
    result, _, truth = mosaic_run
    assert not result.failures
    assert {f.id for f in result.plan.frames} == set(truth.frame_ids)


def test_a_flat_world_is_mosaicked_on_the_sphere(mosaic_run):
    """The survey's world is the sphere. Free points would let this weak nadir network float
    (geolocation common offset 1.6 px against <= 0.5 px); the default points: auto finds no
    relief, solves on the sphere, and the relief model is the sphere itself."""
    result, out, _ = mosaic_run
    assert result.registration.points == "surface"
    assert result.registration.relief_parallax_px <= result.plan.config.registration.relief_parallax_px
    assert result.product["relief"] is not None and result.product["relief"].is_sphere


def test_coverage_and_accuracy_against_truth(mosaic_run):
    result, out, truth = mosaic_run
    cameras = dict(result.registration.cameras)
    acc = mosaic_accuracy(out, truth, cameras, samples=60_000)
    # the mosaic covers the union of the frames' (adjusted) footprints on the map
    with rasterio.open(out) as ds:
        valid = np.isfinite(ds.read(1))
    union = polygon_union(valid.shape, [footprint_rowcol(c, result.plan.grid) for c in cameras.values()])
    assert coverage_percent(valid, union) >= 99.0
    # calibrated, photometrically normalised I/F tracks the truth albedo
    assert acc["pearson"] >= 0.95, acc
    # frame-to-frame misregistration after bundle adjustment: output pixels, 90th percentile,
    # common offset removed; the reported pointing is ~10x worse
    geo, reported = acc["geolocation_adjusted"], acc["geolocation_reported"]
    assert geo["relative_p90_px"] <= 0.5, geo
    assert geo["relative_p90_px"] < reported["relative_p90_px"] / 5, (geo, reported)
    # The common offset is what the pointing priors allow: a rotation common to all N frames
    # is known to sigma / sqrt(N) per axis; at the orbit's altitude, three sigma, in pixels.
    cams = list(truth.true_cameras.values())
    alt = np.mean([np.linalg.norm(c.position_m) - c.radii_m[0] for c in cams])
    sigma = math.radians(result.plan.config.registration.pointing_sigma_deg)
    bound_px = 3 * alt * sigma / math.sqrt(len(cams)) / result.plan.grid.resolution
    assert geo["common_px"] <= bound_px, (geo, bound_px)
    # seams: residual against truth near frame edges no larger than in frame interiors
    assert acc["seam_ratio"] <= 1.1, acc


def test_schedulers_agree_bit_for_bit(survey, mosaic_run, tmp_path):
    _, reference, _ = mosaic_run
    out = tmp_path / "threads.tif"
    run(survey, out, calibration=survey / "calibration",
        config=small_config(tmp_path, run={"scheduler": "threads", "workers": 2}))
    with rasterio.open(reference) as a, rasterio.open(out) as b:
        assert np.array_equal(a.read(), b.read(), equal_nan=True)


def test_stage_functions_from_python_make_a_true_mosaic(survey, tmp_path):
    """The README's Python walk-through (ingest, calibrate, register, crosscheck, mosaic, no
    dask) makes a mosaic as true as the graph's, honouring the mosaic's output settings."""
    from pipeline import calibrate, crosscheck, ingest, mosaic, register

    cfg = small_config(tmp_path, mosaicking={"compress": "zstd", "overviews": False})
    found = ingest(survey, calibration=survey / "calibration", config=cfg)
    frames = calibrate(found.frames, found.calibration, cfg)
    reg = register(frames, cfg)
    frames = crosscheck(frames, reg, cfg)
    assert all(f.qa["crosscheck_overlaps"] >= 1 for f in frames)
    out = mosaic(frames, tmp_path / "by_hand.tif", registration=reg, config=cfg)
    with rasterio.open(out) as ds:
        assert ds.profile["compress"].lower() == "zstd" and not ds.overviews(1)
        assert "farside_config" in ds.tags() and "farside_inputs" in ds.tags()  # same provenance as run()
    assert out.with_suffix(".png").exists() and out.with_suffix(".stac.json").exists()
    acc = mosaic_accuracy(out, load_truth(survey), dict(reg.cameras), samples=20_000)
    assert acc["pearson"] >= 0.95 and acc["geolocation_adjusted"]["relative_p90_px"] <= 0.5, acc
    # the same output set protection as run(): nothing replaced without overwrite
    with pytest.raises(OutputExists):
        mosaic(frames, out, registration=reg, config=cfg)
    assert mosaic(frames, out, registration=reg, config=cfg, overwrite=True) == out
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith("by_hand")) == [
        "by_hand.png", "by_hand.relief.tif", "by_hand.stac.json", "by_hand.tif"]
