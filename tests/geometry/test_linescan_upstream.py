"""Every numeric assertion of usgscsm's own line-scan / push-frame tests, at usgscsm's tolerance.

The assertions are listed in ``../shared/reference/linescan/truth/usgscsm_upstream_asserts.csv``
(usgscsm ba32d13: LineScanCameraTests, PushFrameCameraTests, the lunar DistortionTests and the
UtilitiesTests a line-scan model relies on). Each test below reads its row (input, expected
value, tolerance) and checks farside's equivalent call. ``test_every_row_is_checked`` fails when
the CSV gains a row nobody checks.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from pipeline.errors import GeometryError
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.ephemeris import lagrange_interp_uniform
from pipeline.geometry.scan_math import distorted_focal_plane, rotvec_matrices
from tests.geometry.scan_helpers import (
    USGSCSM_ISDS,
    camera,
    numbers,
    require,
    tolerance,
    upstream,
    upstream_rows,
)

CHECKED: set[str] = set()
NOT_APPLICABLE = {
    # usgscsm's CSM parameter-covariance API; farside cameras carry no parameter covariance
    # (the bundle adjustment keeps its own priors), so there is nothing to compare.
    "TwoLineScanSensorModels.CrossCovariance",
}


def checks(name):
    CHECKED.add(name)
    return lambda f: f


def cam(name):
    return camera(require(USGSCSM_ISDS / name))


def assert_double_eq(actual, expected):
    """gtest ``EXPECT_DOUBLE_EQ``: within 4 ulps."""
    np.testing.assert_array_max_ulp(np.asarray(actual, float), np.asarray(expected, float), maxulp=4)


def with_sun(c, position, velocity=None):
    eph = dataclasses.replace(
        c.ephemeris, sun_positions=[position], sun_velocities=[] if velocity is None else [velocity]
    )
    return dataclasses.replace(c, ephemeris=eph)


# -- LineScanCameraTests: constant-velocity fly-by ---------------------------------------------
@checks("ConstVelocityLineScanSensorModel.Center")
def test_const_velocity_center():
    row = upstream("ConstVelocityLineScanSensorModel.Center")
    e = numbers(row["expected"])
    g = cam("constVelocityLineScan.json").image_to_ground(8.0, 8.0, 0.0)
    np.testing.assert_allclose(g, [e["x"], e["y"], e["z"]], rtol=0, atol=tolerance(row))


@checks("ConstVelocityLineScanSensorModel.Inversion")
def test_const_velocity_inversion():
    row = upstream("ConstVelocityLineScanSensorModel.Inversion")
    c = cam("constVelocityLineScan.json")
    line, sample = c.ground_to_image(c.image_to_ground(8.5, 8.0, 0.0), precision=0.001)
    np.testing.assert_allclose([line, sample], [8.5, 8.0], rtol=0, atol=tolerance(row))


@checks("ConstVelocityLineScanSensorModel.OffBody")
def test_const_velocity_off_body_ray_gives_closest_point_and_a_miss_flag():
    row = upstream("ConstVelocityLineScanSensorModel.OffBody")
    e = numbers(row["expected"])
    c = cam("constVelocityLineScan.json")
    g = c.image_to_ground(0.0, 4.0, 0.0)
    np.testing.assert_allclose(g, [e["x"], e["y"], e["z"]], rtol=0, atol=tolerance(row))
    xyz, hit = c.image_to_ground_hit(0.0, 4.0)
    assert not hit and np.array_equal(xyz, g)
    assert c.image_to_ground_hit(8.0, 8.0)[1]


@checks("ConstVelocityLineScanSensorModel.RemoteImageLocus")
def test_const_velocity_remote_locus_is_the_ray():
    row = upstream("ConstVelocityLineScanSensorModel.RemoteImageLocus")
    tol = tolerance(row)
    c = cam("constVelocityLineScan.json")
    origin, direction = c.rays(8.5, 8.0)
    np.testing.assert_allclose(origin, [1000.0, 0.0, 0.0], rtol=0, atol=tol)
    g = c.image_to_ground(8.5, 8.0, 0.0)
    np.testing.assert_allclose(direction, (g - origin) / np.linalg.norm(g - origin), rtol=0, atol=tol)


@checks("ConstVelocityLineScanSensorModel.ProximateImageLocus")
def test_const_velocity_proximate_locus():
    tol = tolerance(upstream("ConstVelocityLineScanSensorModel.ProximateImageLocus"))
    c = cam("constVelocityLineScan.json")
    ground = np.array([10.0, 2.0, 1.0])
    origin, direction = c.rays(8.0, 8.0)
    # usgscsm's proximate locus: the ray through (8, 8), at its point nearest the ground point
    h = np.linalg.norm(ground) - c.radii_m[0]
    g1 = c.image_to_ground(8.0, 8.0, h)
    g2 = c.image_to_ground(8.0, 8.0, h - 1.0)
    d = (g2 - g1) / np.linalg.norm(g2 - g1)
    point = g1 + np.dot(ground - g1, d) * d
    np.testing.assert_allclose(d, direction, rtol=0, atol=tol)
    assert abs(np.dot(point - ground, d)) < tol
    assert np.linalg.norm(np.cross(point - origin, direction)) < 1e-9  # the point is on the ray


@checks("ConstVelocityLineScanSensorModel.calculateAttitudeCorrection")
def test_attitude_correction_matrix():
    row = upstream("ConstVelocityLineScanSensorModel.calculateAttitudeCorrection")
    expected = np.array([float(v) for v in row["expected"].split("[")[1].split("]")[0].split(",")]).reshape(
        3, 3
    )
    np.testing.assert_allclose(
        rotvec_matrices([0.0, math.pi / 2, 0.0]), expected, rtol=0, atol=tolerance(row)
    )
    # the same rotation applied as farside's camera-frame correction at t = 999.5 s (ISD time)
    c = cam("constVelocityLineScan.json")
    t = 999.5 - c.time_s
    corrected = c.with_pointing_correction([0.0, math.pi / 2, 0.0])
    rel = c.cam_to_body_at_time(t).T @ corrected.cam_to_body_at_time(t)
    np.testing.assert_allclose(rel, expected, rtol=0, atol=tolerance(row))


@checks("ConstVelocityLineScanSensorModel.FocalLengthAdjustment")
def test_focal_length_adjustment():
    row = upstream("ConstVelocityLineScanSensorModel.FocalLengthAdjustment")
    c = cam("constVelocityLineScan.json")
    shorter = dataclasses.replace(c, focal_length_mm=c.focal_length_mm * (1 - 0.9))  # adj[15] = 0.9 halfSwath
    _, direction = shorter.rays(8.5, 4.0)
    expected = np.array([-5.0, -0.4, -0.05]) / math.sqrt(25 + 0.16 + 0.0025)
    np.testing.assert_allclose(direction, expected, rtol=0, atol=tolerance(row))


# -- LineScanCameraTests: orbital ----------------------------------------------------------------
@checks("OrbitalLineScanSensorModel.Center")
def test_orbital_center():
    row = upstream("OrbitalLineScanSensorModel.Center")
    e = numbers(row["expected"])
    g = cam("orbitalLineScan.json").image_to_ground(8.5, 8.0, 0.0)
    np.testing.assert_allclose(g, [e["x"], e["y"], e["z"]], rtol=0, atol=tolerance(row))


INVERSIONS = [
    ("OrbitalLineScanSensorModel.Inversion", 0.0, 0.001),
    ("OrbitalLineScanSensorModel.InversionHeight", 100.0, 0.001),
    ("OrbitalLineScanSensorModel.InversionReallyHigh", 4900.0, 0.001),
]
CHECKED.update(row[0] for row in INVERSIONS)


@pytest.mark.parametrize("test, height, precision", INVERSIONS)
def test_orbital_inversion(test, height, precision):
    tol = tolerance(upstream(test))
    c = cam("orbitalLineScan.json")
    lines = np.arange(0.5, 16, 1.0)
    line, sample = c.ground_to_image(c.image_to_ground(lines, 8.0, height), precision=precision)
    np.testing.assert_allclose(line, lines, rtol=0, atol=tol)
    np.testing.assert_allclose(sample, 8.0, rtol=0, atol=tol)


@checks("OrbitalLineScanSensorModel.ImageToGroundHeight")
def test_orbital_image_to_ground_height():
    g = cam("orbitalLineScan.json").image_to_ground(8.5, 8.0, 100.0)
    assert "1000100" in upstream("OrbitalLineScanSensorModel.ImageToGroundHeight")["expected"]
    assert_double_eq(np.linalg.norm(g), 1000100.0)


SUN_LAGRANGE = [
    ("OrbitalLineScanSensorModel.getSunPositionLagrange", "orbitalLineScan.json", -0.6, 125.0),
    ("OrbitalPushFrameSensorModel.getSunPositionLagrange", "orbitalPushFrame.json", -0.6, 125_000_000.0),
]
CHECKED.update(row[0] for row in SUN_LAGRANGE)


@pytest.mark.parametrize("test, isd, time, expected", SUN_LAGRANGE)
def test_sun_position_lagrange(test, isd, time, expected):
    row = upstream(test)
    assert f"({expected:.0f} {expected:.0f} {expected:.0f})" == row["expected"]
    sun = cam(isd).ephemeris.sun_position(time)
    np.testing.assert_allclose(sun, [expected] * 3, rtol=0, atol=tolerance(row))


SUN_KINDS = ["OrbitalLineScanSensorModel", "OrbitalPushFrameSensorModel"]
CHECKED.update(f"{k}.getSunPosition{v}" for k in SUN_KINDS for v in ("Linear", "Stationary"))


@pytest.mark.parametrize("kind", SUN_KINDS)
def test_sun_position_linear_and_stationary(kind):
    c = cam("orbitalLineScan.json" if "Line" in kind else "orbitalPushFrame.json")
    assert_double_eq(with_sun(c, [100.0] * 3, [50.0] * 3).ephemeris.sun_position(0.5), [125.0] * 3)
    assert_double_eq(with_sun(c, [100.0] * 3).ephemeris.sun_position(1.0), [100.0] * 3)


@checks("OrbitalLineScanSensorModel.getIlluminationDirectionStationary")
def test_illumination_direction_stationary():
    c = with_sun(cam("orbitalLineScan.json"), [100.0] * 3)
    g = c.image_to_ground(8.5, 8.0, 0.0)
    expected = (g - 100.0) / np.linalg.norm(g - 100.0)
    assert_double_eq(c.illumination_direction(g), expected)


@checks("OrbitalLineScanSensorModel.ReferenceDateTime")
def test_reference_date_time():
    row = upstream("OrbitalLineScanSensorModel.ReferenceDateTime")
    assert cam("orbitalLineScan.json").reference_date_time() == row["expected"]


@checks("FlippedOrbitalLineScanSensorModel.OppositeFlightDetector")
def test_flipped_detector():
    tol = tolerance(upstream("FlippedOrbitalLineScanSensorModel.OppositeFlightDetector"))
    c = cam("flippedOrbitalLineScan.json")
    back = c.ground_to_image(c.image_to_ground(8.7, 8.0, 0.0))
    np.testing.assert_allclose(back, [8.7, 8.0], rtol=0, atol=tol)


# -- PushFrameCameraTests --------------------------------------------------------------------------
@checks("OrbitalPushFrameSensorModel.Center")
def test_push_frame_center():
    c = cam("orbitalPushFrame.json")
    np.testing.assert_allclose(c.image_to_ground(6.0, 8.0, 0.0), [1_000_000.0, 0.0, 0.0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.ground_to_image([1_000_000.0, 0.0, 0.0]), [6.0, 8.0], rtol=0, atol=1e-3)


@checks("OrbitalPushFrameSensorModel.Inversion")
def test_push_frame_inversion_within_usgscsms_tolerance():
    tol = tolerance(upstream("OrbitalPushFrameSensorModel.Inversion"))
    c = cam("orbitalPushFrame.json")
    line, sample = np.meshgrid(np.arange(0.5, 360, 1.0), np.arange(0.5, 16, 1.0), indexing="ij")
    back_l, back_s = c.ground_to_image(c.image_to_ground(line, sample, 0.0))
    assert np.abs(back_l - line).max() < tol and np.abs(back_s - sample).max() < tol


@checks("OrbitalPushFrameSensorModel.ImageToGroundHeight")
def test_push_frame_height():
    tol = tolerance(upstream("OrbitalPushFrameSensorModel.ImageToGroundHeight"))
    c = cam("orbitalPushFrame.json")
    d = np.linalg.norm(c.image_to_ground(6.0, 8.0, 100.0) - c.image_to_ground(6.0, 8.0, 0.0))
    assert abs(d - 100.0) < tol


# -- CMakeLists: usgscsm_cam_test on the tough LRO NAC ---------------------------------------------
@checks("test_usgscsm_cam_test_save_state")
def test_usgscsm_cam_test_tough_nac_round_trip():
    row = upstream("test_usgscsm_cam_test_save_state")
    assert "--sample-rate 100 --subpixel-offset 0.3 --height-above-datum 2307.5" in row["input"]
    c = cam("toughLroNacLineScan.json")
    line, sample = np.meshgrid(
        np.arange(0, c.lines, 100) + 0.3, np.arange(0, c.samples, 100) + 0.3, indexing="ij"
    )
    ground = c.image_to_ground(line, sample, 2307.5)
    back_l, back_s = c.ground_to_image(ground, precision=1e-10)
    assert np.hypot(back_l - line, back_s - sample).max() < tolerance(row)
    # with the tool's own --desired-precision 1e-8 (farside's default) the secant stops at a
    # 1e-8 px residual and usgscsm's final update can leave up to about that much (measured
    # 1.03e-8 px; the CMake test itself checks no number)
    back_l, back_s = c.ground_to_image(ground, precision=1e-8)
    assert np.hypot(back_l - line, back_s - sample).max() < 2 * tolerance(row)


# -- DistortionTests ---------------------------------------------------------------------------------
@checks("KaguyaLism.testRemoveCoeffs")
def test_kaguya_lism_remove():
    row = upstream("KaguyaLism.testRemoveCoeffs")
    d = Distortion("kaguyalism", (0.5, 1.0, 2.0, 3.0, 4.0, 0.5, 1.0, 2.0, 3.0, 4.0))
    ux, uy = d.remove(1.0, 1.0)
    expected = 1 + 1 + 2.828427125 + 6 + 11.313708499 + 0.5
    np.testing.assert_allclose([ux, uy], [expected, expected], rtol=0, atol=tolerance(row))


@checks("KaguyaLism.testCoeffs")
def test_kaguya_lism_tc_coefficients():
    row = upstream("KaguyaLism.testCoeffs")
    e = numbers(row["expected"])
    block = {"x": [-0.00096499, 0.00098441, 8.5773e-06, -3.7438e-06], "boresight_x": -0.0725,
             "y": [-0.0013796, 1.3502e-05, 2.7251e-06, -6.1938e-06], "boresight_y": 0.0214}  # fmt: skip
    d = Distortion.from_isd_block({"kaguyalism": block})
    ux, uy = d.remove(1.0, 1.0)
    assert abs(ux - e["ux"]) < 1e-6 and abs(uy - e["uy"]) < 1e-5
    np.testing.assert_allclose(d.apply(ux, uy), [1.0, 1.0], rtol=0, atol=1e-8)


@checks("LroLrocNac.testLastDetectorSample")
def test_lro_nac_last_detector_sample():
    row = upstream("LroLrocNac.testLastDetectorSample")
    e = numbers(row["expected"])
    d = Distortion.from_isd_block({"lrolrocnac": {"coefficients": [1.81e-5]}})
    y = 5064 / 2 * 0.007
    ux, uy = d.remove(0.0, y)
    np.testing.assert_allclose([ux, uy], [e["ux"], e["uy"]], rtol=0, atol=tolerance(row))
    np.testing.assert_allclose(d.apply(ux, uy), [0.0, y], rtol=0, atol=tolerance(row))


@checks("LroLrocNac.testCoeffs")
def test_lro_nac_origin():
    d = Distortion("lrolrocnac", (1.81e-5,))
    dx, dy = d.apply(0.0, 0.0)
    np.testing.assert_allclose(d.remove(dx, dy), [0.0, 0.0], rtol=0, atol=1e-8)


# -- UtilitiesTests ------------------------------------------------------------------------------------
FOCAL = [
    ("computeDistortedFocalPlaneCoordinates", (0.5, 4.0, 8.0, 0.5, 1, 1, 0, 0), (0.0, -0.4)),
    ("computeDistortedFocalPlaneCoordinatesSumming", (2, 4, 8, 8, 2, 2, 0, 0), (-0.4, 0.0)),
    ("computeDistortedFocalPlaneCoordinatesStart", (2, 4, 8, 8, 1, 1, 2, 1), (-0.5, -0.2)),
]
CHECKED.update(row[0] for row in FOCAL)


@pytest.mark.parametrize("test, args, expected", FOCAL)
def test_distorted_focal_plane(test, args, expected):
    e = numbers(upstream(test)["expected"])
    assert (e["x"], e["y"]) == expected
    assert_double_eq(distorted_focal_plane(*args, [0, 0, 10], [0, 10, 0]), expected)


@checks("computeDistortedFocalPlaneCoordinatesAffine")
def test_distorted_focal_plane_affine():
    row = upstream("computeDistortedFocalPlaneCoordinatesAffine")
    x, y = distorted_focal_plane(11, -9, 0, 0, 1, 1, 0, 0, [-10, 0, 0.1], [10, -0.1, 0])
    np.testing.assert_allclose([x, y], [-10.0, 10.0], rtol=0, atol=tolerance(row))


VALUES = [[1.0], [2.0], [4.0], [8.0], [16.0], [32.0], [64.0], [128.0]]


@checks("lagrangeInterp2nd/4th/6th/8thOrder")
def test_lagrange_orders():
    assert (
        "24/2 ; 180/16 ; 2898/256 ; 23169/2048" in upstream("lagrangeInterp2nd/4th/6th/8thOrder")["expected"]
    )
    got = [float(lagrange_interp_uniform(VALUES, 0.0, 1.0, 3.5, o)[0]) for o in (2, 4, 6, 8)]
    assert_double_eq(got, [24 / 2, 180 / 16, 2898 / 256, 23169 / 2048])


@checks("lagrangeInterpReduced2nd/4th/6thOrder")
def test_lagrange_reduced_near_the_ends():
    times = [0.5, 6.5, 1.5, 5.5, 2.5, 4.5]
    got = lagrange_interp_uniform(VALUES, 0.0, 1.0, np.array(times), 8)[:, 0]
    assert_double_eq(got, [3 / 2, 192 / 2, 45 / 16, 720 / 16, 1449 / 256, 5796 / 256])


@checks("lagrangeInterp1Point")
def test_lagrange_one_point_raises():
    with pytest.raises(GeometryError, match="at least 2 points"):
        lagrange_interp_uniform([[1.0]], 0.0, 1.0, 0.0)


def test_every_row_is_checked():
    """Runs last in this module: every CSV row has a check above or a stated reason."""
    rows = {r["test"] for r in upstream_rows()}
    missing = rows - CHECKED - NOT_APPLICABLE
    assert not missing, f"usgscsm assertions without a farside check: {sorted(missing)}"
    assert len(rows) == 37
