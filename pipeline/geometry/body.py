"""The Moon as a sphere / biaxial ellipsoid: body-fixed xyz <-> planetocentric lon/lat.

Conventions
-----------
- Body-fixed Cartesian coordinates ``xyz`` are in metres, shape ``(..., 3)``, in the
  Moon's body-fixed frame (the frame of the camera ISDs: ALE's ``body_rotation`` target).
- Longitudes are planetocentric, **east-positive**; latitudes planetocentric. Radians
  inside; functions that take or return degrees carry ``_deg`` in their name.
- ``radii = (a, b)``: equatorial and polar radius in metres (the Moon: a sphere,
  ``a = b = 1 737 400 m``, as in IAU 2015 and ``MOON_GEOGRAPHIC``).
- Heights are measured along the radius vector (planetocentric), which for a sphere is
  the same as along the surface normal.

Everything is pure numpy and broadcasts over arrays of any shape.
"""

from __future__ import annotations

import numpy as np

from pipeline.geometry.grid import MOON_RADIUS_M

MOON_RADII_M: tuple[float, float] = (MOON_RADIUS_M, MOON_RADIUS_M)
"""Equatorial and polar radius of the Moon in metres (IAU 2015 sphere)."""

__all__ = [
    "MOON_RADII_M",
    "ellipsoid_normal",
    "lonlat_to_xyz",
    "lonlat_to_xyz_deg",
    "ray_ellipsoid_intersect",
    "surface_radius",
    "wrap_lon",
    "wrap_lon_deg",
    "xyz_to_lonlat",
    "xyz_to_lonlat_deg",
]


def wrap_lon_deg(lon_deg, origin: float = -180.0):
    """Wrap longitudes (degrees) into ``[origin, origin + 360)``.

    ``wrap_lon_deg(x)`` gives -180..180 (180 maps to -180); ``wrap_lon_deg(x, 0)`` gives
    0..360. Returns an ndarray (a float for scalar input).
    """
    out = np.mod(np.asarray(lon_deg, dtype=float) - origin, 360.0) + origin
    return out if out.ndim else float(out)


def wrap_lon(lon_rad, origin: float = -np.pi):
    """Wrap longitudes (radians) into ``[origin, origin + 2 pi)``."""
    out = np.mod(np.asarray(lon_rad, dtype=float) - origin, 2 * np.pi) + origin
    return out if out.ndim else float(out)


def xyz_to_lonlat(xyz) -> tuple[np.ndarray, np.ndarray]:
    """Planetocentric east longitude and latitude (radians) of body-fixed points.

    Parameters
    ----------
    xyz : array_like of shape (..., 3)
        Body-fixed coordinates, any unit.

    Returns
    -------
    lon, lat : ndarray of shape (...)
        Longitude in ``(-pi, pi]`` (numpy ``arctan2``), latitude in ``[-pi/2, pi/2]``.
    """
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, np.hypot(x, y))
    return lon, lat


def xyz_to_lonlat_deg(xyz) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`xyz_to_lonlat`, in degrees (longitude -180..180)."""
    lon, lat = xyz_to_lonlat(xyz)
    return np.degrees(lon), np.degrees(lat)


def surface_radius(lat_rad, radii: tuple[float, float] = MOON_RADII_M) -> np.ndarray:
    """Distance (m) from the body centre to the ellipsoid surface at planetocentric latitude."""
    a, b = float(radii[0]), float(radii[1])
    lat = np.asarray(lat_rad, dtype=float)
    if a == b:
        return np.full(lat.shape, a) if lat.ndim else np.float64(a)
    c, s = np.cos(lat), np.sin(lat)
    return a * b / np.sqrt((b * c) ** 2 + (a * s) ** 2)


def lonlat_to_xyz(lon_rad, lat_rad, height_m=0.0, radii: tuple[float, float] = MOON_RADII_M) -> np.ndarray:
    """Body-fixed xyz (m) of planetocentric longitude/latitude (radians) and height (m).

    The height is added along the radius vector: ``|xyz| = surface_radius(lat) + height``.

    Returns
    -------
    ndarray of shape (..., 3)
        Broadcast shape of the three inputs, plus a trailing axis of 3.
    """
    lon, lat, h = np.broadcast_arrays(
        np.asarray(lon_rad, dtype=float), np.asarray(lat_rad, dtype=float), np.asarray(height_m, dtype=float)
    )
    r = surface_radius(lat, radii) + h
    cl = np.cos(lat)
    return np.stack([r * cl * np.cos(lon), r * cl * np.sin(lon), r * np.sin(lat)], axis=-1)


def lonlat_to_xyz_deg(
    lon_deg, lat_deg, height_m=0.0, radii: tuple[float, float] = MOON_RADII_M
) -> np.ndarray:
    """As :func:`lonlat_to_xyz` with longitude/latitude in degrees."""
    return lonlat_to_xyz(np.radians(lon_deg), np.radians(lat_deg), height_m, radii)


def ellipsoid_normal(xyz, radii: tuple[float, float] = MOON_RADII_M) -> np.ndarray:
    """Outward unit surface normal of the ellipsoid through ``xyz`` (its shape scaled to pass
    through the point), shape ``(..., 3)``. For a sphere this is ``xyz / |xyz|``."""
    xyz = np.asarray(xyz, dtype=float)
    a, b = float(radii[0]), float(radii[1])
    n = xyz * np.array([1.0, 1.0, (a / b) ** 2])
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def ray_ellipsoid_intersect(
    origin, direction, radii: tuple[float, float] = MOON_RADII_M, height=0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersect rays with the ellipsoid ``(a + h, a + h, b + h)`` (usgscsm ``losEllipsoidIntersect``).

    Parameters
    ----------
    origin : array_like of shape (..., 3)
        Ray origins, body-fixed metres.
    direction : array_like of shape (..., 3)
        Ray directions (need not be unit vectors).
    radii : (a, b)
        Equatorial and polar radius, metres.
    height : float or array_like
        Height (m) added to both radii; broadcasts against the rays.

    Returns
    -------
    xyz : ndarray of shape (..., 3)
        The near intersection ``origin + t * direction``; where the ray misses, the point
        of the ray closest to the (scaled) ellipsoid centre, exactly as usgscsm does
        (``quadTerm`` clamped to 0). Like usgscsm, ``t`` may be negative (the body is
        behind the ray origin); see ``hit``.
    hit : ndarray of bool, shape (...)
        True where the ray meets the ellipsoid in front of its origin (``t > 0``).
    t : ndarray of shape (...)
        The ray parameter used.
    """
    origin = np.asarray(origin, dtype=float)
    direction = np.asarray(direction, dtype=float)
    h = np.asarray(height, dtype=float)
    ap = radii[0] + h
    bp = radii[1] + h
    k = (ap * ap) / (bp * bp)
    xl, yl, zl = direction[..., 0], direction[..., 1], direction[..., 2]
    xc, yc, zc = origin[..., 0], origin[..., 1], origin[..., 2]
    at = xl * xl + yl * yl + k * zl * zl
    bt = 2.0 * (xl * xc + yl * yc + k * zl * zc)
    ct = xc * xc + yc * yc + k * zc * zc - ap * ap
    quad = bt * bt - 4.0 * at * ct
    meets = quad >= 0.0
    t = (-bt - np.sqrt(np.where(meets, quad, 0.0))) / (2.0 * at)
    xyz = origin + t[..., None] * direction
    return xyz, meets & (t > 0.0), t
