"""Typed containers for frames moving through the pipeline.

Conventions
-----------
- Arrays are ``(line, sample)`` = ``(row, col)``; science data are ``float32``.
- ``mask`` is a bool array of the same shape where ``True`` marks an *invalid* pixel
  (numpy.ma convention): saturated, missing, off-body, ...
- ``repaired`` (after calibration) flags the pixels calibration replaced from their
  neighbours: hot/dead/noisy detector pixels and cosmic-ray hits. They are valid data
  unless ``calibration.mask_repaired`` also puts them in ``mask``.
- Times are timezone-aware UTC ``datetime``; exposure is in seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.geometry import Camera


class FrameType(str, Enum):
    """What a frame is for: a science exposure or a calibration frame."""

    LIGHT = "LIGHT"
    BIAS = "BIAS"
    DARK = "DARK"
    FLAT = "FLAT"


@dataclass(frozen=True)
class FrameMeta:
    """Normalised metadata of one frame, read eagerly and cheaply by ingest.

    Attributes
    ----------
    id : str
        Unique, stable identifier (the file stem, de-duplicated within a batch).
    path : Path
        The image (data) file.
    format : str
        Reader name, a key of ``pipeline.io.READERS`` (``pds3``, ``pds4``, ``fits``,
        ``isis3``, ``tiff``, ``png``, ``jpeg``).
    shape : tuple of int
        ``(lines, samples)`` of the band that is read.
    dtype : str
        numpy dtype name of the stored samples (before scaling).
    frame_type : FrameType
    exposure_s : float or None
        Exposure duration in seconds.
    time_utc : datetime or None
        Start (or mid) time of the exposure, UTC.
    instrument : str or None
    content_hash : str
        SHA-256 hex digest of the data file (and label when detached).
    label_path : Path or None
        Detached label, when there is one.
    isd_path : Path or None
        The ``<stem>.json`` ISD sidecar, when there is one.
    band : int
        Zero-based band index read from multi-band products.
    extra : dict
        Reader-specific facts kept for provenance (scaling, special constants, ...).
    """

    id: str
    path: Path
    format: str
    shape: tuple[int, int]
    dtype: str
    frame_type: FrameType = FrameType.LIGHT
    exposure_s: float | None = None
    time_utc: datetime | None = None
    instrument: str | None = None
    content_hash: str = ""
    label_path: Path | None = None
    isd_path: Path | None = None
    band: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Frame:
    """One frame: metadata, optional camera, and pixels once loaded.

    ``data`` is ``None`` until :func:`pipeline.io.load_frame` reads it, so frames are cheap
    to create and to ship to cluster workers, which read the pixels themselves. This module
    holds data only: no I/O.
    """

    meta: FrameMeta
    camera: Camera | None = None
    data: np.ndarray | None = None
    mask: np.ndarray | None = None
    qa: dict[str, Any] = field(default_factory=dict)
    repaired: np.ndarray | None = None

    @property
    def id(self) -> str:
        """The frame's identifier (``meta.id``)."""
        return self.meta.id

    @property
    def loaded(self) -> bool:
        """Whether the pixel data is in memory."""
        return self.data is not None

    def replace(self, **changes: Any) -> Frame:
        """Return a copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class FrameFailure:
    """A frame that a stage rejected: reported, never fatal to the batch."""

    path: Path
    stage: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} [{self.stage}]: {self.reason}"
