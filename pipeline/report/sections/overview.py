"""The page's overview sections: summary tiles, the mosaic quicklook and the coverage map."""

from __future__ import annotations

import math

from ..context import PageContext
from ..data import FrameRow, ReportData
from ..maps import decimals_for, fmt_lat, fmt_lon
from ..markup import esc, figure, human_bytes, not_run, num, stat
from ..plots import REJ_COLOUR, USED_COLOUR, plot_coverage, plot_mosaic
from .frames import rejected_block

__all__ = ["coverage_section", "mosaic_section", "summary_section"]


def _other_statuses(frames: list[FrameRow]) -> dict[str, int]:
    """Counts of the statuses of used frames other than plain "used"."""
    out: dict[str, int] = {}
    for f in frames:
        st = f.status.strip()
        if not f.rejected and st.lower() != "used":
            out[st] = out.get(st, 0) + 1
    return out


def _frame_stats(ctx: PageContext) -> list[str]:
    used = f"{ctx.n_used} <small>of {len(ctx.frames)}</small>" + "".join(
        f"<br><small>incl. {n} {esc(st)}</small>" for st, n in _other_statuses(ctx.frames).items()
    )
    return [stat("frames used", used), stat("frames rejected", str(ctx.n_rejected), bad=ctx.n_rejected > 0)]


def _coverage_stat(ctx: PageContext) -> str:
    cov = ctx.coverage
    if cov is None:
        return stat("coverage", "–", bad=False)
    gaps = f" <small>{cov.holes_percent:.2f} % gaps</small>" if cov.holes.any() else ""
    return stat("coverage", f"{cov.percent:.1f} %" + gaps, bad=bool(cov.holes.any()))


def _residual_stat(ctx: PageContext) -> str:
    if ctx.rms_before is None and ctx.rms_after is None:
        return stat("residual RMS (px)", "not run")
    return stat("residual RMS (px)", f"{num(ctx.rms_before, '.3f')} → {num(ctx.rms_after, '.3f')}")


def _misregistration_stat(ctx: PageContext) -> list[str]:
    """Frames failing ASP's criterion, when misregistration was measured."""
    m = ctx.misregistration
    if m is None or not m.frames:
        return []
    n_bad = len(m.failing)
    return [stat(f"badly registered (> {m.threshold_px:g} px)", f"{n_bad} <small>of {len(m.frames)}</small>",
                 bad=n_bad > 0)]


def _raster_stats(ctx: PageContext) -> list[str]:
    r, proj = ctx.raster, ctx.proj
    if r is None:
        return []
    rx, ry = r.resolution
    res_txt = f"{rx:g} m" if math.isclose(rx, ry) else f"{rx:g} × {ry:g} m"
    out = [
        stat(
            "output size",
            f"{r.width} × {r.height} px <small>{human_bytes(r.file_bytes)}"
            f", {esc(r.dtype)}, {len(r.band_names)} band(s)</small>",
        ),
        stat("resolution", res_txt + " <small>per pixel</small>"),
        stat("CRS", f"<small>{esc(r.crs_name)}</small>"),
    ]
    if proj is not None:
        lo, hi = proj.lon_range
        la, lb = proj.lat_range
        nd = decimals_for(max(min(hi - lo, 360.0), lb - la))
        lon_txt = "all longitudes" if hi - lo >= 359.0 else f"{fmt_lon(lo, nd)} – {fmt_lon(hi, nd)}"
        out.append(stat("extent", f"<small>{lon_txt}<br>{fmt_lat(la, nd)} – {fmt_lat(lb, nd)}</small>"))
    return out


def summary_section(data: ReportData, ctx: PageContext) -> str:
    """Tiles (frames, coverage, residuals, size, resolution, CRS, extent, run time), the
    notes and the list of rejected frames."""
    stats = [*_frame_stats(ctx), _coverage_stat(ctx), _residual_stat(ctx), *_misregistration_stat(ctx),
             *_raster_stats(ctx)]
    if data.timings_s:
        stats.append(stat("run time", f"{ctx.total_s:.1f} s"))
    notes = list(data.notes)
    if ctx.raster_error:
        notes.insert(0, f"mosaic could not be read: {ctx.raster_error}")
    out = f'<div class="stats">{"".join(stats)}</div>'
    if notes:
        out += '<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
    return out + rejected_block(ctx.frames)


def mosaic_section(data: ReportData, ctx: PageContext) -> str:
    """The quicklook with footprints and graticule, or why there is none."""
    if not ctx.has_map:
        return not_run(f"Mosaic not available: {ctx.raster_error or 'not written'}.")
    r = ctx.raster
    out = figure(
        plot_mosaic(r, ctx.proj, ctx.rings),
        "mosaic quicklook",
        f"Quicklook of <code>{esc(r.path.name)}</code> (decimated to "
        f"{r.image.shape[1]} × {r.image.shape[0]} px) with frame footprints "
        f"(<span style='color:{USED_COLOUR}'>■</span> used, "
        f"<span style='color:{REJ_COLOUR}'>■</span> rejected, dashed) and a lon/lat graticule "
        f"(planetocentric, east-positive). Bands: {esc(', '.join(r.band_names))}.",
    )
    if not ctx.rings:
        out += not_run("No frame footprints were given.")
    return out


def coverage_section(data: ReportData, ctx: PageContext) -> str:
    """Covered share of the grid, gaps enclosed by coverage, frames per pixel."""
    cov = ctx.coverage
    if cov is None or not ctx.has_map:
        return not_run("Coverage not available: the mosaic could not be read.")
    gaps = (
        f"<b style='color:var(--bad)'>{int(cov.holes.sum())} gap pixels</b> "
        f"({cov.holes_percent:.2f} % of the map) enclosed by coverage, shown in red"
        if cov.holes.any()
        else "no gaps enclosed by coverage"
    )
    cmax = int(cov.count.max()) if cov.count.size else 0
    mean_c = float(cov.count[cov.count > 0].mean()) if (cov.count > 0).any() else 0.0
    return (
        f"<p><b>{cov.percent:.1f} %</b> of the output grid"
        + ("" if ctx.proj.all_on_body else " (on the lunar disk)")
        + f" is covered by at least one frame; {gaps}. Frames per covered pixel: mean "
        f"{mean_c:.2f}, max {cmax}. Computed from the {cov.source}"
        + (" (used frames only)" if cov.source == "footprints" else "")
        + " on the decimated grid.</p>"
        + figure(
            plot_coverage(ctx.raster, ctx.proj, cov, ctx.rings_used),
            "coverage map",
            "Frames per pixel; gaps (no frame, enclosed by covered area) in red.",
        )
    )
