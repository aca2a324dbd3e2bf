"""Overlap graph of frames from their footprints.

Which frames see common ground, and how much of it. Footprints are taken on the
reference ellipsoid from each camera (``FrameCamera.footprint_xyz``: body-fixed points,
so nothing here cares about the +-180 deg seam or the poles).

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

import cv2
import numpy as np
from scipy.spatial import cKDTree

from pipeline.errors import GeometryError
from pipeline.geometry.body import xyz_to_lonlat_deg

log = logging.getLogger(__name__)

__all__ = [
    "Footprint",
    "Pair",
    "connected_components",
    "footprint",
    "laea_forward",
    "laea_inverse",
    "overlap_pairs",
    "overlap_polygon",
    "tangent_basis",
]


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


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class Footprint:
    """Footprint ring of one camera: unit vectors of shape ``(n, 3)``, cap centre (3,) and
    angular radius (radians), radius of the sphere (m) and area (km^2)."""

    unit: np.ndarray
    centre: np.ndarray
    radius_rad: float
    body_radius_m: float
    area_km2: float


def tangent_basis(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north unit vectors (each shape (..., 3)) at unit vector(s) ``centre``.

    At the poles east is taken as +y (longitude 0 convention).
    """
    c = np.asarray(centre, dtype=float)
    east = np.stack([-c[..., 1], c[..., 0], np.zeros(c.shape[:-1])], axis=-1)
    n = np.linalg.norm(east, axis=-1, keepdims=True)
    polar = n[..., 0] < 1e-12
    east = np.where(polar[..., None], np.array([0.0, 1.0, 0.0]), east / np.where(n > 0, n, 1.0))
    north = np.cross(c, east)
    return east, north


def laea_forward(unit: np.ndarray, centre: np.ndarray, radius_m: float) -> np.ndarray:
    """Lambert azimuthal equal-area ``(x, y)`` (m, x east, y north) of unit vectors on a sphere.

    Same formulas as PROJ's ``+proj=laea`` on a sphere of radius ``radius_m`` centred on
    ``centre``. Returns an ndarray of shape ``(..., 2)``.
    """
    east, north = tangent_basis(centre)
    cos_t = np.clip(unit @ centre, -1.0 + 1e-12, 1.0)
    k = np.sqrt(2.0 / (1.0 + cos_t))
    return radius_m * k[..., None] * np.stack([unit @ east, unit @ north], axis=-1)


def laea_inverse(xy: np.ndarray, centre: np.ndarray, radius_m: float) -> np.ndarray:
    """Unit vectors of Lambert azimuthal equal-area ``(x, y)`` metres (inverse of :func:`laea_forward`)."""
    east, north = tangent_basis(centre)
    xy = np.asarray(xy, dtype=float) / radius_m
    rho = np.linalg.norm(xy, axis=-1)
    cos_t = 1.0 - 0.5 * rho**2
    sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
    scale = np.where(rho > 0, sin_t / np.where(rho > 0, rho, 1.0), 1.0)
    return (
        cos_t[..., None] * centre
        + (scale * xy[..., 0])[..., None] * east
        + (scale * xy[..., 1])[..., None] * north
    )


def _polygon_area(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def footprint(camera, n_per_edge: int = 8) -> Footprint:
    """The :class:`Footprint` of a camera (on the reference ellipsoid, height 0).

    Raises
    ------
    GeometryError
        The camera does not see the body.
    """
    xyz, _ = camera.footprint_xyz(n_per_edge)
    xyz = xyz[np.all(np.isfinite(xyz), axis=1)]
    if len(xyz) < 3:
        raise GeometryError("footprint has fewer than 3 vertices")
    r = float(np.mean(np.linalg.norm(xyz, axis=1)))
    unit = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    centre = unit.mean(axis=0)
    centre /= np.linalg.norm(centre)
    radius = float(np.max(np.arccos(np.clip(unit @ centre, -1, 1))))
    area = _polygon_area(laea_forward(unit, centre, r)) / 1e6
    return Footprint(unit, centre, radius, r, area)


def _hull(xy_km: np.ndarray) -> np.ndarray:
    return cv2.convexHull(xy_km.astype(np.float32)).reshape(-1, 2)


def overlap_polygon(fp_i: Footprint, fp_j: Footprint) -> tuple[np.ndarray, np.ndarray, float]:
    """Intersection of two footprints.

    Returns
    -------
    centre : ndarray of shape (3,)
        Unit vector at the projection centre (between the two footprint centres).
    polygon_m : ndarray of shape (k, 2)
        Intersection polygon in the Lambert azimuthal equal-area plane about ``centre``,
        metres (``k = 0`` when the footprints do not overlap).
    area_km2 : float
    """
    centre = fp_i.centre + fp_j.centre
    norm = np.linalg.norm(centre)
    if norm < 1e-9:
        return fp_i.centre, np.zeros((0, 2)), 0.0
    centre = centre / norm
    r = 0.5 * (fp_i.body_radius_m + fp_j.body_radius_m)
    # points beyond 90 deg from the centre cannot share ground with the other footprint
    hi = _hull(laea_forward(fp_i.unit, centre, r) / 1e3)
    hj = _hull(laea_forward(fp_j.unit, centre, r) / 1e3)
    area, poly = cv2.intersectConvexConvex(hi, hj)
    if poly is None or area <= 0:
        return centre, np.zeros((0, 2)), 0.0
    return centre, poly.reshape(-1, 2).astype(float) * 1e3, float(area)


def _centroid(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return poly.mean(axis=0)
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * a)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * a)
    return np.array([cx, cy])


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
        c = laea_inverse(_centroid(poly), centre, r)
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
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as _cc

    e = np.asarray(list(edges), dtype=int).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, labels = _cc(graph, directed=False)
    return labels
