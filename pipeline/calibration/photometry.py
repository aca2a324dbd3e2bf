"""Photometric normalisation of I/F to a standard viewing and lighting geometry.

Photometric functions share one signature, ``f(incidence, emission, phase) -> reflectance
factor`` (angles in radians, numpy broadcasting), and are offered by name in
:data:`PHOTOMETRIC_MODELS` (``calibrate.photometry.model`` in the YAML). The normalised
value of a pixel is ``I/F * f(standard) / f(actual)`` (ISIS ``photomet`` with a plain
photometric model): what the pixel would read at the standard angles (by default
incidence 30 deg, emission 0 deg, phase 30 deg).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import numpy as np

log = logging.getLogger(__name__)

PhotometricFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

_HORIZON = 1e-9
"""Cosine below which the Sun or the camera counts as on the horizon (no signal)."""

MCEWEN_L_COEFFS = (-0.019, 2.42e-4, -1.46e-6)
"""Lunar-Lambert ``L(phase) = 1 + A g + B g^2 + C g^3`` with phase ``g`` in degrees: the
lunar fit of McEwen (1991, Icarus 92, 298), as in ISIS ``LunarLambertMcEwen``."""


def lommel_seeliger(incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Lommel-Seeliger reflectance factor ``mu0 / (mu0 + mu)``.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Angles in radians (``phase`` is unused), broadcastable.

    Returns
    -------
    ndarray
        Unitless; 0 where the Sun or the camera is at or below the horizon.
    """
    mu0 = np.cos(incidence)
    mu = np.cos(emission)
    ok = (mu0 > _HORIZON) & (mu > _HORIZON)
    return np.where(ok, mu0 / np.where(ok, mu0 + mu, 1.0), 0.0)


def lunar_lambert_l(phase: np.ndarray) -> np.ndarray:
    """McEwen's lunar limb-darkening weight ``L(phase)`` (unitless; phase in radians)."""
    g = np.degrees(phase)
    a, b, c = MCEWEN_L_COEFFS
    return 1.0 + a * g + b * g**2 + c * g**3


def lunar_lambert(
    incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray, weight: float | None = None
) -> np.ndarray:
    """McEwen lunar-Lambert reflectance factor ``2 L mu0 / (mu0 + mu) + (1 - L) mu0``.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Angles in radians, broadcastable.
    weight : float, optional
        A constant ``L``; by default ``L(phase)`` from :func:`lunar_lambert_l`
        (1 at zero phase, ~0.6 at 30 deg, ~0 near 100 deg).

    Returns
    -------
    ndarray
        Unitless; 0 where the Sun or the camera is at or below the horizon, or where the
        function is not positive.
    """
    mu0 = np.cos(incidence)
    mu = np.cos(emission)
    ell = lunar_lambert_l(phase) if weight is None else weight
    ok = (mu0 > _HORIZON) & (mu > _HORIZON)
    value = 2.0 * ell * mu0 / np.where(ok, mu0 + mu, 1.0) + (1.0 - ell) * mu0
    return np.where(ok & (value > 0), value, 0.0)


PHOTOMETRIC_MODELS: dict[str, PhotometricFunction] = {
    "lommel_seeliger": lommel_seeliger,
    "lunar_lambert": lunar_lambert,
}
"""Photometric functions by name, all ``f(incidence, emission, phase)`` in radians."""


def photometric_function(name: str, lunar_lambert_weight: float | None = None) -> PhotometricFunction:
    """The function registered as ``name``, with a constant lunar-Lambert ``L`` if given."""
    func = PHOTOMETRIC_MODELS[name]
    if func is lunar_lambert and lunar_lambert_weight is not None:
        return partial(lunar_lambert, weight=lunar_lambert_weight)
    return func


def normalisation_factor(
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    func: PhotometricFunction,
    standard_deg: tuple[float, float, float] = (30.0, 0.0, 30.0),
) -> np.ndarray:
    """``f(standard) / f(actual)``: multiply I/F by it to normalise to the standard geometry.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Actual angles, radians.
    func : callable
        A photometric function (see :data:`PHOTOMETRIC_MODELS`).
    standard_deg : (float, float, float)
        Standard incidence, emission and phase, degrees.

    Returns
    -------
    ndarray
        Unitless; NaN where ``f(actual)`` is not positive (unlit, unseen or off body).
    """
    std = func(*np.radians(np.asarray(standard_deg, dtype=np.float64)))
    actual = func(incidence, emission, phase)
    good = np.isfinite(actual) & (actual > 0)
    return np.where(good, std / np.where(good, actual, 1.0), np.nan)
