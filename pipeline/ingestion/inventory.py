"""The inventory of an ingest: one row per file, as a table for ``farside ingest``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.frame import Frame
from pipeline.ingestion.ingest import IngestResult

__all__ = ["format_inventory", "inventory_rows"]



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
