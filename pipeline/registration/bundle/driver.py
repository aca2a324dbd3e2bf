"""The public entry point :func:`adjust`: tracks in, solve / reject rounds, result out.

Solver
    Levenberg-Marquardt on the reduced camera system (``solver="schur"``) or
    ``scipy.optimize.least_squares`` (``solver="scipy"``) on the robust cost of
    :mod:`~pipeline.registration.bundle.problem`. Then observations with a residual above
    ``outlier_px`` are rejected and the problem solved again, up to ``max_iterations`` rounds.

Datum and absolute accuracy
    Tie points only fix the frames *relative* to each other. A rotation common to every
    frame moves all ground points together and leaves every tie residual unchanged: only
    the priors constrain it. With ``N`` frames, independent pointing errors of standard
    deviation ``s`` per axis and prior sigma ``s``, the adjusted common rotation is the
    mean of the errors, uncertain by about ``s / sqrt(N)`` per axis (e.g. 0.3 deg and 9
    frames: 0.1 deg). Without ground control the absolute position is therefore limited
    by the priors; ground control points from a reference basemap remove that limit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.errors import RegistrationError
from pipeline.geometry.body import xyz_to_lonlat
from pipeline.registration.bundle.blocks import BlockProblem, camera_groups
from pipeline.registration.bundle.cameras import kind_of
from pipeline.registration.bundle.covariance import level_mode
from pipeline.registration.bundle.pointmode import auto_note, relief_parallax
from pipeline.registration.bundle.points import (
    initial_ground,
    radius_prior,
    ray_angle,
    ray_radius_sigma,
    view_angle_deg,
)
from pipeline.registration.bundle.problem import _rms, median_gsd
from pipeline.registration.bundle.reduced import resolve_linear_solver
from pipeline.registration.bundle.report import (
    base_notes,
    camera_motion,
    convergence_notes,
    convergence_of,
    level_notes,
    network_notes,
    relief_view_notes,
)
from pipeline.registration.bundle.result import (
    ControlNetwork,
    GroundControl,
    RegistrationResult,
    RegistrationStats,
)
from pipeline.registration.bundle.solve import LAMBDA_START, STEP_SIGMAS, STEP_SIGMAS_SCREEN, _solve
from pipeline.registration.bundle.statuses import frame_statuses
from pipeline.registration.tracks import Tracks, build_tracks

log = logging.getLogger(__name__)

__all__ = ["adjust"]

_SIGMA_START_PX = 0.25  # first guess of the tie-point precision when it is estimated
_SIGMA_FLOOR_PX = 0.02  # never trust tie points more than this


@dataclass
class _Inputs:
    """The network of one adjustment: frames, tie observations, ground control."""

    ids_all: list
    ids: list
    cams: list
    excluded: dict
    tracks: Tracks
    gcp_frame: np.ndarray
    gcp_xy: np.ndarray
    gcp_xyz: np.ndarray
    base: object = None  # a coarse DEM the free points' level follows without a DEM (else the sphere)


@dataclass
class _Rounds:
    """State after the solve / reject rounds."""

    fp: np.ndarray  # (n_frames, npf) corrections
    uv_xyz: np.ndarray  # (n_tracks, 3) adjusted ground points
    before: tuple | None  # residuals of the prior cameras (obs, gcp)
    act_idx: np.ndarray  # observations of the last solve
    problem: BlockProblem | None
    rounds: int
    converged: bool
    k: int = 1  # correction degree of the network (largest camera kind's)
    solutions: list = None  # the solver's outcome per round
    stopped_with_outliers: int = 0  # observations above the threshold when the rounds ran out
    groups: list = None  # camera groups (blocks.camera_groups)


def _inputs(cameras: Mapping, matches: Sequence, cfg, control: Sequence[GroundControl], excluded,
            base=None) -> _Inputs:
    excluded = dict(excluded or {})
    ids_all = [str(k) for k in cameras]
    cams_all = {str(k): v for k, v in cameras.items()}
    for fid, cam in cams_all.items():
        if cam is None:
            excluded.setdefault(fid, "no camera geometry")
    ids = [fid for fid in ids_all if fid not in excluded]
    cams = [cams_all[fid] for fid in ids]
    id_set = set(ids)
    good_matches = [m for m in matches if len(m) and m.id_i in id_set and m.id_j in id_set]
    tracks: Tracks = build_tracks(good_matches, ids, merge_radius_px=cfg.merge_radius_px,
                                  tolerance_px=cfg.track_tolerance_px)
    fidx = {fid: k for k, fid in enumerate(ids)}
    control = [c for c in control if c.frame_id in fidx and len(c)]
    gcp_frame = np.concatenate([np.full(len(c), fidx[c.frame_id]) for c in control]) if control else np.zeros(0, int)
    gcp_xy = np.concatenate([c.line_sample for c in control]) if control else np.zeros((0, 2))
    gcp_xyz = np.concatenate([c.xyz for c in control]) if control else np.zeros((0, 3))
    return _Inputs(ids_all, ids, cams, excluded, tracks, gcp_frame, gcp_xy, gcp_xyz, base)


def _frame_sigmas(cfg, k: int) -> tuple[list[float], list[float] | None]:
    """Prior sigma of each rotation (rad) and position (m) coefficient, constant term first."""
    rot = [math.radians(cfg.pointing_sigma_deg)] + [math.radians(cfg.pointing_drift_sigma_deg)] * (k - 1)
    if cfg.position_sigma_m is None:
        return rot, None
    drift = cfg.position_drift_sigma_m if cfg.position_drift_sigma_m is not None else cfg.position_sigma_m
    return rot, [cfg.position_sigma_m] + [drift] * (k - 1)


def _starting_points(inp: _Inputs, cfg, dem, level_shift_m: float = 0.0):
    """Starting ground points of every track and, for free points, their radius priors
    (raised by ``level_shift_m`` without a DEM: :func:`_solve_auto`'s datum test)."""
    cams, tr = inp.cams, inp.tracks
    if not tr.n_tracks:
        return np.zeros((0, 3)), None, None, None
    free = cfg.points == "free"
    p0 = initial_ground(cams, tr.frame, tr.track, tr.line_sample, tr.n_tracks, on_surface=not free or dem is None)
    if not free:
        return p0, None, None, None
    radii = cams[0].radii_m
    if dem is not None:  # cut the rays again at the DEM's height under the first guess
        r_dem, _ = radius_prior(np.where(np.isfinite(p0), p0, radii[0]), radii, dem)
        h = r_dem - np.linalg.norm(np.where(np.isfinite(p0), p0, 1.0), axis=1)
        p0 = initial_ground(cams, tr.frame, tr.track, tr.line_sample, tr.n_tracks, height=h[tr.track],
                            on_surface=False)
    r_prior, fn = radius_prior(np.where(np.isfinite(p0), p0, radii[0]), radii, dem if dem is not None else inp.base)
    if level_shift_m:
        r_prior, fn = r_prior + level_shift_m, (lambda lon, lat, f=fn: f(lon, lat) + level_shift_m)
    if dem is not None:
        return p0, r_prior, np.full(tr.n_tracks, cfg.point_radius_sigma_m), fn
    # the sphere (or the coarse base DEM) holds each point whose rays cannot fix its radius better
    # than sphere sigma; the others only hold the network's mean radius (sigma * sqrt(n) each: a
    # prior on every point would pull the whole network's relief towards it), to the sphere sigma
    # about the sphere, to point_radius_sigma_m about a base DEM (its mean level is that good)
    sphere = cfg.point_radius_sigma_sphere_m
    level = cfg.point_radius_sigma_m if inp.base is not None else sphere
    rays = ray_radius_sigma(cams, tr.frame, tr.track, tr.line_sample, tr.n_tracks,
                            (cfg.tie_sigma_px or _SIGMA_START_PX) * median_gsd(cams))
    return p0, r_prior, np.where(rays > sphere, sphere, level * math.sqrt(tr.n_tracks)), fn


def _screen(r_obs, r_gcp, cfg, est_sigma: float):
    """Robust tie precision (px), outlier threshold (px) and the observations above it."""
    norm = np.linalg.norm(r_obs, axis=1)
    comps = np.concatenate([r_obs.ravel(), r_gcp.ravel()])
    comps = comps[np.isfinite(comps)]
    if comps.size >= 20:
        est_sigma = max(_SIGMA_FLOOR_PX, 1.4826 * float(np.median(np.abs(comps))))
    thresh = min(cfg.outlier_px, cfg.outlier_sigma * est_sigma)
    return est_sigma, thresh, ~(norm <= thresh)


def _solve_rounds(inp: _Inputs, cfg, dem=None, level_shift_m: float = 0.0) -> _Rounds:
    """Solve, reject observations above the outlier threshold, solve again (``max_iterations``)."""
    cams, gcp_frame, gcp_xy, gcp_xyz = inp.cams, inp.gcp_frame, inp.gcp_xy, inp.gcp_xyz
    obs_frame, obs_track, obs_xy = inp.tracks.frame, inp.tracks.track, inp.tracks.line_sample
    n_tracks = inp.tracks.n_tracks
    k = max((kind_of(c).degree for c in cams), default=1)
    rot_sigma, pos_sigma = _frame_sigmas(cfg, k)
    p0, r_prior, r_sigma, r_fn = _starting_points(inp, cfg, dem, level_shift_m)
    bad_track = ~np.all(np.isfinite(p0), axis=1)
    active = ~bad_track[obs_track] if n_tracks else np.zeros(0, bool)
    if cfg.solver == "schur":
        resolve_linear_solver(cfg.linear_solver)  # fail early on a solver that is not installed
    groups = camera_groups(cams)
    pts = {"points": cfg.points, "radius_fn": r_fn, "groups": groups}

    gsd = median_gsd(cams)
    npf = 3 * k * (2 if pos_sigma is not None else 1)
    fp = np.zeros((len(cams), npf))
    uv_xyz = p0.copy()  # current ground points (xyz) per track
    before = None
    rounds = 0
    converged = False
    problem = None
    solutions = []
    n_bad = 0
    act_idx = np.zeros(0, int)
    # weights: 1 / tie_sigma_px (or the estimated precision); the outlier threshold always
    # follows the robust estimate of the tie precision
    estimate_sigma = cfg.tie_sigma_px is None
    sigma_px = cfg.tie_sigma_px if not estimate_sigma else _SIGMA_START_PX
    est_sigma = sigma_px
    while True:
        # observations of tracks still seen by >= 2 frames (rows are unique per track and frame)
        act_idx = np.flatnonzero(active)
        counts = np.bincount(obs_track[act_idx], minlength=n_tracks) if n_tracks else np.zeros(0, int)
        act_idx = act_idx[counts[obs_track[act_idx]] >= 2]
        used_tracks, t_inv = np.unique(obs_track[act_idx], return_inverse=True)
        problem = BlockProblem(cams, obs_frame[act_idx], t_inv.ravel(), obs_xy[act_idx], uv_xyz[used_tracks],
                               gcp_frame, gcp_xy, gcp_xyz, rot_sigma, pos_sigma, sigma_px,
                               radius_prior=None if r_prior is None else r_prior[used_tracks],
                               radius_sigma_m=None if r_sigma is None else r_sigma[used_tracks], **pts)
        x0 = np.concatenate([fp.ravel(), np.zeros(problem.npp * problem.nt)])
        if before is None:
            before = BlockProblem(
                cams, obs_frame, obs_track, obs_xy, np.where(np.isfinite(p0), p0, 0.0),
                gcp_frame, gcp_xy, gcp_xyz, rot_sigma, pos_sigma, points=cfg.points, groups=groups,
            ).image_residuals(np.zeros(npf * len(cams) + problem.npp * n_tracks))
        if problem.n_obs == 0 and problem.n_gcp == 0:
            break
        rounds += 1
        # a round that may be followed by outlier rejection only screens (loose step criterion);
        # the last round is polished to the strict criterion before it is returned
        lam0 = solutions[-1].lam if solutions else LAMBDA_START
        sol = _solve(problem, x0, cfg, gsd, lam0, STEP_SIGMAS_SCREEN)
        solutions.append(sol)
        if not np.all(np.isfinite(sol.x)):
            raise RegistrationError("bundle adjustment diverged (non-finite parameters)")
        r_obs, r_gcp = problem.image_residuals(sol.x)
        est_new, thresh, bad = _screen(r_obs, r_gcp, cfg, est_sigma)
        sigma_changed = abs(est_new - est_sigma) > 0.1 * est_sigma
        final = (not bad.any() and not sigma_changed) or rounds >= cfg.max_iterations
        if final and sol.message.startswith("converged: largest camera update") and cfg.solver == "schur":
            polish = _solve(problem, sol.x, cfg, gsd, sol.lam, STEP_SIGMAS)
            polish.iterations += sol.iterations
            polish.seconds += sol.seconds
            solutions[-1] = sol = polish
            r_obs, r_gcp = problem.image_residuals(sol.x)
            est_new, thresh, bad = _screen(r_obs, r_gcp, cfg, est_sigma)
        x = sol.x
        converged = bool(sol.success)
        fp, uv = problem.split(x)
        fp = fp.copy()
        uv_xyz = uv_xyz.copy()
        uv_xyz[used_tracks] = problem.ground(uv)
        est_sigma = est_new
        n_bad = int(bad.sum())
        log.info(
            "adjustment round %d: %d observations, rms %.3f px, tie precision %.3f px, %d above %.3f px "
            "(%s, %d iterations, %.1f s)", rounds, problem.n_obs, _rms(r_obs), est_sigma, n_bad, thresh,
            sol.message, sol.iterations, sol.seconds,
        )
        if estimate_sigma:
            sigma_px = est_sigma
        if final:
            break
        active[act_idx[bad]] = False
    return _Rounds(fp, uv_xyz, before, act_idx, problem, rounds, converged, k, solutions, n_bad, groups)


def _final_residuals(inp: _Inputs, rs: _Rounds, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Residuals (pixels) of every observation and control point with the adjusted cameras
    (batched projections of the corrected cameras, one per camera group)."""
    tr = inp.tracks
    rot_sigma, pos_sigma = _frame_sigmas(cfg, rs.k)
    pts = np.where(np.isfinite(rs.uv_xyz), rs.uv_xyz, 0.0)
    prob = BlockProblem(inp.cams, tr.frame, tr.track, tr.line_sample, pts, inp.gcp_frame, inp.gcp_xy,
                        inp.gcp_xyz, rot_sigma, pos_sigma, groups=rs.groups)
    final_obs = prob.project_obs(rs.fp, pts[tr.track]) - tr.line_sample if len(tr) else np.zeros((0, 2))
    if len(tr):
        final_obs[~np.all(np.isfinite(rs.uv_xyz[tr.track]), axis=1)] = np.nan
    final_gcp = prob.project_gcp(rs.fp) - inp.gcp_xy if len(inp.gcp_frame) else np.zeros((0, 2))
    return final_obs, final_gcp


def _network_table(inp: _Inputs, rs: _Rounds, final_obs, final_gcp, outlier) -> ControlNetwork:
    obs_frame, obs_track, obs_xy = inp.tracks.frame, inp.tracks.track, inp.tracks.line_sample
    gcp_frame, gcp_xy, gcp_xyz = inp.gcp_frame, inp.gcp_xy, inp.gcp_xyz
    n_tracks = inp.tracks.n_tracks
    before = rs.before
    lon, lat = (np.degrees(a) for a in xyz_to_lonlat(rs.uv_xyz)) if n_tracks else (np.zeros(0), np.zeros(0))
    glon, glat = (np.degrees(a) for a in xyz_to_lonlat(gcp_xyz)) if len(gcp_xyz) else (np.zeros(0), np.zeros(0))
    id_arr = np.array(inp.ids, dtype=object)
    return ControlNetwork(
        point_id=np.concatenate([obs_track, -1 - np.arange(len(gcp_frame))]).astype(int),
        frame_id=np.concatenate([id_arr[obs_frame], id_arr[gcp_frame]]) if len(inp.ids) else np.zeros(0, object),
        line=np.concatenate([obs_xy[:, 0], gcp_xy[:, 0]]),
        sample=np.concatenate([obs_xy[:, 1], gcp_xy[:, 1]]),
        lon_deg=np.concatenate([lon[obs_track] if n_tracks else np.zeros(0), glon]),
        lat_deg=np.concatenate([lat[obs_track] if n_tracks else np.zeros(0), glat]),
        residual_before_px=np.concatenate([np.linalg.norm(before[0], axis=1), np.linalg.norm(before[1], axis=1)])
        if before is not None else np.zeros(0),
        residual_after_px=np.concatenate([np.linalg.norm(final_obs, axis=1), np.linalg.norm(final_gcp, axis=1)]),
        outlier=np.concatenate([outlier, np.zeros(len(gcp_frame), bool)]),
        control=np.concatenate([np.zeros(len(obs_frame), bool), np.ones(len(gcp_frame), bool)]),
    )


def _solve_auto(inp: _Inputs, cfg, dem) -> tuple[_Rounds, str, float, float, tuple[float, float]]:
    """The solve rounds with ``cfg.points`` (``auto``: :mod:`~.pointmode`); returns them, how
    the points were solved, the free points' relief parallax (px), view angle (deg, p90 of
    :func:`~.points.view_angle_deg`) and level (:func:`_level`); NaN for surface points."""
    points = cfg.points if cfg.points != "auto" else "free" if inp.tracks.n_tracks else "surface"
    free = cfg.model_copy(update={"points": "free"})
    rs = _solve_rounds(inp, cfg.model_copy(update={"points": points}), dem)
    if points != "free":
        return rs, points, math.nan, math.nan, (math.nan, math.nan)
    tr = inp.tracks
    gamma, count = ray_angle(inp.cams, tr.frame, tr.track, tr.line_sample, tr.n_tracks)
    level, parallax = relief_parallax(inp.cams, tr.track, gamma, rs.act_idx, rs.uv_xyz, dem)
    view = view_angle_deg(gamma, count)
    held = dem is not None or inp.base is not None  # a DEM holds the level: no datum test, no sphere
    if cfg.points != "auto" or held or parallax > cfg.relief_parallax_px:
        return rs, points, parallax, view, _level(rs, inp, cfg, gamma)
    if abs(level.parallax_px) > cfg.relief_parallax_px:  # a common height that matters: is it the data's?
        shift = math.copysign(cfg.point_radius_sigma_sphere_m / 3.0, -level.height_m)
        moved = relief_parallax(inp.cams, tr.track, gamma, rs.act_idx, _solve_rounds(inp, free, dem, shift).uv_xyz)[0]
        if level.determined(moved.height_m, shift, cfg.point_radius_sigma_sphere_m):
            return rs, points, parallax, view, _level(rs, inp, cfg, gamma)
    surface = _solve_rounds(inp, cfg.model_copy(update={"points": "surface"}), dem)
    return surface, "surface", parallax, math.nan, (math.nan, math.nan)


def _level(rs: _Rounds, inp: _Inputs, cfg, gamma: np.ndarray) -> tuple[float, float]:
    """The free points' level sigma (m) and the p90 over the tracks of the displacement between
    views (px) it causes on the true surface: each point's rise with the level
    (:func:`~.covariance.level_mode`) times ``2 tan(gamma / 2)`` for its views ``gamma`` (rad,
    per track) apart; NaN without a solve."""
    if rs.problem is None or not rs.solutions:
        return math.nan, math.nan
    sigma, rise = level_mode(rs.problem, rs.solutions[-1].x, cfg)
    if not math.isfinite(sigma):
        return math.nan, math.nan
    shift = np.abs(rise) * 2.0 * np.tan(gamma[np.unique(inp.tracks.track[rs.act_idx])] / 2.0)
    return sigma, float(np.percentile(shift / median_gsd(inp.cams), 90))


def adjust(
    cameras: Mapping,
    matches: Sequence,
    cfg,
    *,
    control: Sequence[GroundControl] = (),
    seed: int = 0,
    excluded: Mapping[str, str] | None = None,
    dem=None,
    base=None,
) -> RegistrationResult:
    """Bundle-adjust camera pointing from pairwise tie points.

    Parameters
    ----------
    cameras : mapping ``{frame id: FrameCamera}``
        Prior cameras of every frame of the run (``None`` values: frames without
        geometry, reported as excluded).
    matches : sequence of PairMatches
        Output of :func:`~pipeline.registration.matching.match_pair` (``id_i``/``id_j``
        must be keys of ``cameras``); empty ones are fine (their reason is reported).
    cfg : RegistrationParams
        ``pointing_sigma_deg``, ``position_sigma_m``, ``tie_sigma_px``, ``robust_loss``,
        ``robust_scale_px``, ``outlier_px``, ``outlier_sigma``, ``solver``,
        ``linear_solver``, ``max_iterations``, ``max_nfev``, ``merge_radius_px``,
        ``track_tolerance_px``, ``min_tie_points``, ``unmatched``, ``points`` (``auto``:
        :mod:`~pipeline.registration.bundle.pointmode`), ``relief_parallax_px``,
        ``point_radius_sigma_m``, ``point_radius_sigma_sphere_m``,
        ``pointing_drift_sigma_deg``, ``position_drift_sigma_m``, ``drift_sigma``.
    control : sequence of GroundControl, optional
        Ground control points (fixed ground coordinates), e.g. from
        :func:`~pipeline.registration.control.match_basemap`.
    seed : int
        Unused by the deterministic solver; accepted so every registration function has
        the same seeding interface.
    excluded : mapping ``{frame id: reason}``, optional
        Frames already rejected upstream (listed with that reason).
    dem : Dem, optional
        Terrain (:class:`pipeline.geometry.dem.Dem`) for the radius prior of free points;
        without it the prior is the reference sphere with the loose
        ``point_radius_sigma_sphere_m``. Unused for surface-bound points.
    base : Dem, optional
        Without ``dem``: a coarse DEM (``mosaicking.relief_base``, e.g. a global one) in place
        of the sphere, and the network's mean radius held to ``point_radius_sigma_m`` about it
        (without it a strip's common height floats with the pointing priors).

    Returns
    -------
    RegistrationResult

    Raises
    ------
    RegistrationError
        The solver failed for the whole network (non-finite residuals everywhere).

    Notes
    -----
    ``stats.common_rotation_sigma_deg``: the common rotation's sigma (module docstring).
    ``result.convergence`` says whether the solve converged, why it stopped, and warns of
    drift; ``result.motion`` gives each tied camera's correction against its priors.

    Examples
    --------
    >>> result = adjust({f.id: f.camera for f in frames}, matches, cfg.registration)  # doctest: +SKIP
    >>> result.stats.rms_before_px, result.stats.rms_after_px  # doctest: +SKIP
    (4.91, 0.06)
    """
    del seed
    pair_info = [
        {"id_i": m.id_i, "id_j": m.id_j, "n": len(m), "score": float(m.score), "reason": m.reason}
        for m in matches
    ]
    inp = _inputs(cameras, matches, cfg, control, excluded, base)
    rs, points, parallax, view, (level_sigma, level_px) = _solve_auto(inp, cfg, dem)
    adjusted = {}
    solve_pos = cfg.position_sigma_m is not None
    for k, fid in enumerate(inp.ids):
        kind = kind_of(inp.cams[k])
        rot = rs.fp[k, : 3 * rs.k].reshape(rs.k, 3)[: kind.degree]
        pos = rs.fp[k, 3 * rs.k : 6 * rs.k].reshape(rs.k, 3)[: kind.degree] if solve_pos else None
        adjusted[fid] = kind.corrected(inp.cams[k], rot, pos)
    final_obs, final_gcp = _final_residuals(inp, rs, cfg)

    # inlier set: observations used in the last solve
    obs_frame, obs_track = inp.tracks.frame, inp.tracks.track
    used = np.zeros(len(obs_frame), bool)
    if rs.problem is not None and rs.problem.n_obs:
        used[rs.act_idx] = True
    outlier = ~used
    status, out_cams, corrections, tied_mask, tied_comps = frame_statuses(inp, rs, cfg, adjusted, final_obs, used)
    network = _network_table(inp, rs, final_obs, final_gcp, outlier)

    n_tied = int(tied_mask.sum())
    absolute = len(inp.gcp_frame) > 0
    notes, common_sigma = network_notes(cfg, n_tied, absolute, len(tied_comps))
    if cfg.points == "auto" and math.isfinite(parallax):
        notes.append(auto_note(points, parallax, cfg.relief_parallax_px, dem is not None))
        log.info(notes[-1])
    motion = camera_motion(corrections, cfg)
    convergence = convergence_of(rs.solutions, rs.rounds, cfg, motion, absolute, rs.stopped_with_outliers)
    if math.isfinite(level_sigma):
        notes.append(f"free tie points: their common level is known to {level_sigma:.0f} m (1 sigma; an error that "
                     f"size moves the views {level_px:.2f} px apart on the true surface, p90)")
        log.info(notes[-1])
    for note in (convergence_notes(convergence, cfg) + relief_view_notes(points, view, dem is not None)
                 + level_notes(level_sigma, level_px)
                 + (base_notes(inp.base.post_m, median_gsd(inp.cams)) if inp.base is not None and inp.cams else [])):
        notes.append(note)
        log.warning(note)
    before = rs.before
    stats = RegistrationStats(
        rms_before_px=_rms(np.concatenate([before[0][used], before[1]])) if before is not None else math.nan,
        rms_after_px=_rms(np.concatenate([final_obs[used], final_gcp])),
        n_frames=len(inp.ids_all),
        n_tied=n_tied,
        n_pairs=len(matches),
        n_pairs_matched=sum(1 for m in matches if len(m)),
        n_tracks=len(np.unique(obs_track[used])) if used.any() else 0,
        n_observations=int(used.sum()),
        n_outliers=int(outlier.sum()),
        n_inconsistent_tracks=inp.tracks.n_inconsistent,
        n_control_points=len(inp.gcp_frame),
        n_components=len(tied_comps),
        iterations=rs.rounds,
        converged=rs.converged,
        absolute_control=absolute,
        common_rotation_sigma_deg=common_sigma,
    )
    log.info("registration: %d/%d frames tied, %d tracks, rms %.3f -> %.3f px, %d outliers",
             n_tied, len(inp.ids_all), stats.n_tracks, stats.rms_before_px, stats.rms_after_px, stats.n_outliers)
    return RegistrationResult(out_cams, corrections, status, network, stats, pair_info, notes, convergence, motion,
                              rs.uv_xyz, points, parallax, view, level_sigma, level_px)
