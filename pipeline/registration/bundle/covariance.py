"""How well the adjustment fixes the free tie points' common level: its posterior sigma.

Without a DEM, ground control or a base DEM, nothing but the camera priors fixes the height
of a network of free 3-D points. Raising every point by ``dh`` while the pointing tilts to
follow (a pitch ramp along a strip) and the points close up horizontally by ``dh / H``
reprojects every tie point almost exactly where it was: over a single nadir strip this is
a near null mode, bounded only by ``pointing_sigma_deg``. The mosaic stays consistent (the
frames agree on the adjusted surface), but the relief model's heights, and where the frames
meet on the *true* surface, are uncertain by that level.

:func:`level_mode` gives the posterior standard deviation of the points' mean radius
from the normal equations of the final solve, without inverting them:

    ``var(g^T p) = g^T V^-1 g + h^T S^-1 h``,  ``h = W V^-1 g``

with ``V`` the points' blocks, ``W`` the frame-point coupling and ``S`` the reduced camera
system (:mod:`~pipeline.registration.bundle.reduced`), i.e. one more factorisation of ``S``.
The residuals are already divided by the tie precision (``tie_sigma_px``) and the priors by
their sigmas, so the inverse normal matrix is the covariance under those assumptions.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.registration.bundle.blocks import BlockProblem, sum_by
from pipeline.registration.bundle.problem import _robust
from pipeline.registration.bundle.reduced import LINEAR_SOLVERS, ReducedPattern, resolve_linear_solver
from pipeline.registration.bundle.solve import _Normal, reduced_system

__all__ = ["level_mode"]


def level_mode(problem: BlockProblem, x: np.ndarray, cfg) -> tuple[float, np.ndarray]:
    """Posterior sigma (m) of the mean radius of the free points of ``problem`` at the solution
    ``x``, and how far each point rises with a 1-sigma error of that level.

    Parameters
    ----------
    problem : BlockProblem
        The final round's problem with free points (3 unknowns each: east, north, up metres).
    x : ndarray
        Its solution (frame unknowns, then point unknowns).
    cfg : RegistrationParams
        ``robust_loss``, ``robust_scale_px`` (the IRLS weights of the solve) and ``linear_solver``.

    Returns
    -------
    sigma_m : float
        The standard deviation of ``L = mean_t(up_t)`` in metres; NaN for surface points, no
        points, or a system that is not positive definite.
    rise_m : ndarray (nt,)
        ``cov(up_t, L) / sigma_m``: each point's height change (m) that comes with a 1-sigma
        change of ``L`` (the regression on the level: about ``sigma_m`` for every point over a
        single strip, small for points that the views fix well; NaN where ``sigma_m`` is).
    """
    none = math.nan, np.full(problem.nt, np.nan)
    if problem.npp != 3 or not problem.nt:
        return none
    loss = _robust(cfg.robust_loss, problem.n_img)
    ne = _Normal(problem, x, loss, cfg.robust_scale_px * problem.w_img)
    try:
        v_inv = np.linalg.inv(ne.v)
    except np.linalg.LinAlgError:
        return none
    g = np.zeros((problem.nt, 3))
    g[:, 2] = 1.0 / problem.nt  # d mean(up) / d point unknowns
    z = np.einsum("tij,tj->ti", v_inv, g)
    var = float(np.sum(g * z))
    cov = z.copy()  # cov(p_t, L) = V^-1 g + V^-1 W^T S^-1 h
    if problem.nf and problem.n_obs:
        pattern = ReducedPattern(problem.obs_frame, problem.obs_track, problem.nf, problem.npf)
        y, s_mat = reduced_system(problem, pattern, ne, ne.u, v_inv)
        s_scaled, dsc = pattern.scaled(s_mat)
        h = sum_by(problem.obs_frame, np.einsum("nik,nk->ni", y, g[problem.obs_track]), problem.nf).ravel()
        q = LINEAR_SOLVERS[resolve_linear_solver(cfg.linear_solver)](pattern, s_scaled, h * dsc, {})
        if q is None or not np.all(np.isfinite(q)):
            return none
        var += float(np.dot(h * dsc, q))
        dc = (q * dsc).reshape(problem.nf, -1)
        wq = sum_by(problem.obs_track, np.einsum("nij,ni->nj", ne.w, dc[problem.obs_frame]), problem.nt)
        cov += np.einsum("tij,tj->ti", v_inv, wq)
    if not var > 0:
        return none
    sigma = math.sqrt(var)
    return sigma, cov[:, 2] / sigma
