"""Bad-pixel map: hot, dead/low-response and noisy pixels; repair from neighbours.

The map is a ``uint8`` array of :class:`BadPixel` bit flags (0 = good), built once from
the calibration masters and applied to every light frame.
"""

from __future__ import annotations

import logging
from enum import IntFlag

import numpy as np

from pipeline.imaging.stats import MAD_TO_SIGMA, local_median, mad_sigma

log = logging.getLogger(__name__)


class BadPixel(IntFlag):
    """Why a pixel is bad (bit flags, combined with ``|``)."""

    HOT = 1
    """Dark current far above its neighbours'."""
    DEAD = 2
    """Flat-field response far below its neighbours' (dead or low response)."""
    NOISY = 4
    """Bias-frame scatter far above the typical read noise (e.g. telegraph noise)."""


def find_hot(dark_rate: np.ndarray, hot_sigma: float, window: int = 9) -> np.ndarray:
    """Hot pixels: dark rate above its local median by more than ``hot_sigma`` robust sigmas.

    Comparing with a local median (not the global one) keeps smooth dark-current
    structure (amplifier glow, temperature gradients) from being flagged.

    Parameters
    ----------
    dark_rate : ndarray of shape (M, N)
        Master dark current, DN/s.
    hot_sigma : float
        Threshold in robust sigmas of the rate's pixel-to-pixel scatter.
    window : int
        Side of the local median window, pixels (odd).

    Returns
    -------
    ndarray of bool, shape (M, N)
    """
    excess = np.asarray(dark_rate, dtype=np.float64) - local_median(dark_rate, window)
    sigma = mad_sigma(excess)
    if not np.isfinite(sigma):
        return np.zeros(excess.shape, dtype=bool)
    # A noise-free dark has sigma 0: floor it at 0.1 % of the typical rate.
    sigma = max(sigma, 1e-3 * float(np.nanmedian(np.abs(dark_rate))), 1e-12)
    return excess > hot_sigma * sigma


def find_dead(flat: np.ndarray, dead_flat: float, window: int = 9) -> np.ndarray:
    """Dead or low-response pixels: flat below ``dead_flat`` times its local median.

    The local median keeps vignetting (a smooth fall-off of the flat towards the corners)
    from being flagged; non-finite or non-positive flat values are dead too.

    Parameters
    ----------
    flat : ndarray of shape (M, N)
        Normalised master flat (unitless, median 1).
    dead_flat : float
        Fraction (0..1) of the local median response below which a pixel is dead.
    window : int
        Side of the local median window, pixels (odd).

    Returns
    -------
    ndarray of bool, shape (M, N)
    """
    f = np.asarray(flat, dtype=np.float64)
    bad = ~np.isfinite(f) | (f <= 0)
    ref = local_median(np.where(bad, 1.0, f), window)
    return bad | (f < dead_flat * ref)


def find_noisy(bias_scatter: np.ndarray, noisy_sigma: float) -> np.ndarray:
    """Noisy pixels: bias-stack scatter above the median scatter by ``noisy_sigma`` robust sigmas.

    Parameters
    ----------
    bias_scatter : ndarray of shape (M, N)
        Per-pixel standard deviation over the (sigma-clipped) bias stack, DN.
    noisy_sigma : float
        Threshold in robust sigmas of the scatter map.

    Returns
    -------
    ndarray of bool, shape (M, N)
    """
    s = np.asarray(bias_scatter, dtype=np.float64)
    med = float(np.nanmedian(s))
    spread = MAD_TO_SIGMA * float(np.nanmedian(np.abs(s - med)))
    return s > med + noisy_sigma * max(spread, 1e-3 * med, 1e-12)
