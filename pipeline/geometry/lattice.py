"""Image coordinates of a map tile's pixels from a coarse lattice of exact projections.

Projecting every output pixel through a camera (map -> lon/lat -> body-fixed -> image) is most
of what orthorectification costs, yet on the reference sphere the map -> image mapping is
smooth: :func:`lattice_coordinates` projects only the pixel centres of every ``step``-th row
and column **of the whole output grid** and fills in between bilinearly, as GDAL's
approximate transformer and this package's cross-check (:mod:`pipeline.crosschecking`) do.

Conventions
-----------
- Image coordinates are CSM's (first pixel centre at ``(0.5, 0.5)``), as
  :func:`pipeline.geometry.warp.image_coordinates` returns them.
- Lattice nodes sit on the whole grid's rows and columns that are multiples of ``step``,
  whatever the tile: a pixel gets the same value from any tile that holds it (mosaics stay
  tile-invariant), given the tile's ``origin`` (its first row and column in the whole grid).
- Accuracy: the interpolation error of a smooth map grows with ``step`` squared. At
  ``step = 8`` on the simulator's wide-angle frame camera (51 deg field, radial distortion)
  over the sphere it is 0.001 px at nadir, 0.005 px tilted by 5 deg and 0.03 px at 35-45 deg
  off nadir, below the 1/32 px to which ``cv2.remap`` quantises source positions anyway
  (``tests/geometry/test_lattice.py``). Through a DEM the map bends at the DEM's scale, so
  callers project every pixel there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from pipeline.geometry.body import MOON_RADII_M
from pipeline.geometry.interpolate import interp_grid
from pipeline.geometry.warp import GroundGrid, image_coordinates

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.cameras.protocol import Camera
    from pipeline.geometry.grid import MapGrid

__all__ = ["GroundLattice", "lattice_coordinates"]


def _nodes(first: int, count: int, step: int) -> np.ndarray:
    """Local indices of the whole grid's multiples of ``step`` that bracket ``count`` pixels
    starting at whole-grid index ``first``."""
    lo = math.floor(first / step) * step
    hi = math.ceil((first + count - 1) / step) * step
    return np.arange(lo, hi + 1, step, dtype=np.float64) - first


class GroundLattice:
    """Ground points of a tile's lattice nodes (every ``step``-th row and column of the whole grid).

    Parameters
    ----------
    grid : MapGrid
        The tile's grid (e.g. ``whole[tile.outer]``).
    origin : (int, int)
        Whole-grid row and column of ``grid``'s first pixel (may be negative: a halo past the
        edge).
    step : int
        Node spacing, output pixels (>= 2).
    radii : (a, b)
        Reference ellipsoid, metres.
    """

    def __init__(self, grid: MapGrid, origin: tuple[int, int], step: int = 8, *,
                 radii: tuple[float, float] = MOON_RADII_M):
        if step < 2:
            raise ValueError(f"lattice step must be >= 2 pixels, got {step}")
        rows, cols = grid.shape
        self.shape = (rows, cols)
        self.rows = _nodes(int(origin[0]), rows, step)
        self.cols = _nodes(int(origin[1]), cols, step)
        t = grid.transform
        c = self.cols[None, :] + 0.5
        r = self.rows[:, None] + 0.5
        lon, lat = grid.xy_to_lonlat(t.c + t.a * c + t.b * r, t.f + t.d * c + t.e * r)
        self.ground = GroundGrid.from_lonlat(lon, lat, radii=radii)


def lattice_coordinates(camera: Camera, lattice: GroundLattice) -> tuple[np.ndarray, np.ndarray] | None:
    """Image ``(line, sample)`` of every pixel of the lattice's tile, interpolated between nodes.

    Returns None for a push-frame camera (its map jumps at framelet boundaries, so it cannot be
    interpolated: :class:`pipeline.registration.pairmap.ExactPairMap` says the same) and when a
    node is off the body or not seen by ``camera`` (behind it, or at emission >= 90 deg): the
    interpolation would be wrong next to it. The caller then projects every pixel instead
    (:func:`pipeline.geometry.warp.image_coordinates`).

    Examples
    --------
    >>> from pipeline.geometry.grid import MapGrid
    >>> from pipeline.geometry.cameras import FrameCamera
    >>> from pipeline.geometry.warp import GroundGrid
    >>> down = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]  # camera +z = body +x: nadir at 180 E
    >>> cam = FrameCamera.build(lines=64, samples=64, focal_length_mm=100.0, pixel_pitch_mm=0.18,
    ...                         position_m=(-1_837_400.0, 0.0, 0.0), cam_to_body=down)
    >>> grid = MapGrid.from_bounds("farside_eqc", (-6000, -6000, 6000, 6000), 200.0)
    >>> line, sample = lattice_coordinates(cam, GroundLattice(grid, (0, 0), 8, radii=cam.radii_m))
    >>> exact, _ = image_coordinates(cam, GroundGrid.from_grid(grid, radii=cam.radii_m))
    >>> bool(np.nanmax(np.abs(line - exact)) < 1e-3)
    True
    """
    if getattr(camera, "kind", "") == "push-frame":
        return None
    line, sample = image_coordinates(camera, lattice.ground)
    if not (np.isfinite(line).all() and np.isfinite(sample).all()):
        return None
    rows, cols = (np.arange(n, dtype=np.float64) for n in lattice.shape)
    return (interp_grid(line, lattice.rows, lattice.cols, rows, cols),
            interp_grid(sample, lattice.rows, lattice.cols, rows, cols))
