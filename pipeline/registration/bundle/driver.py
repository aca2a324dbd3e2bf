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
from pipeline.registration.bundle.problem import _initial_ground, _median_gsd, _Problem, _rms
from pipeline.registration.bundle.result import (
    EXCLUDED,
    PRIOR,
    TIED,
    ControlNetwork,
    FrameCorrection,
    FrameStatus,
    GroundControl,
    RegistrationResult,
    RegistrationStats,
)
from pipeline.registration.bundle.solve import _solve
from pipeline.registration.overlap import connected_components
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


@dataclass
class _Rounds:
    """State after the solve / reject rounds."""

    fp: np.ndarray  # (n_frames, npf) corrections
    uv_xyz: np.ndarray  # (n_tracks, 3) adjusted ground points
    before: tuple | None  # residuals of the prior cameras (obs, gcp)
    act_idx: np.ndarray  # observations of the last solve
    problem: _Problem | None
    rounds: int
    converged: bool


def _inputs(cameras: Mapping, matches: Sequence, cfg, control: Sequence[GroundControl], excluded) -> _Inputs:
    excluded = dict(excluded or {})
    ids_all = [str(k) for k in cameras]
    cams_all = {str(k): v for k, v in cameras.items()}
    for fid, cam in cams_all.items():
        if cam is None:
            excluded.setdefault(fid, "no camera geometry")
    ids = [fid for fid in ids_all if fid not in excluded]
    cams = [cams_all[fid] for fid in ids]
    good_matches = [m for m in matches if len(m) and m.id_i in ids and m.id_j in ids]
    tracks: Tracks = build_tracks(good_matches, ids, merge_radius_px=cfg.merge_radius_px,
                                  tolerance_px=cfg.track_tolerance_px)
    fidx = {fid: k for k, fid in enumerate(ids)}
    control = [c for c in control if c.frame_id in fidx and len(c)]
    gcp_frame = np.concatenate([np.full(len(c), fidx[c.frame_id]) for c in control]) if control else np.zeros(0, int)
    gcp_xy = np.concatenate([c.line_sample for c in control]) if control else np.zeros((0, 2))
    gcp_xyz = np.concatenate([c.xyz for c in control]) if control else np.zeros((0, 3))
    return _Inputs(ids_all, ids, cams, excluded, tracks, gcp_frame, gcp_xy, gcp_xyz)


def _solve_rounds(inp: _Inputs, cfg) -> _Rounds:
    """Solve, reject observations above the outlier threshold, solve again (``max_iterations``)."""
    cams, gcp_frame, gcp_xy, gcp_xyz = inp.cams, inp.gcp_frame, inp.gcp_xy, inp.gcp_xyz
    obs_frame, obs_track, obs_xy = inp.tracks.frame, inp.tracks.track, inp.tracks.line_sample
    n_tracks = inp.tracks.n_tracks
    sigma_rot = math.radians(cfg.pointing_sigma_deg)
    sigma_pos = cfg.position_sigma_m
    p0 = _initial_ground(cams, obs_frame, obs_track, obs_xy, n_tracks) if n_tracks else np.zeros((0, 3))
    bad_track = ~np.all(np.isfinite(p0), axis=1)
    active = ~bad_track[obs_track] if n_tracks else np.zeros(0, bool)

    gsd = _median_gsd(cams)
    npf = 6 if sigma_pos is not None else 3
    fp = np.zeros((len(cams), npf))
    uv_xyz = p0.copy()  # current ground points (xyz) per track
    before = None
    rounds = 0
    converged = False
    problem = None
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
        problem = _Problem(cams, obs_frame[act_idx], t_inv.ravel(), obs_xy[act_idx], uv_xyz[used_tracks],
                           gcp_frame, gcp_xy, gcp_xyz, sigma_rot, sigma_pos, sigma_px)
        x0 = np.concatenate([fp.ravel(), np.zeros(2 * problem.nt)])
        if before is None:
            before = _Problem(
                cams, obs_frame, obs_track, obs_xy, np.where(np.isfinite(p0), p0, 0.0),
                gcp_frame, gcp_xy, gcp_xyz, sigma_rot, sigma_pos,
            ).image_residuals(np.zeros(npf * len(cams) + 2 * n_tracks))
        if problem.n_obs == 0 and problem.n_gcp == 0:
            break
        rounds += 1
        sol = _solve(problem, x0, cfg, gsd)
        if not np.all(np.isfinite(sol.x)):
            raise RegistrationError("bundle adjustment diverged (non-finite parameters)")
        x = sol.x
        converged = bool(sol.success)
        fp, uv = problem.split(x)
        fp = fp.copy()
        uv_xyz = uv_xyz.copy()
        uv_xyz[used_tracks] = problem.ground(uv)
        r_obs, r_gcp = problem.image_residuals(x)
        norm = np.linalg.norm(r_obs, axis=1)
        comps = np.concatenate([r_obs.ravel(), r_gcp.ravel()])
        comps = comps[np.isfinite(comps)]
        prev = est_sigma
        if comps.size >= 20:
            est_sigma = max(_SIGMA_FLOOR_PX, 1.4826 * float(np.median(np.abs(comps))))
        thresh = min(cfg.outlier_px, cfg.outlier_sigma * est_sigma)
        bad = ~(norm <= thresh)
        log.info(
            "adjustment round %d: %d observations, rms %.3f px, tie precision %.3f px, %d above %.3f px (%s)",
            rounds, problem.n_obs, _rms(r_obs), est_sigma, int(bad.sum()), thresh, f"{sol.message}, nfev {sol.nfev}",
        )
        sigma_changed = abs(est_sigma - prev) > 0.1 * prev
        if estimate_sigma:
            sigma_px = est_sigma
        if (not bad.any() and not sigma_changed) or rounds >= cfg.max_iterations:
            break
        active[act_idx[bad]] = False
    return _Rounds(fp, uv_xyz, before, act_idx, problem, rounds, converged)


def _final_residuals(inp: _Inputs, rs: _Rounds, adjusted: dict) -> tuple[np.ndarray, np.ndarray]:
    """Residuals (pixels) of every observation and control point with the adjusted cameras."""
    obs_frame, obs_track, obs_xy = inp.tracks.frame, inp.tracks.track, inp.tracks.line_sample
    final_obs = np.full((len(obs_frame), 2), np.nan)
    for k, fid in enumerate(inp.ids):
        idx = np.flatnonzero(obs_frame == k)
        if len(idx):
            pts = rs.uv_xyz[obs_track[idx]]
            ok = np.all(np.isfinite(pts), axis=1)
            if ok.any():
                line, sample = adjusted[fid].ground_to_image(pts[ok])
                final_obs[idx[ok]] = np.stack([line, sample], 1) - obs_xy[idx[ok]]
    final_gcp = np.full((len(inp.gcp_frame), 2), np.nan)
    for k, fid in enumerate(inp.ids):
        idx = np.flatnonzero(inp.gcp_frame == k)
        if len(idx):
            line, sample = adjusted[fid].ground_to_image(inp.gcp_xyz[idx])
            final_gcp[idx] = np.stack([line, sample], 1) - inp.gcp_xy[idx]
    return final_obs, final_gcp


def _frame_statuses(inp: _Inputs, rs: _Rounds, cfg, adjusted: dict, final_obs: np.ndarray, used: np.ndarray):
    """Per-frame status, output cameras and corrections, and the tied components."""
    ids, cams = inp.ids, inp.cams
    obs_frame, obs_track = inp.tracks.frame, inp.tracks.track
    npf = rs.fp.shape[1]
    status: dict[str, FrameStatus] = {}
    n_tie = np.bincount(obs_frame[used], minlength=len(ids)) if len(ids) else np.zeros(0, int)
    n_gcp = np.bincount(inp.gcp_frame, minlength=len(ids)) if len(ids) else np.zeros(0, int)
    edges = []
    if used.any():
        ut = obs_track[used]
        uf = obs_frame[used]
        order = np.lexsort((uf, ut))
        ut, uf = ut[order], uf[order]
        same = ut[1:] == ut[:-1]
        edges = list(zip(uf[:-1][same], uf[1:][same]))
    comp = connected_components(len(ids), edges) if ids else np.zeros(0, int)
    tied_mask = (n_tie >= cfg.min_tie_points) | (n_gcp >= cfg.min_tie_points)
    tied_comps = sorted({int(comp[k]) for k in range(len(ids)) if tied_mask[k]})
    comp_rank = {c: r for r, c in enumerate(tied_comps)}
    out_cams, corrections = {}, {}
    for k, fid in enumerate(ids):
        sel = obs_frame == k
        rb = _rms(rs.before[0][sel & used]) if rs.before is not None else math.nan
        ra = _rms(final_obs[sel & used])
        if tied_mask[k]:
            out_cams[fid] = adjusted[fid]
            corrections[fid] = FrameCorrection(tuple(map(float, rs.fp[k, :3])),
                                               tuple(map(float, rs.fp[k, 3:6])) if npf == 6 else (0.0, 0.0, 0.0))
            status[fid] = FrameStatus(TIED, "", int(n_tie[k]), int(n_gcp[k]), rb, ra, comp_rank[int(comp[k])])
        else:
            why = (f"only {int(n_tie[k])} tie points (< min_tie_points = {cfg.min_tie_points})"
                   if n_tie[k] else "no tie points with any overlapping frame")
            if cfg.unmatched == "exclude":
                status[fid] = FrameStatus(EXCLUDED, why, int(n_tie[k]), int(n_gcp[k]))
            else:
                out_cams[fid] = cams[k]
                status[fid] = FrameStatus(PRIOR, why + "; kept with its prior pointing", int(n_tie[k]),
                                          int(n_gcp[k]))
    for fid, why in inp.excluded.items():
        status[fid] = FrameStatus(EXCLUDED, why)
    status = {fid: status[fid] for fid in inp.ids_all if fid in status} | {
        fid: s for fid, s in status.items() if fid not in inp.ids_all
    }
    return status, out_cams, corrections, tied_mask, tied_comps


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


def _notes(cfg, n_tied: int, absolute: bool, n_components: int) -> tuple[list[str], float]:
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


def adjust(
    cameras: Mapping,
    matches: Sequence,
    cfg,
    *,
    control: Sequence[GroundControl] = (),
    seed: int = 0,
    excluded: Mapping[str, str] | None = None,
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
    cfg : RegisterConfig
        ``pointing_sigma_deg``, ``position_sigma_m``, ``tie_sigma_px``, ``robust_loss``,
        ``robust_scale_px``, ``outlier_px``, ``outlier_sigma``, ``solver``,
        ``max_iterations``, ``max_nfev``, ``merge_radius_px``, ``track_tolerance_px``,
        ``min_tie_points``, ``unmatched``.
    control : sequence of GroundControl, optional
        Ground control points (fixed ground coordinates), e.g. from
        :func:`~pipeline.registration.control.match_basemap`.
    seed : int
        Unused by the deterministic solver; accepted so every registration function has
        the same seeding interface.
    excluded : mapping ``{frame id: reason}``, optional
        Frames already rejected upstream (listed with that reason).

    Returns
    -------
    RegistrationResult

    Raises
    ------
    RegistrationError
        The solver failed for the whole network (non-finite residuals everywhere).

    Notes
    -----
    A rotation common to all frames is constrained only by the priors (and ground
    control): with ``N`` tied frames and prior sigma ``s`` it is known to about
    ``s / sqrt(N)`` per axis. ``stats.common_rotation_sigma_deg`` reports that number.

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
    inp = _inputs(cameras, matches, cfg, control, excluded)
    rs = _solve_rounds(inp, cfg)
    npf = rs.fp.shape[1]
    adjusted = {}
    for k, fid in enumerate(inp.ids):
        adjusted[fid] = inp.cams[k].with_pointing_correction(rs.fp[k, :3], rs.fp[k, 3:6] if npf == 6 else None)
    final_obs, final_gcp = _final_residuals(inp, rs, adjusted)

    # inlier set: observations used in the last solve
    obs_frame, obs_track = inp.tracks.frame, inp.tracks.track
    used = np.zeros(len(obs_frame), bool)
    if rs.problem is not None and rs.problem.n_obs:
        used[rs.act_idx] = True
    outlier = ~used
    status, out_cams, corrections, tied_mask, tied_comps = _frame_statuses(inp, rs, cfg, adjusted, final_obs, used)
    network = _network_table(inp, rs, final_obs, final_gcp, outlier)

    n_tied = int(tied_mask.sum())
    absolute = len(inp.gcp_frame) > 0
    notes, common_sigma = _notes(cfg, n_tied, absolute, len(tied_comps))
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
    return RegistrationResult(out_cams, corrections, status, network, stats, pair_info, notes)
