"""Photometric parameters fitted from overlapping observations, jointly with equalisation.

The same ground cell ``c`` is seen by several frames ``f`` at different incidence ``i``,
emission ``e`` and phase ``g``. With a photometric law ``f(i, e, g; theta)`` normalised at a
standard geometry, ``F = f(i, e, g) / f(standard)``, every observation ``k`` is modelled as::

    I/F_k = G_f A_c F(i_k, e_k, g_k; theta) + O_f

(``G_f``, ``O_f`` the frame's gain and offset, ``A_c`` the cell's normalised brightness).
:func:`fit_photometry` finds ``theta``, all ``G``, ``O`` and ``A`` by least squares
(:func:`scipy.optimize.least_squares`, sparse analytic Jacobian) minimising

1. the disagreement of overlapping observations (the residuals of the model above, over
   cells seen at least twice), and
2. the correlation of normalised brightness ``(I/F - O_f) / F`` with incidence within each
   frame (one residual per frame: its relative slope, weighted by its standard error from
   the frame's brightness scatter, so it matters where overlaps are few),

with the gauge fixed per group of frames linked by shared cells (geometric-mean gain 1,
mean offset 0, as :mod:`pipeline.mosaicking.equalize`). Uncertainties come from the
Jacobian at the solution (the Schur complement over the cells, scaled by the residual
variance). When the angles do not constrain the law (a parameter's uncertainty above its
``max_uncertainty``, or a singular system, e.g. every frame at one geometry), the result
falls back to McEwen's ``L(phase)`` with the equalisation still fitted, and says so.

Inputs are plain 1-D arrays (collected from orthorectified frames by the caller); nothing
here knows about frames, files or configuration. Angles in radians.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from pipeline.calibration.photometric_laws import MCEWEN_LAW, Law, hapke_law, lunar_lambert_law
from pipeline.calibration.photometric_observations import Observations, prepare_observations
from pipeline.calibration.photometric_problem import (
    build_problem,
    covariance,
    initial_parameters,
    model_brightness,
    slope_rows,
    solve,
)
from pipeline.calibration.photometry import PhotometricModel
from pipeline.errors import PhotometricModelError

log = logging.getLogger(__name__)

_MIN_SPREAD = np.radians(0.5)
"""Below this standard deviation of incidence, emission and phase the law is not fitted."""

FIT_MODELS = ("auto", "lunar_lambert", "lunar_lambert_constant", "hapke", "mcewen")
"""Values of ``model`` in :func:`fit_photometry` (besides a :class:`Law`)."""


@dataclass(frozen=True)
class PhotometricFit:
    """The fitted photometric law and equalisation.

    Attributes
    ----------
    model : str
        ``lunar_lambert``, ``hapke``, or ``lunar_lambert_mcewen`` (the fallback).
    law : Law
        The fitted family (evaluate with :meth:`photometric_function`).
    parameter_names : tuple of str
    parameters, uncertainties : ndarray of shape (p,)
        Fitted values and their 1-sigma uncertainties (radians for ``theta``).
    covariance : ndarray of shape (p, p)
    gains, offsets : ndarray of shape (n_frames,)
        ``I/F = gain * A * F + offset``: divide ``I/F - offset`` by ``gain`` to equalise.
        Offsets in I/F units. Frames without shared cells keep 1 and 0.
    constrained : bool
        Whether the angles constrained the law (False: the McEwen fallback was used).
    message : str
        What was fitted, chosen or why it fell back, in words.
    overlap_rms_before, overlap_rms_after : float
        RMS relative disagreement of normalised brightness between observations of the same
        cell: before (McEwen L(phase), no equalisation) and after the fit.
    incidence_slope_before, incidence_slope_after : float
        Slope of normalised brightness (relative to its cell's mean) against incidence,
        percent per 10 degrees, before and after.
    standard : (float, float, float)
        Standard incidence, emission, phase (radians) of the normalisation.
    n_observations, n_cells : int
        Observations and cells used (after validation and subsampling).
    candidates : tuple of (str, float, bool)
        Every law tried: its label, BIC and whether it was constrained.
    """

    model: str
    law: Law
    parameter_names: tuple[str, ...]
    parameters: np.ndarray
    uncertainties: np.ndarray
    covariance: np.ndarray
    gains: np.ndarray
    offsets: np.ndarray
    constrained: bool
    message: str
    overlap_rms_before: float
    overlap_rms_after: float
    incidence_slope_before: float
    incidence_slope_after: float
    standard: tuple[float, float, float]
    n_observations: int
    n_cells: int
    candidates: tuple[tuple[str, float, bool], ...] = field(default=())

    def photometric_function(self) -> PhotometricModel:
        """The fitted law as a registry-style model: ``f(incidence, emission, phase)``."""
        return self.law.model(self.parameters)

    def lunar_lambert_l(self, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fitted ``L(phase)`` and its 1-sigma uncertainty (lunar-Lambert models; radians).

        The uncertainty propagates the coefficients' covariance; the fallback's is 0.
        """
        phase = np.asarray(phase, dtype=np.float64)
        ell = self.law.lunar_lambert_weight(self.parameters, phase)
        if not self.parameter_names:
            return ell, np.zeros_like(ell)
        x = (phase - self.law.phase0) / self.law.phase_scale
        basis = np.stack([x**j for j in range(len(self.parameters))], axis=-1)
        var = np.einsum("...i,ij,...j->...", basis, self.covariance, basis)
        return ell, np.sqrt(np.maximum(var, 0.0))

    def normalise(
        self,
        iof: np.ndarray,
        incidence: np.ndarray,
        emission: np.ndarray,
        phase: np.ndarray,
        frame: np.ndarray,
    ) -> np.ndarray:
        """``(I/F - offset) / gain * f(standard) / f(actual)``: equalised, normalised I/F (NaN unlit)."""
        f = self.photometric_function()
        std = f(*self.standard)
        actual = f(incidence, emission, phase)
        good = actual > 0
        frame = np.asarray(frame)
        eq = (np.asarray(iof, dtype=np.float64) - self.offsets[frame]) / self.gains[frame]
        return np.where(good, eq * std / np.where(good, actual, 1.0), np.nan)


# ---------------------------------------------------------------- diagnostics


def _overlap_diagnostics(
    obs: Observations, factor: np.ndarray, gains: np.ndarray, offsets: np.ndarray
) -> tuple[float, float]:
    """RMS relative disagreement within cells, and the slope against incidence (% per 10 deg).

    Normalised brightness ``n_k = (I/F_k - O_f) / (G_f F_k)``; over cells seen at least
    twice, ``d_k = n_k / mean_c(n) - 1``; the slope regresses ``d_k`` on the incidence minus
    its cell mean.
    """
    counts = np.bincount(obs.cell)
    m = counts[obs.cell] >= 2
    cell = np.unique(obs.cell[m], return_inverse=True)[1]
    fr = obs.frame[m]
    with np.errstate(invalid="ignore", divide="ignore"):
        n = (obs.iof[m] - offsets[fr]) / (gains[fr] * factor[m])
    ok = np.isfinite(n)
    n, cell, inc = n[ok], cell[ok], obs.incidence[m][ok]
    nc = np.bincount(cell).astype(np.float64)
    safe = np.maximum(nc, 1.0)
    d = n / (np.bincount(cell, n) / safe)[cell] - 1.0
    di = inc - (np.bincount(cell, inc) / safe)[cell]
    rms = float(np.sqrt(np.mean(d**2)))
    slope = float(np.sum(di * d) / np.sum(di * di)) if np.sum(di * di) > 0 else 0.0
    return rms, slope * np.radians(10.0) * 100.0


@dataclass(frozen=True)
class _Candidate:
    law: Law
    x: np.ndarray
    problem: object
    cov: np.ndarray
    bic: float
    constrained: bool
    why: str


def _fit_law(
    obs: Observations,
    law: Law,
    standard: tuple[float, float, float],
    fit_offsets: bool,
    incidence_weight: float,
    loss: str,
    max_nfev: int,
) -> _Candidate:
    """Fit one law in two passes: overlaps only, then with the incidence-slope rows.

    With relative weights the second pass also reweights every view by the first pass's
    model brightness (one step of iteratively reweighted least squares: weights from the
    noise-free model, not from the noisy cell means).
    """
    problem = build_problem(obs, law, standard, fit_offsets=fit_offsets)
    t0 = initial_parameters(problem, np.asarray(law.initial, dtype=np.float64))
    x = solve(problem, t0, loss=loss, max_nfev=max_nfev)
    obs2 = obs.reweighted(model_brightness(problem, x))
    frames, weights = slope_rows(
        build_problem(obs2, law, standard, fit_offsets=fit_offsets), x, incidence_weight
    )
    if frames.size or obs2 is not obs:
        problem = build_problem(
            obs2, law, standard, fit_offsets=fit_offsets, slope_frames=frames, slope_weight=weights
        )
        x = solve(problem, x[: x.size - problem.n_cells], loss=loss, max_nfev=max_nfev)
    cov, _, r = covariance(problem, x)
    p = len(law.parameter_names)
    cov_theta = cov[:p, :p]
    sig = np.sqrt(np.diag(cov_theta)) if p else np.zeros(0)
    constrained = bool(np.all(np.isfinite(sig)) and np.all(sig <= np.asarray(law.max_uncertainty)))
    why = (
        ""
        if constrained
        else (
            "singular normal equations"
            if not np.all(np.isfinite(sig))
            else "uncertainty "
            + ", ".join(f"{n} +- {s:.3g}" for n, s in zip(law.parameter_names, sig, strict=True))
            + " above the limits "
            + ", ".join(f"{m:.3g}" for m in law.max_uncertainty)
        )
    )
    n_rows = r.size
    bic = float(n_rows * np.log(max(np.sum(r**2), 1e-300) / n_rows) + p * np.log(n_rows))
    return _Candidate(law, x, problem, cov, bic, constrained, why)


def _laws(model: str | Law, obs: Observations, max_order: int, hapke_free: tuple[str, ...]) -> list[Law]:
    if isinstance(model, Law):
        return [model]
    if model not in FIT_MODELS:
        raise PhotometricModelError(f"fit_photometry: unknown model {model!r}; choose from {FIT_MODELS}")
    ll = [lunar_lambert_law(k, obs.phase) for k in range(max_order + 1)]
    return {
        "auto": ll + [hapke_law(hapke_free)],
        "lunar_lambert": ll,
        "lunar_lambert_constant": ll[:1],
        "hapke": [hapke_law(hapke_free)],
        "mcewen": [],
    }[model]


def fit_photometry(
    iof: np.ndarray,
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    frame: np.ndarray,
    cell: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    model: str | Law = "auto",
    max_order: int = 3,
    hapke_free: tuple[str, ...] = ("w", "theta"),
    fit_offsets: bool = True,
    incidence_weight: float = 1.0,
    standard_deg: tuple[float, float, float] = (30.0, 0.0, 30.0),
    max_observations: int = 60_000,
    seed: int = 0,
    loss: str = "linear",
    max_nfev: int = 100,
) -> PhotometricFit:
    """Fit the photometric law and the per-frame gain and offset to overlapping observations.

    Parameters
    ----------
    iof : ndarray of shape (N,)
        Observed I/F (any linear brightness) of each observation.
    incidence, emission, phase : ndarray of shape (N,)
        Angles, radians.
    frame, cell : ndarray of int, shape (N,)
        Frame index (0..n_frames-1) and ground-cell index of each observation.
    weight : ndarray of shape (N,), optional
        Relative weights (e.g. inverse variances); default equal.
    model : str or Law
        ``auto`` (lunar-Lambert with ``L(phase)`` of order 0..``max_order`` and a Hapke
        subset; the lowest BIC among the constrained ones), ``lunar_lambert`` (orders
        0..``max_order``), ``lunar_lambert_constant``, ``hapke`` (the ``hapke_free``
        parameters, the others at the LROC 643 nm values), ``mcewen`` (no fit of the law:
        equalisation only), or a :class:`~pipeline.calibration.photometric_laws.Law`.
    fit_offsets : bool
        Fit a per-frame offset besides the gain.
    incidence_weight : float
        Weight of the per-frame incidence-slope rows relative to their statistical weight
        (0: overlaps only).
    standard_deg : (float, float, float)
        Standard incidence, emission and phase of the normalisation, degrees.
    max_observations : int
        Larger inputs are subsampled by whole cells with ``seed`` (deterministic).
    loss : str
        scipy ``least_squares`` loss (``linear``; ``soft_l1`` for outliers, then the
        uncertainties are approximate).

    Returns
    -------
    PhotometricFit

    Raises
    ------
    PhotometricModelError
        Unusable inputs (lengths differ, no overlapping cell, unknown model).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n_cells, n_frames = 300, 6
    >>> cell = np.repeat(np.arange(n_cells), 3)
    >>> frame = rng.integers(0, n_frames, cell.size)
    >>> inc = rng.uniform(np.radians(30), np.radians(80), cell.size)
    >>> emi = rng.uniform(0.0, np.radians(40), cell.size)
    >>> pha = np.clip(inc + rng.normal(0, 0.2, cell.size), np.abs(inc - emi), inc + emi)
    >>> from pipeline.calibration.photometry import lunar_lambert
    >>> iof = rng.uniform(0.05, 0.2, n_cells)[cell] * lunar_lambert(inc, emi, pha, weight=0.7)
    >>> fit = fit_photometry(iof, inc, emi, pha, frame, cell, model="lunar_lambert_constant")
    >>> fit.model, round(float(fit.parameters[0]), 3), fit.constrained
    ('lunar_lambert', 0.7, True)
    """
    obs = prepare_observations(
        iof, incidence, emission, phase, frame, cell, weight, max_observations=max_observations, seed=seed
    )
    standard = tuple(float(v) for v in np.radians(np.asarray(standard_deg, dtype=np.float64)))
    laws = _laws(model, obs, max_order, hapke_free)
    spread = max(float(np.std(a)) for a in (obs.incidence, obs.emission, obs.phase))
    tried: list[_Candidate] = []
    if laws and spread < _MIN_SPREAD:
        reason = f"the angles barely vary (largest spread {np.degrees(spread):.2f} deg)"
    else:
        for law in laws:
            tried.append(_fit_law(obs, law, standard, fit_offsets, incidence_weight, loss, max_nfev))
            log.debug(
                "photometric fit %s: BIC %.1f constrained %s", law.label, tried[-1].bic, tried[-1].constrained
            )
        reason = "; ".join(f"{c.law.label}: {c.why}" for c in tried if not c.constrained) or "no law to fit"
    good = [c for c in tried if c.constrained]
    if good:
        best = min(good, key=lambda c: c.bic)
        message = (
            f"fitted {best.law.label}: {best.law.describe(tuple(best.x[: len(best.law.parameter_names)]))}"
        )
        if len(tried) > 1:
            message += f" (lowest BIC of {len(tried)} laws tried)"
    else:
        best = _fit_law(obs, MCEWEN_LAW, standard, fit_offsets, 0.0, loss, max_nfev)
        message = (
            "the angles do not constrain the photometric law, so McEwen's L(phase) is used "
            f"with the equalisation fitted ({reason})"
            if laws
            else "McEwen's L(phase) with the equalisation fitted"
        )
    return _result(obs, best, tried, standard, message, bool(good))


def _result(obs, best: _Candidate, tried, standard, message: str, constrained: bool) -> PhotometricFit:
    problem = best.problem
    law = best.law
    p = len(law.parameter_names)
    theta, u, o, _ = problem.split(best.x)
    gains = np.exp(u)
    offsets = o * problem.scale
    cov = best.cov[:p, :p]
    mcewen = MCEWEN_LAW.factor((), obs.incidence, obs.emission, obs.phase, standard)
    before = _overlap_diagnostics(obs, mcewen, np.ones_like(gains), np.zeros_like(offsets))
    after = _overlap_diagnostics(obs, problem.factor(theta), gains, offsets)
    return PhotometricFit(
        model="lunar_lambert_mcewen" if law is MCEWEN_LAW else law.name,
        law=law,
        parameter_names=law.parameter_names,
        parameters=np.asarray(theta, dtype=np.float64).copy(),
        uncertainties=np.sqrt(np.diag(cov)) if p else np.zeros(0),
        covariance=cov,
        gains=gains,
        offsets=offsets,
        constrained=constrained,
        message=message,
        overlap_rms_before=before[0],
        overlap_rms_after=after[0],
        incidence_slope_before=before[1],
        incidence_slope_after=after[1],
        standard=standard,
        n_observations=int(obs.iof.size),
        n_cells=int(np.unique(obs.cell).size),
        candidates=tuple((c.law.label, c.bic, c.constrained) for c in tried),
    )
