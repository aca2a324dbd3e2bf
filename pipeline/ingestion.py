"""Ingest: scan a folder of raw frames into :class:`~pipeline.frame.Frame` objects.

>>> from pipeline.ingestion import ingest, format_inventory
>>> result = ingest("sample_images", calibration="sample_images/calibration")
>>> len(result.frames), len(result.calibration), result.failures      # doctest: +SKIP
(18, 15, [])
>>> print(format_inventory(result))                                   # doctest: +SKIP

What it does, per folder:

- lists files (recursively with ``config.recursive``), skipping hidden files, notes and
  tables (``.md``, ``.txt``, ``.csv``, ``.yaml``...), sidecars (``.json``: a lone sidecar
  is not a frame) and ``truth/`` and ``calibration/`` subfolders (unless the latter is the
  ``calibration`` argument);
- pairs labels with data files: a PDS4 ``.xml`` claims the files it names, a PDS3
  ``.LBL`` its same-stem data file, so no data file is read twice;
- reads each frame's metadata (:func:`pipeline.io.read_meta`: label/header, sidecar and
  content hash; no pixels) and its camera when the sidecar holds an ISD (checked against
  the image size, and its boresight must meet the body: a wrong look direction is rejected
  instead of landing on the far hemisphere);
- flags exact duplicates (same content hash; the first in sorted order is kept);
- gives each frame a unique id (its file stem, suffixed ``_2``, ``_3``... on clashes).

Every per-file problem becomes a :class:`~pipeline.frame.FrameFailure` with the reason;
only a missing ``path`` raises.

Pixels are read later (:meth:`Frame.load` or :func:`as_dask_array`), on whichever worker
needs them. This module is the one place of ingest that may import dask, and only inside
:func:`as_dask_array`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import IngestConfig
from pipeline.errors import BadGeometry, FarsideError
from pipeline.frame import Frame, FrameFailure, FrameMeta, FrameType

log = logging.getLogger(__name__)

__all__ = [
    "IGNORED_SUFFIXES",
    "SKIPPED_FOLDERS",
    "IngestResult",
    "as_dask_array",
    "format_inventory",
    "ingest",
    "inventory_rows",
    "scan_folder",
]

STAGE = "ingest"

IGNORED_SUFFIXES = frozenset({
    ".md", ".txt", ".csv", ".tsv", ".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".log",
    ".html", ".htm", ".pdf", ".py", ".ipynb", ".npz", ".npy", ".fmt", ".cat", ".pvl", ".hdr",
    ".rst", ".sh", ".zip", ".gz", ".tar", ".md5", ".sha256", ".ovr", ".msk", ".aux",
})
"""Suffixes never taken for frames (notes, tables, configs, sidecars, PDS catalog/format files)."""

SKIPPED_FOLDERS = frozenset({"truth", "calibration"})
"""Subfolder names skipped while scanning frames (``calibration`` is scanned when it is the
``calibration`` argument)."""

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


# ----------------------------------------------------------------------------- scanning


def _list_files(folder: Path, recursive: bool, skip_dirs: set[Path]) -> list[Path]:
    out: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        log.warning("%s: cannot list folder (%s)", folder, exc.strerror)
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if recursive and entry.resolve() not in skip_dirs and entry.name.lower() not in SKIPPED_FOLDERS:
                out.extend(_list_files(entry, recursive, skip_dirs))
            continue
        if entry.is_file():
            out.append(entry)
    return out


def scan_folder(folder: str | Path, *, recursive: bool = False, skip_dirs: Iterable[Path] = ()) -> tuple[list[Path], list[FrameFailure]]:
    """Frame candidates of a folder: one path per product (label or image), sorted.

    Parameters
    ----------
    folder : str or Path
    recursive : bool
        Descend into subfolders (never ``truth/`` or ``calibration/``).
    skip_dirs : iterable of Path
        Further folders to skip (resolved paths).

    Returns
    -------
    candidates : list of Path
        PDS4 ``.xml`` labels, PDS3 ``.LBL`` labels and image files not claimed by a label.
    failures : list of FrameFailure
        Files rejected while pairing (none at present; reserved for scan problems).
    """
    from pipeline.io import DATA_SUFFIXES
    from pipeline.io.pds4 import MAX_XML_BYTES, parse_pds4, pds4_data_names

    folder = Path(folder)
    files = _list_files(folder, recursive, {Path(p).resolve() for p in skip_dirs})
    files = [f for f in files if f.suffix.lower() not in IGNORED_SUFFIXES and not f.name.lower().endswith(".aux.xml")]
    claimed: set[Path] = set()
    by_dir_stem: dict[tuple[Path, str], list[Path]] = {}
    for f in files:
        by_dir_stem.setdefault((f.parent, f.stem.lower()), []).append(f)
    for f in files:
        suffix = f.suffix.lower()
        if suffix == ".xml":
            names: list[str] = []
            try:
                if f.stat().st_size <= MAX_XML_BYTES:
                    names = pds4_data_names(parse_pds4(f))
            except FarsideError:
                names = []
            if names:
                lowered = {n.lower() for n in names}
                claimed.update(g for g in files if g.parent == f.parent and g.name.lower() in lowered and g != f)
            else:  # unreadable label: its same-stem data file is reported with it, not on its own
                claimed.update(g for g in by_dir_stem.get((f.parent, f.stem.lower()), [])
                               if g.suffix.lower() in DATA_SUFFIXES)
        elif suffix == ".lbl":
            claimed.update(g for g in by_dir_stem.get((f.parent, f.stem.lower()), [])
                           if g != f and g.suffix.lower() in DATA_SUFFIXES)
    candidates = sorted(f for f in files if f not in claimed)
    return candidates, []


# ----------------------------------------------------------------------------- ingest


def _unique_id(stem: str, taken: set[str]) -> str:
    if stem not in taken:
        taken.add(stem)
        return stem
    n = 2
    while f"{stem}_{n}" in taken:
        n += 1
    taken.add(f"{stem}_{n}")
    return f"{stem}_{n}"


def _camera(meta: FrameMeta, config: IngestConfig):
    from pipeline.errors import GeometryError
    from pipeline.geometry.camera import FrameCamera

    camera = FrameCamera.from_file(meta.isd_path, look_direction=dict(config.look_direction) or None)
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


def _read_one(path: Path, config: IngestConfig, frame_type: str | None, data_root: Path | None = None) -> Frame:
    from pipeline.io import read_meta

    meta = read_meta(path, band=config.band, max_bytes=config.max_frame_bytes, frame_type=frame_type,
                     data_root=data_root)
    camera = _camera(meta, config) if meta.isd_path is not None else None
    return Frame(meta=meta, camera=camera)


def ingest(path: str | Path, *, calibration: str | Path | None = None, config: IngestConfig | None = None) -> IngestResult:
    """Scan a folder (or read one file) of raw frames.

    Parameters
    ----------
    path : str or Path
        Folder of frames (or a single frame file).
    calibration : str or Path, optional
        Folder of calibration frames (bias, dark, flat). Frames there whose label or
        sidecar does not give their type are typed from their file name (``BIAS_*``,
        ``DARK_*``, ``FLAT_*``).
    config : IngestConfig, optional
        ``recursive``, ``band``, ``max_frame_bytes``, ``look_direction``.

    Returns
    -------
    IngestResult

    Raises
    ------
    FarsideError
        ``path`` does not exist. Everything else is a ``FrameFailure`` in the result.
    """
    config = config or IngestConfig()
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
            candidates, fails = scan_folder(cal_dir, recursive=config.recursive)
            result.failures.extend(fails)
            sources.extend((c, "calibration", cal_dir) for c in candidates)

    seen_hash: dict[str, Path] = {}
    taken: set[str] = set()
    for source, ftype, root in sources:
        try:
            frame = _read_one(source, config, ftype, root)
        except _READ_ERRORS as exc:
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            where = getattr(exc, "path", None)
            if where is not None and Path(where) != source:
                reason = f"{Path(where).name}: {reason}"
            log.warning("rejected %s: %s", source, reason)
            result.failures.append(FrameFailure(source, STAGE, reason))
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
            from dataclasses import replace

            frame = frame.replace(meta=replace(meta, id=uid))
        if frame.meta.frame_type == FrameType.LIGHT:
            if ftype == "calibration":
                log.warning("%s in the calibration folder is a LIGHT frame; ingesting it as a light frame", source)
            result.frames.append(frame)
        else:
            result.calibration.append(frame)
    log.info("ingest %s: %s", path, result.summary())
    return result


# ----------------------------------------------------------------------------- laziness


def as_dask_array(frame: Frame, *, with_mask: bool = False):
    """Lazy dask array of a frame's pixels (float32, one chunk, read on compute).

    Parameters
    ----------
    frame : Frame
    with_mask : bool
        Also return the lazy bool mask (True = invalid).

    Returns
    -------
    dask.array.Array of float32, shape (lines, samples)
        (and the mask array when ``with_mask``). The task key is a token of the frame's
        content hash and band, so it is the same in every run.
    """
    import dask
    import dask.array as da
    from dask.base import tokenize

    from pipeline.io import read_pixels

    meta = frame.meta
    token = tokenize(meta.content_hash, meta.band, str(meta.path))
    if frame.loaded:
        pair = dask.delayed((frame.data, frame.mask), pure=True)
    else:
        pair = dask.delayed(read_pixels, pure=True)(meta, dask_key_name=f"read-pixels-{token}")
    data = da.from_delayed(pair[0], shape=tuple(meta.shape), dtype="float32", name=f"pixels-{token}")
    if not with_mask:
        return data
    mask = da.from_delayed(pair[1], shape=tuple(meta.shape), dtype=bool, name=f"mask-{token}")
    return data, mask


# ----------------------------------------------------------------------------- inventory


def _row(frame: Frame, status: str) -> dict[str, Any]:
    m = frame.meta
    return {
        "name": m.id,
        "path": str(m.path),
        "format": m.format,
        "shape": f"{m.shape[0]}x{m.shape[1]}",
        "dtype": m.dtype,
        "frame_type": m.frame_type.value,
        "exposure_s": m.exposure_s,
        "time": m.time_utc.isoformat().replace("+00:00", "Z") if m.time_utc else None,
        "instrument": m.instrument,
        "geometry": "yes" if frame.camera is not None else "no",
        "status": status,
    }


def inventory_rows(result: IngestResult) -> list[dict[str, Any]]:
    """One dict per file: frames, calibration frames, duplicates, then rejected files.

    Keys: ``name``, ``path``, ``format``, ``shape`` (``"LxS"``), ``dtype``, ``frame_type``,
    ``exposure_s`` (seconds), ``time`` (ISO 8601 UTC), ``instrument``, ``geometry``
    (``"yes"``/``"no"``), ``status`` (``"ok"``, ``"duplicate of <path>"`` or
    ``"rejected: <reason>"``).
    """
    rows = [_row(f, "ok") for f in result.frames]
    rows += [_row(f, "ok") for f in result.calibration]
    empty = {k: None for k in ("format", "shape", "dtype", "frame_type", "exposure_s", "time", "instrument")}
    for kept, dup in result.duplicates:
        rows.append({"name": Path(dup).stem, "path": str(dup), **empty, "geometry": None,
                     "status": f"duplicate of {kept}"})
    for failure in result.failures:
        rows.append({"name": Path(failure.path).name, "path": str(failure.path), **empty, "geometry": None,
                     "status": f"rejected: {failure.reason}"})
    return rows


def format_inventory(result: IngestResult) -> str:
    """Aligned text table of the frames and calibration frames, then duplicates and the
    rejected files with their reasons (``farside ingest``)."""
    cols = ("name", "format", "type", "shape", "dtype", "exposure_s", "time", "geometry")
    table = []
    for f in result.all_frames:
        r = _row(f, "ok")
        table.append((r["name"], r["format"], r["frame_type"], r["shape"], r["dtype"],
                      "-" if r["exposure_s"] is None else f"{r['exposure_s']:.6g}", r["time"] or "-", r["geometry"]))
    widths = [max([len(c)] + [len(str(row[i])) for row in table]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    lines.append("")
    lines.append(result.summary())
    if result.duplicates:
        lines.append(f"duplicates ({len(result.duplicates)}), not ingested:")
        lines += [f"  {dup}  (same content as {kept})" for kept, dup in result.duplicates]
    if result.failures:
        lines.append(f"rejected ({len(result.failures)}):")
        lines += [f"  {x.path}: {x.reason}" for x in result.failures]
    return "\n".join(lines)
