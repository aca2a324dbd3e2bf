"""The scanning cameras' interface: loading, rays, DEM, corrections, export, angles, pickling."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import pickle

import numpy as np
import pytest
from affine import Affine

from pipeline.errors import BadGeometry, GeometryError, UnsupportedGeometry
from pipeline.geometry import FrameCamera, LineScanCamera, PushFrameCamera, load_camera
from pipeline.geometry.body import lonlat_to_xyz, xyz_to_lonlat, xyz_to_lonlat_deg
from pipeline.geometry.dem import Dem
from pipeline.geometry.scan_math import rotvec_matrices
from tests.geometry.scan_helpers import ISDS, LINESCAN, SHARED, USGSCSM_ISDS, camera, require

NAC_CROP = LINESCAN / "nac-crop" / "M143947267L.cal.echo.crop.derived_isd.json"
WAC = SHARED / "reference" / "usgscsm" / "lroWacPushFrame.json"
KNOTEN_TC = ISDS / "knoten" / "TC1S2B0_01_02842S506E1942.json"
ROT = [[2e-5, -1e-5, 3e-5], [4e-6, 2e-6, -1e-6], [1e-6, -2e-6, 5e-7]]
POS = [[1.5, -2.0, 0.5], [0.3, 0.2, -0.4]]


def grid(cam, n=7):
    return np.meshgrid(
        np.linspace(0.5, cam.lines - 0.5, n), np.linspace(0.5, cam.samples - 0.5, n), indexing="ij"
    )


# -- loading --------------------------------------------------------------------------------------
def test_load_camera_dispatches_on_name_model():
    frame_path = require(SHARED / "reference" / "usgscsm" / "simpleFramerISD.json")
    assert load_camera(frame_path) == FrameCamera.from_file(frame_path)
    frame_isd = json.loads(frame_path.read_text())
    assert load_camera(frame_isd) == FrameCamera.from_isd(frame_isd)
    assert isinstance(load_camera(require(NAC_CROP)), LineScanCamera)
    assert isinstance(load_camera(str(require(WAC))), PushFrameCamera)
    assert load_camera(json.loads(WAC.read_text())) == PushFrameCamera.from_file(WAC)


def test_load_errors_name_the_file_and_the_fix(tmp_path):
    isd = json.loads(require(NAC_CROP).read_text())
    sar = dict(isd, name_model="USGS_ASTRO_SAR_SENSOR_MODEL")
    with pytest.raises(UnsupportedGeometry, match="not supported: sensor model 'USGS_ASTRO_SAR"):
        load_camera(sar)
    path = tmp_path / "nac.json"
    del isd["line_scan_rate"]
    path.write_text(json.dumps(isd))
    with pytest.raises(
        BadGeometry, match=r"nac\.json: missing key 'line_scan_rate'; a line-scan ISD needs it"
    ):
        load_camera(path)
    path.write_text("{not json")
    with pytest.raises(BadGeometry, match=r"nac\.json: not valid JSON"):
        load_camera(path)
    with pytest.raises(BadGeometry, match="use pipeline.geometry.load_camera"):
        LineScanCamera.from_file(require(WAC))
    bad = json.loads(NAC_CROP.read_text())
    bad["instrument_position"]["positions"][1][0] = float("nan")
    with pytest.raises(BadGeometry, match="non-finite"):
        load_camera(bad)


def test_pickle_hash_equality_and_immutability():
    cam = camera(require(NAC_CROP))
    clone = pickle.loads(pickle.dumps(cam))
    assert clone == cam and hash(clone) == hash(cam)
    assert len(pickle.dumps(cam)) < 20_000
    np.testing.assert_array_equal(clone.image_to_ground(*grid(cam)), cam.image_to_ground(*grid(cam)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cam.lines = 3
    assert cam.with_pointing_correction([1e-6, 0, 0]) != cam


# -- rays and ephemeris -----------------------------------------------------------------------------
def test_rays_broadcast_and_start_at_the_sensor():
    cam = camera(require(USGSCSM_ISDS / "toughLroNacLineScan.json"))
    lines = np.array([0.5, 100.0, 4096.0, 8191.5])[:, None]
    samples = np.array([0.5, 1266.0, 2531.5])[None, :]
    origin, direction = cam.rays(lines, samples)
    assert origin.shape == direction.shape == (4, 3, 3)
    np.testing.assert_allclose(np.linalg.norm(direction, axis=-1), 1.0, atol=1e-15)
    np.testing.assert_array_equal(origin[:, 0], cam.position_at(lines[:, 0]))
    gl, gs = np.broadcast_arrays(lines, samples)
    np.testing.assert_array_equal(cam.image_to_ground(gl, gs), cam.image_to_ground(lines, samples))
    assert np.all(np.einsum("...i,...i->...", direction, -origin) > 0)  # towards the body


def test_velocity_is_the_trajectory_derivative():
    cam = camera(require(NAC_CROP))
    t = cam.line_time(np.array([0.5, 200.0, 399.5]))
    dt = 1e-3
    numeric = (cam.position_at_time(t + dt) - cam.position_at_time(t - dt)) / (2 * dt)
    rel = np.linalg.norm(numeric - cam.velocity_at_time(t), axis=-1) / np.linalg.norm(numeric, axis=-1)
    assert rel.max() < 1e-5
    assert 1500 < np.linalg.norm(cam.velocity_at(200.0)) < 1700  # LRO: ~1.6 km/s


# -- DEM --------------------------------------------------------------------------------------------
def _dem_around(cam, heights):
    lon, lat = np.degrees(xyz_to_lonlat(cam.image_to_ground(*cam.image_center)))
    transform = Affine(0.01, 0, lon - 0.5, 0, -0.01, lat + 0.5)
    return Dem.from_array(heights(np.arange(100)[:, None], np.arange(100)[None, :]), transform)


def test_flat_dem_equals_the_ellipsoid_at_its_height():
    cam = camera(require(NAC_CROP))
    dem = _dem_around(cam, lambda r, c: np.full((100, 100), 250.0))
    xyz, hit = cam.image_to_ground_hit(*grid(cam), dem=dem)
    assert hit.all()
    assert np.linalg.norm(xyz - cam.image_to_ground(*grid(cam), 250.0), axis=-1).max() < 1e-3


def test_sloped_dem_intersection_lies_on_the_terrain_and_projects_back():
    cam = camera(require(NAC_CROP))
    dem = _dem_around(cam, lambda r, c: 3000.0 + 20.0 * c - 15.0 * r + 0.0 * (r * c))
    line, sample = grid(cam)
    xyz, hit = cam.image_to_ground_hit(line, sample, dem=dem)
    assert hit.all()
    lon, lat = xyz_to_lonlat(xyz)
    assert np.abs(np.linalg.norm(xyz, axis=-1) - dem.radius_m(lon, lat)).max() < 2e-3
    back_l, back_s = cam.ground_to_image(xyz)
    assert np.hypot(back_l - line, back_s - sample).max() < 1e-6


# -- corrections ------------------------------------------------------------------------------------
def test_constant_correction_follows_the_frame_camera_convention():
    cam = camera(require(NAC_CROP))
    v = np.array([3e-5, -2e-5, 1e-5])
    corr = cam.with_pointing_correction(v)
    t = cam.line_time(np.array([0.5, 250.0]))
    np.testing.assert_allclose(
        corr.cam_to_body_at_time(t), cam.cam_to_body_at_time(t) @ rotvec_matrices(v), atol=1e-15
    )
    # same algebra as FrameCamera.with_pointing_correction
    frame = FrameCamera.build(lines=4, samples=4, focal_length_mm=1.0, pixel_pitch_mm=0.1, position_m=[2e6, 0, 0],
                              cam_to_body=cam.cam_to_body_at_time(t[0]))  # fmt: skip
    np.testing.assert_allclose(
        frame.with_pointing_correction(v)._rot, corr.cam_to_body_at_time(t[0]), atol=1e-15
    )


def test_time_varying_corrections_compose_and_invert():
    cam = camera(require(NAC_CROP))
    once = cam.with_pointing_correction(ROT, POS)
    twice = once.with_pointing_correction([[-1e-5, 0, 2e-5], [1e-6, 1e-6, 0]])
    t = cam.line_time(np.array([0.5, 123.0, 399.5]))
    tau = t / cam.half_duration_s
    rv = sum(np.asarray(ROT[j])[None, :] * tau[:, None] ** j for j in range(3))
    rv2 = np.array([-1e-5, 0, 2e-5])[None, :] + np.array([1e-6, 1e-6, 0])[None, :] * tau[:, None]
    np.testing.assert_allclose(
        twice.cam_to_body_at_time(t),
        cam.cam_to_body_at_time(t) @ rotvec_matrices(rv) @ rotvec_matrices(rv2),
        atol=1e-15,
    )
    dp = np.asarray(POS[0]) + np.asarray(POS[1]) * tau[:, None]
    np.testing.assert_allclose(twice.position_at_time(t) - cam.position_at_time(t), dp, atol=1e-8)
    np.testing.assert_allclose(
        twice.velocity_at_time(t) - cam.velocity_at_time(t),
        np.tile(np.asarray(POS[1]) / cam.half_duration_s, (3, 1)),
        atol=1e-8,
    )
    line, sample = grid(cam)
    back = twice.ground_to_image(twice.image_to_ground(line, sample, 100.0))
    assert np.hypot(back[0] - line, back[1] - sample).max() < 1e-6
    moved = np.linalg.norm(twice.image_to_ground(line, sample) - cam.image_to_ground(line, sample), axis=-1)
    assert moved.min() > 0.5  # tens of microradians at 50 km move the ground by metres


def test_bad_correction_shapes_raise():
    cam = camera(require(NAC_CROP))
    with pytest.raises(GeometryError, match=r"shape \(k, 3\)"):
        cam.with_pointing_correction([[1.0, 2.0]])
    with pytest.raises(GeometryError, match="position_coeffs"):
        cam.with_pointing_correction([0, 0, 0], [[np.nan, 0, 0]])


# -- export -----------------------------------------------------------------------------------------
EXPORTS = [NAC_CROP, WAC, USGSCSM_ISDS / "toughLroNacLineScan.json", ISDS / "ale" / "lro_isis_isd.json",
           ISDS / "ale" / "chandrayaan2_ohrc_isd.json", KNOTEN_TC]  # fmt: skip


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.stem)
def test_to_isd_round_trip(path):
    cam = camera(require(path))
    line, sample = grid(cam)
    for c in (cam, cam.with_pointing_correction(ROT, POS).with_pointing_correction([1e-5, 0, 0])):
        isd = c.to_isd()
        json.dumps(isd, allow_nan=False)
        again = type(c).from_isd(isd)
        assert again.corrections == c.corrections and again.look_direction == c.look_direction
        for h in (0.0, 1000.0):
            d = np.linalg.norm(
                again.image_to_ground(line, sample, h) - c.image_to_ground(line, sample, h), axis=-1
            )
            assert d.max() <= 1e-6, f"{d.max():.2e} m"


def test_to_isd_keeps_metadata_and_detects_edited_tables(caplog):
    cam = camera(require(WAC)).with_pointing_correction(ROT)
    isd = cam.to_isd()
    assert isd["naif_keywords"] == json.loads(WAC.read_text())["naif_keywords"]
    assert isd["image_lines"] == 5096 and isd["name_model"] == "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL"
    isd["instrument_pointing"]["quaternions"][0][1] += 1e-9
    with caplog.at_level(logging.WARNING):
        edited = PushFrameCamera.from_isd(isd)
    assert "tables changed" in caplog.text and edited.corrections == ()


def test_old_usgscsm_layout_far_side_kaguya_tc():
    """knoten's pre-2020 ISD (body-fixed tables, ``kaguyatc`` distortion = LISM with no boresight)."""
    cam = camera(require(KNOTEN_TC))
    assert isinstance(cam, LineScanCamera) and cam.distortion.model == "kaguyalism"
    assert cam.distortion.coefficients[0] == cam.distortion.coefficients[5] == 0.0
    lon, lat = xyz_to_lonlat_deg(cam.image_to_ground(*cam.image_center))
    assert lat == pytest.approx(-50.63, abs=0.01) and lon % 360 == pytest.approx(194.22, abs=0.01)  # SPA
    line, sample = grid(cam)
    back = cam.ground_to_image(cam.image_to_ground(line, sample))
    assert np.hypot(back[0] - line, back[1] - sample).max() < 1e-6
    assert 8 < cam.gsd_m() < 12  # TC: 10 m pixels


# -- angles and visibility ----------------------------------------------------------------------------
def test_illumination_angles_use_the_imaging_time():
    cam = camera(require(NAC_CROP))
    line, sample = grid(cam, 3)
    xyz = cam.image_to_ground(line, sample)
    inc, emi, phase = cam.illumination_angles(xyz)
    sun = cam.sun_position_at(line)
    pos = cam.position_at(line)
    n = xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)

    def ang(a, b):
        return np.arccos(
            np.clip(np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1), -1, 1)
        )

    np.testing.assert_allclose(inc, ang(n, sun - xyz), atol=1e-9)
    np.testing.assert_allclose(emi, ang(n, pos - xyz), atol=1e-9)
    np.testing.assert_allclose(phase, ang(sun - xyz, pos - xyz), atol=1e-9)
    assert 0 < np.degrees(emi).max() < 20 and 40 < np.degrees(inc).min() < 70
    assert cam.visible(xyz).all() and not cam.visible(-xyz).any()
    no_sun = dataclasses.replace(
        cam, ephemeris=dataclasses.replace(cam.ephemeris, sun_positions=(), sun_velocities=())
    )
    assert no_sun.sun_position_m is None
    with pytest.raises(GeometryError, match="no sun_position"):
        no_sun.illumination_angles(xyz)


def test_non_finite_input_gives_nan_not_an_error():
    cam = camera(require(NAC_CROP))
    assert np.isnan(cam.image_to_ground(np.nan, 5.0)).all()
    line, sample = cam.ground_to_image([[np.nan, 0.0, 0.0], list(cam.image_to_ground(10.0, 20.0))])
    assert np.isnan(line[0]) and np.isnan(sample[0])
    assert line[1] == pytest.approx(10.0, abs=1e-9) and sample[1] == pytest.approx(20.0, abs=1e-9)


def test_gsd_and_reference_time_of_real_images():
    nac = camera(require(NAC_CROP))
    assert 0.5 < nac.gsd_m() < 0.65  # NAC-L at ~ 60 km
    assert 95 < camera(require(WAC)).gsd_m() < 115
    assert nac.reference_date_time().startswith("2010-11-")
    assert math.isclose(nac.time_s, json.loads(NAC_CROP.read_text())["center_ephemeris_time"])
    lon, lat = xyz_to_lonlat_deg(nac.image_to_ground(*nac.image_center))
    assert lat == pytest.approx(35.980, abs=1e-3) and lon == pytest.approx(102.602, abs=1e-3)
    np.testing.assert_allclose(
        lonlat_to_xyz(*np.radians([lon, lat]), 0.0), nac.image_to_ground(*nac.image_center), atol=1e-6
    )
