"""The output grid from the mosaicking parameters: a named grid, bounds in lon/lat or CRS metres,
or the grid of an existing map to snap to (ISIS map templates, ASP's ``--t_srs``/``--tr``/
``--t_projwin``/``--ref-map``).

Whole-pixel snapping
--------------------
Every grid is north-up with square pixels. Without ``like``, the origin (upper-left pixel
*edge*) is snapped outward to a whole multiple of the resolution (``MapGrid.from_bounds``),
so two mosaics of the same CRS and resolution are pixel-aligned and requested bounds are
grown by less than one pixel on each side. With ``like``, the CRS and the resolution are
the existing map's and the extent is grown outward onto *its* pixel lattice (its origin plus
whole pixels), so the new mosaic's pixels coincide with the existing one's and the two can
be merged pixel for pixel.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from affine import Affine

from pipeline.errors import ConfigError
from pipeline.geometry.grid import MapGrid, resolve_crs
from pipeline.io.grids import named_grid
from pipeline.mosaicking.layout import BBox, grid_for_frames

log = logging.getLogger(__name__)

__all__ = ["lonlat_bounds_xy", "output_grid", "snap_to_grid"]


def lonlat_bounds_xy(crs, bounds_lonlat: Sequence[float], n: int = 65) -> BBox:
    """The CRS extent (metres) of a longitude/latitude box.

    Parameters
    ----------
    crs : CRS or str
    bounds_lonlat : (west, south, east, north)
        Degrees, planetocentric east-positive; ``east < west`` or ``east > 180`` crosses
        180 E (``(177.8, -5, 182.2, 5)`` and ``(177.8, -5, -177.8, 5)`` are the same box).
    n : int
        Samples per edge (the box's outline and interior are projected).

    Raises
    ------
    ConfigError
        A latitude outside -90..90, south >= north, or a box the CRS cannot show.

    Examples
    --------
    >>> x0, y0, x1, y1 = lonlat_bounds_xy("farside_eqc", (177.8, -5.0, 182.2, 5.0))
    >>> round(x0), round(x1)
    (-66711, 66711)
    """
    west, south, east, north = (float(v) for v in bounds_lonlat)
    if not (-90.0 <= south < north <= 90.0):
        raise ConfigError(f"bounds: latitudes must satisfy -90 <= south < north <= 90, got {south}, {north}")
    if east <= west:
        east += 360.0
    if east - west > 360.0 + 1e-9:
        raise ConfigError(f"bounds: longitudes {west}..{east} span more than 360 degrees")
    lon, lat = np.meshgrid(np.linspace(west, east, n), np.linspace(south, north, n))
    grid = MapGrid.from_bounds(crs, (0.0, 0.0, 1.0, 1.0), 1.0)
    x, y = grid.lonlat_to_xy(((lon + 180.0) % 360.0) - 180.0, lat)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ConfigError(f"bounds: the box {bounds_lonlat} is not visible in CRS {grid.crs.name!r}")
    return float(x[ok].min()), float(y[ok].min()), float(x[ok].max()), float(y[ok].max())


def snap_to_grid(reference: MapGrid, bounds: BBox) -> MapGrid:
    """The smallest grid on ``reference``'s pixel lattice (same CRS, resolution and origin
    modulo whole pixels) covering ``bounds`` (CRS metres).

    Raises
    ------
    ConfigError
        The reference is rotated or its pixels are not square.

    Examples
    --------
    >>> ref = MapGrid.from_bounds("farside_eqc", (0.0, 0.0, 1000.0, 1000.0), 100.0)
    >>> g = snap_to_grid(ref, (-250.0, 420.0, 1230.0, 1510.0))
    >>> g.transform.c, g.transform.f, g.shape
    (-300.0, 1600.0, (12, 16))
    """
    t = reference.transform
    if t.b or t.d or not math.isclose(abs(t.a), abs(t.e), rel_tol=1e-9) or t.a <= 0 or t.e >= 0:
        raise ConfigError("--like: the existing map must be north-up with square pixels")
    res = t.a
    xmin, ymin, xmax, ymax = bounds
    c0 = math.floor((xmin - t.c) / res + 1e-9)
    c1 = math.ceil((xmax - t.c) / res - 1e-9)
    r0 = math.floor((t.f - ymax) / res + 1e-9)
    r1 = math.ceil((t.f - ymin) / res - 1e-9)
    origin = Affine(res, 0.0, t.c + c0 * res, 0.0, -res, t.f - r0 * res)
    return MapGrid(reference.crs_wkt, origin, (max(1, r1 - r0), max(1, c1 - c0)))


def output_grid(cameras: Sequence, params, *, like: MapGrid | None = None) -> MapGrid:
    """The output grid of a mosaic from its parameters (``MosaickingParams``).

    Precedence: ``like`` (the existing map's CRS, resolution and lattice; ``params.like``
    read by the caller with :func:`pipeline.io.grids.read_grid`) or the named ``params.grid``
    (its CRS, resolution and extent) or ``params.crs``; an explicit ``params.resolution_m``
    overrides the named grid's; an explicit ``params.bounds`` (CRS metres) or
    ``params.bounds_lonlat`` (degrees) overrides any extent; without any, the extent is the
    union of the frames' footprints.

    Raises
    ------
    ConfigError
        Both ``like`` and a named grid, or bounds the CRS cannot show.
    MosaicError
        From :func:`grid_for_frames` (no frame visible, absurd size).
    """
    crs, resolution, bounds = params.crs, params.resolution_m, params.bounds
    bounds_ll = getattr(params, "bounds_lonlat", None)
    if like is not None and params.grid:
        raise ConfigError("give mosaicking.grid or --like, not both")
    if like is not None:
        crs = like.crs
        if resolution is not None and not math.isclose(resolution, like.resolution, rel_tol=1e-9):
            raise ConfigError(f"--like fixes the resolution ({like.resolution} m); drop --resolution {resolution}")
        resolution = like.resolution
    elif params.grid:
        named = named_grid(params.grid)
        crs = named.crs
        resolution = resolution or named.resolution_m
        if bounds is None and bounds_ll is None:
            bounds, bounds_ll = named.bounds, named.bounds_lonlat
    crs = resolve_crs(crs)
    if bounds is None and bounds_ll is not None:
        bounds = lonlat_bounds_xy(crs, bounds_ll)
    if like is not None and bounds is not None:
        grid = snap_to_grid(like, bounds)
    else:
        grid = grid_for_frames(cameras, crs, resolution_m=resolution, bounds=bounds)
    if like is not None:
        grid = snap_to_grid(like, grid.bounds)  # the frames' extent, onto the existing lattice
        log.info("output grid snapped to the existing map's lattice: %d x %d (width x height)",
                 grid.shape[1], grid.shape[0])
    return grid
