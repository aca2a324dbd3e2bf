"""The relief section's figure: the model's heights beside its point density."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from scipy.ndimage import uniform_filter

from .plots import new_fig, png_uri

__all__ = ["plot_relief"]


def plot_relief(heights: np.ndarray, points: np.ndarray, extent_m=None, min_points: int = 3) -> str:
    """Two panels: heights (m, terrain colours) and tie points per post, with the outline of
    the posts that have at least ``min_points`` points in their 3 x 3 neighbourhood.

    ``extent_m``: ``(xmin, xmax, ymin, ymax)`` of the posts in map metres (axes in km), or
    None for post indices.
    """
    rows, cols = heights.shape
    aspect = rows / max(cols, 1)
    panel_w = 4.6
    panel_h = min(max(panel_w * aspect, 1.5), 7.0)
    fig = new_fig(2 * panel_w + 1.6, panel_h + 0.9, margins=(0.6, 0.5, 0.3, 0.3))
    dense = uniform_filter(points.astype(float), size=3, mode="constant") * 9.0 >= min_points - 1e-9
    ext = None if extent_m is None else [v / 1000.0 for v in extent_m]
    for k, (arr, cmap, label) in enumerate(((heights, "terrain", "height (m)"),
                                           (points, "viridis", "tie points per post"))):
        ax = fig.add_subplot(1, 2, k + 1)
        im = ax.imshow(arr, cmap=colormaps[cmap], extent=ext, origin="upper", interpolation="nearest")
        ax.contour(dense.astype(float), levels=[0.5], colors="white" if k else "black", linewidths=0.8,
                   extent=ext, origin="upper")
        cb = fig.colorbar(im, ax=ax, shrink=0.8)
        cb.set_label(label, fontsize=8)
        cb.ax.tick_params(labelsize=7)
        ax.tick_params(labelsize=7)
        if ext is not None:
            ax.set_xlabel("x (km)", fontsize=8)
            ax.set_ylabel("y (km)", fontsize=8)
    return png_uri(fig)
