"""The adjusted tie points as heights, with how well each is known: the input of a relief model.

:func:`tie_point_heights` reads a :class:`~pipeline.registration.bundle.RegistrationResult`
of free 3-D points (``registration.points: free``): every track that kept at least two
inlier observations gives its point's planetocentric position, its height above the datum
sphere and the precision of that height from the geometry of its rays
(:func:`~pipeline.registration.bundle.points.ray_radius_sigma`, with the network's own tie
precision). Points held on the reference surface (``points: surface``) carry no relief and
give none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.geometry.body import xyz_to_lonlat
from pipeline.registration.bundle.points import ray_radius_sigma
from pipeline.registration.bundle.problem import median_gsd

__all__ = ["TiePointHeights", "tie_point_heights"]

_RAYLEIGH_MEDIAN = math.sqrt(2.0 * math.log(2.0))  # median of |r| / sigma for 2-D Gaussian residuals
_PRECISION_FLOOR_PX = 0.02


@dataclass(frozen=True, eq=False)  # holds arrays
class TiePointHeights:
    """Adjusted tie points with their heights (one row per point).

    Attributes
    ----------
    lon_rad, lat_rad : ndarray (n,)
        Planetocentric east longitude and latitude, radians.
    height_m : ndarray (n,)
        Radius minus ``datum_radius_m``, metres.
    sigma_m : ndarray (n,)
        Precision of the height from the point's rays, metres (``inf``: parallel rays).
    n_obs : ndarray of int (n,)
        Inlier observations of each point.
    datum_radius_m : float
    tie_precision_px : float
        The network's tie precision used for ``sigma_m`` (pixels, per coordinate).
    """

    lon_rad: np.ndarray
    lat_rad: np.ndarray
    height_m: np.ndarray
    sigma_m: np.ndarray
    n_obs: np.ndarray
    datum_radius_m: float
    tie_precision_px: float = math.nan

    def __len__(self) -> int:
        return len(self.height_m)


def _empty(datum: float) -> TiePointHeights:
    z = np.zeros(0)
    return TiePointHeights(z, z, z, z, np.zeros(0, int), datum)


def tie_point_heights(result, *, datum_radius_m: float | None = None, free: bool = True) -> TiePointHeights:
    """The free tie points of an adjustment as heights with their precision.

    Parameters
    ----------
    result : RegistrationResult
        ``points_xyz``, ``network`` (inlier observations) and the adjusted ``cameras``.
    datum_radius_m : float, optional
        Height datum (default the first camera's equatorial radius).
    free : bool
        Whether the points were free in 3-D (``registration.points == "free"``); surface
        points carry no relief and give an empty result.

    Returns
    -------
    TiePointHeights
        Empty when there is no free point with two inlier observations.

    Examples
    --------
    >>> from pipeline.registration.bundle import RegistrationResult  # doctest: +SKIP
    >>> pts = tie_point_heights(result)  # doctest: +SKIP
    >>> float(np.median(pts.sigma_m))  # doctest: +SKIP
    142.0
    """
    cams = dict(result.cameras)
    datum = float(datum_radius_m if datum_radius_m is not None else
                  (next(iter(cams.values())).radii_m[0] if cams else 1737400.0))
    net = result.network
    xyz = np.asarray(result.points_xyz, float).reshape(-1, 3)
    if not free or not len(net) or not len(xyz):
        return _empty(datum)
    fid = np.asarray(net.frame_id).astype(str)
    pid = np.asarray(net.point_id, int)
    keep = (pid >= 0) & ~np.asarray(net.outlier, bool) & ~np.asarray(net.control, bool) & np.isin(fid, list(cams))
    keep &= pid < len(xyz)
    if not keep.any():
        return _empty(datum)
    ids = sorted(set(fid[keep]))
    index = {f: k for k, f in enumerate(ids)}
    frame = np.array([index[f] for f in fid[keep]], int)
    track = pid[keep]
    n_obs = np.bincount(track, minlength=len(xyz))
    good = (n_obs >= 2) & np.all(np.isfinite(xyz), axis=1)
    if not good.any():
        return _empty(datum)
    res = np.asarray(net.residual_after_px, float)[keep]
    res = res[np.isfinite(res)]
    precision = max(float(np.median(res)) / _RAYLEIGH_MEDIAN if len(res) else 0.5, _PRECISION_FLOOR_PX)
    cam_list = [cams[f] for f in ids]
    line_sample = np.column_stack([np.asarray(net.line, float)[keep], np.asarray(net.sample, float)[keep]])
    sigma = ray_radius_sigma(cam_list, frame, track, line_sample, len(xyz), precision * median_gsd(cam_list, math.nan))
    lon, lat = xyz_to_lonlat(xyz[good])
    return TiePointHeights(lon, lat, np.linalg.norm(xyz[good], axis=1) - datum, sigma[good], n_obs[good], datum,
                           precision)
