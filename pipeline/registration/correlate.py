"""Area correlation of many patches at once: masked NCC by FFT, sub-pixel peaks, least squares.

The plain-array core of the area matcher (:mod:`pipeline.registration.areamatch`) and of the
sub-pixel step of the feature matcher (:func:`pipeline.registration.features.match_images`).
Every function works on a *stack* of ``n`` patches in one set of numpy / scipy / OpenCV calls
(no Python loop over points), so the work happens in C with the GIL released.

Conventions
-----------
- Stacks are ``(n, rows, cols)``; masks are bool, ``True`` where a pixel is **valid**.
- Shifts are ``(row, col)`` pixels. :func:`masked_ncc` is a "valid-mode" correlation: entry
  ``[k, a, b]`` compares template ``k`` with image ``k`` shifted by ``(a, b)``, i.e. with
  ``image[k, a:a + th, b:b + tw]``.
- NCC (Pearson correlation over the pixels valid in both) lies in ``[-1, 1]``; shifts with too
  few common pixels are ``-inf``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

__all__ = ["Peaks", "Refined", "lsm_refine", "masked_ncc", "ncc", "ncc_peaks", "spline_patches"]

_EPS = 1e-12


def _fft_size(n: int) -> int:
    return int(sfft.next_fast_len(int(n), real=True))


def masked_ncc(templates: np.ndarray, images: np.ndarray, t_valid: np.ndarray | None = None,
               i_valid: np.ndarray | None = None, *, min_overlap: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cross-correlation of each template with its image at every shift (Padfield 2012).

    Parameters
    ----------
    templates : ndarray of shape (n, th, tw)
    images : ndarray of shape (n, ih, iw), ``ih >= th`` and ``iw >= tw``
    t_valid, i_valid : ndarray of bool of the same shapes, optional
        Valid pixels (default: all finite ones). Invalid pixels take no part in the sums.
    min_overlap : float
        Shifts where fewer than this fraction of the template's valid pixels meet valid
        image pixels score ``-inf``.

    Returns
    -------
    ncc : ndarray of float64, shape (n, ih - th + 1, iw - tw + 1)
        Entry ``[k, a, b]``: the correlation of ``templates[k]`` with
        ``images[k, a:a + th, b:b + tw]`` over the pixels valid in both.
    count : ndarray of float64, same shape
        Number of pixels valid in both.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = rng.normal(size=(1, 40, 40))
    >>> score, _ = masked_ncc(img[:, 12:28, 9:25], img)
    >>> [int(v) for v in np.unravel_index(np.argmax(score[0]), score[0].shape)], round(float(score.max()), 6)
    ([12, 9], 1.0)
    """
    t = np.asarray(templates, np.float64)
    im = np.asarray(images, np.float64)
    if t.ndim != 3 or im.ndim != 3 or len(t) != len(im):
        raise ValueError(f"need stacks (n, rows, cols) of equal n, got {t.shape} and {im.shape}")
    _n, th, tw = t.shape
    _, ih, iw = im.shape
    if ih < th or iw < tw:
        raise ValueError(f"images {im.shape[1:]} smaller than templates {t.shape[1:]}")
    tv = np.isfinite(t) if t_valid is None else (np.asarray(t_valid, bool) & np.isfinite(t))
    iv = np.isfinite(im) if i_valid is None else (np.asarray(i_valid, bool) & np.isfinite(im))
    if tv.all() and iv.all():
        return _full_ncc(t, im)
    # centre and scale each patch on its valid pixels: less cancellation in the variances
    t = np.where(tv, t, 0.0)
    im = np.where(iv, im, 0.0)
    t_cnt = np.maximum(tv.sum(axis=(1, 2)), 1)[:, None, None]
    i_cnt = np.maximum(iv.sum(axis=(1, 2)), 1)[:, None, None]
    t = np.where(tv, t - t.sum(axis=(1, 2), keepdims=True) / t_cnt, 0.0)
    im = np.where(iv, im - im.sum(axis=(1, 2), keepdims=True) / i_cnt, 0.0)
    t /= np.sqrt((t * t).sum(axis=(1, 2), keepdims=True) / t_cnt) + _EPS
    im /= np.sqrt((im * im).sum(axis=(1, 2), keepdims=True) / i_cnt) + _EPS

    shape = (_fft_size(ih), _fft_size(iw))
    a = tv.astype(np.float64)
    b = iv.astype(np.float64)
    fa = [sfft.rfft2(x, s=shape, axes=(1, 2)) for x in (a, t, t * t)]
    fb = [sfft.rfft2(x, s=shape, axes=(1, 2)) for x in (b, im, im * im)]
    oh, ow = ih - th + 1, iw - tw + 1

    def corr(x, y):
        # sum_x t(x) i(x + u) = ifft(conj(F_t) F_i)[u]; no wrap-around for u < ih - th + 1
        return sfft.irfft2(np.conj(x) * y, s=shape, axes=(1, 2))[:, :oh, :ow]

    cnt = np.rint(corr(fa[0], fb[0]))
    s_t = corr(fa[1], fb[0])
    s_i = corr(fa[0], fb[1])
    s_ti = corr(fa[1], fb[1])
    s_tt = corr(fa[2], fb[0])
    s_ii = corr(fa[0], fb[2])
    safe = np.maximum(cnt, 1.0)
    var_t = np.maximum(s_tt - s_t * s_t / safe, 0.0)
    var_i = np.maximum(s_ii - s_i * s_i / safe, 0.0)
    num = s_ti - s_t * s_i / safe
    den = np.sqrt(var_t * var_i)
    out = np.where(den > 1e-9 * safe, num / np.maximum(den, _EPS), -np.inf)
    need = np.maximum(min_overlap * tv.sum(axis=(1, 2)), 3.0)[:, None, None]
    out[cnt < need] = -np.inf
    return np.clip(out, -1.0, 1.0), cnt


def _full_ncc(t: np.ndarray, im: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`masked_ncc` when every pixel is valid: one FFT correlation plus box sums."""
    n, th, tw = t.shape
    _, ih, iw = im.shape
    t = t - t.mean(axis=(1, 2), keepdims=True)
    t /= np.sqrt((t * t).sum(axis=(1, 2), keepdims=True)) + _EPS
    im = im - im.mean(axis=(1, 2), keepdims=True)
    shape = (_fft_size(ih), _fft_size(iw))
    oh, ow = ih - th + 1, iw - tw + 1
    cross = sfft.irfft2(np.conj(sfft.rfft2(t, s=shape, axes=(1, 2))) * sfft.rfft2(im, s=shape, axes=(1, 2)),
                        s=shape, axes=(1, 2))[:, :oh, :ow]

    def box(x):  # sum over every th x tw window (integral image)
        c = np.zeros((n, ih + 1, iw + 1))
        np.cumsum(np.cumsum(x, axis=1), axis=2, out=c[:, 1:, 1:])
        return c[:, th:, tw:] - c[:, :oh, tw:] - c[:, th:, :ow] + c[:, :oh, :ow]

    m = float(th * tw)
    s1, s2 = box(im), box(im * im)
    var = np.maximum(s2 - s1 * s1 / m, 0.0)
    out = np.where(var > 1e-12 * np.maximum(s2, _EPS), cross / np.sqrt(np.maximum(var, _EPS)), -np.inf)
    return np.clip(out, -1.0, 1.0), np.full(out.shape, m)


def ncc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair of patches, shape (n,) from stacks (n, rows, cols)."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(den > _EPS, (a * b).sum(axis=1) / np.maximum(den, _EPS), 0.0)


def _bspline_weights(f: np.ndarray) -> np.ndarray:
    """Cubic B-spline weights of the 4 taps at offsets -1, 0, 1, 2 for fractional positions
    ``f`` in [0, 1); shape ``f.shape + (4,)``; they sum to 1."""
    t = np.asarray(f, np.float64)[..., None]
    u = 1.0 - t
    return np.concatenate([u**3, 3 * t**3 - 6 * t**2 + 4, -3 * t**3 + 3 * t**2 + 3 * t + 1, t**3], axis=-1) / 6.0


def spline_patches(coefficients: np.ndarray, corner: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Patches of an image at fractional positions by cubic B-spline interpolation, exact
    (no 1/32-pixel quantisation as in ``cv2.remap``), all patches in two ``einsum`` calls.

    Parameters
    ----------
    coefficients : ndarray of shape (rows, cols)
        The image's cubic B-spline coefficients, ``scipy.ndimage.spline_filter(image, 3)``
        (the interpolation then equals ``scipy.ndimage.map_coordinates(image, ..., order=3)``).
    corner : ndarray of shape (n, 2)
        Array-index ``(row, col)`` of each patch's first pixel (pixel centres at integers).
    size : int
        Patch side.

    Returns
    -------
    patches : ndarray of float64, shape (n, size, size)
        ``patches[k, u, v]`` = the image interpolated at ``corner[k] + (u, v)``.
    inside : ndarray of bool, shape (n,)
        The kernel of the whole patch lies inside the image (other patches are 0).

    Examples
    --------
    >>> from scipy import ndimage
    >>> img = np.random.default_rng(0).normal(size=(32, 32))
    >>> p, ok = spline_patches(ndimage.spline_filter(img, 3), np.array([[10.25, 12.5]]), 3)
    >>> ref = ndimage.map_coordinates(img, [[10.25, 12.25], [12.5, 13.5]], order=3)
    >>> bool(ok[0]), bool(np.allclose([p[0, 0, 0], p[0, 2, 1]], ref))
    (True, True)
    """
    coef = np.asarray(coefficients, np.float64)
    c = np.asarray(corner, np.float64).reshape(-1, 2)
    base = np.floor(c).astype(np.int64)
    frac = c - base
    top = base - 1  # the 4 taps start one pixel before
    rows, cols = coef.shape
    inside = (top[:, 0] >= 0) & (top[:, 1] >= 0) & (top[:, 0] + size + 3 <= rows) & (top[:, 1] + size + 3 <= cols)
    out = np.zeros((len(c), size, size))
    if not inside.any():
        return out, inside
    k = np.flatnonzero(inside)
    win = np.lib.stride_tricks.sliding_window_view(coef, (size + 3, size + 3))[top[k, 0], top[k, 1]]
    wy, wx = _bspline_weights(frac[k, 0]), _bspline_weights(frac[k, 1])
    taps = np.arange(size)[:, None] + np.arange(4)[None, :]  # (size, 4): the taps of each output pixel
    along_rows = np.einsum("kutc,kt->kuc", win[:, taps, :], wy)  # (k, size, size + 3)
    out[k] = np.einsum("kuvt,kt->kuv", along_rows[:, :, taps], wx)
    return out, inside


@dataclass(frozen=True, eq=False)
class Peaks:
    """The best shift of every correlation surface.

    Attributes
    ----------
    shift : ndarray of float64, shape (n, 2)
        ``(row, col)`` of the peak in surface pixels, refined by a parabola through its
        neighbours along each axis (integer where the peak is on the surface's edge).
    score : ndarray of float64, shape (n,)
        Correlation at the integer peak (``-inf`` where the surface has no finite value).
    on_edge : ndarray of bool, shape (n,)
        The integer peak lies on the surface's border: the true peak may lie outside.
    """

    shift: np.ndarray
    score: np.ndarray
    on_edge: np.ndarray


def ncc_peaks(surfaces: np.ndarray) -> Peaks:
    """Integer peak of each surface (n, h, w) plus a parabolic sub-pixel offset per axis."""
    s = np.asarray(surfaces, np.float64)
    n, h, w = s.shape
    flat = np.where(np.isfinite(s), s, -np.inf).reshape(n, -1)
    idx = np.argmax(flat, axis=1)
    score = flat[np.arange(n), idx]
    r, c = np.divmod(idx, w)
    on_edge = (r == 0) | (r == h - 1) | (c == 0) | (c == w - 1)
    k = np.arange(n)
    rm, rp = np.clip(r - 1, 0, h - 1), np.clip(r + 1, 0, h - 1)
    cm, cp = np.clip(c - 1, 0, w - 1), np.clip(c + 1, 0, w - 1)
    dr = _parabola(s[k, rm, c], score, s[k, rp, c])
    dc = _parabola(s[k, r, cm], score, s[k, r, cp])
    dr = np.where(on_edge, 0.0, dr)
    dc = np.where(on_edge, 0.0, dc)
    return Peaks(np.stack([r + dr, c + dc], axis=1), score, on_edge | ~np.isfinite(score))


def _parabola(m1: np.ndarray, c0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Vertex offset (-0.5..0.5) of the parabola through (-1, m1), (0, c0), (1, p1); 0 where
    the three values are not a maximum or not finite."""
    with np.errstate(invalid="ignore"):
        den = m1 - 2.0 * c0 + p1
        ok = np.isfinite(den) & (den < 0)
        off = np.where(ok, 0.5 * (m1 - p1) / np.where(ok, den, -1.0), 0.0)
    return np.clip(off, -0.5, 0.5)


@dataclass(frozen=True, eq=False)
class Refined:
    """Result of :func:`lsm_refine`.

    Attributes
    ----------
    shift : ndarray of float64, shape (n, 2)
        Final ``(row, col)`` shifts.
    score : ndarray of float64, shape (n,)
        NCC of the template with the resampled patch at the final shift.
    sigma_px : ndarray of float64, shape (n,)
        Standard error of the shift along its weakest direction (pixels), from the
        residuals and the normal matrix; ``inf`` where not ``ok``.
    ok : ndarray of bool, shape (n,)
        Converged, stayed within ``max_move_px`` and on valid pixels.
    """

    shift: np.ndarray
    score: np.ndarray
    sigma_px: np.ndarray
    ok: np.ndarray


def lsm_refine(
    templates: np.ndarray,
    sample: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
    start: np.ndarray,
    *,
    valid: Callable[[np.ndarray, np.ndarray | None], np.ndarray] | None = None,
    affine: bool = False,
    iterations: int = 6,
    tol_px: float = 0.01,
    max_move_px: float = 1.5,
    max_deform: float = 0.3,
) -> Refined:
    """Least-squares matching (Gauss-Newton on the patch geometry, gain and offset), all
    points at once.

    For each point ``k`` find the shift ``d`` (and with ``affine`` a 2 x 2 deformation ``D``,
    starting from the identity) minimising ``sum_u (templates[k][u] - a * S_k(d + D u) - b)^2``
    over the template's pixel offsets ``u`` from its centre, where ``S_k`` is the search image
    around point ``k``: translation-only Lucas-Kanade, or with ``affine`` Gruen's adaptive
    least squares correlation (six geometric and two radiometric parameters), which follows
    the scale and shear that terrain seen from two directions puts between the patches.

    Parameters
    ----------
    templates : ndarray of shape (n, w, w)
        Template patches (any units).
    sample : callable
        ``sample(shift, deform)`` with ``shift`` of shape (n, 2) (``(row, col)`` pixels) and
        ``deform`` of shape (n, 2, 2) (or None: the identity) returns the search image
        resampled at ``shift + deform @ u`` for the offsets ``u`` of a ``(w + 2) x (w + 2)``
        grid centred on the template (one pixel of border for the gradients), shape
        (n, w + 2, w + 2).
    start : ndarray of shape (n, 2)
        Initial shifts (e.g. integer NCC peak plus parabola).
    valid : callable, optional
        ``valid(shift, deform)``: bool array (n,), True where the patch lies on valid pixels;
        checked once, at the final parameters.
    affine : bool
        Also solve the deformation ``D`` (default: translation only, ``D`` = identity).
    iterations : int
        Most Gauss-Newton steps.
    tol_px : float
        A point has converged when its last step moves no pixel of the patch by more than
        this (OpenCV's remap quantises positions to 1/32 pixel, so do not ask for much less
        than 0.01).
    max_move_px : float
        Points that move farther than this from ``start`` are dropped (diverged).
    max_deform : float
        Points whose deformation departs from the identity by more than this (largest
        entry of ``D - I``) are dropped.

    Returns
    -------
    Refined
    """
    t = np.asarray(templates, np.float64)
    n, w, _ = t.shape
    h = w // 2
    d = np.array(start, np.float64, copy=True).reshape(n, 2)
    d0 = d.copy()
    deform = np.repeat(np.eye(2)[None], n, axis=0) if affine else None
    ok = np.ones(n, bool)
    active = np.ones(n, bool)
    gain = np.ones(n)
    offset = np.zeros(n)
    tf = t.reshape(n, -1)
    uu, vv = (g.ravel() for g in np.meshgrid(np.arange(-h, h + 1.0), np.arange(-h, h + 1.0), indexing="ij"))
    first = True
    last = None
    for _ in range(iterations):
        if not active.any():
            break
        patches = np.asarray(sample(d, deform), np.float64)
        s0 = patches[:, 1:-1, 1:-1].reshape(n, -1)
        gy = 0.5 * (patches[:, 2:, 1:-1] - patches[:, :-2, 1:-1]).reshape(n, -1)
        gx = 0.5 * (patches[:, 1:-1, 2:] - patches[:, 1:-1, :-2]).reshape(n, -1)
        if affine:  # the patch grid is deformed: gradients along the patch's axes -> along rows/cols
            inv = np.linalg.inv(deform)
            gy, gx = (gy * inv[:, 0, 0, None] + gx * inv[:, 1, 0, None],
                      gy * inv[:, 0, 1, None] + gx * inv[:, 1, 1, None])
        if first:  # radiometric start: regression of the template on the patch
            sm, tm = s0.mean(axis=1), tf.mean(axis=1)
            cov = ((s0 - sm[:, None]) * (tf - tm[:, None])).mean(axis=1)
            var = ((s0 - sm[:, None]) ** 2).mean(axis=1)
            gain = np.where(var > _EPS, cov / np.maximum(var, _EPS), 1.0)
            offset = tm - gain * sm
            first = False
        resid = tf - gain[:, None] * s0 - offset[:, None]
        ja, jb = gain[:, None] * gy, gain[:, None] * gx
        cols = [ja, jb]
        if affine:
            cols += [ja * uu, ja * vv, jb * uu, jb * vv]
        cols += [s0, np.ones_like(s0)]
        jac = np.stack(cols, axis=2)  # (n, m, k)
        normal = np.matmul(jac.transpose(0, 2, 1), jac)
        rhs = np.matmul(jac.transpose(0, 2, 1), resid[..., None])[..., 0]
        k = jac.shape[2]
        normal += np.eye(k)[None] * (1e-9 * np.trace(normal, axis1=1, axis2=2))[:, None, None] + np.eye(k) * _EPS
        step = np.linalg.solve(normal, rhs[..., None])[..., 0]
        ok &= np.all(np.isfinite(step), axis=1)
        step = np.where(np.isfinite(step), step, 0.0)
        last = (normal, resid)
        upd = active & ok
        d[upd] += step[upd, :2]
        move = np.hypot(step[:, 0], step[:, 1])
        if affine:
            dd = step[:, 2:6].reshape(n, 2, 2)
            deform[upd] += dd[upd]
            move = move + h * np.abs(dd).max(axis=(1, 2))  # the patch corners move by this much more
            ok &= np.abs(deform - np.eye(2)).max(axis=(1, 2)) <= max_deform
        gain[upd] += step[upd, -2]
        offset[upd] += step[upd, -1]
        ok &= np.hypot(*(d - d0).T) <= max_move_px
        active &= ok & (move >= tol_px)
    ok &= ~active  # converged
    if valid is not None:
        ok &= np.asarray(valid(d, deform), bool)
    score = ncc(t, np.asarray(sample(d, deform), np.float64)[:, 1:-1, 1:-1])
    # precision: residual variance times the shift block of the inverse normal matrix
    normal, resid = last if last is not None else (np.repeat(np.eye(4)[None], n, axis=0), np.zeros((n, 5)))
    dof = max(resid.shape[1] - normal.shape[1], 1)
    cov = np.linalg.inv(normal)[:, :2, :2] * ((resid**2).sum(axis=1) / dof)[:, None, None]
    tr, det = cov[:, 0, 0] + cov[:, 1, 1], cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2
    sigma = np.sqrt(np.maximum(0.5 * tr + np.sqrt(np.maximum(0.25 * tr * tr - det, 0.0)), 0.0))
    return Refined(d, score, np.where(ok, sigma, np.inf), ok)
