"""Writing the mosaic: a Cloud Optimized GeoTIFF, window by window, atomically.

:class:`CogWriter` writes tiles as they come into a temporary tiled GeoTIFF beside the
output (memory bounded by one tile: a mosaic larger than RAM works), then converts it with
GDAL's COG driver (internal overviews, compression with the floating-point predictor,
square blocks) into a second temporary file, checks the result and renames it onto the
final name (``os.replace``, atomic on one filesystem). On any error both temporaries are
removed and nothing is left under the final name (an existing file there is untouched).

Layout of the file
------------------
- All bands are ``float32``; **no data is NaN** (declared as the GDAL nodata value, so
  readers mask it; NaN cannot be confused with a valid I/F, unlike -3.4e38 sentinels).
- Band 1 is the mosaic (I/F, or whatever unit calibration produced), described ``iof``;
  optional bands follow with their names as descriptions: ``count`` (frames per pixel),
  ``top_index`` (index of the dominant frame), ``incidence`` / ``emission`` (degrees).
  Every band is NaN where the mosaic has no data.
- Dataset tags carry provenance (the caller's, e.g. ``farside_inputs``, ``farside_config``)
  plus ``farside_software`` (versions), ``farside_bands``, ``farside_nodata``,
  ``farside_crs_wkt2`` (the exact CRS; GeoTIFF keys only hold a WKT1 rendering of it) and
  ``farside_crs_code`` (e.g. ``IAU_2015:30170``, when the CRS has one).
- CRS: the grid's lunar WKT; nothing is ever converted to an Earth CRS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np
import pyproj
import rasterio
import scipy
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioError
from rasterio.shutil import copy as rio_copy
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from pipeline import __version__
from pipeline.errors import MosaicError
from pipeline.geometry.grid import MapGrid
from pipeline.io.stac import lon_extent

log = logging.getLogger(__name__)

__all__ = ["BAND_UNITS", "CogWriter", "describe", "software_versions", "write_cog"]

BAND_UNITS = {"iof": "I/F", "radiance": "W m-2 sr-1 um-1", "dn_per_s": "DN/s", "dn": "DN (relative)",
              "count": "frames", "top_index": "index", "incidence": "deg", "emission": "deg",
              "height": "m", "points": "tie points"}
"""Units written for known band names."""

_ALIASES = {unit: (unit, "mosaic") for unit in ("iof", "radiance", "dn_per_s", "dn")}
"""The first band of a mosaic is named for its unit; the tile products call it ``mosaic``."""


def software_versions() -> dict[str, str]:
    """Versions of farside, Python and the libraries that shape the output (provenance)."""
    return {
        "farside": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "opencv": cv2.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "pyproj": pyproj.__version__,
        "proj": pyproj.proj_version_str,
    }


@contextlib.contextmanager
def _gdal_errors(path: Path):
    """Raise what GDAL reports while writing ``path`` as a ``RasterioError``: flushing the block
    cache (on ``write`` or ``close``) raises rasterio's private ``CPLE_*`` errors (e.g. a full disk:
    ``TIFFWriteDirectoryTagData: IO error writing tag data``), which are not ``RasterioError``s."""
    try:
        yield
    except (RasterioError, OSError, MosaicError):
        raise
    except Exception as exc:  # rasterio._err.CPLE_BaseError and its subclasses
        raise RasterioError(f"{path.name}: {exc}") from exc


def _overview_count(shape: tuple[int, int], min_side: int = 128) -> int:
    side = max(shape)
    return max(1, math.ceil(math.log2(max(side / min_side, 1.0)))) if side > 1 else 0


class CogWriter:
    """Write a Cloud Optimized GeoTIFF tile by tile (context manager).

    Parameters
    ----------
    path : str or Path
        Final output file. Written atomically when the ``with`` block ends without error.
    grid : MapGrid
        The whole output grid (CRS, transform, shape).
    bands : sequence of str
        Band names, in file order; the first is the mosaic (``iof``).
    tags : dict, optional
        Dataset tags (provenance); values that are not strings are JSON-encoded.
    compress : {"deflate", "zstd", "lzw"}
        Compression of the final COG (with the floating-point predictor, level 1).
    blocksize : int
        Block (internal tile) side, pixels, a multiple of 16.
    overviews : bool
        Build internal overviews (down to about 128 px on the longest side).
    overview_resampling : str
        GDAL resampling of the overviews (``average``, ``nearest``, ``mode``, ...).
    overwrite : bool
        Replace an existing file at ``path`` (only once the new one is complete).
    num_threads : int, optional
        GDAL threads of the COG conversion (compression, overviews): ``run.workers`` /
        ``--workers``; default all CPUs.

    Examples
    --------
    >>> with CogWriter("out.tif", grid, bands=["iof", "count"], tags={"source": "test"}) as w:  # doctest: +SKIP
    ...     for tile in grid.tiles(512):
    ...         w.write_tile(tile.core, {"iof": mosaic, "count": count, "valid": valid})
    """

    def __init__(
        self,
        path: str | Path,
        grid: MapGrid,
        bands: Sequence[str] = ("iof",),
        tags: Mapping[str, Any] | None = None,
        *,
        compress: str = "deflate",
        blocksize: int = 512,
        overviews: bool = True,
        overview_resampling: str = "average",
        overwrite: bool = True,
        num_threads: int | None = None,
    ):
        self.path = Path(path)
        self.grid = grid
        self.bands = list(bands) or ["iof"]
        if len(set(self.bands)) != len(self.bands):
            raise MosaicError(f"duplicate band names {self.bands}")
        self.tags = {str(k): v if isinstance(v, str) else json.dumps(v, default=str) for k, v in (tags or {}).items()}
        self.compress = compress.upper()
        if self.compress not in ("DEFLATE", "ZSTD", "LZW"):
            raise MosaicError(f"unsupported compression {compress!r}; use deflate, zstd or lzw")
        if blocksize % 16 or blocksize < 16:
            raise MosaicError(f"blocksize must be a positive multiple of 16, got {blocksize}")
        self.blocksize = int(blocksize)
        self.overviews = overviews
        self.overview_resampling = overview_resampling
        self.overwrite = overwrite
        self.num_threads = num_threads
        token = uuid.uuid4().hex[:12]
        self._tmp = self.path.parent / f".{self.path.name}.{token}.partial.tif"
        self._tmp_cog = self.path.parent / f".{self.path.name}.{token}.cog.tif"
        self._ds = None
        self.tiles_written = 0

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> Self:
        if self.path.exists() and not self.overwrite:
            raise MosaicError(f"{self.path} exists; pass overwrite=True (or --overwrite) to replace it")
        if not self.path.parent.is_dir():
            raise MosaicError(f"{self.path.parent} is not a directory")
        rows, cols = self.grid.shape
        block = min(self.blocksize, 512)
        tags = {
            **self.tags,
            "farside_bands": ",".join(self.bands),
            "farside_nodata": "NaN",
        }
        tags.setdefault("farside_software", json.dumps(software_versions()))
        # GeoTIFF keys hold a WKT1 rendering of the CRS; keep the exact WKT2 and its code too
        tags.setdefault("farside_crs_wkt2", self.grid.crs.to_wkt())
        auth = self.grid.crs.to_authority(min_confidence=90)
        if auth:
            tags.setdefault("farside_crs_code", f"{auth[0]}:{auth[1]}")
        try:
            self._ds = rasterio.open(
                self._tmp, "w", driver="GTiff", width=cols, height=rows, count=len(self.bands),
                dtype="float32", nodata=float("nan"), crs=RioCRS.from_wkt(self.grid.crs_wkt),
                transform=self.grid.transform, tiled=True, blockxsize=block, blockysize=block,
                compress="ZSTD" if self.compress == "ZSTD" else "DEFLATE", zlevel=1, zstd_level=1,
                predictor=3, bigtiff="IF_SAFER", sparse_ok=True,
            )
            self._ds.update_tags(**tags)
            for k, name in enumerate(self.bands, start=1):
                self._ds.set_band_description(k, name)
                self._ds.update_tags(k, name=name, unit=BAND_UNITS.get(name, ""))
            self._ds.units = tuple(BAND_UNITS.get(name, "") for name in self.bands)
        except (RasterioError, OSError, ValueError) as exc:
            self._cleanup()
            raise MosaicError(f"{self.path}: cannot create the GeoTIFF ({exc})") from exc
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self._cleanup()
            return False
        try:
            self._finish()
        except BaseException:
            self._cleanup()
            raise
        return False

    # -- writing --------------------------------------------------------------------------
    def _array_for(self, name: str, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        nested = arrays.get("bands") if isinstance(arrays.get("bands"), Mapping) else {}
        for key in _ALIASES.get(name, (name,)):
            if key in arrays:
                return np.asarray(arrays[key])
            if key in nested:
                return np.asarray(nested[key])
        raise MosaicError(f"tile has no array for band {name!r} (keys: {sorted(arrays)})")

    def write_tile(self, core, arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Write one tile's core.

        Parameters
        ----------
        core : (row_slice, col_slice) or dict
            Where the arrays go in the whole grid (``tile.core``). A product dict of
            :func:`pipeline.mosaicking.mosaic_tile_frames` (with a ``core`` key) may be
            passed alone.
        arrays : dict of str to ndarray
            One array per band name (the mosaic may be under ``iof`` or ``mosaic``), each
            of the core's shape; an optional bool ``valid`` sets every band to NaN where
            False.

        Raises
        ------
        MosaicError
            Writer not open, window outside the grid, missing band or wrong shape (never
            resampled silently).
        """
        if arrays is None:
            if not isinstance(core, Mapping) or "core" not in core:
                raise MosaicError("write_tile needs (core, arrays) or a product dict with a 'core' key")
            arrays, core = core, core["core"]
        if self._ds is None:
            raise MosaicError("CogWriter is not open: use it as a context manager")
        rs, cs = core
        rows, cols = self.grid.shape
        r0, r1 = rs.start or 0, rows if rs.stop is None else rs.stop
        c0, c1 = cs.start or 0, cols if cs.stop is None else cs.stop
        if not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols):
            raise MosaicError(f"tile window rows {r0}:{r1}, cols {c0}:{c1} is outside the grid {self.grid.shape}")
        shape = (r1 - r0, c1 - c0)
        valid = arrays.get("valid")
        if valid is not None:
            valid = np.asarray(valid, bool)
            if valid.shape != shape:
                raise MosaicError(f"valid mask has shape {valid.shape}, the window {shape}")
        window = Window(c0, r0, shape[1], shape[0])
        for k, name in enumerate(self.bands, start=1):
            arr = self._array_for(name, arrays)
            if arr.shape != shape:
                raise MosaicError(f"band {name!r} has shape {arr.shape}, the window {shape}")
            out = arr.astype(np.float32)
            if valid is not None:
                out = np.where(valid, out, np.float32(np.nan))
            with _gdal_errors(self._tmp):
                self._ds.write(out, k, window=window)
        self.tiles_written += 1

    def write(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Write whole-grid arrays at once (small mosaics and tests)."""
        self.write_tile((slice(0, self.grid.shape[0]), slice(0, self.grid.shape[1])), arrays)

    # -- finishing ------------------------------------------------------------------------
    def _finish(self) -> None:
        ds, self._ds = self._ds, None
        if ds is None:
            raise MosaicError("CogWriter was not opened")
        with _gdal_errors(self._tmp):
            ds.close()  # flushes the block cache: a full disk shows here
        options: dict[str, Any] = {
            "COMPRESS": self.compress,
            "PREDICTOR": "FLOATING_POINT",
            "BLOCKSIZE": self.blocksize,
            "BIGTIFF": "IF_SAFER",
            "NUM_THREADS": str(self.num_threads) if self.num_threads else "ALL_CPUS",
        }
        if self.compress in ("DEFLATE", "ZSTD"):
            options["LEVEL"] = 1  # half the time of level 6 for ~2 % more bytes
        if self.overviews:
            options["OVERVIEWS"] = "IGNORE_EXISTING"
            options["OVERVIEW_RESAMPLING"] = self.overview_resampling.upper()
            options["OVERVIEW_COUNT"] = _overview_count(self.grid.shape)
        else:
            options["OVERVIEWS"] = "NONE"
        # a failure (a full disk) reaches the caller as a RasterioError, as one in write_tile does
        with _gdal_errors(self._tmp_cog):
            rio_copy(str(self._tmp), str(self._tmp_cog), driver="COG", **options)
        self._check(self._tmp_cog)
        os.replace(self._tmp_cog, self.path)
        self._tmp.unlink(missing_ok=True)
        log.info("wrote %s (%d x %d px, width x height, bands %s, %d tiles)", self.path, self.grid.shape[1],
                 self.grid.shape[0], ",".join(self.bands), self.tiles_written)

    def _check(self, path: Path) -> None:
        """The converted file kept what matters: shape, bands, tags, overviews."""
        with rasterio.open(path) as ds:
            problems = []
            if (ds.height, ds.width) != self.grid.shape or ds.count != len(self.bands):
                problems.append(f"shape {(ds.count, ds.height, ds.width)}")
            tags = ds.tags()
            missing = [k for k in self.tags if k not in tags]
            if missing:
                problems.append(f"lost tags {missing}")
            if list(ds.descriptions) != self.bands:
                problems.append(f"band names {ds.descriptions}")
            if self.overviews and _overview_count(self.grid.shape) and not ds.overviews(1):
                problems.append("no overviews")
        if problems:
            raise MosaicError(f"{self.path}: the COG lost data in conversion: {'; '.join(problems)}")

    def _cleanup(self) -> None:
        if self._ds is not None:
            try:
                self._ds.close()
            except (RasterioError, OSError):  # pragma: no cover - closing a broken dataset
                pass
            self._ds = None
        # GDAL's COG driver builds overviews in <target>.ovr.tmp; an error there can leave it
        for p in (self._tmp, self._tmp_cog, self._tmp_cog.with_name(self._tmp_cog.name + ".ovr.tmp")):
            try:
                p.unlink(missing_ok=True)
            except OSError:  # pragma: no cover
                log.warning("could not remove temporary file %s", p)


def write_cog(path: str | Path, grid: MapGrid, arrays: Mapping[str, np.ndarray], bands: Sequence[str] = ("iof",),
              tags: Mapping[str, Any] | None = None, **options) -> Path:
    """Write whole-grid arrays as a COG in one call (see :class:`CogWriter` for options)."""
    with CogWriter(path, grid, bands, tags, **options) as w:
        w.write(arrays)
    return Path(path)


def describe(path: str | Path) -> dict[str, Any]:
    """Summary of a mosaic GeoTIFF for ``farside inspect``.

    Returns CRS name, size, resolution (m), bands, nodata, overviews, compression, extent in
    projected metres and in planetocentric lon/lat degrees of the Moon (computed in the
    mosaic's own CRS, never through an Earth CRS; the longitude range is ``(west, east)``,
    with ``west > east`` across 180 E), the fraction of valid pixels (from the
    coarsest overview), COG validity and the provenance tags.
    """
    path = Path(path)
    with rasterio.open(path) as ds:
        if ds.crs is None:
            raise MosaicError(f"{path}: no CRS")
        try:
            wkt = ds.crs.to_wkt(version="WKT2_2019")
        except (TypeError, ValueError):  # pragma: no cover
            wkt = ds.crs.to_wkt()
        crs = CRS.from_wkt(wkt)
        grid = MapGrid(wkt, ds.transform, (ds.height, ds.width))
        xmin, ymin, xmax, ymax = grid.bounds
        xs = np.concatenate([np.linspace(xmin, xmax, 65), np.full(65, xmax), np.linspace(xmax, xmin, 65),
                             np.full(65, xmin), np.linspace(xmin, xmax, 65)])
        ys = np.concatenate([np.full(65, ymax), np.linspace(ymax, ymin, 65), np.full(65, ymin),
                             np.linspace(ymin, ymax, 65), np.full(65, 0.5 * (ymin + ymax))])
        lon, lat = grid.xy_to_lonlat(xs, ys)
        ok = np.isfinite(lon) & np.isfinite(lat)
        ovr = ds.overviews(1)
        step = max(1, math.ceil(max(ds.height, ds.width) / 512))
        sample = ds.read(1, out_shape=(max(1, ds.height // step), max(1, ds.width // step)))
        tags = ds.tags()
        info: dict[str, Any] = {
            "path": str(path),
            "crs": crs.name,
            "size": f"{ds.width} x {ds.height} (width x height)",
            "resolution_m": abs(ds.transform.a),
            "bands": [d or f"band {i}" for i, d in enumerate(ds.descriptions, start=1)],
            "dtype": ds.dtypes[0],
            "nodata": ds.nodata,
            "overviews": ovr,
            "compression": ds.compression.name if ds.compression else None,
            "bounds_m": (xmin, ymin, xmax, ymax),
            "lon_range_deg": lon_extent(lon[ok]) if ok.any() else None,
            "lat_range_deg": (float(lat[ok].min()), float(lat[ok].max())) if ok.any() else None,
            "valid_fraction": float(np.isfinite(sample).mean()),
        }
    info["cog"] = bool(cog_validate(str(path), quiet=True)[0])
    info["tags"] = {k: v for k, v in tags.items() if k.startswith("farside_")}
    return info
