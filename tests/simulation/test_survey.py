"""The flight plan: coverage, overlaps, straddling 180 E, Sun, exposures, reported errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.geometry import FrameCamera
from pipeline.simulation import coverage_fraction, nadir_camera, overlap_fraction, plan_survey
from pipeline.simulation.survey import nadir_attitude


@pytest.fixture(scope="module")
def plan():
    return plan_survey(seed=42)


@pytest.fixture(scope="module")
def cams(plan):
    return {f.id: plan.true_camera(f) for f in plan.frames}


def test_layout(plan):
    assert len(plan.frames) == 18
    assert {f.strip for f in plan.frames} == {0, 1, 2}
    lon0, lon1, _, _ = plan.region_deg
    assert lon0 < 180.0 < lon1  # straddles 180 E
    assert 100.0 <= plan.gsd_m <= 200.0
    assert [f.format for f in plan.frames[:4]] == ["pds3", "pds4", "fits", "tiff"]
    for fmt in ("pds3", "pds4"):
        assert {f.byte_order for f in plan.frames if f.format == fmt} == {"MSB", "LSB"}
    times = [f.time_s for f in plan.frames]
    assert times == sorted(times)


def test_footprints_cover_region_and_straddle_180(plan, cams):
    assert coverage_fraction(cams.values(), plan.region_deg) >= 0.995
    lons = [cams[f.id].footprint_deg(8)[0] for f in plan.frames if f.strip == 1]
    assert any(lon.min() < 180.0 < lon.max() for lon in lons)


def test_overlaps_within_stated_range(plan, cams):
    by_strip = {}
    for f in plan.frames:
        by_strip.setdefault(f.strip, []).append(cams[f.id])
    along = [overlap_fraction(a, b) for s in by_strip.values() for a, b in itertools.pairwise(s)]
    across = [overlap_fraction(a, by_strip[j + 1]) for j in range(2) for a in by_strip[j]]
    assert 0.30 <= min(along) and max(along) <= 0.50
    assert 0.28 <= min(across) and max(across) <= 0.55
    assert 0.30 <= np.mean(across) <= 0.50


def test_sun_never_night_and_incidence_range(plan, cams):
    incs = set()
    for f in plan.frames:
        cam = cams[f.id]
        ll, ss = np.meshgrid([0.5, cam.lines / 2, cam.lines - 0.5], [0.5, cam.samples / 2, cam.samples - 0.5],
                             indexing="ij")
        xyz, hit = cam.image_to_ground_hit(ll, ss)
        assert hit.all()
        inc, emi, _ = cam.illumination_angles(xyz)
        assert np.all((np.degrees(inc) > 30) & (np.degrees(inc) < 60))
        assert np.all(np.degrees(emi) < 30)  # 45 deg diagonal field of view
        incs.add(round(float(np.degrees(inc[1, 1]))))
    assert len(incs) >= 3  # the Sun changes between strips


def test_exposures_and_wobble(plan):
    for f in plan.frames:
        assert 0.005 <= f.exposure_s <= 0.020
        assert max(abs(v) for v in f.wobble_deg) <= 2.0
    assert max(max(abs(v) for v in f.wobble_deg) for f in plan.frames) > 0.5


def test_reported_cameras_carry_the_stated_errors(plan, cams):
    for f in plan.frames:
        err = np.abs(f.pointing_error_deg)
        assert np.all((err >= 0.1) & (err <= 0.3))
        assert np.linalg.norm(f.position_error_m) == pytest.approx(500.0, abs=0.01)
        true, rep = cams[f.id], plan.reported_camera(f)
        np.testing.assert_allclose(rep.position_m - true.position_m, f.position_error_m, atol=1e-6)
        rel = true.cam_to_body.T @ rep.cam_to_body
        angle = math.degrees(math.acos(min(1.0, (np.trace(rel) - 1) / 2)))
        assert angle == pytest.approx(np.linalg.norm(f.pointing_error_deg), rel=1e-6)


def test_orientation_north_up_and_south_bound():
    north = nadir_camera(180.0, 0.0, lines=100, samples=100)
    south = nadir_camera(180.0, 0.0, lines=100, samples=100, heading="south")
    for cam, sign in ((north, 1), (south, -1)):
        xyz, _ = cam.image_to_ground_hit(np.array([0.5, 99.5]), np.array([50.0, 50.0]))
        lat = np.degrees(np.arcsin(xyz[:, 2] / np.linalg.norm(xyz, axis=1)))
        assert sign * (lat[0] - lat[1]) > 0  # first line is north for north-bound frames
    assert np.linalg.det(nadir_attitude(1.0, 0.2)) == pytest.approx(1.0)
    assert isinstance(north, FrameCamera)
    assert north.gsd_m() == pytest.approx(180.0, rel=1e-3)


def test_region_argument_sets_the_gsd():
    p = plan_survey(seed=1, n_strips=3, frames_per_strip=6, region=(176.0, 184.0, -4.0, 4.0))
    assert p.region_deg == (176.0, 184.0, -4.0, 4.0)
    cams = [p.true_camera(f) for f in p.frames]
    assert coverage_fraction(cams, p.region_deg) >= 0.995
    assert p.overlap_along >= 0.40 and p.overlap_across >= 0.40


@pytest.mark.parametrize(
    "kwargs",
    [{"n_strips": 0}, {"overlap_along": 0.95}, {"formats": ("png",)}, {"region": (10, 5, 0, 1)}],
)
def test_bad_parameters(kwargs):
    with pytest.raises(ConfigError):
        plan_survey(**kwargs)
