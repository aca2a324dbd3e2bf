"""Blending: combine the orthorectified frames covering a tile into one image.

``BLEND_METHODS`` is a registry of same-signature functions named in the config
(``mosaic.blend``), as rasterio's ``MERGE_METHODS``::

    f(values, valid, weights=None, priority=None, **options) -> (mosaic, valid)

Parameters of every method
--------------------------
values : list of ndarray of float32, shape (rows, cols)
    The frames on the (tile) grid, already equalised. Values where ``valid`` is False are
    ignored.
valid : list of ndarray of bool, shape (rows, cols)
    True where a frame holds data.
weights : list of ndarray of float32, shape (rows, cols), or None
    Feather weights: for each output pixel, the distance (frame pixels) from the source
    position to the nearest invalid pixel or edge *of the frame*, computed in image space
    by :func:`feather_weights` and resampled with the frame, so they are continuous across
    tiles. ``None``: uniform weights.
priority : list of float or ndarray, or None
    Per-frame preference, lower is better: a scalar per frame (input order, time) or a
    per-pixel array (emission or incidence angle). ``None``: input order. Used by
    ``first`` and to break ties.

Returns ``mosaic`` (float32, NaN where not valid) and ``valid`` (any frame valid).

Methods
-------
``mean``       plain average of the frames covering a pixel.
``feather``    weighted average with the feather weights: each frame fades in from its
               edge, so no frame edge shows (OpenCV ``FeatherBlender``).
``multiband``  Burt-Adelson multi-band blending (OpenCV ``MultiBandBlender``): each frame
               is split into band-pass levels; level ``k`` is blended with the seam masks
               (each pixel goes to the frame with the largest feather weight, a Voronoi-
               like seam) blurred by a Gaussian of sigma ``2**(k-1)`` px, so fine detail
               switches sharply at the seam while brightness differences are spread over
               ``~2**levels`` px. The pyramid is *undecimated* (a Laplacian stack): every
               step is translation-invariant with a finite support of
               :func:`multiband_radius` pixels, so tiles with a halo at least that wide
               give exactly the same result as one big image.
``first``      the preferred valid frame wins each pixel (no blending).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from pipeline.errors import ConfigError

__all__ = [
    "BLEND_METHODS",
    "blend_feather",
    "blend_first",
    "blend_mean",
    "blend_multiband",
    "feather_weights",
    "multiband_radius",
    "required_halo",
    "winner",
]


def feather_weights(mask: np.ndarray | None, shape: tuple[int, int] | None = None, *,
                    max_px: float | None = None) -> np.ndarray:
    """Feather weights of a frame, in its own image space.

    Parameters
    ----------
    mask : ndarray of bool, shape (lines, samples), or None
        True where a pixel is invalid. ``None``: all valid (``shape`` required).
    shape : (lines, samples), optional
        Image shape when ``mask`` is None.
    max_px : float, optional
        Cap the weights at this distance (a flat interior beyond the feather width).

    Returns
    -------
    ndarray of float32, shape (lines, samples)
        Euclidean distance (pixels) from each valid pixel to the nearest invalid pixel or
        to the outside of the image (1 for a valid pixel on the border); 0 where invalid.
    """
    if mask is None:
        if shape is None:
            raise ValueError("give a mask or the image shape")
        valid = np.ones(shape, np.uint8)
    else:
        valid = (~np.asarray(mask, bool)).astype(np.uint8)
    padded = np.pad(valid, 1, constant_values=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    if max_px is not None:
        np.minimum(dist, np.float32(max_px), out=dist)
    return dist.astype(np.float32)


def _check(values, valid, weights):
    if not values or len(values) != len(valid):
        raise ValueError(f"need as many valid masks as value arrays (got {len(values)} and {len(valid)})")
    shape = values[0].shape
    for k, (v, m) in enumerate(zip(values, valid)):
        if v.shape != shape or m.shape != shape:
            raise ValueError(f"frame {k}: shapes {v.shape} / {m.shape} differ from {shape}")
    if weights is not None and (len(weights) != len(values) or any(w.shape != shape for w in weights)):
        raise ValueError("weights must be one array per frame, shaped like the values")


def _scores(priority, n: int, shape) -> list:
    if priority is None:
        return [float(k) for k in range(n)]
    if len(priority) != n:
        raise ValueError(f"need one priority per frame, got {len(priority)} for {n}")
    return list(priority)


def winner(valid: Sequence[np.ndarray], key: Sequence, *, largest: bool) -> np.ndarray:
    """Index of the frame with the best ``key`` among the valid ones at each pixel.

    Parameters
    ----------
    valid : list of ndarray of bool
    key : list of float or ndarray
        Per frame, a scalar or a per-pixel array.
    largest : bool
        True: the largest key wins (weights); False: the smallest (priorities).

    Returns
    -------
    ndarray of int, shape (rows, cols)
        Position in the list; -1 where no frame is valid. Ties go to the earlier frame.
    """
    shape = valid[0].shape
    best = np.full(shape, -1, np.int32)
    best_key = np.full(shape, -np.inf if largest else np.inf)
    for k, (m, s) in enumerate(zip(valid, key)):
        s = np.broadcast_to(np.asarray(s, float), shape)
        better = m & ((s > best_key) if largest else (s < best_key))
        better |= m & (best < 0)
        best[better] = k
        best_key[better] = s[better]
    return best


def blend_mean(values, valid, weights=None, priority=None) -> tuple[np.ndarray, np.ndarray]:
    """Plain average of every frame covering a pixel (weights ignored)."""
    _check(values, valid, weights)
    total = np.zeros(values[0].shape, np.float64)
    count = np.zeros(values[0].shape, np.int32)
    for v, m in zip(values, valid):
        total += np.where(m, v, 0.0)
        count += m
    ok = count > 0
    out = np.full(total.shape, np.nan, np.float32)
    out[ok] = (total[ok] / count[ok]).astype(np.float32)
    return out, ok


def blend_feather(values, valid, weights=None, priority=None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average with the feather weights (distance to each frame's edge)."""
    _check(values, valid, weights)
    if weights is None:
        return blend_mean(values, valid)
    num = np.zeros(values[0].shape, np.float64)
    den = np.zeros(values[0].shape, np.float64)
    for v, m, w in zip(values, valid, weights):
        wk = np.where(m, np.maximum(w, 0.0), 0.0)
        num += wk * np.where(m, v, 0.0)
        den += wk
    mean, ok = blend_mean(values, valid)
    out = mean.copy()
    pos = den > 0
    out[pos] = (num[pos] / den[pos]).astype(np.float32)
    return out, ok


def blend_first(values, valid, weights=None, priority=None) -> tuple[np.ndarray, np.ndarray]:
    """The preferred valid frame (lowest ``priority``; input order by default) wins."""
    _check(values, valid, weights)
    top = winner(valid, _scores(priority, len(values), values[0].shape), largest=False)
    out = np.full(values[0].shape, np.nan, np.float32)
    for k, v in enumerate(values):
        sel = top == k
        out[sel] = v[sel]
    return out, top >= 0


def multiband_radius(levels: int) -> int:
    """Support radius (pixels) of :func:`blend_multiband` with ``levels`` levels: an output
    pixel depends on inputs at most this far away (the halo tiles need)."""
    if levels < 1:
        return 0
    return math.ceil(3.0 * 2.0 ** (levels - 1))


def required_halo(blend: str, levels: int = 5) -> int:
    """Smallest tile halo (output pixels) for which tiling does not change the mosaic: the
    multiband support radius, 0 for the pointwise blends.

    >>> required_halo("feather"), required_halo("multiband", 3)
    (0, 12)
    """
    return multiband_radius(int(levels)) if blend == "multiband" else 0


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return a
    r = math.ceil(3.0 * sigma)
    return cv2.GaussianBlur(a, (2 * r + 1, 2 * r + 1), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT_101)


def blend_multiband(values, valid, weights=None, priority=None, *, levels: int = 5
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Multi-band blending over an undecimated Laplacian stack (see the module docstring).

    Each frame is first completed outside its own valid area with the feather blend of the
    others (so frames that agree give back exactly that image: no extrapolation artefacts
    at frame edges); band ``k`` of every frame is the difference of Gaussian blurs
    (sigmas ``2**(k-1)`` and ``2**k`` px, normalised by the blurred coverage of the union);
    it is weighted by the frame's seam mask blurred at sigma ``2**(k-1)``.

    Parameters
    ----------
    levels : int
        Band-pass levels; the coarsest Gaussian has sigma ``2**(levels-1)`` px and the
        support radius is :func:`multiband_radius` ``(levels)``.
    """
    _check(values, valid, weights)
    if levels < 1:
        raise ConfigError(f"multiband levels must be >= 1, got {levels}")
    n = len(values)
    shape = values[0].shape
    key = weights if weights is not None else [np.ones(shape, np.float32)] * n
    # seams: each pixel to the frame with the largest weight; ties to the preferred frame
    order = np.argsort([float(np.mean(p)) for p in _scores(priority, n, shape)], kind="stable")
    top_sorted = winner([valid[k] for k in order], [key[k] for k in order], largest=True)
    top = np.where(top_sorted >= 0, order[np.clip(top_sorted, 0, None)], -1)
    union = top >= 0
    if n == 1:
        out = np.where(union, values[0], np.nan).astype(np.float32)
        return out, union
    base, _ = blend_feather(values, valid, weights, priority)
    base = np.where(union, base, 0.0).astype(np.float32)
    u = union.astype(np.float32)
    sigmas = [0.0] + [2.0 ** (k - 1) for k in range(1, levels + 1)]
    cover = [u] + [_blur(u, s) for s in sigmas[1:]]
    num = np.zeros(shape, np.float64)
    for k in range(n):
        f = np.where(valid[k], values[k], base).astype(np.float32)
        seam = (top == k).astype(np.float32)
        prev = f
        for lev in range(levels + 1):
            if lev < levels:
                s = sigmas[lev + 1]
                nxt = np.where(cover[lev + 1] > 1e-6, _blur(f, s) / np.maximum(cover[lev + 1], 1e-6), 0.0)
                band = prev - nxt
            else:
                band = prev
            w = _blur(seam, sigmas[lev])
            num += np.where(cover[lev] > 1e-6, w * band / np.maximum(cover[lev], 1e-6), 0.0)
            if lev < levels:
                prev = nxt
    out = np.full(shape, np.nan, np.float32)
    out[union] = num[union].astype(np.float32)
    return out, union


BLEND_METHODS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "mean": blend_mean,
    "feather": blend_feather,
    "multiband": blend_multiband,
    "first": blend_first,
}
"""Blend functions by config name (``mosaic.blend``)."""
