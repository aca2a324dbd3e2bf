"""Coverage checks of a set of frame cameras: overlaps between frames and of a region."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from pipeline.geometry import FrameCamera
from pipeline.geometry.body import lonlat_to_xyz_deg


def overlap_fraction(cam_a: FrameCamera, cam_b, n: int = 24) -> float:
    """Fraction of frame A's ground footprint that frame B (or any of several) also sees.

    Parameters
    ----------
    cam_a : FrameCamera
    cam_b : FrameCamera or sequence of FrameCamera
        One camera, or several (their union: e.g. the whole neighbouring strip).
    n : int
        Sampled on an ``n x n`` grid of points of A, projected to the ground and back.

    Returns
    -------
    float
        0..1.
    """
    others = [cam_b] if isinstance(cam_b, FrameCamera) else list(cam_b)
    ll, ss = np.meshgrid((np.arange(n) + 0.5) * cam_a.lines / n, (np.arange(n) + 0.5) * cam_a.samples / n,
                         indexing="ij")
    xyz, hit = cam_a.image_to_ground_hit(ll, ss)
    seen = np.zeros(int(hit.sum()), bool)
    for cam in others:
        line, sample = cam.ground_to_image(xyz[hit])
        seen |= (line >= 0) & (line <= cam.lines) & (sample >= 0) & (sample <= cam.samples)
    return float(seen.sum()) / float(ll.size)


def coverage_fraction(cameras, region_deg: tuple[float, float, float, float], n: int = 60) -> float:
    """Fraction of a lon/lat region (degrees) seen by at least one camera (n x n samples)."""
    lon0, lon1, lat0, lat1 = region_deg
    lon, lat = np.meshgrid(np.linspace(lon0, lon1, n), np.linspace(lat0, lat1, n))
    xyz = lonlat_to_xyz_deg(lon, lat)
    seen = np.zeros(lon.shape, bool)
    for cam in cameras:
        line, sample = cam.ground_to_image(xyz)
        seen |= (line >= 0) & (line <= cam.lines) & (sample >= 0) & (sample <= cam.samples)
    return float(seen.mean())


def measure_overlaps(plan, cams: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Overlaps of a survey's true cameras: consecutive frames of a strip (along) and each
    frame against the whole next strip (across), fractions of a frame (:func:`overlap_fraction`).

    Parameters
    ----------
    plan : SurveyPlan
    cams : dict of str to FrameCamera
        Camera of every frame id of the plan.
    """
    strips: dict[int, list] = {}
    for f in plan.frames:
        strips.setdefault(f.strip, []).append(f)
    along, across = [], []
    for frames in strips.values():
        for a, b in itertools.pairwise(frames):
            along.append(overlap_fraction(cams[a.id], cams[b.id]))
    keys = sorted(strips)
    for j0, j1 in itertools.pairwise(keys):
        for a in strips[j0]:
            across.append(overlap_fraction(cams[a.id], [cams[b.id] for b in strips[j1]]))
    return along, across


__all__ = ["coverage_fraction", "measure_overlaps", "overlap_fraction"]
