"""Ingest: scan a folder of raw frames into :class:`~pipeline.frame.Frame` objects.

>>> from pipeline.ingestion import ingest, format_inventory
>>> result = ingest("sample_images", calibration="sample_images/calibration")
>>> len(result.frames), len(result.calibration), result.failures
(18, 15, [])

What it does, per folder:

- finds the frame candidates (:func:`pipeline.ingestion.scan.scan_folder`);
- reads each frame's metadata (:func:`pipeline.io.read_meta`: label/header, sidecar and
  content hash; no pixels) and its camera when the sidecar holds an ISD (checked against
  the image size, and its boresight must meet the body: a wrong look direction is rejected
  instead of landing on the far hemisphere);
- flags exact duplicates (same content hash; the first in sorted order is kept);
- gives each frame a unique id (its file stem, suffixed ``_2``, ``_3``... on clashes);
- decides which light frames are film scans (``meta.extra["film"]``,
  :func:`pipeline.ingestion.film.film_decision`: the sidecar's ``film`` key,
  ``film_instruments``, ``film``, or an 8-bit PNG/JPEG/TIFF without exposure duration).

Every per-file problem becomes a :class:`~pipeline.frame.FrameFailure` with the reason;
only a missing ``path`` raises. Pixels are read later (:func:`pipeline.io.load_frame`), on
whichever worker needs them.
"""

from __future__ import annotations

import dataclasses
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import BadGeometry, FarsideError, GeometryError
from pipeline.frame import Frame, FrameFailure, FrameMeta, FrameType
from pipeline.geometry import load_camera
from pipeline.ingestion.film import with_film_flag
from pipeline.ingestion.params import IngestionParams
from pipeline.ingestion.scan import scan_folder
from pipeline.io import read_metas

log = logging.getLogger(__name__)

__all__ = ["IngestResult", "ingest", "read_frames"]

STAGE = "ingest"

_READ_ERRORS = (FarsideError, OSError, ValueError, TypeError, KeyError, IndexError, EOFError, struct.error,
                UnicodeError, OverflowError, MemoryError)
"""What a third-party reader may raise on a damaged file: always turned into a FrameFailure."""


@dataclass
class IngestResult:
    """What :func:`ingest` found.

    Attributes
    ----------
    frames : list of Frame
        LIGHT frames, pixels not loaded, ``camera`` set when the sidecar holds an ISD;
        sorted by path.
    calibration : list of Frame
        BIAS, DARK and FLAT frames (from the calibration folder, or typed so by their label).
    failures : list of FrameFailure
        Rejected files, stage ``"ingest"``, with the reason.
    duplicates : list of (Path, Path)
        ``(kept, duplicate)`` pairs of byte-identical frames; duplicates are not in
        ``frames``/``calibration``.
    """

    frames: list[Frame] = field(default_factory=list)
    calibration: list[Frame] = field(default_factory=list)
    failures: list[FrameFailure] = field(default_factory=list)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)

    @property
    def all_frames(self) -> list[Frame]:
        """Light then calibration frames."""
        return [*self.frames, *self.calibration]

    def summary(self) -> str:
        """One line: counts of frames, calibration frames, duplicates and rejections."""
        return (f"{len(self.frames)} frames ({sum(f.camera is not None for f in self.frames)} with geometry), "
                f"{len(self.calibration)} calibration frames, {len(self.duplicates)} duplicates, "
                f"{len(self.failures)} rejected")




def _unique_id(stem: str, taken: set[str]) -> str:
    if stem not in taken:
        taken.add(stem)
        return stem
    n = 2
    while f"{stem}_{n}" in taken:
        n += 1
    taken.add(f"{stem}_{n}")
    return f"{stem}_{n}"


def _camera(meta: FrameMeta, config: IngestionParams):
    camera = load_camera(meta.isd_path, look_direction=dict(config.look_direction) or None)
    if (camera.lines, camera.samples) != tuple(meta.shape):
        raise BadGeometry(
            meta.isd_path,
            f"ISD image size {camera.lines} x {camera.samples} (lines x samples) differs from the image "
            f"{meta.shape[0]} x {meta.shape[1]} of {meta.path.name}; the sidecar belongs to another image",
        )
    try:  # usgscsm never checks it: a wrong look direction would land on the far hemisphere
        camera.check_boresight()
    except GeometryError as exc:
        raise BadGeometry(meta.isd_path, f"boresight does not meet the body: {exc}") from None
    return camera


def read_frames(path: Path, config: IngestionParams, frame_type: str | None = None,
                data_root: Path | None = None) -> list[Frame | FrameFailure]:
    """The frames of one file — one, or one per filter and parity of an LRO WAC EDR —,
    metadata and camera, no pixels. An image whose camera cannot be used is a
    :class:`FrameFailure` among the others; a file that cannot be read raises ``BadFrame``.

    ``data_root``: the folder every data file its label names must resolve into (symbolic
    links followed); default the label's own folder."""
    metas = read_metas(path, band=config.band, max_bytes=config.max_frame_bytes, frame_type=frame_type,
                       data_root=data_root)
    out: list[Frame | FrameFailure] = []
    for m in metas:
        if m.frame_type == FrameType.LIGHT:
            m = with_film_flag(m, config)
        try:
            out.append(Frame(meta=m, camera=_camera(m, config) if m.isd_path is not None else None))
        except _READ_ERRORS as exc:
            if len(metas) == 1:
                raise
            out.append(FrameFailure(m.isd_path or path, STAGE, f"{m.id}: {_reason(exc, path)}"))
    return out


def _reason(exc: BaseException, source: Path) -> str:
    reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    where = getattr(exc, "path", None)
    if where is not None and Path(where) != source:
        reason = f"{Path(where).name}: {reason}"
    return reason


def ingest(
    path: str | Path, *, calibration: str | Path | None = None, config: IngestionParams | None = None
) -> IngestResult:
    """Scan a folder (or read one file) of raw frames.

    Parameters
    ----------
    path : str or Path
        Folder of frames (or a single frame file).
    calibration : str or Path, optional
        Folder of calibration frames (bias, dark, flat), searched with its sub-folders (one
        per detector is usual; :mod:`pipeline.calibration.masterset`). Frames there whose label or
        sidecar does not give their type are typed from their file name (``BIAS_*``,
        ``DARK_*``, ``FLAT_*``).
    config : IngestionParams, optional
        ``recursive``, ``band``, ``max_frame_bytes``, ``look_direction``, ``film``,
        ``film_instruments``.

    Returns
    -------
    IngestResult

    Raises
    ------
    FarsideError
        ``path`` does not exist. Everything else is a ``FrameFailure`` in the result.
    """
    config = config or IngestionParams()
    path = Path(path)
    if not path.exists():
        raise FarsideError(f"{path}: no such file or folder; give the folder of raw frames")
    result = IngestResult()
    cal_dir = Path(calibration) if calibration is not None else None
    sources: list[tuple[Path, str | None, Path | None]] = []  # (file, frame type, data root)
    if path.is_file():
        sources.append((path, None, None))
    else:
        skip = [cal_dir.resolve()] if cal_dir is not None and cal_dir.exists() else []
        candidates, fails = scan_folder(path, recursive=config.recursive, skip_dirs=skip)
        result.failures.extend(fails)
        sources.extend((c, None, path) for c in candidates)
    if cal_dir is not None:
        if not cal_dir.is_dir():
            result.failures.append(FrameFailure(cal_dir, STAGE, "calibration folder does not exist"))
        else:
            candidates, fails = scan_folder(cal_dir, recursive=True)  # a sub-folder per detector is usual
            result.failures.extend(fails)
            sources.extend((c, "calibration", cal_dir) for c in candidates)

    seen_hash: dict[str, Path] = {}
    taken: set[str] = set()
    for source, ftype, root in sources:
        try:
            found = read_frames(source, config, ftype, root)
        except _READ_ERRORS as exc:
            reason = _reason(exc, source)
            log.warning("rejected %s: %s", source, reason)
            result.failures.append(FrameFailure(source, STAGE, reason))
            continue
        for frame in found:
            if isinstance(frame, FrameFailure):
                log.warning("rejected %s", frame)
                result.failures.append(frame)
                continue
            meta = frame.meta
            first = seen_hash.get(meta.content_hash)
            if first is not None:
                log.warning("%s duplicates %s (same content); keeping the first", meta.path, first)
                result.duplicates.append((first, meta.path))
                continue
            seen_hash[meta.content_hash] = meta.path
            uid = _unique_id(meta.id, taken)
            if uid != meta.id:
                frame = frame.replace(meta=dataclasses.replace(meta, id=uid))
            if frame.meta.frame_type == FrameType.LIGHT:
                if ftype == "calibration":
                    log.warning("%s in the calibration folder is a LIGHT frame; ingesting it as a light frame",
                                source)
                result.frames.append(frame)
            else:
                result.calibration.append(frame)
    films = [f for f in result.frames if f.meta.extra.get("film")]
    if films:
        sources = sorted({f.meta.extra["film_source"] for f in films})
        log.info("%d of %d light frames are film scans (fiducial marks removed, no cosmic-ray repair): %s",
                 len(films), len(result.frames), "; ".join(sources))
    log.info("ingest %s: %s", path, result.summary())
    return result


