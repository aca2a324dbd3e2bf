"""Whether a frame's pixels agree with the frames that overlap it, after registration.

A frame whose label and camera are right but whose pixels are not the surface (random bytes
under a valid label, another target, a frame of darkness with a stray gradient) passes every
reader and tie-point search — it simply finds no tie points and keeps its prior pointing.
Against the overlapping frames resampled onto its pixels it shows: its correlation with all of
them is near zero, where real views of the same ground agree far above the noise.

The correlation is Pearson's r on ``bin_px`` x ``bin_px`` block means of the common pixels
(noise averages away, the surface's structure does not); where too few full blocks are common
(a frame mostly masked) on smaller blocks, down to single pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MIN_COMMON_BLOCKS", "overlap_correlations"]

MIN_COMMON_BLOCKS = 16
"""Fewer common blocks than this at every block size (and fewer than 16 x 16 common pixels):
that overlap does not vote."""


def _block_means(values: np.ndarray, valid: np.ndarray, bin_px: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = (s // bin_px * bin_px for s in values.shape)
    v = np.where(valid, values, 0.0)[:rows, :cols].reshape(rows // bin_px, bin_px, cols // bin_px, bin_px)
    n = valid[:rows, :cols].reshape(v.shape).sum(axis=(1, 3))
    full = n == bin_px * bin_px
    return np.where(full, v.sum(axis=(1, 3)) / np.maximum(n, 1), 0.0), full


def overlap_correlations(data: np.ndarray, valid: np.ndarray, others: Sequence[tuple[np.ndarray, np.ndarray]],
                         bin_px: int = 4) -> list[float]:
    """Pearson correlation of a frame with each overlapping frame resampled onto its pixels.

    Parameters
    ----------
    data : ndarray of shape (lines, samples)
        The frame (calibrated values).
    valid : ndarray of bool, shape (lines, samples)
        Its usable pixels.
    others : sequence of (values, valid)
        Each overlapping frame on this frame's pixel grid (e.g. ``warp_frame(..., coords=...)``).
    bin_px : int
        Side of the blocks averaged before correlating (pixels).

    Returns
    -------
    list of float
        One r per overlap with at least :data:`MIN_COMMON_BLOCKS` common full blocks (others
        are left out), in input order.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scene = np.cumsum(np.cumsum(rng.normal(size=(64, 64)), 0), 1)
    >>> ok = np.ones(scene.shape, bool)
    >>> [round(r, 2) for r in overlap_correlations(scene + rng.normal(size=scene.shape), ok, [(scene, ok)])]
    [1.0]
    >>> abs(overlap_correlations(rng.normal(size=scene.shape), ok, [(scene, ok)])[0]) < 0.3
    True
    """
    data, valid = np.asarray(data, float), np.asarray(valid, bool)
    out = []
    for values, ok in others:
        values, ok = np.asarray(values, float), np.asarray(ok, bool)
        for size in (bin_px, 2, 1) if bin_px > 2 else (bin_px, 1):
            mine, mine_ok = _block_means(data, valid, size)
            theirs, theirs_ok = _block_means(values, ok, size)
            both = mine_ok & theirs_ok
            if int(both.sum()) * size * size >= MIN_COMMON_BLOCKS * bin_px * bin_px:
                a, b = mine[both] - mine[both].mean(), theirs[both] - theirs[both].mean()
                denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
                out.append(float(np.dot(a, b) / denom) if denom > 0 else 0.0)
                break
    return out
