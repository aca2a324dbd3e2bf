"""``registration.points: auto`` (the default): free 3-D points where the relief matters,
the reference surface where it does not, against known truth.

Flat weak network: the registration tests' 3 x 3 survey of 200 px nadir frames (images, true
cameras on the sphere), where free points float ~870 m above the sphere. Strong networks:
``network_helpers`` strips (no images) with +-1.5 km of relief, or flat ground 2 km below the
sphere (a basin floor), which the sphere would get wrong and the data fix.
"""

from __future__ import annotations

import math

import numpy as np
from affine import Affine

from bench.perfect_ties import perfect_ties
from pipeline.geometry.body import xyz_to_lonlat
from pipeline.geometry.dem import Dem
from pipeline.registration import adjust
from pipeline.registration.bundle.pointmode import Level
from pipeline.registration.bundle.report import OBLIQUE_VIEW_DEG
from pipeline.registration.params import RegistrationParams
from pipeline.simulation import load_truth, simulate_survey, survey_preset
from tests.registration.network_helpers import point_radius_error_m, pointing_error_left_px, relief_m, strip_network

AUTO = RegistrationParams(pointing_sigma_deg=0.1)


def test_auto_is_the_default():
    assert RegistrationParams().points == "auto"


def test_a_flat_weak_network_is_solved_on_the_sphere(survey, survey_matches, cfg):
    _, matches = survey_matches
    auto = adjust(survey.reported, matches, cfg.model_copy(update={"points": "auto"}))
    free = adjust(survey.reported, matches, cfg.model_copy(update={"points": "free"}))
    surface = adjust(survey.reported, matches, cfg)
    assert auto.points == "surface" and free.points == "free"
    # the free network floats (measured +867 m): auto sees no relief (parallax p90 0.20 px) and an
    # undetermined level, and solves on the sphere: the surface solution exactly
    r_free = np.linalg.norm(free.points_xyz[np.all(np.isfinite(free.points_xyz), axis=1)], axis=1) - 1737400.0
    assert np.median(r_free) > 300.0
    assert auto.relief_parallax_px < cfg.relief_parallax_px
    np.testing.assert_array_equal(auto.points_xyz, surface.points_xyz)
    for k in survey.ids:
        np.testing.assert_array_equal(auto.corrections[k].rotvec_rad, surface.corrections[k].rotvec_rad)
    assert any("points: auto" in n and "reference surface" in n for n in auto.notes)


def test_a_base_dem_holds_the_free_points_level(survey, survey_matches, cfg):
    """The flat weak network's free points float (+867 m, above); a coarse base DEM
    (``mosaicking.relief_base``, here flat at the sphere) holds their mean level to
    point_radius_sigma_m (measured +18 m), and auto keeps them free instead of falling back to the
    sphere."""
    _, matches = survey_matches
    free = adjust(survey.reported, matches, cfg.model_copy(update={"points": "free"}))
    ok = np.all(np.isfinite(free.points_xyz), axis=1)
    lon, lat = (np.degrees(a) for a in xyz_to_lonlat(free.points_xyz[ok]))
    west, north = math.floor(lon.min()) - 1, math.ceil(lat.max()) + 1
    base = Dem.from_array(np.zeros((40, 40)), Affine(0.1, 0, west, 0, -0.1, north), datum_radius_m=1737400.0)
    held = adjust(survey.reported, matches, cfg.model_copy(update={"points": "auto"}), base=base)
    assert held.points == "free"
    r = np.linalg.norm(held.points_xyz[np.all(np.isfinite(held.points_xyz), axis=1)], axis=1) - 1737400.0
    assert abs(np.median(r)) < 100.0, np.median(r)


def test_relief_keeps_free_points():
    net = strip_network(relief=relief_m)
    result = adjust(net.reported, net.matches, AUTO)
    assert result.points == "free" and result.relief_parallax_px > 1.0  # measured 2.0 px
    err = point_radius_error_m(net, result)
    assert np.std(err) < 60.0 and abs(np.mean(err)) < 300.0  # measured 39 m, 75 m
    assert np.percentile(pointing_error_left_px(net, result), 90) < 3.0  # measured 1.4 px
    assert any("free 3-D tie points kept" in n for n in result.notes)
    # nadir views 8 deg apart (measured): no shading warning
    assert result.view_angle_deg < OBLIQUE_VIEW_DEG and not any("deg apart over relief" in n for n in result.notes)


def _apart(result) -> list[str]:
    return [n for n in result.notes if "deg apart over relief" in n]


def test_views_far_apart_over_relief_warn_without_a_dem(tmp_path):
    """Two strips of 2 frames looking 30 and 33 deg from opposite sides over the simulator's
    relief, tie points placed by the truth: the views are 67 deg apart at p90 (measured; the
    along-strip pairs less than the cross-strip ones), and without a DEM the adjustment warns
    that the shading biases such tie points (docs/registration.md, "Limits"); with the DEM it
    does not."""
    out = tmp_path / "survey"
    simulate_survey(out, **survey_preset("oblique_relief", seed=3, frames_per_strip=2, size=(128, 128)), workers=1)
    truth = load_truth(out)
    cams = dict(truth.reported_cameras)
    ties = perfect_ties(truth, cams, 150)
    alone = adjust(cams, ties, RegistrationParams())
    assert alone.points == "free" and 60.0 < alone.view_angle_deg < 76.0, alone.view_angle_deg
    assert len(_apart(alone)) == 1 and "give mosaicking.dem" in _apart(alone)[0]
    with_dem = adjust(cams, ties, RegistrationParams(), dem=truth.terrain.dem)
    assert with_dem.points == "free" and not _apart(with_dem)


def test_a_flat_floor_below_the_sphere_keeps_its_level():
    """No relief, but the ground is 2 km below the sphere: the level matters (2 km x the rays'
    angle) and this network fixes it, so auto keeps the free points; the sphere would leave
    the pointing 16 px wrong."""
    net = strip_network(relief=lambda lon, lat: np.full(np.shape(lon), -2000.0))
    result = adjust(net.reported, net.matches, AUTO)
    surface = adjust(net.reported, net.matches, AUTO.model_copy(update={"points": "surface"}))
    assert result.points == "free"
    assert abs(np.mean(point_radius_error_m(net, result))) < 200.0  # measured 88 m
    left = np.percentile(pointing_error_left_px(net, result), 90)
    left_s = np.percentile(pointing_error_left_px(net, surface), 90)
    assert left < 2.0 and left_s > 10.0, (left, left_s)  # measured 1.2 and 16 px


def test_level_is_determined_by_how_it_follows_its_prior():
    lvl = Level(height_m=-2000.0, parallax_px=2.0)
    # moved by 1 m of a 1000 m shift: sigma sqrt(0.001) 3 km = 95 m, the level is 21 sigma off
    assert lvl.determined(-1999.0, 1000.0, 3000.0)
    # followed half the shift: sigma 2.1 km, the level is within it
    assert not lvl.determined(-1500.0, 1000.0, 3000.0)
    assert math.isclose(Level(0.0, 0.0).parallax_px, 0.0)


def test_auto_with_no_tie_points_solves_on_the_surface(survey):
    # one frame, no tracks (the real NAC crop's case): nothing to decide, no free points
    one = {k: survey.reported[k] for k in survey.ids[:1]}
    result = adjust(one, [], AUTO)
    assert result.points == "surface" and math.isnan(result.relief_parallax_px)
