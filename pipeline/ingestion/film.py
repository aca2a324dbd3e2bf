"""Which light frames are film scans: the sidecar, the configuration, or the file itself.

A film scan (Apollo Metric/Panoramic, Lunar Orbiter, a scanned print) has fiducial marks
to mask and no cosmic rays to repair; calibration reads the decision from
``FrameMeta.extra["film"]`` (and why, from ``extra["film_source"]``). In order, the first
that speaks decides:

1. the sidecar's ``film`` key (``true``/``false``; :mod:`pipeline.io.sidecar`);
2. ``ingestion.film_instruments[<instrument>]``;
3. ``ingestion.film`` (``true``/``false`` for every frame);
4. automatically: an 8-bit PNG, JPEG or TIFF without an exposure duration (a scan or a
   processed product, not raw detector data).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.frame import FrameMeta
from pipeline.ingestion.params import IngestionParams

__all__ = ["RASTER_FORMATS", "film_decision", "with_film_flag"]

RASTER_FORMATS = ("png", "jpeg", "tiff")
"""Label-less raster formats that the automatic film guess considers."""


def film_decision(meta: FrameMeta, config: IngestionParams) -> tuple[bool, str]:
    """Whether a frame is a film scan, and which rule said so.

    Examples
    --------
    >>> from pathlib import Path
    >>> meta = FrameMeta(id="a", path=Path("a.png"), format="png", shape=(8, 8), dtype="uint8")
    >>> film_decision(meta, IngestionParams())
    (True, 'automatic: 8-bit png without exposure duration')
    >>> film_decision(meta, IngestionParams(film=False))
    (False, 'ingestion.film')
    """
    said = meta.extra.get("sidecar_film")
    if isinstance(said, bool):
        return said, "sidecar film key"
    if meta.instrument is not None and meta.instrument in config.film_instruments:
        return bool(config.film_instruments[meta.instrument]), f"ingestion.film_instruments[{meta.instrument}]"
    if config.film is not None:
        return bool(config.film), "ingestion.film"
    try:
        eight_bit = np.dtype(meta.dtype).kind in "ui" and np.dtype(meta.dtype).itemsize == 1
    except TypeError:
        eight_bit = False
    if meta.format in RASTER_FORMATS and eight_bit and meta.exposure_s is None:
        return True, f"automatic: 8-bit {meta.format} without exposure duration"
    return False, "automatic: not an 8-bit raster without exposure duration"


def with_film_flag(meta: FrameMeta, config: IngestionParams) -> FrameMeta:
    """``meta`` with ``extra["film"]`` and ``extra["film_source"]`` set (:func:`film_decision`)."""
    film, source = film_decision(meta, config)
    return dataclasses.replace(meta, extra={**meta.extra, "film": film, "film_source": source})
