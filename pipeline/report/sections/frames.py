"""The frames section: the rejected list and two per-frame tables (acquisition and
calibration; geometry, registration and equalisation), each fitting a page width."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..context import PageContext
from ..data import FrameRow, ReportData
from ..markup import esc, not_run, num, span, table, triple

__all__ = ["frames_section", "rejected_block", "status_badge"]

ACQ_HEAD = ("id", "file", "format", "shape", "exposure (s)", "time (UTC)", "status", "reason", "level",
            "noise", "masked %", "cosmic rays")
"""Columns of the acquisition and calibration table (``id="frame-table"``)."""

GEO_HEAD = ("id", "status", "centre lon, lat (°)", "incidence (°)", "emission (°)", "tie points",
            "pointing correction (°)", "residual before (px)", "residual after (px)", "gain", "offset")
"""Columns of the geometry, registration and equalisation table (``id="frame-geometry-table"``)."""


def status_badge(f: FrameRow) -> str:
    """The frame's status as a coloured badge (green used, red rejected, amber otherwise)."""
    cls = "rejected" if f.rejected else ("" if f.status.strip().lower() == "used" else "other")
    return f'<span class="badge {cls}">{esc(f.status)}</span>'


def _centre(f: FrameRow) -> str:
    """Mean lon (0..360), lat of the footprint's vertices, degrees."""
    if not f.footprint_lonlat:
        return "–"
    a = np.asarray(f.footprint_lonlat, float).reshape(-1, 2)
    lon = np.unwrap(a[:, 0], period=360.0)
    return f"{float(np.mean(lon)) % 360:.2f}, {float(np.mean(a[:, 1])):.2f}"


def _id_cell(f: FrameRow) -> str:
    return f"<td><b>{esc(f.id)}</b></td>"


def _acq_cells(f: FrameRow) -> list[str]:
    masked = None if f.masked_fraction is None else 100.0 * f.masked_fraction
    shape = "×".join(str(int(v)) for v in f.shape) if f.shape else "–"
    return [
        _id_cell(f),
        f'<td class="file" title="{esc(f.path)}">{esc(Path(f.path).name)}</td>',
        f"<td>{esc(f.format)}</td>",
        f"<td>{esc(shape)}</td>",
        f'<td class="num">{num(f.exposure_s, ".4g")}</td>',
        f"<td>{esc(f.time_utc or '–')}</td>",
        f"<td>{status_badge(f)}</td>",
        f'<td class="reason">{esc(f.reason) if f.reason else "–"}</td>',
        f'<td class="num">{num(f.level, ".4g")}</td>',
        f'<td class="num">{num(f.noise, ".3g")}</td>',
        f'<td class="num">{num(masked, ".2f")}</td>',
        f'<td class="num">{num(f.cosmic_rays, "d")}</td>',
    ]


def _geo_cells(f: FrameRow) -> list[str]:
    return [
        _id_cell(f),
        f"<td>{status_badge(f)}</td>",
        f'<td class="num">{_centre(f)}</td>',
        f'<td class="num">{span(f.incidence_deg)}</td>',
        f'<td class="num">{span(f.emission_deg)}</td>',
        f'<td class="num">{num(f.tie_points, "d")}</td>',
        f'<td class="num">{triple(f.correction_deg, ".4f")}</td>',
        f'<td class="num">{num(f.residual_before_px, ".3f")}</td>',
        f'<td class="num">{num(f.residual_after_px, ".3f")}</td>',
        f'<td class="num">{num(f.gain, ".4f")}</td>',
        f'<td class="num">{num(f.offset, ".4g")}</td>',
    ]


def _table(table_id: str, head: tuple[str, ...], frames: list[FrameRow],
           cells: Callable[[FrameRow], list[str]], mark_rows: bool) -> str:
    """One row per frame (class ``rejected`` on rejected ones; ``data-frame-id`` when
    ``mark_rows``), in a horizontally scrolling box."""
    rows = []
    for f in frames:
        cls = ' class="rejected"' if f.rejected else ""
        attr = f' data-frame-id="{esc(f.id)}"' if mark_rows else ""
        rows.append(f"<tr{cls}{attr}>{''.join(cells(f))}</tr>")
    return table(table_id, head, "".join(rows))


def rejected_block(frames: list[FrameRow]) -> str:
    """The red box listing rejected frames and why; empty when none was rejected."""
    rej = [f for f in frames if f.rejected]
    if not rej:
        return ""
    items = "".join(
        f'<li><b>{esc(f.id)}</b> <span class="muted">({esc(Path(f.path).name)})</span>: '
        f"{esc(f.reason or f.status)}</li>"
        for f in rej
    )
    return f'<div class="rejected-list"><h3>Rejected frames ({len(rej)})</h3><ul>{items}</ul></div>'


def frames_section(data: ReportData, ctx: PageContext) -> str:
    """The rejected list, then both per-frame tables."""
    if not ctx.frames:
        return not_run("No frames were given to the report.")
    return (
        rejected_block(ctx.frames)
        + "<h3>Acquisition and calibration</h3>"
        + _table("frame-table", ACQ_HEAD, ctx.frames, _acq_cells, mark_rows=True)
        + "<h3>Geometry, registration and equalisation</h3>"
        + _table("frame-geometry-table", GEO_HEAD, ctx.frames, _geo_cells, mark_rows=False)
    )
