"""Values of a bundle adjustment: ground control in, corrections, status, network, stats out.

Frozen dataclasses (arrays compared field by field); :class:`RegistrationResult` is what
:func:`pipeline.registration.adjust` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.registration.bundle.export import write_control_network

__all__ = [
    "EXCLUDED",
    "PRIOR",
    "TIED",
    "CameraMotion",
    "ControlNetwork",
    "Convergence",
    "FrameCorrection",
    "FrameStatus",
    "GroundControl",
    "RegistrationResult",
    "RegistrationStats",
]

TIED, PRIOR, EXCLUDED = "tied", "prior", "excluded"


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class GroundControl:
    """Ground control points of one frame: image positions with known ground positions.

    Attributes
    ----------
    frame_id : str
    line_sample : ndarray of shape (n, 2)
        Observed ``(line, sample)`` in the frame.
    xyz : ndarray of shape (n, 3)
        Their body-fixed ground coordinates, metres (fixed in the adjustment).
    source : str
        Where the ground coordinates come from (e.g. the basemap path).
    """

    frame_id: str
    line_sample: np.ndarray
    xyz: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.line_sample)


@dataclass(frozen=True)
class FrameCorrection:
    """Correction applied to one camera.

    ``rotvec_rad`` (3,) in the camera frame and ``position_offset_m`` (3,) body-fixed;
    ``angle_deg`` is the rotation angle ``|rotvec|`` in degrees. For camera kinds whose
    correction varies in time (degree ``k > 1``, see
    :mod:`~pipeline.registration.bundle.cameras`) ``rot_coeffs_rad`` / ``position_coeffs_m``
    hold all ``k`` coefficients ``c_j`` of ``rotvec(tau) = sum_j c_j tau^j`` (rows of 3);
    ``rotvec_rad`` and ``position_offset_m`` are then the constant terms (the correction at
    the image's centre time). Empty for ``k = 1``.
    """

    rotvec_rad: tuple[float, float, float]
    position_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rot_coeffs_rad: tuple[tuple[float, float, float], ...] = ()
    position_coeffs_m: tuple[tuple[float, float, float], ...] = ()

    @property
    def angle_deg(self) -> float:
        """Rotation angle (degrees) of the correction."""
        return math.degrees(float(np.linalg.norm(self.rotvec_rad)))

    @property
    def rotvec_deg(self) -> tuple[float, float, float]:
        """The rotation vector in degrees (camera frame)."""
        return tuple(math.degrees(v) for v in self.rotvec_rad)


@dataclass(frozen=True)
class CameraMotion:
    """How far the adjustment moved one camera, against its prior.

    ``rotation_deg`` is the angle of the (constant) rotation correction, ``position_m`` the
    length of the position offset; ``rotation_sigmas`` / ``position_sigmas`` are the
    corrections' RMS per axis in units of the prior sigma (``pointing_sigma_deg``,
    ``position_sigma_m``): about 1 when the corrections are as large as the priors say
    errors are, NaN for positions that were not solved.
    """

    rotation_deg: float
    position_m: float
    rotation_sigmas: float
    position_sigmas: float = math.nan


@dataclass(frozen=True)
class Convergence:
    """How the adjustment ended, honestly.

    Attributes
    ----------
    converged : bool
        The last solve reached a minimum (cost or step criterion, or no further decrease)
        and the outlier rejection settled before ``max_iterations`` rounds.
    reason : str
        Why it stopped (the solver's criterion, and the rejection rounds' state).
    rounds : int
        Solve / outlier-rejection rounds.
    iterations : int
        Solver iterations (linearisations) over all rounds.
    final_cost : float
        Robust cost ``0.5 sum rho(r^2)`` of the last solve (residuals in tie sigmas).
    linear_solver : str
        ``cholmod``, ``splu``, ``pcg`` (``solver="schur"``) or ``lsmr`` (``solver="scipy"``).
    seconds : float
        Wall time of the solves.
    drift : bool
        No ground control and the corrections are well beyond the priors (RMS over the
        tied frames above ``drift_sigma`` prior sigmas): the network has probably drifted.
    rms_rotation_sigmas, rms_position_sigmas : float
        The RMS over tied frames of ``CameraMotion.rotation_sigmas`` / ``position_sigmas``.
    """

    converged: bool = False
    reason: str = "not run"
    rounds: int = 0
    iterations: int = 0
    final_cost: float = math.nan
    linear_solver: str = ""
    seconds: float = 0.0
    drift: bool = False
    rms_rotation_sigmas: float = math.nan
    rms_position_sigmas: float = math.nan


@dataclass(frozen=True)
class FrameStatus:
    """Outcome for one frame.

    ``status`` is ``"tied"`` (adjusted with tie points), ``"prior"`` (kept with its prior
    pointing: no usable tie points) or ``"excluded"`` (left out of the result cameras);
    ``reason`` says why for the last two.
    """

    status: str
    reason: str = ""
    n_tie_points: int = 0
    n_control_points: int = 0
    rms_before_px: float = math.nan
    rms_after_px: float = math.nan
    component: int = -1


@dataclass(frozen=True)
class RegistrationStats:
    """Summary numbers of an adjustment (pixels unless stated)."""

    rms_before_px: float = math.nan
    rms_after_px: float = math.nan
    n_frames: int = 0
    n_tied: int = 0
    n_pairs: int = 0
    n_pairs_matched: int = 0
    n_tracks: int = 0
    n_observations: int = 0
    n_outliers: int = 0
    n_inconsistent_tracks: int = 0
    n_control_points: int = 0
    n_components: int = 0
    iterations: int = 0
    converged: bool = False
    absolute_control: bool = False
    common_rotation_sigma_deg: float = math.nan


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class ControlNetwork:
    """The control network: one row per observation (columns are equal-length arrays).

    Attributes
    ----------
    point_id : ndarray of int
        Track index (control points: ``-1 - k``).
    frame_id : ndarray of str
    line, sample : ndarray of float
        Observed image coordinates.
    lon_deg, lat_deg : ndarray of float
        Adjusted ground point, planetocentric degrees (longitude -180..180).
    residual_before_px, residual_after_px : ndarray of float
        Reprojection error magnitude before and after adjustment, pixels.
    outlier : ndarray of bool
        Rejected during the adjustment.
    control : ndarray of bool
        Ground control point (fixed ground coordinates).
    """

    point_id: np.ndarray
    frame_id: np.ndarray
    line: np.ndarray
    sample: np.ndarray
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    residual_before_px: np.ndarray
    residual_after_px: np.ndarray
    outlier: np.ndarray
    control: np.ndarray

    COLUMNS = ("point_id", "frame_id", "line", "sample", "lon_deg", "lat_deg",
               "residual_before_px", "residual_after_px", "outlier", "control")

    def __len__(self) -> int:
        return len(self.point_id)

    def rows(self) -> list[dict]:
        """The table as a list of dicts (column name -> value)."""
        cols = [getattr(self, c) for c in self.COLUMNS]
        return [dict(zip(self.COLUMNS, (v.item() if hasattr(v, "item") else v for v in vals)))
                for vals in zip(*cols)]

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (header row, one observation per line); returns the path."""
        return write_control_network(self, path)

    @classmethod
    def empty(cls) -> ControlNetwork:
        """A network without points."""
        f = np.zeros(0)
        return cls(np.zeros(0, int), np.zeros(0, dtype=object), f, f, f, f, f, f,
                   np.zeros(0, bool), np.zeros(0, bool))


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class RegistrationResult:
    """Output of :func:`adjust` / :func:`pipeline.registration.register`.

    Attributes
    ----------
    cameras : dict[str, FrameCamera]
        Adjusted cameras of tied frames and the prior cameras of frames kept with prior
        pointing; frames with status ``excluded`` are absent.
    corrections : dict[str, FrameCorrection]
        Per tied frame.
    status : dict[str, FrameStatus]
        Every input frame.
    network : ControlNetwork
    stats : RegistrationStats
    pairs : list of dict
        Per matched pair: ``id_i``, ``id_j``, ``n`` tie points, ``score``, ``reason``.
    notes : list of str
        Caveats for the report (e.g. absolute position limited by the priors, drift,
        no convergence).
    convergence : Convergence
        Converged or not, iterations, final cost, why it stopped, drift.
    motion : dict[str, CameraMotion]
        Per tied frame: how far its camera moved against the prior sigmas.
    points_xyz : ndarray of shape (n_tracks, 3)
        Adjusted ground point of every track (body-fixed metres; NaN where unknown): on
        the reference surface (``points="surface"``) or free in 3D (``points="free"``).
    points : str
        How the points were solved: ``"free"`` or ``"surface"`` (what ``points="auto"``
        chose).
    relief_parallax_px : float
        For free points: p90 of the displacement between views caused by the relief they
        found (px; :func:`~pipeline.registration.bundle.points.relief_parallax_px`), which
        decides ``points="auto"``; NaN for surface points solved directly.
    view_angle_deg : float
        For free points: p90 of the largest angle between a track's rays (degrees;
        :func:`~pipeline.registration.bundle.points.view_angle_deg`); NaN for surface points.
    level_sigma_m : float
        For free points: posterior sigma of their mean radius (m;
        :func:`~pipeline.registration.bundle.covariance.level_mode`): how well the data, the
        priors, a DEM or ground control fix the network's height; NaN for surface points.
    level_parallax_px : float
        p90 over the tie points of the displacement between views (px) that a level error of
        ``level_sigma_m`` causes on the true surface.
    """

    cameras: dict
    corrections: dict[str, FrameCorrection]
    status: dict[str, FrameStatus]
    network: ControlNetwork
    stats: RegistrationStats
    pairs: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    convergence: Convergence = field(default_factory=Convergence)
    motion: dict[str, CameraMotion] = field(default_factory=dict)
    points_xyz: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    points: str = "surface"
    relief_parallax_px: float = math.nan
    view_angle_deg: float = math.nan
    level_sigma_m: float = math.nan
    level_parallax_px: float = math.nan

    def frames_with(self, status: str) -> list[str]:
        """Frame ids whose status is ``status`` (``tied``, ``prior``, ``excluded``)."""
        return [k for k, s in self.status.items() if s.status == status]
