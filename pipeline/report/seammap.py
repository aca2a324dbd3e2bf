"""Seams of a mosaic from its ``top_index`` band (the frame each pixel came from).

A seam pixel is a pixel whose right or lower neighbour came from another frame (both
neighbours from a frame: the edge of the covered area is no seam). The seam between two
frames is measured as the number of such pixel edges, i.e. its length along rows and
columns (a diagonal seam of length L counts up to L * sqrt(2) edges).

Example
-------
>>> import numpy as np
>>> t = np.array([[0, 0, 1, 1],
...               [0, 0, 1, 1],
...               [2, 2, 2, -1]])
>>> s = seam_map(t)
>>> s.edges
{(0, 1): 2, (0, 2): 2, (1, 2): 1}
>>> s.mask.astype(int).tolist()
[[0, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SeamMap", "colour_frames", "seam_map"]


@dataclass(frozen=True, eq=False)  # holds arrays
class SeamMap:
    """Where the seams of a ``top_index`` array are and which frames they separate.

    Attributes
    ----------
    mask : ndarray of bool, shape (rows, cols)
        Seam pixels (the pixel left of / above a change of frame).
    pair : ndarray of int64, shape (rows, cols)
        ``a * n + b`` (``a < b`` frame indices, ``n = max index + 1``) of the seam each seam
        pixel belongs to (its right neighbour's seam first), -1 elsewhere.
    n : int
        The code base ``n``.
    edges : dict of (int, int) to int
        Pixel edges per seam ``(a, b)``, ``a < b``.
    """

    mask: np.ndarray
    pair: np.ndarray
    n: int
    edges: dict[tuple[int, int], int]


def _pairs(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Codes of the frame pairs across neighbouring pixels ``a``/``b``; -1 where no seam."""
    seam = (a >= 0) & (b >= 0) & (a != b)
    return np.where(seam, np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b), -1)


def seam_map(top_index: np.ndarray) -> SeamMap:
    """The seams of ``top_index`` (int, -1 where no frame), see :class:`SeamMap`."""
    t = np.asarray(top_index)
    n = int(t.max()) + 1 if t.size and t.max() >= 0 else 1
    right = np.full(t.shape, -1, np.int64)
    down = np.full(t.shape, -1, np.int64)
    right[:, :-1] = _pairs(t[:, :-1], t[:, 1:], n)
    down[:-1, :] = _pairs(t[:-1, :], t[1:, :], n)
    pair = np.where(right >= 0, right, down)
    codes, counts = np.unique(np.concatenate([right[right >= 0], down[down >= 0]]), return_counts=True)
    edges = {(int(c // n), int(c % n)): int(k) for c, k in zip(codes, counts)}
    return SeamMap(pair >= 0, pair, n, edges)


def colour_frames(indices: np.ndarray, edges, n_colours: int) -> dict[int, int]:
    """A colour number (0 .. n_colours - 1) per frame index, greedily chosen so that frames
    sharing a seam differ where ``n_colours`` allows (frames taken in index order)."""
    nbrs: dict[int, set[int]] = {int(i): set() for i in indices}
    for a, b in edges:
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    colour: dict[int, int] = {}
    for i in sorted(nbrs):
        used = {colour[j] for j in nbrs[i] if j in colour}
        free = [c for c in range(n_colours) if c not in used]
        colour[i] = free[0] if free else i % n_colours
    return colour
