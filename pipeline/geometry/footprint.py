"""Footprints of any camera on the body: border rings, limb points, polygons, overlaps.

Every function takes a camera of any kind (the :class:`~pipeline.geometry.cameras.Camera`
protocol: ``shape``, ``image_center``, ``image_to_ground_hit`` and ``image_to_ground``), so frame,
line-scan and push-frame images share one implementation.

Conventions: image coordinates ``(line, sample)`` with pixel centres at ``+0.5``; the footprint
ring follows the *outer edges* of the border pixels clockwise from the upper-left corner;
body-fixed metres; longitudes and latitudes in degrees at this edge (``_deg``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pipeline.errors import GeometryError
from pipeline.geometry.body import wrap_lon_deg, xyz_to_lonlat_deg

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.cameras.protocol import Camera

__all__ = [
    "Footprint",
    "border_coords",
    "footprint",
    "footprint_contains_pole",
    "footprint_deg",
    "footprint_lonlat",
    "footprint_xyz",
    "laea_forward",
    "laea_inverse",
    "overlap_polygon",
    "polygon_centroid",
    "tangent_basis",
]

_BISECTIONS = 48  # limb search along a border ray: ~1e-14 of the segment
_INTERIOR = 9  # interior image samples per axis added to the border ring by footprint_lonlat


def border_coords(lines: int, samples: int, n_per_edge: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates along the outer edges of the border pixels, clockwise from the
    upper-left corner: ``4 * n_per_edge`` points, corners once each.

    >>> line, sample = border_coords(10, 20, n_per_edge=2)
    >>> line.tolist(), sample.tolist()
    ([0.0, 0.0, 0.0, 5.0, 10.0, 10.0, 10.0, 5.0], [0.0, 10.0, 20.0, 20.0, 20.0, 10.0, 0.0, 0.0])
    """
    n = int(n_per_edge)
    if n < 1:
        raise ValueError(f"n_per_edge must be >= 1, got {n}")
    u = np.arange(n) / n
    L, S = float(lines), float(samples)
    line = np.concatenate([np.zeros(n), u * L, np.full(n, L), (1 - u) * L])
    sample = np.concatenate([u * S, np.full(n, S), (1 - u) * S, np.zeros(n)])
    return line, sample


def _interior_anchor(camera: Camera, height: float) -> tuple[float, float]:
    """An image point that sees the body, as close to the image centre as possible."""
    cl, cs = camera.image_center
    _, hit = camera.image_to_ground_hit(cl, cs, height)
    if bool(hit):
        return cl, cs
    lines, samples = camera.shape
    gl, gs = np.meshgrid(np.linspace(0, lines, 65), np.linspace(0, samples, 65), indexing="ij")
    _, hits = camera.image_to_ground_hit(gl, gs, height)
    if not hits.any():
        raise GeometryError(
            f"no part of image {camera.image_identifier or '?'} sees the body "
            f"(look_direction={getattr(camera, 'look_direction', 1):+d}); no footprint"
        )
    d = (gl - cl) ** 2 + (gs - cs) ** 2
    i = int(np.argmin(np.where(hits, d, np.inf)))
    return float(gl.ravel()[i]), float(gs.ravel()[i])


def footprint_xyz(camera: Camera, n_per_edge: int = 32, height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """On-body outline of the image (body-fixed m, shape (4 n, 3)) and which vertices are
    limb points (bool, shape (4 n,)): border rays that miss the body are replaced by the
    last on-body point on the image line from an interior point to them.

    Raises
    ------
    GeometryError
        No part of the image sees the body.
    """
    bl, bs = border_coords(*camera.shape, n_per_edge)
    xyz, hit = camera.image_to_ground_hit(bl, bs, height)
    limb = ~hit
    if limb.any():
        al, as_ = _interior_anchor(camera, height)
        ml, ms = bl[limb], bs[limb]
        lo = np.zeros(ml.shape)
        hi = np.ones(ml.shape)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            _, h_mid = camera.image_to_ground_hit(al + mid * (ml - al), as_ + mid * (ms - as_), height)
            lo = np.where(h_mid, mid, lo)
            hi = np.where(h_mid, hi, mid)
        xyz[limb] = camera.image_to_ground(al + lo * (ml - al), as_ + lo * (ms - as_), height)
    return xyz, limb


def footprint_deg(camera: Camera, n_per_edge: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Footprint polygon on the reference ellipsoid: longitudes and latitudes in degrees.

    The ring follows the outer edges of the border pixels clockwise in the image
    (``4 * n_per_edge`` vertices, corners included once; the ring is *open*: the last
    vertex is not a repeat of the first). Only on-body points are used: where border
    rays miss the body (limb in view) the vertex is the limb point on the way from an
    interior point of the image.

    Longitudes are continuous (unwrapped: no jump at +-180, so they may leave
    -180..180, e.g. 175..185), with the ring's mean longitude in [-180, 180).

    A footprint containing a pole winds once around it; it is returned *closed over the
    pole*: after the ring's last vertex come the first vertex shifted by +-360 deg and
    two vertices at latitude +-90 (at that shifted and at the first longitude), so the
    polygon is valid in the plate-carree (lon, lat) plane and covers the polar cap.
    :func:`footprint_contains_pole` tells which pole (+1 north, -1 south, 0 none).
    """
    xyz, _ = footprint_xyz(camera, n_per_edge)
    lon, lat = xyz_to_lonlat_deg(xyz)
    lon = np.unwrap(lon, period=360.0)
    closing = float(wrap_lon_deg(lon[0] - lon[-1]))
    winding = lon[-1] + closing - lon[0]
    if abs(winding) > 180.0:
        pole = 90.0 if lat[np.argmax(np.abs(lat))] > 0 else -90.0
        lon = lon - 360.0 * math.floor((lon[0] + 180.0) / 360.0)
        end = lon[0] + winding
        lon = np.concatenate([lon, [end, end, lon[0]]])
        lat = np.concatenate([lat, [lat[0], pole, pole]])
        return lon, lat
    lon = lon - 360.0 * math.floor((lon.mean() + 180.0) / 360.0)
    return lon, lat


def footprint_contains_pole(lon_deg, lat_deg) -> int:
    """Which pole a footprint ring contains: +1 north, -1 south, 0 none.

    Accepts a ring as returned by :func:`footprint_deg` (already closed over the pole with
    vertices at latitude +-90) or any open ring of vertices, whose longitudes may be wrapped
    or continuous: a ring that winds once around the polar axis contains the pole on the
    side of its most poleward vertex.

    >>> footprint_contains_pole([0, 90, 180, 270], [80, 80, 80, 80])
    1
    >>> footprint_contains_pole([170, 190, 190, 170], [-5, -5, 5, 5])
    0
    """
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    at_pole = np.abs(lat) >= 90.0 - 1e-9
    if at_pole.any():
        return int(np.sign(lat[at_pole][0]))
    steps = wrap_lon_deg(np.diff(np.concatenate([lon, lon[:1]])))
    if abs(float(np.sum(steps))) > 180.0:
        return 1 if lat[np.argmax(np.abs(lat))] > 0 else -1
    return 0


def footprint_lonlat(
    camera: Camera, n_per_edge: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Footprint samples of an image in planetocentric degrees: the border ring and a grid of
    interior points (for bounding boxes in map projections that curve the ring).

    Returns
    -------
    ring_lon, ring_lat : ndarray of shape (4 n,)
        The open border ring (limb points where border rays miss the body), longitudes
        wrapped to -180..180.
    inner_lon, inner_lat : ndarray
        Interior image samples that hit the body.
    pole : int
        +1 / -1 when the footprint contains the north / south pole, else 0.

    Raises
    ------
    GeometryError
        No part of the image sees the body.
    """
    xyz, _ = footprint_xyz(camera, n_per_edge)
    ring_lon, ring_lat = xyz_to_lonlat_deg(xyz)
    u = (np.arange(_INTERIOR) + 0.5) / _INTERIOR
    lines, samples = camera.shape
    gl, gs = np.meshgrid(u * lines, u * samples, indexing="ij")
    pts, hit = camera.image_to_ground_hit(gl.ravel(), gs.ravel())
    inner_lon, inner_lat = xyz_to_lonlat_deg(pts[hit])
    pole = footprint_contains_pole(ring_lon, ring_lat)
    return ring_lon, ring_lat, np.atleast_1d(inner_lon), np.atleast_1d(inner_lat), pole


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


def footprint(camera: Camera, n_per_edge: int = 8) -> Footprint:
    """The :class:`Footprint` of a camera (on the reference ellipsoid, height 0), for overlap
    tests in the Lambert azimuthal equal-area plane (exact areas on the sphere).

    Raises
    ------
    GeometryError
        The camera does not see the body.
    """
    xyz, _ = footprint_xyz(camera, n_per_edge)
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


def polygon_centroid(poly: np.ndarray) -> np.ndarray:
    """Area centroid ``(x, y)`` of a polygon ``(k, 2)`` (its vertex mean when degenerate)."""
    x, y = poly[:, 0], poly[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return poly.mean(axis=0)
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * a)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * a)
    return np.array([cx, cy])
