"""Tie points between two images on the same pixel grid: features, robust model, sub-pixel NCC.

This is the plain-array core of :func:`pipeline.registration.pairs.match_pair`: it knows
nothing of cameras or maps. ``match_images(a, b, ...)`` returns matched positions in
both arrays.

Coordinates
-----------
Positions are ``(row, col)`` with the **corner** of the array at ``(0, 0)`` and the
centre of the first pixel at ``(0.5, 0.5)`` (the CSM image convention and
``MapGrid.xy_to_rowcol``'s). OpenCV's ``(x, y)`` has the first centre at ``(0, 0)``:
``row = y + 0.5``, ``col = x + 0.5``.

Steps
-----
1. Each image is stretched to 8 bits between its 0.5 and 99.5 percentiles of valid pixels.
2. Features from a :data:`~pipeline.registration.detectors.DETECTORS` entry are matched
   by brute force with Lowe's ratio test.
3. A 2-D affine model is fitted with MAGSAC++ (``cv2.USAC_MAGSAC``, seeded with
   ``cv2.setRNGSeed``); its inliers are kept.
4. The inliers are thinned to at most ``max_points``, spread over a grid of cells.
5. Optionally every point is refined to sub-pixel precision at once: a ``window`` x
   ``window`` template centred on the nearest pixel centre of ``a`` is searched for in ``b``
   within ``search`` pixels of the model's prediction by one batched normalised
   cross-correlation (FFT, :func:`~pipeline.registration.correlate.masked_ncc`), then
   least-squares matching (shift, gain, offset) with exact cubic B-spline resampling of ``b``
   (:func:`~pipeline.registration.correlate.lsm_refine`) removes the parabola's bias
   towards whole pixels. Points whose peak is weak (``min_ncc``), on the edge of the search
   window, that do not converge or that disagree with the model are dropped. No Python
   loop runs per point.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from pipeline.registration.correlate import lsm_refine, masked_ncc, ncc_peaks, spline_patches
from pipeline.registration.detectors import DETECTORS, check_detector
from pipeline.registration.params import RegistrationParams

log = logging.getLogger(__name__)

__all__ = ["ImageMatches", "match_images", "stretch_u8"]


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class ImageMatches:
    """Matched positions in two images.

    Attributes
    ----------
    pts_a, pts_b : ndarray of float64, shape (n, 2)
        ``(row, col)``, corner origin (first pixel centre at ``(0.5, 0.5)``).
    ncc : ndarray of float64, shape (n,)
        NCC peak of each refined point (``nan`` when not refined).
    model : ndarray of shape (2, 3) or None
        Affine ``(x, y)`` model (OpenCV convention) mapping ``a`` to ``b``.
    n_candidates : int
        Matches passing the ratio test.
    n_inliers : int
        Inliers of the robust model.
    reason : str
        Empty on success; why there are no matches otherwise.
    """

    pts_a: np.ndarray
    pts_b: np.ndarray
    ncc: np.ndarray
    model: np.ndarray | None = None
    n_candidates: int = 0
    n_inliers: int = 0
    reason: str = ""

    def __len__(self) -> int:
        return len(self.pts_a)

    @classmethod
    def empty(cls, reason: str, **kw) -> ImageMatches:
        """No matches, with the reason."""
        z = np.zeros((0, 2))
        return cls(z, z.copy(), np.zeros(0), reason=reason, **kw)


def stretch_u8(image: np.ndarray, valid: np.ndarray, lo: float = 0.5, hi: float = 99.5) -> np.ndarray:
    """Linear stretch of ``image`` to uint8 between percentiles of its valid pixels.

    Invalid pixels become 0. Returns an ndarray of uint8 of the same shape.
    """
    out = np.zeros(image.shape, np.uint8)
    vals = image[valid]
    if vals.size == 0:
        return out
    p0, p1 = np.percentile(vals, [lo, hi])
    scale = 255.0 / (p1 - p0) if p1 > p0 else 0.0
    out[valid] = np.clip((vals - p0) * scale, 0, 255).round().astype(np.uint8)
    return out


def _ratio_matches(desc_a, desc_b, norm: int, ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(ia, ib)`` and distances of matches passing the ratio test (and mutual best)."""
    if desc_a is None or desc_b is None or len(desc_a) < 2 or len(desc_b) < 2:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    bf = cv2.BFMatcher(norm)
    knn = bf.knnMatch(desc_a, desc_b, k=2)
    ia, ib, dist = [], [], []
    for pair in knn:
        if len(pair) < 2:
            continue
        m, n = pair
        if m.distance < ratio * n.distance:
            ia.append(m.queryIdx)
            ib.append(m.trainIdx)
            dist.append(m.distance)
    ia, ib, dist = np.asarray(ia, int), np.asarray(ib, int), np.asarray(dist, float)
    # one a-feature per b-feature: keep the closest (deterministic tie break by index)
    if ib.size:
        order = np.lexsort((ia, dist))
        _, first = np.unique(ib[order], return_index=True)
        keep = np.sort(order[first])
        ia, ib, dist = ia[keep], ib[keep], dist[keep]
    return ia, ib, dist


def _thin(points: np.ndarray, quality: np.ndarray, shape: tuple[int, int], max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points spread over a grid of cells (best first per cell)."""
    n = len(points)
    if n <= max_points:
        return np.arange(n)
    cells = max(1, int(np.ceil(np.sqrt(max_points))))
    rows, cols = shape
    cr = np.clip((points[:, 1] / max(rows, 1) * cells).astype(int), 0, cells - 1)
    cc = np.clip((points[:, 0] / max(cols, 1) * cells).astype(int), 0, cells - 1)
    cell = cr * cells + cc
    order = np.lexsort((np.arange(n), quality, cell))  # by cell, then best quality first
    rank = np.empty(n, int)
    sorted_cells = cell[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_cells)) + 1]
    counts = np.diff(np.r_[starts, n])
    rank[order] = np.arange(n) - np.repeat(starts, counts)
    chosen = np.lexsort((quality, rank))[:max_points]  # round-robin over cells
    return np.sort(chosen)


def _refine_all(a, valid_a, b, valid_b, xa: np.ndarray, xb_pred: np.ndarray, window: int, search: int,
                min_ncc: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-pixel NCC refinement of every point at once.

    ``xa`` integer ``(x, y)`` array indices in ``a`` (template centres), ``xb_pred`` float
    ``(x, y)`` predictions in ``b``. Returns ``(keep, xb, ncc)``: which points survive, their
    refined ``(x, y)`` in ``b`` and NCC peak. Integer peak of a batched NCC over
    ``+-search`` pixels (:func:`~pipeline.registration.correlate.masked_ncc`), then
    least-squares matching with exact cubic B-spline resampling of ``b``
    (:func:`~pipeline.registration.correlate.lsm_refine`). Points whose template touches an
    invalid pixel of ``a``, whose search window touches one of ``b``, whose peak is below
    ``min_ncc`` or on the edge of the search window are dropped.
    """
    h = window // 2
    r = h + search
    n = len(xa)
    x0, y0 = xa[:, 0].astype(np.int64), xa[:, 1].astype(np.int64)
    bx, by = np.rint(xb_pred[:, 0]).astype(np.int64), np.rint(xb_pred[:, 1]).astype(np.int64)
    ok_a = _window_valid(valid_a, y0, x0, window)
    ok_b = _window_valid(valid_b, by, bx, 2 * r + 1)
    keep = ok_a & ok_b
    none = (np.zeros(n, bool), np.zeros((n, 2)), np.zeros(n))
    if not keep.any():
        return none
    k = np.flatnonzero(keep)
    tmpl = sliding_window_view(a, (window, window))[y0[k] - h, x0[k] - h]
    region = sliding_window_view(b, (2 * r + 1, 2 * r + 1))[by[k] - r, bx[k] - r]
    surf, _ = masked_ncc(tmpl, region, min_overlap=0.9)
    peaks = ncc_peaks(surf)
    good = ~peaks.on_edge & (peaks.score >= min_ncc)
    # (row, col) array position in b of each template centre
    start = np.stack([by[k] - search, bx[k] - search], axis=1) + peaks.shift
    eroded = _erode_valid(valid_b, window + 6)
    coef = ndimage.spline_filter(np.asarray(b, np.float64), order=3, mode="mirror")

    def sample(pos, _deform):
        patches, _inside = spline_patches(coef, pos - (h + 1), window + 2)
        return patches

    def valid(pos, _deform):
        yy, xx = np.rint(pos[:, 0]).astype(np.int64), np.rint(pos[:, 1]).astype(np.int64)
        inside = (yy >= 0) & (xx >= 0) & (yy < b.shape[0]) & (xx < b.shape[1])
        out = np.zeros(len(pos), bool)
        out[inside] = eroded[yy[inside], xx[inside]]
        return out

    ref = lsm_refine(tmpl, sample, start, valid=valid)
    good &= ref.ok & (ref.score >= min_ncc)
    keep[k] = good
    xb = np.zeros((n, 2))
    xb[k] = ref.shift[:, ::-1]
    ncc = np.zeros(n)
    ncc[k] = ref.score
    return keep, xb, ncc


def _erode_valid(valid: np.ndarray, size: int) -> np.ndarray:
    kernel = np.ones((size, size), np.uint8)
    return cv2.erode(valid.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def _window_valid(valid: np.ndarray, yc: np.ndarray, xc: np.ndarray, size: int) -> np.ndarray:
    """True where the ``size`` x ``size`` window centred on ``(yc, xc)`` lies inside and valid."""
    h = size // 2
    rows, cols = valid.shape
    inside = (yc - h >= 0) & (xc - h >= 0) & (yc + h < rows) & (xc + h < cols)
    out = np.zeros(len(yc), bool)
    if inside.any():
        out[inside] = _erode_valid(valid, size)[yc[inside], xc[inside]]
    return out


def match_images(
    a: np.ndarray,
    b: np.ndarray,
    valid_a: np.ndarray | None = None,
    valid_b: np.ndarray | None = None,
    params: RegistrationParams | None = None,
    seed: int = 0,
) -> ImageMatches:
    """Match two images of the same scene (similar scale and orientation).

    Parameters
    ----------
    a, b : ndarray of shape (rows, cols)
        Images (any real dtype; used as float32). They need not have the same shape.
    valid_a, valid_b : ndarray of bool, optional
        True where the pixel is usable (note: the opposite of ``Frame.mask``). Default:
        all finite pixels.
    params : RegistrationParams, optional
        Detector, thresholds and refinement settings (``detector``, ``max_features``, ``ratio``,
        ``ransac_threshold_px``, ``min_matches``, ``max_matches_per_pair``, ``subpixel``,
        ``ncc_window_px``, ``ncc_search_px``, ``min_ncc``); defaults if None.
    seed : int
        Seed of OpenCV's RNG for MAGSAC++ (``cv2.setRNGSeed``); same seed, same result.

    Returns
    -------
    ImageMatches
        ``pts_a``/``pts_b`` in ``(row, col)`` pixels (corner origin). Empty, with
        ``reason``, when fewer than ``params.min_matches`` consistent matches exist.

    Examples
    --------
    >>> from skimage.data import moon
    >>> from scipy.ndimage import shift
    >>> a = moon().astype("float32")
    >>> b = shift(a, (3.4, -2.2), order=3)
    >>> m = match_images(a[20:-20, 20:-20], b[20:-20, 20:-20])
    >>> np.round(np.median(m.pts_b - m.pts_a, axis=0), 1)  # doctest: +SKIP
    array([ 3.4, -2.2])
    """
    params = params or RegistrationParams()
    check_detector(params.detector)
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    valid_a = np.isfinite(a) if valid_a is None else np.asarray(valid_a, bool) & np.isfinite(a)
    valid_b = np.isfinite(b) if valid_b is None else np.asarray(valid_b, bool) & np.isfinite(b)
    if valid_a.sum() < params.ncc_window_px**2 or valid_b.sum() < params.ncc_window_px**2:
        return ImageMatches.empty("too few valid pixels in the overlap")
    a = np.where(valid_a, a, 0.0).astype(np.float32)
    b = np.where(valid_b, b, 0.0).astype(np.float32)

    border = max(3, params.ncc_window_px // 2)
    kernel = np.ones((2 * border + 1, 2 * border + 1), np.uint8)
    det_a = cv2.erode(valid_a.astype(np.uint8) * 255, kernel)
    det_b = cv2.erode(valid_b.astype(np.uint8) * 255, kernel)
    detect = DETECTORS[params.detector]
    pa, da, norm = detect(stretch_u8(a, valid_a), det_a, params.max_features)
    pb, db, _ = detect(stretch_u8(b, valid_b), det_b, params.max_features)
    ia, ib, dist = _ratio_matches(da, db, norm, params.ratio)
    n_cand = int(ia.size)
    if n_cand < params.min_matches:
        return ImageMatches.empty(
            f"too few feature matches: {n_cand} < {params.min_matches} "
            f"({len(pa)} and {len(pb)} keypoints)",
            n_candidates=n_cand,
        )
    src, dst = pa[ia], pb[ib]
    cv2.setRNGSeed(int(seed) % (2**31))
    model, inl = cv2.estimateAffine2D(
        src, dst, method=cv2.USAC_MAGSAC, ransacReprojThreshold=float(params.ransac_threshold_px),
        maxIters=10000, confidence=0.999,
    )
    if model is None or inl is None:
        return ImageMatches.empty("robust estimation found no consistent model", n_candidates=n_cand)
    inl = inl.ravel().astype(bool)
    n_inl = int(inl.sum())
    if n_inl < params.min_matches:
        return ImageMatches.empty(
            f"too few consistent matches: {n_inl} < {params.min_matches} of {n_cand}",
            model=model, n_candidates=n_cand, n_inliers=n_inl,
        )
    src, dst, dist = src[inl], dst[inl], dist[inl]
    keep = _thin(src, dist, a.shape, params.max_matches_per_pair * (2 if params.subpixel else 1))
    src, dst = src[keep].astype(float), dst[keep].astype(float)

    if params.subpixel:
        src_int = np.round(src)
        _, first = np.unique(src_int, axis=0, return_index=True)
        src_int = src_int[np.sort(first)]  # one template per pixel, in the thinned order
        pred = src_int @ model[:, :2].T + model[:, 2]
        keep, xb, ncc = _refine_all(a, valid_a, b, valid_b, src_int, pred, params.ncc_window_px,
                                    params.ncc_search_px, params.min_ncc)
        keep &= np.hypot(*(xb - pred).T) <= max(params.ransac_threshold_px, 1.0) * 2
        out_a, out_b, ncc = src_int[keep], xb[keep], ncc[keep]
        if len(out_a) < params.min_matches:
            return ImageMatches.empty(
                f"too few points survive sub-pixel refinement: {len(out_a)} < {params.min_matches}",
                model=model, n_candidates=n_cand, n_inliers=n_inl,
            )
        src, dst, ncc = np.array(out_a), np.array(out_b), np.array(ncc)
        keep = _thin(src, -ncc, a.shape, params.max_matches_per_pair)
        src, dst, ncc = src[keep], dst[keep], ncc[keep]
    else:
        ncc = np.full(len(src), np.nan)
    pts_a = src[:, ::-1] + 0.5
    pts_b = dst[:, ::-1] + 0.5
    log.debug("matched %d points (%d candidates, %d inliers)", len(pts_a), n_cand, n_inl)
    return ImageMatches(pts_a, pts_b, ncc, model=model, n_candidates=n_cand, n_inliers=n_inl)
