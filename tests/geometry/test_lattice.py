"""Lattice image coordinates: accuracy against the exact projection, tile invariance, fallback."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.geometry.grid import MapGrid
from pipeline.geometry.lattice import GroundLattice, lattice_coordinates
from pipeline.geometry.mapbox import footprint_bbox_xy
from pipeline.geometry.warp import GroundGrid, image_coordinates
from pipeline.mosaicking import MosaickingParams, TileInput, mosaic_tile
from tests.geometry.scan_helpers import SHARED, require
from tests.geometry.scan_helpers import camera as scan_camera
from tests.mosaicking.helpers import camera, render

GRID = MapGrid.from_bounds("farside_eqc", (-400_000, 200_000, -150_000, 400_000), 180.0)


def _error(cam, grid, step, origin=(3, 5)):
    line, sample = lattice_coordinates(cam, GroundLattice(grid, origin, step, radii=cam.radii_m))
    le, se = image_coordinates(cam, GroundGrid.from_grid(grid, radii=cam.radii_m))
    inside = (le > -2) & (le < cam.lines + 2) & (se > -2) & (se < cam.samples + 2)
    assert inside.sum() > 0.5 * cam.lines * cam.samples
    return np.hypot(line - le, sample - se)[inside]


@pytest.mark.parametrize(("rotvec", "bound_px"), [((0.08, -0.05, 0.4), 0.006), ((0.0, 0.75, 0.0), 1.0 / 32)])
def test_lattice_matches_the_exact_projection(rotvec, bound_px):
    # the simulator's wide-angle camera (51 deg field, radial distortion), 5 deg and 43 deg off nadir
    cam = camera(170.0, 10.0, size=(512, 512), gsd_m=180.0, rotvec=rotvec)
    err = _error(cam, GRID, 8)
    assert err.max() < bound_px
    assert _error(cam, GRID, 16).max() > 2.0 * err.max()  # a coarser lattice is measurably worse


def test_a_pixel_gets_the_same_coordinates_from_any_tile():
    cam = camera(170.0, 10.0, size=(256, 256), gsd_m=180.0, rotvec=(0.08, -0.05, 0.4))
    a = lattice_coordinates(cam, GroundLattice(GRID[100:400, 200:500], (100, 200), 8, radii=cam.radii_m))
    b = lattice_coordinates(cam, GroundLattice(GRID[253:611, 317:650], (253, 317), 8, radii=cam.radii_m))
    for ca, cb in zip(a, b, strict=True):
        np.testing.assert_allclose(ca[153:, 117:], cb[:147, :183], rtol=0, atol=1e-9)


def test_nodes_off_the_body_fall_back_to_every_pixel():
    cam = camera(170.0, 10.0, size=(64, 64))
    disc = MapGrid.from_bounds("farside_ortho", (-1_800_000, -1_800_000, 1_800_000, 1_800_000), 60_000.0)
    assert lattice_coordinates(cam, GroundLattice(disc, (0, 0), 8, radii=cam.radii_m)) is None
    with pytest.raises(ValueError, match="step"):
        GroundLattice(GRID, (0, 0), 1)


def test_tile_through_the_lattice_matches_every_pixel_projected():
    cams = [camera(lon, 10.0, size=(160, 160), gsd_m=180.0, rotvec=(0.05, 0.02, 0.1)) for lon in (169.6, 170.0)]
    inputs = [TileInput(*render(c), c) for c in cams]
    grid = MapGrid.from_bounds("farside_eqc", (-330_000, 300_000, -290_000, 330_000), 180.0)
    cfg = MosaickingParams()
    exact = mosaic_tile(inputs, grid, cfg)
    fast = mosaic_tile(inputs, grid, cfg, origin=(0, 0))
    assert exact["valid"].sum() > 0.5 * exact["valid"].size
    both = exact["valid"] & fast["valid"]
    assert both.sum() >= exact["valid"].sum() - 0.005 * exact["valid"].size
    diff = np.abs(fast["mosaic"][both] - exact["mosaic"][both])
    assert np.percentile(diff, 99) < 2e-3 * np.nanstd(exact["mosaic"])


def test_a_push_frame_camera_is_projected_at_every_pixel():
    # its map jumps at framelet boundaries: on this real LRO WAC frame, interpolating the lattice
    # would put lines off by up to 6.7 px (p99 3.1 px) on a 400 m grid over its footprint
    wac = scan_camera(require(SHARED / "reference" / "usgscsm" / "lroWacPushFrame.json"))
    crs = MapGrid.from_bounds("farside_eqc", (-1, -1, 1, 1), 1.0).crs
    grid = MapGrid.from_bounds("farside_eqc", footprint_bbox_xy(wac, crs)[0], 400.0)
    lattice = GroundLattice(grid, (0, 0), 8, radii=wac.radii_m)
    assert np.isfinite(image_coordinates(wac, lattice.ground)[0]).all()  # every node is seen
    assert lattice_coordinates(wac, lattice) is None
