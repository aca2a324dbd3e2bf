"""FrameCamera behaviour on synthetic cameras: conventions, round trips, validation, export."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import numpy as np
import pytest

from pipeline.errors import BadGeometry, GeometryError
from pipeline.geometry import FrameCamera
from pipeline.geometry.body import lonlat_to_xyz_deg, xyz_to_lonlat_deg
from pipeline.geometry.rotation import quat_to_matrix
from pipeline.geometry.warp import GroundGrid, image_coordinates
from tests.geometry.helpers import SIMPLE_FRAMER_ISD, make_camera


def test_build_conventions():
    cam = make_camera(lon_deg=180.0, lat_deg=0.0, lines=64, samples=96)
    assert cam.focal2pixel_samples == (0.0, 100.0, 0.0)
    assert cam.focal2pixel_lines == (0.0, 0.0, 100.0)
    assert cam.detector_center == (32.0, 48.0)
    # image centre looks straight down at (0 N, 180 E)
    lon, lat = xyz_to_lonlat_deg(cam.image_to_ground(32.0, 48.0))
    assert abs(lat) < 1e-9 and abs(abs(lon) - 180.0) < 1e-9
    # samples go east, lines go south (nadir_rotation in geometry_helpers)
    lon_e, _ = xyz_to_lonlat_deg(cam.image_to_ground(32.0, 60.0))
    _, lat_s = xyz_to_lonlat_deg(cam.image_to_ground(50.0, 48.0))
    assert (lon_e - 180.0) % 360.0 < 1.0 and lat_s < 0
    # pixel centres: index i at coordinate i + 0.5 ; a pixel is 20 m at 100 km, f=50, 10 um
    assert cam.gsd_m() == pytest.approx(20.0, rel=1e-6)
    assert cam.sub_spacecraft_deg() == pytest.approx(
        (180.0, 0.0)
    ) or cam.sub_spacecraft_deg() == pytest.approx((-180.0, 0.0))


def test_broadcasting_shapes():
    cam = make_camera()
    lines = np.arange(5.0)[:, None]
    samples = np.arange(7.0)[None, :]
    xyz = cam.image_to_ground(lines, samples)
    assert xyz.shape == (5, 7, 3)
    assert cam.look_vectors(lines, samples).shape == (5, 7, 3)
    np.testing.assert_allclose(np.linalg.norm(cam.look_vectors(lines, samples), axis=-1), 1.0)
    xyz2, hit = cam.image_to_ground_hit(lines, samples, height=np.zeros((5, 1)))
    assert xyz2.shape == (5, 7, 3) and hit.shape == (5, 7) and hit.all()
    line, sample = cam.ground_to_image(xyz[None])
    assert line.shape == (1, 5, 7)
    # scalars in, scalars out (0-d)
    assert cam.image_to_ground(1.0, 2.0).shape == (3,)
    assert np.ndim(cam.ground_to_image(cam.image_to_ground(1.0, 2.0))[0]) == 0


@pytest.mark.parametrize("radial_k", [(0.0, 0.0, 0.0), (0.0, -2e-4, 1e-8), (1e-3, 3e-4, -1e-7)])
def test_round_trip_with_radial_distortion(radial_k):
    cam = make_camera(lines=512, samples=640, radial_k=radial_k, tilt=(0.05, -0.03, 0.4))
    line, sample = np.meshgrid(np.linspace(0, 512, 41), np.linspace(0, 640, 47), indexing="ij")
    xyz, hit = cam.image_to_ground_hit(line, sample, height=1234.5)
    assert hit.all()
    bl, bs = cam.ground_to_image(xyz)
    assert np.abs(bl - line).max() < 1e-6 and np.abs(bs - sample).max() < 1e-6
    if any(radial_k):  # the distortion is not negligible at the corners
        plain = dataclasses.replace(cam, distortion=type(cam.distortion)())
        pl, ps = plain.ground_to_image(xyz)
        assert np.hypot(pl - line, ps - sample).max() > 0.5


def test_height_moves_the_intersection_outward():
    cam = make_camera()
    low = cam.image_to_ground(10.0, 10.0)
    high = cam.image_to_ground(10.0, 10.0, height=5000.0)
    assert np.linalg.norm(high) == pytest.approx(1_737_400.0 + 5000.0, rel=1e-12)
    assert np.linalg.norm(low) == pytest.approx(1_737_400.0, rel=1e-12)


def test_points_behind_camera_are_nan():
    cam = make_camera(lon_deg=0.0)
    behind = lonlat_to_xyz_deg(180.0, 0.0)  # far side of the body, behind the nadir camera? no: below
    line, sample = cam.ground_to_image(2 * cam.position_m)  # straight up, behind the camera
    assert np.isnan(line) and np.isnan(sample)
    assert not cam.visible(behind)
    assert cam.visible(cam.image_to_ground(3.0, 4.0))


def test_limb_rays_report_no_hit_and_closest_approach():
    # a camera looking tangentially: the upper half of the image sees space
    # from 100 km the horizon is 71.0 deg from nadir; the field of view is +-2.9 deg
    cam = make_camera(
        altitude_m=100e3, tilt=(-math.radians(71.0), 0.0, 0.0), lines=200, samples=200, focal_mm=20
    )
    line = np.array([0.0, 200.0])
    xyz, hit = cam.image_to_ground_hit(line, np.array([100.0, 100.0]))
    assert list(hit) == [False, True] or list(hit) == [True, False]
    miss = xyz[~hit][0]
    # closest approach point of the missed ray: perpendicular to the ray from the centre
    look = cam.look_vectors(line[~hit], np.array([100.0]))[0]
    assert abs(np.dot(miss, look)) < 1e-6 * np.linalg.norm(miss)
    assert np.linalg.norm(miss) > 1_737_400.0


def test_with_pointing_correction():
    cam = make_camera()
    rv = np.array([1e-4, 0.0, 0.0])  # about camera x: moves the image along lines
    adj = cam.with_pointing_correction(rv)
    np.testing.assert_allclose(adj.cam_to_body, cam.cam_to_body @ _rx(1e-4), atol=1e-15)
    # a ground point seen at the centre moves by ~f * angle / pitch = 50 * 1e-4 / 0.01 = 0.5 px
    g = cam.image_to_ground(*cam.image_center)
    line, sample = adj.ground_to_image(g)
    assert line - cam.image_center[0] == pytest.approx(0.5, rel=1e-3)
    assert sample == pytest.approx(cam.image_center[1], abs=1e-6)
    # moving the camera 20 m north (one pixel at 100 km) moves the point one line down
    moved = cam.with_pointing_correction([0.0, 0.0, 0.0], position_offset_m=[0.0, 0.0, 20.0])
    np.testing.assert_allclose(moved.position_m, cam.position_m + [0.0, 0.0, 20.0])
    line, sample = moved.ground_to_image(g)
    assert line - cam.image_center[0] == pytest.approx(1.0, rel=1e-6)
    assert cam.with_pointing_correction([0.0, 0.0, 0.0]) == cam


def _rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def test_to_isd_round_trip_is_exact():
    cam = make_camera(radial_k=(0.0, 1e-4, 0.0), sun_lonlat_deg=(150.0, 10.0), tilt=(0.1, 0.2, 0.3))
    isd = cam.to_isd()
    assert isd["name_model"] == "USGS_ASTRO_FRAME_SENSOR_MODEL"
    assert isd["instrument_position"]["unit"] == "km"  # ALE/usgscsm read positions in km (issue 22)
    assert isd["body_rotation"]["quaternions"] == [[1.0, 0.0, 0.0, 0.0]]
    assert len(isd["instrument_position"]["positions"]) == 1
    again = FrameCamera.from_isd(json.loads(json.dumps(isd)))
    assert again == cam  # every field, cam_to_body bit for bit (farside.cam_to_body)
    np.testing.assert_array_equal(again.cam_to_body, cam.cam_to_body)
    xyz = cam.image_to_ground(*np.meshgrid(np.arange(0, 65, 8.0), np.arange(0, 97, 8.0), indexing="ij"))
    for a, b in zip(cam.ground_to_image(xyz), again.ground_to_image(xyz), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_to_isd_keeps_look_direction_and_source_fields(simple_framer_isd):
    cam = FrameCamera.from_isd(simple_framer_isd, look_direction=-1)
    isd = cam.to_isd()
    assert isd["image_identifier"] == "TEST_IMAGE" and isd["dt_ephemeris"] == 100
    assert FrameCamera.from_isd(isd).look_direction == -1


def test_pickle_and_hash():
    cam = make_camera(sun_lonlat_deg=(0.0, 0.0))
    cam.look_vectors(1.0, 1.0)  # fill caches
    again = pickle.loads(pickle.dumps(cam))
    assert again == cam and hash(again) == hash(cam)


def test_multi_entry_ephemeris_is_interpolated(simple_framer_isd):
    isd = simple_framer_isd
    isd["center_ephemeris_time"] = 50.0
    isd["instrument_position"]["positions"] = [[1.0 + 0.01 * t, 0.0, 0.001 * t * t] for t in range(5)]
    isd["instrument_position"]["ephemeris_times"] = [48.0, 49.0, 50.0, 51.0, 52.0]
    isd["instrument_position"]["velocities"] = [[0.0, 0.0, 0.0]] * 5
    q0 = np.array([0.0, -0.707106781186547, 0.0, 0.707106781186547])
    # second attitude: rotated 0.2 rad about body z (J2000 -> camera = Rcam @ Rz(-0.2))
    rz = np.array([[math.cos(0.2), -math.sin(0.2), 0], [math.sin(0.2), math.cos(0.2), 0], [0, 0, 1]])
    from pipeline.geometry.rotation import matrix_to_quat

    q1 = matrix_to_quat(quat_to_matrix(q0) @ rz.T)
    isd["instrument_pointing"]["quaternions"] = [q0.tolist(), q1.tolist()]
    isd["instrument_pointing"]["ephemeris_times"] = [49.0, 51.0]
    cam = FrameCamera.from_isd(isd)
    # position: t = 50 is the third entry (exact); quadratic in t, so Lagrange is exact anyway
    np.testing.assert_allclose(cam.position_m, [1020.0, 0.0, 4.0], atol=1e-9)
    # attitude halfway: rotated 0.1 rad about z
    rz_half = np.array([[math.cos(0.1), -math.sin(0.1), 0], [math.sin(0.1), math.cos(0.1), 0], [0, 0, 1]])
    np.testing.assert_allclose(cam.cam_to_body, rz_half @ quat_to_matrix(q0).T, atol=1e-12)


# -- validation --------------------------------------------------------------------------


def _mutate(isd, path, value):
    node = isd
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return isd


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("focal_length_model",), _DELETE, "focal_length_model"),
        (("image_lines",), _DELETE, "image_lines"),
        (("detector_center", "line"), _DELETE, "detector_center.line"),
        (("radii", "unit"), _DELETE, "radii.unit"),
        (("radii", "unit"), "furlong", "use 'm' or 'km'"),
        (("instrument_position", "unit"), "AU", "use 'm' or 'km'"),
        (("instrument_position", "positions"), [[float("nan"), 0.0, 0.0]], "non-finite"),
        (("focal_length_model", "focal_length"), float("inf"), "not finite"),
        (("focal_length_model", "focal_length"), 0.0, "must not be 0"),  # negative: a -Z camera (issue 22)
        (("instrument_pointing",), _DELETE, "instrument_pointing"),
        (("instrument_position",), _DELETE, "instrument_position"),
        (("instrument_pointing", "quaternions"), [[0, 0, 0, 0]], "zero quaternion"),
        (("focal2pixel_lines",), [0.0, 0.0, 0.0], "singular"),
        (("image_samples",), 12.5, "positive integer"),
        (("optical_distortion",), {"cahvor": {"coefficients": [1, 2]}}, "not supported"),
        (("instrument_position", "reference_frame"), 31001, "reference frames disagree"),
        (("name_model",), _DELETE, "name_model"),
    ],
)
def test_bad_isds_raise_bad_geometry(simple_framer_isd, path, value, match):
    isd = _mutate(simple_framer_isd, path, value)
    with pytest.raises(BadGeometry, match=match) as info:
        FrameCamera.from_isd(isd, source="frame_0001.json")
    assert "frame_0001.json" in str(info.value)


def test_from_file_errors(tmp_path):
    bad = tmp_path / "notjson.json"
    bad.write_text("{ this is not json")
    with pytest.raises(BadGeometry, match="not valid JSON") as info:
        FrameCamera.from_file(bad)
    assert info.value.path == bad
    nan = tmp_path / "nan.json"
    isd = json.loads(json.dumps(SIMPLE_FRAMER_ISD))
    isd["instrument_position"]["positions"] = [[float("nan"), 0, 0]]
    nan.write_text(json.dumps(isd))  # json writes NaN literally
    with pytest.raises(BadGeometry, match="non-finite"):
        FrameCamera.from_file(nan)
    with pytest.raises(BadGeometry, match="cannot read"):
        FrameCamera.from_file(tmp_path / "missing.json")
    arr = tmp_path / "list.json"
    arr.write_text("[1, 2, 3]")
    with pytest.raises(BadGeometry, match="JSON object"):
        FrameCamera.from_file(arr)


def test_legacy_usgscsm_keys(simple_framer):
    legacy = {
        "name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL",
        "image_lines": 15,
        "image_samples": 15,
        "focal_length_model": {"focal_length": 50},
        "focal2pixel_lines": [0.0, 0.0, 10.0],
        "focal2pixel_samples": [0.0, 10.0, 0.0],
        "detector_center": {"line": 7.5, "sample": 7.5},
        "radii": {"semimajor": 10, "semiminor": 10, "unit": "m"},
        "sensor_position": {"positions": [[1000.0, 0.0, 0.0]], "unit": "m"},
        # (x, y, z, w), camera to body-fixed
        "sensor_orientation": {"quaternions": [[-0.707106781186547, 0.0, 0.707106781186547, 0.0]]},
        "sun_position": {"positions": [[100.0, 100.0, 0.0]], "unit": "m"},
    }
    cam = FrameCamera.from_isd(legacy)
    np.testing.assert_allclose(
        cam.image_to_ground(15.0, 0.0), simple_framer.image_to_ground(15.0, 0.0), atol=1e-9
    )
    np.testing.assert_allclose(cam.sun_position_m, [100.0, 100.0, 0.0])


def test_check_boresight_and_build_validation():
    cam = make_camera()
    cam.check_boresight()
    away = dataclasses.replace(cam, look_direction=-1)
    with pytest.raises(GeometryError, match="points away"):
        away.check_boresight()
    with pytest.raises(GeometryError, match="rotation"):
        FrameCamera.build(
            lines=4,
            samples=4,
            focal_length_mm=1,
            pixel_pitch_mm=0.01,
            position_m=[2e6, 0, 0],
            cam_to_body=np.eye(3) * 2,
        )
    with pytest.raises(GeometryError):
        FrameCamera.build(
            lines=0,
            samples=4,
            focal_length_mm=1,
            pixel_pitch_mm=0.01,
            position_m=[2e6, 0, 0],
            cam_to_body=np.eye(3),
        )


def test_image_to_ground_speed_is_vectorised():
    # a 1024 x 1024 grid goes through in one vectorised call (no timing assertion: CI noise)
    cam = make_camera(lines=1024, samples=1024, radial_k=(0.0, 1e-4, 0.0))
    line, sample = np.meshgrid(np.arange(1024) + 0.5, np.arange(1024) + 0.5, indexing="ij", sparse=True)
    xyz = cam.image_to_ground(line, sample)
    assert xyz.shape == (1024, 1024, 3) and np.isfinite(xyz).all()


def test_grid_to_image_orthorectification_coordinates():
    from pipeline.geometry.grid import MapGrid

    cam = make_camera(lon_deg=180.0, lat_deg=0.0, lines=40, samples=60)
    grid = MapGrid.from_bounds("farside_eqc", (-1000.0, -800.0, 1000.0, 800.0), 100.0)
    line, sample = image_coordinates(cam, GroundGrid.from_grid(grid, radii=cam.radii_m))
    assert line.shape == grid.shape and np.isfinite(line).all()
    # the grid centre is the image centre; x east = +samples, y north = -lines; 20 m pixels
    r, c = grid.shape[0] // 2, grid.shape[1] // 2
    assert sample[r, c + 1] - sample[r, c] == pytest.approx(5.0, rel=1e-3)
    assert line[r + 1, c] - line[r, c] == pytest.approx(5.0, rel=1e-3)
    # a grid on the far hemisphere (seen through the Moon) is all NaN
    near = MapGrid.from_bounds("IAU_2015:30100", (-1.0, -1.0, 1.0, 1.0), 0.5)
    assert np.isnan(image_coordinates(cam, GroundGrid.from_grid(near, radii=cam.radii_m))[0]).all()


def test_oldest_usgscsm_layout(simple_framer):
    # layout of usgscsm tests/data/simpleFramerISD.json as of DOI-USGS/usgscsm@00f9b501 (public
    # domain): flat sensor_orientation (x, y, z, w), sensor_location x/y/z, distortion x/y
    old = {
        "name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL",
        "center_ephemeris_time": 50,
        "focal2pixel_lines": [0.0, 0.0, 10.0],
        "focal2pixel_samples": [0.0, 10.0, 0.0],
        "focal_length_model": {"focal_length": 50, "epsilon": 1.0},
        "image_lines": 15,
        "image_samples": 15,
        "detector_center": {"line": 7.5, "sample": 7.5},
        "optical_distortion": {"x": [0.0, 1.0] + [0.0] * 8, "y": [0.0, 1.0] + [0.0] * 8},
        "radii": {"semimajor": 0.01, "semiminor": 0.01, "unit": "km"},
        "reference_height": {"maxheight": 1, "minheight": -1, "unit": "m"},
        "sensor_location": {"unit": "m", "x": 1000, "y": 0, "z": 0},
        "sensor_orientation": [0.0, -0.707106781186547, 0.0, 0.707106781186547],
        "sensor_velocity": {"unit": "m", "x": 0, "y": 0, "z": 0},
        "starting_detector_line": 0,
        "starting_detector_sample": 0,
        "sun_position": {"x": 100, "y": 100, "z": 0},
    }
    cam = FrameCamera.from_isd(old)
    # the quaternion is (x, y, z, w) camera -> body-fixed (usgscsm calcRotationMatrix); that era
    # of usgscsm also had other focal-plane conventions, so only the key layout is checked here
    a = 0.707106781186547
    expected = dataclasses.replace(simple_framer, cam_to_body=quat_to_matrix([a, 0.0, -a, 0.0]))
    np.testing.assert_array_equal(cam.position_m, expected.position_m)
    np.testing.assert_allclose(cam.cam_to_body, expected.cam_to_body, atol=1e-15)
    np.testing.assert_allclose(cam.image_to_ground(7.5, 7.5), [10.0, 0.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(cam.sun_position_m, simple_framer.sun_position_m)
