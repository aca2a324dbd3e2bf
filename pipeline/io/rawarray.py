"""Raw binary image arrays described by a label (PDS3, PDS4, ISIS3 cubes).

A :class:`RawLayout` says where the samples sit in a file (byte offset, numpy dtype with
byte order, lines x samples x bands, band storage, line prefix/suffix bytes, ISIS tiles)
and how to turn stored values into science values (``value = offset + scale * raw``,
special raw values masked). :func:`check_layout` validates it against the file *before*
anything is allocated (declared size vs the memory cap, vs the file size); :func:`read_band`
reads one band as ``float32`` with its invalid-pixel mask.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import LabelTooLarge, UnreadableFrame, UnsupportedFormat
from pipeline.io.bitdepth import check_byte_planes, check_valid_bits

__all__ = ["ISIS_REAL_SPECIAL_MAX", "RawLayout", "check_layout", "read_band"]

ISIS_REAL_SPECIAL_MAX = float(np.frombuffer(bytes.fromhex("FF7FFFFB"), ">f4")[0])
"""ISIS special pixels of 32-bit real data (Null, Lrs, Lis, His, Hrs) are all <= this."""

STORAGES = ("BSQ", "BIL", "BIP", "TILE")


@dataclass(frozen=True)
class RawLayout:
    """Where and how one image array is stored.

    Attributes
    ----------
    path : str
        Data file.
    offset : int
        Byte offset of the first sample (of the first line prefix).
    dtype : str
        numpy dtype string with byte order (``">u2"``, ``"<f4"``, ``"|u1"``).
    lines, samples, bands : int
    storage : {"BSQ", "BIL", "BIP", "TILE"}
    line_prefix, line_suffix : int
        Bytes before / after each line record (PDS3 ``LINE_PREFIX_BYTES``...).
    tile_lines, tile_samples : int
        ISIS3 tile size (``storage == "TILE"``).
    scale, value_offset : float
        ``value = value_offset + scale * raw``.
    specials : tuple of float
        Raw values that mark invalid pixels (missing, null, saturated...).
    isis_specials : bool
        Also mask ISIS special pixel values of the stored type.
    valid_range : (float, float) or None
        Raw values outside ``[lo, hi]`` are invalid.
    lut : tuple of float or None
        Decompanding lookup table indexed by the raw 8-bit value (applied before scaling).
    valid_bits : int or None
        Significant bits the label declares besides the storage width (PDS3
        ``SAMPLE_BIT_MASK``, PDS4 ``sample_bits``): a stored value beyond them refuses the
        frame (:mod:`pipeline.io.bitdepth`).
    check_width : bool
        Refuse 8-bit samples whose bytes only a 16-bit sample type explains
        (:func:`pipeline.io.bitdepth.check_byte_planes`).
    width_keyword : str
        The label keywords that declare the sample type, for those messages.
    """

    path: str
    offset: int
    dtype: str
    lines: int
    samples: int
    bands: int = 1
    storage: str = "BSQ"
    line_prefix: int = 0
    line_suffix: int = 0
    tile_lines: int = 0
    tile_samples: int = 0
    scale: float = 1.0
    value_offset: float = 0.0
    specials: tuple[float, ...] = ()
    isis_specials: bool = False
    valid_range: tuple[float, float] | None = None
    lut: tuple[float, ...] | None = field(default=None, repr=False)
    valid_bits: int | None = None
    check_width: bool = False
    width_keyword: str = ""

    @property
    def itemsize(self) -> int:
        """Bytes per stored sample."""
        return np.dtype(self.dtype).itemsize

    @property
    def declared_bytes(self) -> int:
        """``lines * samples * bands * bytes per sample`` (the pixel payload)."""
        return self.lines * self.samples * self.bands * self.itemsize

    @property
    def stored_bytes(self) -> int:
        """Bytes the array occupies in the file (prefix/suffix bytes and tile padding included)."""
        isz = self.itemsize
        if self.storage == "TILE":
            nt_l = -(-self.lines // self.tile_lines)
            nt_s = -(-self.samples // self.tile_samples)
            return self.bands * nt_l * nt_s * self.tile_lines * self.tile_samples * isz
        per_line = self.line_prefix + self.line_suffix
        if self.storage == "BSQ":
            return self.bands * self.lines * (per_line + self.samples * isz)
        return self.lines * (per_line + self.samples * self.bands * isz)

    def to_dict(self) -> dict[str, Any]:
        """The layout as a plain dict (JSON-serialisable fields)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RawLayout:
        """The layout from :meth:`to_dict`'s dict (lists turned back into tuples)."""
        d = dict(d)
        for key in ("specials", "lut"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        if d.get("valid_range") is not None:
            d["valid_range"] = tuple(d["valid_range"])
        return cls(**d)


def check_layout(layout: RawLayout, *, band: int = 0, max_bytes: int | None = None, source: Path | None = None) -> None:
    """Validate a layout against the file and the memory cap without reading pixels.

    Raises
    ------
    UnreadableFrame
        Non-positive sizes, data file missing, or the file is shorter than declared
        (the message gives expected vs actual bytes).
    UnsupportedFormat
        Unknown storage or dtype, or ``band`` beyond the bands declared.
    LabelTooLarge
        ``lines * samples * bands * bytes`` exceeds ``max_bytes``.
    """
    where = Path(source or layout.path)
    for name in ("lines", "samples", "bands"):
        value = getattr(layout, name)
        if not isinstance(value, int) or value <= 0:
            raise UnreadableFrame(where, f"label declares {name} = {value!r}; it must be a positive integer")
    for name in ("offset", "line_prefix", "line_suffix"):
        value = getattr(layout, name)
        if not isinstance(value, int) or value < 0:
            raise UnreadableFrame(where, f"label declares {name} = {value!r}; it must be a non-negative integer")
    if layout.storage not in STORAGES:
        raise UnsupportedFormat(where, f"band storage {layout.storage!r} not supported (use {', '.join(STORAGES)})")
    if layout.storage == "TILE" and (layout.tile_lines <= 0 or layout.tile_samples <= 0):
        raise UnreadableFrame(where, "ISIS tile size must be positive")
    try:
        np.dtype(layout.dtype)
    except TypeError:
        raise UnsupportedFormat(where, f"sample type {layout.dtype!r} not supported") from None
    if not (math.isfinite(layout.scale) and math.isfinite(layout.value_offset)):
        raise UnreadableFrame(where, f"scaling factor {layout.scale} / offset {layout.value_offset} not finite")
    if not 0 <= band < layout.bands:
        raise UnsupportedFormat(
            where, f"band {band} requested but the product has {layout.bands} band(s) (ingest.band is zero-based)"
        )
    declared = layout.declared_bytes
    if max_bytes is not None and declared > max_bytes:
        raise LabelTooLarge(
            where,
            f"label declares {layout.lines} x {layout.samples} x {layout.bands} samples of "
            f"{layout.itemsize} bytes = {declared} bytes, over the limit of {max_bytes} bytes; "
            "raise ingest.max_frame_bytes if the product is genuine",
        )
    data = Path(layout.path)
    try:
        size = data.stat().st_size
    except OSError as exc:
        raise UnreadableFrame(
            where, f"data file {data.name} cannot be read ({exc.strerror}); put it beside the label"
        ) from None
    need = layout.offset + layout.stored_bytes
    if size < need:
        raise UnreadableFrame(
            where,
            f"truncated: the label declares {layout.stored_bytes} bytes of image data from byte "
            f"{layout.offset} (file size {need} bytes expected) but {data.name} has only {size} bytes; "
            "re-download or re-copy the product",
        )


def _read_exact(path: Path, start: int, length: int, where: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            buf = fh.read(length)
    except OSError as exc:
        raise UnreadableFrame(where, f"cannot read {path.name}: {exc.strerror}") from None
    if len(buf) != length:
        raise UnreadableFrame(
            where, f"truncated: expected {length} bytes from byte {start} of {path.name}, got {len(buf)}"
        )
    return buf


def _strip_lines(buf: bytes, n_lines: int, prefix: int, payload: int, suffix: int) -> np.ndarray:
    rows = np.frombuffer(buf, np.uint8).reshape(n_lines, prefix + payload + suffix)
    return np.ascontiguousarray(rows[:, prefix : prefix + payload])


def read_stored(layout: RawLayout, band: int, source: Path | None = None) -> np.ndarray:
    """Stored values of one band, shape ``(lines, samples)``, native dtype (no scaling)."""
    where = Path(source or layout.path)
    path = Path(layout.path)
    dt = np.dtype(layout.dtype)
    isz = dt.itemsize
    L, S, B = layout.lines, layout.samples, layout.bands
    pre, suf = layout.line_prefix, layout.line_suffix
    if layout.storage == "BSQ":
        block = L * (pre + S * isz + suf)
        buf = _read_exact(path, layout.offset + band * block, block, where)
        raw = _strip_lines(buf, L, pre, S * isz, suf).view(dt).reshape(L, S)
    elif layout.storage == "BIL":
        buf = _read_exact(path, layout.offset, layout.stored_bytes, where)
        rows = _strip_lines(buf, L, pre, S * B * isz, suf).reshape(L, B, S * isz)
        raw = np.ascontiguousarray(rows[:, band, :]).view(dt).reshape(L, S)
    elif layout.storage == "BIP":
        buf = _read_exact(path, layout.offset, layout.stored_bytes, where)
        rows = _strip_lines(buf, L, pre, S * B * isz, suf)
        raw = np.ascontiguousarray(rows.view(dt).reshape(L, S, B)[:, :, band])
    else:  # TILE (ISIS3)
        tl, ts = layout.tile_lines, layout.tile_samples
        nt_l, nt_s = -(-L // tl), -(-S // ts)
        per_band = nt_l * nt_s * tl * ts * isz
        buf = _read_exact(path, layout.offset + band * per_band, per_band, where)
        tiles = np.frombuffer(buf, dt).reshape(nt_l, nt_s, tl, ts)
        raw = tiles.transpose(0, 2, 1, 3).reshape(nt_l * tl, nt_s * ts)[:L, :S].copy()
    return raw


def isis_special_mask(raw: np.ndarray) -> np.ndarray:
    """ISIS special pixels (Null, Lrs, Lis, His, Hrs) of a stored array, by pixel type."""
    dt = raw.dtype
    if dt.kind == "f":
        return raw <= ISIS_REAL_SPECIAL_MAX
    if dt.kind == "u" and dt.itemsize == 1:
        return (raw == 0) | (raw == 255)
    if dt.kind == "i" and dt.itemsize == 2:
        return raw <= -32764
    if dt.kind == "u" and dt.itemsize == 2:
        return (raw <= 2) | (raw >= 65534)
    if dt.kind == "i" and dt.itemsize == 4:
        return raw <= -8388603  # ISIS SignedInteger specials: -8388608..-8388604
    return np.zeros(raw.shape, bool)


def _check_width(raw: np.ndarray, invalid: np.ndarray, layout: RawLayout, where: Path) -> None:

    keyword = layout.width_keyword or "the sample type"
    if layout.valid_bits:
        check_valid_bits(raw, invalid, layout.valid_bits, where, keyword)
    if layout.check_width and raw.dtype.itemsize == 1 and raw.dtype.kind in "iu":
        check_byte_planes(raw, 1, where, keyword)


def read_band(
    layout: RawLayout, band: int = 0, *, max_bytes: int | None = None, source: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one band as science values.

    Parameters
    ----------
    layout : RawLayout
    band : int
        Zero-based band.
    max_bytes : int, optional
        Memory cap on the declared size (``LabelTooLarge`` before allocating).

    Returns
    -------
    data : ndarray of float32, shape (lines, samples)
        ``value_offset + scale * raw`` (after the decompanding table, if any); invalid
        pixels are NaN.
    mask : ndarray of bool, shape (lines, samples)
        True where the pixel is invalid (special constant, ISIS special, outside the valid
        range, non-finite).
    """
    check_layout(layout, band=band, max_bytes=max_bytes, source=source)
    raw = read_stored(layout, band, source)
    mask = np.zeros(raw.shape, bool)
    if raw.dtype.kind == "f":
        mask |= ~np.isfinite(raw)
    for value in layout.specials:
        mask |= raw == value
    if layout.isis_specials:
        mask |= isis_special_mask(raw)
    if layout.valid_range is not None:
        lo, hi = layout.valid_range
        with np.errstate(invalid="ignore"):
            mask |= (raw < lo) | (raw > hi)
    if layout.valid_bits or layout.check_width:
        _check_width(raw, mask, layout, Path(source or layout.path))
    if layout.lut is not None:
        lut = np.asarray(layout.lut, np.float64)
        idx = raw.astype(np.int64)
        if idx.min(initial=0) < 0 or idx.max(initial=0) >= lut.size:
            raise UnreadableFrame(Path(source or layout.path), "stored values beyond the decompanding table")
        values = lut[idx]
        mask |= ~np.isfinite(values)
    elif layout.scale == 1.0 and layout.value_offset == 0.0:
        values = raw.astype(np.float32)
    else:
        values = raw.astype(np.float64)  # scale in double precision, then round once
    with np.errstate(invalid="ignore", over="ignore"):
        if layout.scale != 1.0 or layout.value_offset != 0.0:
            values = values * layout.scale + layout.value_offset
        data = values.astype(np.float32, copy=False)
    mask |= ~np.isfinite(data)
    data[mask] = np.nan
    return data, mask
