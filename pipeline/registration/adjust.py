"""Thin re-export of :mod:`pipeline.registration.bundle` (the bundle adjustment's old module name).

The code lives in ``pipeline/registration/bundle/`` (problem, solve, driver, result, export).
"""

from pipeline.registration.bundle import (
    ROBUST_LOSSES,
    ControlNetwork,
    FrameCorrection,
    FrameStatus,
    GroundControl,
    RegistrationResult,
    RegistrationStats,
    adjust,
    write_adjusted_isds,
    write_control_network,
)

__all__ = [
    "ROBUST_LOSSES",
    "ControlNetwork",
    "FrameCorrection",
    "FrameStatus",
    "GroundControl",
    "RegistrationResult",
    "RegistrationStats",
    "adjust",
    "write_adjusted_isds",
    "write_control_network",
]
