"""Tie points between two overlapping frames: one task of the registration graph per pair.

``match_pair(frame_i, frame_j, pair, cfg, seed)`` (pure, picklable inputs and output) runs
the matcher that ``cfg.matcher`` names in :data:`MATCHERS`:

``area`` (default)
    Camera-guided area correlation in the frames' own pixels
    (:func:`pipeline.registration.areamatch.match_frames_area`): the a-priori cameras
    predict where each point of one frame lies in the other, one masked NCC of the whole
    overlap finds the common shift, a grid of patches is correlated around it in one
    batched call, an affine MAGSAC++ model removes wrong peaks and least-squares matching
    refines all points at once. Nothing is resampled but the overlap of one frame, and the
    cost grows with the overlap, not with the frames.
``features``
    The frames orthorectified onto a local map grid over their overlap, features
    (``cfg.detector``) matched by descriptor, MAGSAC++ and sub-pixel NCC refinement
    (:func:`pipeline.registration.features.match_images`):

    1. A **local map grid** is laid over the overlap: a Lambert azimuthal equal-area CRS on
       the Moon sphere centred on the overlap, pixel size the coarser frame's ground sample
       distance times ``match_resolution_factor``, extent the overlap polygon plus a margin
       for the pointing uncertainty (capped at ``max_match_size_px`` per side by coarsening).
    2. Both frames are **orthorectified** onto it with their current cameras
       (:func:`pipeline.geometry.warp.orthorectify`), which removes the scale,
       rotation and perspective differences between them: what is left is the small offset
       caused by pointing errors.
    3. :func:`~pipeline.registration.features.match_images` finds features, keeps ratio-test
       matches consistent with a MAGSAC++ affine model and refines them to sub-pixel precision
       by normalised cross-correlation.
    4. Each match goes back to **image coordinates of both frames**: local grid (row, col) ->
       projected (x, y) -> lon/lat -> body-fixed xyz on the reference surface -> each camera's
       ``ground_to_image``. Because both frames were resampled with the same cameras, the
       surface height used does not bias the tie points.

A pair that yields too few matches is not an error: the result is an empty
:class:`PairMatches` whose ``reason`` says why.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import LambertAzimuthalEqualAreaConversion

from pipeline.errors import GeometryError
from pipeline.geometry.body import lonlat_to_xyz_deg, xyz_to_lonlat_deg
from pipeline.geometry.footprint import footprint, overlap_polygon
from pipeline.geometry.grid import MOON_GEOGRAPHIC, MapGrid
from pipeline.geometry.overlap import Pair
from pipeline.geometry.warp import orthorectify
from pipeline.registration.areamatch import match_frames_area
from pipeline.registration.detectors import DETECTORS, available_detectors, check_detector
from pipeline.registration.features import ImageMatches, match_images

log = logging.getLogger(__name__)

__all__ = [
    "DETECTORS",
    "MATCHERS",
    "PairMatches",
    "available_detectors",
    "check_detector",
    "local_grid",
    "match_pair",
    "pair_seed",
]


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class PairMatches:
    """Tie points between frames ``i`` and ``j`` (a pure value, picklable).

    Attributes
    ----------
    i, j : int
        Indices of the frames (as in the :class:`~pipeline.geometry.overlap.Pair`).
    img_i, img_j : ndarray of float64, shape (n, 2)
        ``(line, sample)`` of each tie point in frame ``i`` and in frame ``j`` (CSM image
        coordinates: first pixel centre at ``(0.5, 0.5)``).
    score : float
        Quality of the pair in 0..1: the fraction of candidates (ratio-test matches; for the
        ``area`` matcher, correlated patches) that are inliers of the robust model, times
        the median NCC peak (0 when there are no matches).
    id_i, id_j : str or None
        Frame ids.
    ncc : ndarray of shape (n,)
        NCC peak of each tie point (NaN without sub-pixel refinement).
    offset_px : tuple of float
        Median ``(row, col)`` offset of ``j`` relative to ``i`` on the local grid (``area``:
        on the reference frame's pixels), pixels of ``resolution_m``: the misregistration of
        the two frames before adjustment.
    resolution_m : float
        Pixel size of the local grid (``area``: the reference frame's ground sample distance).
    n_candidates, n_inliers : int
        Ratio-test matches (``area``: patches correlated) and robust-model inliers.
    reason : str
        Empty on success, else why the pair has no tie points.
    """

    i: int
    j: int
    img_i: np.ndarray
    img_j: np.ndarray
    score: float
    id_i: str | None = None
    id_j: str | None = None
    ncc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    offset_px: tuple[float, float] = (math.nan, math.nan)
    resolution_m: float = math.nan
    n_candidates: int = 0
    n_inliers: int = 0
    reason: str = ""

    def __len__(self) -> int:
        return len(self.img_i)

    @property
    def ok(self) -> bool:
        """True when the pair has tie points."""
        return len(self.img_i) > 0

    @classmethod
    def empty(cls, i: int, j: int, reason: str, **kw) -> PairMatches:
        """No matches between frames ``i`` and ``j``, with the reason."""
        z = np.zeros((0, 2))
        return cls(i, j, z, z.copy(), 0.0, reason=reason, **kw)


def pair_seed(seed: int, i: int, j: int) -> int:
    """Deterministic per-pair seed (independent of task order or worker)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(i), int(j)]).generate_state(1)[0] & 0x7FFFFFFF)


def local_crs(lon_deg: float, lat_deg: float) -> CRS:
    """Lambert azimuthal equal-area CRS on the Moon sphere centred on ``(lon, lat)`` (degrees)."""
    conv = LambertAzimuthalEqualAreaConversion(latitude_natural_origin=float(lat_deg),
                                               longitude_natural_origin=float(lon_deg))
    return ProjectedCRS(conversion=conv, geodetic_crs=CRS(MOON_GEOGRAPHIC),
                        name=f"Moon sphere / LAEA ({lat_deg:.4f} N, {lon_deg:.4f} E)")


def local_grid(cam_i, cam_j, *, resolution_factor: float = 1.0, margin_m: float = 0.0,
               max_size_px: int = 2048) -> MapGrid | None:
    """The local map grid over the overlap of two cameras (``None`` if they do not overlap).

    Parameters
    ----------
    cam_i, cam_j : FrameCamera
    resolution_factor : float
        Pixel size = ``resolution_factor * max(gsd_i, gsd_j)``.
    margin_m : float
        Added around the overlap polygon on every side, metres.
    max_size_px : int
        Coarsen the pixel size so that neither side exceeds this.
    """
    fi, fj = footprint(cam_i, 16), footprint(cam_j, 16)
    centre, poly, area = overlap_polygon(fi, fj)
    if area <= 0 or len(poly) < 3:
        return None
    lon0, lat0 = xyz_to_lonlat_deg(centre)
    res = resolution_factor * max(cam_i.gsd_m(), cam_j.gsd_m())
    xmin, ymin = poly.min(axis=0) - margin_m
    xmax, ymax = poly.max(axis=0) + margin_m
    side = max(xmax - xmin, ymax - ymin)
    if side / res > max_size_px:
        res = side / max_size_px
    crs = local_crs(float(lon0), float(lat0))
    cols = max(1, math.ceil((xmax - xmin) / res))
    rows = max(1, math.ceil((ymax - ymin) / res))
    return MapGrid(crs.to_wkt(), Affine(res, 0.0, xmin, 0.0, -res, ymax), (rows, cols))


def _orthorectify(frame, camera, grid: MapGrid) -> tuple[np.ndarray, np.ndarray]:
    """The frame resampled (bilinear) onto ``grid`` with ``camera``: ``(values, valid)``."""
    mask = frame.mask if frame.mask is not None else ~np.isfinite(frame.data)
    values, valid = orthorectify(frame.data, mask, camera, grid, resampling="bilinear")
    return np.asarray(values, np.float32), np.asarray(valid, bool)


def grid_to_ground(grid: MapGrid, rowcol: np.ndarray, radii=None) -> np.ndarray:
    """Body-fixed xyz (m, shape (n, 3)) on the reference surface of grid ``(row, col)``
    positions (corner origin, as ``MapGrid.xy_to_rowcol``)."""
    t = grid.transform
    r, c = rowcol[:, 0], rowcol[:, 1]
    x = t.c + t.a * c + t.b * r
    y = t.f + t.d * c + t.e * r
    lon, lat = grid.xy_to_lonlat(x, y)
    if radii is None:
        return lonlat_to_xyz_deg(lon, lat)
    return lonlat_to_xyz_deg(lon, lat, radii=radii)


def _usable(frame, line: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Inside the image and on a valid pixel (nearest pixel of the frame's mask)."""
    lines, samples = frame.data.shape
    ok = np.isfinite(line) & np.isfinite(sample) & (line >= 0) & (line < lines) & (sample >= 0) & (sample < samples)
    if frame.mask is not None and ok.any():
        li = np.clip(np.floor(line[ok]).astype(int), 0, lines - 1)
        si = np.clip(np.floor(sample[ok]).astype(int), 0, samples - 1)
        sub = ~frame.mask[li, si]
        ok[np.flatnonzero(ok)] = sub
    return ok


def match_pair(frame_i, frame_j, pair: Pair, cfg, seed: int = 0, dem=None) -> PairMatches:
    """Tie points between two overlapping frames (one registration task).

    Parameters
    ----------
    frame_i, frame_j : Frame
        Frames with pixels loaded (``data``, ``mask`` True = invalid) and cameras.
    pair : Pair
        From :func:`~pipeline.geometry.overlap.overlap_pairs`; gives the indices.
    cfg : RegistrationParams
        ``matcher`` (a key of :data:`MATCHERS`) and its thresholds: both matchers use
        ``ransac_threshold_px``, ``min_matches``, ``max_matches_per_pair``, ``subpixel``,
        ``ncc_window_px``, ``ncc_search_px``, ``min_ncc`` and ``pointing_sigma_deg``;
        ``features`` also ``detector``, ``max_features``, ``ratio``,
        ``match_resolution_factor`` and ``max_match_size_px``.
    seed : int
        Run seed (``run.seed``); the pair's own seed is derived from it and ``(i, j)``.
    dem : Dem, optional
        Terrain the ``area`` matcher's pair map goes through (one frame's pixels to the
        ground on it, then into the other frame), so that relief parallax is predicted,
        not searched for (``mosaicking.dem``); default the reference surface. The
        ``features`` matcher ignores it.

    Returns
    -------
    PairMatches
        Empty with a ``reason`` when the frames cannot be matched.

    Examples
    --------
    >>> pairs = overlap_pairs([f.camera for f in frames])  # doctest: +SKIP
    >>> m = match_pair(frames[0], frames[1], pairs[0], cfg.registration, seed=0)  # doctest: +SKIP
    >>> m.img_i.shape, m.img_j.shape  # doctest: +SKIP
    ((187, 2), (187, 2))
    """
    i, j = pair.i, pair.j
    ids = {"id_i": getattr(frame_i, "id", pair.id_i), "id_j": getattr(frame_j, "id", pair.id_j)}
    for f in (frame_i, frame_j):
        if f.camera is None:
            return PairMatches.empty(i, j, f"frame {f.id} has no camera", **ids)
        if f.data is None:
            return PairMatches.empty(i, j, f"frame {f.id} has no pixels loaded", **ids)
    try:
        return _canonical(MATCHERS[cfg.matcher](frame_i, frame_j, pair, cfg, seed, ids, dem), frame_i, frame_j)
    except GeometryError as exc:  # e.g. a frame whose centre misses the body: a value, not a crash
        log.warning("pair %s-%s: %s", ids["id_i"], ids["id_j"], exc)
        return PairMatches.empty(i, j, f"geometry: {exc}", **ids)


def _canonical(m: PairMatches, frame_i, frame_j) -> PairMatches:
    """Tie points of a push frame moved into the framelet its camera's ``ground_to_image``
    picks where framelets see the same ground (``canonical_image_points``), so the adjustment
    projects each observation into the framelet it was measured in."""
    if not len(m):
        return m
    out = {}
    for name, f in (("img_i", frame_i), ("img_j", frame_j)):
        canon = getattr(f.camera, "canonical_image_points", None)  # a capability of push frames
        if canon is not None:
            pts = getattr(m, name)
            out[name] = np.stack(canon(pts[:, 0], pts[:, 1]), axis=1)
    return dataclasses.replace(m, **out) if out else m


def _match_pair_area(frame_i, frame_j, pair: Pair, cfg, seed: int, ids: dict, dem=None) -> PairMatches:
    i, j = pair.i, pair.j
    m = match_frames_area(frame_i, frame_j, cfg, seed=pair_seed(seed, i, j), dem=dem)
    info = {"resolution_m": m.resolution_m, "n_candidates": m.n_candidates, "n_inliers": m.n_inliers, **ids}
    if not len(m):
        log.info("pair %s-%s: %s", ids["id_i"], ids["id_j"], m.reason)
        return PairMatches.empty(i, j, m.reason, **info)
    ok = _usable(frame_i, m.img_i[:, 0], m.img_i[:, 1]) & _usable(frame_j, m.img_j[:, 0], m.img_j[:, 1])
    n = int(ok.sum())
    if n < cfg.min_matches:
        return PairMatches.empty(i, j, f"too few tie points inside both images: {n} < {cfg.min_matches}", **info)
    ncc = m.ncc[ok]
    score = float(np.clip(m.n_inliers / max(m.n_candidates, 1) * float(np.median(ncc)), 0.0, 1.0))
    return PairMatches(i, j, m.img_i[ok], m.img_j[ok], score, ncc=ncc, offset_px=m.offset_px, **info)


def _match_pair_features(frame_i, frame_j, pair: Pair, cfg, seed: int, ids: dict, dem=None) -> PairMatches:
    i, j = pair.i, pair.j
    cam_i, cam_j = frame_i.camera, frame_j.camera
    # margin: the shift pointing errors can cause (3 sigma), plus the NCC template
    alt = max(float(np.linalg.norm(c.position_m)) - c.radii_m[0] for c in (cam_i, cam_j))
    gsd = max(cam_i.gsd_m(), cam_j.gsd_m())
    margin = alt * math.tan(math.radians(3 * cfg.pointing_sigma_deg)) + gsd * (cfg.ncc_window_px + cfg.ncc_search_px)
    grid = local_grid(cam_i, cam_j, resolution_factor=cfg.match_resolution_factor, margin_m=margin,
                      max_size_px=cfg.max_match_size_px)
    if grid is None:
        return PairMatches.empty(i, j, "footprints do not overlap", **ids)
    oi, vi = _orthorectify(frame_i, cam_i, grid)
    oj, vj = _orthorectify(frame_j, cam_j, grid)
    both = vi & vj
    if both.sum() < cfg.ncc_window_px**2 * 4:
        return PairMatches.empty(i, j, f"common valid area too small ({int(both.sum())} px)",
                                 resolution_m=grid.resolution, **ids)
    m: ImageMatches = match_images(oi, oj, vi, vj, cfg, seed=pair_seed(seed, i, j))
    if not len(m):
        log.info("pair %s-%s: %s", ids["id_i"], ids["id_j"], m.reason)
        return PairMatches.empty(i, j, m.reason, resolution_m=grid.resolution,
                                 n_candidates=m.n_candidates, n_inliers=m.n_inliers, **ids)
    xyz_i = grid_to_ground(grid, m.pts_a, cam_i.radii_m)
    xyz_j = grid_to_ground(grid, m.pts_b, cam_j.radii_m)
    li, si = cam_i.ground_to_image(xyz_i)
    lj, sj = cam_j.ground_to_image(xyz_j)
    ok = _usable(frame_i, li, si) & _usable(frame_j, lj, sj)
    n = int(ok.sum())
    if n < cfg.min_matches:
        return PairMatches.empty(i, j, f"too few tie points inside both images: {n} < {cfg.min_matches}",
                                 resolution_m=grid.resolution, n_candidates=m.n_candidates,
                                 n_inliers=m.n_inliers, **ids)
    ncc = m.ncc[ok]
    med_ncc = float(np.nanmedian(ncc)) if np.isfinite(ncc).any() else 1.0
    score = float(np.clip(m.n_inliers / max(m.n_candidates, 1) * med_ncc, 0.0, 1.0))
    offset = np.median(m.pts_b[ok] - m.pts_a[ok], axis=0)
    log.debug("pair %s-%s: %d tie points, offset %.2f, %.2f px", ids["id_i"], ids["id_j"], n, *offset)
    return PairMatches(
        i, j,
        np.stack([li[ok], si[ok]], axis=1),
        np.stack([lj[ok], sj[ok]], axis=1),
        score,
        ncc=ncc,
        offset_px=(float(offset[0]), float(offset[1])),
        resolution_m=grid.resolution,
        n_candidates=m.n_candidates,
        n_inliers=m.n_inliers,
        **ids,
    )


MATCHERS = {
    "area": _match_pair_area,
    "features": _match_pair_features,
}
"""Pair matchers by name (``registration.matcher``), all ``(frame_i, frame_j, pair, cfg, seed,
ids, dem) -> PairMatches``; ``area`` is the default (and the one that uses ``dem``)."""
