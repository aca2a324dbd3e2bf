"""Plain-data input of the QA report: what the pipeline hands over, nothing of its internals.

Example
-------
>>> import numpy as np
>>> obs = TieObservations(frame_id=np.array(["a", "b"]), point_id=np.array([0, 0]),
...                       ground_xyz_m=np.array([[1737400.0, 0, 0], [1737400.0, 30.0, 0]]),
...                       residual_px=np.zeros((2, 2)), residual_ground_m=np.zeros((2, 3)))
>>> len(obs), obs.ground_lonlat_deg()[0].round(5).tolist()
(2, [0.0, 0.00099])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ReportDataError
from pipeline.geometry.body import xyz_to_lonlat_deg

__all__ = ["SECTION_IDS", "FrameRow", "ReportData", "ReportDataError", "TieObservations",
           "default_report_path"]

SECTION_IDS = ("summary", "mosaic", "coverage", "frames", "registration", "relief", "seams", "photometry",
               "equalisation",
               "provenance")
"""The ``id`` of every ``<section>`` of the page, in order."""

_REJECTED_WORDS = ("reject", "fail", "error", "quarantin", "skip")


@dataclass
class FrameRow:
    """One input frame, as the report shows it.

    Angles are degrees, residuals pixels, ``level``/``noise``/``offset`` I/F units (or DN
    before calibration, as the caller states), ``masked_fraction`` 0..1. ``footprint_lonlat``
    is a polygon of ``(lon, lat)`` degrees, planetocentric east-positive, with continuous
    longitudes (a frame across 180 E is e.g. 178 .. 183, not 178 .. -177).
    """

    id: str
    path: str
    format: str
    shape: tuple[int, int]
    exposure_s: float | None
    time_utc: str | None
    status: str  # "used", "rejected", "kept with prior pointing", ...
    reason: str = ""  # why rejected (or why kept with a caveat)
    level: float | None = None
    noise: float | None = None
    masked_fraction: float | None = None
    cosmic_rays: int | None = None
    incidence_deg: tuple[float, float] | None = None  # (min, max)
    emission_deg: tuple[float, float] | None = None  # (min, max)
    tie_points: int | None = None
    correction_deg: tuple[float, float, float] | None = None  # applied pointing correction
    residual_before_px: float | None = None
    residual_after_px: float | None = None
    gain: float | None = None
    offset: float | None = None
    footprint_lonlat: list[tuple[float, float]] | None = None
    mosaic_index: int | None = None  # this frame's value in the mosaic's top_index band

    @property
    def rejected(self) -> bool:
        """True when the frame did not make it into the mosaic."""
        s = self.status.strip().lower()
        return any(s.startswith(w) for w in _REJECTED_WORDS)


@dataclass(frozen=True, eq=False)  # holds arrays
class TieObservations:
    """Tie-point observations after bundle adjustment, traced to the ground.

    One row per observation of a tie point in a frame: the inliers of the adjusted control
    network, ground control points left out. Rows with the same ``point_id`` observe the same
    ground feature, so two rows of one point in two frames measure how well those frames
    agree on the ground (see :mod:`pipeline.report.misregistration`).

    Attributes
    ----------
    frame_id : ndarray of str, shape (n,)
    point_id : ndarray of int, shape (n,)
        The tie point (track) observed.
    ground_xyz_m : ndarray of float, shape (n, 3)
        Where the ray of the observed pixel, through the *adjusted* camera, meets the
        surface (the DEM when the mosaic was orthorectified on one, else the reference
        sphere/ellipsoid): body-fixed metres; NaN where the ray misses.
    residual_px : ndarray of float, shape (n, 2)
        ``(line, sample)`` reprojection residual after adjustment: the adjusted tie point
        projected into the frame minus the observation, image pixels.
    residual_ground_m : ndarray of float, shape (n, 3)
        The same residual on the ground: where the ray through ``observation + residual``
        meets the surface minus ``ground_xyz_m``, body-fixed metres (NaN where unknown).

    Raises
    ------
    ReportDataError
        The arrays do not have the shapes above.
    """

    frame_id: np.ndarray
    point_id: np.ndarray
    ground_xyz_m: np.ndarray
    residual_px: np.ndarray
    residual_ground_m: np.ndarray

    def __post_init__(self):
        n = len(self.frame_id)
        want = {"point_id": (n,), "ground_xyz_m": (n, 3), "residual_px": (n, 2), "residual_ground_m": (n, 3)}
        for name, shape in want.items():
            got = np.shape(getattr(self, name))
            if got != shape:
                raise ReportDataError(f"TieObservations.{name} has shape {got}, expected {shape} "
                                      f"(one row per observation, {n} frame ids)")

    def __len__(self) -> int:
        return len(self.frame_id)

    def ground_lonlat_deg(self) -> tuple[np.ndarray, np.ndarray]:
        """Planetocentric east longitude (-180..180) and latitude of ``ground_xyz_m``, degrees."""
        return xyz_to_lonlat_deg(self.ground_xyz_m)


@dataclass
class ReportData:
    """Everything the report shows besides what it reads from the mosaic file.

    Attributes
    ----------
    mosaic_path : Path
        The GeoTIFF written by the run.
    frames : list of FrameRow
        One row per input frame, rejected ones included.
    residuals_before_px, residuals_after_px : ndarray of shape (n,) or (n, 2), or None
        Reprojection residual of every tie-point observation before / after bundle
        adjustment, pixels (vectors are reduced to their length). ``None``: registration
        not run.
    tie_points_lonlat : ndarray of shape (n, 2) or None
        Ground positions of the tie points, ``(lon, lat)`` degrees.
    overlap_diff_before, overlap_diff_after : ndarray of shape (m,) or None
        Differences between overlapping frames (one value per overlap pair or per
        overlap sample), I/F, before / after equalisation. ``None``: not run.
    provenance : dict
        ``inputs`` (list or dict), ``config`` (dict), ``versions`` (dict), ``scheduler``
        (str or dict); other keys are shown as they are.
    timings_s : dict of str to float
        Wall time per stage, seconds.
    notes : list of str
        Caveats shown in the summary, e.g. "absolute position limited by priors".
    tie_observations : TieObservations or None
        Tie-point observations after adjustment, on the ground: the residual vectors and
        the per-seam misregistration come from them. ``None``: not shown.
    pixel_size_m : float or None
        Metres per pixel of the misregistration numbers "in pixels" (the output grid's
        resolution); ``None``: the mosaic file's pixel size.
    adjustment : dict or None
        How the bundle adjustment ended (the registration section): ``converged``,
        ``reason``, ``rounds``, ``iterations``, ``final_cost``, ``linear_solver``, ``drift``,
        ``rms_rotation_sigmas``, ``rms_position_sigmas``, ``motion`` (frame id -> dict of
        ``rotation_deg``, ``rotation_sigmas``, ``position_m``, ``position_sigmas``).
    relief : dict or None
        The relief model the mosaic was orthorectified through (the relief section): the
        numbers of ``ReliefModel.summary()`` (``points``, ``outliers``, ``scatter_m``,
        ``dense_fraction``, ``offset_m``, ``base``, ``post_m``, ``height_range_m``) plus
        ``min_points``, ``heights_m`` and ``points_per_post`` (2-D arrays on the posts) and
        ``extent_m`` ``(xmin, xmax, ymin, ymax)``. ``None``: no relief model.
    surface : str or None
        What the mosaic was orthorectified onto when there is no relief model (a DEM, the
        sphere), in words.
    photometry : dict or None
        The photometric fit (``calibration.photometry.model: auto``) as
        :func:`pipeline.calibration.photometric_summary.photometry_report` gives it: law,
        parameters with uncertainties, overlap residual and incidence slope before/after,
        brightness against incidence. ``None``: not fitted.
    mosaic_file : Path or None
        Where the mosaic is read from when that is not yet ``mosaic_path`` (a run renders
        its report from the staged GeoTIFF before renaming its outputs); ``None``: ``mosaic_path``.
    """

    mosaic_path: Path
    frames: list[FrameRow]
    residuals_before_px: np.ndarray | None = None
    residuals_after_px: np.ndarray | None = None
    tie_points_lonlat: np.ndarray | None = None
    overlap_diff_before: np.ndarray | None = None
    overlap_diff_after: np.ndarray | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tie_observations: TieObservations | None = None
    pixel_size_m: float | None = None
    adjustment: dict[str, Any] | None = None
    relief: dict[str, Any] | None = None
    surface: str | None = None
    photometry: dict[str, Any] | None = None
    mosaic_file: Path | None = None


def default_report_path(mosaic_path: str | Path) -> Path:
    """``OUT.tif`` -> ``OUT.report.html`` beside it."""
    p = Path(mosaic_path)
    return p.with_name(p.stem + ".report.html")


def as_1d(a: np.ndarray | None) -> np.ndarray | None:
    """Residual vectors -> lengths; drop non-finite; ``None`` stays ``None``."""
    if a is None:
        return None
    a = np.asarray(a, dtype=float)
    if a.ndim == 2 and a.shape[1] in (2, 3) and a.shape[0] != 0:
        a = np.hypot(a[:, 0], a[:, 1]) if a.shape[1] == 2 else np.linalg.norm(a, axis=1)
    a = a.ravel()
    return a[np.isfinite(a)]


def rms(a: np.ndarray | None) -> float | None:
    if a is None or a.size == 0:
        return None
    return float(np.sqrt(np.mean(np.square(a))))
