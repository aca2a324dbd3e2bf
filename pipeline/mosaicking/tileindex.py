"""Which frames touch which output tile, in time linear in the frames.

:func:`~pipeline.mosaicking.layout.frames_touching` tests every frame against one tile; asking
it for every tile costs tiles x frames box tests in Python (a 60,000-frame survey on a few
thousand tiles: hundreds of millions). The tiles of a north-up grid form a product of tile
columns and tile rows, so each footprint box covers one contiguous run of columns and one of
rows, found by binary search: :func:`frames_by_tile` costs frames x log(tiles) plus the
(frame, tile) pairs it returns, and gives exactly what :func:`frames_touching` gives tile by
tile (the same box test on the same tile bounds).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.geometry.grid import MapGrid, Tile
from pipeline.mosaicking.layout import box_array, frames_touching

__all__ = ["frames_by_tile"]


def _edges(tiles: Sequence[Tile], grid: MapGrid, axis: int) -> tuple[np.ndarray, np.ndarray, list] | None:
    """Per tile column (axis 1) or row (axis 0): the outer tiles' map bounds along x (axis 1)
    or y (axis 0), as ``(low, high, tile index values)`` sorted by the index; None when the
    tiles of one column (row) do not share them (a rotated grid)."""
    seen: dict[int, tuple[float, float]] = {}
    lo_i, hi_i = (0, 2) if axis == 1 else (1, 3)
    for t in tiles:
        b = grid[t.outer].bounds
        edge = (b[lo_i], b[hi_i])
        k = t.index[axis]
        if seen.setdefault(k, edge) != edge:
            return None
    keys = sorted(seen)
    return np.array([seen[k][0] for k in keys]), np.array([seen[k][1] for k in keys]), keys


def _direction(low: np.ndarray, high: np.ndarray) -> int:
    """+1 when both edge arrays grow with the index, -1 when both shrink, 0 otherwise."""
    dl, dh = np.diff(low), np.diff(high)
    if np.all(dl >= 0) and np.all(dh >= 0):
        return 1
    if np.all(dl <= 0) and np.all(dh <= 0):
        return -1
    return 0


def _run(low: np.ndarray, high: np.ndarray, direction: int, a: float, b: float) -> range:
    """Positions ``k`` with ``low[k] <= b`` and ``high[k] >= a``: one contiguous run, as both
    edge arrays are monotonic in the same ``direction``."""
    if direction > 0:
        return range(int(np.searchsorted(high, a, "left")), int(np.searchsorted(low, b, "right")))
    n = len(low)
    return range(n - int(np.searchsorted(low[::-1], b, "right")), n - int(np.searchsorted(high[::-1], a, "left")))


def frames_by_tile(grid: MapGrid, tiles: Sequence[Tile],
                   footprints: Sequence) -> dict[tuple[int, int], list[int]]:
    """For every tile, the frames whose footprint boxes touch its outer grid (core + halo).

    Parameters
    ----------
    grid : MapGrid
        The output grid the tiles split (:meth:`MapGrid.tiles`).
    tiles : sequence of Tile
    footprints : sequence of tuple of BBox
        Per frame, its boxes ``(xmin, ymin, xmax, ymax)`` in the grid's CRS, metres
        (:func:`~pipeline.geometry.mapbox.footprint_bbox_xy`); empty or None: no box.

    Returns
    -------
    dict of tile index to list of int
        Frame indices in input order, for every tile (empty lists included); the same as
        ``{t.index: frames_touching(grid[t.outer], footprints) for t in tiles}``.

    Examples
    --------
    >>> g = MapGrid.from_bounds("farside_eqc", (0.0, 0.0, 4000.0, 2000.0), 100.0)
    >>> tiles = g.tiles(20, halo=2)
    >>> frames_by_tile(g, tiles, [((50.0, 50.0, 900.0, 900.0),), ((2500.0, 1500.0, 2600.0, 1600.0),), ()])
    {(0, 0): [0], (0, 1): [1]}
    """
    tiles = list(tiles)
    cols, rows = _edges(tiles, grid, 1), _edges(tiles, grid, 0)
    dirs = (_direction(*cols[:2]), _direction(*rows[:2])) if cols is not None and rows is not None else (0, 0)
    if 0 in dirs:
        return {t.index: frames_touching(grid[t.outer], footprints) for t in tiles}
    (x_lo, x_hi, col_keys), (y_lo, y_hi, row_keys) = cols, rows
    out: dict[tuple[int, int], list[int]] = {t.index: [] for t in tiles}
    for i, boxes in enumerate(footprints):
        arr = box_array(boxes)
        for bx0, by0, bx1, by1 in arr[~np.isnan(arr).any(axis=1)].tolist():  # a NaN box touches nothing
            for r in _run(y_lo, y_hi, dirs[1], by0, by1):
                for c in _run(x_lo, x_hi, dirs[0], bx0, bx1):
                    hit = out.get((row_keys[r], col_keys[c]))
                    if hit is not None and (not hit or hit[-1] != i):
                        hit.append(i)
    return out
