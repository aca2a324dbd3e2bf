"""Parametric photometric laws for fitting: lunar-Lambert with L(phase), a Hapke subset.

A :class:`Law` is a family ``f(incidence, emission, phase; theta)`` with a parameter
vector ``theta``; :mod:`pipeline.calibration.photometric_fit` fits ``theta`` to overlapping
observations. Every law can hand back a :class:`~pipeline.calibration.photometry.PhotometricModel`
with the fitted values bound, so the result has the same call as the registry's entries.
Angles in radians.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.calibration.hapke import LROC_HAPKE_643NM, HapkeParameters
from pipeline.calibration.photometry import (
    MCEWEN_L_COEFFS,
    PhotometricModel,
    hapke,
    lunar_lambert,
    lunar_lambert_l,
)


def _lunar_lambert_poly(
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    coeffs: tuple[float, ...] = (0.5,),
    phase0: float = 0.0,
    phase_scale: float = 1.0,
) -> np.ndarray:
    """Lunar-Lambert with ``L(g) = sum_j c_j x^j``, ``x = (g - phase0) / phase_scale``."""
    x = (np.asarray(phase, dtype=np.float64) - phase0) / phase_scale
    ell = np.polynomial.polynomial.polyval(x, np.asarray(coeffs, dtype=np.float64))
    return lunar_lambert(incidence, emission, phase, weight=ell)


@dataclass(frozen=True)
class Law:
    """A photometric family with free parameters.

    Parameters
    ----------
    name : str
        ``lunar_lambert``, ``hapke`` or ``lunar_lambert_mcewen`` (fixed, no parameters).
    parameter_names : tuple of str
        Names of the free parameters, in the order of the parameter vector.
    initial : tuple of float
        Starting values.
    lower, upper : tuple of float
        Bounds of each parameter (``-inf``/``inf`` for none).
    max_uncertainty : tuple of float
        Largest 1-sigma uncertainty for which a parameter counts as constrained by the data.
    phase0, phase_scale : float
        Lunar-Lambert only: ``L(g) = sum_j L_j ((g - phase0) / phase_scale)^j`` (radians).
    base : HapkeParameters
        Hapke only: the values of the parameters that are not fitted.
    """

    name: str
    parameter_names: tuple[str, ...]
    initial: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    max_uncertainty: tuple[float, ...]
    phase0: float = 0.0
    phase_scale: float = 1.0
    base: HapkeParameters = field(default=LROC_HAPKE_643NM)

    @property
    def label(self) -> str:
        """Short description, e.g. ``lunar_lambert L(phase) order 1`` or ``hapke (w, theta)``."""
        if self.name == "lunar_lambert":
            return f"lunar_lambert L(phase) order {len(self.parameter_names) - 1}"
        if self.name == "hapke":
            return f"hapke ({', '.join(self.parameter_names)})"
        return self.name

    def model(self, theta: np.ndarray | tuple[float, ...] | None = None) -> PhotometricModel:
        """The law with parameters ``theta`` bound (default: ``initial``): ``f(inc, emi, phase)``."""
        theta = tuple(float(t) for t in (self.initial if theta is None else theta))
        if self.name == "lunar_lambert":
            return PhotometricModel(
                "lunar_lambert",
                _lunar_lambert_poly,
                f"lunar-Lambert, fitted L(phase) = {self.describe(theta)}",
                (("coeffs", theta), ("phase0", self.phase0), ("phase_scale", self.phase_scale)),
                ("coeffs", "phase0", "phase_scale"),
            )
        if self.name == "hapke":
            params = self.base.replace(**dict(zip(self.parameter_names, theta, strict=True)))
            return PhotometricModel(
                "hapke", hapke, f"Hapke, fitted {self.describe(theta)}", (("params", params),), ("params",)
            )
        return PhotometricModel("lunar_lambert", lunar_lambert, "McEwen lunar-Lambert L(phase)")

    def __call__(
        self, theta: np.ndarray, incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray
    ) -> np.ndarray:
        """``f(incidence, emission, phase)`` with parameters ``theta`` (radians)."""
        return self.model(theta)(incidence, emission, phase)

    def factor(
        self,
        theta: np.ndarray,
        incidence: np.ndarray,
        emission: np.ndarray,
        phase: np.ndarray,
        standard: tuple[float, float, float],
    ) -> np.ndarray:
        """``f(incidence, emission, phase) / f(standard)``: the law normalised at the standard angles."""
        model = self.model(theta)
        return model(incidence, emission, phase) / model(*standard)

    def lunar_lambert_weight(self, theta: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``L(phase)`` of a lunar-Lambert law (McEwen's for the fixed law)."""
        if self.name == "lunar_lambert":
            x = (np.asarray(phase, dtype=np.float64) - self.phase0) / self.phase_scale
            return np.polynomial.polynomial.polyval(x, np.asarray(theta, dtype=np.float64))
        if self.name == "lunar_lambert_mcewen":
            return lunar_lambert_l(np.asarray(phase, dtype=np.float64))
        raise ValueError(f"{self.name} has no lunar-Lambert weight")

    def describe(self, theta: tuple[float, ...]) -> str:
        """Parameter values in words (degrees for angles)."""
        if self.name == "lunar_lambert":
            g0 = np.degrees(self.phase0)
            scale = np.degrees(self.phase_scale)
            terms = [f"{c:+.4f}" + ("" if j == 0 else f" x^{j}") for j, c in enumerate(theta)]
            return " ".join(terms) + (f", x = (g - {g0:.1f} deg) / {scale:.1f} deg" if len(theta) > 1 else "")
        if self.name == "hapke":
            parts = [
                f"{n} = {np.degrees(v):.2f} deg" if n == "theta" else f"{n} = {v:.4f}"
                for n, v in zip(self.parameter_names, theta, strict=True)
            ]
            return ", ".join(parts)
        a, b, c = MCEWEN_L_COEFFS
        return f"McEwen (1991) L(phase) = 1 {a:+g} g {b:+g} g^2 {c:+g} g^3 (g in degrees)"


def lunar_lambert_law(order: int, phase: np.ndarray | None = None, max_uncertainty: float = 0.05) -> Law:
    """Lunar-Lambert with ``L(phase)`` a polynomial of ``order`` (0: a constant L).

    Parameters
    ----------
    order : int
        0 to 3.
    phase : ndarray, optional
        The observations' phases (radians): the polynomial variable is centred on their
        mid-range and scaled by their half-range, so ``x`` runs over [-1, 1].
    max_uncertainty : float
        Largest 1-sigma uncertainty of each coefficient for which the data constrain it.

    Examples
    --------
    >>> law = lunar_lambert_law(1, np.radians([20.0, 80.0]))
    >>> law.parameter_names, [round(float(np.degrees(v)), 1) for v in (law.phase0, law.phase_scale)]
    (('L0', 'L1'), [50.0, 30.0])
    """
    if not 0 <= order <= 3:
        raise ValueError(f"lunar-Lambert L(phase) order {order}: use 0 to 3")
    if phase is not None and np.size(phase) and order > 0:
        lo, hi = float(np.nanmin(phase)), float(np.nanmax(phase))
        phase0, scale = 0.5 * (lo + hi), max(0.5 * (hi - lo), np.radians(1.0))
    else:
        phase0, scale = 0.0, 1.0
    # start from McEwen's L(phase) at mid-phase
    start = float(np.clip(lunar_lambert_l(np.array(phase0)), 0.05, 1.0))
    initial = (start,) + (0.0,) * order
    inf = float("inf")
    return Law(
        "lunar_lambert",
        tuple(f"L{j}" for j in range(order + 1)),
        initial,
        (-inf,) * (order + 1),
        (inf,) * (order + 1),
        (max_uncertainty,) * (order + 1),
        phase0,
        scale,
    )


_HAPKE_BOUNDS = {
    "w": (0.005, 0.995, 0.05),
    "b": (0.0, 0.95, 0.05),
    "c": (-1.0, 1.0, 0.1),
    "bs0": (0.0, 6.0, 0.5),
    "hs": (1e-4, 1.0, 0.05),
    "theta": (0.0, float(np.radians(60.0)), float(np.radians(3.0))),
}
"""Lower, upper bound and largest constrained 1-sigma of each fittable Hapke parameter."""


def hapke_law(free: tuple[str, ...] = ("w", "theta"), base: HapkeParameters = LROC_HAPKE_643NM) -> Law:
    """A Hapke subset: ``free`` parameters fitted, the others held at ``base``.

    Parameters
    ----------
    free : tuple of str
        Any of ``w, b, c, bs0, hs, theta`` (``theta`` in radians).
    base : HapkeParameters
        Starting values of the free parameters and the fixed values of the others.

    Examples
    --------
    >>> hapke_law(("theta",)).label
    'hapke (theta)'
    """
    unknown = [n for n in free if n not in _HAPKE_BOUNDS]
    if unknown or not free:
        raise ValueError(
            f"cannot fit Hapke parameters {unknown or free}; choose from {sorted(_HAPKE_BOUNDS)}"
        )
    lo, hi, sig = zip(*(_HAPKE_BOUNDS[n] for n in free), strict=True)
    init = tuple(float(np.clip(getattr(base, n), a, b)) for n, a, b in zip(free, lo, hi, strict=True))
    return Law("hapke", tuple(free), init, lo, hi, sig, base=base)


MCEWEN_LAW = Law("lunar_lambert_mcewen", (), (), (), (), ())
"""The fixed fallback: McEwen's lunar-Lambert ``L(phase)`` (no free parameter)."""
