"""The mosaic GeoTIFF as the report sees it: read decimated, its geometry a :class:`MapGrid`.

The report reads at most :data:`MAX_PLOT_PX` pixels a side (through the file's overviews
when it has them), so drawing a report takes about a second whatever the mosaic's size.
Its geometry is the project's one grid type, :class:`pipeline.geometry.grid.MapGrid`: the
file's own grid (``Raster.grid``) and the grid of the decimated arrays (``Raster.view``).

Bands: band 1 is the mosaic (I/F); a band described ``count`` gives frames per pixel and one
described ``top_index`` the index of the frame each pixel came from (the mosaic's
``mosaicking.extra_bands``). ``top_index`` is read from the full-resolution data with
nearest-neighbour decimation, never from the overviews: those are averaged, and an average
of two frame indices (``1.5``) names no frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling

from pipeline.geometry.grid import MapGrid

__all__ = ["MAX_PLOT_PX", "Raster", "read_raster"]

MAX_PLOT_PX = 1000
"""Longest side, in pixels, of the decimated raster used for the map plots."""


@dataclass(frozen=True, eq=False)  # holds arrays
class Raster:
    """The mosaic, decimated for plotting.

    Attributes
    ----------
    path : Path
        The GeoTIFF.
    grid : MapGrid
        The file's full-resolution grid (CRS as WKT2, transform, ``(rows, cols)``).
    view : MapGrid
        The grid of the decimated arrays below (same CRS and bounds, coarser pixels).
    crs_name : str
        The CRS's name, for the page.
    dtype : str
        Data type of band 1.
    band_names : list of str
        Band descriptions (``band k`` where a band has none).
    nodata : float or None
        The file's nodata value.
    file_bytes : int
        Size of the file on disk.
    image : ndarray of float32, shape ``view.shape``
        Band 1 (I/F) averaged to ``view``; NaN where there is no data.
    count : ndarray of float32, shape ``view.shape``, or None
        The ``count`` band (frames per pixel), 0 where none; ``None`` without such a band.
    top_index : ndarray of int32, shape ``view.shape``, or None
        The ``top_index`` band (index of the frame each pixel came from), -1 where no
        frame; ``None`` without such a band.
    """

    path: Path
    grid: MapGrid
    view: MapGrid
    crs_name: str
    dtype: str
    band_names: list[str]
    nodata: float | None
    file_bytes: int
    image: np.ndarray
    count: np.ndarray | None
    top_index: np.ndarray | None = None

    @property
    def crs_wkt(self) -> str:
        """WKT2 of the mosaic's CRS."""
        return self.grid.crs_wkt

    @property
    def width(self) -> int:
        """Columns of the file."""
        return self.grid.shape[1]

    @property
    def height(self) -> int:
        """Rows of the file."""
        return self.grid.shape[0]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the outer pixel edges, metres of the CRS."""
        return self.grid.bounds

    @property
    def resolution(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` of the file, metres."""
        t = self.grid.transform
        return abs(t.a), abs(t.e)


def read_raster(path: Path) -> Raster:
    """Read the mosaic decimated to at most :data:`MAX_PLOT_PX` pixels a side.

    Band 1 is read as I/F with NaN for no data (averaged, through the overviews when the
    file has them); the band described as ``count`` (frames per pixel), when there is one,
    with nearest-neighbour resampling; the band described as ``top_index``, when there is
    one, by nearest-neighbour decimation of the full-resolution band (see the module notes).

    Raises
    ------
    OSError
        The file cannot be opened or read (rasterio's ``RasterioIOError``).
    ValueError
        The file has no CRS.
    """
    with rasterio.open(path) as ds:
        if ds.crs is None:
            raise ValueError(f"{path}: the mosaic has no CRS")
        h, w = ds.height, ds.width
        step = max(1, math.ceil(max(h, w) / MAX_PLOT_PX))
        oh, ow = max(1, math.ceil(h / step)), max(1, math.ceil(w / step))
        img = ds.read(1, out_shape=(oh, ow), masked=True, resampling=Resampling.average)
        image = np.ma.asarray(img).astype(np.float32).filled(np.nan)
        image[~np.isfinite(image)] = np.nan
        names = [(d or "") for d in ds.descriptions]
        count = _count_band(ds, names, (oh, ow))
        try:
            crs_wkt = ds.crs.to_wkt(version="WKT2_2019")
        except (TypeError, ValueError):
            crs_wkt = ds.crs.to_wkt()
        grid = MapGrid(crs_wkt, ds.transform, (h, w))
        view = MapGrid(crs_wkt, ds.transform @ Affine.scale(w / ow, h / oh), (oh, ow))
        return Raster(
            path=Path(path),
            grid=grid,
            view=view,
            crs_name=CRS.from_wkt(crs_wkt).name,
            dtype=ds.dtypes[0],
            band_names=[n or f"band {i}" for i, n in enumerate(names, start=1)],
            nodata=ds.nodata,
            file_bytes=Path(path).stat().st_size,
            image=image,
            count=count,
            top_index=_top_index_band(path, names, (oh, ow)),
        )


def _band_index(names: list[str], name: str) -> int | None:
    """1-based index of the first band after band 1 described as ``name``, or ``None``."""
    for i, n in enumerate(names, start=1):
        if i > 1 and n.strip().lower() == name:
            return i
    return None


def _count_band(ds, names: list[str], shape: tuple[int, int]) -> np.ndarray | None:
    """The ``count`` band on ``shape``, 0 where none (nearest resampling), or ``None``."""
    i = _band_index(names, "count")
    if i is None:
        return None
    c = ds.read(i, out_shape=shape, resampling=Resampling.nearest)
    count = np.nan_to_num(c.astype(np.float32), nan=0.0)
    cnd = ds.nodatavals[i - 1]
    if cnd is not None and np.isfinite(cnd):
        count[c == cnd] = 0.0
    return np.clip(count, 0, None)


def _top_index_band(path: Path, names: list[str], shape: tuple[int, int]) -> np.ndarray | None:
    """The ``top_index`` band on ``shape`` as int32 (-1: no frame), or ``None``.

    The file is opened again with GDAL's ``OVERVIEW_LEVEL=NONE`` so the decimated read picks
    whole pixels of the full-resolution band instead of averaged overview pixels.
    """
    i = _band_index(names, "top_index")
    if i is None:
        return None
    with rasterio.open(path, OVERVIEW_LEVEL="NONE") as ds:
        t = ds.read(i, out_shape=shape, resampling=Resampling.nearest).astype(np.float64)
        nd = ds.nodatavals[i - 1]
    t = np.where(np.isfinite(t), t, -1.0)
    bad = (t < 0) | (t != np.floor(t))  # a fraction names no frame
    if nd is not None and np.isfinite(nd):
        bad |= t == nd
    return np.where(bad, -1, t).astype(np.int32)
