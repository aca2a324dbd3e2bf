"""Body helpers: lon/lat <-> xyz, wrapping, ray/ellipsoid intersection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.geometry.body import (
    MOON_RADII_M,
    ellipsoid_normal,
    lonlat_to_xyz,
    lonlat_to_xyz_deg,
    ray_ellipsoid_intersect,
    wrap_lon_deg,
    xyz_to_lonlat,
    xyz_to_lonlat_deg,
)


def test_known_points():
    np.testing.assert_allclose(lonlat_to_xyz_deg(0.0, 0.0), [1_737_400.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(lonlat_to_xyz_deg(90.0, 0.0, 100.0), [0.0, 1_737_500.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(lonlat_to_xyz_deg(0.0, 90.0), [0.0, 0.0, 1_737_400.0], atol=1e-6)
    lon, lat = xyz_to_lonlat_deg([-1.0, -1e-12, 0.0])
    assert lon == pytest.approx(-180.0) and lat == 0.0
    # ellipsoid: the pole is at b
    np.testing.assert_allclose(lonlat_to_xyz_deg(0.0, 90.0, radii=(2.0, 1.0)), [0.0, 0.0, 1.0], atol=1e-15)


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-np.pi, np.pi, exclude_max=True),
    st.floats(-1.5, 1.5),
    st.floats(-5000.0, 5000.0),
)
def test_round_trip(lon, lat, h):
    xyz = lonlat_to_xyz(lon, lat, h)
    lon2, lat2 = xyz_to_lonlat(xyz)
    assert (
        float(wrap_lon_deg(np.degrees(lon2 - lon) + 0.0)) == pytest.approx(0.0, abs=1e-9)
        or abs(abs(np.degrees(lon2 - lon)) - 360) < 1e-9
    )
    assert lat2 == pytest.approx(lat, abs=1e-12)
    assert np.linalg.norm(xyz) == pytest.approx(MOON_RADII_M[0] + h, rel=1e-12)


def test_wrap_lon_deg():
    np.testing.assert_allclose(wrap_lon_deg([-190.0, 180.0, 359.0, 0.0]), [170.0, -180.0, -1.0, 0.0])
    np.testing.assert_allclose(wrap_lon_deg([-10.0, 360.0, 725.0], 0.0), [350.0, 0.0, 5.0])
    assert isinstance(wrap_lon_deg(190.0), float)


def test_ray_intersection_and_normal():
    origin = np.array([[3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    direction = np.array([[-1.0, 0.0, 0.0], [-1.0, 2.0, 0.0], [1.0, 0.0, 0.0]])
    xyz, hit, t = ray_ellipsoid_intersect(origin, direction, (1.0, 1.0))
    np.testing.assert_allclose(xyz[0], [1.0, 0.0, 0.0])
    assert list(hit) == [True, False, False]  # second misses, third points away (t < 0)
    assert t[2] < 0
    np.testing.assert_allclose(np.dot(xyz[1], direction[1]), 0.0, atol=1e-12)  # closest approach
    np.testing.assert_allclose(ellipsoid_normal([[0.0, 0.0, 1.0]], (2.0, 1.0)), [[0.0, 0.0, 1.0]])
    n = ellipsoid_normal([2.0 * np.cos(0.3), 0.0, np.sin(0.3)], (2.0, 1.0))
    tangent = np.array([-2.0 * np.sin(0.3), 0.0, np.cos(0.3)])
    assert abs(np.dot(n, tangent)) < 1e-12
