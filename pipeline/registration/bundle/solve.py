"""Solvers of one adjustment round: Levenberg-Marquardt on the reduced camera system, or scipy.

Both minimise the same robust cost (:class:`~pipeline.registration.bundle.problem._Problem`),
so they reach the same minimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import least_squares

from pipeline.registration.bundle.problem import _Problem, _robust

__all__: list[str] = []


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
