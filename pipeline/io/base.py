"""What every reader returns, and the :class:`Reader` record of the ``READERS`` registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.frame import FrameType
from pipeline.io.rawarray import RawLayout, read_band

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.frame import FrameMeta

__all__ = ["Described", "Reader", "load_raw"]


@dataclass
class Described:
    """Metadata a reader found in a label/header, before normalisation into FrameMeta.

    Attributes
    ----------
    data_path : Path
        File holding the pixels.
    label_path : Path or None
        Detached label (PDS3 ``.LBL``, PDS4 ``.xml``).
    shape : (lines, samples)
    dtype : str
        numpy dtype name of the stored samples (``uint16``, ``int16``, ``float32``...).
    bands : int
    exposure_s : float or None
        Seconds.
    time_utc : datetime or None
    instrument : str or None
    frame_type : FrameType or None
        None when the label says nothing.
    extra : dict
        Reader-specific facts; raw formats keep their ``layout`` (a RawLayout dict) here.
    """

    data_path: Path
    shape: tuple[int, int]
    dtype: str
    bands: int = 1
    label_path: Path | None = None
    exposure_s: float | None = None
    time_utc: datetime | None = None
    instrument: str | None = None
    frame_type: FrameType | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    """One input format.

    Attributes
    ----------
    name : str
        Registry key, also ``FrameMeta.format``.
    extensions : tuple of str
        Lower-case file suffixes it claims (``.img``, ``.fits``...).
    describe : callable
        ``describe(path, band, max_bytes, data_root=None) -> Described``: label/header
        only, no pixels; data files a label names must resolve inside ``data_root``
        (default: the label's folder).
    load : callable
        ``load(meta, max_bytes) -> (data float32 (lines, samples), mask bool)``.
    """

    name: str
    extensions: tuple[str, ...]
    describe: Callable[..., Described]
    load: Callable[[FrameMeta, int | None], tuple[np.ndarray, np.ndarray]]


def load_raw(meta: FrameMeta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a raw-array format from the ``layout`` kept in ``meta.extra``."""
    layout = RawLayout.from_dict(meta.extra["layout"])
    return read_band(layout, meta.band, max_bytes=max_bytes, source=meta.label_path or meta.path)
