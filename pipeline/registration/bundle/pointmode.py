"""``points: auto``: whether the free 3-D tie points found relief that matters.

The adjustment first solves free points (latitude, longitude, radius). Without a DEM their
common height is fixed only by the camera priors, and on a weak, nearly flat network it
floats (hundreds of metres on a 3 x 3 nadir survey) while the pointing tilts to follow it.
:func:`relief_parallax` measures what the relief the points found does to the images: how
far it displaces tie points between the views that see them. Above
``registration.relief_parallax_px`` the relief matters and the free points stay; below it
the sphere explains the images as well, and the network is solved again on the reference
surface, which fixes its datum, unless the points' common height (:class:`Level`) itself
matters and the data, not the prior, fix it (found by moving the prior and watching the
level follow: :meth:`Level.determined`), as over a basin floor or a high plateau.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.registration.bundle.points import radius_prior, relief_parallax_px
from pipeline.registration.bundle.problem import median_gsd

__all__ = ["Level", "auto_note", "relief_parallax"]


@dataclass(frozen=True)
class Level:
    """The free points' common height: ``height_m`` (median above the prior surface, m) and
    ``parallax_px``, the displacement between views it causes if ignored (px, at the
    tracks' median ray angle)."""

    height_m: float
    parallax_px: float

    def determined(self, moved_m: float, shift_m: float, prior_sigma_m: float) -> bool:
        """Whether the data, not the prior, fix this level: the prior's centre moved by
        ``shift_m`` moved the level to ``moved_m``. For a linear problem the level follows
        a fraction ``f = posterior variance / prior variance`` of the shift, so its sigma
        is ``sqrt(f) prior_sigma_m``; the level counts when it is beyond 3 of them."""
        f = min(max((moved_m - self.height_m) / shift_m, 0.0), 1.0)
        return abs(self.height_m) > 3.0 * math.sqrt(f) * prior_sigma_m


def relief_parallax(cams: list, track: np.ndarray, gamma: np.ndarray, act_idx: np.ndarray, xyz: np.ndarray,
                    dem=None) -> tuple[Level, float]:
    """The free points' common level and the p90 (px) of the displacement between views
    that their relief (about that level) causes.

    Parameters
    ----------
    cams : list of cameras
        The network's (prior) cameras (their radii and ground sample distance).
    track : ndarray of int (n_obs,)
        Track of each observation.
    gamma : ndarray (n_tracks,)
        Largest angle between each track's rays, rad
        (:func:`~pipeline.registration.bundle.points.ray_angle`).
    act_idx : ndarray of int
        Observations of the last solve; their tracks are measured.
    xyz : ndarray (n_tracks, 3)
        Adjusted ground points, body-fixed metres.
    dem : Dem, optional
        Heights are taken above it (else above the reference surface).

    Returns
    -------
    (Level, float)
        The level and :func:`~pipeline.registration.bundle.points.relief_parallax_px`
        of the tracks' heights (NaN without tracks).
    """
    used = np.unique(track[act_idx]) if len(act_idx) else np.zeros(0, int)
    used = used[np.all(np.isfinite(xyz[used]), axis=1)]
    if not len(used):
        return Level(0.0, 0.0), math.nan
    pts = xyz[used]
    prior, _ = radius_prior(pts, cams[0].radii_m, dem)
    height, gamma, gsd = np.linalg.norm(pts, axis=1) - prior, gamma[used], median_gsd(cams)
    level = float(np.median(height))
    return (Level(level, level * math.tan(float(np.median(gamma))) / gsd),
            relief_parallax_px(height, gamma, gsd))


def auto_note(points: str, parallax: float, threshold: float, dem: bool) -> str:
    """The report's line on what ``points: auto`` chose (``points``) and why."""
    if dem:
        return f"points: auto: free 3-D tie points held to the DEM (relief parallax p90 {parallax:.2f} px)"
    if points == "free":
        return (f"points: auto: free 3-D tie points kept: their relief displaces them by {parallax:.2f} px p90 "
                f"between views (> {threshold:g} px); without a DEM the network's common height rests on the "
                f"camera priors")
    return (f"points: auto: the free 3-D tie points found no relief that matters (parallax p90 {parallax:.2f} px "
            f"<= {threshold:g} px): solved on the reference surface, which fixes the network's datum")
