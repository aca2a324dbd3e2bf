"""The mosaic as an ISIS3 map-projected cube (GDAL's ISIS3 driver), beside the COG.

The cube holds the same bands, grid and CRS as the COG. GDAL writes the ``Mapping`` group
from the CRS: ``TargetName``, radii, ``LatitudeType = Planetocentric``,
``LongitudeDirection = PositiveEast``, ``LongitudeDomain`` (360 by default, as ISIS's own
map templates; 180 on request), ``ProjectionName`` (``Equirectangular``, ``Orthographic``,
``PolarStereographic``, ...), ``CenterLongitude``/``CenterLatitude``, ``UpperLeftCornerX/Y``
and ``PixelResolution`` (m/pixel). No data (NaN in the COG) becomes ISIS's ``NULL`` special
pixel (-3.4028226550889045e38 as float32), which ISIS and GDAL both read as no data.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from pipeline.errors import MosaicError

log = logging.getLogger(__name__)

__all__ = ["ISIS_NULL", "default_cube_path", "write_cube"]

ISIS_NULL = float(np.frombuffer(bytes.fromhex("fbff7fff"), "<f4")[0])
"""ISIS's NULL special pixel of 32-bit real cubes (0xFF7FFFFB)."""


def default_cube_path(cog_path: str | Path) -> Path:
    """``OUT.tif`` -> ``OUT.cub`` beside it."""
    return Path(cog_path).with_suffix(".cub")


def write_cube(cog_path: str | Path, out: str | Path | None = None, *, longitude_domain: int = 360,
               target: str = "Moon", block_rows: int = 512, overwrite: bool = False) -> Path:
    """Copy a mosaic GeoTIFF into an ISIS3 cube with a ``Mapping`` group.

    Parameters
    ----------
    cog_path : str or Path
        The mosaic (float32 bands, NaN = no data).
    out : str or Path, optional
        The cube (default ``OUT.cub`` beside the COG); written under a temporary name and
        renamed when complete.
    longitude_domain : {360, 180}
        ISIS ``LongitudeDomain`` of the Mapping group (0..360 or -180..180 degrees).
    target : str
        ``TargetName``.
    block_rows : int
        Rows copied at a time (memory is bounded by ``block_rows`` x width x bands).
    overwrite : bool
        Replace an existing cube.

    Returns
    -------
    Path

    Raises
    ------
    MosaicError
        Bad ``longitude_domain``, existing file, or GDAL cannot write the cube.

    Examples
    --------
    >>> write_cube("out/mosaic.tif")  # doctest: +SKIP
    PosixPath('out/mosaic.cub')
    """
    cog_path = Path(cog_path)
    out = Path(out) if out is not None else default_cube_path(cog_path)
    if longitude_domain not in (180, 360):
        raise MosaicError(f"longitude_domain must be 180 or 360, got {longitude_domain}")
    if out.exists() and not overwrite:
        raise MosaicError(f"{out} exists; pass --overwrite to replace it")
    tmp = out.with_name(f".{out.stem}.partial.cub")
    try:
        with rasterio.open(cog_path) as src:
            profile = {
                "driver": "ISIS3", "width": src.width, "height": src.height, "count": src.count,
                "dtype": "float32", "crs": src.crs, "transform": src.transform, "nodata": ISIS_NULL,
            }
            options = {"FORCE_360": "YES" if longitude_domain == 360 else "NO", "TARGET_NAME": target,
                       "WRITE_BOUNDING_DEGREES": "YES"}
            with rasterio.open(tmp, "w", **profile, **options) as dst:
                for r0 in range(0, src.height, block_rows):
                    window = Window(0, r0, src.width, min(block_rows, src.height - r0))
                    data = src.read(window=window).astype(np.float32)
                    dst.write(np.where(np.isfinite(data), data, np.float32(ISIS_NULL)), window=window)
        os.replace(tmp, out)
    except (RasterioError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise MosaicError(f"{out}: cannot write the ISIS3 cube ({exc})") from exc
    log.info("wrote ISIS3 cube %s", out)
    return out
