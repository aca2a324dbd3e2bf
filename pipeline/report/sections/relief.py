"""The relief section: the relief model the mosaic was orthorectified through, from the
adjusted 3-D tie points: how many points built it, their scatter about it, where they are
dense, and the model itself with its point density."""

from __future__ import annotations

import numpy as np

from ..context import PageContext
from ..data import ReportData
from ..markup import esc, figure, not_run, num
from ..plots_relief import plot_relief

__all__ = ["relief_section"]


def _level(sigma_m) -> str:
    if sigma_m is None or not np.isfinite(sigma_m):
        return ""
    return (f" All heights may be off together by about <b>{sigma_m:.0f} m</b> (1 σ): the adjustment's sigma of the "
            "points' common level (registration notes).")


def relief_section(data: ReportData, ctx: PageContext) -> str:
    """The relief model's numbers and maps, or why there is none (a DEM given, the sphere)."""
    rel = data.relief
    if not rel:
        return not_run(data.surface or "Orthorectified onto the reference sphere (mosaicking.relief: sphere).")
    lo, hi = rel["height_range_m"]
    head = (
        f"<p>The mosaic was orthorectified through a <b>relief model</b> built from <b>{int(rel['points'])}</b> "
        f"adjusted tie points ({int(rel['outliers'])} left out as outliers): their heights scatter by "
        f"<b>{num(rel['scatter_m'], '.0f')} m</b> (robust RMS) about the model; tie points are dense "
        f"(at least {int(rel.get('min_points', 3))} per 3 × 3 posts) over <b>{100 * rel['dense_fraction']:.0f} %</b> "
        f"of the mosaic. Posts every {num(rel['post_m'], '.0f')} m, heights {lo:.0f} … {hi:.0f} m above the "
        f"sphere; where points are sparse the model tends to {esc(rel['base'])} "
        f"{'+' if rel['offset_m'] >= 0 else '−'} {abs(rel['offset_m']):.0f} m (the points' median offset from it)."
        f"{_level(rel.get('level_sigma_m'))}</p>"
    )
    heights, points = rel.get("heights_m"), rel.get("points_per_post")
    if heights is None or points is None:
        return head
    uri = plot_relief(np.asarray(heights, float), np.asarray(points, float), rel.get("extent_m"),
                      int(rel.get("min_points", 3)))
    return head + figure(uri, "relief model",
                         "Relief model (heights above the sphere, m; left) and tie points per post (right); "
                         "the outline marks where the points are dense.")
