"""Quicklook PNG of a mosaic: decimated, percentile-stretched, no data transparent.

The GeoTIFF is read through its overviews (``rasterio`` picks the level) with average
resampling, so a quicklook of a huge mosaic reads only a few hundred kilobytes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.enums import Resampling

from pipeline.errors import MosaicError

log = logging.getLogger(__name__)

__all__ = ["default_quicklook_path", "quicklook_array", "write_quicklook"]


def default_quicklook_path(cog_path: str | Path) -> Path:
    """``OUT.tif`` -> ``OUT.png`` beside it."""
    return Path(cog_path).with_suffix(".png")


def quicklook_array(
    cog_path: str | Path,
    *,
    max_px: int = 1024,
    band: int = 1,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> tuple[np.ndarray, np.ndarray]:
    """The stretched quicklook image and its validity.

    Parameters
    ----------
    cog_path : path
        Mosaic GeoTIFF.
    max_px : int
        Longest side of the result, pixels (never upsampled).
    band : int
        1-based band to show.
    percentiles : (low, high)
        Percentiles of the valid pixels mapped to 0 and 255.

    Returns
    -------
    gray : ndarray of uint8, shape (h, w)
        0 where no data.
    valid : ndarray of bool, shape (h, w)
    """
    with rasterio.open(cog_path) as ds:
        step = max(1, math.ceil(max(ds.height, ds.width) / max_px))
        shape = (max(1, math.ceil(ds.height / step)), max(1, math.ceil(ds.width / step)))
        data = ds.read(band, out_shape=shape, masked=True, resampling=Resampling.average)
    values = np.ma.asarray(data).astype(np.float64).filled(np.nan)
    valid = np.isfinite(values)
    gray = np.zeros(shape, np.uint8)
    if valid.any():
        lo, hi = np.percentile(values[valid], percentiles)
        if not hi > lo:
            hi = lo + 1.0
        scaled = np.clip((values - lo) / (hi - lo), 0.0, 1.0) * 255.0
        gray[valid] = np.round(scaled[valid]).astype(np.uint8)
    return gray, valid


def write_quicklook(
    cog_path: str | Path,
    out: str | Path | None = None,
    *,
    max_px: int = 1024,
    band: int = 1,
    percentiles: tuple[float, float] = (2.0, 98.0),
    transparent: bool = True,
) -> Path:
    """Write a PNG quicklook of a mosaic.

    Parameters
    ----------
    cog_path : path
        Mosaic GeoTIFF.
    out : path, optional
        PNG to write; default ``OUT.png`` beside the GeoTIFF.
    max_px, band, percentiles
        See :func:`quicklook_array`.
    transparent : bool
        True: 8-bit gray + alpha, no data transparent. False: 8-bit gray, no data black.

    Returns
    -------
    Path
        The PNG written.

    Raises
    ------
    MosaicError
        The PNG cannot be encoded or written.

    Examples
    --------
    >>> write_quicklook("out/mosaic.tif")  # doctest: +SKIP
    PosixPath('out/mosaic.png')
    """
    out = Path(out) if out is not None else default_quicklook_path(cog_path)
    gray, valid = quicklook_array(cog_path, max_px=max_px, band=band, percentiles=percentiles)
    if transparent:
        alpha = np.where(valid, 255, 0).astype(np.uint8)
        img = np.dstack([gray, gray, gray, alpha])
    else:
        img = gray
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise MosaicError(f"{out}: PNG encoding failed")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_bytes(buf.tobytes())
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MosaicError(f"{out}: cannot write the quicklook ({exc.strerror})") from exc
    log.info("wrote quicklook %s (%d x %d)", out, gray.shape[1], gray.shape[0])
    return out
