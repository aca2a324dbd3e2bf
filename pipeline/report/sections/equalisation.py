"""The equalisation section: overlap differences before/after, per-frame gain and offset."""

from __future__ import annotations

from ..context import PageContext
from ..data import ReportData, rms
from ..markup import figure, not_run, num
from ..plots import plot_gain_offset
from .figures import before_after_histogram

__all__ = ["equalisation_section"]


def equalisation_section(data: ReportData, ctx: PageContext) -> str:
    """Histogram of overlap differences and the gain/offset chart, or "not run"."""
    ovl_b, ovl_a = ctx.ovl_before, ctx.ovl_after
    parts = before_after_histogram(ovl_b, ovl_a, "overlap difference (I/F)", True, "overlap differences",
                                   "Differences between overlapping frames before and after equalisation.")
    go = plot_gain_offset(ctx.frames)
    if go:
        parts.append(figure(go, "gain and offset", "Per-frame equalisation gain (bars) and offset (dots)."))
    if not parts:
        return not_run("Equalisation not run: no overlap differences or gains were recorded.")
    head = ""
    if ovl_b is not None or ovl_a is not None:
        head = (f"<p>Overlap difference RMS <b>{num(rms(ovl_b), '.4g')} → {num(rms(ovl_a), '.4g')}"
                f"</b> (I/F).</p>")
    return head + '<div class="grid2">' + "".join(parts) + "</div>"
