"""Issue 19's targets on the simulator's ``relief_strip`` (one strip of 8 nadir 256^2 frames at
75 % overlap over 3 km of relief), measured against its truth (:mod:`bench.relief`):

With the default config (no DEM):

- frame-to-frame misregistration p90 <= 0.3 px on the TRUE surface (adjusted cameras alone);
- the relief model within 150 m RMS of the truth DEM where tie points are dense;
- overlaps as sharp as single frames (local gradient energy ratio >= 0.95), the sphere lower;
- pointing corrections within 3 sigma of the simulated errors (sigma: the prior over sqrt(N),
  what fixes the network's common rotation without ground control), with and without a DEM.

Each run is the whole pipeline (ingest .. mosaic) over the simulated survey: slow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.relief import camera_misregistration
from pipeline.geometry.body import xyz_to_lonlat
from pipeline.simulation import load_truth, simulate_survey, survey_preset
from tests.mosaicking.relief_helpers import coarse_dem, measure, register_survey, run_survey

pytestmark = pytest.mark.slow




@pytest.fixture(scope="module")
def strip(tmp_path_factory):
    out = tmp_path_factory.mktemp("relief_strip") / "survey"
    simulate_survey(out, **survey_preset("relief_strip", seed=0), workers=1)
    return out


@pytest.fixture(scope="module")
def free(strip, tmp_path_factory):
    """The default config (registration.points: auto, mosaicking.relief: auto), no DEM."""
    run = run_survey(strip, tmp_path_factory.mktemp("free") / "m.tif")
    return run, measure(run)


def _three_sigma_deg(run) -> float:
    reg = run.config.registration
    return 3.0 * reg.pointing_sigma_deg / math.sqrt(len(run.registration.corrections))


def test_free_points_and_the_relief_model_meet_the_targets(free):
    run, n = free
    # auto found the relief (parallax p90 measured 2.71 px) and kept free points and the relief model
    assert run.registration.points == "free" and run.registration.relief_parallax_px > 1.0
    assert run.relief is not None and not run.relief.is_sphere
    assert n["convergence"]["converged"] and not n["convergence"]["drift"]
    assert n["cameras_on_true_surface"]["p90"] <= 0.3, n["cameras_on_true_surface"]
    assert n["relief"]["rms_m"] <= 150.0, n["relief"]
    assert n["relief"]["posts"] >= 100
    assert n["sharpness"]["ratio"] >= 0.95, n["sharpness"]
    assert np.max(n["pointing_error_deg"]["max_abs"]) <= _three_sigma_deg(run), n["pointing_error_deg"]


def test_points_on_the_sphere_fall_short(strip, free, tmp_path):
    """Today's behaviour before issue 19 (points and mosaic on the sphere): the network bends to
    fit the relief, pointing goes wrong by degrees and the overlaps blur."""
    _, good = free
    run = run_survey(strip, tmp_path / "m.tif", {"registration": {"points": "surface"},
                                                  "mosaicking": {"relief": "sphere"}})
    n = measure(run)
    assert n["cameras_on_true_surface"]["p90"] > 3 * good["cameras_on_true_surface"]["p90"]
    assert n["sharpness"]["ratio"] < good["sharpness"]["ratio"] - 0.005  # measured 0.979 vs 0.991
    assert np.max(n["pointing_error_deg"]["max_abs"]) > _three_sigma_deg(run)


def test_with_the_true_dem_pointing_is_recovered_too(strip, tmp_path):
    run = run_survey(strip, tmp_path / "m.tif", {"registration": {"points": "free"},
                                                  "mosaicking": {"dem": str(strip / "truth" / "dem.tif")}})
    n = measure(run, sharpness=False)
    assert run.relief is None  # a given DEM wins over the relief model
    assert n["cameras_on_true_surface"]["p90"] <= 0.3, n["cameras_on_true_surface"]
    assert np.max(n["pointing_error_deg"]["max_abs"]) <= _three_sigma_deg(run), n["pointing_error_deg"]


def test_a_coarse_base_dem_holds_the_strips_level(tmp_path):
    """Without a DEM a single strip's common height trades against a pitch drift along it, and
    only the pointing priors decide it: with seed 5 the free points float 972 m above the truth
    and the cameras misregister by 1.81 px p90 on the true surface (seeds 0/3/4: 0.13, 0.97,
    0.45 px).
    A coarse DEM as ``mosaicking.relief_base`` (the truth averaged to 1.8 km posts, as a global
    DEM would be) holds the network's mean level: measured 0.077 px p90, the points' median
    height 3 m off the truth (seed 3 0.119 px, seed 4 0.106 px, a Hapke surface 0.154 px)."""
    out = tmp_path / "survey"
    simulate_survey(out, **survey_preset("relief_strip", seed=5), workers=1)
    base = coarse_dem(out / "truth" / "dem.tif", tmp_path / "base.tif", 20)
    reg = register_survey(out, {"mosaicking": {"relief_base": str(base)}})
    truth = load_truth(out)
    assert reg.points == "free"
    assert np.percentile(camera_misregistration(truth, dict(reg.cameras)), 90) <= 0.3
    pts = reg.points_xyz[np.all(np.isfinite(reg.points_xyz), axis=1)]
    height = np.linalg.norm(pts, axis=1) - truth.terrain.dem.radius_m(*xyz_to_lonlat(pts))
    assert abs(np.median(height)) < 150.0, np.median(height)
