"""Output grids like ISIS map templates and ASP's options (issue 22): named grids, lon/lat or
CRS bounds, snapping onto an existing map's pixel lattice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.geometry.grid import MOON_RADIUS_M, MapGrid
from pipeline.io.geotiff import write_cog
from pipeline.io.grids import load_grids, named_grid, read_grid
from pipeline.mosaicking.gridspec import lonlat_bounds_xy, output_grid, snap_to_grid
from pipeline.simulation.survey import nadir_camera

M_PER_DEG = MOON_RADIUS_M * math.pi / 180


def _params(**mosaicking):
    return load_config(overrides={"mosaicking": mosaicking}).mosaicking


def test_grids_file_and_unknown_name():
    grids = load_grids()
    assert len(grids) >= 5 and all(g.resolution_m > 0 for g in grids.values())
    assert named_grid("farside_eqc_2km").crs == "IAU_2015:30115"
    with pytest.raises(ConfigError, match="unknown grid 'farside_2km'.*farside_eqc_2km.*south_polar_500m"):
        load_config(overrides={"mosaicking": {"grid": "farside_2km"}})


def test_named_grid_sets_crs_resolution_and_extent():
    cams = [nadir_camera(181.0, 1.0)]
    grid = output_grid(cams, _params(grid="farside_eqc_2km"))
    assert grid.resolution == 2000.0 and grid.crs.to_authority() == ("IAU_2015", "30115")
    assert grid.transform.c % 2000.0 == 0 and grid.transform.f % 2000.0 == 0  # whole-pixel origin
    korolev = output_grid(cams, _params(grid="korolev_eqc_200m"))
    x0, y0, x1, y1 = korolev.bounds
    assert x0 == pytest.approx(15 * M_PER_DEG, abs=200) and x1 == pytest.approx(30 * M_PER_DEG, abs=200)
    assert y0 == pytest.approx(-12 * M_PER_DEG, abs=200) and y1 == pytest.approx(3 * M_PER_DEG, abs=200)
    # an explicit resolution wins over the named grid's
    assert output_grid(cams, _params(grid="korolev_eqc_200m", resolution_m=400.0)).resolution == 400.0
    polar = output_grid([], _params(grid="south_polar_500m"))
    assert polar.crs.to_authority() == ("IAU_2015", "30135")
    assert polar.bounds[2] == pytest.approx(-polar.bounds[0], abs=500)  # centred on the pole


def test_lonlat_bounds_across_180():
    a = lonlat_bounds_xy("farside_eqc", (177.8, -5.0, 182.2, 5.0))
    b = lonlat_bounds_xy("farside_eqc", (177.8, -5.0, -177.8, 5.0))
    assert a == pytest.approx(b)
    assert a == pytest.approx((-2.2 * M_PER_DEG, -5 * M_PER_DEG, 2.2 * M_PER_DEG, 5 * M_PER_DEG), abs=1e-6)
    grid = output_grid([nadir_camera(180.0, 0.0)], _params(bounds_lonlat=(177.8, -5.0, 182.2, 5.0), resolution_m=500.0))
    x0, _, x1, _ = grid.bounds
    assert x0 <= a[0] < x0 + 500 and x1 - 500 < a[2] <= x1  # grown by less than one pixel
    with pytest.raises(ConfigError, match="latitudes"):
        lonlat_bounds_xy("farside_eqc", (0, 10, 10, -10))
    with pytest.raises(ConfigError, match="not both"):
        _params(bounds=(0, 0, 1, 1), bounds_lonlat=(0, 0, 1, 1))


def test_like_snaps_onto_an_existing_lattice(tmp_path):
    # an existing mosaic whose origin is NOT a multiple of its resolution
    base = MapGrid.from_bounds("farside_ortho", (0.0, 0.0, 30_000.0, 20_000.0), 300.0)
    ref = MapGrid(base.crs_wkt, Affine(300.0, 0.0, 123.4, 0.0, -300.0, 20_077.7), (60, 100))
    path = write_cog(tmp_path / "existing.tif", ref, {"iof": np.ones(ref.shape, np.float32)})
    like = read_grid(path)
    assert like.crs.to_authority() == ("IAU_2015", "30170") and like.transform == ref.transform
    cams = [nadir_camera(182.0, 1.5)]
    grid = output_grid(cams, _params(crs="farside_eqc"), like=like)
    assert grid.crs.to_authority() == ("IAU_2015", "30170") and grid.resolution == 300.0
    dc = (grid.transform.c - ref.transform.c) / 300.0
    dr = (ref.transform.f - grid.transform.f) / 300.0
    assert dc == pytest.approx(round(dc), abs=1e-9) and dr == pytest.approx(round(dr), abs=1e-9)
    # the frames' footprint is inside
    plain = output_grid(cams, _params(crs="farside_ortho", resolution_m=300.0))
    gx0, gy0, gx1, gy1 = grid.bounds
    px0, py0, px1, py1 = plain.bounds
    assert gx0 <= px0 + 300 and gy0 <= py0 + 300 and gx1 >= px1 - 300 and gy1 >= py1 - 300
    with pytest.raises(ConfigError, match="not both"):
        output_grid(cams, _params(grid="farside_eqc_2km"), like=like)
    with pytest.raises(ConfigError, match="fixes the resolution"):
        output_grid(cams, _params(resolution_m=100.0), like=like)
    g = snap_to_grid(like, (500.0, 500.0, 1000.0, 1000.0))
    assert g.shape == (3, 2) and g.transform.c == pytest.approx(423.4)
    assert g.transform.f == pytest.approx(20_077.7 - 63 * 300.0)
