"""Bilinear interpolation of values sampled on a rectilinear grid of image nodes.

Used wherever a smooth per-pixel quantity (angle cosines, noise levels, coordinates) is
computed on a coarse grid of pixels and filled in between.
"""

from __future__ import annotations

import numpy as np

__all__ = ["interp_grid"]


def interp_grid(
    grid: np.ndarray,
    grid_lines: np.ndarray,
    grid_samples: np.ndarray,
    lines: np.ndarray,
    samples: np.ndarray,
) -> np.ndarray:
    """Bilinear interpolation of values on a rectilinear grid to a full raster.

    Parameters
    ----------
    grid : ndarray of shape (P, Q)
        Values at ``(grid_lines[p], grid_samples[q])``.
    grid_lines, grid_samples : ndarray of shape (P,) and (Q,)
        Increasing coordinates of the grid nodes.
    lines, samples : ndarray of shape (M,) and (N,)
        Coordinates of the output raster; outside the grid the edge cell is extrapolated
        linearly (constant when the grid has a single node along that axis).

    Returns
    -------
    ndarray of shape (M, N), float64
    """
    grid = np.asarray(grid, dtype=np.float64)

    def _weights(nodes: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nodes = np.asarray(nodes, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if nodes.size == 1:
            zeros = np.zeros(x.shape, dtype=np.intp)
            return zeros, zeros, np.zeros(x.shape)
        i0 = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
        w = (x - nodes[i0]) / (nodes[i0 + 1] - nodes[i0])
        return i0, i0 + 1, w

    l0, l1, wl = _weights(grid_lines, lines)
    s0, s1, ws = _weights(grid_samples, samples)
    rows = grid[l0] * (1.0 - wl)[:, None] + grid[l1] * wl[:, None]
    return rows[:, s0] * (1.0 - ws)[None, :] + rows[:, s1] * ws[None, :]
