"""Optical distortion models of the lunar scanning cameras (usgscsm ``Distortion.cpp``).

Used by :class:`pipeline.geometry.distortion.Distortion` (models ``lrolrocnac`` and
``kaguyalism``). Focal-plane coordinates are millimetres; ``remove`` maps distorted
(measured) to undistorted coordinates, ``apply`` the reverse. Each function follows
usgscsm's closed form and, for the iterative direction, usgscsm's own iteration (same
tolerances and fall-backs), vectorised over arrays.

``lrolrocnac`` (LRO NAC; ISD ``{"lrolrocnac": {"coefficients": [k1]}}``)
    remove: ``ux = dx``, ``uy = dy / (1 + k1 dy^2)``; apply: fixed point
    ``y <- uy (1 + k1 y^2)`` to 1e-10 mm (50 iterations), identity where ``|uy| > 40`` mm or
    where it does not converge.
``kaguyalism`` (Kaguya TC and MI; ISD ``{"kaguyalism": {"x": [a0..a3], "y": [b0..b3],
"boresight_x": bx, "boresight_y": by}}``; the pre-2020 ``kaguyatc`` block is the same model
with zero boresight)
    remove: ``u = d + (a0 + a1 r + a2 r^2 + a3 r^3) + bx`` (and y likewise), ``r = |d|``;
    apply: usgscsm's fixed point to 1e-6 mm (50 iterations), identity if it does not converge.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "kaguyalism_apply",
    "kaguyalism_remove",
    "lrolrocnac_apply",
    "lrolrocnac_remove",
]


def lrolrocnac_remove(k1: float, dx, dy) -> tuple[np.ndarray, np.ndarray]:
    """LRO NAC: distorted to undistorted focal plane (mm).

    Examples
    --------
    >>> ux, uy = lrolrocnac_remove(1.81e-5, 0.0, 5064 / 2 * 0.007)
    >>> round(float(uy), 10)
    17.6237922244
    """
    dx = np.asarray(dx, dtype=float)
    dy = np.asarray(dy, dtype=float)
    return dx + 0.0, dy / (1.0 + k1 * dy * dy)


def lrolrocnac_apply(k1: float, ux, uy) -> tuple[np.ndarray, np.ndarray]:
    """LRO NAC: undistorted to distorted focal plane (mm), usgscsm's iteration."""
    ux, uy = np.broadcast_arrays(np.asarray(ux, dtype=float), np.asarray(uy, dtype=float))
    uy_f = uy.ravel()
    dy = uy_f.copy()
    yt = uy_f.copy()
    yprev = np.full(uy_f.shape, 1_000_000.0)
    active = np.abs(uy_f) <= 40.0  # NaN compares False: stays as it is
    done = np.zeros(uy_f.shape, dtype=bool)
    for _ in range(50):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        y = uy_f[idx] * (1.0 + k1 * yt[idx] * yt[idx])
        conv = np.abs(y - yprev[idx]) <= 1.0e-10
        blow = y < -1e121
        yt[idx] = y
        yprev[idx] = y
        done[idx[conv]] = True
        active[idx[conv | blow]] = False
    dy[done] = yt[done]
    return ux + 0.0, dy.reshape(uy.shape)


def _kaguya_split(coeffs):
    c = [float(v) for v in coeffs]
    return c[0], c[1:5], c[5], c[6:10]


def kaguyalism_remove(coeffs, dx, dy) -> tuple[np.ndarray, np.ndarray]:
    """Kaguya LISM: distorted to undistorted focal plane (mm).

    ``coeffs`` is usgscsm's 10-vector ``(bx, a0, a1, a2, a3, by, b0, b1, b2, b3)``.

    Examples
    --------
    >>> ux, uy = kaguyalism_remove([0.5, 1, 2, 3, 4, 0.5, 1, 2, 3, 4], 1.0, 1.0)
    >>> round(float(ux), 8)
    22.64213562
    """
    bx, ax, by, ay = _kaguya_split(coeffs)
    dx = np.asarray(dx, dtype=float)
    dy = np.asarray(dy, dtype=float)
    r2 = dx * dx + dy * dy
    r = np.sqrt(r2)
    r3 = r2 * r
    drx = ax[0] + ax[1] * r + ax[2] * r2 + ax[3] * r3
    dry = ay[0] + ay[1] * r + ay[2] * r2 + ay[3] * r3
    return dx + drx + bx, dy + dry + by


def kaguyalism_apply(coeffs, ux, uy) -> tuple[np.ndarray, np.ndarray]:
    """Kaguya LISM: undistorted to distorted focal plane (mm), usgscsm's fixed point."""
    bx, ax, by, ay = _kaguya_split(coeffs)
    ux, uy = np.broadcast_arrays(np.asarray(ux, dtype=float), np.asarray(uy, dtype=float))
    shape = ux.shape
    uxf, uyf = ux.ravel(), uy.ravel()
    xt, yt = uxf - bx, uyf - by
    xprev = np.full(uxf.shape, 1_000_000.0)
    yprev = np.full(uxf.shape, 1_000_000.0)
    active = np.isfinite(uxf) & np.isfinite(uyf)
    done = np.zeros(uxf.shape, dtype=bool)
    for _ in range(50):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        x, y = xt[idx], yt[idx]
        rr = x * x + y * y
        r = np.sqrt(rr)
        rrr = rr * r
        drx = ax[0] + ax[1] * r + ax[2] * rr + ax[3] * rrr
        dry = ay[0] + ay[1] * r + ay[2] * rr + ay[3] * rrr
        x = uxf[idx] - drx - bx
        y = uyf[idx] - dry - by
        conv = (np.abs(x - xprev[idx]) < 1e-6) & (np.abs(y - yprev[idx]) < 1e-6)
        xt[idx], yt[idx] = x, y
        xprev[idx], yprev[idx] = x, y
        done[idx[conv]] = True
        active[idx[conv]] = False
    dx = np.where(done, xt, uxf)
    dy = np.where(done, yt, uyf)
    return dx.reshape(shape), dy.reshape(shape)
