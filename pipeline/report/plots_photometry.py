"""The photometry section's figure: normalised brightness against incidence, before and after
the fit (matplotlib object API on the Agg canvas, a base64 PNG data URI like every figure)."""

from __future__ import annotations

import numpy as np

from .plots import new_fig, png_uri

__all__ = ["plot_brightness_incidence"]


def plot_brightness_incidence(profile: dict) -> str | None:
    """Mean normalised brightness relative to its cell's mean (percent) per incidence bin.

    Parameters
    ----------
    profile : dict
        ``incidence_deg`` (bin centres), ``before`` and ``after`` (relative brightness,
        fractions; NaN for empty bins) and ``count`` (observations per bin), lists of equal
        length, as :func:`pipeline.orchestration.steps.photometry_summary` gives them.

    Returns
    -------
    str or None
        A PNG data URI; ``None`` without two bins that hold observations.
    """
    inc = np.asarray(profile.get("incidence_deg", ()), dtype=float)
    count = np.asarray(profile.get("count", ()), dtype=float)
    if inc.size < 2 or np.count_nonzero(count > 0) < 2:
        return None
    fig = new_fig(6.0, 3.4, margins=(0.7, 0.55, 0.75, 0.15))
    ax = fig.add_subplot(1, 1, 1)
    for key, label, colour in (("before", "before: McEwen L(phase), no equalisation", "#e07b39"),
                               ("after", "after: fitted law and equalisation", "#2b6cb0")):
        y = 100.0 * np.asarray(profile.get(key, ()), dtype=float)
        if y.size != inc.size:
            continue
        ok = np.isfinite(y) & (count > 0)
        ax.plot(inc[ok], y[ok], "o-", ms=3.5, lw=1.5, color=colour, label=label)
    ax.axhline(0.0, color="0.4", lw=0.8)
    twin = ax.twinx()
    width = float(np.median(np.diff(inc))) if inc.size > 1 else 1.0
    twin.bar(inc, count, width=0.9 * width, color="0.85", zorder=0)
    twin.set_ylabel("observations", fontsize=8)
    twin.tick_params(labelsize=7)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xlabel("incidence (deg)", fontsize=8)
    ax.set_ylabel("brightness / cell mean - 1 (%)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return png_uri(fig)
