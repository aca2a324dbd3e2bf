"""Topographic angles from a DEM (calibration.photometry.topographic): slopes, per point, per pixel.

Truths: a DEM that is an exact plane tilted by a known slope (its facet angles follow from
the Sun and camera vectors by hand), and a flat DEM (the angles must be the sphere's).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from affine import Affine

from pipeline.geometry.body import lonlat_to_xyz, xyz_to_lonlat
from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.illumination import pixel_angles
from pipeline.geometry.topography import (
    camera_topographic_angles,
    dem_slopes,
    topographic_angles,
    topographic_pixel_angles,
)
from pipeline.simulation import nadir_camera

R = MOON_RADIUS_M
SLOPE_E, SLOPE_N = 0.12, -0.05  # dz/de, dz/dn of the tilted plane (m/m)


def _plane_dem(crs: str) -> Dem:
    """Heights ``SLOPE_E * east + SLOPE_N * north`` (metres from 180 E, 0 N) on a grid around 180 E."""
    if crs == "geographic":
        px = 0.002  # degrees (60 m)
        cols, rows = np.meshgrid(np.arange(1000), np.arange(1000))
        lon = 179.0 + (cols + 0.5) * px
        lat = 1.0 - (rows + 0.5) * px
        east = np.radians(lon - 180.0) * R * np.cos(np.radians(lat))
        north = np.radians(lat) * R
        return Dem.from_array(SLOPE_E * east + SLOPE_N * north, Affine(px, 0, 179.0, 0, -px, 1.0), "IAU_2015:30100")
    # equirectangular centred on 180 E: x is east metres along the equator, y north metres
    px = 60.0
    cols, rows = np.meshgrid(np.arange(1000), np.arange(1000))
    x = -30000.0 + (cols + 0.5) * px
    y = 30000.0 - (rows + 0.5) * px
    lat = np.degrees(y / R)
    east = x * np.cos(np.radians(lat))
    return Dem.from_array(SLOPE_E * east + SLOPE_N * y, Affine(px, 0, -30000.0, 0, -px, 30000.0),
                          "+proj=eqc +lon_0=180 +R=1737400 +units=m +no_defs")


@pytest.mark.parametrize("crs", ["geographic", "equirectangular"])
def test_dem_slopes_recover_a_tilted_plane_in_any_crs(crs):
    dem = _plane_dem(crs)
    lon = np.radians(np.array([179.6, 180.0, 180.3]))
    lat = np.radians(np.array([-0.2, 0.0, 0.25]))
    de, dn = dem_slopes(dem, lon, lat, 60.0)
    assert de == pytest.approx(np.full(3, SLOPE_E), abs=2e-4)
    assert dn == pytest.approx(np.full(3, SLOPE_N), abs=2e-4)
    off = dem_slopes(dem, np.radians([170.0]), np.radians([0.0]), 60.0)
    assert np.isnan(off[0]).all()  # off the DEM: no slope


def _camera():
    return nadir_camera(180.0, 0.0, lines=48, samples=64, gsd_m=200.0, sun_incidence_deg=50.0,
                        sun_azimuth_deg=120.0)


def test_flat_dem_gives_the_sphere_angles():
    cam = _camera()
    flat = Dem.from_array(np.zeros((200, 200)), Affine(0.01, 0, 179.0, 0, -0.01, 1.0), "IAU_2015:30100")
    inc, emi, pha, hit = topographic_pixel_angles(cam, cam.shape, flat)
    si, se, sp, shit = pixel_angles(cam, cam.shape, 1)
    assert hit.all() and shit.all()
    for a, b in ((inc, si), (emi, se), (pha, sp)):
        assert np.abs(a - b).max() < 1e-7


def test_pixel_angles_on_a_tilted_plane_match_the_facet_geometry():
    cam = _camera()
    dem = _plane_dem("geographic")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inc, emi, pha, hit = topographic_pixel_angles(cam, cam.shape, dem)
    assert hit.all()
    # by hand at a few pixels: the ground point on the DEM, the facet of the plane's slopes
    ll, ss = np.array([0.5, 20.5, 47.5]), np.array([0.5, 33.5, 63.5])
    xyz, _ = cam.image_to_ground_hit(ll, ss, dem=dem)
    want = topographic_angles(xyz, cam.sun_position_m, cam.observer_position(xyz), np.full(3, SLOPE_E),
                              np.full(3, SLOPE_N))
    rows, cols = (ll - 0.5).astype(int), (ss - 0.5).astype(int)
    for got, exp in zip((inc, emi, pha), want, strict=True):
        assert np.degrees(np.abs(got[rows, cols] - exp)).max() < 0.02
    # the slope matters: tens of degrees tilt the incidence by several degrees
    sphere = pixel_angles(cam, cam.shape, 1)[0]
    assert np.degrees(np.abs(inc - sphere)).mean() > 3.0


def test_point_angles_fall_back_to_the_sphere_off_the_dem():
    cam = _camera()
    small = Dem.from_array(np.zeros((3, 3)), Affine(0.001, 0, 179.9985, 0, -0.001, 0.0015), "IAU_2015:30100")
    xyz = lonlat_to_xyz(np.radians([180.0, 180.05]), np.radians([0.0, 0.05]), 0.0, cam.radii_m)
    inc, emi, pha = camera_topographic_angles(cam, xyz, small, 50.0)
    i0, e0, g0 = cam.illumination_angles(xyz)
    assert np.allclose(inc, i0) and np.allclose(emi, e0) and np.allclose(pha, g0)
    assert np.allclose(np.degrees(xyz_to_lonlat(xyz)[0]) % 360, [180.0, 180.05])

