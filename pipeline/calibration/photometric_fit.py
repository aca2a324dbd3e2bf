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
variance). Each candidate law's parameters are bounded to their physical range (lunar-Lambert
``L`` in [0, 1]). The law chosen has the lowest BIC among those whose parameters the data
determine (uncertainty within ``max_uncertainty``), unless a simpler law fits the overlaps
as well within a systematic floor (a relative brightness error of 0.1 % by default, which
calibration errors common to many views could leave): then the simpler one, McEwen's fixed
``L(phase)`` first. When the angles do not constrain any law (e.g. every frame at one
geometry, or a narrow line-scan survey whose laws all agree within the floor) the result is
McEwen's ``L(phase)`` with the equalisation still fitted, and the message says why.

Inputs are plain 1-D arrays (collected from orthorectified frames by the caller); nothing
here knows about frames, files or configuration. Angles in radians.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from pipeline.calibration.photometric_candidates import Candidate, choose, fit_candidate, pinned_law
from pipeline.calibration.photometric_diagnostics import overlap_residual
from pipeline.calibration.photometric_jackknife import frame_jackknife
from pipeline.calibration.photometric_laws import MCEWEN_LAW, Law, hapke_law, lunar_lambert_law
from pipeline.calibration.photometric_observations import Observations, prepare_observations
from pipeline.calibration.photometry import PhotometricModel
from pipeline.errors import PhotometricModelError

log = logging.getLogger(__name__)

DEFAULT_SYSTEMATIC = 1e-3
"""Default systematic floor of :func:`fit_photometry`: 0.1 % of the brightness."""

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
        Fitted values and their 1-sigma uncertainties (radians for ``theta``): the larger of
        the statistical and the frame-jackknife uncertainty of each.
    covariance : ndarray of shape (p, p)
        The statistical covariance with each parameter scaled to ``uncertainties``.
    gains, offsets : ndarray of shape (n_frames,)
        ``I/F = gain * A * F + offset``: divide ``I/F - offset`` by ``gain`` to equalise.
        Offsets in I/F units. Frames without shared cells keep 1 and 0.
    constrained : bool
        Whether a law was fitted (False: McEwen's fixed ``L(phase)``, because the angles do
        not constrain the law or because it fits the overlaps as well within the systematic
        floor).
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
    candidates : tuple of (str, float, bool, float)
        Every law tried: its label, BIC, whether its parameters were constrained, and the
        RMS relative misfit of the overlapping views (fraction).
    statistical_uncertainties : ndarray of shape (p,)
        From the observations' scatter alone, as if every view's error were independent.
    jackknife_uncertainties : ndarray of shape (p,)
        From refits with groups of frames left out
        (:func:`~pipeline.calibration.photometric_jackknife.frame_jackknife`): what errors
        shared by a frame's views (bias drift, flat field, pointing) leave; NaN when not
        computed (fewer than 3 frames, or ``jackknife=False``).
    systematic_uncertainties : ndarray of shape (p,)
        Worst-case bound on each parameter from the systematic floor: how far a relative brightness
        error of ``systematic`` RMS along the law's own signature could move it.
    systematic_covariance : ndarray of shape (p, p)
        The same bound as a covariance (``systematic_uncertainties`` on its diagonal).
    systematic : float
        The systematic floor used: relative brightness error (fraction, RMS).
    incidence_profile : ndarray of shape (4, bins)
        Normalised brightness relative to its cell's mean against incidence, in bins: bin
        centre (radians), mean before (McEwen L(phase), no equalisation), mean after (the
        fit), observations per bin (cells seen at least twice; NaN for empty bins).
    angles : str
        What incidence and emission were measured from: ``sphere`` (the reference body) or
        ``dem`` (the local surface normal of a DEM; set by the caller that collected them).
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
    candidates: tuple[tuple[str, float, bool, float], ...] = field(default=())
    statistical_uncertainties: np.ndarray = field(default_factory=lambda: np.zeros(0))
    jackknife_uncertainties: np.ndarray = field(default_factory=lambda: np.zeros(0))
    systematic_uncertainties: np.ndarray = field(default_factory=lambda: np.zeros(0))
    systematic_covariance: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    systematic: float = 0.0
    incidence_profile: np.ndarray = field(default_factory=lambda: np.zeros((4, 0)))
    angles: str = "sphere"

    def photometric_function(self) -> PhotometricModel:
        """The fitted law as a registry-style model: ``f(incidence, emission, phase)``."""
        return self.law.model(self.parameters)

    def lunar_lambert_l(self, phase: np.ndarray, systematic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Fitted ``L(phase)`` and its 1-sigma uncertainty (lunar-Lambert models; radians).

        The uncertainty propagates the node values' statistical covariance (with
        ``systematic``: the systematic bound instead); the fallback's is 0.
        """
        phase = np.asarray(phase, dtype=np.float64)
        ell = self.law.lunar_lambert_weight(self.parameters, phase)
        if not self.parameter_names:
            return ell, np.zeros_like(ell)
        basis = self.law.lunar_lambert_basis(phase)
        cov = self.systematic_covariance if systematic else self.covariance
        var = np.einsum("...i,ij,...j->...", basis, cov, basis)
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


HAPKE_SUBSETS: tuple[tuple[str, ...], ...] = (("w", "theta"), ("w", "b", "theta"))
"""Hapke candidates of :func:`fit_photometry`: the parameters each frees, the others held at the
LROC 643 nm values. ``b`` (the phase function's width) lets a surface whose single-particle phase
function differs from LROC's be fitted as a Hapke law (the simulator's smooth ``hapke`` on the
4 x 4 survey: slope -0.15 % per 10 deg with it, +1.44 without; docs/calibration.md)."""


def _laws(model: str | Law, obs: Observations, max_order: int,
          hapke_free: tuple[tuple[str, ...], ...]) -> list[Law]:
    if isinstance(model, Law):
        return [model]
    if model not in FIT_MODELS:
        raise PhotometricModelError(f"fit_photometry: unknown model {model!r}; choose from {FIT_MODELS}")
    ll = [lunar_lambert_law(k, obs.phase) for k in range(max_order + 1)]
    hapke = [hapke_law(free) for free in hapke_free]
    return {
        "auto": ll + hapke,
        "lunar_lambert": ll,
        "lunar_lambert_constant": ll[:1],
        "hapke": hapke,
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
    hapke_free: tuple[tuple[str, ...], ...] = HAPKE_SUBSETS,
    fit_offsets: bool = True,
    incidence_weight: float = 1.0,
    standard_deg: tuple[float, float, float] = (30.0, 0.0, 30.0),
    max_observations: int = 20_000,
    seed: int = 0,
    loss: str = "linear",
    max_nfev: int = 100,
    systematic: float = DEFAULT_SYSTEMATIC,
    jackknife: bool = True,
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
        subsets; the lowest BIC among the constrained ones), ``lunar_lambert`` (orders
        0..``max_order``), ``lunar_lambert_constant``, ``hapke`` (the ``hapke_free``
        subsets, the other parameters at the LROC 643 nm values), ``mcewen`` (no fit of the law:
        equalisation only), or a :class:`~pipeline.calibration.photometric_laws.Law`.
    hapke_free : tuple of tuple of str
        The Hapke candidates: each a subset of ``w, b, c, bs0, hs, theta`` to fit
        (:data:`HAPKE_SUBSETS` by default).
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
    systematic : float
        Relative brightness error (fraction, RMS) that does not average out between views:
        flat-field residuals, the pointing's common error. A law is preferred over a simpler
        one (McEwen's fixed ``L(phase)`` the simplest) only if it fits the overlaps better by
        more than this (:func:`~pipeline.calibration.photometric_candidates.choose`), and
        ``systematic_uncertainties`` bound how far such an error could move the parameters.
        0: the lowest BIC.
    jackknife : bool
        Also refit the chosen law with groups of frames left out
        (:func:`~pipeline.calibration.photometric_jackknife.frame_jackknife`, up to 8 refits)
        and report the larger of that and the statistical uncertainty.

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
    kw = {"fit_offsets": fit_offsets, "loss": loss, "max_nfev": max_nfev, "systematic": systematic}
    fallback = fit_candidate(obs, MCEWEN_LAW, standard, incidence_weight=0.0, **kw)
    tried: list[Candidate] = []
    if laws and spread < _MIN_SPREAD:
        reason = f"the angles barely vary (largest spread {np.degrees(spread):.2f} deg)"
    else:
        for law in laws:
            todo: Law | None = law
            while todo is not None:
                tried.append(fit_candidate(obs, todo, standard, incidence_weight=incidence_weight, **kw))
                c = tried[-1]
                log.debug("photometric fit %s: BIC %.1f, misfit %.3g, constrained %s %s", todo.label, c.bic,
                          c.misfit, c.constrained, c.why)
                todo = pinned_law(c)  # a Hapke parameter run into its bound: held there, the rest refitted
        loose = [c for c in tried if not c.constrained]
        reason = f"{loose[0].law.label}: {loose[0].why}; {len(tried)} laws tried" if loose else "no law to fit"
    best, why = choose(fallback, tried, systematic)
    jack = None
    if jackknife and best is not fallback:
        jack = frame_jackknife(obs, best, standard, incidence_weight=incidence_weight, **kw)
    if best is not fallback:
        message = f"fitted {best.law.label}: {best.law.describe(tuple(best.theta))}" + (f" ({why})" if why else "")
    elif why:
        message = f"McEwen's L(phase) is used with the equalisation fitted: {why}"
    elif laws:
        message = ("the angles do not constrain the photometric law, so McEwen's L(phase) is used "
                   f"with the equalisation fitted ({reason})")
    else:
        message = "McEwen's L(phase) with the equalisation fitted"
    return _result(obs, best, tried, standard, message, best is not fallback, systematic, jack)


def _result(obs, best: Candidate, tried, standard, message: str, constrained: bool,
            systematic: float, jack: np.ndarray | None) -> PhotometricFit:
    problem = best.problem
    law = best.law
    p = len(law.parameter_names)
    theta, u, o, _ = problem.split(best.x)
    gains = np.exp(u)
    offsets = o * problem.scale
    stat = best.cov[:p, :p]
    jsig = np.sqrt(np.diag(jack)) if jack is not None else np.full(p, np.nan)
    scale = np.sqrt(np.maximum(1.0, np.nan_to_num(np.diag(jack) / np.diag(stat)))) if jack is not None else np.ones(p)
    cov = stat * np.outer(scale, scale)
    mcewen = MCEWEN_LAW.factor((), obs.incidence, obs.emission, obs.phase, standard)
    args = (obs.iof, obs.incidence, obs.frame, obs.cell)
    before = overlap_residual(*args, mcewen, np.ones_like(gains), np.zeros_like(offsets))
    after = overlap_residual(*args, problem.factor(theta), gains, offsets,
                             edges=_bin_edges(before.profile[0]))
    profile = np.stack([before.profile[0], before.profile[1], after.profile[1], after.profile[2]])
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
        overlap_rms_before=before.rms,
        overlap_rms_after=after.rms,
        incidence_slope_before=before.slope_pct_per_10deg,
        incidence_slope_after=after.slope_pct_per_10deg,
        standard=standard,
        n_observations=int(obs.iof.size),
        n_cells=int(np.unique(obs.cell).size),
        candidates=tuple((c.law.label, c.bic, c.constrained, float(np.sqrt(max(c.misfit, 0.0)))) for c in tried),
        statistical_uncertainties=np.sqrt(np.diag(stat)),
        jackknife_uncertainties=jsig,
        systematic_uncertainties=np.sqrt(np.diag(best.systematic_cov)) if p else np.zeros(0),
        systematic_covariance=best.systematic_cov if p else np.zeros((0, 0)),
        systematic=float(systematic),
        incidence_profile=profile,
    )


def _bin_edges(centres: np.ndarray) -> np.ndarray:
    """Bin edges from equal-width bin centres."""
    half = 0.5 * (centres[1] - centres[0]) if centres.size > 1 else np.radians(0.5)
    return np.append(centres - half, centres[-1] + half)
