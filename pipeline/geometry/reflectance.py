"""The lunar-Lambert reflectance law, shared by calibration (photometric normalisation) and
registration (the shading a DEM predicts, :mod:`pipeline.registration.shading`).

Angles in radians (numpy broadcasting); reflectance factors are unitless.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HORIZON_COS", "MCEWEN_L_COEFFS", "lunar_lambert", "lunar_lambert_l"]

HORIZON_COS = 1e-9
"""Cosine below which the Sun or the camera counts as on the horizon (no signal)."""

MCEWEN_L_COEFFS = (-0.019, 2.42e-4, -1.46e-6)
"""Lunar-Lambert ``L(phase) = 1 + A g + B g^2 + C g^3`` with phase ``g`` in degrees: the
lunar fit of McEwen (1991, Icarus 92, 298), as in ISIS ``LunarLambertMcEwen``."""


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
    ok = (mu0 > HORIZON_COS) & (mu > HORIZON_COS)
    value = 2.0 * ell * mu0 / np.where(ok, mu0 + mu, 1.0) + (1.0 - ell) * mu0
    return np.where(ok & (value > 0), value, 0.0)
