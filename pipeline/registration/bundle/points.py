"""Ground points of the tracks: their starting positions and radius priors.

- :func:`initial_ground`: the mean of the observations' ray intersections per track (at
  height 0, or at given heights above the reference ellipsoid, e.g. a DEM's), put on the
  reference surface for surface-bound points;
- :func:`radius_prior`: the prior radius of free 3D points, from a DEM under the point
  when one is given (sigma ``point_radius_sigma_m``, ISIS jigsaw's ``POINT_RADIUS_SIGMA``),
  else the reference surface with the loose ``point_radius_sigma_sphere_m``;
- :func:`ray_radius_sigma`: how well a track's rays alone fix its point's radius (from the
  largest angle between them, :func:`ray_angle`), so the sphere prior holds only the points
  the rays cannot;
- :func:`relief_parallax_px`: how far the relief found by free points displaces them between
  views, which decides ``points: auto``.
"""

from __future__ import annotations

import numpy as np

from pipeline.geometry.body import lonlat_to_xyz, surface_radius, xyz_to_lonlat
from pipeline.registration.bundle.cameras import kind_of

__all__ = ["frame_slices", "initial_ground", "radius_prior", "ray_angle", "ray_radius_sigma", "relief_parallax_px",
           "view_angle_deg"]


def frame_slices(frame: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """``order, bounds``: rows of frame ``f`` are ``order[bounds[f]:bounds[f + 1]]`` (one sort)."""
    order = np.argsort(frame, kind="stable")
    return order, np.searchsorted(frame[order], np.arange(n_frames + 1))


def initial_ground(cams: list, obs_frame: np.ndarray, obs_track: np.ndarray, obs_xy: np.ndarray,
                   n_tracks: int, *, height=None, on_surface: bool = True) -> np.ndarray:
    """Starting ground point (n_tracks, 3) of every track, body-fixed metres (NaN: no ray hit).

    Parameters
    ----------
    height : ndarray (n_obs,), optional
        Height (m) above the reference ellipsoid at which each observation's ray is cut
        (default 0).
    on_surface : bool
        Put the mean on the reference surface (its direction kept); False keeps the mean
        point (its radius) as it is.
    """
    xyz = np.full((len(obs_frame), 3), np.nan)
    order, bounds = frame_slices(obs_frame, len(cams))
    for f, cam in enumerate(cams):
        idx = order[bounds[f]:bounds[f + 1]]
        if len(idx):
            h = 0.0 if height is None else height[idx]
            pts, hit = kind_of(cam).intersect(cam, obs_xy[idx, 0], obs_xy[idx, 1], h)
            xyz[idx] = np.where(np.asarray(hit)[:, None], pts, np.nan)
    good = np.all(np.isfinite(xyz), axis=1)
    sums = np.zeros((n_tracks, 3))
    for c in range(3):
        sums[:, c] = np.bincount(obs_track[good], xyz[good, c], minlength=n_tracks)
    cnt = np.bincount(obs_track[good], minlength=n_tracks)
    mean = sums / np.maximum(cnt, 1)[:, None]
    if on_surface:
        lon, lat = xyz_to_lonlat(mean)
        mean = lonlat_to_xyz(lon, lat, 0.0, cams[0].radii_m)
    mean[cnt == 0] = np.nan
    return mean


def radius_prior(xyz: np.ndarray, radii: tuple[float, float], dem=None):
    """Prior radius (m) under points ``xyz (n, 3)`` and the function that re-evaluates it.

    Returns ``(radius (n,), fn)`` with ``fn(lon_rad, lat_rad) -> radius m``: the DEM's radius
    (``Dem.radius_m``; the reference surface where the DEM has no data) or the reference
    surface.
    """

    def surface(lon, lat):
        return surface_radius(lat, radii)

    if dem is None:
        fn = surface
    else:
        def fn(lon, lat):
            r = np.asarray(dem.radius_m(lon, lat), float)
            return np.where(np.isfinite(r), r, surface(lon, lat))
    lon, lat = xyz_to_lonlat(xyz)
    return fn(lon, lat), fn


def ray_angle(cams: list, obs_frame: np.ndarray, obs_track: np.ndarray, obs_xy: np.ndarray,
              n_tracks: int) -> tuple[np.ndarray, np.ndarray]:
    """``gamma, count``: the largest angle (rad) between the rays of each track (twice the
    largest angle from their mean direction) and its number of rays, arrays ``(n_tracks,)``.

    Parameters
    ----------
    cams : list of cameras
    obs_frame, obs_track : ndarray of int (n_obs,)
    obs_xy : ndarray (n_obs, 2)
        ``(line, sample)`` of each observation (pixel centres at +0.5).
    n_tracks : int
    """
    look = np.full((len(obs_frame), 3), np.nan)
    order, bounds = frame_slices(obs_frame, len(cams))
    for f, cam in enumerate(cams):
        idx = order[bounds[f]:bounds[f + 1]]
        if len(idx):
            look[idx] = cam.rays(obs_xy[idx, 0], obs_xy[idx, 1])[1]
    look /= np.linalg.norm(look, axis=1, keepdims=True)
    good = np.all(np.isfinite(look), axis=1)
    mean = np.stack([np.bincount(obs_track[good], look[good, c], minlength=n_tracks) for c in range(3)],
                    axis=1).astype(float)  # bincount of nothing is int
    cnt = np.bincount(obs_track[good], minlength=n_tracks)
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-300)
    cos = np.einsum("ij,ij->i", look[good], mean[obs_track[good]])
    min_cos = np.ones(n_tracks)
    np.minimum.at(min_cos, obs_track[good], cos)
    return 2.0 * np.arccos(np.clip(min_cos, -1.0, 1.0)), cnt


def ray_radius_sigma(cams: list, obs_frame: np.ndarray, obs_track: np.ndarray, obs_xy: np.ndarray,
                     n_tracks: int, pixel_sigma_m: float) -> np.ndarray:
    """How well the rays of each track fix its point's radius on their own (m, (n_tracks,)).

    ``sigma = sqrt(2) pixel_sigma_m / tan(gamma)``, ``gamma`` the largest angle between the
    track's rays (:func:`ray_angle`): two rays of ``pixel_sigma_m`` ground precision meeting
    at ``gamma``. Infinite for tracks with fewer than two rays or parallel rays.

    Parameters
    ----------
    cams, obs_frame, obs_track, obs_xy, n_tracks
        As :func:`ray_angle`.
    pixel_sigma_m : float
        Precision of one observation on the ground (tie precision in pixels times the
        ground sample distance), metres.

    Examples
    --------
    Two rays 0.1 rad apart with 10 m ground precision fix the radius to about 141 m:

    >>> from types import SimpleNamespace
    >>> cam = SimpleNamespace(rays=lambda l, s: (np.zeros(3), np.stack(
    ...     [np.sin(s), np.zeros_like(s), -np.cos(s)], axis=-1)))
    >>> s = ray_radius_sigma([cam], np.zeros(2, int), np.zeros(2, int),
    ...                      np.array([[0.0, -0.05], [0.0, 0.05]]), 1, 10.0)
    >>> round(float(s[0]))
    141
    """
    gamma, cnt = ray_angle(cams, obs_frame, obs_track, obs_xy, n_tracks)
    with np.errstate(divide="ignore"):
        sigma = np.sqrt(2.0) * pixel_sigma_m / np.tan(np.minimum(gamma, np.pi / 2 - 1e-9))
    return np.where((cnt >= 2) & (gamma > 0), sigma, np.inf)


def relief_parallax_px(height_m: np.ndarray, gamma: np.ndarray, gsd_m: float, *, quantile: float = 90.0) -> float:
    """How far the relief the free points found displaces them between views (px).

    Per track, ``|h - median(h)| tan(gamma) / gsd_m``: the height ``h`` above the prior
    surface relative to the network's median height (its common level, which a weak
    network may not fix, is left out) times the largest angle ``gamma`` between the
    track's rays (:func:`ray_angle`), in pixels of ``gsd_m`` metres. Returns its
    ``quantile`` (percent) over the tracks with a finite height and ``gamma > 0``; NaN
    with none. On flat ground it is the points' noise, about ``2.3`` times the tie
    precision (p90 of two rays).

    Examples
    --------
    A point 500 m above the others, seen across 0.1 rad, at 100 m per pixel:

    >>> h = np.array([0.0, 0.0, 0.0, 500.0])
    >>> round(relief_parallax_px(h, np.full(4, 0.1), 100.0, quantile=100), 3)
    0.502
    """
    ok = np.isfinite(height_m) & (gamma > 0)
    if not ok.any():
        return float("nan")
    d = np.abs(height_m[ok] - np.median(height_m[ok]))
    return float(np.percentile(d * np.tan(np.minimum(gamma[ok], 1.5)) / gsd_m, quantile))


def view_angle_deg(gamma: np.ndarray, count: np.ndarray, *, quantile: float = 90.0) -> float:
    """How far apart the views of the tie points are: the ``quantile`` (percent) of the largest
    angle between a track's rays (``gamma``, rad, from :func:`ray_angle`) over the tracks seen
    by two rays or more (``count``), in degrees; NaN with none.

    >>> round(view_angle_deg(np.radians([5.0, 10.0, 75.0]), np.array([2, 2, 1]), quantile=100), 6)
    10.0
    """
    ok = (np.asarray(count) >= 2) & np.isfinite(gamma)
    return float(np.degrees(np.percentile(gamma[ok], quantile))) if ok.any() else float("nan")
