"""End to end on a small generated survey: the whole pipeline against the generator's truth.

The survey is generated once per session (2 strips x 3 frames of 160 px, pointing errors
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

from bench.accuracy import mosaic_accuracy
from pipeline.config import load_config
from pipeline.graph import run
from pipeline.simulation import load_truth, simulate_survey

pytestmark = pytest.mark.slow

CAL_KEYS = {"responsivity": 2500.0, "solar_irradiance": 1500.0, "gain_e_per_dn": 6.0,
            "photometry": {"model": "lunar_lambert", "lunar_lambert_l": 0.5}}


@pytest.fixture(scope="session")
def survey(tmp_path_factory):
    root = tmp_path_factory.mktemp("survey")
    simulate_survey(root, seed=7, n_strips=2, frames_per_strip=3, size=(160, 160), gsd_m=300.0)
    return root


def _config(tmp, **over):
    base = {"calibration": CAL_KEYS, "run": {"scheduler": "synchronous", "workdir": str(tmp / "work")},
            "mosaic": {"tile_size": 128}}
    for k, v in over.items():
        base.setdefault(k, {}).update(v)
    return load_config(None, base)


@pytest.fixture(scope="session")
def mosaic_run(survey, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    out = tmp / "mosaic.tif"
    result = run(survey, out, calibration=survey / "calibration", config=_config(tmp))
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


def test_coverage_and_accuracy_against_truth(mosaic_run):
    result, out, truth = mosaic_run
    reg = result.product["registration"]
    cameras = dict(reg.cameras)
    acc = mosaic_accuracy(out, truth, cameras, samples=60_000)
    # the mosaic covers the true footprints (inside the map extent)
    assert acc["coverage_pct"] >= 99.0, acc
    # calibrated, photometrically normalised I/F tracks the truth albedo
    assert acc["pearson"] >= 0.95, acc
    # frame-to-frame misregistration after bundle adjustment (output pixels, 90th percentile)
    geo = acc["geolocation_adjusted"]
    assert geo["relative_p90_px"] <= 0.5, geo
    # the common offset is bounded by the pointing priors: sigma / sqrt(N) at the altitude,
    # three sigma, in output pixels
    cams = list(truth.true_cameras.values())
    alt = np.mean([np.linalg.norm(c.position_m) - c.radii_m[0] for c in cams])
    sigma = math.radians(result.plan.config.registration.pointing_sigma_deg)
    bound_px = 3 * alt * sigma / math.sqrt(len(cams)) / result.plan.grid.resolution
    assert geo["common_px"] <= bound_px, (geo, bound_px)
    # and it is better than the reported pointing by a wide margin
    assert geo["relative_p90_px"] < acc["geolocation_reported"]["relative_p90_px"] / 3


def test_schedulers_agree_bit_for_bit(survey, mosaic_run, tmp_path):
    _, reference, _ = mosaic_run
    out = tmp_path / "threads.tif"
    run(survey, out, calibration=survey / "calibration",
        config=_config(tmp_path, run={"scheduler": "threads", "workers": 2}))
    with rasterio.open(reference) as a, rasterio.open(out) as b:
        assert np.array_equal(a.read(), b.read(), equal_nan=True)
