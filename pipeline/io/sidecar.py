"""The ``<stem>.json`` sidecar beside a frame: a USGS CSM ISD, and/or frame facts.

The sidecar is the ISD written by USGS ALE ``isd_generate`` for a frame camera
(``"name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL"``); for a label-less image (TIFF, PNG,
JPEG) it may also carry ``exposure_duration`` (seconds), ``frame_type`` (LIGHT, BIAS,
DARK, FLAT) and ``start_time`` (ISO 8601 UTC), and any sidecar may say ``film`` (true for a
film scan: fiducial marks removed, no cosmic-ray repair; false to refuse the automatic guess). A
sidecar with only those keys (no ISD) is fine: the frame simply has no camera.

This module only reads and checks the JSON; the camera is built by
:meth:`pipeline.geometry.FrameCamera.from_isd`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import BadFrame, BadGeometry
from pipeline.frame import FrameType
from pipeline.io.normalize import parse_frame_type, parse_utc

__all__ = ["ISD_KEYS", "MAX_SIDECAR_BYTES", "SidecarInfo", "find_sidecar", "read_sidecar", "sidecar_facts"]

MAX_SIDECAR_BYTES = 64 * 1024**2
"""Refuse sidecars larger than this (an ALE ISD with long ephemerides is a few MB)."""

ISD_KEYS = (
    "name_model", "image_lines", "image_samples", "focal_length_model", "focal2pixel_lines",
    "instrument_position", "instrument_pointing", "sensor_position", "sensor_orientation",
)
"""Keys whose presence makes a sidecar an ISD (then it must be a valid one: a broken ISD
is reported, never silently ignored)."""


@dataclass(frozen=True)
class SidecarInfo:
    """A parsed sidecar.

    Attributes
    ----------
    path : Path
    doc : dict
        The whole JSON object (the ISD when :attr:`has_isd`).
    exposure_s : float or None
        ``exposure_duration`` in seconds.
    frame_type : FrameType or None
    time_utc : datetime or None
        ``start_time``.
    instrument : str or None
        ``instrument_id`` if given, else the ISD's ``name_sensor``.
    image_shape : (int, int) or None
        ``(image_lines, image_samples)`` of the ISD when both are positive integers.
    film : bool or None
        ``film``: the frame is (true) or is not (false) a film scan; None when not said.
    """

    path: Path
    doc: dict[str, Any] = field(repr=False)
    exposure_s: float | None = None
    frame_type: FrameType | None = None
    time_utc: datetime | None = None
    instrument: str | None = None
    image_shape: tuple[int, int] | None = None
    film: bool | None = None

    @property
    def has_isd(self) -> bool:
        """True when the sidecar is (or tries to be) a camera ISD (any of :data:`ISD_KEYS`)."""
        return any(k in self.doc for k in ISD_KEYS)

    @property
    def isd(self) -> dict[str, Any] | None:
        """The ISD document, or ``None`` when the sidecar holds frame facts only."""
        return self.doc if self.has_isd else None


def find_sidecar(*paths: Path | None) -> Path | None:
    """The ``<stem>.json`` (or ``.JSON``) beside the first of ``paths`` that has one."""
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        for suffix in (".json", ".JSON"):
            cand = p.with_suffix(suffix)
            if cand != p and cand.is_file():
                return cand
    return None


def read_sidecar(path: str | Path) -> SidecarInfo:
    """Read and check a sidecar.

    Parameters
    ----------
    path : str or Path
        The ``<stem>.json`` file.

    Returns
    -------
    SidecarInfo

    Raises
    ------
    BadGeometry
        Not readable, larger than :data:`MAX_SIDECAR_BYTES`, not JSON, not a JSON object.
    BadFrame
        ``exposure_duration`` not a finite non-negative number of seconds, unknown
        ``frame_type``, ``start_time`` not a time, ``film`` not true or false.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise BadGeometry(path, f"sidecar is {size} bytes, more than the {MAX_SIDECAR_BYTES} allowed; "
                                    f"is it really an ISD?")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadGeometry(path, f"cannot read the sidecar: {exc}") from None
    try:
        # NaN/Infinity are parsed so that the camera reports them as non-finite ISD values
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadGeometry(
            path,
            f"sidecar is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            f"regenerate it with ALE isd_generate",
        ) from None
    except (RecursionError, ValueError) as exc:
        raise BadGeometry(path, f"sidecar is not usable JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadGeometry(path, f"sidecar must hold a JSON object, found a {type(doc).__name__}")

    exposure = None
    if doc.get("exposure_duration") is not None:
        raw = doc["exposure_duration"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 0:
            raise BadFrame(path, f"exposure_duration must be a finite non-negative number of seconds, got {raw!r}")
        exposure = float(raw)
    ftype = None
    if doc.get("frame_type") is not None:
        try:
            ftype = parse_frame_type(doc["frame_type"])
        except ValueError as exc:
            raise BadFrame(path, f"frame_type: {exc}") from None
    time_utc = None
    if doc.get("start_time") is not None:
        try:
            time_utc = parse_utc(doc["start_time"])
        except (ValueError, OverflowError) as exc:
            raise BadFrame(path, f"start_time: {exc}; use ISO 8601 UTC, e.g. 2031-03-14T06:00:00.000Z") from None
    film = doc.get("film")
    if film is not None and not isinstance(film, bool):
        raise BadFrame(path, f"film must be true or false (JSON), got {film!r}")
    instrument = doc.get("instrument_id") or doc.get("name_sensor")
    shape = None
    lines, samples = doc.get("image_lines"), doc.get("image_samples")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
           and float(v).is_integer() for v in (lines, samples)):
        shape = (int(lines), int(samples))
    return SidecarInfo(path, doc, exposure, ftype, time_utc, str(instrument) if instrument else None, shape, film)


def sidecar_facts(info: SidecarInfo) -> dict[str, Any]:
    """The sidecar's frame facts that go to ``FrameMeta.extra``: ``sidecar_film`` (the
    ``film`` key, when given; ingest turns it into ``extra["film"]``).

    >>> sidecar_facts(SidecarInfo(Path("f.json"), {}, film=True))
    {'sidecar_film': True}
    """
    return {} if info.film is None else {"sidecar_film": info.film}


Sidecar = SidecarInfo
"""Alias."""
