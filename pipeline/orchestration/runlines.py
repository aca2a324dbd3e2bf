"""The run summary's lines about the adjustment (convergence, camera motion, drift) and the relief model.

Kept apart from :mod:`pipeline.orchestration.result` so the summary's wording lives in one
small place; the QA report's registration section says the same from the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pipeline.registration.bundle.report import level_notes, relief_view_notes

__all__ = ["adjustment_lines", "relief_line"]


def _num(x: float, fmt: str) -> str:
    return format(x, fmt) if isinstance(x, (int, float)) and math.isfinite(x) else "n/a"


def adjustment_lines(reg, dem_given: bool = False) -> list[str]:
    r"""How the bundle adjustment ended and how far it moved the cameras against their priors.

    ``reg`` is a ``RegistrationResult`` (its ``convergence`` and ``motion``); an adjustment
    that did not run (no tie points) says so. A warning line (``WARNING: ...``) when it did
    not converge, the network drifted, free points over relief were seen from far apart
    with no DEM given (``dem_given``: ``mosaicking.dem`` was set), or nothing but the priors
    fixes the free points' level (:func:`~pipeline.registration.bundle.report.level_notes`).

    >>> from types import SimpleNamespace as NS
    >>> conv = NS(rounds=2, converged=True, reason="round 2: converged: step below 1e-4", iterations=7,
    ...           final_cost=12.5, drift=False, rms_rotation_sigmas=0.8, rms_position_sigmas=float("nan"))
    >>> motion = {"a": NS(rotation_deg=0.21, position_m=0.0), "b": NS(rotation_deg=0.35, position_m=0.0)}
    >>> print("\n".join(adjustment_lines(NS(convergence=conv, motion=motion))))
    adjustment: converged in 2 rounds, 7 iterations, final cost 12.5 (round 2: converged: step below 1e-4)
    camera motion: rotation up to 0.350 deg (RMS 0.8 prior sigmas), position up to 0 m

    Free points over relief seen from opposite sides, without a DEM:

    >>> reg = NS(convergence=conv, motion=motion, points="free", relief_parallax_px=18.6, view_angle_deg=71.4)
    >>> lines = adjustment_lines(reg)
    >>> print(lines[1], lines[-1][:44], sep="\n")
    tie points: free (relief parallax p90 18.60 px, views 71 deg apart)
    WARNING: views 71 deg apart over relief (p90
    >>> adjustment_lines(reg, dem_given=True)[-1][:13]
    'camera motion'
    """
    conv = reg.convergence
    if not conv.rounds:
        return [f"adjustment: not run ({conv.reason})"]
    state = "converged" if conv.converged else "did NOT converge"
    lines = [(f"adjustment: {state} in {conv.rounds} rounds, {conv.iterations} iterations, final cost "
              f"{_num(conv.final_cost, '.4g')} ({conv.reason})")]
    if math.isfinite(getattr(reg, "relief_parallax_px", math.nan)):
        view = getattr(reg, "view_angle_deg", math.nan)
        views = f", views {view:.0f} deg apart" if math.isfinite(view) else ""
        level = getattr(reg, "level_sigma_m", math.nan)
        views += f", level to {level:.0f} m (1 sigma)" if math.isfinite(level) else ""
        lines.append(f"tie points: {reg.points} (relief parallax p90 {reg.relief_parallax_px:.2f} px{views})")
    motion = list(getattr(reg, "motion", {}).values())
    if motion:
        rot = max(m.rotation_deg for m in motion)
        pos = max(m.position_m for m in motion)
        pos_sig = (f", RMS {_num(conv.rms_position_sigmas, '.1f')} prior sigmas"
                   if math.isfinite(conv.rms_position_sigmas) else "")
        lines.append(f"camera motion: rotation up to {rot:.3f} deg (RMS {_num(conv.rms_rotation_sigmas, '.1f')} "
                     f"prior sigmas), position up to {pos:.0f} m{pos_sig}")
    if not conv.converged:
        lines.append("WARNING: the bundle adjustment did not converge: raise registration.max_nfev or check the "
                     "tie points")
    if conv.drift:
        lines.append("WARNING: network drift: the corrections are well beyond the priors and nothing absolute holds "
                     "the network; add ground control (registration.reference_basemap)")
    notes = relief_view_notes(getattr(reg, "points", ""), getattr(reg, "view_angle_deg", math.nan), dem_given)
    notes += level_notes(getattr(reg, "level_sigma_m", math.nan), getattr(reg, "level_parallax_px", math.nan))
    return lines + [f"WARNING: {note}" for note in notes]


def relief_line(summary: Mapping[str, Any], path: str | None = None) -> str:
    """One line about the relief model (its ``ReliefModel.summary()`` numbers).

    >>> line = relief_line({"points": 1776, "outliers": 72, "scatter_m": 24.5, "dense_fraction": 0.66,
    ...                     "post_m": 1820.5, "height_range_m": (-2267.3, 1000.0)}, "out/m.relief.tif")
    >>> line.split(", ")[:2]
    ['relief model: 1776 tie points (72 outliers)', 'scatter 24 m']
    >>> line.split(", ")[3:]
    ['posts 1820 m', 'heights -2267..1000 m -> out/m.relief.tif']
    >>> relief_line({"points": 9, "outliers": 0, "scatter_m": 24.5, "dense_fraction": 0.66, "post_m": 1820.5,
    ...              "height_range_m": (-2.0, 1.0), "level_sigma_m": 909.4}).split(", ")[-1]
    'heights -2..1 m (common level to 909 m at 1 sigma)'
    >>> relief_line({"points": 0, "sphere": True, "height_range_m": (0.0, 0.0)})
    'relief model: the sphere (no free tie points: no relief that matters was found)'
    """
    lo, hi = summary["height_range_m"]
    where = f" -> {path}" if path else ""
    if summary.get("sphere"):
        return f"relief model: the sphere (no free tie points: no relief that matters was found){where}"
    return (f"relief model: {summary['points']} tie points ({summary['outliers']} outliers), scatter "
            f"{_num(summary['scatter_m'], '.0f')} m, dense over {100 * summary['dense_fraction']:.0f} % of the mosaic, "
            f"posts {summary['post_m']:.0f} m, heights {lo:.0f}..{hi:.0f} m{_level(summary)}{where}")


def _level(summary: Mapping[str, Any]) -> str:
    level = summary.get("level_sigma_m", math.nan)
    return f" (common level to {level:.0f} m at 1 sigma)" if isinstance(level, float) and math.isfinite(level) else ""
