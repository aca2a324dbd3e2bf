"""frames_by_tile: the same tile -> frames lookup as frames_touching tile by tile, linear in the frames."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from pipeline.geometry.grid import MapGrid
from pipeline.mosaicking import frames_touching
from pipeline.mosaicking.tileindex import frames_by_tile


def _random_boxes(rng, grid: MapGrid, n: int) -> list:
    """Boxes of all kinds: inside, across the edges, outside, two per frame, none, NaN,
    and boxes whose edges fall exactly on tile edges."""
    x0, y0, x1, y1 = grid.bounds
    res = grid.resolution
    out = []
    for k in range(n):
        kind = k % 7
        if kind == 5:
            out.append(() if k % 2 else None)
            continue
        if kind == 6:
            out.append(((np.nan, y0, x1, y1),))
            continue
        boxes = []
        for _ in range(2 if kind == 4 else 1):
            w, h = rng.uniform(0.5, 40.0) * res, rng.uniform(0.5, 40.0) * res
            cx = rng.uniform(x0 - 30 * res, x1 + 30 * res)
            cy = rng.uniform(y0 - 30 * res, y1 + 30 * res)
            if kind == 3:  # on a pixel edge, which is where tile edges are
                cx, cy = x0 + res * round((cx - x0) / res), y0 + res * round((cy - y0) / res)
            boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) if kind != 3 else (cx, cy, cx + w, cy + h))
        out.append(tuple(boxes))
    return out


@pytest.mark.parametrize("size,halo", [(16, 0), (16, 4), (37, 8), (200, 2)])
def test_frames_by_tile_equals_frames_touching(size, halo):
    rng = np.random.default_rng(size + halo)
    grid = MapGrid.from_bounds("farside_eqc", (-12_345.0, -6_789.0, 14_321.0, 9_876.0), 100.0)
    tiles = grid.tiles(size, halo)
    boxes = _random_boxes(rng, grid, 400)
    expected = {t.index: frames_touching(grid[t.outer], boxes) for t in tiles}
    got = frames_by_tile(grid, tiles, boxes)
    assert got == expected
    assert sum(map(len, got.values())) > 100  # the boxes do touch tiles


def test_frames_by_tile_rotated_grid_falls_back():
    grid = MapGrid.from_bounds("farside_eqc", (0.0, 0.0, 5000.0, 5000.0), 100.0)
    rotated = MapGrid(grid.crs_wkt, grid.transform * Affine.rotation(10.0), grid.shape)
    tiles = rotated.tiles(16, 2)
    boxes = _random_boxes(np.random.default_rng(1), rotated, 60)
    assert frames_by_tile(rotated, tiles, boxes) == {t.index: frames_touching(rotated[t.outer], boxes)
                                                     for t in tiles}
