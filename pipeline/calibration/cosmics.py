"""Cosmic-ray hits (and other single-pixel outliers): detection and repair.

Detection is a robust local-median test with L.A.Cosmic's fine-structure discrimination
(van Dokkum 2001, PASP 113, 1420), tuned for undersampled planetary frames. A pixel is
a hit when all of these hold:

1. its residual ``r = image - med3(image)`` exceeds ``sigclip`` noise sigmas ``N``
   (:func:`residual_noise`: a Poisson + read-noise model, or the residual's robust sigma
   in 32 px blocks where scene texture makes it larger) and it has the largest ``|r| / N``
   of its 3 x 3 neighbourhood. A single-pixel hit of amplitude ``A`` gives ``r ~ A``, so
   hits down to ~6 sigma are found (L.A.Cosmic's subsampled Laplacian needs ~20);
2. ``r`` also exceeds ``sigclip`` times the robust sigma of ``r`` in the 9 x 9 box around
   it (texture varies on scales shorter than the noise map's blocks);
3. it is sharper than the optics (:func:`_axis_sharpness`): its neighbours on one side
   of it at least (across a track, or outside the corner where a track turns) hold less
   than half of what a Gaussian PSF of ``psf_fwhm_px`` gives the neighbours of a point
   source (:func:`psf_neighbour_ratio`: 0.29 of the peak for 1.5 px). A blurred edge or
   a blurred small crater shares its excess with all its neighbours. Excesses are taken
   above the local background and its gradient, so a hit on a slope is still sharp;
4. ``r > objlim * F`` with L.A.Cosmic's fine-structure image ``F = med3 - med7(med3)``
   (a blurred point keeps much of its peak in ``med3``; a hit does not).

A hit grows into the connected pixels above ``sigfrac * sigclip`` sigmas that pass tests
2 and 3 at that level themselves (the rest of a track: a crater rim next to a hit fails
them and is left alone), then takes its direct neighbours above the same level (charge
spill). Hits are replaced by the median of their good neighbours and the search repeated
(``niter``), which uncovers what brighter hits hid. The same tests on ``-image`` find
sharp *negative* pixels (dead or cold pixels that no flat caught); both signs are searched
together. Saturated pixels are not repaired before the search: their clipped values are
lower bounds of the truth, so the rest of a track whose core saturated is still found,
and a saturated crater wall leaves no false peak beside it.

Limits: a hit no brighter than the scene's own pixel-scale texture, or one on a sharp
ridge or small bright crater that already shares its neighbours' light, looks like a
surface feature and is kept (README, "What calibration can and cannot correct").
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from pipeline.imaging.repair import repair_pixels
from pipeline.imaging.stats import MAD_TO_SIGMA, block_sigma, fit_noise_model, local_median

QUANTISATION_NOISE_DN = 1.0 / np.sqrt(12.0)
"""Noise of rounding to integer DN: the floor of any noise estimate here, DN."""

MED3_RESIDUAL_GAIN = 0.862
"""Robust sigma of ``x - med3(x)`` per unit sigma of white Gaussian noise ``x``."""

SHARPNESS_FRACTION = 0.5
"""A hit's neighbours hold less than this fraction of what the sharpest PSF gives them."""


def residual_noise(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    gain_e_per_dn: float | None = None,
    read_noise_dn: float | None = None,
) -> np.ndarray:
    """Noise sigma of ``image - med3(image)`` at every pixel, DN.

    The larger of two estimates:

    - a Poisson + read-noise model ``sqrt(a * max(med5(image), 0) + b)``: with a gain,
      ``a = 0.862**2 / gain`` and ``b = (0.862 * read_noise)**2``; without one, ``a`` and
      ``b`` are fitted to the frame's own residuals in 32-pixel blocks
      (:func:`pipeline.imaging.stats.fit_noise_model`). It follows the signal level
      pixel by pixel, across shadow edges and the limb;
    - the residual's robust sigma measured in 32-pixel blocks
      (:func:`pipeline.imaging.stats.block_sigma`), which rises with fine scene texture.

    It is floored at the quantisation noise (``0.862 / sqrt(12)`` DN).

    Parameters
    ----------
    image : ndarray of shape (M, N)
        Bias- and dark-subtracted signal, DN.
    mask : ndarray of bool, optional
        ``True`` marks pixels to ignore when measuring.
    gain_e_per_dn : float, optional
        Detector gain, electrons per DN.
    read_noise_dn : float, optional
        Read noise, DN (0 when not given).

    Returns
    -------
    ndarray of shape (M, N), float32
    """
    img = np.ascontiguousarray(image, dtype=np.float32)
    floor = MED3_RESIDUAL_GAIN * QUANTISATION_NOISE_DN
    residual = img - local_median(img, 3)
    level = local_median(img, 5)
    if gain_e_per_dn is not None:
        a = MED3_RESIDUAL_GAIN**2 / gain_e_per_dn
        b = (MED3_RESIDUAL_GAIN * (read_noise_dn or 0.0)) ** 2
    else:
        a, b = fit_noise_model(residual, level, mask=mask)
    model = np.sqrt(np.maximum(a * level, 0.0) + b)
    return np.maximum(model, block_sigma(residual, floor=floor, mask=mask)).astype(np.float32)


def psf_neighbour_ratio(fwhm_px: float) -> float:
    """Value one pixel from the peak of a Gaussian PSF, relative to the peak.

    ``exp(-4 ln 2 / fwhm**2)``: what the side neighbours of a point source centred on a
    pixel receive relative to that pixel (point-sampled PSF; a pixel-integrated one, or a
    source off the pixel centre, gives the neighbours more, so this is a lower bound).

    Parameters
    ----------
    fwhm_px : float
        PSF full width at half maximum, pixels (> 0).

    Returns
    -------
    float
        Between 0 (infinitely sharp) and 1 (very blurred); 0.29 for 1.5 px.
    """
    return float(np.exp(-4.0 * np.log(2.0) / fwhm_px**2))


def _axis_sharpness(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """How much of a pixel's excess its neighbours share, where they share least.

    Excesses are above a local background plane: the median of the 16 pixels two steps
    away, tilted by the median gradient across that ring (the 5 differences between its
    opposite sides along each axis, which one track crossing the ring cannot move). Of the
    following ratios to the centre's excess the smallest is returned:

    - the mean of the two side neighbours along lines, and along samples (a track in any
      direction leaves one of the pairs dark);
    - for each of the 4 L-shaped corners a track can turn at (one neighbour along lines,
      one along samples), the largest of the two opposite side neighbours and of the
      diagonal pixel between the two: all dark at the corner of a track, never all dark
      around a blurred point, however it sits on the pixel grid.

    About 0 for a hit, about :func:`psf_neighbour_ratio` or more for a feature blurred by
    the optics; ``inf`` for a pixel not above its background at all.
    """
    padded = np.pad(image, 2, mode="reflect")
    offsets = np.arange(-2, 3)
    dl, ds = np.meshgrid(offsets, offsets, indexing="ij")
    ring = (np.abs(dl) == 2) | (np.abs(ds) == 2)
    r, c = rows + 2, cols + 2
    background = np.median(padded[r[:, None] + dl[ring], c[:, None] + ds[ring]], axis=1)
    across = padded[r[:, None] + offsets, c[:, None] + 2] - padded[r[:, None] + offsets, c[:, None] - 2]
    down = padded[r[:, None] + 2, c[:, None] + offsets] - padded[r[:, None] - 2, c[:, None] + offsets]
    per_sample, per_line = np.median(across, axis=1) / 4.0, np.median(down, axis=1) / 4.0

    def excess(dr: int, dc: int) -> np.ndarray:
        return padded[r + dr, c + dc] - background - dr * per_line - dc * per_sample

    shared = [0.5 * (excess(0, -1) + excess(0, 1)), 0.5 * (excess(-1, 0) + excess(1, 0))]
    for v in (-1, 1):
        for h in (-1, 1):
            shared.append(np.maximum.reduce([excess(0, -h), excess(-v, 0), excess(v, h)]))
    centre = excess(0, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(centre > 0, np.minimum.reduce(shared) / centre, np.inf)


def _local_sigma(residual: np.ndarray, rows: np.ndarray, cols: np.ndarray, half: int = 4) -> np.ndarray:
    """Robust sigma of ``residual`` in the (2*half+1)^2 box around each pixel, minus its 3x3 core."""
    padded = np.pad(residual, half, mode="reflect")
    offsets = np.arange(-half, half + 1)
    dl, ds = np.meshgrid(offsets, offsets, indexing="ij")
    outer = (np.abs(dl) > 1) | (np.abs(ds) > 1)
    windows = padded[rows[:, None] + half + dl[outer], cols[:, None] + half + ds[outer]]
    med = np.median(windows, axis=1, keepdims=True)
    return MAD_TO_SIGMA * np.median(np.abs(windows - med), axis=1)


def _fine_structure(m3: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``med3 - med7(med3)`` at the given pixels only (a full 7x7 median is slow)."""
    padded = np.pad(m3, 3, mode="reflect")
    offsets = np.arange(-3, 4)
    dl, ds = np.meshgrid(offsets, offsets, indexing="ij")
    windows = padded[rows[:, None] + 3 + dl.ravel(), cols[:, None] + 3 + ds.ravel()]
    return m3[rows, cols] - np.median(windows, axis=1)


def _dilate(mask: np.ndarray) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _sharp_candidates(
    work: np.ndarray,
    m3: np.ndarray,
    snr: np.ndarray,
    noise: np.ndarray,
    candidates: np.ndarray,
    sigclip: float,
    psf_ratio: float,
    objlim: float | None,
) -> np.ndarray:
    """Of the ``candidates`` (bool map), those passing the texture test at ``sigclip``, the
    sharpness test and, unless ``objlim`` is None, the fine-structure test; for positive
    outliers of ``work`` (pass ``-work``, ``-m3``, ``-snr`` for negative ones)."""
    rows, cols = np.nonzero(candidates)
    if rows.size:
        # scene texture varies on scales shorter than the noise map's blocks
        residual = work - m3
        keep = residual[rows, cols] > sigclip * _local_sigma(residual, rows, cols)
        rows, cols = rows[keep], cols[keep]
    if rows.size:
        keep = _axis_sharpness(work, rows, cols) < SHARPNESS_FRACTION * psf_ratio
        rows, cols = rows[keep], cols[keep]
    if rows.size and objlim is not None:
        keep = snr[rows, cols] > objlim * _fine_structure(m3, rows, cols) / noise[rows, cols]
        rows, cols = rows[keep], cols[keep]
    passed = np.zeros(work.shape, dtype=bool)
    passed[rows, cols] = True
    return passed


def _grow_track(
    hits: np.ndarray,
    work: np.ndarray,
    m3: np.ndarray,
    snr: np.ndarray,
    noise: np.ndarray,
    allowed: np.ndarray,
    level: float,
    psf_ratio: float,
) -> np.ndarray:
    """Grow ``hits`` through connected ``allowed`` pixels above ``level`` sigmas that are
    as sharp as a hit themselves (texture and sharpness tests at ``level``)."""
    reach = allowed & (snr > level)
    tested = np.zeros(hits.shape, dtype=bool)
    passed = np.zeros(hits.shape, dtype=bool)
    while True:
        border = _dilate(hits) & reach & ~hits
        fresh = border & ~tested
        if fresh.any():
            passed |= _sharp_candidates(work, m3, snr, noise, fresh, level, psf_ratio, None)
            tested |= fresh
        joining = border & passed
        if not joining.any():
            return hits
        hits = hits | joining


def detect_outliers(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    saturated: np.ndarray | None = None,
    negative: bool = True,
    noise: np.ndarray | float | None = None,
    sigclip: float = 6.0,
    sigfrac: float = 0.6,
    objlim: float = 2.0,
    niter: int = 4,
    psf_fwhm_px: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Find outliers sharper than the optics can make: cosmic-ray hits (and hot pixels)
    above the scene and, optionally, cold pixels below it.

    Both signs are searched together, each iteration seeding only at the pixel whose
    ``|r| / N`` is largest in its 3 x 3 neighbourhood, so the neighbours of a deep cold
    pixel are not taken for hits (nor those of a hit for cold pixels).

    Parameters
    ----------
    image : ndarray of shape (M, N)
        Bias/dark-subtracted, flat-fielded frame, DN (any linear unit matching ``noise``).
    mask : ndarray of bool, optional
        Pixels already known to be invalid (saturated, bad): never reported, never used
        to repair; nothing is reported right next to a cluster of them unless they are
        ``saturated``.
    saturated : ndarray of bool, optional
        Those of the ``mask`` pixels whose values are lower bounds (clipped at the
        detector's full scale): kept as they are while searching instead of being
        repaired, so the unsaturated rest of a hit beside them is found.
    negative : bool
        Also look for negative outliers.
    noise : ndarray of shape (M, N) or float, optional
        Noise sigma of ``image - med3(image)`` (:func:`residual_noise`); measured from the
        image when not given.
    sigclip : float
        Detection limit, noise sigmas.
    sigfrac : float
        A hit grows along its track through pixels above ``sigfrac * sigclip`` sigmas that
        are as sharp as a hit, then takes its neighbours above that level (charge spill).
    objlim : float
        Minimum ratio of the residual to L.A.Cosmic's fine structure of a hit's first
        pixel (a blurred point keeps much of its peak in ``med3``).
    niter : int
        Detect-repair iterations.
    psf_fwhm_px : float
        FWHM of the sharpest PSF the optics make, pixels: features at least this blurred
        are never reported.

    Returns
    -------
    positive, negative : ndarray of bool, shape (M, N)
        ``True`` on every pixel of every hit (all ``False`` for ``negative`` when not
        searched).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).normal(100.0, 3.0, (64, 64)).astype(np.float32)
    >>> img[20, 30] += 60.0
    >>> img[40, 10] -= 60.0
    >>> pos, neg = detect_outliers(img)
    >>> np.argwhere(pos).tolist(), np.argwhere(neg).tolist()
    ([[20, 30]], [[40, 10]])
    """
    known = np.zeros(np.shape(image), bool) if mask is None else np.asarray(mask, dtype=bool)
    clipped = np.zeros_like(known) if saturated is None else known & np.asarray(saturated, dtype=bool)
    work = repair_pixels(image, known & ~clipped, avoid=clipped)
    if noise is None:
        noise = residual_noise(work, known)
    noise = np.broadcast_to(np.asarray(noise, dtype=np.float32), work.shape)
    signs = (1.0, -1.0) if negative else (1.0,)
    found = {sign: np.zeros(work.shape, dtype=bool) for sign in (1.0, -1.0)}
    psf_ratio = psf_neighbour_ratio(psf_fwhm_px)
    # Around clusters of repaired invalid pixels the repaired plateau is no model of the
    # scene: nothing is detected right next to them.
    repaired = known & ~clipped
    cluster = repaired & (cv2.filter2D(repaired.astype(np.float32), -1, np.ones((3, 3), np.float32)) > 1.5)
    quiet = known | _dilate(cluster)
    for _ in range(niter):
        m3 = local_median(work, 3)
        snr = (work - m3) / noise
        strength = np.where(known, 0.0, np.abs(snr) if negative else snr).astype(np.float32)
        seeds = (strength >= cv2.dilate(strength, np.ones((3, 3), np.uint8))) & ~quiet
        seeds &= ~(found[1.0] | found[-1.0])
        new = False
        for sign in signs:
            w, m, s = sign * work, sign * m3, sign * snr
            hits = _sharp_candidates(w, m, s, noise, seeds & (s > sigclip), sigclip, psf_ratio, objlim)
            if not hits.any():
                continue
            level = sigfrac * sigclip
            hits = _grow_track(hits, w, m, s, noise, ~known & ~found[sign], level, psf_ratio)
            hits |= _dilate(hits) & (s > level) & ~known  # charge spill: one step
            found[sign] |= hits
            new = True
        if not new:
            break
        work = repair_pixels(work, found[1.0] | found[-1.0], avoid=known)
    return found[1.0], found[-1.0]


def detect_cosmics(image: np.ndarray, mask: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
    """Cosmic-ray hits only: :func:`detect_outliers` without the negative search.

    ``kwargs`` are those of :func:`detect_outliers` (``noise``, ``sigclip``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.random.default_rng(0).normal(100.0, 3.0, (64, 64)).astype(np.float32)
    >>> img[20, 30] += 60.0
    >>> np.argwhere(detect_cosmics(img)).tolist()
    [[20, 30]]
    """
    return detect_outliers(image, mask, negative=False, **kwargs)[0]
