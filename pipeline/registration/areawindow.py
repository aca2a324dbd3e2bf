"""Working-window steps of the area matcher (:mod:`pipeline.registration.areamatch`).

The search frame resampled onto the reference frame's working window through the pair map,
the coarse shift over the window (whole overlap, else the vote of its blocks), the choice of
the correlation patches, and the pixel helpers they share. Coordinates and shifts are in
pixels of the reference frame, as in :mod:`pipeline.registration.areamatch`.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pipeline.errors import RegistrationError
from pipeline.registration.correlate import masked_ncc, ncc_peaks

_MIN_CELL_PX = 4  # patch centres at least this far apart
_CROP_MARGIN_PX = 12  # of the search frame read around what the working window maps onto
_COARSE_MIN = 0.2  # weakest coarse correlation peak accepted
_COARSE_CLEAR = 0.4  # a weaker peak of the whole overlap is checked by the blocks' vote
_COARSE_BLOCKS = 12  # the coarse correlation votes over about this many blocks of the overlap
_COARSE_BLOCK_PX = 24  # of at least this side (pyramid-level pixels)


def _valid(frame, window=(slice(None), slice(None))) -> np.ndarray:
    """Valid pixels of a frame (finite, not masked) in ``window`` (a pair of slices)."""
    ok = np.isfinite(frame.data[window])
    if frame.mask is not None:
        ok &= ~np.asarray(frame.mask[window], bool)
    return ok


def _flat(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pixels of constant neighbourhoods (no variance over 5 x 5): fill values, scan borders,
    saturated areas. They hold nothing to correlate, but their edges would pull a correlation
    towards aligning the two frames' borders instead of their ground."""
    x = np.where(valid, image, 0.0).astype(np.float32)
    mean = cv2.boxFilter(x, cv2.CV_32F, (5, 5), borderType=cv2.BORDER_REPLICATE)
    sq = cv2.boxFilter(x * x, cv2.CV_32F, (5, 5), borderType=cv2.BORDER_REPLICATE)
    scale = float(np.abs(x[valid]).max()) if valid.any() else 0.0
    return (sq - mean * mean) <= (1e-9 * scale) ** 2 + 1e-30


def _downsample(image: np.ndarray, valid: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Block means over ``factor x factor`` of the valid pixels; a block is valid when all are."""
    if factor == 1:
        return image, valid
    rows, cols = image.shape
    pr, pc = -rows % factor, -cols % factor
    img = np.pad(np.where(valid, image, 0.0), ((0, pr), (0, pc)))
    val = np.pad(valid, ((0, pr), (0, pc)))
    shape = (img.shape[0] // factor, factor, img.shape[1] // factor, factor)
    cnt = val.reshape(shape).sum(axis=(1, 3))
    tot = img.reshape(shape).sum(axis=(1, 3))
    return (tot / np.maximum(cnt, 1)).astype(np.float32), cnt == factor * factor


def _erode(valid: np.ndarray, size: int) -> np.ndarray:
    """True where the ``size x size`` window centred on the pixel is all valid (outside the
    array counts as invalid)."""
    kernel = np.ones((size, size), np.uint8)
    out = cv2.erode(valid.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return out.astype(bool)


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = mask[y + dy, x + dx]`` (False outside)."""
    out = np.zeros_like(mask)
    rows, cols = mask.shape
    ys, yd = slice(max(dy, 0), rows + min(dy, 0)), slice(max(-dy, 0), rows + min(-dy, 0))
    xs, xd = slice(max(dx, 0), cols + min(dx, 0)), slice(max(-dx, 0), cols + min(-dx, 0))
    out[yd, xd] = mask[ys, xs]
    return out


def _pick(admissible: np.ndarray, texture: np.ndarray, n_target: int) -> np.ndarray:
    """Indices ``(row, col)`` of the most textured admissible pixel of each cell of a grid
    sized so that about ``n_target`` cells hold admissible pixels (at most ``n_target``
    points, the most textured first; ties broken by position)."""
    n_adm = int(np.count_nonzero(admissible))
    if n_adm == 0:
        return np.zeros((0, 2), np.int64)
    cell = max(_MIN_CELL_PX, math.floor(math.sqrt(n_adm / max(n_target, 1))))
    rows, cols = admissible.shape
    nr, nc = -(-rows // cell), -(-cols // cell)
    score = np.full((nr * cell, nc * cell), -np.inf, np.float32)
    score[:rows, :cols] = np.where(admissible, texture, -np.inf)
    blocks = score.reshape(nr, cell, nc, cell).transpose(0, 2, 1, 3).reshape(nr, nc, cell * cell)
    best = np.argmax(blocks, axis=2)  # first maximum: deterministic
    value = np.take_along_axis(blocks, best[..., None], axis=2)[..., 0]
    br, bc = np.nonzero(np.isfinite(value))
    k = best[br, bc]
    ys, xs = br * cell + k // cell, bc * cell + k % cell
    order = np.argsort(-value[br, bc], kind="stable")[:n_target]
    order.sort()
    return np.stack([ys[order], xs[order]], axis=1).astype(np.int64)


def _coarse_shift(tmpl, tmpl_v, img, img_v, radius: int):
    """The common shift of a template inside an image ``2 * radius`` larger (valid mode):
    the overlap is cut into blocks, every block correlated over every shift (one batched
    masked NCC) and the shift kept where the blocks agree best (the median of their NCC
    surfaces), so artefacts that fill a few blocks (scan borders, reseau marks, saturated
    patches) cannot carry the result."""
    rows, cols = tmpl.shape
    side = max(_COARSE_BLOCK_PX, math.ceil(math.sqrt(rows * cols / _COARSE_BLOCKS)))
    nr, nc = max(1, rows // side), max(1, cols // side)
    br, bc = rows // nr, cols // nc
    k = 2 * radius + 1
    r0 = np.repeat(np.arange(nr) * br, nc)
    c0 = np.tile(np.arange(nc) * bc, nr)
    t = sliding_window_view(tmpl, (br, bc))[r0, c0]
    tv = sliding_window_view(tmpl_v, (br, bc))[r0, c0]
    im = sliding_window_view(img, (br + k - 1, bc + k - 1))[r0, c0]
    iv = sliding_window_view(img_v, (br + k - 1, bc + k - 1))[r0, c0]
    use = tv.sum(axis=(1, 2)) >= 0.25 * br * bc
    if not use.any():
        use[:] = True
    surf, cnt = masked_ncc(t[use], im[use], tv[use], iv[use], min_overlap=0.0)
    surf = np.where(cnt >= 0.5 * cnt.max(axis=(1, 2), keepdims=True), surf, np.nan)
    with warnings.catch_warnings():  # all-NaN shifts (no block sees them) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        consensus = np.nanmedian(surf, axis=0)
    return ncc_peaks(np.where(np.isfinite(consensus), consensus, -np.inf)[None])


def _windows(largest: int) -> list[int]:
    """Template sides to try, largest first: ``largest``, then smaller by 6 px, down to 9."""
    return [largest] + list(range(largest - 6, 8, -6)) if largest > 9 else [largest]


def _search_on_window(fs, pmap, Y0: int, X0: int, H: int, W: int, gsd_fine: float, gsd_r: float):
    """The search frame ``fs`` resampled onto the working window (origin ``Y0, X0``, shape ``H x W``,
    px) through the pair map, reading only the part the window maps onto (plus a margin for the
    interpolation kernels): ``(S, Sv, s_img, s_bad_cubic, oy, ox, crop_l, crop_s)`` (the crop's
    origin and size in px), or None when the window maps onto no part of ``fs``."""
    ls, ss = fs.camera.lines, fs.camera.samples
    ml, ms = pmap.dense(Y0 + np.arange(H) + 0.5, X0 + np.arange(W) + 0.5)
    seen = (ml > -8.0) & (ml < ls + 8.0) & (ms > -8.0) & (ms < ss + 8.0)
    if not seen.any():
        return None
    oy = max(math.floor(float(ml[seen].min())) - _CROP_MARGIN_PX, 0)
    oy1 = min(math.ceil(float(ml[seen].max())) + _CROP_MARGIN_PX, ls)
    ox = max(math.floor(float(ms[seen].min())) - _CROP_MARGIN_PX, 0)
    ox1 = min(math.ceil(float(ms[seen].max())) + _CROP_MARGIN_PX, ss)
    if oy1 <= oy or ox1 <= ox:
        return None
    crop = (slice(oy, oy1), slice(ox, ox1))
    s_ok = _valid(fs, crop)
    s_img = np.where(s_ok, fs.data[crop], 0.0).astype(np.float32)
    s_ok &= ~_flat(s_img, s_ok)
    scale = gsd_r / gsd_fine if fs.camera.gsd_m() < gsd_r else 1.0
    if scale > 1.25:  # s is finer: low-pass before sampling it at r's spacing
        sigma = 0.5 * math.sqrt(scale * scale - 1.0)
        s_img = cv2.GaussianBlur(s_img, (0, 0), sigma)
    s_bad = (~s_ok).astype(np.float32)
    s_bad_cubic = cv2.dilate(s_bad, np.ones((3, 3), np.uint8))  # the bicubic kernel reaches 1 px further
    crop_l, crop_s = oy1 - oy, ox1 - ox
    mx, my = (ms - (0.5 + ox)).astype(np.float32), (ml - (0.5 + oy)).astype(np.float32)
    np.clip(mx, -8.0, crop_s + 8.0, out=mx)
    np.clip(my, -8.0, crop_l + 8.0, out=my)
    S = remap_rows(s_img, mx, my, cv2.INTER_LINEAR, 0.0)
    Sv = remap_rows(s_bad, mx, my, cv2.INTER_LINEAR, 1.0) <= 1e-6
    return S, Sv, s_img, s_bad_cubic, oy, ox, crop_l, crop_s


_REMAP_LIMIT = 32767  # OpenCV's remap takes source and destination images under SHRT_MAX pixels a side
_REMAP_ROWS = 16384  # output rows per remap call


def remap_rows(img: np.ndarray, mx: np.ndarray, my: np.ndarray, interpolation: int, border: float) -> np.ndarray:
    """``cv2.remap(img, mx, my, interpolation)`` with a constant ``border``, for maps and images of
    any number of rows.

    OpenCV refuses images of 32767 rows or more (many patches stacked in one map, or a long
    line-scan window). The output is made in blocks of rows, each from the source rows its map
    reaches (with the interpolation's reach around them); every output pixel depends only on
    its own map values and the pixels around them, so the result is that of one call.
    ``mx``, ``my``: float32 column / row in ``img`` of every output pixel (0-based pixel
    centres, OpenCV's convention); ``img`` under 32767 columns.
    """
    if img.shape[0] < _REMAP_LIMIT and mx.shape[0] < _REMAP_LIMIT:
        return cv2.remap(img, mx, my, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    out = []
    for r in range(0, mx.shape[0], _REMAP_ROWS):
        bx, by = mx[r:r + _REMAP_ROWS], my[r:r + _REMAP_ROWS]
        finite = by[np.isfinite(by)]
        lo = int(max(0, np.floor(finite.min()) - 3)) if finite.size else 0
        hi = int(min(img.shape[0], np.ceil(finite.max()) + 4)) if finite.size else 1
        if hi - lo >= _REMAP_LIMIT:
            raise RegistrationError(f"a matching window spans {hi - lo} rows of its image in {by.shape[0]} "
                                    f"output rows; OpenCV remaps under {_REMAP_LIMIT}: lower "
                                    f"registration.max_matches_per_pair")
        src = img[lo:max(hi, lo + 1)]
        out.append(cv2.remap(src, bx, by - np.float32(lo), interpolation, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border))
    return np.concatenate(out, axis=0)


def _coarse_peak(T, Tv, S, Sv, f: int, big: int, radius: int, info: dict):
    """``(peak, radius in level px)`` of the coarse shift at pyramid factor ``f``: the whole
    overlap's correlation peak, or the blocks' vote when it is unclear (``info["coarse_by"]``)."""
    Tl, Tlv = _downsample(T, Tv, f)
    Sl, Slv = _downsample(S, Sv, f)
    rl = -(-radius // f)  # ceil
    m0 = big // f  # template = the window less its margin (in level pixels)
    tmpl, tmpl_v = Tl[m0:-m0 or None, m0:-m0 or None], Tlv[m0:-m0 or None, m0:-m0 or None]
    off = m0 - rl
    img, img_v = Sl[off : off + tmpl.shape[0] + 2 * rl, off : off + tmpl.shape[1] + 2 * rl], \
        Slv[off : off + tmpl.shape[0] + 2 * rl, off : off + tmpl.shape[1] + 2 * rl]
    # the whole overlap at once; where that finds no clear peak (artefacts such as scan
    # borders or reseau marks can outweigh the ground), the blocks of the overlap vote
    surf, cnt = masked_ncc(tmpl[None], img[None], tmpl_v[None], img_v[None], min_overlap=0.0)
    peak = ncc_peaks(np.where(cnt >= 0.5 * cnt.max(), surf, -np.inf))
    if peak.on_edge[0] or not peak.score[0] >= _COARSE_CLEAR:
        vote = _coarse_shift(tmpl, tmpl_v, img, img_v, rl)
        if not vote.on_edge[0] and vote.score[0] >= _COARSE_MIN:
            peak = vote
            info["coarse_by"] = "blocks"
    return peak, rl


def _patches(T, Tv, Sv, ti, rho: int, params):
    """``(window px, patch centres)``: the first window of :func:`_windows` that fits enough fully
    valid templates and search windows at the coarse shift ``ti`` (px), else the last one tried."""
    for w in _windows(int(params.ncc_window_px)):
        sw = w + 2 * rho
        admissible = _erode(Tv, w) & _shifted(_erode(Sv, sw), int(ti[0]), int(ti[1]))
        texture = cv2.cornerMinEigenVal(np.ascontiguousarray(T), w, ksize=3)
        pts = _pick(admissible, texture, 2 * int(params.max_matches_per_pair))
        if len(pts) >= params.min_matches:
            break
    return w, pts
