"""Checks of a planned output made before any pixel is read: its size and its pixel size.

Both are cheap (a few multiplications on the planned grid and the frames' footprint boxes)
and run in :func:`pipeline.orchestration.plan.plan`, so an impossible request fails in well
under a second instead of after hours of work or deep inside OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pipeline.errors import MosaicError
from pipeline.geometry.grid import MapGrid

__all__ = ["check_output_size", "check_pixel_size"]


def check_output_size(grid: MapGrid, max_pixels: int, tile_size: int) -> None:
    """Refuse a grid of more than ``max_pixels`` pixels (``mosaicking.max_output_pixels``).

    Raises
    ------
    MosaicError
        Naming the grid size, the budget, the resolution that would fit and how to raise it.

    Examples
    --------
    >>> from pyproj import CRS
    >>> g = MapGrid.from_bounds(CRS.from_user_input("IAU_2015:30100"), (0, 0, 1e5, 1e5), 1.0)
    >>> check_output_size(g, 10**9, 512)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.errors.MosaicError: the output grid would be 100000 x 100000 = 1e+10 px ...
    """
    rows, cols = grid.shape
    n = rows * cols
    if n <= max_pixels:
        return
    tiles = math.ceil(rows / tile_size) * math.ceil(cols / tile_size)
    fit = grid.resolution * math.sqrt(n / max_pixels)
    raise MosaicError(
        f"the output grid would be {rows} x {cols} = {n:.3g} px at {grid.resolution:g} m ({tiles} tiles), more "
        f"than mosaicking.max_output_pixels = {max_pixels:.3g}: choose a coarser --resolution (>= {fit:.3g} m "
        f"fits) or smaller mosaicking.bounds, or raise the budget in the config (mosaicking: "
        f"{{max_output_pixels: {n}}})"
    )


def check_pixel_size(grid: MapGrid, boxes: Sequence[Sequence[Sequence[float]]]) -> None:
    """Refuse an output pixel larger than every frame's footprint (nothing could be mapped).

    ``boxes``: per frame, its footprint boxes ``(xmin, ymin, xmax, ymax)`` in the grid's CRS
    (:func:`pipeline.mosaicking.footprint_bbox_xy`: one, two across the map's seam, none).

    Raises
    ------
    MosaicError
        Naming ``mosaicking.resolution_m``, the largest footprint and a pixel size that works.
    """
    sides = [max(b[2] - b[0], b[3] - b[1]) for frame in boxes for b in frame]
    if not sides:
        return
    largest = max(sides)
    if grid.resolution > largest:
        raise MosaicError(
            f"mosaicking.resolution_m = {grid.resolution:g} m is coarser than the frames themselves (the largest "
            f"footprint is {largest:.0f} m across): choose a pixel size below {largest:.0f} m, or leave "
            "--resolution unset for the frames' ground sample distance"
        )
