"""Topographic angles from terrain slopes against the sphere's angles and closed-form facets."""


import numpy as np
import pytest

from pipeline.geometry.topography import enu_basis, grid_slopes, surface_normal, topographic_angles
from tests.calibration.helpers import MOON_R, look_at_camera

D = np.radians


def test_zero_slopes_give_the_cameras_sphere_angles():
    cam = look_at_camera(16, 20, [MOON_R, 0, 0], 200e3, sun_dir=(1.0, 0.6, 0.2))
    lines, samples = np.meshgrid(np.arange(16) + 0.5, np.arange(20) + 0.5, indexing="ij")
    xyz, hit = cam.image_to_ground_hit(lines.ravel(), samples.ravel())
    xyz = np.asarray(xyz)[np.asarray(hit)]
    expected = cam.illumination_angles(xyz)
    got = topographic_angles(xyz, cam.sun_position_m, cam.position_m, np.zeros(len(xyz)), np.zeros(len(xyz)))
    for a, b in zip(got, expected, strict=True):
        assert np.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize(("slope_deg", "azimuth_deg"), [(10.0, 0.0), (25.0, 90.0), (15.0, 200.0)])
def test_tilted_facet_angles_equal_the_rotated_geometry(slope_deg, azimuth_deg):
    # a facet rising towards azimuth a (clockwise from north) with slope s: its normal leans
    # by s towards a + 180; the angles equal those of a flat surface whose normal is that one
    rng = np.random.default_rng(0)
    lat, lon = D(rng.uniform(-60, 60, 50)), D(rng.uniform(0, 360, 50))
    p = MOON_R * np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
    east, north, up = enu_basis(p)
    a, s = D(azimuth_deg), D(slope_deg)
    dz_de, dz_dn = np.tan(s) * np.sin(a), np.tan(s) * np.cos(a)
    normal = np.cos(s) * up - np.sin(s) * (np.sin(a) * east + np.cos(a) * north)
    assert np.allclose(surface_normal(p, dz_de, dz_dn), normal, atol=1e-12)
    sun = rng.normal(size=3) * 1.5e11
    cam = p + 80e3 * (up + 0.3 * east)
    i, e, g = topographic_angles(p, sun, cam, np.full(50, dz_de), np.full(50, dz_dn))
    to_sun, to_cam = sun - p, cam - p
    cos_i = np.sum(normal * to_sun, -1) / np.linalg.norm(to_sun, axis=-1)
    cos_e = np.sum(normal * to_cam, -1) / np.linalg.norm(to_cam, axis=-1)
    assert np.allclose(np.cos(i), cos_i, atol=1e-12) and np.allclose(np.cos(e), cos_e, atol=1e-12)
    flat = topographic_angles(p, sun, cam, np.zeros(50), np.zeros(50))
    assert np.allclose(g, flat[2])  # phase does not depend on the normal


def test_grid_slopes_of_a_plane_and_a_hill():
    rows, cols = np.mgrid[0:30, 0:40].astype(float)
    x, y = 25.0 * cols, -25.0 * rows  # 25 m pixels, rows run south
    de, dn = grid_slopes(0.1 * x - 0.05 * y + 100.0, 25.0, 25.0)
    assert np.allclose(de, 0.1) and np.allclose(dn, -0.05)
    hill = 50.0 * np.exp(-((x - 500) ** 2 + (y + 375) ** 2) / 200.0**2)
    de, dn = grid_slopes(hill, 25.0, 25.0)
    exact_de = -2 * (x - 500) / 200.0**2 * hill
    # central differences: error h^2/6 f''', under 2 % of the steepest slope at 25 m steps
    assert np.abs(de - exact_de)[1:-1, 1:-1].max() < 0.02 * np.abs(exact_de).max()
