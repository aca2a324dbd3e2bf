"""Normalisation of label values: exposure to seconds, times to UTC, frame types.

Every function takes whatever a label holds (number, string, :class:`~pipeline.io.odl.Quantity`,
one-element sequence) and returns a clean Python value, or raises :class:`ValueError`
with a short reason that the readers wrap into a :class:`~pipeline.errors.BadFrame`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pipeline.frame import FrameType
from pipeline.io.odl import Quantity

__all__ = ["UNIT_SECONDS", "exposure_seconds", "parse_frame_type", "parse_utc"]

UNIT_SECONDS: dict[str, float] = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 0.001, "msec": 0.001, "msecs": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "us": 1e-6, "usec": 1e-6, "µs": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "ns": 1e-9, "nsec": 1e-9, "nanosecond": 1e-9, "nanoseconds": 1e-9,
    "min": 60.0, "minute": 60.0, "minutes": 60.0,
}
"""Seconds per unit, keyed by lower-case unit spelling (PDS3 ``<MS>``, PDS4 ``unit="ms"``...)."""


def _unwrap(value: Any) -> Any:
    while isinstance(value, (tuple, list)):
        if len(value) == 0:
            return None
        value = value[0]
    return value


def exposure_seconds(value: Any, unit: str | None = None, *, default_unit: str = "s") -> float | None:
    """Exposure duration in seconds.

    Parameters
    ----------
    value : number, str, Quantity or sequence
        The label value; a :class:`Quantity` carries its unit (``12.6 <MS>``).
    unit : str, optional
        Unit given separately (PDS4 ``unit`` attribute); wins over ``default_unit``.
    default_unit : str
        Unit assumed when none is given (PDS3 and FITS: seconds).

    Returns
    -------
    float or None
        Seconds (``None`` when ``value`` is ``None``).

    Raises
    ------
    ValueError
        Unknown unit, not a number, negative or non-finite.
    """
    value = _unwrap(value)
    if value is None:
        return None
    if isinstance(value, Quantity):
        unit = unit or value.unit
        value = _unwrap(value.value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*<?\s*([A-Za-zµ]*)\s*>?\s*", value)
        if not m:
            raise ValueError(f"exposure duration {value!r} is not a number")
        value, unit = m.group(1), unit or (m.group(2) or None)
    if isinstance(value, bool):
        raise ValueError(f"exposure duration {value!r} is not a number")  # noqa: TRY004 - readers wrap ValueError
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"exposure duration {value!r} is not a number") from None
    key = (unit or default_unit).strip().lower()
    if key not in UNIT_SECONDS:
        raise ValueError(f"unknown exposure unit {unit!r} (expected one of s, ms, us)")
    per = UNIT_SECONDS[key]
    # convert in decimal so 11.3 ms gives the double nearest 0.0113 s (not 0.011300000000000001)
    try:
        seconds = float(Decimal(repr(number)) * Decimal(repr(per))) if math.isfinite(number) else number
    except InvalidOperation:  # pragma: no cover - repr of a finite float is always decimal
        seconds = number * per
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"exposure duration {value!r} {unit or default_unit} is negative or not finite")
    return seconds


_DOY = re.compile(r"(\d{4})-(\d{3})(?:T(.*))?\Z")


def parse_utc(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from a label time.

    Accepts ISO 8601 calendar (``2009-11-29T14:51:21.968``) and day-of-year
    (``2009-333T14:51:21.968``) forms, with or without ``Z``, any number of fraction
    digits, a date alone, and ``datetime`` objects. ``N/A``/``UNK``/empty give ``None``.

    Raises
    ------
    ValueError
        The text is not a time.
    """
    value = _unwrap(value)
    if isinstance(value, Quantity):
        value = value.value
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = str(value).strip().strip('"').strip()
    if text.upper() in ("", "N/A", "UNK", "NULL", "NONE", "UNKNOWN"):
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1]
    m = _DOY.match(text)
    if m:
        year, doy, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        if not 1 <= doy <= 366:
            raise ValueError(f"day of year {doy} out of range in {value!r}")
        base = datetime(year, 1, 1) + timedelta(days=doy - 1)
        text = base.strftime("%Y-%m-%d") + (f"T{rest}" if rest else "")
    # fromisoformat wants 0, 3 or 6 fraction digits (3.11 accepts any up to 6): trim / pad
    m = re.fullmatch(r"(.*?\d{2}:\d{2}:\d{2})\.(\d+)(.*)", text)
    if m:
        text = f"{m.group(1)}.{(m.group(2) + '000000')[:6]}{m.group(3)}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 UTC time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_FRAME_TYPES = {
    "LIGHT": FrameType.LIGHT, "OBJECT": FrameType.LIGHT, "SCIENCE": FrameType.LIGHT,
    "LIGHT FRAME": FrameType.LIGHT, "LIGHTFRAME": FrameType.LIGHT, "IMAGE": FrameType.LIGHT,
    "BIAS": FrameType.BIAS, "ZERO": FrameType.BIAS, "BIAS FRAME": FrameType.BIAS, "OFFSET": FrameType.BIAS,
    "DARK": FrameType.DARK, "DARK FRAME": FrameType.DARK, "DARK CURRENT": FrameType.DARK,
    "FLAT": FrameType.FLAT, "FLAT FRAME": FrameType.FLAT, "FLAT FIELD": FrameType.FLAT,
    "FLATFIELD": FrameType.FLAT, "FLAT-FIELD": FrameType.FLAT, "SKYFLAT": FrameType.FLAT,
    "DOMEFLAT": FrameType.FLAT, "LAMPFLAT": FrameType.FLAT,
}


def parse_frame_type(value: Any) -> FrameType | None:
    """:class:`FrameType` of a label/header/sidecar value (``None`` when absent).

    Accepts the four names in any case and common synonyms (FITS ``IMAGETYP``
    ``Light Frame``, ``Bias Frame``, ``Dark Frame``, ``Flat Field``, ``zero``, ``object``).

    Raises
    ------
    ValueError
        A value that names none of them.
    """
    value = _unwrap(value)
    if value is None:
        return None
    if isinstance(value, FrameType):
        return value
    key = " ".join(str(value).replace("_", " ").split()).upper()
    if key in _FRAME_TYPES:
        return _FRAME_TYPES[key]
    raise ValueError(f"unknown frame type {value!r} (expected LIGHT, BIAS, DARK or FLAT)")
