"""Solvers of one adjustment round: Levenberg-Marquardt on the sparse reduced camera system, or scipy.

Both minimise the same robust cost (:class:`~pipeline.registration.bundle.blocks.BlockProblem`),
so they reach the same minimum.

``schur`` (default)
    Each iteration linearises the residuals (robust loss by iteratively reweighted least
    squares: rows scaled by ``sqrt(rho'(z))``), forms the normal-equation blocks per frame,
    per point and per observation, eliminates the ground points (one ``npp x npp`` block
    each) and solves the **sparse** reduced camera system
    (:mod:`~pipeline.registration.bundle.reduced`); the point updates follow by
    back-substitution. Every step is solved exactly (direct solvers), which keeps the weak
    common modes of the network (fixed only by the priors) converged.
``scipy``
    ``scipy.optimize.least_squares(method="trf", tr_solver="lsmr")`` on the full sparse
    Jacobian; slower, kept as an independent check.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from pipeline.registration.bundle.blocks import BlockProblem, sum_by
from pipeline.registration.bundle.problem import _robust
from pipeline.registration.bundle.reduced import LINEAR_SOLVERS, ReducedPattern, resolve_linear_solver

log = logging.getLogger(__name__)

__all__: list[str] = []

CONVERGED_COST = "converged: relative decrease of the cost below 1e-10"
CONVERGED_STEP = "converged: largest camera update below 1e-12"
CONVERGED_SIGMA = "converged: largest camera update below {:g} prior sigmas"
LAMBDA_START = 1e-3  # Levenberg-Marquardt damping of the first round (relative to the diagonal)
LAMBDA_DOWN = 5.0  # damping divided by this after a successful step
STEP_SIGMAS = 1e-4  # a camera update smaller than this many prior sigmas changes nothing that matters
STEP_SIGMAS_SCREEN = 1e-3  # enough for a round that only screens outliers (the last round is polished)
NO_DECREASE = "no further decrease of the cost (Levenberg-Marquardt damping reached 1e12)"
MAX_ITER = "maximum number of iterations (max_nfev) reached"


@dataclass
class _Solution:
    x: np.ndarray
    success: bool
    message: str
    nfev: int
    iterations: int = 0
    cost: float = float("nan")
    seconds: float = 0.0
    lam: float = LAMBDA_START  # the damping reached (the next round starts from it)


def _solve(problem: BlockProblem, x0: np.ndarray, cfg, gsd: float, lam: float = LAMBDA_START,
           step_sigmas: float = STEP_SIGMAS) -> _Solution:
    """Minimise the robust cost with the configured solver (``cfg.solver``); ``lam`` is the
    starting damping of the Levenberg-Marquardt solver (a later round starts where the
    previous one ended), ``step_sigmas`` its step criterion in prior sigmas."""
    if cfg.solver == "scipy":
        return _solve_scipy(problem, x0, cfg, gsd)
    return _solve_schur(problem, x0, cfg, lam, step_sigmas)


def _solve_scipy(problem: BlockProblem, x0: np.ndarray, cfg, gsd: float) -> _Solution:
    """``scipy.optimize.least_squares`` (trf, sparse Jacobian, LSMR trust-region steps).

    The LSMR tolerances must be tight: the network's weak common modes make the system
    ill-conditioned, and inexact steps stall the trust region far from the minimum.
    """
    t0 = time.perf_counter()
    x_scale = np.concatenate([np.tile(problem.frame_sigma, problem.nf), np.full(problem.npp * problem.nt, gsd)])
    res = least_squares(
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
    return _Solution(res.x, bool(res.success), str(res.message), int(res.nfev), int(res.njev or 0),
                     float(res.cost), time.perf_counter() - t0)


class _Normal:
    """Normal-equation blocks of one linearisation (IRLS weights applied)."""

    def __init__(self, problem: BlockProblem, x: np.ndarray, loss, f_scale: float):
        p = problem
        b = p.blocks(x)
        w_o = np.sqrt(np.maximum(loss((b.r_obs.ravel() / f_scale) ** 2)[1], 0.0)).reshape(-1, 2)
        w_g = np.sqrt(np.maximum(loss((b.r_gcp.ravel() / f_scale) ** 2)[1], 0.0)).reshape(-1, 2)
        jc = b.jc_obs * w_o[:, :, None]
        jp = b.jp_obs * w_o[:, :, None]
        jg = b.jc_gcp * w_g[:, :, None]
        ro, rg = b.r_obs * w_o, b.r_gcp * w_g
        fp, _ = p.split(x)
        inv_var = 1.0 / p.frame_sigma**2
        self.u = sum_by(p.obs_frame, np.einsum("nki,nkj->nij", jc, jc), p.nf)
        self.u += sum_by(p.gcp_frame, np.einsum("nki,nkj->nij", jg, jg), p.nf)
        self.u[:, np.arange(p.npf), np.arange(p.npf)] += inv_var
        self.bc = -(sum_by(p.obs_frame, np.einsum("nki,nk->ni", jc, ro), p.nf)
                    + sum_by(p.gcp_frame, np.einsum("nki,nk->ni", jg, rg), p.nf) + fp * inv_var)
        self.v = sum_by(p.obs_track, np.einsum("nki,nkj->nij", jp, jp), p.nt)
        self.bp = -sum_by(p.obs_track, np.einsum("nki,nk->ni", jp, ro), p.nt)
        if len(b.r_pp):
            self.v += np.einsum("ti,tj->tij", b.jp_pp, b.jp_pp)
            self.bp -= b.jp_pp * b.r_pp[:, None]
        self.w = np.matmul(np.transpose(jc, (0, 2, 1)), jp)  # (n_obs, npf, npp)


def reduced_system(problem: BlockProblem, pattern: ReducedPattern, ne: _Normal, u: np.ndarray, v_inv: np.ndarray):
    """``Y = W V^-1`` per observation and the reduced camera matrix ``S = U - W V^-1 W^T``
    (sparse) for the frame blocks ``u`` and the inverse point blocks ``v_inv``."""
    y = np.matmul(ne.w, v_inv[problem.obs_track])  # W_o V_t^-1 (matmul: 4x einsum on stacks of 3 x 2)
    diag = u - sum_by(problem.obs_frame, np.matmul(y, np.transpose(ne.w, (0, 2, 1))), problem.nf)
    return y, pattern.assemble(diag, y, ne.w)


def _step(problem: BlockProblem, pattern: ReducedPattern, ne: _Normal, lam: float, solver, state: dict):
    """The damped Gauss-Newton step (frames, points) or None when the system is not SPD."""
    p = problem
    idx_f, idx_p = np.arange(p.npf), np.arange(p.npp)
    u_l = ne.u.copy()
    u_l[:, idx_f, idx_f] += lam * np.maximum(ne.u[:, idx_f, idx_f], 1e-12)
    v_l = ne.v.copy()
    v_l[:, idx_p, idx_p] += lam * np.maximum(ne.v[:, idx_p, idx_p], 1e-12)
    try:
        v_inv = np.linalg.inv(v_l) if p.nt else np.zeros((0, p.npp, p.npp))
    except np.linalg.LinAlgError:
        return None
    y, s_mat = reduced_system(p, pattern, ne, u_l, v_inv)
    rhs = ne.bc - sum_by(p.obs_frame, np.einsum("nik,nk->ni", y, ne.bp[p.obs_track]), p.nf)
    s_scaled, dsc = pattern.scaled(s_mat)
    sol = solver(pattern, s_scaled, rhs.ravel() * dsc, state)
    if sol is None or not np.all(np.isfinite(sol)):
        return None
    dc = (sol * dsc).reshape(p.nf, p.npf)
    back = ne.bp - sum_by(p.obs_track, np.einsum("nik,ni->nk", ne.w, dc[p.obs_frame]), p.nt)
    dp = np.einsum("tij,tj->ti", v_inv, back)
    return np.concatenate([dc.ravel(), dp.ravel()])


def _solve_schur(problem: BlockProblem, x0: np.ndarray, cfg, lam: float = LAMBDA_START,
                 step_sigmas: float = STEP_SIGMAS) -> _Solution:
    """Levenberg-Marquardt on the sparse reduced camera system (see the module docstring)."""
    t0 = time.perf_counter()
    loss = _robust(cfg.robust_loss, problem.n_img)
    f_scale = cfg.robust_scale_px * problem.w_img
    nc = problem.npf * problem.nf
    solver = LINEAR_SOLVERS[resolve_linear_solver(cfg.linear_solver)]
    pattern = ReducedPattern(problem.obs_frame, problem.obs_track, problem.nf, problem.npf)
    state: dict = {}

    def cost_of(r: np.ndarray) -> float:
        rho = loss((r / f_scale) ** 2)
        return 0.5 * f_scale**2 * float(np.sum(rho[0]))

    x = np.array(x0, dtype=float)
    cost = cost_of(problem.residuals(x))
    nfev, iterations, message, success = 1, 0, MAX_ITER, False
    for _ in range(cfg.max_nfev):
        ne = _Normal(problem, x, loss, f_scale)
        iterations += 1
        improved = False
        while lam < 1e12:
            dx = _step(problem, pattern, ne, lam, solver, state)
            if dx is not None:
                x_new = x + dx
                new_cost = cost_of(problem.residuals(x_new))
                nfev += 1
                if np.isfinite(new_cost) and new_cost <= cost:
                    improved = True
                    lam = max(lam / LAMBDA_DOWN, 1e-9)
                    break
            lam *= 10.0
        if not improved:
            message, success = NO_DECREASE, True
            break
        rel = (cost - new_cost) / max(cost, 1e-300)
        step = float(np.max(np.abs(dx[:nc]))) if nc else 0.0
        log.debug("LM iteration %d: cost %.6g -> %.6g (rel %.2e), lambda %.1e, largest camera step %.2e",
                  iterations, cost, new_cost, rel, lam, step)
        x, cost = x_new, new_cost
        if rel < 1e-10:
            message, success = CONVERGED_COST, True
            break
        if step < 1e-12:
            message, success = CONVERGED_STEP, True
            break
        if nc and float(np.max(np.abs(dx[:nc]) / np.tile(problem.frame_sigma, problem.nf))) < step_sigmas:
            message, success = CONVERGED_SIGMA.format(step_sigmas), True
            break
    return _Solution(x, success, message, nfev, iterations, cost, time.perf_counter() - t0, lam)
