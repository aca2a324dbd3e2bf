"""Cosmic-ray hits found by comparing a frame with the frames that overlap it.

One frame cannot tell a faint hit on a sharp crater rim from the rim itself
(:mod:`pipeline.calibration.cosmics`); a second view of the same ground can, because the
hit is not in it. As in drizzle's ``driz_cr`` (Fruchter & Hook 2002, PASP 114, 144; the
Hubble pipeline's cosmic-ray step for dithered exposures), every overlapping frame is
resampled onto this frame's pixels through the *registered* cameras ("blotted", cubic
kernel), scaled to it by a gain and offset fitted over the overlap, and a pixel is a hit
when

1. it stands out in its own frame: residual over its 3 x 3 median above ``local_sigma``
   (the single-frame detector's limit) times the residual's robust sigma in 32 px blocks;
2. it is brighter than *every* overlapping frame predicts, by more than ``sigma`` times the
   robust sigma of the difference (both frames' noise) plus ``misregistration_px`` times
   the prediction's local gradient (its largest difference to its 8 neighbours): a
   registration error of that many pixels moves an edge by that much (``driz_cr``'s
   "scale" term). The difference is taken after its own 5 x 5 median is removed, so a
   photometric mismatch that varies across the overlap is not read as a hit.

Hits then grow into neighbouring pixels that pass both tests at ``grow`` times the limits
(the rest of a track, charge spill). A pixel no other frame covers, or that is flagged in
every frame covering it, is left to the single-frame detector.

:func:`crosscheck_outliers` is the test on arrays; :func:`crosscheck_frame` runs it on a
calibrated :class:`~pipeline.frame.Frame` with its neighbours and cameras and repairs
what it finds. Run it after registration: with the reported (unregistered) pointing a
frame is off by pixels and the test only loses hits (``misregistration_px`` is the bound).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from pipeline.crosschecking.agreement import overlap_correlations
from pipeline.crosschecking.params import CrosscheckingParams
from pipeline.frame import Frame
from pipeline.geometry.interpolate import interp_grid
from pipeline.geometry.warp import warp_frame
from pipeline.imaging.repair import count_hits, repair_pixels
from pipeline.imaging.stats import block_sigma, local_median

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.geometry.dem import Dem

log = logging.getLogger(__name__)

MIN_OVERLAP_PX = 256
"""Fewer common pixels than this and an overlapping frame is not used."""


@dataclass(frozen=True)
class FrameGround:
    """The ground under one frame's coordinate grid (:func:`frame_ground`): computed once
    per frame and reused for every frame it is compared with.

    ``gl``, ``gs``: the grid's lines and samples (pixel indices; their centres are at +0.5);
    ``xyz``: body-fixed metres, shape ``(len(gl), len(gs), 3)`` (the camera centre where
    nothing is hit); ``seen``: where the ray hit the body (or DEM)."""

    gl: np.ndarray
    gs: np.ndarray
    xyz: np.ndarray
    seen: np.ndarray


def frame_ground(camera, dem: Dem | None = None, step: int = 8) -> FrameGround:
    """Cast ``camera``'s pixel centres on every ``step``-th line and sample (plus the last)
    onto the reference body (or ``dem``); see :func:`frame_coordinates`."""
    lines, samples = camera.shape
    gl = np.unique(np.append(np.arange(0, lines, step), lines - 1))
    gs = np.unique(np.append(np.arange(0, samples, step), samples - 1))
    ll, ss = np.meshgrid(gl + 0.5, gs + 0.5, indexing="ij")
    xyz, hit = camera.image_to_ground_hit(ll, ss, dem=dem)
    seen = np.asarray(hit, bool) & np.all(np.isfinite(xyz), axis=-1)
    xyz = np.where(seen[..., None], xyz, camera.position_m)  # placeholder, masked below
    return FrameGround(gl, gs, xyz, seen)


def frame_coordinates(camera, other, dem: Dem | None = None, step: int = 8, *,
                      ground: FrameGround | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates in ``other`` of every pixel centre of ``camera``'s frame.

    ``camera``'s pixel centres ``(i + 0.5, j + 0.5)`` are cast onto the reference body (or
    ``dem``) and projected into ``other`` (CSM coordinates: ``other``'s first pixel centre
    is ``(0.5, 0.5)``) on a grid of every ``step``-th line and sample plus the last; the
    smooth mapping is interpolated bilinearly in between (< 0.002 px off at step 8 between
    the registered frames of a simulated survey; the tests bound it by 0.005 px).

    Parameters
    ----------
    camera, other : FrameCamera
        The frame whose pixels are mapped, and the frame they are mapped into.
    dem : Dem, optional
        Terrain to cast the pixels onto; default the reference body.
    step : int
        Grid spacing in pixels (1: every pixel exactly).
    ground : FrameGround, optional
        ``frame_ground(camera, dem, step)`` computed before (the same result, without
        casting the frame's grid onto the ground again for every ``other``).

    Returns
    -------
    line, sample : ndarray of float64, shape ``camera.shape``
        NaN where the ground is off the body, hidden from ``other`` (emission >= 90 deg),
        behind it or more than ``2 * step + 2`` px outside its image, and in every grid
        cell with such a corner; coordinates just outside the image are kept.
    """
    lines, samples = camera.shape
    g = ground if ground is not None else frame_ground(camera, dem, step)
    gl, gs, xyz, seen = g.gl, g.gs, g.xyz, g.seen
    line, sample = other.ground_to_image(xyz)
    # nodes far outside ``other`` are dropped: between two of them the interpolation could
    # pass through its image although the ground there is nowhere near it
    margin = 2.0 * step + 2.0  # a new array: ``g.seen`` is shared by every ``other``
    seen = seen & other.visible(xyz) & (np.abs(line - other.lines / 2.0) < other.lines / 2.0 + margin) \
        & (np.abs(sample - other.samples / 2.0) < other.samples / 2.0 + margin)
    rows, cols = np.arange(lines), np.arange(samples)
    return (interp_grid(np.where(seen, line, np.nan), gl, gs, rows, cols),
            interp_grid(np.where(seen, sample, np.nan), gl, gs, rows, cols))


def _gradient(image: np.ndarray) -> np.ndarray:
    """Largest absolute difference of each pixel to its 8 neighbours (edges replicated)."""
    padded = np.pad(image, 1, mode="edge")
    m, n = image.shape
    return np.max(
        [np.abs(image - padded[1 + dl:1 + dl + m, 1 + ds:1 + ds + n]) for dl in (-1, 0, 1) for ds in (-1, 0, 1)],
        axis=0,
    )


def _excess(data: np.ndarray, valid: np.ndarray, blot: np.ndarray, blot_valid: np.ndarray,
            misregistration_px: float) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """How far ``data`` exceeds one overlapping frame's prediction, in noise sigmas after
    the gradient allowance, over the overlap's bounding box ``window``: returns ``(window,
    excess)``, ``+inf`` where that frame does not cover (None: no overlap)."""
    ok = valid & blot_valid
    if ok.sum() < MIN_OVERLAP_PX:
        return None
    rows, cols = np.flatnonzero(ok.any(axis=1)), np.flatnonzero(ok.any(axis=0))
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    ok, data, blot = ok[window], data[window], blot[window]
    gain, offset = np.polyfit(blot[ok].astype(np.float64), data[ok].astype(np.float64), 1)
    prediction = (gain * blot + offset).astype(np.float32)
    diff = np.where(ok, data - prediction, 0.0).astype(np.float32)
    diff = np.where(ok, diff - local_median(diff, 5), 0.0)
    sigma = block_sigma(diff, mask=~ok, floor=np.float32(1e-12))
    out = (diff - misregistration_px * _gradient(prediction)) / sigma
    return window, np.where(ok, out, np.inf).astype(np.float32)


def crosscheck_outliers(
    data: np.ndarray,
    flagged: np.ndarray,
    blots: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    sigma: float = 4.0,
    local_sigma: float = 6.0,
    misregistration_px: float = 0.3,
    grow: float = 0.6,
) -> np.ndarray:
    """Pixels of ``data`` brighter than every overlapping frame shows them (module docstring).

    Parameters
    ----------
    data : ndarray of shape (M, N)
        The frame (any linear unit, e.g. calibrated I/F).
    flagged : ndarray of bool, shape (M, N)
        Pixels already masked or repaired: never tested, never used.
    blots : iterable of (values, valid)
        Each overlapping frame resampled onto this frame's pixel centres (float arrays of
        shape (M, N)) and where that resampling is clean (bool); any linear unit, a gain
        and offset are fitted.
    sigma : float
        Limit on the excess over a prediction, noise sigmas of the difference.
    local_sigma : float
        Limit on the residual over the frame's own 3 x 3 median, robust sigmas.
    misregistration_px : float
        Registration error allowed for, pixels (times the prediction's local gradient).
    grow : float
        Neighbours of a hit join it above ``grow`` times both limits.

    Returns
    -------
    ndarray of bool, shape (M, N)
        New hits (never on ``flagged`` pixels).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scene = np.add.outer(np.arange(64.0), np.arange(64.0)).astype(np.float32)  # a smooth slope
    >>> view = scene + rng.normal(0.0, 1.0, scene.shape).astype(np.float32)
    >>> view[30, 30] += 40.0
    >>> hits = crosscheck_outliers(view, np.zeros(scene.shape, bool), [(scene, np.ones(scene.shape, bool))])
    >>> np.argwhere(hits).tolist()
    [[30, 30]]
    """
    data = np.asarray(data, dtype=np.float32)
    flagged = np.asarray(flagged, dtype=bool)
    valid = ~flagged & np.isfinite(data)
    if not valid.any():
        return np.zeros(data.shape, bool)
    # flagged pixels (off-body regions included) only need a neutral value here
    clean = np.where(valid, data, np.median(data[valid])).astype(np.float32)
    residual = clean - local_median(clean, 3)
    local = np.where(valid, residual / block_sigma(residual, mask=~valid, floor=np.float32(1e-12)), -np.inf)
    excess = np.full(data.shape, np.inf, np.float32)
    covered = np.zeros(data.shape, bool)
    for values, blot_valid in blots:
        found = _excess(clean, valid, np.asarray(values, np.float32), np.asarray(blot_valid, bool), misregistration_px)
        if found is not None:
            window, e = found
            excess[window] = np.minimum(excess[window], e)
            covered[window] |= np.isfinite(e)
    hits = covered & (local > local_sigma) & (excess > sigma)
    reach = covered & (local > grow * local_sigma) & (excess > grow * sigma)  # holds ``hits``
    return ndimage.binary_propagation(hits, structure=np.ones((3, 3), bool), mask=reach)


def _flagged(frame: Frame) -> np.ndarray:
    """Pixels of a calibrated frame that are masked or were repaired."""
    return frame.mask if frame.repaired is None else frame.mask | frame.repaired


def crosscheck_frame(
    frame: Frame,
    others: Sequence[Frame],
    cameras: Mapping[str, object],
    params: CrosscheckingParams | None = None,
    *,
    local_sigma: float = 6.0,
    grow: float = 0.6,
    mask_repaired: bool = False,
    dem: Dem | None = None,
    cosmic: bool = True,
) -> Frame:
    """Find and repair the hits of a calibrated frame that its overlapping frames reveal, and
    measure how well it agrees with them (:func:`~pipeline.crosschecking.agreement.overlap_correlations`).

    Parameters
    ----------
    frame : Frame
        Calibrated (``data``, ``mask``, ``repaired``).
    others : sequence of Frame
        Calibrated frames that may overlap it (those that do not are skipped).
    cameras : mapping of frame id to camera
        Registered cameras; a frame without one here keeps its own ``camera``.
    params : CrosscheckingParams, optional
        ``sigma`` and ``misregistration_px`` of the test; defaults if None.
    local_sigma : float
        The single-frame limit a hit must also pass (the calibration's ``cosmic_sigma``).
    grow : float
        Growth into neighbours at this fraction of the limits (``cosmic_sigfrac``).
    mask_repaired : bool
        Also put the hits in the frame's mask (``calibration.mask_repaired``).
    dem : Dem, optional
        Terrain the frames are projected through (the mosaic's ``dem``); default the
        reference sphere.
    cosmic : bool
        Look for cosmic-ray hits (False: only the agreement is measured, e.g. for film).

    Returns
    -------
    Frame
        With the hits repaired from their neighbours and added to ``repaired``, and QA
        ``crosscheck_cosmic_rays`` (hits), ``crosscheck_cosmic_ray_pixels``,
        ``crosscheck_overlaps`` (frames compared) and ``overlap_correlation`` (the best
        correlation with an overlapping frame; None without a usable overlap).
    """
    params = params or CrosscheckingParams()
    camera = cameras.get(frame.id, frame.camera)
    flagged = _flagged(frame)
    blots = []
    ground = None  # the frame's grid on the ground: once, for all the frames it is compared with
    for other in others:
        other_camera = cameras.get(other.id, other.camera)
        if other.id == frame.id or other.data is None or other_camera is None:
            continue
        ground = ground if ground is not None else frame_ground(camera, dem)
        coords = frame_coordinates(camera, other_camera, dem, ground=ground)
        ortho = warp_frame(other.data, _flagged(other), other_camera, coords=coords, resampling="cubic")
        if ortho.valid.any():
            blots.append((ortho.values, ortho.valid))
    corr = overlap_correlations(frame.data, ~flagged, blots)
    hits = crosscheck_outliers(frame.data, flagged, blots, sigma=params.sigma, local_sigma=local_sigma,
                               misregistration_px=params.misregistration_px, grow=grow) if cosmic \
        else np.zeros(frame.data.shape, bool)
    qa = {"crosscheck_cosmic_rays": count_hits(hits), "crosscheck_cosmic_ray_pixels": int(hits.sum()),
          "crosscheck_overlaps": len(blots), "overlap_correlation": max(corr) if corr else None}
    log.debug("cross-checked %s against %d frames: %s", frame.id, len(blots), qa)
    if not hits.any():
        return frame.replace(qa={**frame.qa, **qa})
    data = repair_pixels(frame.data, hits, avoid=flagged)
    mask = frame.mask | hits if mask_repaired else frame.mask
    repaired = hits if frame.repaired is None else frame.repaired | hits
    return frame.replace(data=data, mask=mask, repaired=repaired, qa={**frame.qa, **qa})
