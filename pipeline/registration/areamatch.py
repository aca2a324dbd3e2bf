"""Tie points of two frames by area correlation, guided by their cameras (ISIS pointreg, ASP).

The a-priori cameras already put every point of one frame within tens of pixels of its
place in the other. So instead of finding features anywhere, this matcher *predicts* the
correspondence and measures the small error left, in the images' own pixels:

1. **Pair map.** The ground under a lattice of image points of the reference frame ``r``
   (every ``g`` pixels, ``g`` ~ 1/64 of the frame, extended a margin beyond it) is projected
   into the search frame ``s``: ``(line_r, sample_r) -> image_to_ground (reference
   ellipsoid) -> s.ground_to_image``. Bilinear interpolation of that lattice is the
   a-priori map ``M`` from ``r``'s to ``s``'s image coordinates (:class:`PairMap`). The
   reference is the frame with the coarser ground sample distance; a finer search frame is
   low-passed first.
2. **Search image.** ``s`` resampled through ``M`` onto ``r``'s pixel grid over the
   predicted overlap (one ``cv2.remap``): both images now share ``r``'s geometry, so what
   is left between them is the misregistration, nearly a translation.
3. **Coarse shift.** One masked NCC (FFT, Padfield 2012) of the whole overlap over every
   shift within the pointing uncertainty (``3 * pointing_sigma_deg`` per frame, both frames),
   on a 2^L pyramid level when the overlap is large.
4. **Patches.** Up to ``2 * max_matches_per_pair`` template centres spread over the overlap
   on a grid of cells (the most textured pixel of each cell: ``cv2.cornerMinEigenVal``),
   each ``ncc_window_px`` square, searched ``ncc_search_px`` (plus the coarse level's
   uncertainty) around the coarse shift: one batched masked NCC for all of them, integer
   peak plus parabola. Peaks on the search window's edge or below ``min_ncc`` go.
5. **Robust model.** An affine model of the offsets (MAGSAC++, ``ransac_threshold_px``,
   seeded) removes the wrong peaks.
6. **Sub-pixel.** Least-squares matching (shift, gain, offset) of all inliers at once,
   resampling ``s`` through ``M`` with bicubic interpolation (:func:`lsm_refine`).

A tie point is then ``(p, M(p + d))``: a pixel centre ``p`` of ``r`` and where its content
lies in ``s``. Because the search image was built with the same map, errors of the
a-priori cameras or of the reference surface do not bias it.

Coordinates are CSM image coordinates (first pixel centre at ``(0.5, 0.5)``), ``(line,
sample)``; shifts are in pixels of the reference frame.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pipeline.registration.areawindow import (
    _COARSE_MIN,
    _coarse_peak,
    _flat,
    _patches,
    _search_on_window,
    _valid,
    remap_rows,
)
from pipeline.registration.correlate import lsm_refine, masked_ncc, ncc_peaks
from pipeline.registration.features import _thin
from pipeline.registration.pairmap import ExactPairMap, PairMap, pair_map

log = logging.getLogger(__name__)

__all__ = ["AreaMatches", "PairMap", "match_frames_area", "search_radius_px"]

_COARSE_MAX_PX = 256  # the coarse correlation works on a pyramid level at most this large
_MIN_SPREAD_PX = 4.0  # points spread less across their main direction: a similarity, not an affine model


@dataclass(frozen=True, eq=False)
class AreaMatches:
    """Tie points of a frame pair from :func:`match_frames_area`, in the pair's order.

    Attributes
    ----------
    img_i, img_j : ndarray of float64, shape (n, 2)
        CSM ``(line, sample)`` in each frame.
    ncc : ndarray of float64, shape (n,)
        Correlation of each tie point's patches at the final shift.
    offset_px : (float, float)
        Median misregistration of frame ``j`` against ``i`` before adjustment, ``(line,
        sample)`` pixels of the reference frame (sign: ``j``'s content lies at the a-priori
        position plus this offset).
    resolution_m : float
        Ground sample distance of the reference frame (m).
    n_candidates, n_inliers : int
        Patches correlated, and those consistent with the robust model.
    reason : str
        Empty on success, else why there are no tie points.
    """

    img_i: np.ndarray
    img_j: np.ndarray
    ncc: np.ndarray
    offset_px: tuple[float, float] = (math.nan, math.nan)
    resolution_m: float = math.nan
    n_candidates: int = 0
    n_inliers: int = 0
    reason: str = ""
    coarse: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.img_i)

    @classmethod
    def empty(cls, reason: str, **kw) -> AreaMatches:
        """No matches, with the reason."""
        z = np.zeros((0, 2))
        return cls(z, z.copy(), np.zeros(0), reason=reason, **kw)


def search_radius_px(cam, pointing_sigma_deg: float) -> int:
    """Largest misregistration (pixels of ``cam``) two frames with independent pointing
    errors of ``pointing_sigma_deg`` per axis can show: ``sqrt(2) * 3 sigma`` times the
    focal length in pixels (altitude over ground sample distance), plus 3 pixels."""
    alt = float(np.linalg.norm(cam.position_m)) - float(cam.radii_m[0])
    focal_px = alt / cam.gsd_m()
    return math.ceil(math.sqrt(2.0) * math.tan(math.radians(3.0 * pointing_sigma_deg)) * focal_px) + 3


def _robust_model(src: np.ndarray, dst: np.ndarray, threshold: float, seed: int):
    """``(model (2, 3), inlier mask)`` of ``src -> dst`` (OpenCV ``(x, y)``): an affine model by
    MAGSAC++ when the points spread in two dimensions, a similarity (rotation, scale,
    translation) by RANSAC when they lie nearly on a line (a thin overlap), where an affine
    model is degenerate. Seeded: same points, same result."""
    cv2.setRNGSeed(int(seed) % (2**31))
    centred = src - src.mean(axis=0)
    minor = math.sqrt(max(float(np.linalg.eigvalsh(centred.T @ centred / max(len(src), 1))[0]), 0.0))
    if minor >= _MIN_SPREAD_PX:
        return cv2.estimateAffine2D(src, dst, method=cv2.USAC_MAGSAC, ransacReprojThreshold=threshold,
                                    maxIters=10000, confidence=0.999)
    return cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold,
                                       maxIters=5000, confidence=0.999)


def match_frames_area(frame_i, frame_j, params, seed: int = 0, dem=None) -> AreaMatches:
    """Tie points of two overlapping frames by camera-guided area correlation.

    Parameters
    ----------
    frame_i, frame_j : Frame
        Pixels loaded (``data``; ``mask`` True = invalid) and cameras (any kind with
        ``image_to_ground_hit``, ``ground_to_image``, ``visible``, ``gsd_m``).
    params : RegistrationParams
        ``ncc_window_px``, ``ncc_search_px``, ``min_ncc``, ``min_matches``,
        ``max_matches_per_pair``, ``ransac_threshold_px``, ``subpixel`` and
        ``pointing_sigma_deg`` (the coarse search radius, :func:`search_radius_px`).
    seed : int
        Seed of the robust model (``cv2.setRNGSeed``).
    dem : Dem, optional
        Terrain of the pair map (default the reference ellipsoid): with relief, the map then
        predicts each point's parallax between the two views.

    Returns
    -------
    AreaMatches
        In the order ``(frame_i, frame_j)``; empty with a ``reason`` when the pair does not tie.
    """
    gsd_i, gsd_j = frame_i.camera.gsd_m(), frame_j.camera.gsd_m()
    swap = gsd_j > 1.05 * gsd_i  # the reference is the coarser frame
    fr, fs = (frame_j, frame_i) if swap else (frame_i, frame_j)
    m = _match(fr, fs, params, seed, min(gsd_i, gsd_j), max(gsd_i, gsd_j), dem)
    if not swap or not len(m):
        return m
    off = (-m.offset_px[0], -m.offset_px[1])
    return AreaMatches(m.img_j, m.img_i, m.ncc, off, m.resolution_m, m.n_candidates, m.n_inliers, m.reason,
                       m.coarse)


def _match(fr, fs, params, seed: int, gsd_fine: float, gsd_r: float, dem=None) -> AreaMatches:
    cam_r, cam_s = fr.camera, fs.camera
    w = int(params.ncc_window_px)
    h = w // 2
    radius = search_radius_px(cam_r, params.pointing_sigma_deg)
    level = 0
    info = {"search_radius_px": radius}
    kw = {"resolution_m": gsd_r}

    pmap = pair_map(cam_r, cam_s, margin_px=2 * radius + w + 8, dem=dem)
    # the predicted overlap in r: lattice nodes that land inside s (and inside r)
    ls, ss = cam_s.lines, cam_s.samples
    nl = pmap.origin[0] + pmap.step[0] * np.arange(pmap.line.shape[0])
    ns = pmap.origin[1] + pmap.step[1] * np.arange(pmap.line.shape[1])
    in_r = (nl[:, None] >= 0) & (nl[:, None] <= cam_r.lines) & (ns[None, :] >= 0) & (ns[None, :] <= cam_r.samples)
    in_s = (pmap.line >= 0) & (pmap.line <= ls) & (pmap.sample >= 0) & (pmap.sample <= ss)
    a, b = np.nonzero(in_r & in_s)
    if a.size == 0:
        return AreaMatches.empty("the frames' images do not overlap (a-priori cameras)", **kw)
    pad = radius + math.ceil(max(pmap.step))
    y0 = max(math.floor(nl[a].min()) - pad, 0)
    y1 = min(math.ceil(nl[a].max()) + pad, cam_r.lines)
    x0 = max(math.floor(ns[b].min()) - pad, 0)
    x1 = min(math.ceil(ns[b].max()) + pad, cam_r.samples)

    # level of the coarse search: the overlap at most _COARSE_MAX_PX, the radius >= 3 px there
    while (max(y1 - y0, x1 - x0) >> level) > _COARSE_MAX_PX and (radius >> (level + 1)) >= 3:
        level += 1
    f = 1 << level
    rho = int(params.ncc_search_px) + f
    big = radius + rho + h + 2  # the working window: the overlap grown by everything a search may reach
    Y0, X0 = y0 - big, x0 - big
    H, W = (y1 - y0) + 2 * big, (x1 - x0) + 2 * big

    # the reference frame on the working window (invalid outside the image)
    T = np.zeros((H, W), np.float32)
    Tv = np.zeros((H, W), bool)
    sy0, sy1, sx0, sx1 = max(Y0, 0), min(Y0 + H, cam_r.lines), max(X0, 0), min(X0 + W, cam_r.samples)
    crop_ok = _valid(fr, (slice(sy0, sy1), slice(sx0, sx1)))
    T[sy0 - Y0 : sy1 - Y0, sx0 - X0 : sx1 - X0] = np.where(crop_ok, fr.data[sy0:sy1, sx0:sx1], 0.0)
    Tv[sy0 - Y0 : sy1 - Y0, sx0 - X0 : sx1 - X0] = crop_ok
    Tv &= ~_flat(T, Tv)

    # the search frame resampled onto the same window through the pair map
    resampled = _search_on_window(fs, pmap, Y0, X0, H, W, gsd_fine, gsd_r)
    if resampled is None:
        return AreaMatches.empty("the frames' images do not overlap (a-priori cameras)", **kw)
    S, Sv, s_img, s_bad_cubic, oy, ox, crop_l, crop_s = resampled
    common = Tv & Sv
    if common.sum() < 4 * w * w:
        return AreaMatches.empty(f"common valid area too small ({int(common.sum())} px)", **kw)

    # 3. coarse shift: the whole overlap at pyramid level `level`
    peak, rl = _coarse_peak(T, Tv, S, Sv, f, big, radius, info)
    coarse_score = float(peak.score[0])
    t = (peak.shift[0] - rl) * f  # (row, col) in r pixels
    info.update(level=level, coarse_ncc=round(coarse_score, 3), coarse_shift_px=[round(float(v), 2) for v in t])
    if not np.isfinite(coarse_score) or coarse_score < _COARSE_MIN:
        return AreaMatches.empty(f"no correlation peak within {radius} px of the a-priori position "
                                 f"(best NCC {coarse_score:.2f})", coarse=info, **kw)
    if peak.on_edge[0]:
        return AreaMatches.empty(f"the correlation peak is at the edge of the {radius} px search: the "
                                 f"misregistration may exceed it (raise pointing_sigma_deg)", coarse=info, **kw)

    # 4. patches: templates fully valid, their search windows fully valid; in a narrow
    # overlap (small frames) the window shrinks until enough patches fit
    ti = np.rint(t).astype(int)
    w, pts = _patches(T, Tv, Sv, ti, rho, params)
    h, sw = w // 2, w + 2 * rho
    n_cand = len(pts)
    kw["n_candidates"] = n_cand
    info["window_px"] = w
    if n_cand < params.min_matches:
        return AreaMatches.empty(f"too few usable patches in the overlap: {n_cand} < {params.min_matches} "
                                 f"(window {w} px)", coarse=info, **kw)
    py, px = pts[:, 0], pts[:, 1]
    tmpls = sliding_window_view(T, (w, w))[py - h, px - h]
    wins = sliding_window_view(S, (sw, sw))[py + ti[0] - h - rho, px + ti[1] - h - rho]
    surf, _ = masked_ncc(tmpls, wins, min_overlap=0.9)
    peaks = ncc_peaks(surf)
    d = ti[None, :] + peaks.shift - rho
    good = ~peaks.on_edge & (peaks.score >= params.min_ncc)
    if good.sum() < params.min_matches:
        return AreaMatches.empty(f"too few correlation peaks: {int(good.sum())} < {params.min_matches} of "
                                 f"{n_cand} patches", coarse=info, **kw)

    # 5. robust model of the offsets
    src = np.stack([px, py], axis=1).astype(np.float64)[good]
    dst = src + d[good][:, ::-1]
    model, inl = _robust_model(src, dst, float(params.ransac_threshold_px), seed)
    if model is None or inl is None:
        return AreaMatches.empty("robust estimation found no consistent model", coarse=info, **kw)
    idx = np.flatnonzero(good)[inl.ravel().astype(bool)]
    kw["n_inliers"] = n_inl = int(idx.size)
    if n_inl < params.min_matches:
        return AreaMatches.empty(f"too few consistent matches: {n_inl} < {params.min_matches} of "
                                 f"{int(good.sum())}", coarse=info, **kw)
    # at most 1.25x the points wanted go on to the sub-pixel step (spread, best peaks first)
    sub = _thin(np.stack([px[idx], py[idx]], axis=1).astype(float), -peaks.score[idx], (H, W),
                math.ceil(1.25 * params.max_matches_per_pair))
    idx = idx[sub]
    py, px, d, tmpls = py[idx], px[idx], d[idx], tmpls[idx]
    score = peaks.score[idx]
    centre = np.stack([Y0 + py + 0.5, X0 + px + 0.5], axis=1)  # r's CSM coordinates of the templates

    # 6. sub-pixel: least squares through the pair map, bicubic, all points at once
    if params.subpixel:
        # on the ellipsoid the map is affine over a patch: its value at the patch centre (exactly
        # as the tie point is computed) plus the Jacobian there times the pixel offset. Through a
        # DEM it is not (relief parallax bends it within a patch), nor for an exact map (a push
        # frame's jumps at framelet boundaries): the map is then evaluated at every patch pixel.
        # The affine shortcut through a DEM biased tie points between oblique views seen from
        # opposite sides by -0.27 px median along the look direction (``oblique_relief``,
        # images consistent by construction), because texture sits where parallax bends.
        exact = isinstance(pmap, ExactPairMap) or dem is not None
        grid = np.arange(-h - 1, h + 2, dtype=np.float64)
        gy, gx = np.meshgrid(grid, grid, indexing="ij")
        n = len(centre)
        jac = pmap.jacobian(centre[:, 0] + d[:, 0], centre[:, 1] + d[:, 1])  # (n, 2, 2)
        dl = jac[:, 0, 0, None, None] * gy + jac[:, 0, 1, None, None] * gx
        ds = jac[:, 1, 0, None, None] * gy + jac[:, 1, 1, None, None] * gx

        def maps(shift, deform):
            if deform is None:
                ey, ex = gy, gx
            else:
                ey = deform[:, 0, 0, None, None] * gy + deform[:, 0, 1, None, None] * gx
                ex = deform[:, 1, 0, None, None] * gy + deform[:, 1, 1, None, None] * gx
            if exact:  # the map bends or jumps inside a patch: every pixel through it
                cl = cs = 0.0
                el, es = pmap.at(centre[:, 0, None, None] + shift[:, 0, None, None] + ey,
                                 centre[:, 1, None, None] + shift[:, 1, None, None] + ex)
            else:
                cl, cs = pmap.at(centre[:, 0] + shift[:, 0], centre[:, 1] + shift[:, 1])
                cl, cs = cl[:, None, None], cs[:, None, None]
                if deform is None:
                    el, es = dl, ds
                else:  # the template's offsets deformed, then through the map's Jacobian
                    el = jac[:, 0, 0, None, None] * ey + jac[:, 0, 1, None, None] * ex
                    es = jac[:, 1, 0, None, None] * ey + jac[:, 1, 1, None, None] * ex
            mxx = (cs - (0.5 + ox) + es).reshape(n * (w + 2), w + 2).astype(np.float32)
            myy = (cl - (0.5 + oy) + el).reshape(n * (w + 2), w + 2).astype(np.float32)
            np.clip(mxx, -8.0, crop_s + 8.0, out=mxx)
            np.clip(myy, -8.0, crop_l + 8.0, out=myy)
            return mxx, myy

        def sample(shift, deform):
            return remap_rows(s_img, *maps(shift, deform), cv2.INTER_CUBIC, 0.0).reshape(n, w + 2, w + 2)

        def valid(shift, deform):
            bad = remap_rows(s_bad_cubic, *maps(shift, deform), cv2.INTER_LINEAR, 1.0)
            return bad.reshape(n, -1).max(axis=1) <= 1e-6

        ref = lsm_refine(tmpls, sample, d, valid=valid)
        d_ref, score, ok, quality = ref.shift, ref.score, ref.ok, ref.sigma_px
        pred = (model[:, :2] @ np.stack([px, py]).astype(np.float64) + model[:, 2:]).T[:, ::-1] \
            - np.stack([py, px], axis=1)
        ok &= (score >= params.min_ncc) & (np.hypot(*(d_ref - pred).T) <= 2.0 * max(params.ransac_threshold_px, 1.0))
        if ok.sum() < params.min_matches:
            return AreaMatches.empty(f"too few points survive sub-pixel refinement: {int(ok.sum())} < "
                                     f"{params.min_matches}", coarse=info, **kw)
        centre, d, score, quality = centre[ok], d_ref[ok], score[ok], quality[ok]
    else:
        quality = -score
    keep = _thin(centre[:, ::-1], quality, (cam_r.lines, cam_r.samples), int(params.max_matches_per_pair))
    centre, d, score = centre[keep], d[keep], score[keep]
    sl, s_s = pmap.at(centre[:, 0] + d[:, 0], centre[:, 1] + d[:, 1])
    med = np.median(d, axis=0)
    log.debug("area match %s-%s: %d tie points, level %d, coarse %s, median offset %.2f, %.2f px",
              fr.id, fs.id, len(centre), level, info["coarse_shift_px"], *med)
    return AreaMatches(centre, np.stack([sl, s_s], axis=1), score, (float(med[0]), float(med[1])), gsd_r,
                       n_cand, n_inl, "", info)
