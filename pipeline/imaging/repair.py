"""Repairing flagged pixels from their neighbours, and counting flagged clusters.

Shared by calibration (bad pixels, cosmic rays) and the cross-frame check.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

__all__ = ["count_hits", "repair_pixels"]


def repair_pixels(
    image: np.ndarray, bad: np.ndarray, avoid: np.ndarray | None = None, window: int = 5
) -> np.ndarray:
    """Replace pixels with the median of their good neighbours.

    Each pixel in ``bad`` gets the median of the pixels in the ``window`` x ``window``
    box around it that are neither ``bad`` nor ``avoid``; a pixel with no such neighbour
    (inside a large cluster) is filled by OpenCV's Telea inpainting instead.

    Parameters
    ----------
    image : ndarray of shape (M, N)
        Any unit.
    bad : ndarray of bool, shape (M, N)
        Pixels to replace.
    avoid : ndarray of bool, shape (M, N), optional
        Pixels not to use as sources (e.g. saturated), though they are kept as they are.
    window : int
        Side of the neighbourhood box, pixels (odd).

    Returns
    -------
    ndarray of shape (M, N), float32
        A repaired copy; pixels outside ``bad`` are unchanged.
    """
    out = np.array(image, dtype=np.float32, copy=True)
    bad = np.asarray(bad, dtype=bool)
    if not bad.any():
        return out
    unusable = bad if avoid is None else bad | avoid
    src = np.where(unusable | ~np.isfinite(out), np.nan, out)
    half = window // 2
    padded = np.pad(src, half, mode="constant", constant_values=np.nan)
    rows, cols = np.nonzero(bad)
    offsets = np.arange(-half, half + 1)
    dl, ds = np.meshgrid(offsets, offsets, indexing="ij")
    neigh = padded[rows[:, None] + half + dl.ravel(), cols[:, None] + half + ds.ravel()]
    has = np.isfinite(neigh).any(axis=1)
    values = np.full(rows.size, np.nan, dtype=np.float32)
    if has.any():
        values[has] = np.nanmedian(neigh[has], axis=1)
    out[rows, cols] = values
    if not has.all():
        holes = np.zeros(out.shape, dtype=np.uint8)
        holes[rows[~has], cols[~has]] = 1
        filled = np.where(np.isfinite(out), out, 0.0).astype(np.float32)
        out[holes.astype(bool)] = cv2.inpaint(filled, holes, 3, cv2.INPAINT_TELEA)[holes.astype(bool)]
        log.debug("inpainted %d pixels without good neighbours", int(holes.sum()))
    return out


def count_hits(hits: np.ndarray) -> int:
    """Number of separate hits in a flag map (8-connected groups of ``True`` pixels)."""
    if not hits.any():
        return 0
    n, _ = cv2.connectedComponents(hits.astype(np.uint8), connectivity=8)
    return int(n - 1)
