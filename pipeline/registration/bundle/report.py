"""Honest summaries of an adjustment: convergence, how far each camera moved, drift.

ISIS jigsaw reports its iterations, sigma0 and each image's corrections with their
sigmas; a user of farside needs the same three answers: did it converge (and why did it
stop), how much did the cameras move against what the priors allow, and did the network
drift (corrections well beyond the priors with nothing absolute to hold it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

from pipeline.registration.bundle.reduced import resolve_linear_solver
from pipeline.registration.bundle.result import CameraMotion, Convergence, FrameCorrection

log = logging.getLogger(__name__)

__all__ = ["base_notes", "camera_motion", "convergence_notes", "convergence_of", "level_notes", "network_notes",
           "relief_view_notes"]


def camera_motion(corrections: Mapping[str, FrameCorrection], cfg) -> dict[str, CameraMotion]:
    """:class:`CameraMotion` of every corrected frame.

    ``rotation_sigmas = |w| / (sqrt(3) sigma_w)`` (the RMS per axis of the constant rotation
    correction in prior sigmas, ``sigma_w = pointing_sigma_deg``), likewise for positions
    with ``position_sigma_m``.

    >>> from types import SimpleNamespace
    >>> cfg = SimpleNamespace(pointing_sigma_deg=0.3, position_sigma_m=None)
    >>> w = math.radians(0.3) * math.sqrt(3)
    >>> m = camera_motion({"a": FrameCorrection((w, 0.0, 0.0))}, cfg)["a"]
    >>> round(m.rotation_deg, 4), round(m.rotation_sigmas, 6)
    (0.5196, 1.0)
    """
    sig_w = math.radians(cfg.pointing_sigma_deg)
    sig_d = cfg.position_sigma_m
    out = {}
    for fid, c in corrections.items():
        w = float(np.linalg.norm(c.rotvec_rad))
        d = float(np.linalg.norm(c.position_offset_m))
        out[fid] = CameraMotion(
            rotation_deg=math.degrees(w),
            position_m=d,
            rotation_sigmas=w / (math.sqrt(3.0) * sig_w),
            position_sigmas=d / (math.sqrt(3.0) * sig_d) if sig_d is not None else math.nan,
        )
    return out


def _rms(values) -> float:
    v = np.asarray([x for x in values if math.isfinite(x)], float)
    return float(np.sqrt(np.mean(v**2))) if len(v) else math.nan


def convergence_of(solutions: Sequence, rounds: int, cfg, motion: Mapping[str, CameraMotion],
                   absolute: bool, n_above: int) -> Convergence:
    """The :class:`Convergence` record of the solve / reject rounds.

    Parameters
    ----------
    solutions : sequence of the solver's outcomes (one per round)
    rounds : int
    cfg : RegistrationParams
        ``solver``, ``linear_solver``, ``max_iterations``, ``drift_sigma``.
    motion : mapping of CameraMotion
    absolute : bool
        Ground control points took part.
    n_above : int
        Observations still above the outlier threshold after the last round.
    """
    rot = _rms(m.rotation_sigmas for m in motion.values())
    pos = _rms(m.position_sigmas for m in motion.values())
    drift = (not absolute) and bool(motion) and (
        (math.isfinite(rot) and rot > cfg.drift_sigma) or (math.isfinite(pos) and pos > cfg.drift_sigma)
    )
    if not solutions:
        return Convergence(False, "nothing to adjust (no tie points or control points)", 0, 0, math.nan,
                           "", 0.0, drift, rot, pos)
    last = solutions[-1]
    reason = f"round {rounds}: {last.message}"
    if n_above and rounds >= cfg.max_iterations:
        reason += (f"; outlier rejection stopped after max_iterations = {cfg.max_iterations} rounds with "
                   f"{n_above} observations still above the threshold")
    linear = "lsmr" if cfg.solver == "scipy" else resolve_linear_solver(cfg.linear_solver)
    return Convergence(
        converged=bool(last.success),
        reason=reason,
        rounds=rounds,
        iterations=int(sum(s.iterations for s in solutions)),
        final_cost=float(last.cost),
        linear_solver=linear,
        seconds=float(sum(s.seconds for s in solutions)),
        drift=drift,
        rms_rotation_sigmas=rot,
        rms_position_sigmas=pos,
    )


def convergence_notes(conv: Convergence, cfg) -> list[str]:
    """Warnings for the report: no convergence, drift."""
    notes = []
    if conv.rounds and not conv.converged:
        notes.append(f"the bundle adjustment did NOT converge ({conv.reason}; {conv.iterations} iterations): "
                     f"raise registration.max_nfev or check the tie points")
    if conv.drift:
        notes.append(
            f"network drift: without ground control the corrections are {conv.rms_rotation_sigmas:.1f} "
            f"(rotation) / {conv.rms_position_sigmas:.1f} (position) prior sigmas RMS, above drift_sigma = "
            f"{cfg.drift_sigma:g}; the absolute position is doubtful: add ground control "
            f"(registration.reference_basemap) or check pointing_sigma_deg / position_sigma_m"
        )
    return notes


OBLIQUE_VIEW_DEG = 25.0  # views further apart over relief: the shading biases the tie points without a DEM


def relief_view_notes(points: str, view_angle_deg: float, dem_given: bool) -> list[str]:
    """A warning when free tie points over relief were seen from far apart and no DEM was given.

    Two views ``view_angle_deg`` (p90, :func:`~pipeline.registration.bundle.points.view_angle_deg`)
    apart see the relief's shading differently (each wall at its own resolution and brightness), so
    content matching is biased along the look direction; only a DEM at about the frames'
    resolution takes the shading out (docs/registration.md, "Limits"). Nothing for surface points
    (no relief that matters), with a DEM, or below :data:`OBLIQUE_VIEW_DEG` (the nadir 75 %-overlap
    ``relief_strip`` survey's views are 20 deg apart and register to 0.13 px p90 without a DEM).

    >>> relief_view_notes("free", 74.6, False)[0][:60]
    'views 75 deg apart over relief (p90 of the tie points) and n'
    >>> relief_view_notes("free", 74.6, True), relief_view_notes("free", 20.0, False)
    ([], [])
    """
    if points != "free" or dem_given or not view_angle_deg > OBLIQUE_VIEW_DEG:
        return []
    return [f"views {view_angle_deg:.0f} deg apart over relief (p90 of the tie points) and no DEM: the relief's "
            f"shading seen from so far apart biases the tie points, and the mosaic's overlaps may show it (simulated, "
            f"p90: 0.36 px at 30 deg, 0.5 px at 41 deg, 1.2-1.7 px at 55-97 deg); give mosaicking.dem (a DEM at about "
            f"the frames' resolution takes the shading out)"]


def base_notes(base_post_m: float, gsd_m: float) -> list[str]:
    """A warning when ``mosaicking.relief_base`` is about as fine as the frames (posts within two
    ground samples ``gsd_m``): as a base it only holds the tie points' level and fills the relief
    model where points are sparse, while as ``mosaicking.dem`` the frames would be matched
    (their shading taken out) and orthorectified through it.

    >>> base_notes(100.0, 180.0)[0][:56]
    'mosaicking.relief_base has 100 m posts, as fine as the f'
    >>> base_notes(12800.0, 180.0)
    []
    """
    if not base_post_m <= 2.0 * gsd_m:
        return []
    return [f"mosaicking.relief_base has {base_post_m:.0f} m posts, as fine as the frames ({gsd_m:.0f} m): as a base "
            f"it only holds the tie points' level; give it as mosaicking.dem to match and orthorectify through it"]


LEVEL_PARALLAX_PX = 0.3  # a level this uncertain misplaces the views on the true surface by more (issue 19's target)


def level_notes(level_sigma_m: float, level_parallax_px: float) -> list[str]:
    """A warning when the free tie points' common level is so uncertain that, on the true
    surface, the views it misplaces would disagree by more than :data:`LEVEL_PARALLAX_PX`.

    ``level_sigma_m`` is the level's posterior sigma
    (:func:`~pipeline.registration.bundle.covariance.level_mode`), ``level_parallax_px`` the
    displacement between views it causes. The mosaic's overlaps still agree (the frames are
    consistent on the adjusted surface); what is uncertain is the relief model's height and
    where the frames lie on the ground. A single nadir strip without a DEM is the typical case:
    only the pointing priors fix its level (``relief_strip``: 910 m, 1.9 px at 1 sigma;
    its error was 0, +578, -203, +1004 m over seeds 0, 3, 4, 5, the cameras 0.13, 0.97, 0.45, 1.81 px
    p90 on the true surface).

    >>> level_notes(910.0, 1.9)[0][:50]
    'the free tie points: their common level is known o'
    >>> level_notes(12.0, 0.03), level_notes(float("nan"), float("nan"))
    ([], [])
    """
    if not level_parallax_px > LEVEL_PARALLAX_PX:
        return []
    return [f"the free tie points: their common level is known only to {level_sigma_m:.0f} m (1 sigma), from the "
            f"pointing priors: the overlaps agree, but the relief model's heights and the frames' places on the "
            f"ground are uncertain by about that ({level_parallax_px:.1f} px between views); give "
            f"mosaicking.relief_base (a global DEM, e.g. the LOLA/GLD100 one) or registration.reference_basemap"]


def network_notes(cfg, n_tied: int, absolute: bool, n_components: int) -> tuple[list[str], float]:
    """Caveats for the report and the common-rotation sigma (deg per axis)."""
    notes: list[str] = []
    common_sigma = cfg.pointing_sigma_deg / math.sqrt(max(n_tied, 1))
    if not absolute and n_tied:
        notes.append(
            f"no ground control: absolute position is limited by the pointing priors (a rotation common "
            f"to all {n_tied} tied frames is known to about {cfg.pointing_sigma_deg:g}/sqrt({n_tied}) = "
            f"{common_sigma:.3g} deg per axis)"
        )
        log.info(notes[-1])
    if n_components > 1:
        notes.append(f"the tie-point network has {n_components} separate components; frames in different "
                     f"components are registered to each other only through their priors")
        log.warning(notes[-1])
    return notes, common_sigma
