"""The frame camera against usgscsm's published frame-camera test values.

Expected values: ``../shared/reference/usgscsm/expected_frame.csv`` (from usgscsm
tests/FrameCameraTests.cpp) and, for the focal-length / position / ellipsoid variations,
the same test file (DOI-USGS/usgscsm tests/FrameCameraTests.cpp, public domain).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest

from pipeline.geometry import FrameCamera
from tests.geometry.helpers import SIMPLE_FRAMER_ISD


def _rows(usgscsm_dir):
    with open(usgscsm_dir / "expected_frame.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _camera(usgscsm_dir, name):
    if name == "simpleFramerISD.json":
        return FrameCamera.from_isd(SIMPLE_FRAMER_ISD, source=name)
    return FrameCamera.from_file(usgscsm_dir / name)


def test_expected_frame_csv(usgscsm_dir):
    rows = _rows(usgscsm_dir)
    assert len(rows) >= 7
    for row in rows:
        cam = _camera(usgscsm_dir, row["isd"])
        xyz = cam.image_to_ground(float(row["line"]), float(row["sample"]), float(row["height_m"]))
        tol = float(row["tolerance_m"])
        for axis, key in enumerate(("x_m", "y_m", "z_m")):
            if row[key].strip():
                assert xyz[axis] == pytest.approx(float(row[key]), abs=tol), (row, xyz)


def test_embedded_fixture_matches_shared_copy(usgscsm_dir):
    shared = json.loads((usgscsm_dir / "simpleFramerISD.json").read_text())
    assert shared == SIMPLE_FRAMER_ISD


@pytest.mark.parametrize(
    ("line", "sample", "expected"),
    [
        # usgscsm FrameCameraTests.cpp: SlightlyOffCenter (z value stated there)
        (7.5, 6.5, (9.80194018, 0.0, 1.98039612)),
    ],
)
def test_simple_framer_off_center_z(simple_framer, line, sample, expected):
    np.testing.assert_allclose(simple_framer.image_to_ground(line, sample), expected, atol=1e-8)


@pytest.mark.parametrize(
    ("line", "sample", "expected"),
    [
        (15.0, 15.0, (9.77688917, -1.48533467, -1.48533467)),  # FL500_OffBody4
        (0.0, 0.0, (9.77688917, 1.48533467, 1.48533467)),  # FL500_OffBody3
        (7.5, 7.5, (10.0, 0.0, 0.0)),  # FL500_Center
        (7.5, 6.5, (9.99803960, 0.0, 0.198000392)),  # FL500_SlightlyOffCenter
    ],
)
def test_usgscsm_focal_length_500(simple_framer, line, sample, expected):
    cam = dataclasses.replace(simple_framer, focal_length_mm=500.0)
    np.testing.assert_allclose(cam.image_to_ground(line, sample), expected, atol=1e-8)


def test_usgscsm_observer_and_ellipsoid_variants(simple_framer):
    # X10_SlightlyOffCenter: camera on the surface
    cam = dataclasses.replace(simple_framer, position_m=(10.0, 0.0, 0.0))
    np.testing.assert_allclose(cam.image_to_ground(7.5, 6.5), (10.0, 0.0, 0.0), atol=1e-8)
    # X1e9_SlightlyOffCenter: ray misses, closest approach (tolerance 1e-4 as usgscsm)
    cam = dataclasses.replace(simple_framer, position_m=(1e9, 0.0, 0.0))
    np.testing.assert_allclose(cam.image_to_ground(7.5, 6.5), (3.99998400e03, 0.0, 1.99999200e06), atol=1e-4)
    # SemiMajorAxis100x_Center
    cam = dataclasses.replace(simple_framer, radii_m=(1000.0, 10.0))
    np.testing.assert_allclose(cam.image_to_ground(7.5, 7.5), (1000.0, 0.0, 0.0), atol=1e-8)
    # SemiMajorAxis10x_SlightlyOffCenter
    cam = dataclasses.replace(simple_framer, radii_m=(100.0, 10.0))
    np.testing.assert_allclose(cam.image_to_ground(7.5, 6.5), (98.3606557, 0.0, 1.80327869), atol=1e-7)
    # SemiMinorAxis10x_SlightlyOffCenter
    cam = dataclasses.replace(simple_framer, radii_m=(10.0, 100.0))
    np.testing.assert_allclose(cam.image_to_ground(7.5, 6.5), (9.99803960, 0.0, 1.98000392), atol=1e-8)


def test_usgscsm_rotation_variants(simple_framer):
    # Rotation_NPole_Center: sensor orientation (x, y, z, w) = (0, -1, 0, 0) above the pole
    from pipeline.geometry.rotation import quat_to_matrix

    rot = quat_to_matrix([0.0, 0.0, -1.0, 0.0])  # (w, x, y, z)
    cam = dataclasses.replace(simple_framer, position_m=(0.0, 0.0, 1000.0), cam_to_body=rot)
    np.testing.assert_allclose(cam.image_to_ground(7.5, 7.5), (0.0, 0.0, 10.0), atol=1e-8)
    # Rotation_omegaPi_Center: quaternion (1, 1, 1, 1) normalised; looks at the far side
    rot = quat_to_matrix([1.0, 1.0, 1.0, 1.0])
    cam = dataclasses.replace(simple_framer, cam_to_body=rot)
    np.testing.assert_allclose(cam.image_to_ground(7.5, 7.5), (-10.0, 0.0, 0.0), atol=1e-8)


@pytest.mark.parametrize("name", ["simpleFramerISD.json", "orbitalFramer.json"])
def test_round_trip_reference_isds(usgscsm_dir, name):
    cam = _camera(usgscsm_dir, name)
    # every on-body pixel centre and corner grid point of the small reference images
    line, sample = np.meshgrid(np.linspace(0, cam.lines, 31), np.linspace(0, cam.samples, 31), indexing="ij")
    xyz, hit = cam.image_to_ground_hit(line, sample)
    assert hit.sum() > 10
    back_l, back_s = cam.ground_to_image(xyz[hit])
    np.testing.assert_allclose(back_l, line[hit], atol=1e-8)
    np.testing.assert_allclose(back_s, sample[hit], atol=1e-8)
    # usgscsm's own round trip point
    l9, s9 = cam.ground_to_image(cam.image_to_ground(9.0, 9.0))
    assert math.isclose(l9, 9.0, abs_tol=1e-8) and math.isclose(s9, 9.0, abs_tol=1e-8)


def test_orbital_framer_axes(usgscsm_dir):
    cam = FrameCamera.from_file(usgscsm_dir / "orbitalFramer.json")
    centre = cam.image_to_ground(8.0, 8.0)
    np.testing.assert_allclose(centre, (1_000_000.0, 0.0, 0.0), atol=1e-8)
    dl = cam.image_to_ground(9.0, 8.0) - centre
    ds = cam.image_to_ground(8.0, 9.0) - centre
    assert dl[2] == pytest.approx(100.0, rel=1e-6) and abs(dl[1]) < 1e-6  # lines go +z
    assert ds[1] == pytest.approx(100.0, rel=1e-6) and abs(ds[2]) < 1e-6  # samples go +y
    assert cam.gsd_m() == pytest.approx(100.0, rel=1e-6)
