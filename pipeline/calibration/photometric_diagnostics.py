"""How well a photometric law and equalisation flatten overlapping observations (numbers only).

For observations ``k`` of ground cells ``c`` by frames ``f`` (see
:mod:`pipeline.calibration.photometric_fit`), the normalised brightness under a law
``F = f(i, e, g) / f(standard)`` and per-frame gains ``G`` and offsets ``O`` is
``n_k = (I/F_k - O_f) / (G_f F_k)``. Over cells seen at least twice, its relative departure
from the cell's mean, ``d_k = n_k / mean_c(n) - 1``, is what the law and the equalisation
leave: its RMS (the overlap residual), its slope against incidence, and its mean in bins of
incidence (the report's "normalised brightness against incidence" curve). Angles in radians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OverlapResidual", "overlap_residual"]

PROFILE_BINS = 12
"""Incidence bins of :attr:`OverlapResidual.profile`."""


@dataclass(frozen=True, eq=False)  # holds arrays
class OverlapResidual:
    """What a law and equalisation leave in the overlaps.

    Attributes
    ----------
    rms : float
        RMS relative disagreement ``d_k`` within cells seen at least twice.
    slope_pct_per_10deg : float
        Slope of ``d_k`` against the incidence minus its cell mean, percent per 10 degrees.
    profile : ndarray of shape (3, PROFILE_BINS)
        Per incidence bin: its centre (radians), the mean of ``d_k`` in it (NaN where the bin
        is empty) and the number of observations.
    """

    rms: float
    slope_pct_per_10deg: float
    profile: np.ndarray


def _edges(incidence: np.ndarray, bins: int) -> np.ndarray:
    if incidence.size == 0:
        return np.linspace(0.0, np.pi / 2, bins + 1)
    lo, hi = np.percentile(incidence, [0.5, 99.5])
    hi = max(hi, lo + np.radians(1.0))
    return np.linspace(lo, hi, bins + 1)


def overlap_residual(
    iof: np.ndarray,
    incidence: np.ndarray,
    frame: np.ndarray,
    cell: np.ndarray,
    factor: np.ndarray,
    gains: np.ndarray,
    offsets: np.ndarray,
    *,
    edges: np.ndarray | None = None,
    bins: int = PROFILE_BINS,
) -> OverlapResidual:
    """RMS, incidence slope and incidence profile of the relative disagreement in the overlaps.

    Parameters
    ----------
    iof, incidence : ndarray of shape (N,)
        Observed I/F and incidence (radians).
    frame, cell : ndarray of int, shape (N,)
        Frame and ground-cell index of each observation.
    factor : ndarray of shape (N,)
        The law's ``F = f(actual) / f(standard)`` per observation (non-positive: unusable).
    gains, offsets : ndarray of shape (n_frames,)
        ``I/F = gain * A * F + offset``.
    edges : ndarray, optional
        Incidence bin edges (radians); default ``bins`` equal bins over the 0.5-99.5 %
        range of the incidences of the multiply seen cells.

    Examples
    --------
    >>> inc = np.radians([30.0, 50.0, 30.0, 50.0])
    >>> res = overlap_residual(np.array([1.0, 1.0, 2.0, 2.0]), inc, np.array([0, 1, 0, 1]),
    ...                        np.array([0, 0, 1, 1]), np.ones(4), np.ones(2), np.zeros(2))
    >>> res.rms, res.slope_pct_per_10deg
    (0.0, 0.0)
    """
    counts = np.bincount(cell)
    m = counts[cell] >= 2
    cidx = np.unique(cell[m], return_inverse=True)[1]
    fr = frame[m]
    with np.errstate(invalid="ignore", divide="ignore"):
        n = (iof[m] - offsets[fr]) / (gains[fr] * factor[m])
    ok = np.isfinite(n) & (factor[m] > 0)
    n, cidx, inc = n[ok], cidx[ok], incidence[m][ok]
    safe = np.maximum(np.bincount(cidx).astype(np.float64), 1.0)
    mean_n = (np.bincount(cidx, n) / safe)[cidx]
    good = mean_n != 0
    d = np.where(good, n / np.where(good, mean_n, 1.0) - 1.0, 0.0)
    di = inc - (np.bincount(cidx, inc) / safe)[cidx]
    rms = float(np.sqrt(np.mean(d**2))) if d.size else float("nan")
    var = float(np.sum(di * di))
    slope = float(np.sum(di * d) / var) if var > 0 else 0.0
    edges = _edges(inc, bins) if edges is None else np.asarray(edges, dtype=np.float64)
    k = np.clip(np.searchsorted(edges, inc, side="right") - 1, 0, edges.size - 2)
    nb = np.bincount(k, minlength=edges.size - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_d = np.bincount(k, d, minlength=edges.size - 1) / nb
    profile = np.stack([0.5 * (edges[:-1] + edges[1:]), np.where(nb > 0, mean_d, np.nan), nb])
    return OverlapResidual(rms, float(slope * np.radians(10.0) * 100.0), profile)
