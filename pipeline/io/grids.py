"""Output grids from files: the named grids of ``configs/grids.yaml`` and the grid of an existing map.

:func:`named_grid` reads a grid definition (like an ISIS map template; satpy keeps named
areas in ``areas.yaml`` the same way); :func:`read_grid` takes the CRS, transform and shape of
an existing GeoTIFF or cube (``--like``), so a new mosaic can be snapped onto its pixels;
:func:`read_basemap_on_grid` warps a reference basemap onto a grid (registration's ground control).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
import yaml
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.warp import reproject

from pipeline.errors import ConfigError
from pipeline.geometry.grid import MapGrid, resolve_crs

__all__ = ["GRIDS_FILE", "NamedGrid", "load_grids", "named_grid", "read_basemap_on_grid", "read_grid"]

GRIDS_FILE = Path(__file__).resolve().parents[2] / "configs" / "grids.yaml"
"""The named grids shipped with farside."""

_KEYS = {"crs", "resolution_m", "bounds", "bounds_lonlat", "description"}


@dataclass(frozen=True)
class NamedGrid:
    """A named output grid.

    Attributes
    ----------
    name : str
    crs : str
        Preset, IAU code, WKT or PROJ string.
    resolution_m : float
        Pixel size, metres.
    bounds : (xmin, ymin, xmax, ymax) or None
        Extent in CRS metres.
    bounds_lonlat : (west, south, east, north) or None
        Extent in planetocentric degrees, east-positive (``east`` may exceed 180).
    description : str
    """

    name: str
    crs: str
    resolution_m: float
    bounds: tuple[float, float, float, float] | None = None
    bounds_lonlat: tuple[float, float, float, float] | None = None
    description: str = ""


def _four(name: str, key: str, value) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        out = ()
    if len(out) != 4:
        raise ConfigError(f"grid {name!r}: {key} must be 4 numbers, got {value!r}")
    return out


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> dict[str, NamedGrid]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the named grids ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of grid names to grids")
    grids = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or "crs" not in spec or "resolution_m" not in spec:
            raise ConfigError(f"{path}: grid {name!r} needs crs and resolution_m")
        unknown = set(spec) - _KEYS
        if unknown:
            raise ConfigError(f"{path}: grid {name!r}: unknown key(s) {sorted(unknown)}; use {sorted(_KEYS)}")
        if spec.get("bounds") is not None and spec.get("bounds_lonlat") is not None:
            raise ConfigError(f"{path}: grid {name!r}: give bounds or bounds_lonlat, not both")
        res = float(spec["resolution_m"])
        if not res > 0:
            raise ConfigError(f"{path}: grid {name!r}: resolution_m must be positive")
        grids[str(name)] = NamedGrid(str(name), str(spec["crs"]), res, _four(name, "bounds", spec.get("bounds")),
                                     _four(name, "bounds_lonlat", spec.get("bounds_lonlat")),
                                     str(spec.get("description", "")))
    return grids


def load_grids(path: str | Path | None = None) -> dict[str, NamedGrid]:
    """Every named grid of ``path`` (default :data:`GRIDS_FILE`), by name.

    Raises
    ------
    ConfigError
        The file is missing, not YAML, or a grid lacks ``crs``/``resolution_m``.
    """
    path = Path(path) if path is not None else GRIDS_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the named grids ({exc.strerror})") from exc
    return _load(str(path), mtime)


def named_grid(name: str, path: str | Path | None = None) -> NamedGrid:
    """The grid called ``name``.

    Raises
    ------
    ConfigError
        No such grid; the message lists the known ones.

    Examples
    --------
    >>> named_grid("farside_eqc_2km").resolution_m
    2000.0
    """
    grids = load_grids(path)
    if name not in grids:
        where = path or GRIDS_FILE
        raise ConfigError(f"unknown grid {name!r}: {where} defines {', '.join(sorted(grids))}")
    return grids[name]


def read_grid(path: str | Path) -> MapGrid:
    """The grid (CRS, transform, shape) of an existing map (GeoTIFF, ISIS3 cube, any GDAL raster).

    Raises
    ------
    ConfigError
        The file cannot be opened or has no CRS.
    """
    path = Path(path)
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ConfigError(f"{path}: has no CRS; --like needs a georeferenced map")
            wkt = ds.tags().get("farside_crs_wkt2") or ds.crs.to_wkt()
            return MapGrid(wkt, ds.transform, (ds.height, ds.width))
    except (RasterioError, OSError) as exc:
        raise ConfigError(f"{path}: cannot open the map to snap to ({exc})") from exc


def read_basemap_on_grid(path: str | Path, grid, band: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The basemap resampled onto ``grid`` (a :class:`MapGrid`): bilinear where the basemap is at least
    as fine as ``0.75 grid.resolution``, else averaged; Moon to Moon, never through an Earth CRS.

    Returns
    -------
    values : ndarray of float32, shape ``grid.shape``
    valid : ndarray of bool, shape ``grid.shape``

    Raises
    ------
    ConfigError
        The file cannot be opened, has no CRS, or its CRS is not on the Moon.
    """
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise ConfigError(f"{path}: cannot open reference basemap ({exc})") from exc
    with src:
        if src.crs is None:
            raise ConfigError(f"{path}: reference basemap has no CRS")
        resolve_crs(src.crs.to_wkt())  # raises ConfigError unless lunar
        if not 1 <= band <= src.count:
            raise ConfigError(f"{path}: band {band} requested, the basemap has {src.count}")
        src_res = min(abs(src.transform.a), abs(src.transform.e))
        dst = np.full(grid.shape, np.nan, np.float32)
        reproject(
            source=rasterio.band(src, band),
            destination=dst,
            dst_transform=grid.transform,
            dst_crs=grid.crs_wkt,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear if src_res >= grid.resolution * 0.75 else Resampling.average,
        )
    valid = np.isfinite(dst)
    return dst, valid
