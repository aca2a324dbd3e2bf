"""The output grid of a mosaic and which frames touch which tile.

The frames' footprints as map boxes come from :func:`pipeline.geometry.mapbox.footprint_bbox_xy`
(one box, two across a map discontinuity, none off the map).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from pyproj import CRS

from pipeline.errors import GeometryError, MosaicError
from pipeline.geometry.grid import MapGrid, resolve_crs
from pipeline.geometry.mapbox import BBox, footprint_bbox_xy, world_bounds

log = logging.getLogger(__name__)

__all__ = ["frames_touching", "grid_for_frames"]


def _nice(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits."""
    if value <= 0 or not math.isfinite(value):
        return value
    scale = 10 ** (math.floor(math.log10(value)) - digits + 1)
    return round(value / scale) * scale


def grid_for_frames(
    cameras: Sequence,
    crs: str,
    resolution_m: float | None = None,
    bounds: BBox | None = None,
    *,
    n_per_edge: int = 32,
    max_pixels: int = 50_000_000_000,
) -> MapGrid:
    """The output grid covering a set of frames.

    Parameters
    ----------
    cameras : sequence of FrameCamera
    crs : CRS or str
        Preset name (``farside_eqc``, ``farside_ortho``, ``north_polar``, ``south_polar``),
        IAU code, WKT or PROJ string.
    resolution_m : float, optional
        Pixel size, metres. Default: the median ground sample distance of the frames
        (image centre, reference sphere), rounded to 3 significant digits.
    bounds : (xmin, ymin, xmax, ymax), optional
        Extent in CRS metres. Default: the union of the frames' footprint boxes (see
        :func:`footprint_bbox_xy`), clipped to the body's extent in the CRS.
    n_per_edge : int
        Footprint samples per image edge.
    max_pixels : int
        Refuse grids larger than this (a frame near the singular point of the projection).

    Returns
    -------
    MapGrid
        North-up grid whose origin is a whole multiple of the resolution (grids of the
        same CRS and resolution are pixel-aligned).

    Raises
    ------
    MosaicError
        No frame, no frame visible in the CRS, or an absurdly large grid.

    Examples
    --------
    >>> from pipeline.simulation.survey import nadir_camera
    >>> grid = grid_for_frames([nadir_camera(180.0, 0.0, gsd_m=180.0)], "farside_eqc")
    >>> grid.resolution
    180.0
    """
    cameras = list(cameras)
    if not cameras and bounds is None:
        raise MosaicError("no frames to lay out a grid for")
    wkt = resolve_crs(crs).to_wkt()
    if resolution_m is None:
        gsds = []
        for cam in cameras:
            try:
                gsds.append(cam.gsd_m())
            except GeometryError:
                continue
        if not gsds:
            raise MosaicError("no frame sees the body at its image centre: give mosaicking.resolution_m")
        resolution_m = _nice(float(np.median(gsds)))
    if bounds is None:
        boxes = [b for cam in cameras for b in footprint_bbox_xy(cam, wkt, n_per_edge=n_per_edge)]
        if not boxes:
            raise MosaicError("no frame footprint is visible in the output CRS")
        arr = np.array(boxes)
        wx0, wy0, wx1, wy1 = world_bounds(wkt)
        bounds = (
            max(float(arr[:, 0].min()), wx0),
            max(float(arr[:, 1].min()), wy0),
            min(float(arr[:, 2].max()), wx1),
            min(float(arr[:, 3].max()), wy1),
        )
        if not (bounds[2] > bounds[0] and bounds[3] > bounds[1]):
            raise MosaicError(f"empty mosaic extent {bounds} in the output CRS")
    grid = MapGrid.from_bounds(CRS.from_wkt(wkt), tuple(float(b) for b in bounds), float(resolution_m))
    if grid.shape[0] * grid.shape[1] > max_pixels:
        raise MosaicError(
            f"the output grid would be {grid.shape[1]} x {grid.shape[0]} pixels (width x height) "
            f"at {grid.resolution} m: "
            f"the frames are probably far from the centre of CRS {CRS.from_wkt(wkt).name!r}; choose a CRS "
            f"centred on them (mosaicking.crs), a coarser mosaicking.resolution_m or explicit mosaicking.bounds"
        )
    log.info("output grid %d x %d (width x height) at %.3f m", grid.shape[1], grid.shape[0], grid.resolution)
    return grid


def box_array(boxes) -> np.ndarray:
    """A frame's footprint boxes as an ``(n, 4)`` float array of ``(xmin, ymin, xmax, ymax)``:
    one box or a sequence of them; ``None`` or no box gives ``(0, 4)``."""
    arr = np.asarray(boxes if boxes is not None else (), dtype=float)
    return arr.reshape(-1, 4)


def frames_touching(tile_grid: MapGrid, footprints: Sequence[Sequence[BBox]]) -> list[int]:
    """Indices of the frames whose footprint boxes intersect a (tile) grid.

    Parameters
    ----------
    tile_grid : MapGrid
        Usually the tile's outer grid (core + halo), ``grid[tile.outer]``.
    footprints : sequence of tuple of BBox
        Per frame, the boxes of :func:`footprint_bbox_xy` computed once in the grid's CRS
        (a single ``(xmin, ymin, xmax, ymax)`` box is accepted too; ``None`` = none).

    Returns
    -------
    list of int
        Frame indices in input order.
    """
    x0, y0, x1, y1 = tile_grid.bounds
    out = []
    for i, boxes in enumerate(footprints):
        boxes = box_array(boxes)
        if any(b[0] <= x1 and b[2] >= x0 and b[1] <= y1 and b[3] >= y0 for b in boxes):
            out.append(i)
    return out
