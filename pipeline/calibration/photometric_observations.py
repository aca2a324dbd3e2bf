"""Observations for the photometric fit: validation, weights, deterministic subsampling.

Plain 1-D arrays (I/F, incidence, emission, phase in radians, frame and ground-cell index,
optional weights), as the caller collects them from overlapping orthorectified frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from pipeline.calibration.photometry import lunar_lambert
from pipeline.errors import PhotometricModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observations:
    """Validated, possibly subsampled observations (1-D arrays of equal length)."""

    iof: np.ndarray
    incidence: np.ndarray
    emission: np.ndarray
    phase: np.ndarray
    frame: np.ndarray
    cell: np.ndarray
    weight: np.ndarray
    n_frames: int
    user_weight: np.ndarray | None = None  # the caller's weights (mean 1) when ``weight`` is relative

    def reweighted(self, brightness: np.ndarray) -> Observations:
        """The same observations weighted by ``user_weight * (median b / b)^2`` for a brightness ``b``."""
        if self.user_weight is None:
            return self
        b = np.asarray(brightness, dtype=np.float64)
        med = float(np.median(b[b > 0])) if np.any(b > 0) else 1.0
        w = self.user_weight * (med / np.maximum(b, 0.1 * med)) ** 2
        return replace(self, weight=w / w.mean())


def _relative_weight(y, inc, emi, pha, cell) -> np.ndarray:
    """``(median b / b)^2`` with ``b`` a smooth estimate of each view's brightness."""
    f = lunar_lambert(inc, emi, pha)
    ratio = np.bincount(cell, y) / np.maximum(np.bincount(cell, f), 1e-12)
    b = ratio[cell] * f
    med = float(np.median(b[b > 0])) if np.any(b > 0) else 1.0
    return (med / np.maximum(b, 0.1 * med)) ** 2


def prepare_observations(
    iof: np.ndarray,
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    frame: np.ndarray,
    cell: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    max_observations: int = 20_000,
    max_incidence: float = np.radians(85.0),
    max_emission: float = np.radians(75.0),
    seed: int = 0,
    relative: bool = True,
) -> Observations:
    """Validate, drop unusable observations and subsample large inputs deterministically.

    Keeps finite I/F (zero or negative values too: frame offsets can make them so) with
    incidence and emission below the limits and positive
    weights. When more than ``max_observations`` remain, whole cells are drawn in a seeded
    random order (``numpy.random.default_rng(seed)``), cells seen at least twice first,
    until the budget is spent. Cell indices are made compact. With ``relative`` the weights
    are multiplied by ``(median b / b)^2`` where ``b`` estimates each view's noise-free
    brightness (its cell's mean I/F scaled by McEwen's law between the views, floored at a
    tenth of the median), so residuals count relative to the signal (noise proportional to
    it, as in photometry) without favouring views that read low by chance; weights are then
    scaled to mean 1.

    Raises
    ------
    PhotometricModelError
        Arrays of different lengths, negative frame or cell indices, or nothing usable.
    """
    arrays = [np.ravel(np.asarray(a)) for a in (iof, incidence, emission, phase, frame, cell)]
    w = (
        np.ones_like(arrays[0], dtype=np.float64)
        if weight is None
        else np.ravel(np.asarray(weight, np.float64))
    )
    if len({a.size for a in arrays} | {w.size}) != 1:
        raise PhotometricModelError(
            "fit_photometry: iof, incidence, emission, phase, frame, cell (and weights) must have one length, "
            f"got {[a.size for a in arrays] + [w.size]}"
        )
    y, inc, emi, pha = (a.astype(np.float64) for a in arrays[:4])
    fr, ce = (a.astype(np.int64) for a in arrays[4:])
    if fr.size and (fr.min() < 0 or ce.min() < 0):
        raise PhotometricModelError("fit_photometry: frame and cell indices must be >= 0")
    n_frames = int(fr.max()) + 1 if fr.size else 0
    ok = (
        np.isfinite(y)
        & np.isfinite(inc)
        & np.isfinite(emi)
        & np.isfinite(pha)
        & (inc < max_incidence)
        & (emi < max_emission)
        & np.isfinite(w)
        & (w > 0)
    )
    y, inc, emi, pha, fr, ce, w = (a[ok] for a in (y, inc, emi, pha, fr, ce, w))
    if y.size < 10:
        raise PhotometricModelError(
            f"fit_photometry: only {y.size} usable observations (finite I/F, incidence < "
            f"{np.degrees(max_incidence):.0f} deg); collect more overlapping observations"
        )
    if y.size > max_observations:
        cells, inverse, counts = np.unique(ce, return_inverse=True, return_counts=True)
        order = np.random.default_rng(seed).permutation(cells.size)
        order = order[np.argsort(counts[order] < 2, kind="stable")]  # multi-view cells first
        budget = np.cumsum(counts[order]) <= max_observations
        keep_cell = np.zeros(cells.size, dtype=bool)
        keep_cell[order[budget]] = True
        keep = keep_cell[inverse]
        log.info("fit_photometry: %d of %d observations used (subsampled by cell)", keep.sum(), keep.size)
        y, inc, emi, pha, fr, ce, w = (a[keep] for a in (y, inc, emi, pha, fr, ce, w))
    _, ce = np.unique(ce, return_inverse=True)
    ce = ce.astype(np.int64)
    user = w / w.mean()
    if relative:
        w = user * _relative_weight(y, inc, emi, pha, ce)
    return Observations(y, inc, emi, pha, fr, ce, w / w.mean(), n_frames, user if relative else None)
