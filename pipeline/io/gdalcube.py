"""GDAL fallback for ISIS cubes that farside's own reader refuses.

:mod:`pipeline.io.isis3` reads ISIS3 cubes (``Object = IsisCube``, Tile or BandSequential,
every pixel type) itself. What it refuses for want of a format, not because the file is
damaged, is read here through GDAL's ``ISIS2``/``ISIS3`` drivers (rasterio):

- ISIS2 qubes (``^QUBE`` + ``Object = QUBE``, e.g. Lunar Orbiter ``lo2isis`` input),
- ISIS3 cubes of a layout the own reader does not know (e.g. a GeoTIFF-backed ``^Core``).

The label is still parsed by :mod:`pipeline.io.odl` for the metadata (ISIS2
``ISIS_INSTRUMENT``/ISIS3 ``Instrument``: start time, exposure, instrument). Pixels are the
stored values GDAL decodes, then ``value = offset + scale * stored`` with GDAL's band
offset/scale (ISIS ``Base``/``Multiplier``, ISIS2 ``CORE_BASE``/``CORE_MULTIPLIER``), and the
mask holds GDAL's nodata, the label's ``CORE_NULL``/``CORE_*_SATURATION`` values and the ISIS
special pixels of the stored type (as :func:`pipeline.io.rawarray.isis_special_mask`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UnreadableFrame
from pipeline.io.base import Described
from pipeline.io.gdalread import check_declared_size, dataset_dtype, open_raster, read_stored_band
from pipeline.io.odl import Label, Quantity
from pipeline.io.rawarray import isis_special_mask

log = logging.getLogger(__name__)

__all__ = ["ISIS_DRIVERS", "describe_gdal_cube", "is_isis2_qube", "load_gdal_cube"]

ISIS_DRIVERS = ("ISIS3", "ISIS2")

_QUBE_SPECIALS = ("CORE_NULL", "CORE_LOW_REPR_SATURATION", "CORE_LOW_INSTR_SATURATION",
                  "CORE_HIGH_INSTR_SATURATION", "CORE_HIGH_REPR_SATURATION")


def _v(x: Any) -> Any:
    return x.value if isinstance(x, Quantity) else x


def is_isis2_qube(label: Label) -> bool:
    """Whether a parsed label is an ISIS2 qube (a ``^QUBE`` pointer and a ``QUBE`` object)."""
    return "^QUBE" in label and isinstance(label.get("QUBE"), Label)


def _qube_specials(qube: Label, dtype: np.dtype) -> list[float]:
    out = []
    for key in _QUBE_SPECIALS:
        value = _v(qube.get(key))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if dtype.kind == "f" and isinstance(value, int) and 2**31 <= value < 2**32:
            value = float(np.array(value, np.uint32).view(np.float32))  # 16#FF7FFFFB# bit pattern
        out.append(float(value))
    return out


def _isis2_metadata(label: Label) -> dict[str, Any]:
    qube = label.get("QUBE")
    inst = qube.get("ISIS_INSTRUMENT") if isinstance(qube, Label) else None
    inst = inst if isinstance(inst, Label) else Label()
    instrument = inst.get("INSTRUMENT_ID")
    return {
        "time": inst.get("START_TIME", inst.get("IMAGE_TIME")),
        "exposure": inst.get("EXPOSURE_DURATION"),
        "exposure_default_unit": "s",
        "instrument": None if instrument is None else str(instrument),
        "frame_type": None,
    }


def _min_file_size(label: Label, lines: int, samples: int, bands: int, itemsize: int) -> int | None:
    ptr = label.get("^QUBE")
    core = lines * samples * bands * itemsize
    if isinstance(ptr, Quantity):  # <BYTES>
        return ptr.value - 1 + core if isinstance(ptr.value, int) and ptr.value >= 1 else None
    record = _v(label.get("RECORD_BYTES"))
    if isinstance(ptr, int) and not isinstance(ptr, bool) and ptr >= 1 and isinstance(record, int) and record > 0:
        return (ptr - 1) * record + core
    return None


def describe_gdal_cube(path: Path, band: int, max_bytes: int | None, *, label: Label | None,
                       reason: str, isis_metadata: dict[str, Any] | None = None, data_path: Path | None = None):
    """Metadata of a cube read through GDAL (no pixels decoded).

    Parameters
    ----------
    path : Path
        The cube (label attached).
    band : int
        Zero-based band.
    max_bytes : int or None
        Memory cap on ``lines * samples * bands * bytes`` (``LabelTooLarge`` before decoding).
    label : Label or None
        The parsed label, for metadata and special values.
    reason : str
        Why the own reader refused it (kept in ``extra["fallback_reason"]``).
    isis_metadata : dict, optional
        Raw metadata of an ISIS3 label (``time``, ``exposure``...), when the caller has it.
    data_path : Path, optional
        The detached data file (``^Core``), when not ``path`` itself: then ``path`` becomes
        the frame's label (both are hashed) and GDAL still opens ``path``.

    Returns
    -------
    pipeline.io.base.Described
        ``extra["reader"] == "gdal"``; ``extra`` also holds ``scale``, ``offset``,
        ``specials``, ``gdal_driver``, ``isis_version``.

    Raises
    ------
    UnreadableFrame
        GDAL cannot open it either, or the file is shorter than the qube it declares.
    LabelTooLarge, UnsupportedFormat
        Over the memory cap; band out of range or an unsupported sample type.
    """
    path = Path(path)
    with open_raster(path, ISIS_DRIVERS, "ISIS cube") as ds:
        lines, samples, bands, driver = ds.height, ds.width, ds.count, ds.driver
        dtype = dataset_dtype(ds, path, "ISIS cube")
        check_declared_size(path, lines, samples, bands, dtype.itemsize, band, max_bytes, source="label")
        scale = float(ds.scales[band]) if ds.scales[band] is not None else 1.0
        offset = float(ds.offsets[band]) if ds.offsets[band] is not None else 0.0
        nodata = ds.nodata
    specials: list[float] = [] if nodata is None else [float(nodata)]
    raw: dict[str, Any] = isis_metadata or {"time": None, "exposure": None, "instrument": None, "frame_type": None}
    isis_version = 3 if driver == "ISIS3" else 2
    if label is not None and is_isis2_qube(label):
        specials += _qube_specials(label["QUBE"], dtype)
        raw = _isis2_metadata(label)
        need = _min_file_size(label, lines, samples, bands, dtype.itemsize)
        size = path.stat().st_size
        if need is not None and size < need:
            raise UnreadableFrame(
                path, f"truncated: the ISIS2 qube declares {lines} x {samples} x {bands} samples of {dtype.itemsize} "
                f"bytes ({need} bytes with the label) but the file has only {size} bytes; re-copy it",
            )
    log.info("%s: read through GDAL's %s driver (%s)", path, driver, reason)
    detached = data_path is not None and Path(data_path) != path
    d = Described(
        data_path=Path(data_path) if detached else path, label_path=path if detached else None,
        shape=(lines, samples), dtype=dtype.name, bands=bands, instrument=raw.get("instrument"),
        extra={"reader": "gdal", "gdal_driver": driver, "isis_version": isis_version, "fallback_reason": reason,
               "scale": scale, "offset": offset, "specials": sorted(set(specials)), "bands": bands,
               "stored_dtype": dtype.str, "gdal_open": str(path)},
    )
    d.extra["_raw"] = raw
    return d


def load_gdal_cube(meta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a cube described by :func:`describe_gdal_cube`.

    Returns
    -------
    data : ndarray of float32, shape (lines, samples)
        ``offset + scale * stored`` (computed in float64, rounded once); NaN where invalid.
    mask : ndarray of bool, shape (lines, samples)
        True at GDAL nodata, the label's special values, ISIS special pixels, non-finite.
    """
    path = Path(meta.extra.get("gdal_open") or meta.path)
    with open_raster(path, ISIS_DRIVERS, "ISIS cube") as ds:
        dtype = dataset_dtype(ds, path, "ISIS cube")
        check_declared_size(path, ds.height, ds.width, ds.count, dtype.itemsize, meta.band, max_bytes, source="label")
        raw = read_stored_band(ds, meta.band + 1, path, "ISIS cube")
    mask = isis_special_mask(raw)
    if raw.dtype.kind == "f":
        mask |= ~np.isfinite(raw)
    specials = meta.extra.get("specials") or []
    if specials:
        mask |= np.isin(raw, np.asarray(specials, np.float64))
    scale, offset = float(meta.extra.get("scale", 1.0)), float(meta.extra.get("offset", 0.0))
    with np.errstate(invalid="ignore", over="ignore"):
        if scale == 1.0 and offset == 0.0:
            data = raw.astype(np.float32)
        else:
            data = (raw.astype(np.float64) * scale + offset).astype(np.float32)
    mask |= ~np.isfinite(data)
    data[mask] = np.nan
    return data, mask
