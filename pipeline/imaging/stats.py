"""Robust statistics shared by the calibration steps (pure numpy/scipy/OpenCV).

Everything here works on plain arrays in whatever unit they carry (DN, DN/s, ...);
``NaN`` marks a missing value wherever an input may be incomplete.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from pipeline.geometry.interpolate import interp_grid

MAD_TO_SIGMA = 1.482602218505602
"""Standard deviation of a normal distribution per unit median absolute deviation."""

_HIGHPASS_GAIN = np.sqrt(1.25)
"""Noise amplification of :func:`highpass` on white noise: ``c - mean(4 neighbours)``."""


def mad_sigma(values: np.ndarray) -> float:
    """Robust standard deviation, ``1.4826 * median(|x - median(x)|)``, of the finite values.

    Parameters
    ----------
    values : ndarray
        Any shape; non-finite entries are ignored.

    Returns
    -------
    float
        Same unit as ``values``; ``nan`` when no value is finite.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v))))


def clipped_stack(stack: np.ndarray, sigma: float, iters: int = 3) -> tuple[np.ndarray, np.ndarray | None]:
    """Sigma-clipped per-pixel median and scatter of a stack of frames.

    At each pixel, values farther than ``sigma`` robust sigmas from the pixel's median
    are rejected and the median recomputed, ``iters`` times at most. The robust sigma of
    a pixel is ``1.4826 * MAD`` over the whole stack (measured once, so a short stack does
    not shrink it clip after clip), floored at the median of that map over the image (the
    typical noise), so repeated integer values do not clip every value but the median.

    Parameters
    ----------
    stack : ndarray of shape (N, M, K)
        N frames of M lines by K samples, any unit.
    sigma : float
        Clipping threshold in robust sigmas.
    iters : int
        Maximum clipping iterations.

    Returns
    -------
    median : ndarray of shape (M, K), float64
        Clipped median, same unit as ``stack``.
    scatter : ndarray of shape (M, K), float64, or None
        Standard deviation (ddof=1) of the kept values; ``None`` when N < 3.
    """
    data = np.asarray(stack, dtype=np.float64)
    if data.shape[:1] == (1,) and data.ndim == 3:
        return data[0].copy(), None
    work = clip_outliers(data, sigma, iters)
    med = np.nanmedian(work, axis=0)
    scatter = np.nanstd(work, axis=0, ddof=1) if data.shape[0] >= 3 else None
    return med, scatter


def clip_outliers(stack: np.ndarray, sigma: float, iters: int = 3) -> np.ndarray:
    """The stack with per-pixel outliers replaced by NaN (the clipping of :func:`clipped_stack`).

    Parameters
    ----------
    stack : ndarray of shape (N, M, K)
        N frames, any unit.
    sigma : float
        Clipping threshold in robust sigmas.
    iters : int
        Maximum clipping iterations.

    Returns
    -------
    ndarray of shape (N, M, K), float64
        A copy; at least the values nearest each pixel's median are kept.
    """
    data = np.asarray(stack, dtype=np.float64)
    if data.ndim != 3 or data.shape[0] == 0:
        raise ValueError(f"expected a (N, lines, samples) stack with N >= 1, got shape {data.shape}")
    if data.shape[0] == 1:
        return data.copy()
    med = np.nanmedian(data, axis=0)
    scale = MAD_TO_SIGMA * np.nanmedian(np.abs(data - med), axis=0)
    floor = np.nanmedian(scale)
    scale = np.maximum(scale, floor if np.isfinite(floor) else 0.0)
    work = data
    for _ in range(iters):
        clipped = np.where(np.abs(data - med) > sigma * scale, np.nan, data)
        if np.array_equal(np.isnan(clipped), np.isnan(work)):
            break
        work = clipped
        med = np.nanmedian(work, axis=0)
    return work.copy() if work is data else work


def scatter_but_one(stack: np.ndarray) -> np.ndarray:
    """Per-pixel standard deviation of a stack without its single most deviant value.

    Unlike a MAD, it stays close to the true scatter for short stacks (a pixel with
    telegraph noise keeps a large value), yet one cosmic-ray hit does not inflate it.

    Parameters
    ----------
    stack : ndarray of shape (N, M, K), N >= 3
        Any unit.

    Returns
    -------
    ndarray of shape (M, K), float64
        Standard deviation (ddof=1) of the N - 1 values closest to the pixel's median.
    """
    data = np.asarray(stack, dtype=np.float64)
    if data.ndim != 3 or data.shape[0] < 3:
        raise ValueError(f"expected a (N >= 3, lines, samples) stack, got shape {data.shape}")
    dev = np.abs(data - np.median(data, axis=0))
    worst = np.argmax(dev, axis=0)
    keep = np.arange(data.shape[0])[:, None, None] != worst[None]
    kept = data.transpose(1, 2, 0)[keep.transpose(1, 2, 0)].reshape(data.shape[1], data.shape[2], -1)
    return np.std(kept, axis=2, ddof=1)


def local_median(image: np.ndarray, size: int) -> np.ndarray:
    """Median over a ``size`` x ``size`` window.

    The image is extended at its borders by odd reflection (``2 * edge - mirror``), so a
    linear gradient is its own local median right up to the edge.

    Parameters
    ----------
    image : ndarray of shape (M, N)
        Any unit; must be finite.
    size : int
        Window side in pixels (odd).

    Returns
    -------
    ndarray of shape (M, N), float32
    """
    half = size // 2
    img = np.asarray(image, dtype=np.float32)
    if min(img.shape) <= half:
        return ndimage.median_filter(img, size=size, mode="nearest")
    padded = np.pad(img, half, mode="reflect", reflect_type="odd")
    if size in (3, 5):
        out = cv2.medianBlur(np.ascontiguousarray(padded), size)
    else:
        out = ndimage.median_filter(padded, size=size)
    return np.ascontiguousarray(out[half:-half, half:-half])


def highpass(image: np.ndarray) -> np.ndarray:
    """``image - mean of its 4 neighbours``: removes smooth signal, keeps pixel noise.

    Parameters
    ----------
    image : ndarray of shape (M, N)
        ``NaN`` marks invalid pixels; a pixel with an invalid neighbour gets ``NaN``.

    Returns
    -------
    ndarray of shape (M, N), float64
        Zero-mean for any locally linear signal; white noise of sigma ``s`` gives
        ``sqrt(1.25) * s``. The outermost pixels are ``NaN``.
    """
    img = np.asarray(image, dtype=np.float64)
    out = np.full(img.shape, np.nan)
    c = img[1:-1, 1:-1]
    out[1:-1, 1:-1] = c - 0.25 * (img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:])
    return out


def noise_sigma(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Pixel-to-pixel noise of an image: robust MAD of :func:`highpass`, per pixel.

    Parameters
    ----------
    image : ndarray of shape (M, N)
    mask : ndarray of bool, optional
        ``True`` marks pixels to ignore.

    Returns
    -------
    float
        Noise sigma in the unit of ``image`` (``nan`` if nothing is valid). Scene texture
        finer than a few pixels adds to it.
    """
    img = np.asarray(image, dtype=np.float64)
    if mask is not None:
        img = np.where(mask, np.nan, img)
    return mad_sigma(highpass(img)) / _HIGHPASS_GAIN


def nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array ignoring NaN (NaN for an all-NaN row).

    The same numbers as ``np.nanmedian(values, axis=1)`` (the mean of the two middle values
    for an even count), vectorised: NumPy's own falls back to a Python loop over the rows
    once they hold NaN and are longer than 600.

    >>> nanmedian_rows(np.array([[1.0, np.nan, 3.0, 2.0], [np.nan] * 4, [4.0, 1.0, 2.0, 3.0]]))
    array([2. , nan, 2.5])
    """
    rows = np.sort(np.asarray(values, dtype=np.float64), axis=1)  # NaN sort last
    if rows.shape[1] == 0:
        return np.full(len(rows), np.nan)
    n = np.isfinite(rows).sum(axis=1)
    idx = np.arange(len(rows))
    mid = (rows[idx, np.maximum(n - 1, 0) // 2] + rows[idx, n // 2 - (n == 0)]) / 2.0
    return np.where(n > 0, mid, np.nan)


def _tiles(values: np.ndarray, block: int) -> np.ndarray:
    """``(M, N)`` -> ``(ceil(M/block), ceil(N/block), block*block)``, padded with NaN."""
    lines, samples = values.shape
    nl, ns = -(-lines // block), -(-samples // block)
    padded = np.full((nl * block, ns * block), np.nan)
    padded[:lines, :samples] = values
    return padded.reshape(nl, block, ns, block).transpose(0, 2, 1, 3).reshape(nl, ns, block * block)


def _tile_stats(residual: np.ndarray, level: np.ndarray | None, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Robust sigma of ``residual`` and median of ``level`` per tile (NaN where too few pixels)."""
    tiles = _tiles(residual, block)
    enough = np.isfinite(tiles).sum(axis=2) >= max(16, block * block // 8)
    sigma = np.full(enough.shape, np.nan)
    levels = np.full(enough.shape, np.nan)
    if enough.any():
        good = tiles[enough]
        med = nanmedian_rows(good)[:, None]
        sigma[enough] = MAD_TO_SIGMA * nanmedian_rows(np.abs(good - med))
        if level is not None:
            lv = _tiles(np.where(np.isfinite(residual), level, np.nan), block)[enough]
            levels[enough] = nanmedian_rows(lv)
    return sigma, levels


def block_sigma(
    residual: np.ndarray, block: int = 32, floor: float = 0.0, mask: np.ndarray | None = None
) -> np.ndarray:
    """Per-pixel robust sigma of a zero-mean residual image, measured block by block.

    The robust MAD of ``residual`` is taken in ``block`` x ``block`` tiles, outlier tiles
    are tamed with a 3 x 3 median over the tile grid, and the result is interpolated
    bilinearly to every pixel. Fine scene texture raises it.

    Parameters
    ----------
    residual : ndarray of shape (M, N)
        ``NaN`` marks pixels to ignore.
    block : int
        Tile side in pixels.
    floor : float
        Lowest sigma returned (same unit as ``residual``).
    mask : ndarray of bool, optional
        More pixels to ignore.

    Returns
    -------
    ndarray of shape (M, N), float32
    """
    res = np.asarray(residual, dtype=np.float64)
    if mask is not None:
        res = np.where(mask, np.nan, res)
    lines, samples = res.shape
    grid, _ = _tile_stats(res, None, block)
    nl, ns = grid.shape
    fill = np.nanmedian(grid) if np.isfinite(grid).any() else floor
    grid = np.where(np.isfinite(grid), grid, fill)
    if min(nl, ns) >= 3:
        grid = ndimage.median_filter(grid, size=3, mode="nearest")
    centres_l = np.minimum((np.arange(nl) + 0.5) * block, lines) - 0.5
    centres_s = np.minimum((np.arange(ns) + 0.5) * block, samples) - 0.5
    out = interp_grid(grid, centres_l, centres_s, np.arange(lines), np.arange(samples))
    return np.maximum(out, floor).astype(np.float32)


def fit_noise_model(
    residual: np.ndarray, level: np.ndarray, block: int = 32, mask: np.ndarray | None = None
) -> tuple[float, float]:
    """Fit ``variance = a * level + b`` (Poisson + read noise) to an image's own noise.

    Per ``block`` x ``block`` tile, the robust variance of ``residual`` is paired with the
    median ``level``; a straight line is fitted with tiles far *above* it (scene texture,
    tiles straddling an edge) rejected iteratively.

    Parameters
    ----------
    residual : ndarray of shape (M, N)
        Zero-mean high-pass of the image (e.g. ``image - med3(image)``); NaN = ignore.
    level : ndarray of shape (M, N)
        Signal level of each pixel (e.g. a local median), same unit.
    block : int
        Tile side, pixels.
    mask : ndarray of bool, optional
        Pixels to ignore.

    Returns
    -------
    a, b : float
        Slope (unit of ``level``) and intercept (unit squared), both >= 0; ``(0, median
        variance)`` when the tiles' levels span less than half their median.
    """
    res = np.asarray(residual, dtype=np.float64)
    if mask is not None:
        res = np.where(mask, np.nan, res)
    sigma, levels = _tile_stats(res, np.asarray(level, dtype=np.float64), block)
    ok = np.isfinite(sigma) & np.isfinite(levels)
    var, lv = sigma[ok] ** 2, levels[ok]
    if var.size == 0:
        return 0.0, 0.0
    keep = np.ones(var.size, dtype=bool)
    a, b = 0.0, float(np.median(var))
    for _ in range(5):
        # A slope needs levels spanning a good fraction of their size; otherwise the
        # constant (median variance) describes the frame as well.
        if keep.sum() < 3 or not np.ptp(lv[keep]) > 0.5 * np.median(np.abs(lv[keep])):
            a, b = 0.0, float(np.median(var[keep])) if keep.any() else b
            break
        a, b = (float(x) for x in np.polyfit(lv[keep], var[keep], 1))
        if a < 0:
            a, b = 0.0, float(np.median(var[keep]))
        excess = var - (a * lv + b)
        spread = MAD_TO_SIGMA * np.median(np.abs(excess[keep]))
        new_keep = excess <= 3.0 * max(spread, 1e-12 * max(b, 1e-30))
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return max(a, 0.0), max(b, 0.0)
