"""Footprints: against brute-force projection of the border pixels, across 180 E, over a pole,
and with the limb in view."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.geometry.body import xyz_to_lonlat_deg
from pipeline.geometry.footprint import border_coords, footprint_contains_pole
from tests.geometry.helpers import make_camera


def _border_every_pixel(cam):
    """Outer edges of all border pixels, clockwise, one point per pixel edge."""
    L, S = cam.lines, cam.samples
    ls = np.arange(L + 1.0)
    ss = np.arange(S + 1.0)
    line = np.concatenate([np.zeros(S), ls[:-1], np.full(S, L), ls[::-1][:-1]])
    sample = np.concatenate([ss[:-1], np.full(L, S), ss[::-1][:-1], np.zeros(L)])
    return line, sample


def _unwrap_near(lon, ref):
    return ref + (np.asarray(lon) - ref + 180.0) % 360.0 - 180.0


def _dist_to_ring(px, py, rx, ry):
    """Distance from points to a closed ring's edges (planar)."""
    ax, ay = rx, ry
    bx, by = np.roll(rx, -1), np.roll(ry, -1)
    dx, dy = bx - ax, by - ay
    t = ((px[:, None] - ax) * dx + (py[:, None] - ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-300)
    t = np.clip(t, 0.0, 1.0)
    qx, qy = ax + t * dx, ay + t * dy
    return np.min(np.hypot(px[:, None] - qx, py[:, None] - qy), axis=1)


def _inside(px, py, rx, ry):
    """Even-odd point in polygon."""
    bx, by = np.roll(rx, -1), np.roll(ry, -1)
    crosses = ((ry[None] > py[:, None]) != (by[None] > py[:, None])) & (
        px[:, None]
        < (bx - rx)[None] * (py[:, None] - ry[None]) / np.where(by == ry, 1e-300, by - ry)[None] + rx[None]
    )
    return crosses.sum(axis=1) % 2 == 1


@pytest.mark.parametrize("lon0", [30.0, 180.0])
def test_footprint_matches_brute_force_border(lon0):
    cam = make_camera(
        lon_deg=lon0, lat_deg=-20.0, lines=60, samples=80, radial_k=(0.0, 5e-4, 0.0), tilt=(0.2, -0.1, 0.7)
    )
    n = 10
    lon, lat = cam.footprint_deg(n)
    assert lon.shape == lat.shape == (4 * n,)
    assert footprint_contains_pole(lon, lat) == 0
    # the vertices are the projections of the border coordinates
    bl, bs = border_coords(cam.lines, cam.samples, n)
    vlon, vlat = xyz_to_lonlat_deg(cam.image_to_ground(bl, bs))
    np.testing.assert_allclose(lat, vlat, atol=1e-12)
    np.testing.assert_allclose(_unwrap_near(vlon, lon), lon, atol=1e-12)
    # continuous longitudes, no jump at +-180
    assert np.abs(np.diff(lon)).max() < 1.0
    assert -180.0 <= lon.mean() < 180.0
    # every border pixel edge lies on the ring (within a small fraction of a pixel)
    pl, ps = _border_every_pixel(cam)
    blon, blat = xyz_to_lonlat_deg(cam.image_to_ground(pl, ps))
    blon = _unwrap_near(blon, lon.mean())
    coslat = math.cos(math.radians(lat.mean()))
    d = _dist_to_ring(blon * coslat, blat, lon * coslat, lat)
    pixel_deg = math.degrees(cam.gsd_m() / 1_737_400.0)
    assert d.max() < 0.1 * pixel_deg
    # the image interior is inside
    il, is_ = np.meshgrid(np.linspace(1, 59, 7), np.linspace(1, 79, 9), indexing="ij")
    clon, clat = xyz_to_lonlat_deg(cam.image_to_ground(il.ravel(), is_.ravel()))
    assert _inside(_unwrap_near(clon, lon.mean()), clat, lon, lat).all()


def test_footprint_straddling_180_is_continuous():
    cam = make_camera(lon_deg=179.99, lat_deg=5.0, lines=100, samples=100, focal_mm=10.0)  # ~1.1 deg wide
    lon, lat = cam.footprint_deg(16)
    raw = xyz_to_lonlat_deg(cam.footprint_xyz(16)[0])[0]
    assert raw.max() > 179.0 and raw.min() < -179.0  # the raw longitudes do jump
    assert lon.max() - lon.min() < 2.0  # ours do not
    assert lon.min() < 180.0 < lon.max() or lon.min() < -180.0 < lon.max()


@pytest.mark.parametrize("pole", [90.0, -90.0])
def test_footprint_containing_a_pole(pole):
    # ~1.6 deg wide, centred 0.2 deg from the pole
    cam = make_camera(
        lon_deg=40.0,
        lat_deg=pole - math.copysign(0.2, pole),
        lines=120,
        samples=120,
        focal_mm=5.0,
        altitude_m=200e3,
    )
    lon, lat = cam.footprint_deg(12)
    sign = int(math.copysign(1, pole))
    assert footprint_contains_pole(lon, lat) == sign
    assert lat[-1] == lat[-2] == pole
    assert lon[:48].max() - lon[:48].min() > 300.0  # the ring winds around the pole
    assert abs(abs(lon[-3] - lon[0]) - 360.0) < 1e-9
    # points near the pole at any longitude are inside the closed polygon
    test_lon = np.linspace(lon.min() + 1.0, lon.max() - 1.0, 13)
    test_lat = np.full(13, pole - math.copysign(0.3, pole))
    assert _inside(test_lon, test_lat, lon, lat).all()
    # and the unclosed ring tells the same
    assert footprint_contains_pole(lon[:48], lat[:48]) == sign
    assert footprint_contains_pole(((lon[:48] + 180) % 360) - 180, lat[:48]) == sign


@pytest.mark.parametrize("tilt_deg", [70.0, 72.5])  # 72.5: even the image centre sees space
def test_footprint_with_limb_in_view(tilt_deg):
    # looking past the horizon (71.0 deg from nadir at 100 km): part of the image sees space
    cam = make_camera(
        altitude_m=100e3,
        tilt=(-math.radians(tilt_deg), 0.0, 0.0),
        lines=200,
        samples=200,
        focal_mm=20.0,
        sun_lonlat_deg=(180.0, 0.0),
    )
    bl, bs = border_coords(cam.lines, cam.samples, 16)
    _, hit = cam.image_to_ground_hit(bl, bs)
    assert (~hit).any() and hit.any()
    xyz, limb = cam.footprint_xyz(16)
    np.testing.assert_array_equal(limb, ~hit)
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 1_737_400.0, rtol=1e-9)
    # limb points are where the line of sight grazes the surface: emission ~ 90 deg
    _, emission, _ = cam.illumination_angles(xyz[limb])
    assert np.all(np.degrees(emission) > 89.0)
    lon, lat = cam.footprint_deg(16)
    assert np.isfinite(lon).all() and np.isfinite(lat).all()


def test_footprint_without_body_raises():
    from pipeline.errors import GeometryError

    cam = make_camera(tilt=(math.pi, 0.0, 0.0))  # looking straight away from the Moon
    with pytest.raises(GeometryError, match="sees the body"):
        cam.footprint_deg()
