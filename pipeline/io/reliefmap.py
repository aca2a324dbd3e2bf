"""The relief model as a GeoTIFF beside the mosaic: ``OUT.relief.tif``.

Two float32 bands on the model's posts (the mosaic's CRS): ``height`` (metres above the
datum sphere, whose radius is the ``farside_datum_radius_m`` tag) and ``points`` (inlier
tie points in each post's cell: the model's point density). Tags record how the model was
built (points, outliers, scatter, dense fraction, base surface). It reads back as a DEM:
``Dem.from_file(path)`` (band 1, heights).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.io.geotiff import write_cog

__all__ = ["RELIEF_BANDS", "default_relief_path", "write_relief"]

RELIEF_BANDS = ("height", "points")
"""Band names of ``OUT.relief.tif``."""


def default_relief_path(mosaic_path: str | Path) -> Path:
    """``OUT.tif`` -> ``OUT.relief.tif`` beside it.

    >>> default_relief_path("out/m.tif").as_posix()
    'out/m.relief.tif'
    """
    p = Path(mosaic_path)
    return p.with_name(p.stem + ".relief.tif")


def write_relief(path: str | Path, model, *, tags: dict[str, str] | None = None, num_threads: int | None = None) -> Path:
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
