"""The registration section: residuals before/after bundle adjustment, per frame, and the
tie-point network on the map."""

from __future__ import annotations

import numpy as np

from ..context import PageContext
from ..data import ReportData
from ..markup import esc, figure, not_run, num
from ..plots import bars_per_frame, plot_tie_network
from ..plots_seams import plot_residual_vectors
from .adjustment import adjustment_html
from .figures import before_after_histogram

__all__ = ["registration_section"]


def _tie_points(data: ReportData) -> np.ndarray | None:
    """The finite tie-point positions ``(lon, lat)`` degrees, or ``None``."""
    if data.tie_points_lonlat is None:
        return None
    tie = np.asarray(data.tie_points_lonlat, float).reshape(-1, 2)
    if tie.size:
        tie = tie[np.all(np.isfinite(tie), axis=1)]
    return tie if tie.size else None


def _residual_figures(ctx: PageContext) -> list[str]:
    out = before_after_histogram(ctx.res_before, ctx.res_after, "reprojection residual (px)", False,
                                 "residual histogram",
                                 "Tie-point reprojection residuals before and after bundle adjustment.")
    bars = bars_per_frame(ctx.frames, "residual_before_px", "residual_after_px", "before", "after",
                          "RMS residual (px)")
    if bars:
        out.append(figure(bars, "per-frame residuals",
                          "Per-frame residual before / after (rejected frames in red)."))
    return out


def _head(ctx: PageContext, tie: np.ndarray | None, corrected: list) -> str:
    """The section's opening sentences: residual RMS, observations, tie points, corrections."""
    head = ""
    if ctx.rms_before is not None or ctx.rms_after is not None:
        res_a = ctx.res_after
        head = (
            f"<p>Residual RMS <b>{num(ctx.rms_before, '.3f')} px → {num(ctx.rms_after, '.3f')} px</b>"
            + (f" over {res_a.size} observations" if res_a is not None and res_a.size else "")
            + (f"; {tie.shape[0]} tie points" if tie is not None else "")
            + ".</p>"
        )
    if corrected:
        mags = [float(np.linalg.norm(f.correction_deg)) for f in corrected]
        head += (
            f"<p>Pointing corrections applied to {len(corrected)} frame(s); largest "
            f"{max(mags):.4f}° ({esc(corrected[int(np.argmax(mags))].id)}).</p>"
        )
    return head


def _vector_figure(data: ReportData, ctx: PageContext) -> str:
    """Residual vectors after adjustment on the quicklook, when observations were given."""
    obs = data.tie_observations
    if obs is None or not len(obs) or not ctx.has_map or not ctx.pixel_size_m:
        return ""
    failing = set(ctx.misregistration.failing) if ctx.misregistration is not None else set()
    drawn = plot_residual_vectors(ctx.raster, ctx.proj, obs, ctx.pixel_size_m, failing)
    if drawn is None:
        return ""
    uri, k = drawn
    return figure(
        uri, "residual vectors",
        "Residual vectors after bundle adjustment on the quicklook: for each tie-point observation an arrow "
        "from where the frame's observed pixel lands on the ground to where the adjusted tie point does "
        f"(the reprojection residual, on the ground), exaggerated ×{k:.3g}; one colour per frame, thick "
        "arrows are each frame's mean residual; ✗ marks badly registered frames.",
    )


def registration_section(data: ReportData, ctx: PageContext) -> str:
    """How the adjustment ended (convergence, camera motion, drift), residual histogram and
    per-frame bars, the tie-point network, residual vectors, or "not run"."""
    parts = _residual_figures(ctx)
    tie = _tie_points(data)
    net_html = ""
    if tie is not None:
        net_html = figure(
            plot_tie_network(ctx.raster, ctx.proj, ctx.rings, tie),
            "tie-point network",
            "Tie points (cyan) and the overlap graph between used frames (white lines "
            "between the centres of overlapping footprints).",
        )
    net_html += _vector_figure(data, ctx)
    corrected = [f for f in ctx.frames if f.correction_deg is not None]
    if not (parts or corrected or net_html):
        return not_run("Registration not run: no residuals or tie points were recorded.")
    adj = adjustment_html(data.adjustment) if data.adjustment is not None else ""
    return _head(ctx, tie, corrected) + adj + '<div class="grid2">' + "".join(parts) + "</div>" + net_html
