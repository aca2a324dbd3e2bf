"""One candidate law fitted to the overlaps, and the choice among candidates.

:func:`fit_candidate` fits one :class:`~pipeline.calibration.photometric_laws.Law` with the
equalisation (two passes, see :mod:`pipeline.calibration.photometric_problem`) and measures
what a choice needs: the statistical covariance of its parameters, the bound a systematic
floor puts on them, whether the data determine them, its BIC and its misfit.
:func:`choose` picks the law: the lowest BIC among the determined candidates, unless a
simpler one (McEwen's fixed ``L(phase)`` first) fits the overlaps as well within the
systematic floor. Angles in radians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.calibration.photometric_laws import Law, hapke_law
from pipeline.calibration.photometric_observations import Observations
from pipeline.calibration.photometric_problem import (
    Problem,
    build_problem,
    covariance,
    initial_parameters,
    model_brightness,
    slope_rows,
    solve,
)

__all__ = ["Candidate", "choose", "fit_candidate", "pinned_law"]


@dataclass(frozen=True, eq=False)  # holds arrays
class Candidate:
    """One law fitted with the equalisation.

    Attributes
    ----------
    law : Law
    x : ndarray
        The solution (theta, log gains, offsets, cells) in the problem's scaled units.
    problem : Problem
        The final pass's problem (weights, slope rows).
    cov : ndarray
        Statistical covariance of (theta, log gains, offsets).
    systematic_cov : ndarray of shape (p, p)
        The bound on ``theta`` from the systematic floor (see :func:`systematic_factor`).
    bic : float
        Bayesian information criterion of the statistical fit (lower is better).
    misfit : float
        Mean square relative misfit ``((I/F - model) / model)^2`` of the overlapping views.
    constrained : bool
        The parameters' statistical uncertainties are within the law's ``max_uncertainty``.
    why : str
        Why not, in words (empty when constrained).
    """

    law: Law
    x: np.ndarray
    problem: Problem
    cov: np.ndarray
    systematic_cov: np.ndarray
    bic: float
    misfit: float
    constrained: bool
    why: str

    @property
    def n_params(self) -> int:
        """Number of law parameters."""
        return len(self.law.parameter_names)

    @property
    def theta(self) -> np.ndarray:
        """The fitted law parameters (the first :attr:`n_params` entries of ``x``)."""
        return self.x[: self.n_params]


def determined(law: Law, cov_theta: np.ndarray, phase: np.ndarray) -> tuple[bool, str]:
    """Whether the law's parameters are within their ``max_uncertainty``, and why not.

    Lunar-Lambert ``L(phase)`` of order >= 1: the uncertainty of ``L`` itself, RMS over the
    observations' phases (the end nodes alone see few observations); otherwise each parameter.
    """
    sig = np.sqrt(np.diag(cov_theta))
    limits = np.asarray(law.max_uncertainty)
    if not np.all(np.isfinite(sig)):
        return False, "singular normal equations"
    if law.name == "lunar_lambert" and sig.size > 1:
        basis = law.lunar_lambert_basis(phase)
        spread = float(np.sqrt(np.mean(np.einsum("ni,ij,nj->n", basis, cov_theta, basis))))
        if spread <= limits[0]:
            return True, ""
        return False, (f"uncertainty of L(phase) +- {spread:.3g} (RMS over the observed phases) above the "
                       f"limit {limits[0]:.3g}")
    if np.all(sig <= limits):
        return True, ""
    return False, ("uncertainty " + ", ".join(f"{n} +- {v:.3g}" for n, v in zip(law.parameter_names, sig, strict=True))
                   + " above the limits " + ", ".join(f"{m:.3g}" for m in limits))


def systematic_factor(problem: Problem, x: np.ndarray, sigma2: float, systematic: float) -> float:
    """``N s^2 / sigma^2``: the systematic bound on ``theta`` over its statistical covariance.

    A relative brightness error of ``systematic`` RMS that does not average out from view to
    view (a flat-field residual, the pointing's common error, stray light) can mimic a change
    of the law. At worst it lies along the law's own signature and then shifts ``theta`` by
    up to ``N s^2 (J^T J)^-1`` (``N`` overlap rows, ``s`` the error in the rows' weighted
    units), however many observations there are; the statistical covariance is
    ``sigma^2 (J^T J)^-1``. The bound's square root is ``systematic`` over the RMS change of
    the relative brightness pattern (what gains and offsets cannot absorb) per unit of a
    parameter.
    """
    if systematic <= 0:
        return 0.0
    m = problem.multi
    model = model_brightness(problem, x)[m] / problem.scale
    s = systematic * float(np.sqrt(np.mean(problem.obs.weight[m] * model**2)))
    return m.size * s * s / max(sigma2, 1e-300)


def relative_misfit(problem: Problem, x: np.ndarray, obs: Observations) -> float:
    """Mean square of ``(I/F - model) / model`` over the views of cells seen at least twice,
    with the caller's weights (comparable between laws: no law's own reweighting)."""
    m = problem.multi
    model = model_brightness(problem, x)[m]
    ok = model > 0
    rel = np.where(ok, obs.iof[m] / np.where(ok, model, 1.0) - 1.0, 0.0)
    w = obs.weight[m] if obs.user_weight is None else obs.user_weight[m]
    return float(np.sum(w * rel * rel) / max(np.sum(w), 1e-300))


def fit_candidate(
    obs: Observations,
    law: Law,
    standard: tuple[float, float, float],
    *,
    fit_offsets: bool = True,
    incidence_weight: float = 1.0,
    loss: str = "linear",
    max_nfev: int = 100,
    systematic: float = 0.0,
) -> Candidate:
    """Fit one law in two passes: overlaps only, then with the incidence-slope rows.

    With relative weights the second pass also reweights every view by the first pass's
    model brightness (one step of iteratively reweighted least squares: weights from the
    noise-free model, not from the noisy cell means).
    """
    problem = build_problem(obs, law, standard, fit_offsets=fit_offsets)
    t0 = initial_parameters(problem, np.asarray(law.initial, dtype=np.float64))
    x = solve(problem, t0, loss=loss, max_nfev=max_nfev)
    obs2 = obs.reweighted(model_brightness(problem, x))
    frames, weights = slope_rows(build_problem(obs2, law, standard, fit_offsets=fit_offsets), x, incidence_weight)
    if frames.size or obs2 is not obs:
        problem = build_problem(obs2, law, standard, fit_offsets=fit_offsets, slope_frames=frames, slope_weight=weights)
        x = solve(problem, x[: x.size - problem.n_cells], loss=loss, max_nfev=max_nfev)
    cov, sigma2, r = covariance(problem, x)
    p = len(law.parameter_names)
    sys_cov = cov[:p, :p] * systematic_factor(problem, x, sigma2, systematic) if p else np.zeros((0, 0))
    ok, why = determined(law, cov[:p, :p], problem.obs.phase) if p else (True, "")
    n_rows = r.size
    bic = float(n_rows * np.log(max(np.sum(r**2), 1e-300) / n_rows) + p * np.log(n_rows))
    return Candidate(law, x, problem, cov, sys_cov, bic, relative_misfit(problem, x, obs), ok, why)


def pinned_law(candidate: Candidate) -> Law | None:
    """The Hapke subset with the parameters the data cannot tell from a bound held at it.

    A Hapke parameter whose fitted value lies within its own statistical 1-sigma of a bound
    of its range is held at that bound and the others are refitted from their fitted values.
    The case this is for: a smooth surface fitted with the mean slope ``theta`` free. The
    roughness terms change the law only to second order in ``theta`` near 0, so the fit
    runs towards ``theta = 0`` with an unbounded uncertainty and the whole candidate counts
    as undetermined, although the smooth law (``theta = 0``) with the rest free fits the
    data and is determined.

    Returns
    -------
    Law or None
        None unless ``candidate`` is a Hapke law that is not determined, with at least one
        parameter to hold and one left free.
    """
    law = candidate.law
    p = candidate.n_params
    if law.name != "hapke" or candidate.constrained or p < 2:
        return None
    sig = np.sqrt(np.abs(np.diag(candidate.cov[:p, :p])))
    sig = np.where(np.isfinite(sig), sig, np.inf)
    held: dict[str, float] = {}
    fitted: dict[str, float] = {}
    for name, value, s, lo, hi in zip(law.parameter_names, candidate.theta, sig, law.lower, law.upper, strict=True):
        if value - lo <= s:
            held[name] = float(lo)
        elif hi - value <= s:
            held[name] = float(hi)
        else:
            fitted[name] = float(value)
    if not held or not fitted:
        return None
    free = tuple(n for n in law.parameter_names if n in fitted)
    return hapke_law(free, law.base.replace(**held, **fitted), pinned=law.pinned + tuple(held))


def choose(fallback: Candidate, tried: list[Candidate], systematic: float) -> tuple[Candidate, str]:
    """The law to use and why, in words.

    ``best``: the lowest BIC among the constrained candidates. The chosen law is the simplest
    of ``fallback`` (no parameters) and the constrained candidates (fewest parameters, then
    lowest misfit) whose mean square relative misfit exceeds ``best``'s by at most
    ``systematic**2``: a law is preferred over a simpler one only if it fits the overlaps
    better than a systematic error of that size could explain. With ``systematic = 0`` this
    is ``best`` (or a simpler law that fits exactly as well).
    """
    good = [c for c in tried if c.constrained]
    if not good:
        return fallback, ""
    best = min(good, key=lambda c: c.bic)
    pool = sorted([fallback, *good], key=lambda c: (c.n_params, c.misfit))
    chosen = next(c for c in pool if c.misfit - best.misfit <= systematic**2)
    rms = 100.0 * np.sqrt(max(chosen.misfit, 0.0))
    if chosen is best:
        why = f"lowest BIC of {len(tried)} laws tried" if len(tried) > 1 else ""
    else:
        why = (f"{best.law.label} has the lowest BIC of the {len(tried)} laws tried, but fits the overlaps "
               f"better by less than the {100 * systematic:.2g} % systematic floor (RMS misfit of "
               f"{chosen.law.label} {rms:.3f} % against {100 * np.sqrt(max(best.misfit, 0.0)):.3f} %)")
    return chosen, why
