"""What an adjustment made of each frame: its status, its correction and the tied components.

A frame is ``tied`` with ``min_tie_points`` tie points (or control points) in the last solve,
else ``excluded`` or kept with its ``prior`` pointing (``registration.unmatched``). Residuals
are pixels; corrections are the solved rotation (rad) and position (m) coefficients.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.registration.bundle.cameras import kind_of
from pipeline.registration.bundle.result import EXCLUDED, PRIOR, TIED, FrameCorrection, FrameStatus

__all__ = ["frame_statuses"]


def _per_frame_rms(frame: np.ndarray, r: np.ndarray, n: int) -> np.ndarray:
    """RMS residual magnitude (n,) per frame of residual vectors ``r (m, 2)`` (NaN rows skipped)."""
    ok = np.all(np.isfinite(r), axis=1)
    cnt = np.bincount(frame[ok], minlength=n)
    ss = np.bincount(frame[ok], np.sum(r[ok] ** 2, axis=1), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, np.sqrt(ss / np.maximum(cnt, 1)), math.nan)


def _components(n: int, track: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Component label (0..) of each of ``n`` frames in the graph of frames sharing a track."""
    if not n:
        return np.zeros(0, int)
    order = np.lexsort((frame, track))
    t, f = track[order], frame[order]
    same = t[1:] == t[:-1]
    graph = coo_matrix((np.ones(int(same.sum())), (f[:-1][same], f[1:][same])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _correction(fp_row: np.ndarray, k_net: int, degree: int, solve_pos: bool) -> FrameCorrection:
    """The correction of one frame from its row of unknowns (network layout ``k_net``, the
    camera kind's ``degree`` coefficients used)."""
    k = degree
    rot = fp_row[: 3 * k_net].reshape(k_net, 3)[:k]
    pos = fp_row[3 * k_net : 6 * k_net].reshape(k_net, 3)[:k] if solve_pos else np.zeros((k, 3))
    coeffs = (tuple(tuple(map(float, r)) for r in rot), tuple(tuple(map(float, r)) for r in pos)) if k > 1 else ((), ())
    return FrameCorrection(tuple(map(float, rot[0])), tuple(map(float, pos[0])), *coeffs)


def frame_statuses(inp, rs, cfg, adjusted: dict, final_obs: np.ndarray, used: np.ndarray):
    """Per-frame status, output cameras and corrections, and the tied components."""
    ids, cams = inp.ids, inp.cams
    obs_frame, obs_track = inp.tracks.frame, inp.tracks.track
    solve_pos = cfg.position_sigma_m is not None
    status: dict[str, FrameStatus] = {}
    n_tie = np.bincount(obs_frame[used], minlength=len(ids)) if len(ids) else np.zeros(0, int)
    n_gcp = np.bincount(inp.gcp_frame, minlength=len(ids)) if len(ids) else np.zeros(0, int)
    comp = _components(len(ids), obs_track[used], obs_frame[used])
    tied_mask = (n_tie >= cfg.min_tie_points) | (n_gcp >= cfg.min_tie_points)
    tied_comps = sorted({int(c) for c in np.unique(comp[tied_mask])}) if len(ids) else []
    comp_rank = {c: r for r, c in enumerate(tied_comps)}
    rms_b = (_per_frame_rms(obs_frame[used], rs.before[0][used], len(ids)) if rs.before is not None
             else np.full(len(ids), math.nan))
    rms_a = _per_frame_rms(obs_frame[used], final_obs[used], len(ids))
    out_cams, corrections = {}, {}
    for k, fid in enumerate(ids):
        if tied_mask[k]:
            out_cams[fid] = adjusted[fid]
            corrections[fid] = _correction(rs.fp[k], rs.k, kind_of(cams[k]).degree, solve_pos)
            status[fid] = FrameStatus(TIED, "", int(n_tie[k]), int(n_gcp[k]), float(rms_b[k]), float(rms_a[k]),
                                      comp_rank[int(comp[k])])
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
