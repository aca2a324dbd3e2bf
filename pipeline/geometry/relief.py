"""A relief model from adjusted 3-D tie points: robust, smooth heights on a coarse grid.

The bundle adjustment's free tie points (``registration.points: free``) carry the relief
the frames saw: each has a radius, known to a precision set by how far apart its rays
are. :func:`relief_model` turns them into a :class:`ReliefModel`, heights above the datum
sphere on a grid of posts over the mosaic, by regularised least squares (the gridding of
GMT ``surface`` or D'Errico's ``gridfit``):

- every point ``i`` asks the bilinear interpolation of the posts at its position to equal
  its height ``h_i``, with weight ``1 / (sigma_i^2 + tau^2)``: ``sigma_i`` the point's own
  precision, ``tau`` the terrain the posts cannot follow (estimated from the residuals);
- neighbouring posts keep their slope: every second difference (along rows, columns and
  the mixed one) has sigma ``post_m * tan(slope_change_deg)``;
- every post is drawn towards the prior, the base surface (the sphere or a supplied coarse
  DEM) plus the network's common offset from it (the median of ``h_i - base``: the adjusted
  cameras and points share one vertical datum, which the mosaic must follow), with sigma
  ``prior_sigma_m``; it decides where there are no points;
- iteratively reweighted (Cauchy weights on the normalised residuals); points more than
  ``outlier_sigmas`` robust sigmas off the surface are left out at the end.

The posts' heights are a :class:`~pipeline.geometry.dem.Dem` (``ReliefModel.dem``), so every
code path that takes a DEM (ray/terrain intersection, orthorectification, the photometric
and cross-frame steps) uses the model as it is.

Conventions: lon/lat radians inside, heights in metres above ``datum_radius_m`` along the
radius; grids are (row, col) with pixel centres at +0.5.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from affine import Affine
from scipy.ndimage import uniform_filter
from scipy.sparse.linalg import spsolve

from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MOON_RADIUS_M, MapGrid

log = logging.getLogger(__name__)

__all__ = ["ReliefModel", "post_grid", "relief_model"]

_CAUCHY_C = 2.385  # Cauchy constant for 95 % efficiency on Gaussian residuals
_MIN_POST_PX = 2.0  # posts are at least this many mosaic pixels apart


@dataclass(frozen=True, eq=False)  # holds arrays
class ReliefModel:
    """Heights of the terrain on a grid of posts, and what built them.

    Attributes
    ----------
    heights_m : ndarray of float64, shape (rows, cols)
        Height above ``datum_radius_m`` at each post centre, metres (finite everywhere).
    points : ndarray of float32, shape (rows, cols)
        Tie points (inliers) in each post's cell: the model's point density.
    transform : tuple of 6 float
        The posts' affine transform ``(a, b, c, d, e, f)`` (pixel corner to CRS metres).
    crs_wkt : str
        CRS of the posts (the mosaic's).
    datum_radius_m : float
        Radius of the height datum (the reference sphere), metres.
    n_points : int
        Tie points that built the model (inliers).
    n_outliers : int
        Points left out as more than ``outlier_sigmas`` robust sigmas off the surface.
    scatter_m : float
        Robust RMS (1.4826 MAD) of the inliers' heights about the model, metres.
    terrain_sigma_m : float
        ``tau``: the scatter the posts cannot follow (beyond the points' own precision).
    dense_fraction : float
        Fraction of the posts within the mosaic that have at least ``min_points`` points
        in their 3 x 3 neighbourhood ("where tie points are dense").
    offset_m : float
        Median height of the points above the base surface (the prior's offset), metres.
    base : str
        ``"sphere"`` or the path of the coarse DEM the prior follows.
    post_m : float
        Post spacing, metres.
    min_points : int
        Points per 3 x 3 posts that count as dense.
    level_sigma_m : float
        Posterior sigma of the points' common level (m; the adjustment's ``level_sigma_m``):
        every height may be off by about this much together; NaN: not known.
    """

    heights_m: np.ndarray
    points: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs_wkt: str
    datum_radius_m: float
    n_points: int = 0
    n_outliers: int = 0
    scatter_m: float = math.nan
    terrain_sigma_m: float = math.nan
    dense_fraction: float = 0.0
    offset_m: float = 0.0
    base: str = "sphere"
    post_m: float = math.nan
    min_points: int = 3
    level_sigma_m: float = math.nan

    @property
    def is_sphere(self) -> bool:
        """No tie point and the sphere as base: the model is the reference sphere exactly
        (heights 0), and orthorectification takes the sphere itself."""
        return self.n_points == 0 and self.base == "sphere"

    @property
    def grid(self) -> MapGrid:
        """The posts as a :class:`MapGrid`."""
        return MapGrid(self.crs_wkt, Affine(*self.transform), tuple(self.heights_m.shape))

    @cached_property
    def dem(self) -> Dem:
        """The heights as a :class:`~pipeline.geometry.dem.Dem` (bilinear between posts)."""
        return Dem.from_grid(self.heights_m, self.grid, datum_radius_m=self.datum_radius_m)

    @property
    def dense(self) -> np.ndarray:
        """Posts with at least ``min_points`` points in their 3 x 3 neighbourhood (bool)."""
        return _dense(self.points, self.min_points)

    def height_m(self, lon_rad, lat_rad) -> np.ndarray:
        """Height (m) above the datum at lon/lat (radians): :meth:`Dem.height_m`."""
        return self.dem.height_m(lon_rad, lat_rad)

    def radius_m(self, lon_rad, lat_rad) -> np.ndarray:
        """Distance (m) from the Moon's centre to the model at lon/lat (radians)."""
        return self.dem.radius_m(lon_rad, lat_rad)

    def summary(self) -> dict:
        """Plain numbers for the run summary and the report."""
        return {"points": int(self.n_points), "outliers": int(self.n_outliers), "scatter_m": float(self.scatter_m),
                "terrain_sigma_m": float(self.terrain_sigma_m), "dense_fraction": float(self.dense_fraction),
                "offset_m": float(self.offset_m), "base": self.base, "sphere": self.is_sphere,
                "post_m": float(self.post_m),
                "min_points": int(self.min_points), "level_sigma_m": float(self.level_sigma_m),
                "shape": tuple(int(n) for n in self.heights_m.shape),
                "height_range_m": (float(np.min(self.heights_m)), float(np.max(self.heights_m)))}


def _dense(points: np.ndarray, min_points: int) -> np.ndarray:
    near = uniform_filter(np.asarray(points, float), size=3, mode="constant") * 9.0
    return near >= min_points - 1e-9


def post_grid(grid: MapGrid, post_m: float, *, margin_posts: int = 2) -> MapGrid:
    """Posts every ``post_m`` metres covering ``grid`` plus ``margin_posts`` on every side
    (so the bilinear model is defined over the whole mosaic and its tiles' halos).

    >>> g = MapGrid.from_bounds("IAU_2015:30100", (0.0, 0.0, 1.0, 1.0), 0.01)
    >>> p = post_grid(MapGrid(g.crs_wkt, Affine(100.0, 0, 0, 0, -100.0, 1000.0), (10, 10)), 250.0)
    >>> p.shape, p.transform.c, p.transform.f
    ((8, 8), -500.0, 1500.0)
    """
    xmin, ymin, xmax, ymax = grid.bounds
    pad = margin_posts * post_m
    return MapGrid.from_bounds(grid.crs, (xmin - pad, ymin - pad, xmax + pad, ymax + pad), post_m)


def _auto_post_m(grid: MapGrid, n_points: int) -> float:
    """About one point per post over the mosaic's extent, never finer than two mosaic pixels."""
    rows, cols = grid.shape
    area = rows * cols * grid.resolution**2
    spacing = math.sqrt(area / max(n_points, 1))
    return max(spacing, _MIN_POST_PX * grid.resolution)


def _second_differences(rows: int, cols: int) -> sp.csr_matrix:
    """Stacked second differences of a (rows, cols) field: along columns, rows and mixed."""

    def d2(n):
        if n < 3:
            return sp.csr_matrix((0, n))
        return sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))

    def d1(n):
        if n < 2:
            return sp.csr_matrix((0, n))
        return sp.diags([-1.0, 1.0], [0, 1], shape=(n - 1, n))

    ir, ic = sp.identity(rows), sp.identity(cols)
    return sp.vstack([sp.kron(ir, d2(cols)), sp.kron(d2(rows), ic),
                      math.sqrt(2.0) * sp.kron(d1(rows), d1(cols))]).tocsr()


def _bilinear_rows(row: np.ndarray, col: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """The (n, rows * cols) matrix of bilinear interpolation between post centres at
    fractional pixel-corner coordinates ``(row, col)`` (clamped to the outer posts)."""
    rows, cols = shape
    r = np.clip(row - 0.5, 0.0, rows - 1.0)
    c = np.clip(col - 0.5, 0.0, cols - 1.0)
    r0 = np.clip(np.floor(r).astype(int), 0, max(rows - 2, 0))
    c0 = np.clip(np.floor(c).astype(int), 0, max(cols - 2, 0))
    r1, c1 = np.minimum(r0 + 1, rows - 1), np.minimum(c0 + 1, cols - 1)
    fr, fc = r - r0, c - c0
    n = len(row)
    idx = np.repeat(np.arange(n), 4)
    post = np.stack([r0 * cols + c0, r0 * cols + c1, r1 * cols + c0, r1 * cols + c1], axis=1).ravel()
    w = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], axis=1).ravel()
    return sp.csr_matrix((w, (idx, post)), shape=(n, rows * cols))


def _robust_sigma(u: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(u))) if len(u) else math.nan


def relief_model(lon_rad, lat_rad, height_m, sigma_m, grid: MapGrid, *, post_m: float | None = None,
                 slope_change_deg: float = 5.0, prior_sigma_m: float = 3000.0, base: Dem | None = None,
                 datum_radius_m: float = MOON_RADIUS_M, min_points: int = 3, outlier_sigmas: float = 4.0,
                 iterations: int = 5) -> ReliefModel:
    """Fit a :class:`ReliefModel` to tie points (module docstring).

    Parameters
    ----------
    lon_rad, lat_rad : array_like (n,)
        Planetocentric east longitude and latitude of the adjusted points, radians.
    height_m : array_like (n,)
        Their heights above ``datum_radius_m``, metres (point radius minus the datum).
    sigma_m : array_like (n,) or float
        Each point's radius precision from its rays (m; ``inf`` leaves it out).
    grid : MapGrid
        The mosaic grid the model must cover (its CRS is the posts').
    post_m : float, optional
        Post spacing (m); default about one point per post over the mosaic's extent, at
        least two mosaic pixels.
    slope_change_deg : float
        How much the slope may change from one post to the next (sigma, degrees).
    prior_sigma_m : float
        Sigma of every post about the base surface plus the network's offset (m).
    base : Dem, optional
        Coarse DEM the prior follows (default the sphere of ``datum_radius_m``).
    datum_radius_m : float
        Radius of the height datum, metres.
    min_points : int
        Points in a 3 x 3 block of posts that count as dense (``ReliefModel.dense``).
    outlier_sigmas : float
        Points farther than this many robust sigmas from the surface are left out.
    iterations : int
        Reweighting iterations (0: plain weighted least squares, no outlier rejection).

    Returns
    -------
    ReliefModel

    Examples
    --------
    Points on a tilted plane (1 m of height per 10 m east) are recovered exactly:

    >>> grid = MapGrid.from_bounds("farside_eqc", (-5000.0, -5000.0, 5000.0, 5000.0), 100.0)
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.uniform(-5000, 5000, (2, 400))
    >>> lon, lat = (np.radians(v) for v in grid.xy_to_lonlat(x, y))
    >>> m = relief_model(lon, lat, 0.1 * x, 1.0, grid, post_m=500.0)
    >>> m.n_points, m.heights_m.shape
    (400, (24, 24))
    >>> px, py = 1234.0, -2345.0
    >>> round(float(m.height_m(*np.radians(grid.xy_to_lonlat(px, py)))), 1)
    123.4
    """
    lon = np.asarray(lon_rad, float).ravel()
    lat = np.asarray(lat_rad, float).ravel()
    h = np.asarray(height_m, float).ravel()
    s = np.broadcast_to(np.asarray(sigma_m, float), h.shape).astype(float)
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(h) & np.isfinite(s) & (s > 0)
    lon, lat, h, s = lon[ok], lat[ok], h[ok], s[ok]
    step = float(post_m) if post_m else _auto_post_m(grid, len(h))
    posts = post_grid(grid, step)
    rows, cols = posts.shape
    x, y = grid.lonlat_to_xy(np.degrees(lon), np.degrees(lat))
    prow, pcol = posts.xy_to_rowcol(x, y)
    inside = np.isfinite(prow) & np.isfinite(pcol) & (prow >= 0) & (prow <= rows) & (pcol >= 0) & (pcol <= cols)
    prow, pcol, h, s, lon, lat = prow[inside], pcol[inside], h[inside], s[inside], lon[inside], lat[inside]

    base_posts, base_at, label = _base(posts, base, datum_radius_m, lon, lat)
    n = len(h)
    offset = float(np.median(h - base_at)) if n >= min_points else 0.0
    prior = base_posts + offset
    counts = np.zeros((rows, cols), np.float32)
    if n < min_points:
        log.info("relief model: %d tie points (< %d): the prior (%s) alone", n, min_points, label)
        return ReliefModel(prior, counts, tuple(posts.transform)[:6], posts.crs_wkt, float(datum_radius_m), 0, 0,
                           math.nan, math.nan, 0.0, offset, label, step, min_points)

    b = _bilinear_rows(prow, pcol, (rows, cols))
    d = _second_differences(rows, cols)
    smooth = d.T @ d / (step * math.tan(math.radians(slope_change_deg))) ** 2
    reg = (smooth + sp.identity(rows * cols) / prior_sigma_m**2).tocsc()
    rhs_prior = prior.ravel() / prior_sigma_m**2
    w_robust = np.ones(n)
    keep = np.ones(n, bool)
    tau = float(np.median(s))

    def solve():
        w = np.where(keep, w_robust / (s**2 + tau**2), 0.0)
        bw = b.T.multiply(w).tocsr()
        return spsolve((reg + bw @ b).tocsc(), rhs_prior + bw @ h)

    for _ in range(iterations):
        z = solve()
        r = b @ z - h
        # the terrain the posts cannot follow: what the residuals hold beyond the points' precision
        tau = math.sqrt(max(_robust_sigma(r) ** 2 - float(np.median(s)) ** 2, 1.0))
        u = r / np.sqrt(s**2 + tau**2)
        scale = max(_robust_sigma(u), 1.0)  # never tighter than the points' stated precision
        w_robust = 1.0 / (1.0 + (u / (_CAUCHY_C * scale)) ** 2)
    if iterations:
        keep = np.abs(u) <= outlier_sigmas * scale
    z = solve()
    heights = z.reshape(rows, cols)
    resid = (b @ z - h)[keep]
    r_idx = np.clip(np.floor(prow[keep]).astype(int), 0, rows - 1)
    c_idx = np.clip(np.floor(pcol[keep]).astype(int), 0, cols - 1)
    np.add.at(counts, (r_idx, c_idx), 1.0)
    dense = _dense(counts, min_points)
    inner = _inner(posts, grid)
    model = ReliefModel(heights, counts, tuple(posts.transform)[:6], posts.crs_wkt, float(datum_radius_m),
                        int(keep.sum()), int(n - keep.sum()), _robust_sigma(resid), tau,
                        float(dense[inner].mean()) if inner.any() else 0.0, offset, label, step, min_points)
    log.info("relief model: %d tie points (%d outliers), scatter %.0f m, %d x %d posts at %.0f m, dense over "
             "%.0f %% of the mosaic, heights %.0f..%.0f m", model.n_points, model.n_outliers, model.scatter_m,
             cols, rows, step, 100 * model.dense_fraction, heights.min(), heights.max())
    return model


def _base(posts: MapGrid, base: Dem | None, datum: float, lon, lat):
    """The base surface's heights above ``datum`` at the posts and at the points."""
    if base is None:
        return np.zeros(posts.shape), np.zeros(len(lon)), "sphere"
    plon, plat = (np.radians(v) for v in posts.lonlat())
    at_posts = np.asarray(base.radius_m(plon, plat), float) - datum
    at_points = np.asarray(base.radius_m(lon, lat), float) - datum
    return (np.where(np.isfinite(at_posts), at_posts, 0.0), np.where(np.isfinite(at_points), at_points, 0.0),
            str(base.path) if base.path is not None else "DEM")


def _inner(posts: MapGrid, grid: MapGrid) -> np.ndarray:
    """Posts whose centres lie inside ``grid`` (the mosaic, without the margin)."""
    xmin, ymin, xmax, ymax = grid.bounds
    x, y = posts.pixel_centres()
    return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
