"""The output map grid: one object holding CRS + affine transform + shape.

``MapGrid`` travels through the pipeline instead of ``(crs, transform, width, height)``
tuples (odc-geo's ``GeoBox``). Arrays on a grid are ``(row, col)``; the transform maps
``(col, row)`` of a pixel *corner* to projected ``(x, y)`` metres, so the centre of pixel
``(r, c)`` is at ``transform * (c + 0.5, r + 0.5)`` (GDAL's convention).

All CRSs are on the Moon (IAU 2015 codes or anything built on the Moon sphere); nothing
here ever transforms to an Earth CRS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from pipeline.errors import ConfigError

MOON_GEOGRAPHIC = "IAU_2015:30100"
"""Moon 2015 sphere, planetocentric, east-positive, R = 1 737 400 m."""

MOON_RADIUS_M = 1_737_400.0


CRS_PRESETS = {
    "farside_eqc": "IAU_2015:30115",
    "farside_ortho": "IAU_2015:30170",
    "north_polar": "IAU_2015:30130",
    "south_polar": "IAU_2015:30135",
}
"""Named output CRSs and the IAU 2015 codes they resolve to: equirectangular centred on
180 E (default), orthographic centred on (0 N, 180 E), north and south polar stereographic."""


def _identified(crs: CRS) -> CRS:
    """``crs`` itself, or the IAU 2015 CRS it is exactly equivalent to (so a hand-written
    PROJ string or WKT of a standard lunar CRS carries its authority code)."""
    if crs.to_authority(min_confidence=100):
        return crs
    try:
        candidates = crs.list_authority(auth_name="IAU_2015", min_confidence=25)
    except Exception:  # pragma: no cover - pyproj raises plain CRSError subclasses
        return crs
    for match in candidates:
        known = CRS.from_authority(match.auth_name, match.code)
        if known.equals(crs):
            return known
    return crs


def resolve_crs(spec: str | CRS) -> CRS:
    """Turn a preset name, IAU code, WKT or PROJ string into a lunar ``pyproj.CRS``.

    Presets resolve to their IAU 2015 codes (:data:`CRS_PRESETS`), and a WKT or PROJ
    string exactly equivalent to an IAU 2015 CRS resolves to that code, so the written
    GeoTIFF and STAC item carry it.

    Examples
    --------
    >>> resolve_crs("farside_eqc").to_authority()
    ('IAU_2015', '30115')
    >>> resolve_crs("+proj=ortho +lat_0=0 +lon_0=180 +R=1737400 +units=m").to_authority()
    ('IAU_2015', '30170')

    Raises
    ------
    ConfigError
        The CRS cannot be parsed or is not on the Moon.
    """
    if isinstance(spec, CRS):
        crs = spec
    elif spec in CRS_PRESETS:
        crs = CRS(CRS_PRESETS[spec])
    else:
        try:
            crs = _identified(CRS.from_user_input(spec))
        except Exception as exc:  # pyproj raises CRSError, a plain Exception subclass
            raise ConfigError(f"cannot parse CRS {spec!r}: {exc}") from exc
    ellipsoid = crs.ellipsoid
    if ellipsoid is None or not math.isclose(ellipsoid.semi_major_metre, MOON_RADIUS_M, rel_tol=2e-3):
        raise ConfigError(
            f"CRS {spec!r} is not on the Moon (semi-major axis "
            f"{getattr(ellipsoid, 'semi_major_metre', None)} m); use an IAU_2015:301xx code or a preset "
            f"({', '.join(CRS_PRESETS)})"
        )
    return crs


@dataclass(frozen=True)
class MapGrid:
    """A georeferenced raster grid.

    Attributes
    ----------
    crs_wkt : str
        WKT2 of the (lunar) CRS; kept as text so grids pickle cheaply.
    transform : Affine
        Pixel-corner ``(col, row)`` to CRS ``(x, y)`` in metres.
    shape : tuple of int
        ``(rows, cols)``.
    """

    crs_wkt: str
    transform: Affine
    shape: tuple[int, int]

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls, crs: str | CRS, bounds: tuple[float, float, float, float], resolution: float
    ) -> MapGrid:
        """Grid covering ``bounds = (xmin, ymin, xmax, ymax)`` (metres), north up.

        The origin is snapped outward to a whole multiple of ``resolution`` so grids of the
        same CRS and resolution are pixel-aligned.
        """
        if not resolution > 0:
            raise ConfigError(f"resolution must be positive, got {resolution}")
        crs = resolve_crs(crs)
        xmin, ymin, xmax, ymax = bounds
        x0 = math.floor(xmin / resolution) * resolution
        y0 = math.ceil(ymax / resolution) * resolution
        cols = max(1, math.ceil((xmax - x0) / resolution - 1e-9))
        rows = max(1, math.ceil((y0 - ymin) / resolution - 1e-9))
        return cls(crs.to_wkt(), Affine(resolution, 0.0, x0, 0.0, -resolution, y0), (rows, cols))

    # -- properties ---------------------------------------------------------------------
    @cached_property
    def crs(self) -> CRS:
        """The grid's CRS (parsed from ``crs_wkt``)."""
        return CRS.from_wkt(self.crs_wkt)

    @property
    def resolution(self) -> float:
        """Pixel size in metres (square pixels assumed)."""
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the grid's outer pixel edges, metres."""
        rows, cols = self.shape
        x0, y0 = self.transform * (0, 0)
        x1, y1 = self.transform * (cols, rows)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    @cached_property
    def _to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.crs, CRS(MOON_GEOGRAPHIC), always_xy=True)

    @cached_property
    def _from_lonlat(self) -> Transformer:
        return Transformer.from_crs(CRS(MOON_GEOGRAPHIC), self.crs, always_xy=True)

    def __getstate__(self):
        # cached transformers/CRS objects are rebuilt on the other side of a pickle
        return {"crs_wkt": self.crs_wkt, "transform": self.transform, "shape": self.shape}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)

    # -- coordinates --------------------------------------------------------------------
    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Projected ``(x, y)`` of every pixel centre, each an ndarray of shape ``(rows, cols)``."""
        rows, cols = self.shape
        t = self.transform
        c = np.arange(cols) + 0.5
        r = np.arange(rows) + 0.5
        x = t.c + t.a * c[None, :] + t.b * r[:, None]
        y = t.f + t.d * c[None, :] + t.e * r[:, None]
        return np.broadcast_to(x, self.shape), np.broadcast_to(y, self.shape)

    def xy_to_rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional ``(row, col)`` (pixel corner origin) of projected ``(x, y)``."""
        inv = ~self.transform
        col = inv.a * np.asarray(x) + inv.b * np.asarray(y) + inv.c
        row = inv.d * np.asarray(x) + inv.e * np.asarray(y) + inv.f
        return row, col

    def xy_to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Planetocentric east longitude (-180..180) and latitude, **degrees**. Off-map
        points of an azimuthal projection come back as ``inf``/``nan``."""
        lon, lat = self._to_lonlat.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def lonlat_to_xy(self, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
        """Projected ``(x, y)`` metres of planetocentric longitude/latitude in degrees."""
        x, y = self._from_lonlat.transform(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        return np.asarray(x), np.asarray(y)

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of every pixel centre, shape ``(rows, cols)``."""
        return self.xy_to_lonlat(*self.pixel_centres())

    # -- slicing and tiling -------------------------------------------------------------
    def __getitem__(self, roi: tuple[slice, slice]) -> MapGrid:
        """Sub-grid for ``(row_slice, col_slice)``; slices may extend past the edges."""
        rs, cs = roi
        r0 = rs.start or 0
        c0 = cs.start or 0
        r1 = self.shape[0] if rs.stop is None else rs.stop
        c1 = self.shape[1] if cs.stop is None else cs.stop
        if r1 <= r0 or c1 <= c0:
            raise ValueError(f"empty grid slice {roi}")
        return MapGrid(self.crs_wkt, self.transform * Affine.translation(c0, r0), (r1 - r0, c1 - c0))

    def coarsened(self, factor: float) -> MapGrid:
        """A copy of this grid with pixels ``factor`` (>= 1) times larger, covering the same extent from the
        same origin (e.g. for overlap statistics on a coarse grid)."""
        if not factor >= 1:
            raise ConfigError(f"coarse grid factor must be >= 1, got {factor}")
        rows = max(1, math.ceil(self.shape[0] / factor))
        cols = max(1, math.ceil(self.shape[1] / factor))
        return MapGrid(self.crs_wkt, self.transform @ Affine.scale(factor), (rows, cols))

    def window(self, boxes) -> tuple[slice, slice] | None:
        """Row/col slices of this grid covering the union of map ``boxes`` ``(xmin, ymin, xmax,
        ymax)`` (clipped to the grid), or None when they miss it."""
        rows, cols = self.shape
        r_lo, c_lo, r_hi, c_hi = rows, cols, 0, 0
        for x0, y0, x1, y1 in boxes:
            ra, ca = self.xy_to_rowcol(np.array([x0, x1]), np.array([y1, y0]))
            r_lo = min(r_lo, max(0, math.floor(float(ra.min()))))
            r_hi = max(r_hi, min(rows, math.ceil(float(ra.max()))))
            c_lo = min(c_lo, max(0, math.floor(float(ca.min()))))
            c_hi = max(c_hi, min(cols, math.ceil(float(ca.max()))))
        if r_hi <= r_lo or c_hi <= c_lo:
            return None
        return slice(r_lo, r_hi), slice(c_lo, c_hi)

    def tiles(self, size: int, halo: int = 0) -> list[Tile]:
        """Split into ``size`` x ``size`` tiles (row-major), each with a ``halo``-pixel margin."""
        rows, cols = self.shape
        out = []
        for r0 in range(0, rows, size):
            for c0 in range(0, cols, size):
                r1, c1 = min(r0 + size, rows), min(c0 + size, cols)
                out.append(
                    Tile(
                        index=(r0 // size, c0 // size),
                        core=(slice(r0, r1), slice(c0, c1)),
                        outer=(slice(r0 - halo, r1 + halo), slice(c0 - halo, c1 + halo)),
                    )
                )
        return out


@dataclass(frozen=True)
class Tile:
    """A tile of a :class:`MapGrid`.

    ``core`` is the part of the output the tile owns; ``outer`` adds the halo (may extend
    beyond the grid). ``grid[tile.outer]`` is the grid to compute on; the core sits at
    ``[halo:halo+core_rows, halo:halo+core_cols]`` of it.
    """

    index: tuple[int, int]
    core: tuple[slice, slice]
    outer: tuple[slice, slice]

    @property
    def inner(self) -> tuple[slice, slice]:
        """Where the core sits inside the outer array."""
        (cr, cc), (orr, oc) = self.core, self.outer
        return (
            slice(cr.start - orr.start, cr.stop - orr.start),
            slice(cc.start - oc.start, cc.stop - oc.start),
        )
