"""Digital elevation model for ray/terrain intersection (pure numpy + rasterio/pyproj).

A :class:`Dem` holds a height (or radius) raster on any lunar CRS and answers, for
planetocentric lon/lat in radians, the height above its datum sphere (``height_m``) or
the distance from the Moon's centre (``radius_m``) by bilinear interpolation; points
outside the raster or on nodata give NaN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from scipy import ndimage

from pipeline.errors import BadFrame, ConfigError
from pipeline.geometry.demread import cylindrical_period_m, read_dem_band
from pipeline.geometry.grid import MOON_GEOGRAPHIC, MapGrid, resolve_crs

log = logging.getLogger(__name__)

__all__ = ["Dem"]


@dataclass(frozen=True, eq=False)
class Dem:
    """A lunar DEM.

    Attributes
    ----------
    values : ndarray of shape (rows, cols), float64
        Heights above ``datum_radius_m`` in metres (NaN = no data).
    transform : Affine
        Pixel-corner ``(col, row)`` to CRS ``(x, y)`` (GDAL convention; pixel centres at +0.5).
    crs_wkt : str
        WKT of the (lunar) CRS of the raster.
    datum_radius_m : float
        Radius of the height datum (the CRS's semi-major axis unless given).
    """

    values: np.ndarray
    transform: Affine
    crs_wkt: str
    datum_radius_m: float
    path: Path | None = field(default=None)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, *, band: int = 1, is_radius: bool | None = None) -> Dem:
        """Read a GeoTIFF, an ISIS cube (ISIS3 or ISIS2) or any GDAL raster DEM in a lunar CRS.

        The band's scale and offset are applied (an ISIS cube's ``Base`` and ``Multiplier``)
        and nodata and ISIS special pixels become NaN
        (:func:`~pipeline.geometry.demread.read_dem_band`).

        Parameters
        ----------
        band : int
            1-based band to read.
        is_radius : bool, optional
            True if the values are radii from the Moon's centre (ISIS shape models),
            False for heights above the datum; None: radii if the median exceeds 1e6 m.

        Raises
        ------
        BadFrame
            Unreadable file, or a CRS that is missing or not lunar.
        """
        path = Path(path)
        try:
            values, transform, crs_wkt, _ = read_dem_band(path, band)
        except (rasterio.errors.RasterioError, OSError, IndexError) as exc:
            raise BadFrame(path, f"cannot read DEM: {exc}") from None
        if not crs_wkt:
            raise BadFrame(
                path, "DEM has no CRS; assign a lunar CRS (e.g. IAU_2015:30100) with gdal_edit.py -a_srs"
            )
        try:
            pcrs = resolve_crs(CRS.from_wkt(crs_wkt))
        except ConfigError as exc:
            raise BadFrame(path, f"DEM CRS is not lunar: {exc}") from None
        return cls.from_array(values, transform, pcrs, is_radius=is_radius, path=path)

    @classmethod
    def from_array(
        cls,
        values,
        transform: Affine,
        crs: str | CRS = MOON_GEOGRAPHIC,
        *,
        is_radius: bool | None = False,
        datum_radius_m: float | None = None,
        path: Path | None = None,
    ) -> Dem:
        """DEM from an array of heights (m) on a grid (``transform`` + lunar ``crs``)."""
        crs = resolve_crs(crs)
        datum = float(datum_radius_m if datum_radius_m is not None else crs.ellipsoid.semi_major_metre)
        vals = np.array(values, dtype=float)
        if vals.ndim != 2:
            raise ValueError(f"DEM values must be 2-D, got shape {vals.shape}")
        if is_radius is None:
            med = np.nanmedian(vals) if np.isfinite(vals).any() else 0.0
            is_radius = bool(med > 1e6)
            if is_radius:
                log.info("DEM %s holds radii (median %.0f m); converting to heights", path, med)
        if is_radius:
            vals = vals - datum
        return cls(vals, transform, crs.to_wkt(), datum, path)

    @classmethod
    def from_grid(cls, values, grid: MapGrid, **kw) -> Dem:
        """DEM of heights (m) on a :class:`MapGrid`."""
        return cls.from_array(values, grid.transform, grid.crs, **kw)

    # -- queries --------------------------------------------------------------------------
    @cached_property
    def _crs(self) -> CRS:
        return CRS.from_wkt(self.crs_wkt)

    @cached_property
    def _to_dem(self) -> Transformer | None:
        if self._crs.is_geographic:
            return None
        return Transformer.from_crs(CRS(MOON_GEOGRAPHIC), self._crs, always_xy=True)

    def _xy(self, lon_rad, lat_rad) -> tuple[np.ndarray, np.ndarray]:
        lon = np.degrees(np.asarray(lon_rad, dtype=float))
        lat = np.degrees(np.asarray(lat_rad, dtype=float))
        if self._to_dem is None:
            # geographic raster: wrap longitudes into the raster's span [x0, x0 + 360)
            x0 = min(self.transform.c, self.transform.c + self.transform.a * self.values.shape[1])
            return np.mod(lon - x0, 360.0) + x0, lat
        x, y = self._to_dem.transform(lon, lat)
        x = np.asarray(x)
        if self._period_m is not None:  # a cylindrical map (e.g. 0..360 deg): wrap x into its span
            x0 = min(self.transform.c, self.transform.c + self.transform.a * self.values.shape[1])
            x = np.mod(x - x0, self._period_m) + x0
        return x, np.asarray(y)

    @cached_property
    def _period_m(self) -> float | None:
        return cylindrical_period_m(self._crs)

    @cached_property
    def post_m(self) -> float:
        """North-south spacing of the posts (m): the raster's row step in metres, for a
        geographic raster its degrees on the datum sphere.

        >>> dem = Dem.from_array(np.zeros((4, 4)), Affine(0.01, 0, 150.0, 0, -0.01, 5.0))
        >>> round(dem.post_m, 1)
        303.2
        """
        axes = self._crs.axis_info
        unit = axes[0].unit_conversion_factor if axes else 1.0  # metres, or radians per degree
        return abs(self.transform.e) * unit * (self.datum_radius_m if self._crs.is_geographic else 1.0)

    def height_m(self, lon_rad, lat_rad) -> np.ndarray:
        """Height (m) above ``datum_radius_m`` at planetocentric lon/lat (radians), bilinear
        between pixel centres; NaN outside the raster or next to nodata."""
        x, y = self._xy(lon_rad, lat_rad)
        inv = ~self.transform
        col = inv.a * x + inv.b * y + inv.c - 0.5
        row = inv.d * x + inv.e * y + inv.f - 0.5
        rows, cols = self.values.shape
        # clamp to the outermost pixel centres within half a pixel of the edge
        inside = (row >= -0.5) & (row <= rows - 0.5) & (col >= -0.5) & (col <= cols - 0.5)
        coords = [np.clip(row, 0.0, rows - 1.0).ravel(), np.clip(col, 0.0, cols - 1.0).ravel()]
        out = ndimage.map_coordinates(self.values, coords, output=np.float64, order=1, mode="nearest",
                                      prefilter=False).reshape(np.shape(row))
        return np.where(inside, out, np.nan)

    def radius_m(self, lon_rad, lat_rad) -> np.ndarray:
        """Distance (m) from the Moon's centre to the terrain at lon/lat (radians)."""
        return self.datum_radius_m + self.height_m(lon_rad, lat_rad)
