"""The Hapke (2012) bidirectional reflectance model in the form LROC uses (ISIS ``HapkeLROC``).

The radiance factor (I/F) of a particulate surface, written as ISIS ``lrowacphomap``'s
``HapkeLROC::photometry`` computes it (Hapke 2012, *Theory of Reflectance and Emittance
Spectroscopy*, 2nd ed., eqs. 12.55 and 12.60, with the isotropic multiple-scattering
approximation and the 2002 approximation of Chandrasekhar's H function)::

    r(i, e, g) = K w/4 mu0e/(mu0e + mue) [p(g) (1 + Bs0 Bs(g)) + M(mu0e, mue)] [1 + Bc0 Bc(g)] S(i, e, g)

- ``K`` porosity factor from the filling factor ``phi`` (1 when ``phi = 0``);
- ``p(g)`` two-parameter Henyey-Greenstein phase function (``b`` asymmetry, ``c`` amplitude);
- ``Bs(g) = 1 / (1 + tan(g/2)/hs)`` shadow-hiding and ``Bc(g)`` coherent-backscatter
  opposition surges (amplitudes ``Bs0``, ``Bc0``; widths ``hs``, ``hc``);
- ``M = H(mu0e/K) H(mue/K) - 1`` with ``H(x) ~= 1 / (1 - w x [r0 + (1 - 2 r0 x)/2 ln((1 + x)/x)])``;
- ``S`` and the effective cosines ``mu0e``, ``mue``: macroscopic roughness ``theta``
  (Hapke's shadowing function). ``theta <= 0`` gives the smooth model (``S = 1``).

Every branch and guard of the ISIS code is kept (``i >= 90 deg`` gives 0; cotangents use
``max(1e-10, sin)``; exponents are clipped at 23; ``psi`` from ``cos(psi)`` clipped to
``[0, pi]``), so values agree with ISIS to rounding. Everything is vectorised: angles and
parameters broadcast together, so one call evaluates a whole image with per-pixel
parameters. Angles in radians (``theta`` too); the PVL/cube edge converts degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

_EXP_CAP = 23.0
"""Largest exponent ISIS lets ``exp`` see in the roughness terms."""

_SIN_FLOOR = 1e-10
"""Smallest sine ISIS divides by for cotangents."""


@dataclass(frozen=True)
class HapkeParameters:
    """The nine HapkeLROC parameters; each a float or an array broadcastable with the angles.

    Parameters
    ----------
    w : float or ndarray
        Single-scattering albedo (0..1).
    b, c : float or ndarray
        Henyey-Greenstein asymmetry (0..1) and back/forward amplitude (-1..1).
    bc0, hc : float or ndarray
        Coherent-backscatter opposition surge amplitude and angular width.
    bs0, hs : float or ndarray
        Shadow-hiding opposition surge amplitude and angular width.
    theta : float or ndarray
        Mean slope angle of macroscopic roughness, **radians** (<= 0: smooth surface).
    phi : float or ndarray
        Filling factor (porosity) for ``K``; 0 gives ``K = 1``.

    Examples
    --------
    >>> p = HapkeParameters(w=0.3, b=0.25, c=0.3, bc0=0.0, hc=1.0, bs0=1.8, hs=0.07,
    ...                     theta=np.radians(23.657), phi=0.0)
    >>> round(float(hapke_lroc(np.radians(30.0), 0.0, np.radians(30.0), p)), 6)
    0.075195
    """

    w: float | np.ndarray
    b: float | np.ndarray
    c: float | np.ndarray
    bc0: float | np.ndarray = 0.0
    hc: float | np.ndarray = 1.0
    bs0: float | np.ndarray = 0.0
    hs: float | np.ndarray = 0.0
    theta: float | np.ndarray = 0.0
    phi: float | np.ndarray = 0.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Field names in the order of the LROC parameter cube: w, b, c, bc0, hc, bs0, hs, theta, phi."""
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes: float | np.ndarray) -> HapkeParameters:
        """A copy with some parameters changed (``p.replace(theta=0.3)``)."""
        return replace(self, **changes)


def hg_h_function(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Hapke's (2002) approximation of Chandrasekhar's H function for isotropic scatterers.

    ``H(x) = 1 / (1 - w x [r0 + (1 - 2 r0 x)/2 ln((1 + x)/x)])`` with
    ``r0 = (1 - sqrt(1 - w)) / (1 + sqrt(1 - w))``; ``H(0) = 1`` (ISIS ``HGfunc``).

    Parameters
    ----------
    x : ndarray
        Cosine argument (the sign is ignored, as in ISIS).
    w : ndarray
        Single-scattering albedo, broadcastable with ``x``.

    Returns
    -------
    ndarray
        ``H(x, w)``, unitless.

    Examples
    --------
    >>> round(float(hg_h_function(1.0, 0.5)), 6)
    1.249392
    """
    x = np.abs(np.asarray(x, dtype=np.float64))
    w = np.asarray(w, dtype=np.float64)
    root = np.sqrt(1.0 - w)
    r0 = (1.0 - root) / (1.0 + root)
    zero = x == 0.0
    xs = np.where(zero, 1.0, x)
    value = 1.0 / (1.0 - w * xs * (r0 + (1.0 - 2.0 * r0 * xs) * 0.5 * np.log((1.0 + xs) / xs)))
    return np.where(zero, 1.0, value)


def _porosity_k(phi: np.ndarray) -> np.ndarray:
    """``K = -ln(1 - 1.209 phi^(2/3)) / (1.209 phi^(2/3))``, 1 where ``phi == 0``."""
    phi = np.asarray(phi, dtype=np.float64)
    has = phi != 0.0
    ck = 1.209 * np.power(np.where(has, phi, 1.0), 2.0 / 3.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(has, -np.log(1.0 - ck) / ck, 1.0)


def _opposition_terms(g: np.ndarray, p: HapkeParameters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Henyey-Greenstein ``p(g)``, shadow-hiding ``Bs(g)`` and coherent-backscatter ``Bc(g)``."""
    b = np.asarray(p.b, dtype=np.float64)
    c = np.asarray(p.c, dtype=np.float64)
    hs = np.asarray(p.hs, dtype=np.float64)
    hc = np.asarray(p.hc, dtype=np.float64)
    cosg = np.cos(g)
    b2 = b * b
    pg = (1.0 + c) * 0.5 * (1.0 - b2) / np.power(1.0 - 2.0 * b * cosg + b2, 1.5) + (1.0 - c) * 0.5 * (
        1.0 - b2
    ) / np.power(1.0 + 2.0 * b * cosg + b2, 1.5)
    tang2 = np.tan(g * 0.5)
    no_bs = (hs == 0.0) | (g == np.pi)
    bsg = np.where(no_bs, 0.0, 1.0 / (1.0 + tang2 / np.where(no_bs, 1.0, hs)))
    use_bc = (g != 0.0) & (g != np.pi) & (hc != 0.0)
    t = np.where(use_bc, tang2 / np.where(hc == 0.0, 1.0, hc), 1.0)
    t = np.where(t == 0.0, 1.0, t)
    bcg_formula = (1.0 + (1.0 - np.exp(-t)) / t) / (2.0 * (1.0 + t) * (1.0 + t))
    bcg = np.where(g == 0.0, 1.0, np.where(use_bc, bcg_formula, 0.0))
    return pg, bsg, bcg


def _rough_cosines(
    cosi: np.ndarray,
    cose: np.ndarray,
    sini: np.ndarray,
    sine: np.ndarray,
    cosg: np.ndarray,
    theta: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """The roughness terms of Hapke (2012) ch. 12, as ISIS evaluates them.

    Returns ``(mu0e, mue)`` for ``i <= e``, ``(mu0e, mue)`` for ``e < i``, then ``eta(i)``,
    ``eta(e)``, ``chi(theta)`` and ``f(psi)``.
    """
    cost = np.cos(theta)
    sint = np.sin(theta)
    cott = cost / np.maximum(_SIN_FLOOR, sint)
    cot2t = cott * cott
    tant = sint / cost
    chi = 1.0 / np.sqrt(1.0 + np.pi * tant * tant)

    def e1e2(cos_y, sin_y):
        cot = cos_y / np.maximum(_SIN_FLOOR, sin_y)
        e1 = np.exp(np.minimum(-2.0 * cott * cot / np.pi, _EXP_CAP))
        e2 = np.exp(np.minimum(-cot2t * cot * cot / np.pi, _EXP_CAP))
        return e1, e2

    e1i, e2i = e1e2(cosi, sini)
    e1e, e2e = e1e2(cose, sine)
    etai = chi * (cosi + sini * tant * e2i / (2.0 - e1i))
    etae = chi * (cose + sine * tant * e2e / (2.0 - e1e))

    sinei = sine * sini
    flat = sinei == 0.0
    cospsi = np.where(flat, 1.0, (cosg - cose * cosi) / np.where(flat, 1.0, sinei))
    psi = np.where(cospsi <= -1.0, np.pi, np.where(cospsi > 1.0, 0.0, np.arccos(np.clip(cospsi, -1.0, 1.0))))
    halfpsi = psi * 0.5
    edge = halfpsi >= np.pi / 2
    fpsi = np.where(edge, 0.0, np.exp(np.minimum(-2.0 * np.tan(np.where(edge, 0.0, halfpsi)), _EXP_CAP)))
    sin2psi2 = np.sin(halfpsi) ** 2
    psi_pi = psi / np.pi

    # i <= e
    ecei = 2.0 - e1e - psi_pi * e1i
    s2ei = sin2psi2 * e2i
    mu0_a = chi * (cosi + sini * tant * (cospsi * e2e + s2ei) / ecei)
    mu_a = chi * (cose + sine * tant * (e2e - s2ei) / ecei)
    # e < i
    ecee = 2.0 - e1i - psi_pi * e1e
    s2ee = sin2psi2 * e2e
    mu0_b = chi * (cosi + sini * tant * (e2i - s2ee) / ecee)
    mu_b = chi * (cose + sine * tant * (cospsi * e2i + s2ee) / ecee)
    return mu0_a, mu_a, mu0_b, mu_b, etai, etae, chi, fpsi


def hapke_lroc(
    incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray, params: HapkeParameters
) -> np.ndarray:
    """Radiance factor (I/F) of the HapkeLROC model at the given angles.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Angles in radians, broadcastable with each other and with the parameter arrays.
    params : HapkeParameters
        Scalars or per-pixel arrays (``theta`` in radians).

    Returns
    -------
    ndarray of float64
        ``r(i, e, g)`` as ISIS ``HapkeLROC::photometry`` returns it (no 1/pi: a radiance
        factor); 0 where ``incidence >= 90 deg``. NaN only for invalid parameters
        (e.g. ``w > 1``, or a filling factor with ``1.209 phi^(2/3) >= 1``).

    Examples
    --------
    >>> p = HapkeParameters(w=0.25, b=0.24, c=0.27, bs0=2.05, hs=0.085, theta=0.4129)
    >>> r = hapke_lroc(np.radians([30.0, 60.0, 95.0]), 0.0, np.radians([30.0, 60.0, 95.0]), p)
    >>> [round(float(v), 5) for v in r]
    [0.06427, 0.02853, 0.0]
    """
    i = np.asarray(incidence, dtype=np.float64)
    e = np.asarray(emission, dtype=np.float64)
    g = np.asarray(phase, dtype=np.float64)
    w = np.asarray(params.w, dtype=np.float64)
    theta = np.asarray(params.theta, dtype=np.float64)
    k = _porosity_k(params.phi)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        pg, bsg, bcg = _opposition_terms(g, params)
        cosi, cose, cosg = np.cos(i), np.cos(e), np.cos(g)
        sini, sine = np.sin(i), np.sin(e)
        mu0_a, mu_a, mu0_b, mu_b, etai, etae, chi, fpsi = _rough_cosines(cosi, cose, sini, sine, cosg, theta)
        i_le_e = i <= e
        rough = theta > 0.0
        mu0e = np.where(rough, np.where(i_le_e, mu0_a, mu0_b), cosi)
        mue = np.where(rough, np.where(i_le_e, mu_a, mu_b), cose)
        q = np.where(i_le_e, cosi / etai, cose / etae)
        s = np.where(rough, (mue * cosi * chi) / (etae * etai * (1.0 - fpsi + fpsi * chi * q)), 1.0)
        mie = hg_h_function(mu0e / k, w) * hg_h_function(mue / k, w) - 1.0
        bs0 = np.asarray(params.bs0, dtype=np.float64)
        bc0 = np.asarray(params.bc0, dtype=np.float64)
        r = k * (w / 4.0) * (mu0e / (mu0e + mue)) * (pg * (1.0 + bs0 * bsg) + mie) * (1.0 + bc0 * bcg) * s
    return np.where(i >= np.pi / 2, 0.0, r)


LROC_HAPKE_643NM = HapkeParameters(
    w=0.3814,
    b=0.2307,
    c=0.4027,
    bc0=0.0,
    hc=1.0,
    bs0=1.706,
    hs=0.05431,
    theta=float(np.radians(23.6566)),
    phi=0.0,
)
"""A fixed HapkeLROC parameter set: the LROC WAC 643 nm parameter map (ISIS test data
``1x1_70NS_7b_wbhs_albflt_grid_geirist_tcorrect``, 70 S - 70 N) averaged over its cells
with cos(latitude) weights (``tests/calibration/test_hapke.py`` recomputes it)."""
