"""Incidence, emission and phase angles against hand-computed geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.errors import GeometryError
from tests.geometry.helpers import make_camera


def test_simple_framer_angles(simple_framer):
    # ground (10, 0, 0), normal +x; camera at (1000, 0, 0); Sun at (100, 100, 0) m
    xyz = simple_framer.image_to_ground(7.5, 7.5)
    inc, emi, pha = simple_framer.illumination_angles(xyz)
    expected = math.atan2(100.0, 90.0)  # to the Sun: (90, 100, 0)
    assert inc == pytest.approx(expected, abs=1e-12)
    assert emi == pytest.approx(0.0, abs=1e-12)
    assert pha == pytest.approx(expected, abs=1e-12)


def test_angles_on_the_moon():
    # Sun far away over (0 N, 0 E); camera nadir over (0 N, 30 E) -> i = 30, e = 0, g = 30 deg
    cam = make_camera(lon_deg=30.0, lat_deg=0.0, sun_lonlat_deg=(0.0, 0.0))
    xyz = cam.image_to_ground(*cam.image_center)
    inc, emi, pha = np.degrees(cam.illumination_angles(xyz))
    parallax = math.degrees(1_737_400.0 / 1.496e11)  # the Sun is not at infinity
    assert inc == pytest.approx(30.0, abs=2 * parallax)
    assert emi == pytest.approx(0.0, abs=1e-9)
    assert pha == pytest.approx(30.0, abs=2 * parallax)
    # an oblique view: the point at the image corner, checked with explicit vectors
    p = cam.image_to_ground(0.0, 0.0)
    n = p / np.linalg.norm(p)
    s = cam.sun_position_m - p
    c = cam.position_m - p
    inc2, emi2, pha2 = cam.illumination_angles(p)
    assert inc2 == pytest.approx(math.acos(np.dot(n, s) / np.linalg.norm(s)), abs=1e-9)
    assert emi2 == pytest.approx(math.acos(np.dot(n, c) / np.linalg.norm(c)), abs=1e-9)
    assert pha2 == pytest.approx(math.acos(np.dot(s, c) / np.linalg.norm(s) / np.linalg.norm(c)), abs=1e-9)
    # arrays broadcast
    grid = cam.image_to_ground(np.arange(4.0)[:, None], np.arange(5.0)[None, :])
    assert all(a.shape == (4, 5) for a in cam.illumination_angles(grid))


def test_angles_need_the_sun():
    cam = make_camera()
    with pytest.raises(GeometryError, match="sun_position"):
        cam.illumination_angles(cam.image_to_ground(1.0, 1.0))
