"""Radiometric steps: instrument signature removal, DN/s, radiance and I/F.

Each step is a pure function on arrays:

``raw DN --remove_signature--> DN (flat-fielded) --/ exposure--> DN/s
--/ responsivity--> radiance (W m^-2 sr^-1 um^-1) --to_iof--> I/F``
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

AU_M = 149_597_870_700.0
"""The astronomical unit, metres (IAU 2012)."""


def remove_signature(
    raw: np.ndarray,
    bias: np.ndarray | float,
    dark_rate: np.ndarray | float,
    flat: np.ndarray | float,
    exposure_s: float,
) -> np.ndarray:
    """Subtract bias and dark current and divide by the flat field.

    ``(raw - bias - dark_rate * exposure_s) / flat``; where the flat is not finite or not
    positive the pixel is left unflattened (such pixels are flagged dead and repaired).

    Parameters
    ----------
    raw : ndarray of shape (M, N)
        Raw frame, DN.
    bias : ndarray of shape (M, N) or (M, 1), or float
        Bias, DN.
    dark_rate : ndarray of shape (M, N) or float
        Dark current, DN/s.
    flat : ndarray of shape (M, N) or float
        Flat field, unitless (median 1).
    exposure_s : float
        Exposure duration, seconds.

    Returns
    -------
    ndarray of shape (M, N), float64
        Signal, DN.

    Examples
    --------
    >>> remove_signature(np.array([[130.0]]), 100.0, 2.0, 0.5, 5.0).tolist()
    [[40.0]]
    """
    signal = np.asarray(raw, dtype=np.float64) - bias - np.asarray(dark_rate, dtype=np.float64) * exposure_s
    f = np.asarray(flat, dtype=np.float64)
    f = np.where(np.isfinite(f) & (f > 0), f, 1.0)
    return signal / f


def to_dn_per_s(signal_dn: np.ndarray, exposure_s: float) -> np.ndarray:
    """Exposure normalisation: DN -> DN/s.

    Parameters
    ----------
    signal_dn : ndarray
        Signal, DN.
    exposure_s : float
        Exposure duration, seconds (> 0).
    """
    return np.asarray(signal_dn, dtype=np.float64) / exposure_s


def to_radiance(rate_dn_s: np.ndarray, responsivity: float) -> np.ndarray:
    """DN/s -> radiance, W m^-2 sr^-1 um^-1.

    Parameters
    ----------
    rate_dn_s : ndarray
        Signal rate, DN/s.
    responsivity : float
        DN/s per unit radiance (W m^-2 sr^-1 um^-1).
    """
    return np.asarray(rate_dn_s, dtype=np.float64) / responsivity


def to_iof(radiance: np.ndarray, solar_irradiance: float, sun_distance_au: float) -> np.ndarray:
    """Radiance -> I/F (radiance factor): ``pi * L * d**2 / F_sun``.

    Parameters
    ----------
    radiance : ndarray
        W m^-2 sr^-1 um^-1.
    solar_irradiance : float
        Solar spectral irradiance at 1 AU in the band, W m^-2 um^-1.
    sun_distance_au : float
        Sun-to-surface distance, AU.

    Returns
    -------
    ndarray
        Unitless I/F.

    Examples
    --------
    >>> round(float(to_iof(np.array(1.0), np.pi, 2.0)), 12)
    4.0
    """
    return np.pi * np.asarray(radiance, dtype=np.float64) * sun_distance_au**2 / solar_irradiance


def sun_distance_au(camera: object | None, shape: tuple[int, int]) -> float:
    """Distance from the Sun to the imaged surface, AU.

    Measured to the ground point under the image centre (to the body centre when that
    ray misses the body); over one frame it varies by less than 1e-5 relative.

    Parameters
    ----------
    camera : object or None
        Anything with ``sun_position_m`` (3,) body-fixed metres (or None) and
        ``image_to_ground_hit(line, sample)``, e.g. a ``FrameCamera``.
    shape : (int, int)
        ``(lines, samples)`` of the frame.

    Returns
    -------
    float
        AU; 1.0 with a WARNING when there is no camera or no Sun position.
    """
    sun = None if camera is None else getattr(camera, "sun_position_m", None)
    if sun is None:
        log.warning("no %s: I/F assumes the Sun at 1 AU", "camera" if camera is None else "Sun position")
        return 1.0
    xyz, hit = camera.image_to_ground_hit(np.array(shape[0] / 2.0), np.array(shape[1] / 2.0))
    point = np.asarray(xyz, dtype=np.float64).reshape(3) if bool(np.asarray(hit)) else np.zeros(3)
    return float(np.linalg.norm(np.asarray(sun, dtype=np.float64) - point) / AU_M)
