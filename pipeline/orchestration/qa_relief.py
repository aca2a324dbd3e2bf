"""The QA report's plain data about the adjustment's convergence and the relief model."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["adjustment_data", "relief_data"]


def adjustment_data(reg) -> dict[str, Any]:
    """``ReportData.adjustment`` of a ``RegistrationResult``: its ``Convergence`` fields,
    whether ground control took part, and each tied frame's ``CameraMotion``."""
    out = dataclasses.asdict(reg.convergence)
    out["absolute_control"] = bool(reg.stats.absolute_control)
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
