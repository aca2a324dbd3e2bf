"""The least-squares problem behind :func:`pipeline.calibration.photometric_fit.fit_photometry`.

Observations ``k`` of cells ``c`` in frames ``f``; unknowns: the law's parameters
``theta``, per-frame log gains ``u`` and offsets ``o``, per-cell brightness ``a`` (all in
units of a data scale, the median I/F). Residuals: the overlap rows
``sqrt(w_k) (y_k - exp(u_f) a_c F_k - o_f)`` over cells seen at least twice, one
incidence-slope row per frame, and gauge rows (sum of ``u`` and of ``o`` over each group of
linked frames). The Jacobian is analytic and sparse except for finite differences in
``theta``; the covariance uses the Schur complement over the cells (their block is diagonal).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import least_squares
from scipy.sparse.csgraph import connected_components

from pipeline.calibration.photometric_laws import Law
from pipeline.calibration.photometric_observations import Observations
from pipeline.errors import PhotometricModelError

log = logging.getLogger(__name__)

_GAUGE_WEIGHT = 1e4
"""Weight of the gauge rows (sum of log gains, sum of offsets per frame group)."""

DENSE_LIMIT = 2e7
"""Largest reduced Jacobian (rows x columns) solved densely; larger ones go to LSMR."""

_MIN_SLOPE_SPREAD = np.radians(0.25)
"""A frame gets an incidence-slope row when its incidence spread (std) is at least this."""


@dataclass(frozen=True)
class Problem:
    """The scaled observations, law, cell indexing, frame groups and slope rows of one photometric fit."""

    obs: Observations
    law: Law
    scale: float  # I/F unit of the scaled data
    multi: np.ndarray  # observations of cells seen at least twice
    cell: np.ndarray  # compact cell index of those
    n_cells: int
    groups: tuple[np.ndarray, ...]  # frames linked by shared cells (groups of two or more)
    fit_offsets: bool
    slope_frames: np.ndarray  # frames with a slope row
    slope_weight: np.ndarray  # weight of each slope row
    standard: tuple[float, float, float]

    @property
    def n_params(self) -> int:
        """Number of law parameters (the leading entries of the parameter vector)."""
        return len(self.law.parameter_names)

    def split(self, x: np.ndarray):
        """The parameter vector ``x`` as ``(theta, u, o)``: law parameters, per-frame log gains, offsets
        (zeros when offsets are not fitted)."""
        p, nf = self.n_params, self.obs.n_frames
        theta = x[:p]
        u = x[p : p + nf]
        o = x[p + nf : p + 2 * nf] if self.fit_offsets else np.zeros(nf)
        a = x[p + (2 if self.fit_offsets else 1) * nf :]
        return theta, u, o, a

    def factor(self, theta: np.ndarray) -> np.ndarray:
        """``F = f(actual) / f(standard)`` for every observation."""
        obs = self.obs
        return self.law.factor(theta, obs.incidence, obs.emission, obs.phase, self.standard)

    def slopes(self, norm: np.ndarray) -> np.ndarray:
        """Relative slope (per radian) of normalised brightness against incidence, per slope frame.

        Observations with a non-finite ``norm`` (the law not positive there) do not count.
        """
        obs = self.obs
        nf = obs.n_frames
        good = np.isfinite(norm)
        w = np.where(good, obs.weight, 0.0)
        norm = np.where(good, norm, 0.0)
        sw = np.bincount(obs.frame, w, nf)
        mi = np.bincount(obs.frame, w * obs.incidence, nf) / np.maximum(sw, 1e-300)
        mn = np.bincount(obs.frame, w * norm, nf) / np.maximum(sw, 1e-300)
        di = obs.incidence - mi[obs.frame]
        cov = np.bincount(obs.frame, w * di * (norm - mn[obs.frame]), nf)
        var = np.bincount(obs.frame, w * di * di, nf)
        f = self.slope_frames
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(cov[f] / (var[f] * mn[f]), nan=0.0, posinf=0.0, neginf=0.0)

    def normalised(self, F: np.ndarray, o: np.ndarray) -> np.ndarray:
        """Normalised brightness ``(y - o_f) / F`` (scaled units), NaN where ``F <= 0``."""
        good = F > 0
        return np.where(
            good, (self.obs.iof / self.scale - o[self.obs.frame]) / np.where(good, F, 1.0), np.nan
        )

    def residuals(self, x: np.ndarray, F: np.ndarray | None = None) -> np.ndarray:
        """Overlap, incidence-slope and gauge rows at ``x`` (``F``: :meth:`factor` if known)."""
        theta, u, o, a = self.split(x)
        F = self.factor(theta) if F is None else F
        obs = self.obs
        m, fr = self.multi, self.obs.frame[self.multi]
        y = obs.iof[m] / self.scale
        data = np.sqrt(obs.weight[m]) * (y - np.exp(u[fr]) * a[self.cell] * F[m] - o[fr])
        parts = [data]
        if self.slope_frames.size:
            norm = self.normalised(F, o)
            parts.append(self.slope_weight * self.slopes(norm))
        for g in self.groups:
            parts.append([_GAUGE_WEIGHT * u[g].sum()])
            if self.fit_offsets:
                parts.append([_GAUGE_WEIGHT * o[g].sum()])
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])

    def jacobian(self, x: np.ndarray, F: np.ndarray | None = None) -> sp.csr_matrix:
        """Sparse Jacobian of :meth:`residuals` (finite differences in ``theta`` only)."""
        theta, u, o, a = self.split(x)
        obs = self.obs
        p, nf = self.n_params, obs.n_frames
        F = self.factor(theta) if F is None else F
        m, fr = self.multi, obs.frame[self.multi]
        nd = m.size
        sw = np.sqrt(obs.weight[m])
        gain = np.exp(u[fr])
        col_u, col_o = p, p + nf
        col_a = p + (2 if self.fit_offsets else 1) * nf
        rows, cols, vals = [], [], []
        r = np.arange(nd)
        # theta: finite differences of F (and of the slope rows)
        dF, dslope = [], []
        base_slope = self._slope_part(F, o) if self.slope_frames.size else None
        for j in range(p):
            h = 1e-6 * max(1.0, abs(theta[j]))
            if theta[j] + h > self.law.upper[j]:  # at the upper bound: difference inwards
                h = -h
            t2 = theta.copy()
            t2[j] += h
            F2 = self.factor(t2)
            dF.append((F2 - F) / h)
            if base_slope is not None:
                dslope.append((self._slope_part(F2, o) - base_slope) / h)
        for j in range(p):
            rows.append(r)
            cols.append(np.full(nd, j))
            vals.append(-sw * gain * a[self.cell] * dF[j][m])
        rows += [r, r]
        cols += [col_u + fr, col_a + self.cell]
        vals += [-sw * gain * a[self.cell] * F[m], -sw * gain * F[m]]
        if self.fit_offsets:
            rows.append(r)
            cols.append(col_o + fr)
            vals.append(-sw)
        row0 = nd
        if self.slope_frames.size:
            ns = self.slope_frames.size
            rs = row0 + np.arange(ns)
            for j in range(p):
                rows.append(rs)
                cols.append(np.full(ns, j))
                vals.append(dslope[j])
            if self.fit_offsets:
                h = 1e-6
                dso = (self._slope_part(F, o + h) - base_slope) / h
                rows.append(rs)
                cols.append(col_o + self.slope_frames)
                vals.append(dso)
            row0 += ns
        for g in self.groups:
            rows.append(np.full(g.size, row0))
            cols.append(col_u + g)
            vals.append(np.full(g.size, _GAUGE_WEIGHT))
            row0 += 1
            if self.fit_offsets:
                rows.append(np.full(g.size, row0))
                cols.append(col_o + g)
                vals.append(np.full(g.size, _GAUGE_WEIGHT))
                row0 += 1
        n_cols = col_a + self.n_cells
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(row0, n_cols)
        )

    def _slope_part(self, F: np.ndarray, o: np.ndarray) -> np.ndarray:
        norm = self.normalised(F, o)
        return self.slope_weight * self.slopes(norm)


def _frame_groups(frame: np.ndarray, cell: np.ndarray, n_frames: int, n_cells: int) -> tuple[np.ndarray, ...]:
    """Groups (two or more frames) linked through shared cells; lone frames keep gain 1, offset 0."""
    incidence = sp.csr_matrix((np.ones(frame.size), (cell, frame)), shape=(n_cells, n_frames))
    linked = (incidence.T @ incidence).tocsr()
    n, labels = connected_components(linked, directed=False)
    groups = [np.flatnonzero(labels == k) for k in range(n)]
    return tuple(g for g in groups if g.size >= 2)


def build_problem(
    obs: Observations,
    law: Law,
    standard: tuple[float, float, float],
    *,
    fit_offsets: bool = True,
    slope_frames: np.ndarray | None = None,
    slope_weight: np.ndarray | None = None,
) -> Problem:
    """The problem for ``law`` (no incidence-slope rows unless ``slope_frames`` is given)."""
    counts = np.bincount(obs.cell)
    multi = np.flatnonzero(counts[obs.cell] >= 2)
    if multi.size == 0:
        raise PhotometricModelError(
            "fit_photometry: no ground cell is seen twice; the frames must overlap (check frame/cell indices)"
        )
    _, cell = np.unique(obs.cell[multi], return_inverse=True)
    n_cells = int(cell.max()) + 1
    groups = _frame_groups(obs.frame[multi], cell, obs.n_frames, n_cells)
    frames_used = np.zeros(obs.n_frames, dtype=bool)
    frames_used[obs.frame[multi]] = True
    empty = np.zeros(0, dtype=np.int64)
    return Problem(
        obs=obs,
        law=law,
        scale=float(np.median(obs.iof)),
        multi=multi,
        cell=cell.astype(np.int64),
        n_cells=n_cells,
        groups=groups,
        fit_offsets=fit_offsets,
        slope_frames=empty if slope_frames is None else np.asarray(slope_frames, dtype=np.int64),
        slope_weight=np.zeros(0) if slope_weight is None else np.asarray(slope_weight, dtype=np.float64),
        standard=standard,
    )


def cell_brightness(problem: Problem, F: np.ndarray, u: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Each cell's least-squares brightness ``a_c`` given the law's ``F``, gains and offsets."""
    obs = problem.obs
    m = problem.multi
    fr = obs.frame[m]
    gf = np.exp(u[fr]) * F[m]
    y = obs.iof[m] / problem.scale - o[fr]
    w = obs.weight[m]
    num = np.bincount(problem.cell, w * gf * y, problem.n_cells)
    den = np.bincount(problem.cell, w * gf * gf, problem.n_cells)
    return num / np.where(den > 0, den, 1.0)


def reduced_full(problem: Problem, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The full vector (theta, u, o, a) from (theta, u, o), the cells in closed form, and ``F``."""
    theta, u, o, _ = problem.split(np.concatenate([t, np.zeros(problem.n_cells)]))
    F = problem.factor(theta)
    return np.concatenate([t, cell_brightness(problem, F, u, o)]), F


def _reduced_jacobian(problem: Problem, x: np.ndarray, F: np.ndarray | None = None) -> sp.csr_matrix:
    """``J_t - B (B^T B)^-1 B^T J_t``: the Jacobian with the cells projected out (Kaufman).

    ``B`` (the cell columns) has one non-zero per overlap row, so ``B^T B`` is diagonal and
    ``J_red^T J_red`` is the Schur complement of ``J^T J`` over the cells.
    """
    J = problem.jacobian(x, F)
    nt = x.size - problem.n_cells
    Jt, B = J[:, :nt].tocsc(), J[:, nt:].tocsc()
    btb = np.asarray(B.multiply(B).sum(axis=0)).ravel()
    proj = B @ sp.diags(1.0 / np.where(btb > 0, btb, np.inf)) @ (B.T @ Jt)
    return (Jt - proj).tocsr()


def _logistic(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def solve(problem: Problem, t0: np.ndarray, *, loss: str = "linear", max_nfev: int = 100) -> np.ndarray:
    """Least-squares solution over (theta, u, o), the cells eliminated in closed form.

    First the gains and offsets alone with the law held at ``t0`` (so the joint solve
    starts in the right basin: from gains 1 and offsets 0 it can drift to a bound of the
    law), then everything. Returns the full vector (theta, u, o, a).
    """
    p = problem.n_params
    t = t0.astype(np.float64).copy()
    if p:
        free = np.ones(t.size, dtype=bool)
        free[:p] = False
        t = _solve_free(problem, t, free, loss, max_nfev)
    t = _solve_free(problem, t, np.ones(t.size, dtype=bool), loss, max_nfev)
    return reduced_full(problem, t)[0]


def _solve_free(problem: Problem, t0: np.ndarray, free: np.ndarray, loss: str, max_nfev: int) -> np.ndarray:
    """SciPy ``least_squares`` over the ``free`` entries of (theta, u, o).

    While the reduced Jacobian is small (up to :data:`DENSE_LIMIT` entries) and the loss
    linear: MINPACK's Levenberg-Marquardt (``method="lm"``, dense), bounded parameters
    mapped by the logistic ``lo + (hi - lo) / (1 + exp(-z))``; otherwise trust-region
    reflective with the bounds, sparse with LSMR when large.
    """
    p = problem.n_params
    rows = problem.multi.size + problem.slope_frames.size + n_gauge(problem)
    dense = rows * int(free.sum()) <= DENSE_LIMIT
    lower = np.full(t0.size, -np.inf)
    upper = np.full(t0.size, np.inf)
    if p:
        lower[:p], upper[:p] = problem.law.lower, problem.law.upper
    t0 = np.clip(t0, np.nextafter(lower, np.inf), np.nextafter(upper, -np.inf))
    lower, upper = lower[free], upper[free]

    def full_t(tf):
        t = t0.copy()
        t[free] = tf
        return t

    def fun(tf):
        return problem.residuals(*reduced_full(problem, full_t(tf)))

    def jac_t(tf, as_dense):
        red = _reduced_jacobian(problem, *reduced_full(problem, full_t(tf)))[:, np.flatnonzero(free)]
        return red.toarray() if as_dense else red

    both = np.isfinite(lower) & np.isfinite(upper)
    one_sided = np.isfinite(lower) ^ np.isfinite(upper)
    if dense and loss == "linear" and not one_sided.any():
        lo, span = lower[both], upper[both] - lower[both]

        def to_t(z):
            t = z.copy()
            t[both] = lo + span * _logistic(z[both])
            return t

        def jac(z):
            d = np.ones_like(z)
            q = _logistic(z[both])
            d[both] = span * q * (1.0 - q)
            return jac_t(to_t(z), True) * d

        z0 = t0[free].copy()
        q0 = np.clip((z0[both] - lo) / span, 1e-6, 1.0 - 1e-6)
        z0[both] = np.log(q0 / (1.0 - q0))
        result = least_squares(
            lambda z: fun(to_t(z)), z0, jac=jac, method="lm", x_scale="jac", max_nfev=max_nfev
        )
        tf = to_t(result.x)
    else:
        result = least_squares(
            fun,
            t0[free],
            jac=lambda tf: jac_t(tf, dense),
            bounds=(lower, upper),
            method="trf",
            loss=loss,
            x_scale="jac",
            max_nfev=max_nfev,
            tr_solver="exact" if dense else "lsmr",
            tr_options={} if dense else {"atol": 1e-12, "btol": 1e-12},
        )
        tf = result.x
    log.debug("photometric fit %s: %s after %d evaluations", problem.law.label, result.message, result.nfev)
    return full_t(tf)


def initial_parameters(problem: Problem, theta: np.ndarray) -> np.ndarray:
    """Start: ``theta``, gains 1, offsets 0 (the cells follow in closed form)."""
    nf = problem.obs.n_frames
    return np.concatenate([theta, np.zeros(nf), np.zeros(nf if problem.fit_offsets else 0)])


def n_gauge(problem: Problem) -> int:
    """Number of gauge rows (the last rows of the residual vector)."""
    return len(problem.groups) * (2 if problem.fit_offsets else 1)


def covariance(problem: Problem, x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Covariance of (theta, u, o) at ``x``, the residual variance, and the data/slope residuals.

    ``sigma^2 (J_red^T J_red)^-1`` with ``J_red`` from :func:`_reduced_jacobian` (the Schur
    complement of ``J^T J`` over the cells) and ``sigma^2 = sum(r^2) / (rows - free
    parameters)`` over the overlap and slope rows. A singular system gives infinities.
    """
    ng = n_gauge(problem)
    r = problem.residuals(x)
    red = _reduced_jacobian(problem, x)
    h = (red.T @ red).toarray()
    rows = r.size - ng
    dof = max(1, rows - (x.size - ng))
    sigma2 = float(np.sum(r[:rows] ** 2) / dof)
    try:
        cov = np.linalg.inv(h) * sigma2
    except np.linalg.LinAlgError:
        cov = np.full_like(h, np.inf)
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
        cov = np.full_like(h, np.inf)
    return cov, sigma2, r[:rows]


def model_brightness(problem: Problem, x: np.ndarray) -> np.ndarray:
    """Noise-free brightness of every observation under the solution ``x`` (I/F units).

    ``G_f a_c F_k + O_f`` for views of cells seen at least twice; single views keep their
    observed value (they only enter the incidence-slope rows).
    """
    theta, u, o, a = problem.split(x)
    obs = problem.obs
    out = obs.iof.copy()
    m = problem.multi
    fr = obs.frame[m]
    out[m] = (np.exp(u[fr]) * a[problem.cell] * problem.factor(theta)[m] + o[fr]) * problem.scale
    return out


def slope_rows(problem: Problem, x: np.ndarray, incidence_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Frames that get an incidence-slope row and each row's weight, from a solution ``x``.

    Weight ``incidence_weight * sigma_data / sigma_slope``: ``sigma_data`` the RMS of the
    overlap residuals, ``sigma_slope`` the standard error of the frame's relative slope from
    its normalised-brightness scatter, so each row counts as much as its information.
    """
    obs = problem.obs
    theta, _, o, _ = problem.split(x)
    norm = problem.normalised(problem.factor(theta), o)
    good = np.isfinite(norm).astype(np.float64)
    norm = np.where(good > 0, norm, 0.0)
    nf = obs.n_frames
    n = np.bincount(obs.frame, good, nf)
    safe = np.maximum(n, 1.0)
    mean_i = np.bincount(obs.frame, good * obs.incidence, nf) / safe
    sd_i = np.sqrt(np.maximum(np.bincount(obs.frame, good * obs.incidence**2, nf) / safe - mean_i**2, 0.0))
    mean_n = np.bincount(obs.frame, norm, nf) / safe
    sd_n = np.sqrt(np.maximum(np.bincount(obs.frame, norm**2, nf) / safe - mean_n**2, 0.0))
    frames = np.flatnonzero((n >= 10) & (sd_i >= _MIN_SLOPE_SPREAD) & (mean_n > 0))
    if frames.size == 0 or incidence_weight <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    data = problem.residuals(x)[: problem.multi.size]
    sigma_data = float(np.sqrt(np.mean(data**2)))
    rel_sd = np.maximum(sd_n[frames] / mean_n[frames], 1e-6)
    sigma_slope = rel_sd / (np.sqrt(n[frames]) * sd_i[frames])
    return frames, incidence_weight * sigma_data / sigma_slope
