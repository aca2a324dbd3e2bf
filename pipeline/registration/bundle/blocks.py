"""The adjustment problem of one round in block form: residuals and per-observation Jacobians.

Unknowns
    - per frame ``f``: correction coefficients ``c_j`` (rotation vectors, camera frame,
      radians) and, when positions are solved, ``p_j`` (body-fixed metres),
      ``j < k`` (the camera kind's degree, :mod:`~pipeline.registration.bundle.cameras`);
      frames of lower degree than the network's largest keep their extra coefficients at 0
      (no Jacobian, prior only);
    - per track ``t``, its ground point about a start ``p0_t`` with the local east, north
      and up unit vectors ``e, n, u`` there:

      * ``points="surface"`` (2 unknowns, metres): the point on the reference ellipsoid in
        the direction ``p0/|p0| + (a e + b n)/|p0|``;
      * ``points="free"`` (3 unknowns, metres): ``p0 + a e + b n + h u``, i.e. latitude,
        longitude and radius (conditioned as metres), with a radius prior.
Residuals (rows, in this order)
    - reprojection errors ``(line, sample)`` in pixels over ``sigma_px``, two per tie
      observation, then two per ground-control point (robust loss);
    - frame priors: coefficient / its sigma (``frame_sigma``, one per unknown);
    - ``points="free"``: radius priors ``(|X_t| - r_prior_t) / sigma_r`` (``r_prior`` from
      a DEM under the point when one is given, else the reference sphere).
Jacobians
    **Vectorised over all observations**, from each camera kind's
    ``project_jacobian`` (:mod:`~pipeline.registration.bundle.cameras`): frame cameras by
    the chain rule through one batched projection per intrinsics group (4
    ``ground_to_image`` calls per linearisation for all frames), other kinds by forward
    differences of their projection; ``d img / d point`` is ``d img / d X`` times the point
    parametrisation's ``d X / d unknowns``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from pipeline.geometry.body import lonlat_to_xyz, xyz_to_lonlat
from pipeline.geometry.footprint import tangent_basis
from pipeline.registration.bundle.cameras import kind_of

__all__ = ["BlockJacobian", "BlockProblem", "camera_groups", "sum_by"]

H_ROT = 1e-7  # rad
H_POS = 1e-2  # m
H_PT = 1e-2  # m


def sum_by(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``values (m, ...)`` grouped by ``index (m,)`` into ``(n, ...)`` (a sparse product)."""
    if not len(index):
        return np.zeros((n,) + values.shape[1:])
    flat = values.reshape(len(index), -1)
    ind = sparse.csr_matrix((np.ones(len(index)), (index, np.arange(len(index)))), shape=(n, len(index)))
    return np.asarray(ind @ flat).reshape((n,) + values.shape[1:])


def camera_groups(cams) -> list[tuple]:
    """``[(kind, frame indices)]``: frames projected together (same kind and group key)."""
    keys: dict = {}
    for f, cam in enumerate(cams):
        kind = kind_of(cam)
        keys.setdefault((id(kind), kind.group_key(cam)), (kind, []))[1].append(f)
    return [(kind, np.array(frames, int)) for kind, frames in keys.values()]


class BlockJacobian:
    """Residual blocks and their Jacobians at one point ``x`` (all already divided by sigmas).

    Attributes
    ----------
    r_obs, r_gcp : (n_obs, 2), (n_gcp, 2)
    jc_obs, jc_gcp : (n_obs, 2, npf), (n_gcp, 2, npf)   d residual / d frame unknowns
    jp_obs : (n_obs, 2, npp)                             d residual / d point unknowns
    r_pp, jp_pp : (nt,), (nt, npp)                       point radius priors (free points)
    """

    def __init__(self, r_obs, r_gcp, jc_obs, jc_gcp, jp_obs, r_pp, jp_pp):
        self.r_obs, self.r_gcp = r_obs, r_gcp
        self.jc_obs, self.jc_gcp, self.jp_obs = jc_obs, jc_gcp, jp_obs
        self.r_pp, self.jp_pp = r_pp, jp_pp


class BlockProblem:
    """Residuals and block Jacobians of one adjustment round (observations fixed).

    Parameters
    ----------
    cams : list of camera
        Prior cameras (any kind with an adapter, :func:`~.cameras.kind_of`).
    obs_frame, obs_track : ndarray of int (n_obs,)
        Frame and track (0..nt-1) of each tie observation.
    obs_xy : ndarray (n_obs, 2)
        Observed ``(line, sample)``, pixels.
    p0 : ndarray (nt, 3)
        Starting ground points, body-fixed metres.
    gcp_frame, gcp_xy, gcp_xyz : ndarrays
        Ground control: frame, observed ``(line, sample)``, fixed ground point (m).
    rot_sigma : sequence of float
        Prior sigma (radians) of rotation coefficient ``j`` (length = the largest degree).
    pos_sigma : sequence of float or None
        Prior sigma (m) of position coefficient ``j``; None: positions fixed.
    sigma_px : float
        Tie-point precision (pixels): image residuals are divided by it.
    points : {"surface", "free"}
    radius_prior, radius_sigma_m : ndarray (nt,) and float or ndarray (nt,), for ``points="free"``
        Prior radius of each track's point (m) and its sigma (m; ``inf``: no prior). ``radius_fn`` (lon, lat
        radians -> radius m) re-evaluates the prior under the moving point (a DEM);
        None: ``radius_prior`` stays fixed.
    groups : list, optional
        :func:`camera_groups` of ``cams`` (computed here when not given).
    """

    def __init__(self, cams, obs_frame, obs_track, obs_xy, p0, gcp_frame, gcp_xy, gcp_xyz, rot_sigma,
                 pos_sigma, sigma_px: float = 1.0, *, points: str = "surface", radius_prior=None,
                 radius_sigma_m: float | np.ndarray | None = None, radius_fn=None, groups=None):
        self.cams = list(cams)
        self.nf = len(self.cams)
        self._groups = groups if groups is not None else camera_groups(self.cams)
        self.k = len(rot_sigma)
        need = max((kind.degree for kind, _ in self._groups), default=1)
        if need > self.k:
            raise ValueError(f"rot_sigma has {self.k} coefficients; a camera kind needs {need}")
        self.solve_pos = pos_sigma is not None
        self.npf = 3 * self.k * (2 if self.solve_pos else 1)
        sig = np.repeat(np.asarray(rot_sigma, float), 3)
        if self.solve_pos:
            sig = np.concatenate([sig, np.repeat(np.asarray(pos_sigma, float), 3)])
        self.frame_sigma = sig  # (npf,)
        self.w_img = 1.0 / sigma_px
        self.obs_frame = np.asarray(obs_frame, int)
        self.obs_track = np.asarray(obs_track, int)
        self.obs_xy = np.asarray(obs_xy, float)
        self.p0 = np.asarray(p0, float)
        self.nt = len(self.p0)
        self.gcp_frame = np.asarray(gcp_frame, int)
        self.gcp_xy = np.asarray(gcp_xy, float)
        self.gcp_xyz = np.asarray(gcp_xyz, float)
        self.n_obs, self.n_gcp = len(self.obs_frame), len(self.gcp_frame)
        self.n_img = 2 * (self.n_obs + self.n_gcp)
        self.points = points
        self.npp = 3 if points == "free" else 2
        self.radius = np.linalg.norm(self.p0, axis=1) if self.nt else np.zeros(0)
        unit = self.p0 / np.where(self.radius > 0, self.radius, 1.0)[:, None] if self.nt else self.p0
        self.east, self.north = tangent_basis(unit) if self.nt else (self.p0, self.p0)
        self.up = unit
        self.radii = self.cams[0].radii_m if self.cams else (1737400.0, 1737400.0)
        self.radius_prior = None if radius_prior is None else np.asarray(radius_prior, float)
        self.radius_sigma = radius_sigma_m
        self.radius_fn = radius_fn
        self._obs_groups = [self._split(g, self.obs_frame) for g in self._groups]
        self._gcp_groups = [self._split(g, self.gcp_frame) for g in self._groups]

    # -- layout ---------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Unknowns: the frames' correction parameters, then the points' (free: 3 each, else 2)."""
        return self.npf * self.nf + self.npp * self.nt

    @property
    def n_point_priors(self) -> int:
        """Rows of the points' radius prior (one per point when points are free, else none)."""
        return self.nt if self.points == "free" else 0

    def split(self, x):
        """The parameter vector ``x`` as (frame parameters (nf, npf), point parameters (nt, npp))."""
        fp = x[: self.npf * self.nf].reshape(self.nf, self.npf)
        pp = x[self.npf * self.nf :].reshape(self.nt, self.npp)
        return fp, pp

    def coefficients(self, fp: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Rotation ``(nf, k, 3)`` and position ``(nf, k, 3)`` (or None) coefficients of ``fp``."""
        n = 3 * self.k
        rot = fp[:, :n].reshape(-1, self.k, 3)
        pos = fp[:, n : 2 * n].reshape(-1, self.k, 3) if self.solve_pos else None
        return rot, pos

    def _split(self, group, frame_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``frame_of`` in ``group`` and their frame index local to the group."""
        _, frames = group
        local = np.full(self.nf, -1)
        local[frames] = np.arange(len(frames))
        rows = np.flatnonzero(local[frame_of] >= 0) if len(frame_of) else np.zeros(0, int)
        return rows, local[frame_of[rows]]

    # -- model ----------------------------------------------------------------------------
    def ground(self, pp) -> np.ndarray:
        """Ground points ``(nt, 3)`` (m) of the point unknowns ``pp (nt, npp)``."""
        if not self.nt:
            return np.zeros((0, 3))
        if self.points == "free":
            return self.p0 + pp[:, :1] * self.east + pp[:, 1:2] * self.north + pp[:, 2:3] * self.up
        d = self.p0 / self.radius[:, None] + (pp[:, :1] * self.east + pp[:, 1:] * self.north) / self.radius[:, None]
        lon, lat = xyz_to_lonlat(d)
        return lonlat_to_xyz(lon, lat, 0.0, self.radii)

    def project_obs(self, fp, xyz_obs) -> np.ndarray:
        """Image coordinates (n_obs, 2) of the tie observations' ground points ``xyz_obs``."""
        return self._project_rows(fp, xyz_obs, self._obs_groups)

    def project_gcp(self, fp) -> np.ndarray:
        """Image coordinates (n_gcp, 2) of the ground control points with frame parameters ``fp``."""
        return self._project_rows(fp, self.gcp_xyz, self._gcp_groups)

    def _project_rows(self, fp, xyz, split) -> np.ndarray:
        rot, pos = self.coefficients(fp)
        out = np.full((len(xyz), 2), np.nan)
        for (kind, frames), (rows, local) in zip(self._groups, split):
            if len(rows):
                k = kind.degree
                out[rows] = kind.project([self.cams[f] for f in frames], local, rot[frames, :k],
                                         None if pos is None else pos[frames, :k], xyz[rows])
        return out

    def image_residuals(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Per-observation residual vectors (n_obs, 2) and per-GCP (n_gcp, 2), pixels."""
        fp, pp = self.split(x)
        xyz = self.ground(pp)
        r_obs = self.project_obs(fp, xyz[self.obs_track]) - self.obs_xy if self.n_obs else np.zeros((0, 2))
        r_gcp = self.project_gcp(fp) - self.gcp_xy if self.n_gcp else np.zeros((0, 2))
        return r_obs, r_gcp

    def point_priors(self, pp) -> np.ndarray:
        """Radius prior residuals (nt,) (free points; empty otherwise)."""
        if self.points != "free" or not self.nt:
            return np.zeros(0)
        xyz = self.ground(pp)
        r = np.linalg.norm(xyz, axis=1)
        prior = self.radius_prior
        if self.radius_fn is not None:
            lon, lat = xyz_to_lonlat(xyz)
            now = np.asarray(self.radius_fn(lon, lat), float)
            prior = np.where(np.isfinite(now), now, prior)
        return (r - prior) / self.radius_sigma

    def residuals(self, x) -> np.ndarray:
        """All residuals as one vector (the order of the module docstring)."""
        fp, pp = self.split(x)
        r_obs, r_gcp = self.image_residuals(x)
        res = np.concatenate([self.w_img * r_obs.ravel(), self.w_img * r_gcp.ravel(),
                              (fp / self.frame_sigma).ravel(), self.point_priors(pp)])
        return np.where(np.isfinite(res), res, 1e6)

    # -- Jacobian -------------------------------------------------------------------------
    def _jacobian_rows(self, fp, xyz, split):
        """Image coordinates and their derivatives for the rows of one kind (obs or GCP)."""
        rot, pos = self.coefficients(fp)
        n = len(xyz)
        img = np.full((n, 2), np.nan)
        jc = np.zeros((n, 2, self.npf))
        jx = np.zeros((n, 2, 3))
        n_rot = 3 * self.k
        for (kind, frames), (rows, local) in zip(self._groups, split):
            if not len(rows):
                continue
            k = kind.degree
            i, d_rot, d_pos, d_xyz = kind.project_jacobian(
                [self.cams[f] for f in frames], local, rot[frames, :k], None if pos is None else pos[frames, :k],
                xyz[rows], H_ROT, H_POS, H_PT)
            img[rows] = i
            jc[rows, :, : 3 * k] = d_rot
            if d_pos is not None:
                jc[rows, :, n_rot : n_rot + 3 * k] = d_pos
            jx[rows] = d_xyz
        return img, jc, jx

    def ground_jacobian(self, pp) -> np.ndarray:
        """``d X_t / d pp_t`` (nt, 3, npp): the local basis (free) or by differences (surface)."""
        if self.points == "free":
            return np.stack([self.east, self.north, self.up], axis=2)
        base = self.ground(pp)
        out = np.zeros((self.nt, 3, self.npp))
        for c in range(self.npp):
            pp2 = pp.copy()
            pp2[:, c] += H_PT
            out[:, :, c] = (self.ground(pp2) - base) / H_PT
        return out

    def blocks(self, x) -> BlockJacobian:
        """Weighted residual blocks and their Jacobians at ``x``."""
        fp, pp = self.split(x)
        xyz = self.ground(pp)
        if self.n_obs:
            base_o, jc_o, jx_o = self._jacobian_rows(fp, xyz[self.obs_track], self._obs_groups)
            jp_o = np.matmul(jx_o, self.ground_jacobian(pp)[self.obs_track])
        else:
            base_o, jc_o, jp_o = np.zeros((0, 2)), np.zeros((0, 2, self.npf)), np.zeros((0, 2, self.npp))
        if self.n_gcp:
            base_g, jc_g, _ = self._jacobian_rows(fp, self.gcp_xyz, self._gcp_groups)
        else:
            base_g, jc_g = np.zeros((0, 2)), np.zeros((0, 2, self.npf))
        r_pp = self.point_priors(pp)
        jp_pp = np.zeros((len(r_pp), self.npp))
        for c in range(self.npp if len(r_pp) else 0):
            pp2 = pp.copy()
            pp2[:, c] += H_PT
            jp_pp[:, c] = (self.point_priors(pp2) - r_pp) / H_PT
        r_obs = (base_o - self.obs_xy) * self.w_img
        r_gcp = (base_g - self.gcp_xy) * self.w_img
        jc_o *= self.w_img
        jc_g *= self.w_img
        jp_o *= self.w_img
        for arr in (r_obs, r_gcp, jc_o, jc_g, jp_o, r_pp, jp_pp):
            np.nan_to_num(arr, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return BlockJacobian(r_obs, r_gcp, jc_o, jc_g, jp_o, r_pp, jp_pp)

    def jacobian(self, x) -> sparse.csr_matrix:
        """The full sparse Jacobian of :meth:`residuals` (for ``scipy.optimize.least_squares``)."""
        b = self.blocks(x)
        nc = self.npf * self.nf
        rows, cols, vals = [], [], []
        o = np.arange(self.n_obs)
        for comp in range(2):
            r = 2 * o + comp
            rows += [np.repeat(r, self.npf), np.repeat(r, self.npp)]
            cols += [(self.obs_frame[:, None] * self.npf + np.arange(self.npf)).ravel(),
                     (nc + self.obs_track[:, None] * self.npp + np.arange(self.npp)).ravel()]
            vals += [b.jc_obs[:, comp].ravel(), b.jp_obs[:, comp].ravel()]
            g = np.arange(self.n_gcp)
            rows.append(np.repeat(2 * self.n_obs + 2 * g + comp, self.npf))
            cols.append((self.gcp_frame[:, None] * self.npf + np.arange(self.npf)).ravel())
            vals.append(b.jc_gcp[:, comp].ravel())
        n_prior = self.npf * self.nf
        rows.append(self.n_img + np.arange(n_prior))
        cols.append(np.arange(n_prior))
        vals.append(np.tile(1.0 / self.frame_sigma, self.nf))
        if len(b.r_pp):
            t = np.arange(self.nt)
            rows.append(np.repeat(self.n_img + n_prior + t, self.npp))
            cols.append((nc + t[:, None] * self.npp + np.arange(self.npp)).ravel())
            vals.append(b.jp_pp.ravel())
        rows, cols, vals = map(np.concatenate, (rows, cols, vals))
        n_rows = self.n_img + n_prior + len(b.r_pp)
        return sparse.csr_matrix((vals, (rows, cols)), shape=(n_rows, self.n_params))
