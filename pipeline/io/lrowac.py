"""LRO WAC EDRs: companded, interleaved VIS/UV framelets -> one push-frame image per band and parity.

An LROC Wide Angle Camera EDR (PDS3, ``DATA_SET_ID = LRO-L-LROC-2-EDR-*``, ``INSTRUMENT_MODE_ID``
COLOR, VIS, UV or BW) stores, line after line, *framelet sets*: one framelet per filter,
UV framelets 4 lines high (4 x 4 summed, the middle 128 of the 704 stored samples), VIS
framelets 14 lines high. Successive sets alternate between *odd* and *even* (set 0 odd, set 1
even, ...). ISIS ``lrowac2isis`` splits them into four cubes (UV/VIS x even/odd), each band a
filter, each framelet at the line its set's time gives it and Null between; farside returns
the same pixels as one :class:`WacImage` per (filter, parity), exactly as those cube bands:

- lines of a band-parity image: ``int(ratio * input_lines + 0.5) + padding`` with ratio 14/78
  (VIS) and 4/78 (UV) in COLOR mode, 14/70 in VIS, 4/8 in UV, 1 in BW; ``padding`` the
  ``COLOROFFSET`` shift (``color_offset`` framelets per filter, as lrowac2isis);
- the framelet of set ``k`` starts at line ``k * framelet_lines + padding[filter]``; lines
  that fall beyond the image are dropped (as ISIS does), the others of the other parity are
  NaN (masked);
- decompanding (``UNLUT``): stored value ``i`` -> the middle of the ``i``-th pair of
  ``LRO:LOOKUP_CONVERSION_TABLE``, ``(lo + hi) / 2``; pairs ISIS marks unused (``-9998``) are
  masked here (ISIS would keep -9998 as a number).

``read_wac_edr`` reads the file, :func:`split_framelets` is the pure numpy splitter.
Each image carries what a push-frame camera (``USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL``) needs
from the EDR: filter and band ids, NAIF codes, framelet height, summing, exposure and
interframe delay; :meth:`WacImage.isd_keys` gives them under their ISD names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UnreadableFrame, UnsupportedFormat
from pipeline.io.normalize import exposure_seconds, parse_utc
from pipeline.io.odl import Label, Quantity
from pipeline.io.pds3 import parse
from pipeline.io.rawarray import RawLayout, check_layout, read_stored

__all__ = [
    "FILTERS",
    "WacEdr",
    "WacImage",
    "framelet_layout",
    "output_lines",
    "read_wac_edr",
    "read_wac_label",
    "split_framelets",
    "wac_lut",
]

FILTERS = {1: 321, 2: 360, 3: 415, 4: 566, 5: 604, 6: 643, 7: 689}
"""WAC filter number -> centre wavelength (nm), as lrowac2isis validates them."""

UV_SAMPLES = 128
"""UV framelets are summed 4 x 4: 128 samples, the middle of the 704 stored."""

_MODES = {  # mode -> framelet lines per filter slot (in stored order) and which filters
    "COLOR": (4, 4, 14, 14, 14, 14, 14),
    "VIS": (14, 14, 14, 14, 14),
    "UV": (4, 4),
    "BW": (14,),
}


@dataclass(frozen=True)
class WacEdr:
    """What the EDR label says (no pixels).

    Attributes
    ----------
    path : Path
    offset : int
        Byte offset of the image in the file.
    lines, samples : int
        Stored lines (all framelets of all sets) and samples.
    mode : str
        ``INSTRUMENT_MODE_ID``: COLOR, VIS, UV or BW.
    filters : tuple of int
        ``FILTER_NUMBER`` in stored order.
    centers_nm, widths_nm : tuple of float
        ``CENTER_FILTER_WAVELENGTH``, ``BANDWIDTH`` (nm; widths may be empty).
    lut : ndarray of float64, shape (256,) or None
        Decompanding table (``LRO:LOOKUP_TABLE_TYPE = STORED``); NaN for unused entries.
    exposure_s, interframe_delay_s : float
        ``EXPOSURE_DURATION``, ``INTERFRAME_DELAY`` in seconds.
    start_time, stop_time : datetime or None
        UTC.
    """

    path: Path
    offset: int
    lines: int
    samples: int
    mode: str
    filters: tuple[int, ...]
    centers_nm: tuple[float, ...]
    widths_nm: tuple[float, ...]
    lut: np.ndarray | None = field(repr=False, compare=False)
    exposure_s: float
    interframe_delay_s: float
    start_time: datetime | None
    stop_time: datetime | None


@dataclass(frozen=True)
class WacImage:
    """One band-parity image of a WAC EDR, as one band of an ISIS lrowac2isis cube.

    Attributes
    ----------
    data : ndarray of float32, shape (lines, samples)
        Decompanded DN (or stored DN with ``decompand=False``); NaN where masked.
    mask : ndarray of bool
        True where no framelet of this parity lies (and at unused table entries).
    camera : str
        ``"VIS"`` or ``"UV"`` (``InstrumentId`` WAC-VIS / WAC-UV).
    parity : str
        ``"odd"`` (framelet sets 0, 2, 4...) or ``"even"``.
    filter_number : int
        1-7 (``BandBin/FilterNumber``).
    band : int
        1-based band of the ISIS cube of this camera and parity.
    center_nm, width_nm : float
        Filter centre wavelength and band width (nm; width NaN when not in the label).
    framelet_lines : int
        Image lines per framelet (14 VIS, 4 UV).
    framelet_height : int
        Detector lines per framelet (ALE's ``framelet_height``: 14 VIS, 16 UV).
    summing : int
        Detector line and sample summing (1 VIS, 4 UV).
    naif_ik_code : int
        -85621 (VIS) or -85626 (UV).
    naif_filter_code : int
        The filter's NAIF code (ALE ``fikid``: -85628 - filter for VIS, -85640 - filter for UV),
        the ``INS<code>_...`` keywords of focal length, distortion and ``ITRANSL/S``.
    num_framelets : int
        ``lines // framelet_lines`` (ISIS ``NumFramelets``).
    edr : WacEdr
        Exposure, interframe delay, times, mode of the source.
    decompanded : bool
    color_offset : int
    """

    data: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    camera: str
    parity: str
    filter_number: int
    band: int
    center_nm: float
    width_nm: float
    framelet_lines: int
    framelet_height: int
    summing: int
    naif_ik_code: int
    naif_filter_code: int
    num_framelets: int
    edr: WacEdr = field(repr=False)
    decompanded: bool = True
    color_offset: int = 0

    @property
    def instrument_id(self) -> str:
        """``WAC-VIS`` or ``WAC-UV`` (ISIS ``InstrumentId``)."""
        return f"WAC-{self.camera}"

    def isd_keys(self) -> dict[str, Any]:
        """The push-frame ISD keys this EDR determines, under their USGS CSM/ALE names.

        ``image_lines``, ``image_samples``, ``framelet_height`` (detector lines),
        ``detector_line_summing``, ``detector_sample_summing``, ``exposure_duration`` and
        ``interframe_delay`` (s), ``framelets_flipped`` (False: lrowac2isis never flips).
        Geometry (ephemerides, pointing, ``framelet_order_reversed``...) comes from SPICE.
        """
        return {
            "image_lines": int(self.data.shape[0]), "image_samples": int(self.data.shape[1]),
            "framelet_height": self.framelet_height, "detector_line_summing": self.summing,
            "detector_sample_summing": self.summing, "exposure_duration": self.edr.exposure_s,
            "interframe_delay": self.edr.interframe_delay_s, "framelets_flipped": False,
        }


def _v(x: Any) -> Any:
    return x.value if isinstance(x, Quantity) else x


def _seconds(value: Any, key: str, where: Path) -> float:

    try:
        seconds = exposure_seconds(value, default_unit="ms")
    except ValueError as exc:
        raise UnreadableFrame(where, f"WAC EDR {key}: {exc}; fix the label") from None
    if seconds is None:
        raise UnreadableFrame(where, f"WAC EDR label has no {key}; lrowac2isis needs it too")
    return seconds


def wac_lut(label: Label, where: Path) -> np.ndarray | None:
    """The 256-entry decompanding table: entry ``i`` = middle of the ``i``-th pair of
    ``LRO:LOOKUP_CONVERSION_TABLE``; NaN where the pair is unused (negative, ``-9998``).

    Returns None when ``LRO:LOOKUP_TABLE_TYPE`` is not ``STORED`` (nothing to undo).

    Raises
    ------
    UnreadableFrame
        A table that is not 256 pairs of numbers (lrowac2isis refuses it too).
    """
    if str(label.get("LRO:LOOKUP_TABLE_TYPE", "")).upper() != "STORED":
        return None
    table = label.get("LRO:LOOKUP_CONVERSION_TABLE")
    try:
        pairs = np.array([[float(_v(a)), float(_v(b))] for a, b in table], np.float64)
    except (TypeError, ValueError):
        raise UnreadableFrame(where, "LRO:LOOKUP_CONVERSION_TABLE is not a list of (low, high) pairs") from None
    if pairs.shape != (256, 2):
        raise UnreadableFrame(where, f"LRO:LOOKUP_CONVERSION_TABLE has {len(pairs)} pairs, not 256")
    lut = pairs.mean(axis=1)
    lut[(pairs < 0).any(axis=1)] = np.nan
    return lut


def read_wac_label(path: str | Path) -> WacEdr:
    """Parse and check the label of a WAC EDR (no pixels read).

    Raises
    ------
    UnreadableFrame
        Not an LROC WAC EDR, damaged label, a value lrowac2isis would also refuse.
    UnsupportedFormat
        A mode or filter list it cannot split.
    """
    path = Path(path)
    label = parse(path, attached=True)
    if not str(label.get("DATA_SET_ID", "")).upper().startswith("LRO-L-LROC") or \
            str(label.get("INSTRUMENT_ID", "")).upper() != "LROC" or "LRO:LOOKUP_CONVERSION_TABLE" not in label:
        raise UnreadableFrame(path, "not an LROC WAC EDR (DATA_SET_ID LRO-L-LROC-*, INSTRUMENT_ID LROC and "
                              "LRO:LOOKUP_CONVERSION_TABLE expected)")
    mode = str(label.get("INSTRUMENT_MODE_ID", "")).upper()
    if mode not in _MODES:
        raise UnsupportedFormat(path, f"WAC INSTRUMENT_MODE_ID {mode!r} is not COLOR, VIS, UV or BW")
    filters_raw = label.get("FILTER_NUMBER")
    filters_raw = filters_raw if isinstance(filters_raw, tuple) else (filters_raw,)
    centers = label.get("CENTER_FILTER_WAVELENGTH")
    centers = centers if isinstance(centers, tuple) else (centers,)
    widths = label.get("BANDWIDTH", ())
    widths = widths if isinstance(widths, tuple) else (widths,)
    try:
        filters = tuple(int(str(_v(f))) for f in filters_raw)
        centers_nm = tuple(float(_v(c)) for c in centers)
        widths_nm = tuple(float(_v(w)) for w in widths)
    except (TypeError, ValueError):
        raise UnreadableFrame(path, "FILTER_NUMBER / CENTER_FILTER_WAVELENGTH / BANDWIDTH are not numbers") from None
    if len(filters) != len(centers_nm):
        raise UnreadableFrame(path, "FILTER_NUMBER and CENTER_FILTER_WAVELENGTH differ in length")
    for f, c in zip(filters, centers_nm):
        if FILTERS.get(f) != c:
            raise UnreadableFrame(path, f"filter {f} with centre {c:g} nm is not a WAC filter ({FILTERS})")
    expected = {"COLOR": (5, 7), "VIS": (5,), "UV": (2,), "BW": (1,)}[mode]
    if len(filters) not in expected:
        raise UnreadableFrame(path, f"{mode} mode with {len(filters)} filters (lrowac2isis expects {expected})")
    image = label.get("IMAGE")  # (pds3_layout refuses WAC EDRs: ingest cannot take them yet)
    if not isinstance(image, Label):
        raise UnreadableFrame(path, "WAC EDR label has no IMAGE object")
    ptr = label.get("^IMAGE")
    if isinstance(ptr, Quantity) and isinstance(ptr.value, int) and ptr.value >= 1:
        offset = ptr.value - 1
    elif isinstance(ptr, int) and ptr >= 1 and isinstance(_v(label.get("RECORD_BYTES")), int):
        offset = (ptr - 1) * _v(label["RECORD_BYTES"])
    else:
        raise UnreadableFrame(path, f"^IMAGE = {ptr!r} is not a record number or <BYTES> offset in this file")
    lines, samples = _v(image.get("LINES")), _v(image.get("LINE_SAMPLES"))
    if _v(image.get("SAMPLE_BITS")) != 8:
        raise UnsupportedFormat(path, f"WAC EDR with SAMPLE_BITS = {_v(image.get('SAMPLE_BITS'))} (8 expected)")
    layout = RawLayout(path=str(path), offset=offset, dtype="|u1", lines=lines, samples=samples)
    check_layout(layout, source=path)
    if mode in ("COLOR", "UV") and samples < UV_SAMPLES:
        raise UnreadableFrame(path, f"{samples} samples per line, fewer than the {UV_SAMPLES} of a UV framelet")
    try:
        start, stop = parse_utc(label.get("START_TIME")), parse_utc(label.get("STOP_TIME"))
    except ValueError as exc:
        raise UnreadableFrame(path, f"WAC EDR time: {exc}") from None
    return WacEdr(
        path=path, offset=offset, lines=lines, samples=samples, mode=mode, filters=filters,
        centers_nm=centers_nm, widths_nm=widths_nm, lut=wac_lut(label, path),
        exposure_s=_seconds(label.get("EXPOSURE_DURATION"), "EXPOSURE_DURATION", path),
        interframe_delay_s=_seconds(label.get("INTERFRAME_DELAY"), "INTERFRAME_DELAY", path),
        start_time=start, stop_time=stop,
    )


def _slots(mode: str, filters: tuple[int, ...]) -> list[tuple[str, int]]:
    """(camera, filter) of each framelet slot of a set, in stored order."""
    if mode == "COLOR":
        return [("UV", 1), ("UV", 2)] + [("VIS", f) for f in (3, 4, 5, 6, 7)]
    if mode == "UV":
        return [("UV", 1), ("UV", 2)]
    if mode == "VIS":
        return [("VIS", f) for f in filters]
    return [("VIS", filters[0])]


def framelet_layout(mode: str, color_offset: int = 0) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(framelet lines per slot, padding lines per slot) of lrowac2isis for a mode.

    >>> framelet_layout("COLOR", 2)
    ((4, 4, 14, 14, 14, 14, 14), (0, 8, 0, 28, 56, 84, 112))
    """
    heights = _MODES[mode]
    padding = []
    for slot, h in enumerate(heights):
        pad = color_offset * h * slot
        if mode == "COLOR" and slot > 1:
            pad -= 2 * color_offset * h  # UV framelets do not count for the VIS offset
        padding.append(pad)
    return heights, tuple(padding)


def output_lines(mode: str, camera: str, input_lines: int, color_offset: int = 0) -> int:
    """Lines of a band-parity image (lrowac2isis's output cube) from the stored lines.

    >>> output_lines("COLOR", "UV", 20280), output_lines("COLOR", "VIS", 100)
    (1040, 18)
    """
    heights, padding = framelet_layout(mode, color_offset)
    per_set = sum(heights)
    if camera == "UV":
        ratio = 4.0 / per_set if mode in ("COLOR", "UV") else 0.0
        max_pad = padding[1]
    else:
        ratio = 14.0 / per_set if mode in ("COLOR", "VIS") else 1.0
        max_pad = padding[-1]
    return int(ratio * input_lines + 0.5) + max_pad


def split_framelets(raw: np.ndarray, edr: WacEdr, *, decompand: bool = True, color_offset: int = 0) -> list[WacImage]:
    """Split the stored EDR array into band-parity images, as lrowac2isis does.

    Parameters
    ----------
    raw : ndarray of uint8, shape (edr.lines, edr.samples)
        The stored image.
    edr : WacEdr
        Its label.
    decompand : bool
        Apply the label's lookup table (lrowac2isis ``UNLUT=yes``, its default).
    color_offset : int
        lrowac2isis ``COLOROFFSETSIZE`` (framelets each filter is shifted by); 0 = off.

    Returns
    -------
    list of WacImage
        UV then VIS; within each, odd then even; within each, filters in band order.

    Examples
    --------
    Two COLOR framelet sets (78 lines each) whose stored value is the slot number:

    >>> heights = framelet_layout("COLOR")[0]
    >>> raw = np.repeat(np.arange(7, dtype=np.uint8), heights)[:, None].repeat(704, 1)
    >>> edr = WacEdr(path=Path("x.img"), offset=0, lines=156, samples=704, mode="COLOR",
    ...              filters=(1, 2, 3, 4, 5, 6, 7), centers_nm=tuple(FILTERS.values()), widths_nm=(),
    ...              lut=None, exposure_s=0.04, interframe_delay_s=0.578125, start_time=None, stop_time=None)
    >>> images = split_framelets(np.vstack([raw, raw]), edr)
    >>> [(i.camera, i.parity, i.filter_number, i.data.shape) for i in images][::5]
    [('UV', 'odd', 1, (8, 128)), ('VIS', 'odd', 4, (28, 704)), ('VIS', 'even', 4, (28, 704))]
    >>> vis3_even = images[9]
    >>> np.isnan(vis3_even.data[:14]).all(), (vis3_even.data[14:] == 2).all()   # set 1 is even
    (np.True_, np.True_)
    """
    raw = np.asarray(raw)
    if raw.shape != (edr.lines, edr.samples):
        raise ValueError(f"raw has shape {raw.shape}, the label says {(edr.lines, edr.samples)}")
    heights, padding = framelet_layout(edr.mode, color_offset)
    slots = _slots(edr.mode, edr.filters)
    per_set = sum(heights)
    line = np.arange(edr.lines)
    set_no, in_set = np.divmod(line, per_set)
    starts = np.cumsum((0,) + heights[:-1])
    slot = np.searchsorted(starts, in_set, side="right") - 1
    in_framelet = in_set - starts[slot]
    even = set_no % 2 == 1  # set 0 is "odd" (ISIS counts framelet sets from 1)
    if decompand and edr.lut is not None:
        values = edr.lut[raw]
    else:
        values = raw.astype(np.float64)
    first = (edr.samples // 2) - UV_SAMPLES // 2
    images = []
    vis_slots = [i for i, (cam, _) in enumerate(slots) if cam == "VIS"]
    uv_slots = [i for i, (cam, _) in enumerate(slots) if cam == "UV"]
    for camera, members in (("UV", uv_slots), ("VIS", vis_slots)):
        if not members:
            continue
        n_lines = output_lines(edr.mode, camera, edr.lines, color_offset)
        f_lines = 4 if camera == "UV" else 14
        cols = slice(first, first + UV_SAMPLES) if camera == "UV" else slice(0, edr.samples)
        n_samples = UV_SAMPLES if camera == "UV" else edr.samples
        for parity, is_even in (("odd", False), ("even", True)):
            for band, s in enumerate(members, start=1):
                pick = (slot == s) & (even == is_even)
                out_line = set_no[pick] * f_lines + padding[s] + in_framelet[pick]
                keep = out_line < n_lines  # ISIS drops lines beyond the cube
                data = np.full((n_lines, n_samples), np.nan, np.float64)
                data[out_line[keep]] = values[line[pick][keep], cols]
                mask = ~np.isfinite(data)
                cam_filter = slots[s][1]
                where = edr.filters.index(cam_filter) if cam_filter in edr.filters else None
                width = edr.widths_nm[where] if where is not None and where < len(edr.widths_nm) else float("nan")
                images.append(WacImage(
                    data=data.astype(np.float32), mask=mask, camera=camera, parity=parity,
                    filter_number=cam_filter, band=band, center_nm=float(FILTERS[cam_filter]), width_nm=width,
                    framelet_lines=f_lines, framelet_height=16 if camera == "UV" else 14,
                    summing=4 if camera == "UV" else 1,
                    naif_ik_code=-85626 if camera == "UV" else -85621,
                    naif_filter_code=(-85640 if camera == "UV" else -85628) - cam_filter,
                    num_framelets=n_lines // f_lines, edr=edr, decompanded=decompand and edr.lut is not None,
                    color_offset=color_offset,
                ))
    return images


def read_wac_edr(path: str | Path, *, decompand: bool = True, color_offset: int = 0,
                 max_bytes: int | None = None) -> list[WacImage]:
    """Read an LRO WAC EDR as one push-frame image per filter and parity.

    Parameters
    ----------
    path : str or Path
        The ``.IMG`` EDR (attached PDS3 label).
    decompand : bool
        Undo the companding table (lrowac2isis's default).
    color_offset : int
        lrowac2isis ``COLOROFFSETSIZE`` (0: no offset).
    max_bytes : int, optional
        Refuse (``LabelTooLarge``) an EDR declaring more bytes.

    Returns
    -------
    list of WacImage
        See :func:`split_framelets`.

    Raises
    ------
    BadFrame
        Unreadable, truncated or not a WAC EDR (message names the file and the reason).

    Examples
    --------
    The real crop ``../shared/reference/pds3/lrowac2isis/wac0000a1c4_cropped.img`` (COLOR
    mode, 100 stored lines) gives 14 images: UV 5 x 128 and VIS 18 x 704, odd and even;
    :func:`split_framelets` shows the splitting on a synthetic EDR.
    """
    edr = read_wac_label(path)
    layout = RawLayout(path=str(edr.path), offset=edr.offset, dtype="|u1", lines=edr.lines, samples=edr.samples)
    check_layout(layout, max_bytes=max_bytes, source=edr.path)
    raw = read_stored(layout, 0, edr.path)
    return split_framelets(raw, edr, decompand=decompand, color_offset=color_offset)
