"""Bundle adjustment of camera pointing from tie points (and optional ground control).

Model (ISIS ``jigsaw`` / ASP ``bundle_adjust`` in spirit):

- :mod:`~pipeline.registration.bundle.cameras`: one adapter per camera kind (correction
  degree, batched projection and Jacobian), :data:`CAMERA_KINDS`;
- :mod:`~pipeline.registration.bundle.blocks`: unknowns, residuals and per-observation
  Jacobian blocks of one round (surface-bound or free 3D points);
- :mod:`~pipeline.registration.bundle.points`: starting ground points, radius priors;
- :mod:`~pipeline.registration.bundle.reduced`: the sparse reduced camera system and its
  linear solvers (:data:`LINEAR_SOLVERS`);
- :mod:`~pipeline.registration.bundle.solve`: Levenberg-Marquardt (or scipy) for one round;
- :mod:`~pipeline.registration.bundle.problem`: the robust losses;
- :mod:`~pipeline.registration.bundle.report`: convergence, camera motion, drift;
- :mod:`~pipeline.registration.bundle.driver`: :func:`adjust`, the solve / outlier-rejection rounds;
- :mod:`~pipeline.registration.bundle.result`: the values it returns;
- :mod:`~pipeline.registration.bundle.export`: control-network CSV and adjusted ISD sidecars.
"""

from pipeline.registration.bundle.cameras import CAMERA_KINDS, CameraKind, kind_of
from pipeline.registration.bundle.driver import adjust
from pipeline.registration.bundle.export import write_adjusted_isds, write_control_network
from pipeline.registration.bundle.problem import ROBUST_LOSSES
from pipeline.registration.bundle.reduced import LINEAR_SOLVERS, available_linear_solvers
from pipeline.registration.bundle.result import (
    CameraMotion,
    ControlNetwork,
    Convergence,
    FrameCorrection,
    FrameStatus,
    GroundControl,
    RegistrationResult,
    RegistrationStats,
)

__all__ = [
    "CAMERA_KINDS",
    "LINEAR_SOLVERS",
    "ROBUST_LOSSES",
    "CameraKind",
    "CameraMotion",
    "ControlNetwork",
    "Convergence",
    "FrameCorrection",
    "FrameStatus",
    "GroundControl",
    "RegistrationResult",
    "RegistrationStats",
    "adjust",
    "available_linear_solvers",
    "kind_of",
    "write_adjusted_isds",
    "write_control_network",
]
