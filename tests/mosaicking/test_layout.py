"""Output grid selection, footprint boxes across map discontinuities, tile/frame lookup."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.errors import MosaicError
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.warp import orthorectify
from pipeline.mosaicking import (
    footprint_bbox_xy,
    frames_touching,
    grid_for_frames,
    world_bounds,
)
from tests.mosaicking.helpers import R, camera, render

HALF_WORLD = math.pi * R


def test_grid_resolution_alignment_and_extent():
    cams = [camera(179.9, 0.1, gsd_m=180.0), camera(180.1, -0.1, gsd_m=220.0), camera(180.0, 0.3, gsd_m=200.0)]
    grid = grid_for_frames(cams, "farside_eqc")
    assert grid.resolution == pytest.approx(200.0)  # median GSD
    t = grid.transform
    assert t.c / t.a == pytest.approx(round(t.c / t.a)) and t.f / t.a == pytest.approx(round(t.f / t.a))
    gx0, gy0, gx1, gy1 = grid.bounds
    for cam in cams:
        (bx0, by0, bx1, by1), = footprint_bbox_xy(cam, grid.crs)
        assert gx0 <= bx0 and gy0 <= by0 and bx1 <= gx1 and by1 <= gy1
    # explicit resolution and bounds win
    g2 = grid_for_frames(cams, "farside_eqc", resolution_m=500.0, bounds=(-1000, -1000, 1000, 1000))
    assert g2.resolution == 500.0 and g2.shape == (4, 4)
    with pytest.raises(MosaicError):
        grid_for_frames([], "farside_eqc")


def test_footprint_boxes_split_at_the_map_cut():
    c180 = camera(180.0, 0.0)
    c0 = camera(0.0, 0.0)
    # 180E-centred equirectangular: 180 E is the middle, 0 E the cut
    (box,) = footprint_bbox_xy(c180, "farside_eqc")
    assert box[0] < 0 < box[2] and box[2] - box[0] < 30_000
    boxes = footprint_bbox_xy(c0, "farside_eqc")
    assert len(boxes) == 2
    left, right = sorted(boxes)
    assert left[0] <= -HALF_WORLD + 1 and right[2] >= HALF_WORLD - 1
    assert left[2] - left[0] < 30_000 and right[2] - right[0] < 30_000
    # the 0E-centred one: the other way round
    assert len(footprint_bbox_xy(c0, "IAU_2015:30110")) == 1
    assert len(footprint_bbox_xy(c180, "IAU_2015:30110")) == 2
    # orthographic far-side view cannot show a near-side frame
    assert footprint_bbox_xy(c0, "farside_ortho") == ()
    # padding
    (padded,) = footprint_bbox_xy(c180, "farside_eqc", pad_m=1000.0)
    assert padded[0] == pytest.approx(box[0] - 1000.0) and padded[3] == pytest.approx(box[3] + 1000.0)


def test_pole_containing_footprints():
    cam = camera(40.0, 89.9)
    (polar,) = footprint_bbox_xy(cam, "north_polar")
    assert polar[0] < 0 < polar[2] and polar[1] < 0 < polar[3]  # the pole (0, 0) inside
    boxes = footprint_bbox_xy(cam, "farside_eqc")
    assert len(boxes) == 1
    (b,) = boxes
    assert b[3] >= HALF_WORLD / 2 - 1  # reaches latitude 90
    assert b[0] <= -HALF_WORLD + 1 and b[2] >= HALF_WORLD - 1  # all longitudes
    grid = grid_for_frames([cam], "farside_eqc", resolution_m=5000.0)
    wx0, _wy0, wx1, wy1 = world_bounds("farside_eqc")
    assert grid.bounds[0] >= wx0 - 5000 and grid.bounds[2] <= wx1 + 5000 and grid.bounds[3] <= wy1 + 5000


def test_world_bounds():
    x0, _y0, x1, y1 = world_bounds("farside_eqc")
    assert x0 == pytest.approx(-HALF_WORLD, rel=1e-6) and x1 == pytest.approx(HALF_WORLD, rel=1e-6)
    assert y1 == pytest.approx(HALF_WORLD / 2, rel=1e-6)
    assert world_bounds("farside_ortho") == pytest.approx((-R, -R, R, R), rel=1e-6)


@pytest.mark.parametrize("crs", ["farside_eqc", "IAU_2015:30110", "farside_ortho", "north_polar"])
def test_frames_touching_never_misses_a_frame(crs):
    """Brute force: every tile where a frame has a valid orthorectified pixel lists it."""
    cams = [camera(179.96, 0.0, size=(48, 48), gsd_m=400.0),
            camera(180.05, 0.06, size=(48, 48), gsd_m=400.0, rotvec=(0.0, 0.0, 0.8)),
            camera(179.9, 0.09, size=(48, 48), gsd_m=400.0, heading="south")]
    if crs == "north_polar":
        cams = [camera(0.0, 89.9, size=(48, 48), gsd_m=400.0), camera(170.0, 89.85, size=(48, 48), gsd_m=400.0)]
    res = 1500.0 if crs == "IAU_2015:30110" else 400.0
    grid = grid_for_frames(cams, crs, resolution_m=res)
    if crs == "IAU_2015:30110":  # keep the brute force small: the two map edges only
        assert grid.shape[1] > 7000
        grids = [grid[:, :64], grid[:, grid.shape[1] - 64 :]]
    else:
        grids = [grid]
    for g in grids:
        boxes = [footprint_bbox_xy(c, g.crs) for c in cams]
        for tile in g.tiles(16, 2):
            outer = g[tile.outer]
            listed = frames_touching(outer, boxes)
            for k, c in enumerate(cams):
                img, mask = render(c)
                if orthorectify(img, mask, c, outer)[1].any():
                    assert k in listed, (crs, tile.index, k)


def test_frames_touching_accepts_single_boxes_and_empties():
    grid = MapGrid.from_bounds("farside_eqc", (0, 0, 1000, 1000), 100.0)
    boxes = [(-10.0, -10.0, 5.0, 5.0), (), None, ((2000.0, 0.0, 3000.0, 1.0), (900.0, 900.0, 950.0, 950.0)),
             np.array([5000.0, 5000.0, 6000.0, 6000.0])]
    assert frames_touching(grid, boxes) == [0, 3]
