"""A STAC item describing a mosaic (plain JSON, no pystac).

The item follows STAC 1.1 with the projection extension (v2.0.0: ``proj:code``,
``proj:wkt2``, ``proj:shape``, ``proj:transform``, ``proj:bbox``) and the solar-system
extension (``ssys:targets: ["Moon"]``).

**The ``bbox`` and ``geometry`` are planetocentric longitude/latitude degrees on the Moon
(IAU_2015:30100), not WGS84.** STAC prescribes WGS84 for them; for a lunar product there
is no Earth position, so like other planetary catalogues we put lunar lon/lat there and
say so in ``properties["farside:lonlat_crs"]``. A mosaic crossing the 180 E meridian gets
``west > east`` in its bbox and a MultiPolygon split at 180 E (GeoJSON RFC 7946 s. 5.2);
one containing a pole spans all longitudes.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS
from rasterio.enums import Resampling

from pipeline.errors import MosaicError
from pipeline.geometry.grid import MOON_GEOGRAPHIC, MapGrid

log = logging.getLogger(__name__)

__all__ = ["default_stac_path", "lon_extent", "stac_item", "write_stac_item"]

STAC_VERSION = "1.1.0"
EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/ssys/v1.1.0/schema.json",
]
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def default_stac_path(cog_path: str | Path) -> Path:
    """``OUT.tif`` -> ``OUT.stac.json`` beside it."""
    return Path(cog_path).with_suffix(".stac.json")


def lon_extent(lon_deg: np.ndarray) -> tuple[float, float]:
    """Smallest longitude arc ``(west, east)`` (degrees, -180..180) containing all ``lon_deg``.

    ``west > east`` when the arc crosses 180 E; ``(-180, 180)`` when the points leave no
    gap wider than 1 degree (all longitudes).
    """
    lon = np.sort(np.mod(np.asarray(lon_deg, float).ravel() + 180.0, 360.0) - 180.0)
    if lon.size == 0:
        raise ValueError("no longitudes")
    gaps = np.diff(np.concatenate([lon, lon[:1] + 360.0]))
    k = int(np.argmax(gaps))
    if gaps[k] < 1.0:
        return -180.0, 180.0
    west = lon[(k + 1) % lon.size]
    east = lon[k]
    return float(west), float(east)


def _parse_time(value) -> datetime:
    if isinstance(value, datetime):
        t = value
    else:
        t = datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _box_polygon(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def _footprint(grid: MapGrid, valid: np.ndarray) -> tuple[list[float], dict[str, Any]]:
    """The bbox and geometry (lunar lon/lat degrees) of the valid pixels of a decimated mosaic."""
    rows, cols = valid.shape
    sub = MapGrid(grid.crs_wkt, grid.transform @ grid.transform.scale(grid.shape[1] / cols, grid.shape[0] / rows),
                  (rows, cols))
    x, y = sub.pixel_centres()
    # pixel corners too, so the extent reaches the data's outer edge
    xe = np.concatenate([x[valid], x[valid] - sub.transform.a / 2, x[valid] + sub.transform.a / 2])
    ye = np.concatenate([y[valid], y[valid] + sub.transform.e / 2, y[valid] - sub.transform.e / 2])
    lon, lat = grid.xy_to_lonlat(xe, ye)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise MosaicError("the mosaic holds no valid pixel on the body; no footprint")
    lon, lat = lon[ok], lat[ok]
    south, north = float(lat.min()), float(lat.max())
    # does the data contain a pole? (the pole's map position lies inside a valid pixel)
    for pole in (90.0, -90.0):
        px, py = grid.lonlat_to_xy(0.0, pole)
        if np.isfinite(px) and np.isfinite(py):
            r, c = sub.xy_to_rowcol(px, py)
            r, c = math.floor(float(r)), math.floor(float(c))
            if 0 <= r < rows and 0 <= c < cols and valid[r, c]:
                south, north = min(south, pole), max(north, pole)
                west, east = -180.0, 180.0
                return [west, south, east, north], {"type": "Polygon",
                                                    "coordinates": _box_polygon(west, south, east, north)}
    west, east = lon_extent(lon)
    bbox = [west, south, east, north]
    if west > east:
        geometry = {"type": "MultiPolygon", "coordinates": [_box_polygon(west, south, 180.0, north),
                                                            _box_polygon(-180.0, south, east, north)]}
    else:
        geometry = {"type": "Polygon", "coordinates": _box_polygon(west, south, east, north)}
    return bbox, geometry


def stac_item(
    cog_path: str | Path,
    *,
    item_id: str | None = None,
    inputs: Sequence[str] | str | None = None,
    datetimes: Sequence[datetime | str] | None = None,
    quicklook: str | Path | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The STAC item (a JSON-ready dict) of a mosaic GeoTIFF.

    Parameters
    ----------
    cog_path : path
        The mosaic.
    item_id : str, optional
        Default the file stem.
    inputs : list of str or JSON string, optional
        Input frame paths (kept in ``farside:inputs``); default the ``farside_inputs`` tag.
    datetimes : sequence of datetime or ISO strings, optional
        Acquisition times of the inputs -> ``start_datetime`` / ``end_datetime`` and
        ``datetime`` (their midpoint, as STAC needs one instant besides the range). Default:
        the ``farside_start_datetime`` / ``farside_end_datetime`` tags; without them the
        item's ``datetime`` is the file's modification time (``farside:datetime_source``
        says ``"processing"``).
    quicklook : path, optional
        PNG asset; default ``OUT.png`` when it exists.
    properties : dict, optional
        Extra properties (override the computed ones).

    Returns
    -------
    dict
        ``type: Feature`` STAC item with ``bbox``/``geometry`` in lunar lon/lat degrees.
    """
    cog_path = Path(cog_path)
    with rasterio.open(cog_path) as ds:
        try:
            wkt = ds.crs.to_wkt(version="WKT2_2019")
        except (TypeError, ValueError):  # pragma: no cover
            wkt = ds.crs.to_wkt()
        grid = MapGrid(wkt, ds.transform, (ds.height, ds.width))
        step = max(1, math.ceil(max(ds.height, ds.width) / 256))
        shape = (max(1, math.ceil(ds.height / step)), max(1, math.ceil(ds.width / step)))

        dec = ds.read(1, out_shape=shape, resampling=Resampling.average)
        tags = ds.tags()
        bands = [d or f"band {i}" for i, d in enumerate(ds.descriptions, start=1)]
    if tags.get("farside_crs_wkt2"):
        wkt = tags["farside_crs_wkt2"]
        grid = MapGrid(wkt, grid.transform, grid.shape)
    crs = CRS.from_wkt(wkt)
    code = tags.get("farside_crs_code")
    if not code:
        auth = crs.to_authority(min_confidence=90)
        code = f"{auth[0]}:{auth[1]}" if auth else None
    bbox, geometry = _footprint(grid, np.isfinite(dec))

    if inputs is None:
        inputs = tags.get("farside_inputs")
    if isinstance(inputs, str):
        try:
            inputs = json.loads(inputs)
        except json.JSONDecodeError:
            inputs = [inputs]
    if datetimes is None and "farside_start_datetime" in tags:
        datetimes = [tags["farside_start_datetime"], tags.get("farside_end_datetime", tags["farside_start_datetime"])]
    props: dict[str, Any] = {}
    if datetimes:
        times = sorted(_parse_time(t) for t in datetimes)
        middle = times[0] + (times[-1] - times[0]) / 2  # the acquisition midpoint
        props.update({"datetime": _iso(middle), "start_datetime": _iso(times[0]), "end_datetime": _iso(times[-1])})
    else:
        mtime = datetime.fromtimestamp(cog_path.stat().st_mtime, tz=UTC)
        props.update({"datetime": _iso(mtime), "farside:datetime_source": "processing"})
    t = grid.transform
    props.update({
        "created": _iso(datetime.fromtimestamp(cog_path.stat().st_mtime, tz=UTC)),
        "proj:code": code,
        "proj:wkt2": crs.to_wkt(),
        "proj:shape": [grid.shape[0], grid.shape[1]],
        "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
        "proj:bbox": list(grid.bounds),
        "ssys:targets": ["Moon"],
        "farside:lonlat_crs": MOON_GEOGRAPHIC,
        "farside:bands": bands,
        "farside:nodata": "NaN",
    })
    if tags.get("farside_version"):
        props["farside:version"] = tags["farside_version"]
    if inputs:
        props["farside:inputs"] = list(inputs)
    props.update(properties or {})

    assets: dict[str, Any] = {
        "data": {
            "href": cog_path.name,
            "type": COG_MEDIA_TYPE,
            "title": "Mosaic (float32, NaN = no data)",
            "roles": ["data"],
        }
    }
    ql = Path(quicklook) if quicklook is not None else cog_path.with_suffix(".png")
    if ql.exists():
        href = ql.name if ql.parent.resolve() == cog_path.parent.resolve() else str(ql)
        assets["quicklook"] = {"href": href, "type": "image/png", "title": "Quicklook", "roles": ["overview"]}
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": EXTENSIONS,
        "id": item_id or cog_path.stem,
        "bbox": bbox,
        "geometry": geometry,
        "properties": props,
        "links": [],
        "assets": assets,
    }


def write_stac_item(
    cog_path: str | Path,
    out: str | Path | None = None,
    *,
    inputs: Sequence[str] | str | None = None,
    datetimes: Sequence[datetime | str] | None = None,
    quicklook: str | Path | None = None,
) -> Path:
    """Write :func:`stac_item` as JSON (default ``OUT.stac.json`` beside the mosaic).

    Examples
    --------
    >>> write_stac_item("out/mosaic.tif")  # doctest: +SKIP
    PosixPath('out/mosaic.stac.json')
    """
    out = Path(out) if out is not None else default_stac_path(cog_path)
    item = stac_item(cog_path, inputs=inputs, datetimes=datetimes, quicklook=quicklook)
    item["links"] = [{"rel": "self", "href": out.name, "type": "application/geo+json"}]
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_text(json.dumps(item, indent=2))
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MosaicError(f"{out}: cannot write the STAC item ({exc.strerror})") from exc
    log.info("wrote STAC item %s", out)
    return out
