"""Rotations and ephemeris interpolation for the camera model (pure numpy).

Conventions
-----------
- Quaternions are **scalar first** ``(w, x, y, z)`` (ALE's ISD convention) unless a
  function says otherwise. :func:`quat_to_matrix` returns the usual active rotation
  matrix ``R`` of a unit quaternion; with ALE's quaternions, which rotate J2000 into the
  named frame, ``v_frame = R @ v_j2000``. The same matrix formula is usgscsm's
  ``calcRotationMatrix`` (which stores the quaternion as ``(x, y, z, w)``).
- Rotation vectors are axis * angle in radians (right-handed).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "lagrange_interpolate",
    "matrix_to_quat",
    "quat_to_matrix",
    "rotvec_to_matrix",
    "slerp",
    "interpolate_quaternions",
]


def quat_to_matrix(q) -> np.ndarray:
    """3x3 rotation matrix of a (normalised here) scalar-first quaternion ``(w, x, y, z)``."""
    w, x, y, z = np.asarray(q, dtype=float) / np.linalg.norm(q)
    return np.array(
        [
            [w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (w * y + x * z)],
            [2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (w * x + y * z), w * w - x * x - y * y + z * z],
        ]
    )


def matrix_to_quat(m) -> np.ndarray:
    """Scalar-first unit quaternion ``(w, x, y, z)``, ``w >= 0``, of a rotation matrix
    (Shepperd's method; inverse of :func:`quat_to_matrix`)."""
    m = np.asarray(m, dtype=float)
    tr = np.trace(m)
    cands = np.array([tr, m[0, 0], m[1, 1], m[2, 2]])
    i = int(np.argmax(cands))
    if i == 0:
        s = 2.0 * np.sqrt(1.0 + tr)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif i == 1:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif i == 2:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def rotvec_to_matrix(rotvec) -> np.ndarray:
    """Rotation matrix of a rotation vector (axis * angle, radians), Rodrigues' formula."""
    v = np.asarray(rotvec, dtype=float).reshape(3)
    theta = float(np.linalg.norm(v))
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    if theta < 1e-8:  # series expansion keeps small corrections exact to rounding
        return np.eye(3) + k + 0.5 * (k @ k)
    k /= theta
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * (k @ k)


def slerp(q0, q1, tau: float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (shortest arc), ``tau`` in [0, 1]."""
    q0 = np.asarray(q0, float) / np.linalg.norm(q0)
    q1 = np.asarray(q1, float) / np.linalg.norm(q1)
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + tau * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(min(dot, 1.0))
    return (np.sin((1 - tau) * theta) * q0 + np.sin(tau * theta) * q1) / np.sin(theta)


def interpolate_quaternions(times, quats, t: float) -> np.ndarray:
    """Quaternion at time ``t`` from a table: slerp between the bracketing entries
    (ALE/usgscsm behaviour); the end entries are held outside the table."""
    times = np.asarray(times, dtype=float)
    quats = np.asarray(quats, dtype=float)
    if len(times) == 1 or t <= times[0]:
        return quats[0] / np.linalg.norm(quats[0])
    if t >= times[-1]:
        return quats[-1] / np.linalg.norm(quats[-1])
    i = int(np.searchsorted(times, t, side="right")) - 1
    tau = (t - times[i]) / (times[i + 1] - times[i])
    return slerp(quats[i], quats[i + 1], tau)


def lagrange_interpolate(times, values, t: float, order: int = 8) -> np.ndarray:
    """Lagrange polynomial interpolation of ``values`` (N, k) at time ``t``.

    Uses the ``order`` table entries nearest to ``t`` (fewer when the table is shorter),
    as ALE's ``lagrangeInterpolate`` does for instrument and sun positions. One entry:
    that entry; two: linear.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    n_tab = len(times)
    if n_tab == 1:
        return values[0].copy()
    n = min(order, n_tab)
    centre = int(np.searchsorted(times, t))
    i0 = int(np.clip(centre - n // 2, 0, n_tab - n))
    ts = times[i0 : i0 + n]
    vs = values[i0 : i0 + n]
    out = np.zeros(values.shape[1:])
    for j in range(n):
        others = np.delete(ts, j)
        w = np.prod((t - others) / (ts[j] - others))
        out += w * vs[j]
    return out
