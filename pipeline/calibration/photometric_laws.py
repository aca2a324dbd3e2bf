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
from pipeline.calibration.photometry import PhotometricModel, hapke
from pipeline.geometry.reflectance import MCEWEN_L_COEFFS, lunar_lambert, lunar_lambert_l


def lobatto_nodes(order: int, phase_range: tuple[float, float]) -> np.ndarray:
    """Phases (radians) at which an ``L(phase)`` of polynomial ``order`` is parametrised.

    The Chebyshev-Lobatto points of ``phase_range`` (its two ends and, for orders 2 and 3,
    the extrema of the Chebyshev polynomial between them), ascending; order 0: the middle.

    Examples
    --------
    >>> np.degrees(lobatto_nodes(2, np.radians([20.0, 80.0]))).round(6).tolist()
    [20.0, 50.0, 80.0]
    """
    lo, hi = (float(v) for v in phase_range)
    if order == 0:
        return np.array([0.5 * (lo + hi)])
    return 0.5 * (lo + hi) - 0.5 * (hi - lo) * np.cos(np.pi * np.arange(order + 1) / order)


def lagrange_basis(phase: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Lagrange basis of ``nodes`` at ``phase`` clamped to the nodes' span: shape ``phase.shape + (n,)``.

    ``L(g) = basis(g) @ values`` interpolates ``values`` at the nodes and stays constant
    beyond the first and last node (no polynomial extrapolation).
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    g = np.clip(np.asarray(phase, dtype=np.float64), nodes[0], nodes[-1])[..., None]
    if nodes.size == 1:
        return np.ones_like(g)
    out = np.ones(g.shape[:-1] + (nodes.size,))
    for k in range(nodes.size):
        others = np.delete(nodes, k)
        out[..., k] = np.prod((g - others) / (nodes[k] - others), axis=-1)
    return out


def node_polynomial(values: np.ndarray, nodes: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """The polynomial through ``values`` at ``nodes``, at ``phase`` clamped to the nodes' span.

    The same function as ``lagrange_basis(phase, nodes) @ values``, evaluated through its
    coefficients in ``x = (g - mid) / half`` (a few multiply-adds per point; the fit calls
    it at every step).

    Examples
    --------
    >>> nodes = np.radians([20.0, 50.0, 80.0])
    >>> g = np.radians([10.0, 35.0, 65.0, 90.0])
    >>> v = np.array([0.2, 0.5, 0.6])
    >>> bool(np.allclose(node_polynomial(v, nodes, g), lagrange_basis(g, nodes) @ v))
    True
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if nodes.size == 1:
        return np.full(np.shape(phase), values[0])
    mid, half = 0.5 * (nodes[0] + nodes[-1]), 0.5 * (nodes[-1] - nodes[0])
    coeffs = np.linalg.solve(np.vander((nodes - mid) / half, increasing=True), values)
    x = (np.clip(np.asarray(phase, dtype=np.float64), nodes[0], nodes[-1]) - mid) / half
    return np.polynomial.polynomial.polyval(x, coeffs)


def lunar_lambert_lower(phase: np.ndarray) -> np.ndarray:
    """Smallest lunar-Lambert ``L`` allowed at ``phase`` (radians): ``min(0, L_McEwen(g) - 0.1)``.

    ``L`` runs from 0 (Lambert) to 1 (Lommel-Seeliger); beyond a phase of about 100 deg the
    lunar ``L(g)`` of McEwen (1991) itself turns negative (-0.25 at 117 deg: limb darkening
    stronger than Lambert's, from shadowing), so there the bound follows it, 0.1 below.

    Examples
    --------
    >>> lunar_lambert_lower(np.radians([30.0, 90.0, 117.0])).round(3).tolist()
    [0.0, 0.0, -0.349]
    """
    return np.minimum(0.0, lunar_lambert_l(np.asarray(phase, dtype=np.float64)) - 0.1)


def _lunar_lambert_nodes(
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    values: tuple[float, ...] = (0.5,),
    nodes: tuple[float, ...] = (0.0,),
) -> np.ndarray:
    """Lunar-Lambert with ``L(g)`` interpolating ``values`` at the phases ``nodes`` (radians),
    clamped beyond them and clipped to [:func:`lunar_lambert_lower`, 1]."""
    g = np.clip(np.asarray(phase, dtype=np.float64), nodes[0], nodes[-1])
    ell = np.clip(node_polynomial(np.asarray(values), np.asarray(nodes), g), lunar_lambert_lower(g), 1.0)
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
    nodes : tuple of float
        Lunar-Lambert only: the phases (radians, ascending) at which ``L`` is a parameter;
        ``L(g)`` interpolates them (a polynomial of order ``len(nodes) - 1``), is constant
        beyond the first and last node and is clipped to [:func:`lunar_lambert_lower`, 1]
        (0 to 1 below a phase of ~100 deg).
    base : HapkeParameters
        Hapke only: the values of the parameters that are not fitted.
    pinned : tuple of str
        Hapke only: parameters held at a bound of their range because the data could not
        tell them from it (see :func:`~pipeline.calibration.photometric_candidates.pinned_law`);
        named in the label.
    """

    name: str
    parameter_names: tuple[str, ...]
    initial: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    max_uncertainty: tuple[float, ...]
    nodes: tuple[float, ...] = (0.0,)
    base: HapkeParameters = field(default=LROC_HAPKE_643NM)
    pinned: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Short description, e.g. ``lunar_lambert L(phase) order 1`` or ``hapke (w, theta)``."""
        if self.name == "lunar_lambert":
            return f"lunar_lambert L(phase) order {len(self.parameter_names) - 1}"
        if self.name == "hapke":
            held = "".join(f"; {n} = {_display(n, getattr(self.base, n))} at its bound" for n in self.pinned)
            return f"hapke ({', '.join(self.parameter_names)}{held})"
        return self.name

    def model(self, theta: np.ndarray | tuple[float, ...] | None = None) -> PhotometricModel:
        """The law with parameters ``theta`` bound (default: ``initial``): ``f(inc, emi, phase)``."""
        theta = tuple(float(t) for t in (self.initial if theta is None else theta))
        if self.name == "lunar_lambert":
            return PhotometricModel(
                "lunar_lambert",
                _lunar_lambert_nodes,
                f"lunar-Lambert, fitted {self.describe(theta)}",
                (("values", theta), ("nodes", self.nodes)),
                ("values", "nodes"),
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
        """``f(incidence, emission, phase) / f(standard)``: the law normalised at the standard angles.

        NaN everywhere when ``f(standard)`` is not positive (parameters for which the law
        has no normalisation; the fit's bounds keep it from there).
        """
        model = self.model(theta)
        actual = np.asarray(model(incidence, emission, phase), dtype=np.float64)
        std = float(model(*standard))
        if not (np.isfinite(std) and std > 0):
            return np.full(actual.shape, np.nan)
        return actual / std

    def lunar_lambert_basis(self, phase: np.ndarray) -> np.ndarray:
        """``L(phase) = basis @ theta`` before clipping (lunar-Lambert laws): shape ``phase.shape + (p,)``."""
        if self.name != "lunar_lambert":
            raise ValueError(f"{self.name} has no lunar-Lambert L(phase) parameters")
        return lagrange_basis(phase, np.asarray(self.nodes))

    def lunar_lambert_weight(self, theta: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """``L(phase)`` of a lunar-Lambert law, clipped to its bounds (McEwen's for the fixed law)."""
        if self.name == "lunar_lambert":
            g = np.clip(np.asarray(phase, dtype=np.float64), self.nodes[0], self.nodes[-1])
            value = node_polynomial(np.asarray(theta), np.asarray(self.nodes), g)
            return np.clip(value, lunar_lambert_lower(g), 1.0)
        if self.name == "lunar_lambert_mcewen":
            return lunar_lambert_l(np.asarray(phase, dtype=np.float64))
        raise ValueError(f"{self.name} has no lunar-Lambert weight")

    def describe(self, theta: tuple[float, ...]) -> str:
        """Parameter values in words (degrees for angles)."""
        if self.name == "lunar_lambert":
            if len(theta) == 1:
                return f"L = {theta[0]:.4f} (constant)"
            pts = ", ".join(f"{v:.4f} at {np.degrees(g):.1f} deg" for v, g in zip(theta, self.nodes, strict=True))
            return f"L(phase) = {pts} (interpolated, constant beyond)"
        if self.name == "hapke":
            parts = [f"{n} = {_display(n, v)}" for n, v in zip(self.parameter_names, theta, strict=True)]
            parts += [f"{n} = {_display(n, getattr(self.base, n))} (held at its bound)" for n in self.pinned]
            return ", ".join(parts)
        a, b, c = MCEWEN_L_COEFFS
        return f"McEwen (1991) L(phase) = 1 {a:+g} g {b:+g} g^2 {c:+g} g^3 (g in degrees)"


def _display(name: str, value: float) -> str:
    """A Hapke parameter in words: ``theta`` in degrees, the others as numbers."""
    return f"{np.degrees(float(value)):.2f} deg" if name == "theta" else f"{float(value):.4f}"


_MIN_NODE_SPACING = np.radians(2.0)
"""Nodes of ``L(phase)`` closer than this are not fitted apart (the polynomial would be
determined by noise over so narrow a phase range)."""


def lunar_lambert_law(order: int, phase: np.ndarray | None = None, max_uncertainty: float = 0.05) -> Law:
    """Lunar-Lambert with ``L(phase)`` a polynomial of ``order`` (0: a constant L), bounded.

    The parameters are the values of ``L`` at ``order + 1`` phases: the Chebyshev-Lobatto
    points (:func:`lobatto_nodes`) of the observations' phase range (at least 2 deg
    between nodes). Each is bounded to
    [:func:`lunar_lambert_lower`, 1]: 0 (Lambert) to 1 (Lommel-Seeliger) below a phase of
    about 100 deg. ``L(g)`` interpolates them, is clipped to the same bounds between them
    and is held constant beyond the first and last node, so neither the normalisation to
    the standard phase nor a pixel at a phase the fit did not see extrapolates the polynomial.

    Parameters
    ----------
    order : int
        0 to 3.
    phase : ndarray, optional
        The observations' phases (radians); needed for ``order > 0``.
    max_uncertainty : float
        Largest 1-sigma uncertainty of ``L`` (RMS over the observations' phases, see
        :func:`pipeline.calibration.photometric_fit.fit_photometry`) for which the data
        constrain it.

    Raises
    ------
    ValueError
        ``order`` outside 0..3, or ``order > 0`` without phases.

    Examples
    --------
    >>> law = lunar_lambert_law(1, np.radians(np.linspace(20.0, 80.0, 101)))
    >>> law.parameter_names, [round(float(np.degrees(g)), 1) for g in law.nodes], law.lower, law.upper
    (('L0', 'L1'), [20.0, 80.0], (0.0, 0.0), (1.0, 1.0))
    """
    if not 0 <= order <= 3:
        raise ValueError(f"lunar-Lambert L(phase) order {order}: use 0 to 3")
    if order > 0 and (phase is None or not np.size(phase)):
        raise ValueError(f"lunar-Lambert L(phase) order {order} needs the observations' phases")
    if order > 0:
        lo, hi = float(np.nanmin(phase)), float(np.nanmax(phase))
        mid, half = 0.5 * (lo + hi), max(0.5 * (hi - lo), 0.5 * order * _MIN_NODE_SPACING)
        nodes = lobatto_nodes(order, (mid - half, mid + half))
    else:
        nodes = np.array([float(np.nanmedian(phase))]) if phase is not None and np.size(phase) else np.zeros(1)
    lower = lunar_lambert_lower(nodes)
    # start from McEwen's L(phase) at the nodes, inside the bounds
    initial = np.clip(lunar_lambert_l(nodes), lower + 0.05, 0.95)
    return Law(
        "lunar_lambert",
        tuple(f"L{j}" for j in range(order + 1)),
        tuple(float(v) for v in initial),
        tuple(float(v) for v in lower),
        (1.0,) * (order + 1),
        (max_uncertainty,) * (order + 1),
        tuple(float(g) for g in nodes),
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


def hapke_law(
    free: tuple[str, ...] = ("w", "theta"), base: HapkeParameters = LROC_HAPKE_643NM, pinned: tuple[str, ...] = ()
) -> Law:
    """A Hapke subset: ``free`` parameters fitted, the others held at ``base``.

    Parameters
    ----------
    free : tuple of str
        Any of ``w, b, c, bs0, hs, theta`` (``theta`` in radians).
    base : HapkeParameters
        Starting values of the free parameters and the fixed values of the others.
    pinned : tuple of str
        Fixed parameters that ``base`` holds at a bound of their range (named in the label).

    Examples
    --------
    >>> hapke_law(("theta",)).label
    'hapke (theta)'
    >>> hapke_law(("w",), LROC_HAPKE_643NM.replace(theta=0.0), pinned=("theta",)).label
    'hapke (w; theta = 0.00 deg at its bound)'
    """
    unknown = [n for n in free if n not in _HAPKE_BOUNDS]
    if unknown or not free:
        raise ValueError(
            f"cannot fit Hapke parameters {unknown or free}; choose from {sorted(_HAPKE_BOUNDS)}"
        )
    lo, hi, sig = zip(*(_HAPKE_BOUNDS[n] for n in free), strict=True)
    init = tuple(float(np.clip(getattr(base, n), a, b)) for n, a, b in zip(free, lo, hi, strict=True))
    return Law("hapke", tuple(free), init, lo, hi, sig, base=base, pinned=tuple(pinned))


MCEWEN_LAW = Law("lunar_lambert_mcewen", (), (), (), (), ())
"""The fixed fallback: McEwen's lunar-Lambert ``L(phase)`` (no free parameter)."""
