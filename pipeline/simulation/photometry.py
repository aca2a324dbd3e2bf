"""Scattering laws of the simulated surface and the truth "normal albedo" they imply.

A **scattering law** is any callable ``f(incidence, emission, phase) -> reflectance factor``
(angles in radians, numpy broadcasting; the same signature as the pipeline's
:data:`pipeline.calibration.PHOTOMETRIC_MODELS`). The simulated surface has an albedo
field ``A(x)`` (:meth:`Surface.albedo`) and is rendered as

    ``I/F(x) = A(x) * f(i, e, g)``

with ``i``, ``e`` measured from the surface normal (the sphere's, or the local
topographic one over relief) and ``g`` the phase angle. The built-in laws
(:data:`SCATTERING_LAWS`) are scaled so that ``f(0, 0, 0) = 1``: ``A`` is then the
classical normal albedo (I/F at ``i = e = g = 0``), whatever the law.

**Truth normal albedo** (what a mosaic normalised to the standard geometry should
correlate with): the I/F the ground would have at the standard geometry ``(i, e, g) =
(30, 0, 30) deg`` under the *true* law,

    ``N(x) = I/F(x) * f(30, 0, 30) / f(i, e, g) = A(x) * f(30, 0, 30)``

(:meth:`PhotometricLaw.normal_albedo_factor`), i.e. exactly what the pipeline's
``normalisation_factor`` produces when it is given the true law and its default standard
angles. Cast shadows (relief) carry no signal and have no normalised value.

The default law of the simulation is :func:`lunar_lambert` with a constant ``L = 0.5``
(``PhotometricLaw`` ``"lunar_lambert"``): every default output is unchanged by the laws
added here. Another engineer's LROC Hapke model (``pipeline.calibration.hapke``) plugs in
as a callable; :func:`hapke_smooth` is a small stand-in of our own (no roughness).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.calibration.hapke import LROC_HAPKE_643NM, HapkeParameters, hapke_lroc
from pipeline.errors import ConfigError

LUNAR_LAMBERT_L = 0.5
"""Constant lunar-Lambert limb-darkening weight of the simulated surface."""

STANDARD_GEOMETRY_DEG = (30.0, 0.0, 30.0)
"""Standard (incidence, emission, phase) of the truth normal albedo, degrees (the pipeline's
``calibration.photometry.standard_*_deg`` defaults)."""

MCEWEN_L_COEFFS = (-0.019, 2.42e-4, -1.46e-6)
"""McEwen (1991) lunar ``L(g) = 1 + A g + B g^2 + C g^3``, ``g`` in degrees (as ISIS
``LunarLambertMcEwen`` and ``pipeline.calibration.photometry``)."""

ScatteringFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def lunar_lambert(albedo, incidence, emission, weight: float = LUNAR_LAMBERT_L) -> np.ndarray:
    """I/F of a lunar-Lambert surface: ``albedo * [2 L mu0/(mu0 + mu) + (1 - L) mu0]``.

    ``albedo`` is the normal albedo (I/F at i = e = 0). This is the photometric function of
    the simulation (McEwen's lunar-Lambert with a constant ``L``).

    Parameters
    ----------
    albedo : array_like
        Normal albedo, unitless.
    incidence, emission : array_like
        Angles in radians (broadcast with ``albedo``).
    weight : float
        The lunar-Lambert ``L`` (0: Lambert, 1: Lommel-Seeliger-like).

    Returns
    -------
    ndarray, float64
        I/F (0 where the Sun or the camera is at or below the horizon).

    Examples
    --------
    >>> float(lunar_lambert(0.1, 0.0, 0.0))
    0.1
    """
    mu0 = np.cos(incidence)
    mu = np.cos(emission)
    ok = (mu0 > 0) & (mu > 0)
    value = 2.0 * weight * mu0 / np.where(ok, mu0 + mu, 1.0) + (1.0 - weight) * mu0
    return np.where(ok, np.asarray(albedo, dtype=np.float64) * value, 0.0)


# --------------------------------------------------------------------------- built-in laws
def mcewen_l(phase) -> np.ndarray:
    """McEwen's lunar limb-darkening weight ``L(phase)`` (phase in radians; 1 at 0)."""
    g = np.degrees(phase)
    a, b, c = MCEWEN_L_COEFFS
    return 1.0 + a * g + b * g**2 + c * g**3


def _lunar_lambert_factor(i, e, g, L=LUNAR_LAMBERT_L):
    return lunar_lambert(1.0, i, e, L)


def _mcewen_factor(i, e, g):
    mu0, mu = np.cos(i), np.cos(e)
    ok = (mu0 > 0) & (mu > 0)
    ell = mcewen_l(g)
    return np.where(ok, 2.0 * ell * mu0 / np.where(ok, mu0 + mu, 1.0) + (1.0 - ell) * mu0, 0.0)


def _lommel_seeliger_factor(i, e, g):
    return lunar_lambert(1.0, i, e, 1.0)


def _lambert_factor(i, e, g):
    return lunar_lambert(1.0, i, e, 0.0)


def _h_function(x: np.ndarray, w: float) -> np.ndarray:
    """Chandrasekhar's H for isotropic scatterers, Hapke's (2002) approximation."""
    r0 = (1.0 - math.sqrt(1.0 - w)) / (1.0 + math.sqrt(1.0 - w))
    x = np.maximum(np.abs(x), 1e-12)
    return 1.0 / (1.0 - w * x * (r0 + (1.0 - 2.0 * r0 * x) * 0.5 * np.log((1.0 + x) / x)))


def hapke_smooth(i, e, g, *, w=0.395, b=0.228, c=0.42, bs0=1.67, hs=0.0485, bc0=0.0, hc=1.0, phi=0.0):
    """A smooth-surface Hapke bidirectional reflectance (no macroscopic roughness).

    The form and parameter names of the LROC ``HapkeLROC`` model without its roughness
    term (``theta = 0``)::

        r = K w/4 mu0/(mu0 + mu) [p(g) (1 + bs0 Bs(g)) + H(mu0/K) H(mu/K) - 1] (1 + bc0 Bc(g))

    with the two-term Henyey-Greenstein ``p(g) = (1+c)/2 (1-b^2)/(1-2b cos g+b^2)^1.5 +
    (1-c)/2 (1-b^2)/(1+2b cos g+b^2)^1.5``, shadow hiding ``Bs = 1/(1 + tan(g/2)/hs)``,
    coherent backscatter ``Bc = (1 + (1 - exp(-t))/t) / (2 (1 + t)^2)``, ``t = tan(g/2)/hc``,
    porosity ``K = -ln(1 - 1.209 phi^(2/3)) / (1.209 phi^(2/3))`` (1 when ``phi = 0``) and
    Hapke's (2002) ``H`` function. Defaults: the LROC WAC 643 nm band of the parameter map
    in ``../shared/reference/isis3`` (median), roughness dropped. A stand-in until the LROC
    model of ``pipeline.calibration.hapke`` is available; any callable works as a law.

    Parameters
    ----------
    i, e, g : array_like
        Incidence, emission, phase, radians.

    Returns
    -------
    ndarray
        Reflectance ``r`` (1/sr scale of ISIS's model, unnormalised); 0 below the horizon.
    """
    mu0, mu = np.cos(i), np.cos(e)
    ok = (mu0 > 0) & (mu > 0)
    mu0s, mus = np.where(ok, mu0, 1.0), np.where(ok, mu, 1.0)
    cg = np.cos(g)
    b2 = b * b
    p = (
        (1 + c) * 0.5 * (1 - b2) / (1 - 2 * b * cg + b2) ** 1.5
        + (1 - c) * 0.5 * (1 - b2) / (1 + 2 * b * cg + b2) ** 1.5
    )
    t2 = np.tan(0.5 * np.asarray(g, dtype=np.float64))
    bsg = 1.0 / (1.0 + t2 / hs) if hs > 0 else 0.0
    if hc > 0 and bc0 != 0:
        t = np.maximum(t2 / hc, 1e-12)
        bcg = (1 - np.expm1(-t) / t) / (2 * (1 + t) ** 2)
    else:
        bcg = 0.0
    k = 1.0
    if phi > 0:
        ck = 1.209 * phi ** (2.0 / 3.0)
        k = -math.log(1 - ck) / ck
    m = _h_function(mu0s / k, w) * _h_function(mus / k, w) - 1.0
    r = k * w / 4.0 * mu0s / (mu0s + mus) * (p * (1 + bs0 * bsg) + m) * (1 + bc0 * bcg)
    return np.where(ok, r, 0.0)


# --------------------------------------------------------------------------- the law object
@dataclass(frozen=True)
class PhotometricLaw:
    """A named scattering law with its parameters (what the truth records).

    Calling it gives the reflectance factor ``f(i, e, g)`` (radians): ``scale * func(i, e,
    g, **params)``, 0 where the Sun or the camera is at or below the horizon and never
    negative.

    Attributes
    ----------
    name : str
        Key of :data:`SCATTERING_LAWS`, or the callable's name for a user law.
    func : callable
        ``func(i, e, g, **params)``.
    params : tuple of (str, float)
        Parameters passed to ``func`` (recorded in the truth).
    scale : float
        Multiplies ``func``; the built-in laws use it to make ``f(0, 0, 0) = 1``.
    formula : str
        Human-readable formula (truth files).
    builtin : bool
        True for the laws of :data:`SCATTERING_LAWS` (rebuilt from the truth by name).

    Examples
    --------
    >>> law = scattering_law("lunar_lambert", L=0.3)
    >>> round(float(law(0.0, 0.0, 0.0)), 12)
    1.0
    >>> round(law.normal_albedo_factor(), 6)  # f(30, 0, 30) = 2 L cos30/(cos30+1) + (1-L) cos30
    0.884679
    """

    name: str
    func: ScatteringFunction = field(repr=False, compare=False)
    params: tuple[tuple[str, float], ...] = ()
    scale: float = 1.0
    formula: str = ""
    builtin: bool = False

    @property
    def parameters(self) -> dict[str, float]:
        """The parameters as a dict."""
        return dict(self.params)

    def __call__(self, incidence, emission, phase) -> np.ndarray:
        """Scaled reflectance at incidence, emission and phase angles (radians); 0 where not lit or not seen."""
        i = np.asarray(incidence, dtype=np.float64)
        e = np.asarray(emission, dtype=np.float64)
        g = np.asarray(phase, dtype=np.float64)
        value = self.scale * np.asarray(self.func(i, e, g, **self.parameters), dtype=np.float64)
        ok = (np.cos(i) > 0) & (np.cos(e) > 0) & np.isfinite(value)
        return np.where(ok, np.maximum(value, 0.0), 0.0)

    def normal_albedo_factor(self, standard_deg: tuple[float, float, float] = STANDARD_GEOMETRY_DEG) -> float:
        """``f(standard)``: the truth normal albedo is ``A(x) * f(30, 0, 30)`` (see the module)."""
        return float(self(*np.radians(np.asarray(standard_deg, dtype=np.float64))))

    def to_dict(self) -> dict[str, Any]:
        """Name, parameters, scale and formula (JSON types) for the truth files."""
        return {
            "model": self.name,
            "parameters": {k: float(v) for k, v in self.params},
            "scale": float(self.scale),
            "formula": self.formula,
            "builtin": self.builtin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhotometricLaw:
        """Rebuild a built-in law from :meth:`to_dict` (a user callable cannot be rebuilt).

        Raises
        ------
        ConfigError
            The law was a user callable or its name is unknown.
        """
        name = data.get("model", "")
        if not data.get("builtin", False) or name not in SCATTERING_LAWS:
            raise ConfigError(
                f"scattering law {name!r} was a user callable and cannot be rebuilt from the truth; "
                f"pass it again (load_truth(..., law=callable))"
            )
        return scattering_law(name, **data.get("parameters", {}))


def _builtin(name: str, func, formula: str, params: dict[str, float]) -> PhotometricLaw:
    raw = PhotometricLaw(name, func, tuple(sorted(params.items())), 1.0, formula, True)
    f0 = float(raw(0.0, 0.0, 0.0))
    if not (np.isfinite(f0) and f0 > 0):
        raise ConfigError(f"scattering law {name} with {params} is not positive at i = e = g = 0 (f = {f0})")
    return PhotometricLaw(name, func, raw.params, 1.0 / f0, formula, True)


def _lunar_lambert_law(L: float = LUNAR_LAMBERT_L) -> PhotometricLaw:
    return _builtin("lunar_lambert", _lunar_lambert_factor, "f = 2 L mu0/(mu0 + mu) + (1 - L) mu0", {"L": float(L)})


def _mcewen_law() -> PhotometricLaw:
    return _builtin("lunar_lambert_mcewen", _mcewen_factor,
                    "f = 2 L(g) mu0/(mu0 + mu) + (1 - L(g)) mu0, L(g) = 1 - 0.019 g + 2.42e-4 g^2 - 1.46e-6 g^3 "
                    "(g in degrees)", {})


def _lommel_seeliger_law() -> PhotometricLaw:
    return _builtin("lommel_seeliger", _lommel_seeliger_factor, "f = 2 mu0/(mu0 + mu)", {})


def _lambert_law() -> PhotometricLaw:
    return _builtin("lambert", _lambert_factor, "f = mu0", {})


def _hapke_law(**params: float) -> PhotometricLaw:
    known = {"w", "b", "c", "bs0", "hs", "bc0", "hc", "phi"}
    if set(params) - known:
        raise ConfigError(f"unknown Hapke parameters {sorted(set(params) - known)}; choose from {sorted(known)}")
    defaults = {k: v.default for k, v in inspect.signature(hapke_smooth).parameters.items() if k in known}
    full = {**defaults, **{k: float(v) for k, v in params.items()}}
    if not 0 < full["w"] < 1:
        raise ConfigError(f"Hapke single-scattering albedo w must be in (0, 1), got {full['w']}")
    return _builtin("hapke", hapke_smooth,
                    "f = r_Hapke(i, e, g) / r_Hapke(0, 0, 0): smooth Hapke (HapkeLROC without roughness)", full)


def _hapke_lroc_factor(i, e, g, **params):
    p = dict(params)
    p["theta"] = math.radians(p.pop("theta_deg"))
    return hapke_lroc(i, e, g, HapkeParameters(**p))


def _hapke_lroc_law(**params: float) -> PhotometricLaw:
    """The LROC ``HapkeLROC`` model with roughness (``pipeline.calibration.hapke``, checked
    against ISIS ``lrowacphomap``): the LROC WAC 643 nm set, any of ``w, b, c, bc0, hc, bs0,
    hs, phi`` and ``theta_deg`` (mean slope, degrees) changed."""
    names = set(HapkeParameters.names()) - {"theta"} | {"theta_deg"}
    if set(params) - names:
        raise ConfigError(f"unknown Hapke parameters {sorted(set(params) - names)}; choose from {sorted(names)}")
    base = {k: float(getattr(LROC_HAPKE_643NM, k)) for k in HapkeParameters.names() if k != "theta"}
    full = {
        **base,
        "theta_deg": math.degrees(float(LROC_HAPKE_643NM.theta)),
        **{k: float(v) for k, v in params.items()},
    }
    if not 0 < full["w"] < 1:
        raise ConfigError(f"Hapke single-scattering albedo w must be in (0, 1), got {full['w']}")
    return _builtin("hapke_lroc", _hapke_lroc_factor,
                    "f = r_HapkeLROC(i, e, g) / r(0, 0, 0): LROC Hapke 2012 with roughness theta", full)


SCATTERING_LAWS: dict[str, Callable[..., PhotometricLaw]] = {
    "lunar_lambert": _lunar_lambert_law,
    "lunar_lambert_mcewen": _mcewen_law,
    "lommel_seeliger": _lommel_seeliger_law,
    "lambert": _lambert_law,
    "hapke": _hapke_law,
    "hapke_lroc": _hapke_lroc_law,
}
"""Built-in scattering laws by name: factories ``(**params) -> PhotometricLaw``, each scaled
to ``f(0, 0, 0) = 1``. ``lunar_lambert`` takes ``L`` (constant weight, default 0.5),
``hapke`` the :func:`hapke_smooth` parameters, ``hapke_lroc`` those of the LROC model with
roughness (``theta_deg``; default the LROC WAC 643 nm set); the others none."""


def scattering_law(law: str | PhotometricLaw | ScatteringFunction, **params: float) -> PhotometricLaw:
    """A :class:`PhotometricLaw` from a name, a callable or a law.

    Parameters
    ----------
    law : str, callable or PhotometricLaw
        A key of :data:`SCATTERING_LAWS`; or any ``f(incidence, emission, phase, **params)``
        returning a reflectance factor (radians in; used as given, no rescaling: the truth
        normal albedo is ``A * f(30, 0, 30)`` whatever its scale); or a law (returned as is).
    **params : float
        Parameters of the law (e.g. ``L=0.3``; ``w=0.3, b=0.2`` for ``hapke``).

    Raises
    ------
    ConfigError
        Unknown name or parameters.

    Examples
    --------
    >>> scattering_law("lommel_seeliger").name
    'lommel_seeliger'
    >>> law = scattering_law(lambda i, e, g: np.cos(i))
    >>> round(float(law(np.radians(60.0), 0.0, 0.0)), 6)
    0.5
    """
    if isinstance(law, PhotometricLaw):
        if params:
            raise ConfigError(f"parameters {sorted(params)} given with an already built law {law.name}")
        return law
    if isinstance(law, str):
        try:
            factory = SCATTERING_LAWS[law]
        except KeyError:
            raise ConfigError(f"unknown scattering law {law!r}; choose from {sorted(SCATTERING_LAWS)} "
                              f"or pass a callable f(incidence, emission, phase)") from None
        try:
            return factory(**params)
        except TypeError as exc:
            raise ConfigError(f"bad parameters {params} for scattering law {law!r}: {exc}") from None
    if callable(law):
        name = getattr(law, "__name__", type(law).__name__)
        return PhotometricLaw(name, law, tuple(sorted((k, float(v)) for k, v in params.items())), 1.0,
                              f"user callable {getattr(law, '__module__', '?')}.{name}", False)
    raise ConfigError(f"a scattering law is a name from {sorted(SCATTERING_LAWS)} or a callable, got {law!r}")


def default_law(radiometry_l: float = LUNAR_LAMBERT_L) -> PhotometricLaw:
    """The simulation's default law: lunar-Lambert with the radiometry's constant ``L``."""
    return scattering_law("lunar_lambert", L=radiometry_l)


__all__ = [
    "LUNAR_LAMBERT_L",
    "SCATTERING_LAWS",
    "STANDARD_GEOMETRY_DEG",
    "PhotometricLaw",
    "default_law",
    "hapke_smooth",
    "lunar_lambert",
    "mcewen_l",
    "scattering_law",
]
