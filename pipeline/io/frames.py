"""Frames in and out of files: metadata (:func:`read_meta`), pixels (:func:`read_pixels`,
:func:`load_frame`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import BadFrame, UnreadableFrame, UnsupportedFormat
from pipeline.frame import Frame, FrameMeta, FrameType
from pipeline.io.base import Described
from pipeline.io.hashing import content_hash
from pipeline.io.normalize import exposure_seconds, parse_frame_type, parse_utc
from pipeline.io.paths import printable
from pipeline.io.registry import READERS, check_nonempty, detect_format
from pipeline.io.sidecar import find_sidecar, read_sidecar, sidecar_facts
from pipeline.io.wacframes import is_wac_edr, wac_metas

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_BYTES", "load_frame", "read_meta", "read_metas", "read_pixels"]

DEFAULT_MAX_BYTES = 2**31
"""Default cap (bytes) on what a label may declare before anything is allocated."""


def _normalise(d: Described, fmt: str, where: Path) -> None:
    raw: dict[str, Any] = d.extra.pop("_raw", {}) or {}
    try:
        exposure = raw.get("exposure")
        default_unit = raw.get("exposure_default_unit", "s")
        if isinstance(exposure, tuple) and fmt == "pds4":
            d.exposure_s = exposure_seconds(exposure[0], exposure[1], default_unit="s")
        elif exposure is not None:
            d.exposure_s = exposure_seconds(exposure, default_unit=default_unit)
    except ValueError as exc:
        raise UnreadableFrame(where, f"exposure duration: {exc}; fix the label") from None
    try:
        d.time_utc = parse_utc(raw.get("time"))
    except ValueError as exc:
        raise UnreadableFrame(where, f"start time: {exc}; fix the label") from None
    value = raw.get("frame_type")
    if value is not None:
        try:
            d.frame_type = parse_frame_type(value)
        except ValueError as exc:
            raise UnreadableFrame(where, f"frame type: {exc}") from None
    elif fmt == "pds4" and str(raw.get("purpose") or "").strip().lower() == "science":
        d.frame_type = FrameType.LIGHT
    if d.instrument is not None:
        d.instrument = str(d.instrument).strip() or None
    if raw.get("calibrated"):  # e.g. an ISIS cube with Radiometry RadiometricType = IOF
        d.extra["calibrated"] = raw["calibrated"]


def _type_from_stem(stem: str) -> FrameType | None:
    head = stem.upper().replace("-", "_").split("_")[0]
    for ft in (FrameType.BIAS, FrameType.DARK, FrameType.FLAT):
        if head.startswith(ft.value):
            return ft
    return None


def read_meta(
    path: str | Path,
    *,
    band: int = 0,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    frame_type: FrameType | str | None = None,
    data_root: str | Path | None = None,
) -> FrameMeta:
    """Normalised metadata of one frame: label/header + sidecar + content hash, no pixels.

    Parameters
    ----------
    path : str or Path
        The image file (``.IMG``, ``.fits``, ``.tif``...) or its label (PDS3 ``.LBL``,
        PDS4 ``.xml``).
    band : int
        Zero-based band kept from multi-band products.
    max_bytes : int or None
        Refuse (``LabelTooLarge``) a product whose label declares more than this many
        bytes (``lines * samples * bands * bytes per sample``); checked before any
        allocation. ``None``: no cap.
    frame_type : FrameType or str, optional
        Frame type to assume when neither the label nor the sidecar says (a calibration
        folder passes BIAS/DARK/FLAT; ``"calibration"`` infers it from the file stem).
    data_root : str or Path, optional
        Folder that every data file a label names must resolve into, symbolic links
        followed (ingest passes the frames folder); default: the label's own folder.

    Returns
    -------
    FrameMeta
        ``exposure_s`` in seconds, ``time_utc`` timezone-aware UTC, ``shape`` ``(lines,
        samples)``, ``dtype`` of the stored samples, ``content_hash`` SHA-256 of the data
        file (then the detached label), ``isd_path`` the sidecar when it holds an ISD.

    Raises
    ------
    BadFrame
        ``UnreadableFrame``, ``UnsupportedFormat``, ``LabelTooLarge`` or ``BadGeometry``
        (sidecar), each naming the file and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise UnreadableFrame(path, "no such file")
    if not isinstance(band, int) or band < 0:
        raise UnsupportedFormat(path, f"band must be a non-negative integer, got {band!r}")
    fmt = detect_format(path)
    try:
        d = READERS[fmt].describe(path, band, max_bytes, None if data_root is None else Path(data_root))
    except BadFrame:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFrame(path, f"cannot read ({exc})") from None
    where = d.label_path or d.data_path
    check_nonempty(d.data_path)
    _normalise(d, fmt, where)
    sidecar_path = find_sidecar(d.data_path, d.label_path)
    info = read_sidecar(sidecar_path) if sidecar_path is not None else None
    ftype = d.frame_type
    if info is not None:
        if d.exposure_s is None:
            d.exposure_s = info.exposure_s
        elif info.exposure_s is not None and not math.isclose(
            info.exposure_s, d.exposure_s, rel_tol=1e-6, abs_tol=1e-9
        ):
            log.warning("%s: sidecar exposure %.6g s differs from the label's %.6g s; using the label",
                        where, info.exposure_s, d.exposure_s)
        if d.time_utc is None:
            d.time_utc = info.time_utc
        if ftype is None:
            ftype = info.frame_type
        if d.instrument is None and info.instrument:
            d.instrument = info.instrument
    if ftype is None and frame_type is not None:
        if isinstance(frame_type, str) and frame_type.strip().lower() == "calibration":
            ftype = _type_from_stem(path.stem)
            if ftype is None:
                raise UnreadableFrame(
                    where, "calibration frame of unknown type: say BIAS, DARK or FLAT in the label "
                    "(FRAME_TYPE, IMAGETYP, farside:frame_type), the sidecar's frame_type, or the file name"
                )
        else:
            try:
                ftype = parse_frame_type(frame_type)
            except ValueError as exc:
                raise UnsupportedFormat(path, str(exc)) from None
    if ftype is None:
        ftype = FrameType.LIGHT
    try:
        digest = content_hash([d.data_path] + ([d.label_path] if d.label_path else []))
    except OSError as exc:
        raise UnreadableFrame(where, f"cannot read for hashing ({exc.strerror})") from None
    d.extra["bands"] = d.bands
    if info is not None:
        d.extra["sidecar"] = str(info.path)
        d.extra.update(sidecar_facts(info))
        if info.image_shape is not None:
            d.extra["isd_shape"] = info.image_shape
    stem = printable((d.label_path or d.data_path).stem)  # an id is text in every output
    return FrameMeta(
        id=stem,
        path=d.data_path,
        format=fmt,
        shape=(int(d.shape[0]), int(d.shape[1])),
        dtype=d.dtype,
        frame_type=ftype,
        exposure_s=d.exposure_s,
        time_utc=d.time_utc,
        instrument=d.instrument,
        content_hash=digest,
        label_path=d.label_path,
        isd_path=info.path if info is not None and info.has_isd else None,
        band=band,
        extra=d.extra,
    )


def read_metas(path: str | Path, **kw: Any) -> list[FrameMeta]:
    """The frames a file holds: one :func:`read_meta` for most, one per filter and parity for an
    LRO WAC EDR (:func:`pipeline.io.wacframes.wac_metas`). Keywords as :func:`read_meta`."""
    path = Path(path)
    if path.suffix.lower() in (".img", ".dat") and is_wac_edr(path):
        return wac_metas(path, max_bytes=kw.get("max_bytes", DEFAULT_MAX_BYTES))
    return [read_meta(path, **kw)]


def read_pixels(meta: FrameMeta, *, max_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a frame as science values.

    Parameters
    ----------
    meta : FrameMeta
        From :func:`read_meta`.
    max_bytes : int, optional
        Refuse (``LabelTooLarge``) a product declaring more bytes than this.

    Returns
    -------
    data : ndarray of float32, shape (lines, samples)
        Stored values after the label's scaling (PDS ``OFFSET``/``SCALING_FACTOR``, FITS
        ``BZERO``/``BSCALE``, ISIS ``Base``/``Multiplier``, LROC decompanding); NaN where
        invalid.
    mask : ndarray of bool, shape (lines, samples)
        True where the pixel is invalid (special constants, ``BLANK``, non-finite...).

    Raises
    ------
    BadFrame
        The file changed or is damaged (``UnreadableFrame``), too large (``LabelTooLarge``).
    """
    try:
        reader = READERS[meta.format]
    except KeyError:
        raise UnsupportedFormat(meta.path, f"no reader named {meta.format!r}; choose from {sorted(READERS)}") from None
    try:
        data, mask = reader.load(meta, max_bytes)
    except BadFrame:
        raise
    except (OSError, ValueError) as exc:
        raise UnreadableFrame(meta.label_path or meta.path, f"pixels cannot be read ({exc})") from None
    if data.shape != tuple(meta.shape):
        raise UnreadableFrame(meta.path, f"pixels have shape {data.shape}, the label said {tuple(meta.shape)}")
    return np.asarray(data, np.float32), np.asarray(mask, bool)


def load_frame(frame: Frame, max_bytes: int | None = None) -> Frame:
    """The frame with its pixels read (float32, NaN where invalid) and the reader's mask.

    A frame already loaded is returned as it is.

    Parameters
    ----------
    frame : Frame
        From ingest (metadata, no pixels).
    max_bytes : int, optional
        Refuse (``LabelTooLarge``) to read more than this many bytes.
    """
    if frame.loaded:
        return frame
    data, mask = read_pixels(frame.meta, max_bytes=max_bytes)
    return frame.replace(data=data, mask=mask)
