"""Bundle adjustment of camera pointing from tie points (and optional ground control).

Model (ISIS ``jigsaw`` / ASP ``bundle_adjust`` in spirit, for frame cameras):

Unknowns
    - per frame: a rotation vector ``w_f`` (3, radians) in the **camera** frame,
      ``cam_to_body' = cam_to_body @ R(w_f)`` (``FrameCamera.with_pointing_correction``),
      and optionally a position offset ``d_f`` (3, body-fixed metres);
    - per track: its ground point on the reference surface, as two tangent-plane
      coordinates ``(u, v)`` in metres about a starting point ``p0`` (east/north):
      ``xyz = surface point in the direction p0/|p0| + (u e + v n) / |p0|`` (no
      singularity at the poles or at +-180 deg).
Residuals
    - reprojection errors in **pixels**: ``ground_to_image(xyz)`` of the corrected camera
      minus the observed ``(line, sample)``, two per observation, under a robust loss
      (``robust_loss``, scale ``robust_scale_px``);
    - priors, not robustified: ``w_f / sigma_w`` with ``sigma_w = pointing_sigma_deg``,
      ``d_f / sigma_d`` with ``sigma_d = position_sigma_m`` (when positions are solved);
    - ground control points (fixed ground coordinates, e.g. from a reference basemap) add
      reprojection residuals whose ground point is not an unknown.
Solver
    ``scipy.optimize.least_squares(method="trf", tr_solver="lsmr")`` with a sparse
    Jacobian built blockwise by finite differences: for each frame only its own
    observations are re-projected (one ``ground_to_image`` call per frame per parameter),
    and all ground points are perturbed at once (each observation depends on one).
    Then observations with a residual above ``outlier_px`` are rejected and the problem
    solved again, up to ``max_iterations`` rounds.

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

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import least_squares

from pipeline.errors import GeometryError, RegistrationError
from pipeline.geometry.body import lonlat_to_xyz, xyz_to_lonlat
from pipeline.geometry.footprint import tangent_basis
from pipeline.geometry.overlap import connected_components
from pipeline.geometry.rotation import rotvec_to_matrix
from pipeline.registration.tracks import Tracks, build_tracks

log = logging.getLogger(__name__)

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

ROBUST_LOSSES = ("linear", "huber", "soft_l1", "cauchy", "arctan")
"""Robust losses for the reprojection residuals (``scipy.optimize.least_squares`` names)."""

TIED, PRIOR, EXCLUDED = "tied", "prior", "excluded"

_SIGMA_START_PX = 0.25  # first guess of the tie-point precision when it is estimated
_SIGMA_FLOOR_PX = 0.02  # never trust tie points more than this


# ----------------------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------------------
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
    ``angle_deg`` is the rotation angle ``|rotvec|`` in degrees.
    """

    rotvec_rad: tuple[float, float, float]
    position_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def angle_deg(self) -> float:
        return math.degrees(float(np.linalg.norm(self.rotvec_rad)))

    @property
    def rotvec_deg(self) -> tuple[float, float, float]:
        """The rotation vector in degrees (camera frame)."""
        return tuple(math.degrees(v) for v in self.rotvec_rad)


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
        Caveats for the report (e.g. absolute position limited by the priors).
    """

    cameras: dict
    corrections: dict[str, FrameCorrection]
    status: dict[str, FrameStatus]
    network: ControlNetwork
    stats: RegistrationStats
    pairs: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def frames_with(self, status: str) -> list[str]:
        """Frame ids whose status is ``status`` (``tied``, ``prior``, ``excluded``)."""
        return [k for k, s in self.status.items() if s.status == status]


# ----------------------------------------------------------------------------------------
# the problem
# ----------------------------------------------------------------------------------------
def _robust(name: str, n_img: int):
    """Callable loss for least_squares: robust on the first ``n_img`` residuals, linear after."""
    if name not in ROBUST_LOSSES:
        raise RegistrationError(f"unknown robust loss {name!r}; choose from {ROBUST_LOSSES}")

    def loss(z: np.ndarray) -> np.ndarray:
        rho = np.empty((3, z.size))
        rho[0], rho[1], rho[2] = z, 1.0, 0.0
        zi = z[:n_img]
        if name == "huber":
            big = zi > 1
            rho[0, :n_img] = np.where(big, 2 * np.sqrt(np.where(big, zi, 1)) - 1, zi)
            rho[1, :n_img] = np.where(big, 1 / np.sqrt(np.where(big, zi, 1)), 1.0)
            rho[2, :n_img] = np.where(big, -0.5 / np.where(big, zi, 1) ** 1.5, 0.0)
        elif name == "soft_l1":
            t = 1 + zi
            rho[0, :n_img] = 2 * (np.sqrt(t) - 1)
            rho[1, :n_img] = t**-0.5
            rho[2, :n_img] = -0.5 * t**-1.5
        elif name == "cauchy":
            rho[0, :n_img] = np.log1p(zi)
            rho[1, :n_img] = 1 / (1 + zi)
            rho[2, :n_img] = -1 / (1 + zi) ** 2
        elif name == "arctan":
            rho[0, :n_img] = np.arctan(zi)
            rho[1, :n_img] = 1 / (1 + zi**2)
            rho[2, :n_img] = -2 * zi / (1 + zi**2) ** 2
        return rho

    return loss


class _Problem:
    """Residuals and Jacobian of one adjustment round (observations fixed)."""

    H_ROT = 1e-7  # rad
    H_POS = 1e-2  # m
    H_UV = 1e-2  # m

    def __init__(self, cams: list, obs_frame, obs_track, obs_xy, p0, gcp_frame, gcp_xy, gcp_xyz,
                 sigma_rot: float, sigma_pos: float | None, sigma_px: float = 1.0):
        self.cams = cams
        self.positions = [c.position_m for c in cams]
        self.rotations = [c.cam_to_body for c in cams]
        self.w_img = 1.0 / sigma_px
        self.nf = len(cams)
        self.solve_pos = sigma_pos is not None
        self.npf = 6 if self.solve_pos else 3
        self.obs_frame = obs_frame
        self.obs_track = obs_track
        self.obs_xy = obs_xy
        self.p0 = p0  # (nt, 3)
        self.nt = len(p0)
        self.gcp_frame = gcp_frame
        self.gcp_xy = gcp_xy
        self.gcp_xyz = gcp_xyz
        self.sigma_rot = sigma_rot
        self.sigma_pos = sigma_pos
        self.radius = np.linalg.norm(p0, axis=1) if self.nt else np.zeros(0)
        self.east, self.north = tangent_basis(p0 / self.radius[:, None]) if self.nt else (p0, p0)
        self.radii = cams[0].radii_m if cams else (1737400.0, 1737400.0)
        # rows: all tie observations (2 each), then control observations, then priors
        self.n_obs = len(obs_frame)
        self.n_gcp = len(gcp_frame)
        self.n_img = 2 * (self.n_obs + self.n_gcp)
        self.n_prior = self.npf * self.nf
        self.by_frame = [np.flatnonzero(obs_frame == f) for f in range(self.nf)]
        self.gcp_by_frame = [np.flatnonzero(gcp_frame == f) for f in range(self.nf)]

    @property
    def n_params(self) -> int:
        return self.npf * self.nf + 2 * self.nt

    def split(self, x):
        fp = x[: self.npf * self.nf].reshape(self.nf, self.npf)
        uv = x[self.npf * self.nf :].reshape(self.nt, 2)
        return fp, uv

    def ground(self, uv) -> np.ndarray:
        if not self.nt:
            return np.zeros((0, 3))
        d = self.p0 / self.radius[:, None] + (uv[:, :1] * self.east + uv[:, 1:] * self.north) / self.radius[:, None]
        lon, lat = xyz_to_lonlat(d)
        return lonlat_to_xyz(lon, lat, 0.0, self.radii)

    def _project(self, f: int, fp_row, xyz_obs, xyz_gcp):
        """Image coordinates of ground points in frame ``f`` corrected by ``fp_row``.

        Instead of building ``cam.with_pointing_correction(w, d)`` for every evaluation, the
        points are moved so that the *prior* camera sees them where the corrected one
        would: ``X' = P + C R(w)^T C^T (X - P - d)`` with ``C = cam_to_body`` and ``P`` the
        position (exactly equivalent; ``FrameCamera`` construction is the costly part).
        """
        cam = self.cams[f]
        pos, c = self.positions[f], self.rotations[f]
        m = c @ rotvec_to_matrix(fp_row[:3]).T @ c.T
        shift = pos + (fp_row[3:6] if self.solve_pos else 0.0)
        out = []
        for xyz in (xyz_obs, xyz_gcp):
            if len(xyz):
                line, sample = cam.ground_to_image(pos + (xyz - shift) @ m.T)
                out.append(np.stack([line, sample], axis=1))
            else:
                out.append(np.zeros((0, 2)))
        return out

    def image_residuals(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Per-observation residual vectors (n_obs, 2) and per-GCP (n_gcp, 2), pixels."""
        fp, uv = self.split(x)
        xyz = self.ground(uv)
        r_obs = np.zeros((self.n_obs, 2))
        r_gcp = np.zeros((self.n_gcp, 2))
        for f in range(self.nf):
            io, ig = self.by_frame[f], self.gcp_by_frame[f]
            if not len(io) and not len(ig):
                continue
            po, pg = self._project(f, fp[f], xyz[self.obs_track[io]], self.gcp_xyz[ig])
            r_obs[io] = po - self.obs_xy[io]
            r_gcp[ig] = pg - self.gcp_xy[ig]
        return r_obs, r_gcp

    def priors(self, x) -> np.ndarray:
        fp, _ = self.split(x)
        out = fp[:, :3] / self.sigma_rot
        if self.solve_pos:
            out = np.concatenate([out, fp[:, 3:6] / self.sigma_pos], axis=1)
        return out.ravel()

    def residuals(self, x) -> np.ndarray:
        r_obs, r_gcp = self.image_residuals(x)
        res = np.concatenate([self.w_img * r_obs.ravel(), self.w_img * r_gcp.ravel(), self.priors(x)])
        return np.where(np.isfinite(res), res, 1e6)

    def jacobian(self, x) -> sparse.csr_matrix:
        fp, uv = self.split(x)
        xyz = self.ground(uv)
        rows, cols, vals = [], [], []
        gcp_row0 = 2 * self.n_obs
        for f in range(self.nf):
            io, ig = self.by_frame[f], self.gcp_by_frame[f]
            if not len(io) and not len(ig):
                continue
            xo, xg = xyz[self.obs_track[io]], self.gcp_xyz[ig]
            base_o, base_g = self._project(f, fp[f], xo, xg)
            r_idx = np.concatenate([np.stack([2 * io, 2 * io + 1], 1).ravel(),
                                    np.stack([gcp_row0 + 2 * ig, gcp_row0 + 2 * ig + 1], 1).ravel()])
            for k in range(self.npf):
                h = self.H_ROT if k < 3 else self.H_POS
                row = fp[f].copy()
                row[k] += h
                po, pg = self._project(f, row, xo, xg)
                d = np.concatenate([((po - base_o) / h).ravel(), ((pg - base_g) / h).ravel()]) * self.w_img
                rows.append(r_idx)
                cols.append(np.full(r_idx.size, f * self.npf + k))
                vals.append(d)
        if self.nt and self.n_obs:
            base, _ = self.image_residuals(x)
            c0 = self.npf * self.nf
            for k in range(2):
                x2 = x.copy()
                x2[c0 + k :: 2] += self.H_UV
                pert, _ = self.image_residuals(x2)
                d = (pert - base) * (self.w_img / self.H_UV)  # (n_obs, 2)
                obs = np.arange(self.n_obs)
                rows.append(np.stack([2 * obs, 2 * obs + 1], 1).ravel())
                cols.append(np.repeat(c0 + 2 * self.obs_track + k, 2))
                vals.append(d.ravel())
        # priors
        p_rows = self.n_img + np.arange(self.n_prior)
        p_vals = np.tile(
            np.r_[[1 / self.sigma_rot] * 3, [1 / self.sigma_pos] * 3 if self.solve_pos else []], self.nf
        )
        rows.append(p_rows)
        cols.append(np.arange(self.n_prior))
        vals.append(p_vals)
        rows, cols, vals = map(np.concatenate, (rows, cols, vals))
        vals = np.where(np.isfinite(vals), vals, 0.0)
        return sparse.csr_matrix((vals, (rows, cols)), shape=(self.n_img + self.n_prior, self.n_params))


def _initial_ground(cams: list, obs_frame, obs_track, obs_xy, n_tracks: int) -> np.ndarray:
    """Mean of the observations' ground intersections per track, put on the surface."""
    xyz = np.full((len(obs_frame), 3), np.nan)
    for f, cam in enumerate(cams):
        idx = np.flatnonzero(obs_frame == f)
        if len(idx):
            pts, hit = cam.image_to_ground_hit(obs_xy[idx, 0], obs_xy[idx, 1])
            xyz[idx] = np.where(hit[:, None], pts, np.nan)
    good = np.all(np.isfinite(xyz), axis=1)
    sums = np.zeros((n_tracks, 3))
    np.add.at(sums, obs_track[good], xyz[good])
    cnt = np.bincount(obs_track[good], minlength=n_tracks)
    mean = sums / np.maximum(cnt, 1)[:, None]
    lon, lat = xyz_to_lonlat(mean)
    radii = cams[0].radii_m
    out = lonlat_to_xyz(lon, lat, 0.0, radii)
    out[cnt == 0] = np.nan
    return out


@dataclass
class _Solution:
    x: np.ndarray
    success: bool
    message: str
    nfev: int


def _solve(problem: _Problem, x0: np.ndarray, cfg, gsd: float):
    """Minimise the robust cost with the configured solver (``cfg.solver``)."""
    if cfg.solver == "scipy":
        return _solve_scipy(problem, x0, cfg, gsd)
    return _solve_schur(problem, x0, cfg)


def _solve_scipy(problem: _Problem, x0: np.ndarray, cfg, gsd: float):
    """``scipy.optimize.least_squares`` (trf, sparse Jacobian, LSMR trust-region steps).

    The LSMR tolerances must be tight: the network's weak common modes make the system
    ill-conditioned, and inexact steps stall the trust region far from the minimum.
    """
    x_scale = np.concatenate([
        np.tile(np.r_[[problem.sigma_rot] * 3, [problem.sigma_pos] * 3 if problem.solve_pos else []], problem.nf),
        np.full(2 * problem.nt, gsd),
    ])
    return least_squares(
        problem.residuals,
        x0,
        jac=problem.jacobian,
        method="trf",
        loss=_robust(cfg.robust_loss, problem.n_img),
        f_scale=cfg.robust_scale_px * problem.w_img,
        x_scale=x_scale,
        tr_solver="lsmr",
        tr_options={"atol": 1e-10, "btol": 1e-10},
        ftol=1e-12,
        xtol=1e-12,
        gtol=1e-12,
        max_nfev=cfg.max_nfev,
    )


def _solve_schur(problem: _Problem, x0: np.ndarray, cfg) -> _Solution:
    """Levenberg-Marquardt on the reduced camera system (the classic bundle-adjustment solver).

    Each iteration linearises the residuals (robust loss by iteratively reweighted least
    squares: rows scaled by ``sqrt(rho'(z))``), forms the normal equations, eliminates the
    ground points (2 x 2 blocks, one per track) by the Schur complement and solves the
    small dense camera system ``S dc = g`` by Cholesky; the ground updates follow by
    back-substitution. The cost is the same as :func:`_solve_scipy`'s, so both solvers
    reach the same minimum; this one solves each step exactly, which keeps the weak
    common modes of the network (fixed only by the priors) converged.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    loss = _robust(cfg.robust_loss, problem.n_img)
    f_scale = cfg.robust_scale_px * problem.w_img
    nc = problem.npf * problem.nf
    nt = problem.nt

    def cost_of(r: np.ndarray) -> float:
        rho = loss((r / f_scale) ** 2)
        return 0.5 * f_scale**2 * float(np.sum(rho[0]))

    x = np.array(x0, dtype=float)
    r = problem.residuals(x)
    cost = cost_of(r)
    lam = 1e-3
    nfev, message, success = 1, "maximum number of iterations reached", False
    for _ in range(cfg.max_nfev):
        jac = problem.jacobian(x)
        w = np.sqrt(np.maximum(loss((r / f_scale) ** 2)[1], 0.0))
        jw = sparse.diags(w) @ jac
        rw = w * r
        jc = jw[:, :nc].tocsc()
        jg = jw[:, nc:].tocsc()
        u = (jc.T @ jc).toarray()
        bc = -(jc.T @ rw)
        if nt:
            wm = (jc.T @ jg).tocsr()  # (nc, 2 nt)
            vv = (jg.T @ jg).tocsr()
            a = vv.diagonal()[0::2]
            d = vv.diagonal()[1::2]
            b = np.asarray(vv[np.arange(0, 2 * nt, 2), np.arange(1, 2 * nt, 2)]).ravel()
            bg = -(jg.T @ rw)
        improved = False
        while lam < 1e12:
            u_l = u + lam * np.diag(np.maximum(np.diag(u), 1e-12))
            if nt:
                a_l = a + lam * np.maximum(a, 1e-12)
                d_l = d + lam * np.maximum(d, 1e-12)
                det = a_l * d_l - b * b
                # inverse of each 2 x 2 block [[a, b], [b, d]]
                e0, e1 = 2 * np.arange(nt), 2 * np.arange(nt) + 1
                inv = sparse.csr_matrix(
                    (np.stack([d_l / det, -b / det, -b / det, a_l / det], 1).ravel(),
                     (np.stack([e0, e0, e1, e1], 1).ravel(), np.stack([e0, e1, e0, e1], 1).ravel())),
                    shape=(2 * nt, 2 * nt),
                )
                wv = wm @ inv
                s_mat = u_l - (wv @ wm.T).toarray()
                rhs = bc - wv @ bg
            else:
                s_mat, rhs = u_l, bc
            # Jacobi scaling: rotations (rad) and positions (m) differ by orders of magnitude
            dsc = np.sqrt(np.maximum(np.diag(s_mat), 1e-300))
            s_scaled = s_mat / np.outer(dsc, dsc)
            try:
                dc = cho_solve(cho_factor(s_scaled), rhs / dsc) / dsc
            except LinAlgError:
                dc = np.linalg.lstsq(s_scaled, rhs / dsc, rcond=None)[0] / dsc
            dx = np.concatenate([dc, inv @ (bg - wm.T @ dc)]) if nt else dc
            x_new = x + dx
            r_new = problem.residuals(x_new)
            nfev += 1
            new_cost = cost_of(r_new)
            if np.isfinite(new_cost) and new_cost <= cost:
                improved = True
                lam = max(lam / 5.0, 1e-9)
                break
            lam *= 10.0
        if not improved:
            message, success = "no further decrease of the cost", True
            break
        rel = (cost - new_cost) / max(cost, 1e-300)
        step = float(np.max(np.abs(dx[:nc]))) if nc else 0.0
        x, r, cost = x_new, r_new, new_cost
        if rel < 1e-10 or step < 1e-12:
            message, success = "converged", True
            break
    return _Solution(x, success, message, nfev)


def _median_gsd(cams: list) -> float:
    """Median ground sample distance (m) of the cameras that see the body at their centre."""
    values = []
    for cam in cams:
        try:
            values.append(cam.gsd_m())
        except GeometryError:
            continue
    return float(np.median(values)) if values else 1.0


def _rms(r: np.ndarray) -> float:
    r = r[np.all(np.isfinite(r), axis=1)] if r.ndim == 2 else r
    return float(np.sqrt(np.mean(np.sum(r**2, axis=-1)))) if len(r) else math.nan


# ----------------------------------------------------------------------------------------
# public entry point
# ----------------------------------------------------------------------------------------
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
    cfg : RegistrationParams
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
    excluded = dict(excluded or {})
    ids_all = [str(k) for k in cameras]
    cams_all = {str(k): v for k, v in cameras.items()}
    status: dict[str, FrameStatus] = {}
    for fid, cam in cams_all.items():
        if cam is None:
            excluded.setdefault(fid, "no camera geometry")
    ids = [fid for fid in ids_all if fid not in excluded]
    cams = [cams_all[fid] for fid in ids]
    sigma_rot = math.radians(cfg.pointing_sigma_deg)
    sigma_pos = cfg.position_sigma_m
    pair_info = [
        {"id_i": m.id_i, "id_j": m.id_j, "n": len(m), "score": float(m.score), "reason": m.reason}
        for m in matches
    ]
    good_matches = [m for m in matches if len(m) and m.id_i in ids and m.id_j in ids]
    tracks: Tracks = build_tracks(good_matches, ids, merge_radius_px=cfg.merge_radius_px,
                                  tolerance_px=cfg.track_tolerance_px)
    fidx = {fid: k for k, fid in enumerate(ids)}
    control = [c for c in control if c.frame_id in fidx and len(c)]
    gcp_frame = np.concatenate([np.full(len(c), fidx[c.frame_id]) for c in control]) if control else np.zeros(0, int)
    gcp_xy = np.concatenate([c.line_sample for c in control]) if control else np.zeros((0, 2))
    gcp_xyz = np.concatenate([c.xyz for c in control]) if control else np.zeros((0, 3))

    obs_frame, obs_track, obs_xy = tracks.frame, tracks.track, tracks.line_sample
    n_tracks = tracks.n_tracks
    notes: list[str] = []
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
    x = None
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

    # ---- final residuals for every observation with the adjusted cameras
    adjusted = {}
    for k, fid in enumerate(ids):
        adjusted[fid] = cams[k].with_pointing_correction(fp[k, :3], fp[k, 3:6] if npf == 6 else None)
    final_obs = np.full((len(obs_frame), 2), np.nan)
    for k, fid in enumerate(ids):
        idx = np.flatnonzero(obs_frame == k)
        if len(idx):
            pts = uv_xyz[obs_track[idx]]
            ok = np.all(np.isfinite(pts), axis=1)
            if ok.any():
                line, sample = adjusted[fid].ground_to_image(pts[ok])
                final_obs[idx[ok]] = np.stack([line, sample], 1) - obs_xy[idx[ok]]
    final_gcp = np.full((len(gcp_frame), 2), np.nan)
    for k, fid in enumerate(ids):
        idx = np.flatnonzero(gcp_frame == k)
        if len(idx):
            line, sample = adjusted[fid].ground_to_image(gcp_xyz[idx])
            final_gcp[idx] = np.stack([line, sample], 1) - gcp_xy[idx]

    # inlier set: observations used in the last solve
    used = np.zeros(len(obs_frame), bool)
    if problem is not None and problem.n_obs:
        used[act_idx] = True
    outlier = ~used

    # ---- frame status
    n_tie = np.bincount(obs_frame[used], minlength=len(ids)) if len(ids) else np.zeros(0, int)
    n_gcp = np.bincount(gcp_frame, minlength=len(ids)) if len(ids) else np.zeros(0, int)
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
        rb = _rms(before[0][sel & used]) if before is not None else math.nan
        ra = _rms(final_obs[sel & used])
        if tied_mask[k]:
            out_cams[fid] = adjusted[fid]
            corrections[fid] = FrameCorrection(tuple(map(float, fp[k, :3])),
                                               tuple(map(float, fp[k, 3:6])) if npf == 6 else (0.0, 0.0, 0.0))
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
    for fid, why in excluded.items():
        status[fid] = FrameStatus(EXCLUDED, why)
    status = {fid: status[fid] for fid in ids_all if fid in status} | {
        fid: s for fid, s in status.items() if fid not in ids_all
    }

    # ---- network table
    lon, lat = (np.degrees(a) for a in xyz_to_lonlat(uv_xyz)) if n_tracks else (np.zeros(0), np.zeros(0))
    glon, glat = (np.degrees(a) for a in xyz_to_lonlat(gcp_xyz)) if len(gcp_xyz) else (np.zeros(0), np.zeros(0))
    id_arr = np.array(ids, dtype=object)
    network = ControlNetwork(
        point_id=np.concatenate([obs_track, -1 - np.arange(len(gcp_frame))]).astype(int),
        frame_id=np.concatenate([id_arr[obs_frame], id_arr[gcp_frame]]) if len(ids) else np.zeros(0, object),
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

    n_tied = int(tied_mask.sum())
    absolute = len(gcp_frame) > 0
    common_sigma = cfg.pointing_sigma_deg / math.sqrt(max(n_tied, 1))
    if not absolute and n_tied:
        notes.append(
            f"no ground control: absolute position is limited by the pointing priors (a rotation common "
            f"to all {n_tied} tied frames is known to about {cfg.pointing_sigma_deg:g}/sqrt({n_tied}) = "
            f"{common_sigma:.3g} deg per axis)"
        )
        log.info(notes[-1])
    if len(tied_comps) > 1:
        notes.append(f"the tie-point network has {len(tied_comps)} separate components; frames in different "
                     f"components are registered to each other only through their priors")
        log.warning(notes[-1])
    stats = RegistrationStats(
        rms_before_px=_rms(np.concatenate([before[0][used], before[1]])) if before is not None else math.nan,
        rms_after_px=_rms(np.concatenate([final_obs[used], final_gcp])),
        n_frames=len(ids_all),
        n_tied=n_tied,
        n_pairs=len(matches),
        n_pairs_matched=sum(1 for m in matches if len(m)),
        n_tracks=len(np.unique(obs_track[used])) if used.any() else 0,
        n_observations=int(used.sum()),
        n_outliers=int(outlier.sum()),
        n_inconsistent_tracks=tracks.n_inconsistent,
        n_control_points=len(gcp_frame),
        n_components=len(tied_comps),
        iterations=rounds,
        converged=converged,
        absolute_control=absolute,
        common_rotation_sigma_deg=common_sigma,
    )
    log.info("registration: %d/%d frames tied, %d tracks, rms %.3f -> %.3f px, %d outliers",
             n_tied, len(ids_all), stats.n_tracks, stats.rms_before_px, stats.rms_after_px, stats.n_outliers)
    return RegistrationResult(out_cams, corrections, status, network, stats, pair_info, notes)


# ----------------------------------------------------------------------------------------
# writers
# ----------------------------------------------------------------------------------------
def write_control_network(network: ControlNetwork, path: str | Path) -> Path:
    """Write the control network as CSV.

    Columns: ``point_id, frame_id, line, sample, lon_deg, lat_deg, residual_before_px,
    residual_after_px, outlier, control`` (image coordinates in pixels, CSM convention;
    ground point of the adjusted network in planetocentric degrees). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ControlNetwork.COLUMNS)
        for k in range(len(network)):
            w.writerow([
                int(network.point_id[k]), network.frame_id[k],
                f"{network.line[k]:.4f}", f"{network.sample[k]:.4f}",
                f"{network.lon_deg[k]:.8f}", f"{network.lat_deg[k]:.8f}",
                f"{network.residual_before_px[k]:.4f}", f"{network.residual_after_px[k]:.4f}",
                int(bool(network.outlier[k])), int(bool(network.control[k])),
            ])
    return path


def write_adjusted_isds(cameras: Mapping, outdir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write one ISD sidecar ``<frame id>.json`` per camera (``camera.to_isd()``).

    Parameters
    ----------
    cameras : mapping ``{frame id: FrameCamera}``
        E.g. ``RegistrationResult.cameras``.
    outdir : str or Path
        Created if missing.
    overwrite : bool
        Refuse (``FileExistsError``) to replace an existing file unless True: never
        clobber the original sidecars by pointing ``outdir`` at the input folder.

    Returns
    -------
    list of Path
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fid, cam in cameras.items():
        if cam is None:
            continue
        path = outdir / f"{fid}.json"
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        path.write_text(json.dumps(cam.to_isd(), indent=1))
        paths.append(path)
    return paths
