"""Shared pieces of the adjustment problem: the robust losses, summary helpers.

The problem itself (unknowns, residuals, Jacobians) is
:class:`~pipeline.registration.bundle.blocks.BlockProblem`.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.errors import GeometryError, RegistrationError

__all__ = ["ROBUST_LOSSES", "median_gsd"]

ROBUST_LOSSES = ("linear", "huber", "soft_l1", "cauchy", "arctan")
"""Robust losses for the reprojection residuals (``scipy.optimize.least_squares`` names)."""


def _robust(name: str, n_img: int):
    """Callable loss for least_squares: robust on the first ``n_img`` residuals, linear after."""
    if name not in ROBUST_LOSSES:
        raise RegistrationError(f"unknown robust loss {name!r}; choose from {ROBUST_LOSSES}")

    def loss(z: np.ndarray) -> np.ndarray:
        rho = np.empty((3, z.size))
        rho[0], rho[1], rho[2] = z, 1.0, 0.0
        zi = z[:n_img]
        if name == "huber":
            big = zi > 1
            rho[0, :n_img] = np.where(big, 2 * np.sqrt(np.where(big, zi, 1)) - 1, zi)
            rho[1, :n_img] = np.where(big, 1 / np.sqrt(np.where(big, zi, 1)), 1.0)
            rho[2, :n_img] = np.where(big, -0.5 / np.where(big, zi, 1) ** 1.5, 0.0)
        elif name == "soft_l1":
            t = 1 + zi
            rho[0, :n_img] = 2 * (np.sqrt(t) - 1)
            rho[1, :n_img] = t**-0.5
            rho[2, :n_img] = -0.5 * t**-1.5
        elif name == "cauchy":
            rho[0, :n_img] = np.log1p(zi)
            rho[1, :n_img] = 1 / (1 + zi)
            rho[2, :n_img] = -1 / (1 + zi) ** 2
        elif name == "arctan":
            rho[0, :n_img] = np.arctan(zi)
            rho[1, :n_img] = 1 / (1 + zi**2)
            rho[2, :n_img] = -2 * zi / (1 + zi**2) ** 2
        return rho

    return loss


def median_gsd(cams: list, default: float = 1.0) -> float:
    """Median ground sample distance (m) of the cameras that see the body at their centre
    (``default`` when none does)."""
    values = []
    for cam in cams:
        try:
            values.append(cam.gsd_m())
        except GeometryError:
            continue
    return float(np.median(values)) if values else default


def _rms(r: np.ndarray) -> float:
    r = r[np.all(np.isfinite(r), axis=1)] if r.ndim == 2 else r
    return float(np.sqrt(np.mean(np.sum(r**2, axis=-1)))) if len(r) else math.nan
