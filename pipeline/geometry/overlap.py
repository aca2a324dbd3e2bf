"""Overlap graph of images from their footprints: which images see common ground, and how much.

Footprints are taken on the reference ellipsoid from each camera
(:func:`pipeline.geometry.footprint.footprint_xyz`: body-fixed points, so nothing here cares
about the +-180 deg seam or the poles).

Algorithm (no all-pairs polygon tests):

1. Each footprint is summarised by a spherical cap: its centre direction and angular
   radius (the farthest vertex).
2. Candidate pairs come from a k-d tree of the cap centres (``cKDTree.query_pairs`` with
   the largest possible centre distance), then the cheap test ``angle < r_i + r_j``.
3. For each candidate, both footprints are projected into a **Lambert azimuthal
   equal-area** plane centred between them (exact areas on the sphere), made convex
   (``cv2.convexHull``; frame-camera footprints are convex up to lens distortion) and
   intersected with ``cv2.intersectConvexConvex``. The area is in km^2.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as _connected_components
from scipy.spatial import cKDTree

from pipeline.errors import GeometryError
from pipeline.geometry.body import xyz_to_lonlat_deg
from pipeline.geometry.footprint import Footprint, footprint, laea_inverse, overlap_polygon, polygon_centroid

log = logging.getLogger(__name__)

__all__ = ["Pair", "connected_components", "neighbours", "overlap_pairs"]


@dataclass(frozen=True)
class Pair:
    """Two overlapping frames.

    Attributes
    ----------
    i, j : int
        Indices (``i < j``) into the camera sequence given to :func:`overlap_pairs`.
    area_km2 : float
        Area of the footprints' intersection on the reference sphere, km^2.
    fraction : float
        ``area / min(area_i, area_j)`` (0..1).
    centre_lonlat_deg : tuple of float
        Planetocentric (lon -180..180, lat) of the intersection's centroid, degrees.
    id_i, id_j : str or None
        Frame ids when the cameras were given as a mapping ``{id: camera}``.
    """

    i: int
    j: int
    area_km2: float
    fraction: float
    centre_lonlat_deg: tuple[float, float]
    id_i: str | None = None
    id_j: str | None = None


def overlap_pairs(
    cameras: Sequence | Mapping,
    *,
    min_area_km2: float = 0.0,
    min_fraction: float = 0.0,
    n_per_edge: int = 8,
) -> list[Pair]:
    """Overlapping pairs of frames, with the overlap area.

    Parameters
    ----------
    cameras : sequence of FrameCamera, or mapping ``{frame id: FrameCamera}``
        ``None`` entries (frames without geometry) are skipped.
    min_area_km2 : float
        Drop pairs overlapping less than this area (km^2).
    min_fraction : float
        Drop pairs whose overlap is less than this fraction of the smaller footprint.
    n_per_edge : int
        Footprint vertices per image edge.

    Returns
    -------
    list of Pair
        Sorted by ``(i, j)``; indices refer to the order of ``cameras``. Frames whose
        footprint cannot be computed are skipped (logged).

    Examples
    --------
    >>> pairs = overlap_pairs([cam_a, cam_b, cam_c])  # doctest: +SKIP
    >>> [(p.i, p.j, round(p.area_km2)) for p in pairs]  # doctest: +SKIP
    [(0, 1, 312), (1, 2, 298)]
    """
    if isinstance(cameras, Mapping):
        ids = list(cameras.keys())
        cams = list(cameras.values())
    else:
        ids = None
        cams = list(cameras)
    fps: dict[int, Footprint] = {}
    for k, cam in enumerate(cams):
        if cam is None:
            continue
        try:
            fps[k] = footprint(cam, n_per_edge)
        except GeometryError as exc:
            log.warning("frame %s: no footprint (%s); left out of the overlap graph", ids[k] if ids else k, exc)
    if len(fps) < 2:
        return []
    keys = sorted(fps)
    centres = np.array([fps[k].centre for k in keys])
    radii = np.array([fps[k].radius_rad for k in keys])
    max_angle = min(math.pi, 2.0 * float(radii.max()))
    tree = cKDTree(centres)
    candidates = sorted(tree.query_pairs(2.0 * math.sin(max_angle / 2.0) + 1e-12))
    pairs = []
    for a, b in candidates:
        ang = math.acos(float(np.clip(centres[a] @ centres[b], -1, 1)))
        if ang >= radii[a] + radii[b]:
            continue
        i, j = keys[a], keys[b]
        if i > j:
            i, j = j, i
        centre, poly, area = overlap_polygon(fps[i], fps[j])
        if area <= 0:
            continue
        frac = area / min(fps[i].area_km2, fps[j].area_km2)
        if area < min_area_km2 or frac < min_fraction:
            continue
        r = 0.5 * (fps[i].body_radius_m + fps[j].body_radius_m)
        c = laea_inverse(polygon_centroid(poly), centre, r)
        lon, lat = xyz_to_lonlat_deg(c)
        pairs.append(
            Pair(
                i, j, float(area), float(min(frac, 1.0)), (float(lon), float(lat)),
                None if ids is None else str(ids[i]), None if ids is None else str(ids[j]),
            )
        )
    pairs.sort(key=lambda p: (p.i, p.j))
    log.info("overlap graph: %d frames, %d candidate pairs, %d overlapping", len(fps), len(candidates), len(pairs))
    return pairs


def connected_components(n: int, edges: Sequence[tuple[int, int]]) -> np.ndarray:
    """Component label (0..k-1, ordered by first member) of each of ``n`` nodes.

    Returns an ndarray of int of shape (n,) (``scipy.sparse.csgraph.connected_components``).
    """
    e = np.asarray(list(edges), dtype=int).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, labels = _connected_components(graph, directed=False)
    return labels


def neighbours(n: int, pairs: Sequence[Pair]) -> list[list[int]]:
    """For each of ``n`` images, the sorted indices of the images it overlaps."""
    out: list[set[int]] = [set() for _ in range(n)]
    for p in pairs:
        out[p.i].add(p.j)
        out[p.j].add(p.i)
    return [sorted(s) for s in out]
