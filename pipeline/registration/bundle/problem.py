"""The least-squares problem of one adjustment round: unknowns, residuals, Jacobian.

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
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from pipeline.errors import GeometryError, RegistrationError
from pipeline.geometry.body import lonlat_to_xyz, xyz_to_lonlat
from pipeline.geometry.rotation import rotvec_to_matrix
from pipeline.registration.overlap import tangent_basis

__all__ = ["ROBUST_LOSSES"]

ROBUST_LOSSES = ("linear", "huber", "soft_l1", "cauchy", "arctan")
"""Robust losses for the reprojection residuals (``scipy.optimize.least_squares`` names)."""


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
