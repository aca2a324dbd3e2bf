"""orchestration.qa.tie_observations: the adjusted control network traced to the ground with
real frame cameras, against a known pointing error (analytic truth: a rotation of theta of a
nadir camera at altitude h moves its ground points by h tan(theta), its image by f tan(theta))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.geometry.body import MOON_RADII_M, lonlat_to_xyz_deg
from pipeline.orchestration.qa import tie_observations
from pipeline.registration import ControlNetwork
from pipeline.report.misregistration import misregistration
from tests.registration.helpers import nadir_camera

R = MOON_RADII_M[0]
ALT_M, FOCAL_PX = 100_000.0, 1000.0  # nadir GSD 100 m
THETA = 3.0e-3  # rad: 300 m on the ground, 3 px in the image
STEP_M = 10_000.0  # frames 200 px = 20 km wide, centres 10 km apart: 50 % overlap


def _lon(x_m: float) -> float:
    return 180.0 + math.degrees(x_m / R)


@pytest.fixture(scope="module")
def strip():
    """Frames A, B, C along the equator across 180 E; C's adjusted pointing is off by THETA
    about the camera's x axis. A-B share 40 tie points, B-C 5 (so B's 85th percentile is set
    by its good matches with A)."""
    true = {k: nadir_camera(_lon(i * STEP_M), 0.0, altitude_m=ALT_M, focal_px=FOCAL_PX)
            for i, k in enumerate("ABC")}
    adjusted = dict(true, C=true["C"].with_pointing_correction([THETA, 0.0, 0.0]))
    rng = np.random.default_rng(5)
    rows = {k: [] for k in ("point_id", "frame_id", "line", "sample", "lon_deg", "lat_deg")}
    pid = 0
    for a, b, x0, n in (("A", "B", 0.0, 40), ("B", "C", STEP_M, 5)):
        lon = np.array([_lon(x) for x in rng.uniform(x0 + 1500, x0 + STEP_M - 1500, n)])
        lat = np.degrees(rng.uniform(-8500, 8500, n) / R)
        xyz = lonlat_to_xyz_deg(lon, lat)
        for f in (a, b):
            line, sample = true[f].ground_to_image(xyz)
            assert np.all((line > 0) & (line < 200) & (sample > 0) & (sample < 200))
            rows["point_id"].append(pid + np.arange(n))
            rows["frame_id"].append(np.full(n, f, dtype=object))
            rows["line"].append(line)
            rows["sample"].append(sample)
            rows["lon_deg"].append(lon)
            rows["lat_deg"].append(lat)
        pid += n
    cols = {k: np.concatenate(v) for k, v in rows.items()}
    n_obs = cols["line"].size
    # one outlier, one ground control point and one observation in a frame without a camera:
    # all three must be left out
    extra = {"point_id": [0, -1, 0], "frame_id": ["A", "B", "Z"], "line": [5.0, 100.0, 100.0],
             "sample": [5.0, 100.0, 100.0], "lon_deg": [180.0] * 3, "lat_deg": [0.0] * 3}
    cols = {k: np.concatenate([v, np.asarray(extra[k], dtype=v.dtype)]) for k, v in cols.items()}
    flags = np.zeros(n_obs + 3, bool)
    outlier, control = flags.copy(), flags.copy()
    outlier[n_obs], control[n_obs + 1] = True, True
    zeros = np.zeros(n_obs + 3)
    net = ControlNetwork(cols["point_id"].astype(int), cols["frame_id"], cols["line"], cols["sample"],
                         cols["lon_deg"], cols["lat_deg"], zeros, zeros, outlier, control)
    return net, adjusted, n_obs


def test_only_inlier_tie_observations_of_known_frames(strip):
    net, cams, n_obs = strip
    obs = tie_observations(net, cams)
    assert len(obs) == n_obs
    assert set(obs.frame_id) == {"A", "B", "C"}
    assert np.isfinite(obs.ground_xyz_m).all()


def test_residuals_match_the_pointing_error(strip):
    """Frames with true pointing have no residual; C's is f tan(theta) = 3 px in the image and
    h tan(theta) = 300 m on the ground (1-3 % more off nadir)."""
    net, cams, _ = strip
    obs = tie_observations(net, cams)
    is_c = obs.frame_id == "C"
    px = np.hypot(*obs.residual_px.T)
    ground = np.linalg.norm(obs.residual_ground_m, axis=1)
    assert px[~is_c].max() < 1e-6 and ground[~is_c].max() < 1e-3
    expect_px, expect_m = FOCAL_PX * math.tan(THETA), ALT_M * math.tan(THETA)
    assert np.all((px[is_c] > 0.999 * expect_px) & (px[is_c] < 1.03 * expect_px)), px[is_c]
    assert np.all((ground[is_c] > 0.995 * expect_m) & (ground[is_c] < 1.03 * expect_m)), ground[is_c]


def test_misregistration_of_the_known_case(strip):
    """The seam B-C is off by h tan(theta) = 3 px of a 100 m map; A-B is exact; ASP's rule
    flags C only (B's 85th percentile comes from its 40 good matches with A)."""
    net, cams, _ = strip
    m = misregistration(tie_observations(net, cams), pixel_size_m=100.0)
    seams = {(s.frame_a, s.frame_b): s.offsets for s in m.seams}
    assert set(seams) == {("A", "B"), ("B", "C")}
    assert seams[("A", "B")].n == 40 and seams[("A", "B")].max_m < 1e-3
    bc = seams[("B", "C")]
    assert bc.n == 5
    assert m.px(bc.at(50)) == pytest.approx(ALT_M * math.tan(THETA) / 100.0, rel=0.03)
    assert m.failing == ("C",)
    frames = {f.frame_id: f for f in m.frames}
    assert m.px(frames["C"].offsets.at(85)) > 2.9 and m.px(frames["B"].offsets.at(85)) < 0.01


def test_true_cameras_register_perfectly(strip):
    net, cams, _ = strip
    true = dict(cams, C=cams["C"].with_pointing_correction([-THETA, 0.0, 0.0]))
    m = misregistration(tie_observations(net, true), pixel_size_m=100.0)
    assert m.failing == () and max(f.offsets.max_m for f in m.frames) < 0.01


def test_no_observation_left_gives_none(strip):
    net, cams, _ = strip
    assert tie_observations(net, {"Q": cams["A"]}) is None  # no observation in a frame with a camera
