"""DEM reading, bilinear heights and ray/terrain intersection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine

from pipeline.errors import BadFrame
from pipeline.geometry.body import xyz_to_lonlat
from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MapGrid
from tests.geometry.helpers import make_camera


def _write(path, values, transform, crs):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=-32768.0,
    ) as ds:
        ds.write(values.astype("float32"), 1)


def test_geographic_0_360_dem_bilinear(tmp_path):
    # 1-degree DEM over 170..190 E (0..360 convention), -10..10 N; height = 100 * (lon - 180)
    lon_c = 170.5 + np.arange(20)
    values = np.tile(100.0 * (lon_c - 180.0), (20, 1))
    values[0, 0] = -32768.0  # nodata in the upper-left corner
    path = tmp_path / "dem.tif"
    _write(path, values, Affine(1.0, 0, 170.0, 0, -1.0, 10.0), "IAU_2015:30100")
    dem = Dem.from_file(path)
    assert dem.datum_radius_m == 1_737_400.0
    lon = np.radians([-179.5, 179.25, 185.0, 200.0])
    lat = np.radians([0.0, 3.0, -9.6, 0.0])
    h = dem.height_m(lon, lat)
    np.testing.assert_allclose(h[:3], [50.0, -75.0, 500.0], atol=1e-9)  # -179.5 wraps to 180.5
    assert np.isnan(h[3])  # outside
    assert np.isnan(dem.height_m(np.radians(170.6), np.radians(9.9)))  # next to nodata
    assert dem.radius_m(np.radians(180.5), 0.0) == pytest.approx(1_737_450.0)


def test_projected_dem_and_radius_values(tmp_path):
    grid = MapGrid.from_bounds("farside_eqc", (-30_000.0, -30_000.0, 30_000.0, 30_000.0), 1000.0)
    radius = np.full(grid.shape, 1_737_400.0 + 250.0)
    path = tmp_path / "radius.tif"
    _write(path, radius, grid.transform, grid.crs.to_wkt())
    dem = Dem.from_file(path)  # values > 1e6 are read as radii
    assert dem.height_m(math.pi, 0.0) == pytest.approx(250.0, abs=1e-3)
    assert np.isnan(dem.height_m(0.0, 0.0))


def test_dem_errors(tmp_path):
    bad = tmp_path / "not.tif"
    bad.write_text("nope")
    with pytest.raises(BadFrame, match="cannot read DEM"):
        Dem.from_file(bad)
    earth = tmp_path / "earth.tif"
    _write(earth, np.zeros((4, 4)), Affine(1.0, 0, 0, 0, -1.0, 4.0), "EPSG:4326")
    with pytest.raises(BadFrame, match="not lunar"):
        Dem.from_file(earth)


def test_image_to_ground_on_terrain():
    cam = make_camera(lon_deg=180.0, lat_deg=0.0, lines=50, samples=50, tilt=(0.3, 0.2, 0.0))
    grid = MapGrid.from_bounds("IAU_2015:30100", (178.0, -2.0, 182.0, 2.0), 0.01)
    rows, cols = grid.shape
    cc, rr = np.meshgrid(np.arange(cols), np.arange(rows))
    heights = 2000.0 * np.sin(cc / 25.0) * np.cos(rr / 40.0)  # up to 2 km relief
    dem = Dem.from_grid(heights, grid)
    line, sample = np.meshgrid(np.arange(0.5, 50, 7), np.arange(0.5, 50, 7), indexing="ij")
    flat, _ = cam.image_to_ground_hit(line, sample)
    xyz, hit = cam.image_to_ground_hit(line, sample, dem=dem)
    assert hit.all() and xyz.shape == line.shape + (3,)
    lon, lat = xyz_to_lonlat(xyz)
    # on the terrain: |p| = R + h(p) to the convergence tolerance
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=-1), dem.radius_m(lon, lat), atol=2e-3)
    assert np.abs(np.linalg.norm(xyz - flat, axis=-1)).max() > 100.0  # terrain matters
    # and still on the pixel's ray
    bl, bs = cam.ground_to_image(xyz)
    np.testing.assert_allclose(bl, line, atol=1e-6)
    np.testing.assert_allclose(bs, sample, atol=1e-6)
    # a constant DEM equals the ellipsoid at that height
    const = Dem.from_grid(np.full(grid.shape, 750.0), grid)
    xyz_c, _ = cam.image_to_ground_hit(line, sample, dem=const)
    np.testing.assert_allclose(xyz_c, cam.image_to_ground(line, sample, 750.0), atol=2e-3)
