"""Numerical helpers of the scanning cameras, each a vectorised port of a usgscsm function.

Units: millimetres on the focal plane, metres and radians elsewhere, seconds of ephemeris time.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from pipeline.errors import GeometryError

__all__ = [
    "compute_ellipsoid_elevation",
    "distorted_focal_plane",
    "ellipsoid_intersect",
    "ephemeris_time_to_utc",
    "rotvec_matrices",
    "rotvec_quaternions",
]


def distorted_focal_plane(
    line, sample, sample_origin, line_origin, sample_summing, line_summing,
    starting_sample, starting_line, itrans_s, itrans_l,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Port of usgscsm ``computeDistortedFocalPlaneCoordinates`` (same argument order), vectorised.

    Returns the distorted focal-plane ``(x, y)`` in mm.

    Examples
    --------
    >>> x, y = distorted_focal_plane(0.5, 4.0, 8.0, 0.5, 1, 1, 0, 0, [0, 0, 10], [0, 10, 0])
    >>> float(x), float(y)
    (0.0, -0.4)
    """
    det_s = np.asarray(sample, dtype=float) * sample_summing + starting_sample
    det_l = np.asarray(line, dtype=float) * line_summing + starting_line
    m11, m12, m21, m22 = itrans_l[1], itrans_l[2], itrans_s[1], itrans_s[2]
    t1 = det_l - line_origin - itrans_l[0]
    t2 = det_s - sample_origin - itrans_s[0]
    det = m11 * m22 - m12 * m21
    p11, p12, p21, p22 = m22 / det, -m12 / det, -m21 / det, m11 / det
    return p11 * t1 + p12 * t2, p21 * t1 + p22 * t2


def compute_ellipsoid_elevation(xyz, a: float, b: float, precision: float = 1e-3) -> np.ndarray:
    """Port of usgscsm ``computeEllipsoidElevation``: height (m) of body-fixed points above the
    ellipsoid ``(a, a, b)``, by its fixed-point iteration (at most 10 steps)."""
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    ecc2 = 1.0 - b * b / a / a
    ep2 = 1.0 - ecc2
    d2 = x * x + y * y
    d = np.sqrt(d2)
    eq = d >= z
    with np.errstate(divide="ignore", invalid="ignore"):
        tan = z / d
        cot = d / z
        h = np.zeros(x.shape)
        active = np.ones(x.shape, dtype=bool)
        for _ in range(10):
            hprev = h
            tt = tan * tan
            r = a / np.sqrt(1.0 + ep2 * tt)
            zz = z + r * ecc2 * tan
            h_eq = np.sqrt(d2 + zz * zz) - r * np.sqrt(1.0 + tt)
            cc = cot * cot
            r2 = a / np.sqrt(ep2 + cc)
            dd = d - r2 * ecc2 * cot
            h_po = np.sqrt(dd * dd + z * z) - r2 * np.sqrt(1.0 + cc) * ep2
            h = np.where(active, np.where(eq, h_eq, h_po), hprev)
            tan = np.where(active & eq, zz / d, tan)
            cot = np.where(active & ~eq, dd / z, cot)
            active = active & (np.abs(h - hprev) > precision)
            if not active.any():
                break
    return h


def ellipsoid_intersect(origin, direction, radii, height=0.0) -> tuple[np.ndarray, np.ndarray]:
    """Port of usgscsm line-scan ``losEllipsoidIntersect``: ``(xyz, meets)`` of the lines through
    ``origin`` along ``direction`` and the ellipsoid ``(a + h, a + h, b + h)``.

    The root of smaller ``|scale|`` is taken whatever the sign of ``direction`` (usgscsm images
    the whole line); where the line misses (discriminant < 0, usgscsm's ``NO_INTERSECTION``
    warning) the discriminant is clamped to 0, giving the point of the line nearest the
    ellipsoid, and ``meets`` is False."""
    o = np.asarray(origin, dtype=float)
    d = np.asarray(direction, dtype=float)
    h = np.asarray(height, dtype=float)
    ap = radii[0] + h
    bp = radii[1] + h
    k = ap * ap / (bp * bp)
    xl, yl, zl = d[..., 0], d[..., 1], d[..., 2]
    xc, yc, zc = o[..., 0], o[..., 1], o[..., 2]
    at = xl * xl + yl * yl + k * zl * zl
    bt = 2.0 * (xl * xc + yl * yc + k * zl * zc)
    ct = xc * xc + yc * yc + k * zc * zc - ap * ap
    quad = bt * bt - 4.0 * at * ct
    meets = quad >= 0.0
    s = np.sqrt(np.where(meets, quad, 0.0))
    scale = -bt - s
    scale1 = -bt + s
    scale = np.where(np.abs(scale1) < np.abs(scale), scale1, scale) / (2.0 * at)
    return o + scale[..., None] * d, meets


def rotvec_matrices(rotvec) -> np.ndarray:
    """Rotation matrices (Rodrigues) of rotation vectors of shape ``(..., 3)`` (radians)."""
    v = np.asarray(rotvec, dtype=float)
    theta = np.linalg.norm(v, axis=-1)
    k = np.zeros(v.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -v[..., 2], v[..., 1]
    k[..., 1, 0], k[..., 1, 2] = v[..., 2], -v[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -v[..., 1], v[..., 0]
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(theta) / safe)
    b = np.where(small, 0.5, (1.0 - np.cos(theta)) / (safe * safe))
    return np.eye(3) + a[..., None, None] * k + b[..., None, None] * (k @ k)


def rotvec_quaternions(rotvec) -> np.ndarray:
    """Unit quaternions ``(w, x, y, z)`` of rotation vectors of shape ``(..., 3)`` (radians)."""
    v = np.asarray(rotvec, dtype=float)
    theta = np.linalg.norm(v, axis=-1)
    half = 0.5 * theta
    # sin(theta / 2) / theta, with its series below 1e-8 rad
    k = np.where(theta < 1e-8, 0.5 - theta * theta / 48.0, np.sin(half) / np.where(theta > 0, theta, 1.0))
    return np.concatenate([np.cos(half)[..., None], k[..., None] * v], axis=-1)


def as_coeff_rows(values, name: str) -> tuple[tuple[float, float, float], ...]:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1 and arr.size == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1 or not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} must be a finite array of shape (k, 3), got shape {arr.shape}")
    return tuple(tuple(float(v) for v in row) for row in arr)


def poly_eval(coeffs, tau: np.ndarray) -> np.ndarray:
    c = np.asarray(coeffs, dtype=float)
    out = np.zeros(tau.shape + (3,))
    for j in range(c.shape[0] - 1, -1, -1):  # Horner over the (few) coefficients
        out = out * tau[..., None] + c[j]
    return out


def poly_derivative(coeffs, tau: np.ndarray) -> np.ndarray:
    c = np.asarray(coeffs, dtype=float)
    if c.shape[0] < 2:
        return np.zeros(tau.shape + (3,))
    return poly_eval(c[1:] * np.arange(1, c.shape[0])[:, None], tau)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(a, b)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.arctan2(cross, np.einsum("...i,...i->...", a, b))


_LEAP_SECONDS = (
    (1972, 1, 1, 10), (1972, 7, 1, 11), (1973, 1, 1, 12), (1974, 1, 1, 13), (1975, 1, 1, 14),
    (1976, 1, 1, 15), (1977, 1, 1, 16), (1978, 1, 1, 17), (1979, 1, 1, 18), (1980, 1, 1, 19),
    (1981, 7, 1, 20), (1982, 7, 1, 21), (1983, 7, 1, 22), (1985, 7, 1, 23), (1988, 1, 1, 24),
    (1990, 1, 1, 25), (1991, 1, 1, 26), (1992, 7, 1, 27), (1993, 7, 1, 28), (1994, 7, 1, 29),
    (1996, 1, 1, 30), (1997, 7, 1, 31), (1999, 1, 1, 32), (2006, 1, 1, 33), (2009, 1, 1, 34),
    (2012, 7, 1, 35), (2015, 7, 1, 36), (2017, 1, 1, 37),
)  # fmt: skip


def ephemeris_time_to_utc(et: float) -> str:
    """Port of usgscsm ``ephemTimeToCalendarTime``: ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC) of an ephemeris
    time (s past J2000 TDB), with usgscsm's leap-second table.

    Examples
    --------
    >>> ephemeris_time_to_utc(999)
    '2000-01-01T12:15:34.816Z'
    """
    tai = float(et) - 32.184
    j2000_tai_unix = 946728000
    approx = int(tai + j2000_tai_unix - 32)
    day = _dt.datetime.fromtimestamp(approx, _dt.UTC)
    leap = 10
    for y, m, d, n in _LEAP_SECONDS:
        if (day.year, day.month, day.day) >= (y, m, d):
            leap = n
    exact = tai + j2000_tai_unix - leap
    sec = int(exact)
    frac = exact - sec
    if frac < 0:
        sec, frac = sec - 1, frac + 1.0
    msec = int(frac * 1000.0 + 0.5)
    if msec >= 1000:
        sec, msec = sec + 1, msec - 1000
    stamp = _dt.datetime.fromtimestamp(sec, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{msec:03d}Z"
