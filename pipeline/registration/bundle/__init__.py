"""Bundle adjustment of camera pointing from tie points (and optional ground control).

Model (ISIS ``jigsaw`` / ASP ``bundle_adjust`` in spirit):

- :mod:`~pipeline.registration.bundle.problem`: unknowns, residuals and Jacobian of one round;
- :mod:`~pipeline.registration.bundle.solve`: the solvers of one round;
- :mod:`~pipeline.registration.bundle.driver`: :func:`adjust`, the solve / outlier-rejection rounds;
- :mod:`~pipeline.registration.bundle.result`: the values it returns;
- :mod:`~pipeline.registration.bundle.export`: control-network CSV and adjusted ISD sidecars.
"""

from pipeline.registration.bundle.driver import adjust
from pipeline.registration.bundle.export import write_adjusted_isds, write_control_network
from pipeline.registration.bundle.problem import ROBUST_LOSSES
from pipeline.registration.bundle.result import (
    ControlNetwork,
    FrameCorrection,
    FrameStatus,
    GroundControl,
    RegistrationResult,
    RegistrationStats,
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
