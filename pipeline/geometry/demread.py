"""Reading DEM rasters of any kind GDAL opens: GeoTIFFs and ISIS cubes (ISIS3 and ISIS2).

An ISIS cube DEM (a shape model such as the global GLD100 + LOLA one) stores radii (or
heights) as scaled integers: ``value = Base + Multiplier * DN`` (GDAL's band offset and
scale), with ISIS's special pixels (``NULL``, ``LRS``, ``LIS``, ``HIS``, ``HRS``) at the ends
of the integer range or below -3.4e38 for real cubes. :func:`read_dem_band` applies the
scaling and turns every special pixel (and the band's nodata) into NaN; GeoTIFFs are read
the same way (their scale and offset are usually 1 and 0).

:func:`cylindrical_period_m` gives the east-west period of a cylindrical map projection
(equirectangular, Mercator), so a global map in 0..360 degrees answers for longitudes given
in -180..180 (:meth:`pipeline.geometry.dem.Dem.height_m`).
"""

from __future__ import annotations

import math

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Transformer

from pipeline.geometry.grid import MOON_GEOGRAPHIC

__all__ = ["ISIS_DRIVERS", "cylindrical_period_m", "isis_special", "read_dem_band"]

ISIS_DRIVERS = ("ISIS3", "ISIS2")
"""GDAL drivers of ISIS cubes."""

_CYLINDRICAL = ("equidistant cylindrical", "equirectangular", "plate carree", "mercator", "cylindrical equal area")
_SPECIAL_INT = {"uint8": (0, 0, 255, 255), "int16": (-32768, -32764, 32767, 32767),
                "uint16": (0, 2, 65534, 65535), "int32": (-(2**31), -(2**31) + 4, 2**31 - 1, 2**31 - 1)}
"""Raw ranges of ISIS special pixels per pixel type: (low first, low last, high first, high last)."""
_SPECIAL_REAL = -3.40282e38  # every 32-bit real ISIS special pixel is at or below this


def isis_special(raw: np.ndarray) -> np.ndarray:
    """Where the raw DNs of an ISIS cube are special pixels (``NULL``, ``LRS``, ``LIS``, ``HIS``,
    ``HRS``).

    >>> isis_special(np.array([-32768, -32764, -32763, 0, 32767], np.int16)).tolist()
    [True, True, False, False, True]
    >>> isis_special(np.array([-3.4028226550889045e38, 1.0], np.float32)).tolist()
    [True, False]
    """
    raw = np.asarray(raw)
    if raw.dtype.kind == "f":
        return ~np.isfinite(raw) | (raw <= _SPECIAL_REAL)
    lo0, lo1, hi0, hi1 = _SPECIAL_INT.get(raw.dtype.name, (None, None, None, None))
    if lo0 is None:
        return np.zeros(raw.shape, bool)
    return ((raw >= lo0) & (raw <= lo1)) | ((raw >= hi0) & (raw <= hi1))


def read_dem_band(path, band: int = 1) -> tuple[np.ndarray, Affine, str, str]:
    """``(values, transform, crs_wkt, driver)`` of one band of a DEM raster.

    ``values`` are float64 with the band's scale and offset applied (ISIS ``Base`` and
    ``Multiplier``), NaN at nodata and ISIS special pixels. ``crs_wkt`` is empty when the
    file has no CRS.

    Raises
    ------
    rasterio.errors.RasterioError, OSError
        The file cannot be read (the caller names it).
    """
    with rasterio.open(path) as ds:
        raw = ds.read(band)
        nodata = ds.nodatavals[band - 1]
        scale = ds.scales[band - 1] if ds.scales else 1.0
        offset = ds.offsets[band - 1] if ds.offsets else 0.0
        transform, driver = ds.transform, ds.driver
        crs_wkt = ds.crs.to_wkt() if ds.crs is not None else ""
    bad = np.zeros(raw.shape, bool)
    if nodata is not None:
        bad |= np.isnan(raw) if math.isnan(nodata) else (raw == nodata)
    if driver in ISIS_DRIVERS:
        bad |= isis_special(raw)
    values = raw.astype(float) * float(scale if scale is not None else 1.0) + float(offset or 0.0)
    values[bad | ~np.isfinite(values)] = np.nan
    return values, transform, crs_wkt, driver


def cylindrical_period_m(crs: CRS) -> float | None:
    """East-west period (m) of a cylindrical projection (x after 360 degrees of longitude);
    None for other projections and geographic CRSs.

    >>> from pipeline.geometry.grid import resolve_crs
    >>> round(cylindrical_period_m(resolve_crs("farside_eqc")))
    10916406
    >>> cylindrical_period_m(resolve_crs("farside_ortho")) is None
    True
    """
    if crs.is_geographic or crs.coordinate_operation is None:
        return None
    method = crs.coordinate_operation.method_name.lower()
    if not any(name in method for name in _CYLINDRICAL):
        return None
    to_xy = Transformer.from_crs(CRS(MOON_GEOGRAPHIC), crs, always_xy=True)
    # one degree of longitude at four places: the pairs that straddle the map's edge jump by
    # about a period, the others step by 1/360 of it
    lon = np.array([0.0, 1.0, 90.0, 91.0, 180.0, 181.0, 270.0, 271.0]) - 180.0
    x = np.asarray(to_xy.transform(lon, np.zeros(lon.size))[0])
    step = np.abs(np.diff(x.reshape(4, 2), axis=1)).ravel()
    step = step[np.isfinite(step)]
    return float(step.min() * 360.0) if step.size else None
