"""The relief model as a GeoTIFF beside the mosaic: ``OUT.relief.tif``.

Two float32 bands on the model's posts (the mosaic's CRS): ``height`` (metres above the
datum sphere, whose radius is the ``farside_datum_radius_m`` tag) and ``points`` (inlier
tie points in each post's cell: the model's point density). Tags record how the model was
built (points, outliers, scatter, dense fraction, base surface). It reads back as a DEM
(``Dem.from_file(path)``, band 1: heights) or as the model itself (:func:`read_relief`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio

from pipeline.errors import MosaicError
from pipeline.geometry.relief import ReliefModel
from pipeline.io.geotiff import write_cog

__all__ = ["RELIEF_BANDS", "default_relief_path", "read_relief", "write_relief"]

RELIEF_BANDS = ("height", "points")
"""Band names of ``OUT.relief.tif``."""


def default_relief_path(mosaic_path: str | Path) -> Path:
    """``OUT.tif`` -> ``OUT.relief.tif`` beside it.

    >>> default_relief_path("out/m.tif").as_posix()
    'out/m.relief.tif'
    """
    p = Path(mosaic_path)
    return p.with_name(p.stem + ".relief.tif")


def write_relief(path: str | Path, model, *, tags: dict[str, str] | None = None,
                 num_threads: int | None = None) -> Path:
    """Write a :class:`~pipeline.geometry.relief.ReliefModel` as a COG at ``path``.

    Parameters
    ----------
    path : str or Path
    model : ReliefModel
    tags : dict, optional
        Extra dataset tags (provenance).
    num_threads : int, optional
        GDAL threads of the COG conversion.

    Returns
    -------
    Path
    """
    summary = model.summary()
    info = {f"farside_relief_{k}": json.dumps(v) for k, v in summary.items()}
    info["farside_datum_radius_m"] = repr(float(model.datum_radius_m))
    arrays = {"height": np.asarray(model.heights_m, np.float32), "points": np.asarray(model.points, np.float32)}
    return write_cog(path, model.grid, arrays, bands=RELIEF_BANDS, tags={**(tags or {}), **info}, overviews=False,
                     num_threads=num_threads)


def read_relief(path: str | Path):
    """Read ``OUT.relief.tif`` back as a :class:`~pipeline.geometry.relief.ReliefModel`
    (heights, point density, grid and the summary numbers of its tags).

    Raises
    ------
    MosaicError
        The file is not a farside relief model (its bands or tags are missing).
    """
    with rasterio.open(path) as ds:
        if tuple(ds.descriptions) != RELIEF_BANDS:
            raise MosaicError(f"{path} is not a farside relief model (bands {ds.descriptions}, expected "
                              f"{RELIEF_BANDS}); write one with mosaicking.relief: model")
        heights, points = ds.read(1).astype(float), ds.read(2)
        tags = ds.tags()
        transform, crs_wkt = ds.transform, tags.get("farside_crs_wkt2") or ds.crs.to_wkt()

    def tag(name, default):
        raw = tags.get(f"farside_relief_{name}")
        return json.loads(raw) if raw is not None else default

    return ReliefModel(heights, points.astype(np.float32), tuple(transform)[:6], crs_wkt,
                       float(tags.get("farside_datum_radius_m", "nan")), int(tag("points", 0)),
                       int(tag("outliers", 0)), float(tag("scatter_m", "nan")), float(tag("terrain_sigma_m", "nan")),
                       float(tag("dense_fraction", 0.0)), float(tag("offset_m", 0.0)), str(tag("base", "sphere")),
                       float(tag("post_m", "nan")), int(tag("min_points", 3)), float(tag("level_sigma_m", "nan")))
