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
5. Optionally each point is refined to sub-pixel precision: a ``window`` x ``window``
   template centred on the nearest pixel centre of ``a`` is searched for in ``b`` within
   ``search`` pixels of the model's prediction by normalised cross-correlation
   (``cv2.matchTemplate``, ``TM_CCOEFF_NORMED``); the peak is located by a parabola
   through its neighbours in each axis. Points whose peak is weak (``min_ncc``), on the
   edge of the search window or disagreeing with the model are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

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


def _parabola(cm1: float, c0: float, cp1: float) -> float:
    den = cm1 - 2.0 * c0 + cp1
    if den >= 0:  # not a maximum
        return 0.0
    return float(np.clip(0.5 * (cm1 - cp1) / den, -0.5, 0.5))


def _refine(a, valid_a, b, valid_b, xa, xb_pred, window: int, search: int, min_ncc: float):
    """NCC refinement of one point. ``xa`` integer (x, y) in ``a``; ``xb_pred`` float (x, y) in b.

    Returns ``(x_b, y_b, ncc)`` or ``None``.
    """
    h = window // 2
    x0, y0 = int(xa[0]), int(xa[1])
    rows, cols = a.shape
    if x0 - h < 0 or y0 - h < 0 or x0 + h + 1 > cols or y0 + h + 1 > rows:
        return None
    tmpl_valid = valid_a[y0 - h : y0 + h + 1, x0 - h : x0 + h + 1]
    if not tmpl_valid.all():
        return None
    tmpl = a[y0 - h : y0 + h + 1, x0 - h : x0 + h + 1]
    if float(tmpl.std()) <= 1e-12:
        return None
    bx, by = round(xb_pred[0]), round(xb_pred[1])
    r = h + search
    rows_b, cols_b = b.shape
    if bx - r < 0 or by - r < 0 or bx + r + 1 > cols_b or by + r + 1 > rows_b:
        return None
    if not valid_b[by - r : by + r + 1, bx - r : bx + r + 1].all():
        return None
    region = b[by - r : by + r + 1, bx - r : bx + r + 1]
    score = cv2.matchTemplate(region, tmpl, cv2.TM_CCOEFF_NORMED)  # (2*search+1)^2
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    peak = float(score[iy, ix])
    if not np.isfinite(peak) or peak < min_ncc:
        return None
    if ix in (0, score.shape[1] - 1) or iy in (0, score.shape[0] - 1):
        return None  # peak on the edge of the search window: the true peak may lie outside
    dx = _parabola(score[iy, ix - 1], peak, score[iy, ix + 1])
    dy = _parabola(score[iy - 1, ix], peak, score[iy + 1, ix])
    # The parabola is biased towards whole pixels ("pixel locking"); remove the bias by
    # resampling b at the current estimate (cubic spline) and fitting again around 0.
    cx, cy = bx - search + ix + dx, by - search + iy + dy
    spline = ndimage.spline_filter(region.astype(np.float64), order=3, mode="mirror")
    for _ in range(4):
        gy, gx = np.mgrid[-h - 1 : h + 2, -h - 1 : h + 2].astype(np.float64)
        coords = [gy + (cy - (by - r)), gx + (cx - (bx - r))]
        if min(c.min() for c in coords) < 0 or coords[0].max() > 2 * r or coords[1].max() > 2 * r:
            return None
        patch = ndimage.map_coordinates(spline, coords, order=3, mode="mirror", prefilter=False)
        s3 = cv2.matchTemplate(patch.astype(np.float32), tmpl, cv2.TM_CCOEFF_NORMED)
        ddx = _parabola(s3[1, 0], s3[1, 1], s3[1, 2])
        ddy = _parabola(s3[0, 1], s3[1, 1], s3[2, 1])
        cx, cy, peak = cx + ddx, cy + ddy, float(s3[1, 1])
        if abs(ddx) < 2e-3 and abs(ddy) < 2e-3:
            break
    return cx, cy, peak


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
        out_a, out_b, ncc = [], [], []
        seen = set()
        for xa in src:
            xa_int = np.round(xa)
            key = (int(xa_int[0]), int(xa_int[1]))
            if key in seen:
                continue
            seen.add(key)
            pred = model[:, :2] @ xa_int + model[:, 2]
            res = _refine(a, valid_a, b, valid_b, xa_int, pred, params.ncc_window_px, params.ncc_search_px, params.min_ncc)
            if res is None:
                continue
            xb = np.array(res[:2])
            if np.hypot(*(xb - pred)) > max(params.ransac_threshold_px, 1.0) * 2:
                continue
            out_a.append(xa_int)
            out_b.append(xb)
            ncc.append(res[2])
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
