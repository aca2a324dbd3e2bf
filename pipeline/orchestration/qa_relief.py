"""The QA report's plain data about the adjustment's convergence and the relief model."""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.registration.bundle.report import level_notes

__all__ = ["adjustment_data", "relief_data"]


def adjustment_data(reg) -> dict[str, Any]:
    """``ReportData.adjustment`` of a ``RegistrationResult``: its ``Convergence`` fields,
    whether ground control took part, each tied frame's ``CameraMotion``, and the free tie
    points' level sigma (m), the displacement between views it causes (px) and its warning."""
    out = dataclasses.asdict(reg.convergence)
    out["absolute_control"] = bool(reg.stats.absolute_control)
    out["level_sigma_m"], out["level_parallax_px"] = reg.level_sigma_m, reg.level_parallax_px
    out["level_notes"] = level_notes(reg.level_sigma_m, reg.level_parallax_px)
    out["motion"] = {fid: dataclasses.asdict(m) for fid, m in reg.motion.items()}
    return out


def relief_data(model) -> dict[str, Any] | None:
    """``ReportData.relief`` of a ``ReliefModel`` (None: no model): its summary numbers, the
    posts' heights and point counts and their extent in map metres."""
    if model is None:
        return None
    xmin, ymin, xmax, ymax = model.grid.bounds
    return {**model.summary(), "heights_m": model.heights_m,
            "points_per_post": model.points, "extent_m": (xmin, xmax, ymin, ymax)}
