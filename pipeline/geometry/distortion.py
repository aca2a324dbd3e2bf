"""Optical distortion models of the CSM frame camera (usgscsm ``Distortion.cpp`` semantics).

Focal-plane coordinates are in millimetres. Each model has two directions:

- ``remove(dx, dy) -> (ux, uy)``: distorted (measured) focal-plane position to the ideal
  pinhole position; used by image -> ground.
- ``apply(ux, uy) -> (dx, dy)``: the inverse; used by ground -> image.

usgscsm computes one direction in closed form and the other iteratively; this module
uses the same closed form and, for the other direction, a vectorised Newton iteration on
the closed form solved to ~1e-13 mm, so ``apply(remove(p)) == p`` to rounding (usgscsm's
own iterations stop at 1e-6 mm).

Models (``optical_distortion`` block of the ISD):

``none``
    identity.
``radial`` (``{"radial": {"coefficients": [k0, k1, k2]}}``)
    remove: ``u = d * (1 - (k0 + k1 r^2 + k2 r^4))``, ``r = |d|`` (closed form; usgscsm
    skips it for ``r^2 <= 1e-6 mm^2``, a sub-micrometre discontinuity not reproduced here).
``transverse`` (``{"transverse": {"x": [10], "y": [10]}}``)
    apply: ``d = sum_i c_i f_i(u)`` with the cubic terms
    ``f = (1, x, y, x^2, xy, y^2, x^3, x^2 y, x y^2, y^3)`` (closed form).
``lunarorbiter`` (``{"lunarorbiter": {"perspective_x", "perspective_y", "center_point_x",
"center_point_y"[, "coefficients": [k0, k1]]}}``)
    ISIS ``LoHighDistortionMap::SetFocalPlane`` (remove, closed form):
    ``pc = d * (1 + px dx + py dy)``, ``dist = pc - c``, ``u = pc - dist * (k0 + k1 |dist|^2)``.
    ALE's ISDs carry no ``OD_K`` for this model, so ``k0 = k1 = 0`` unless given. (The
    formula is ISIS's, which usgscsm's ``LUNARORBITER`` model ports.)
``transverse`` with a singular linear part and no higher terms (usgscsm's own test ISD)
    is the identity: usgscsm's Newton removal returns its input on a singular Jacobian.
``lrolrocnac``, ``kaguyalism`` (and the pre-2020 ``kaguyatc`` block, read as ``kaguyalism``
with zero boresight)
    the scanning cameras' models, in :mod:`pipeline.geometry.distortion_models`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.geometry import distortion_models as _dm

log = logging.getLogger(__name__)

__all__ = ["Distortion", "DISTORTION_MODELS"]

DISTORTION_MODELS = ("none", "radial", "transverse", "lunarorbiter", "lrolrocnac", "kaguyalism")

_IDENTITY_TRANSVERSE = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0) + (
    0.0,
    0.0,
    1.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
)

_NEWTON_TOL_MM = 1e-13
_NEWTON_MAX_ITER = 30


def _transverse_terms(x, y):
    return (np.ones_like(x), x, y, x * x, x * y, y * y, x * x * x, x * x * y, x * y * y, y * y * y)


def _transverse_dterms(x, y):
    zero, one = np.zeros_like(x), np.ones_like(x)
    d_dx = (zero, one, zero, 2 * x, y, zero, 3 * x * x, 2 * x * y, y * y, zero)
    d_dy = (zero, zero, one, zero, x, 2 * y, zero, x * x, 2 * x * y, 3 * y * y)
    return d_dx, d_dy


@dataclass(frozen=True)
class Distortion:
    """An optical distortion model and its coefficients.

    Attributes
    ----------
    model : str
        One of :data:`DISTORTION_MODELS`.
    coefficients : tuple of float
        ``radial``: ``(k0, k1, k2)``; ``transverse``: 10 x then 10 y coefficients;
        ``lunarorbiter``: ``(perspective_x, perspective_y, center_point_x, center_point_y,
        k0, k1)``; ``lrolrocnac``: ``(k1,)``; ``kaguyalism``: ``(bx, a0..a3, by, b0..b3)``;
        ``none``: ``()``.
    """

    model: str = "none"
    coefficients: tuple[float, ...] = ()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def radial(cls, k=(0.0, 0.0, 0.0)) -> Distortion:
        """Radial model ``(k0, k1, k2)`` (``none`` when all are zero)."""
        k = tuple(float(v) for v in k) + (0.0,) * (3 - len(k))
        return cls("radial", k[:3]) if any(k) else cls()

    @classmethod
    def from_isd_block(cls, block: dict[str, Any] | None) -> Distortion:
        """Model of an ISD's ``optical_distortion`` block (usgscsm: its first key names the
        model; a missing block is the identity). Raises ``KeyError``/``ValueError`` on a
        malformed block (the caller turns them into ``BadGeometry``)."""
        if not block:
            return cls()
        if "x" in block and "y" in block and not isinstance(block.get("x"), dict):
            name, body = "transverse", block  # oldest usgscsm layout: {"x": [...], "y": [...]}
        else:
            name = next(iter(block))
            body = block[name]
        name = name.lower()
        if name == "radial":
            return cls.radial(body["coefficients"])
        if name == "transverse":
            x = [float(v) for v in body["x"]][:10]
            y = [float(v) for v in body["y"]][:10]
            coeffs = tuple(x + [0.0] * (10 - len(x)) + y + [0.0] * (10 - len(y)))
            if coeffs == _IDENTITY_TRANSVERSE:
                return cls()
            jac = coeffs[1] * coeffs[12] - coeffs[2] * coeffs[11]
            higher = coeffs[0:1] + coeffs[3:10] + coeffs[10:11] + coeffs[13:20]
            if abs(jac) < 1e-6 and not any(higher):
                # A singular affine "distortion" cannot be inverted. usgscsm's Newton
                # removal breaks out on the singular Jacobian and returns its input, so
                # the identity reproduces usgscsm's image->ground and keeps the camera
                # self-consistent (usgscsm's ground->image would be inconsistent).
                log.warning(
                    "transverse distortion %s is singular; using the identity as usgscsm's "
                    "removeDistortion effectively does",
                    coeffs,
                )
                return cls()
            return cls("transverse", coeffs)
        if name == "lunarorbiter":
            k = [float(v) for v in body.get("coefficients", body.get("odk", [0.0, 0.0]))]
            k = (k + [0.0, 0.0])[:2]
            coeffs = (
                float(body["perspective_x"]),
                float(body["perspective_y"]),
                float(body["center_point_x"]),
                float(body["center_point_y"]),
                k[0],
                k[1],
            )
            if not any(coeffs[:2]) and not any(coeffs[4:]):
                return cls()
            return cls("lunarorbiter", coeffs)
        if name == "lrolrocnac":
            k = np.atleast_1d(np.asarray(body["coefficients"], dtype=float)).ravel()
            if k.size != 1:
                raise ValueError(f"lrolrocnac takes 1 coefficient, got {k.size}")
            return cls("lrolrocnac", (float(k[0]),))
        if name in ("kaguyalism", "kaguyatc"):
            x = ([float(v) for v in body["x"]] + [0.0] * 4)[:4]
            y = ([float(v) for v in body["y"]] + [0.0] * 4)[:4]
            bx = float(body.get("boresight_x", 0.0)) if name == "kaguyalism" else 0.0
            by = float(body.get("boresight_y", 0.0)) if name == "kaguyalism" else 0.0
            return cls("kaguyalism", tuple([bx] + x + [by] + y))
        raise ValueError(
            f"optical distortion model {name!r} is not supported "
            f"(supported: radial, transverse, lunarorbiter, lrolrocnac, kaguyalism)"
        )

    def to_isd_block(self) -> dict[str, Any]:
        """The ISD ``optical_distortion`` block of this model (inverse of :meth:`from_isd_block`)."""
        c = list(self.coefficients)
        if self.model == "none":
            return {"radial": {"coefficients": [0.0, 0.0, 0.0]}}
        if self.model == "radial":
            return {"radial": {"coefficients": c}}
        if self.model == "transverse":
            return {"transverse": {"x": c[:10], "y": c[10:]}}
        if self.model == "lunarorbiter":
            return {
                "lunarorbiter": {
                    "perspective_x": c[0],
                    "perspective_y": c[1],
                    "center_point_x": c[2],
                    "center_point_y": c[3],
                    "coefficients": c[4:6],
                }
            }
        if self.model == "lrolrocnac":
            return {"lrolrocnac": {"coefficients": c}}
        if self.model == "kaguyalism":
            return {"kaguyalism": {"x": c[1:5], "y": c[6:10], "boresight_x": c[0], "boresight_y": c[5]}}
        raise ValueError(f"unknown distortion model {self.model!r}")

    @property
    def is_identity(self) -> bool:
        """Whether the model is ``"none"`` (no distortion)."""
        return self.model == "none"

    # -- closed-form directions -------------------------------------------------------------
    def _remove_closed(self, dx, dy):
        c = self.coefficients
        if self.model == "radial":
            rr = dx * dx + dy * dy
            dr = c[0] + rr * (c[1] + rr * c[2])
            return dx * (1.0 - dr), dy * (1.0 - dr)
        if self.model == "lunarorbiter":
            px, py, cx, cy, k0, k1 = c
            fac = 1.0 + px * dx + py * dy
            pcx, pcy = dx * fac, dy * fac
            ex, ey = pcx - cx, pcy - cy
            dr = k0 + k1 * (ex * ex + ey * ey)
            return pcx - dr * ex, pcy - dr * ey
        raise AssertionError(self.model)

    def _remove_jacobian(self, dx, dy):
        c = self.coefficients
        if self.model == "lunarorbiter":
            px, py, cx, cy, k0, k1 = c
            fac = 1.0 + px * dx + py * dy
            pcx, pcy = dx * fac, dy * fac
            # d(pc)/d(d)
            a11, a12 = fac + dx * px, dx * py
            a21, a22 = dy * px, fac + dy * py
            ex, ey = pcx - cx, pcy - cy
            dr = k0 + k1 * (ex * ex + ey * ey)
            # u = pc - dr * e ; du/dpc = (1 - dr) I - 2 k1 e e^T
            b11 = 1.0 - dr - 2 * k1 * ex * ex
            b12 = -2 * k1 * ex * ey
            b22 = 1.0 - dr - 2 * k1 * ey * ey
            return (
                b11 * a11 + b12 * a21,
                b11 * a12 + b12 * a22,
                b12 * a11 + b22 * a21,
                b12 * a12 + b22 * a22,
            )
        raise AssertionError(self.model)

    def _apply_closed(self, ux, uy):
        c = self.coefficients
        f = _transverse_terms(ux, uy)
        dx = sum(ci * fi for ci, fi in zip(c[:10], f, strict=True))
        dy = sum(ci * fi for ci, fi in zip(c[10:], f, strict=True))
        return dx, dy

    def _apply_jacobian(self, ux, uy):
        c = self.coefficients
        d_dx, d_dy = _transverse_dterms(ux, uy)
        jxx = sum(ci * t for ci, t in zip(c[:10], d_dx, strict=True))
        jxy = sum(ci * t for ci, t in zip(c[:10], d_dy, strict=True))
        jyx = sum(ci * t for ci, t in zip(c[10:], d_dx, strict=True))
        jyy = sum(ci * t for ci, t in zip(c[10:], d_dy, strict=True))
        return jxx, jxy, jyx, jyy

    # -- public directions ------------------------------------------------------------------
    def remove(self, dx, dy) -> tuple[np.ndarray, np.ndarray]:
        """Distorted focal-plane ``(dx, dy)`` (mm) to undistorted ``(ux, uy)`` (mm)."""
        dx = np.asarray(dx, dtype=float)
        dy = np.asarray(dy, dtype=float)
        if self.model == "none":
            return dx, dy
        if self.model == "lrolrocnac":
            return _dm.lrolrocnac_remove(self.coefficients[0], dx, dy)
        if self.model == "kaguyalism":
            return _dm.kaguyalism_remove(self.coefficients, dx, dy)
        if self.model in ("radial", "lunarorbiter"):
            return self._remove_closed(dx, dy)
        # transverse: Newton on apply(u) = d, starting at u = d (usgscsm removeDistortion)
        return _newton(self._apply_closed, self._apply_jacobian, dx, dy, dx.copy(), dy.copy())

    def _apply_radial(self, ux, uy):
        return _radial_apply(self.coefficients, ux, uy)

    def apply(self, ux, uy) -> tuple[np.ndarray, np.ndarray]:
        """Undistorted focal-plane ``(ux, uy)`` (mm) to distorted ``(dx, dy)`` (mm)."""
        ux = np.asarray(ux, dtype=float)
        uy = np.asarray(uy, dtype=float)
        if self.model == "none":
            return ux, uy
        if self.model == "transverse":
            return self._apply_closed(ux, uy)
        if self.model == "radial":
            return self._apply_radial(ux, uy)
        if self.model == "lrolrocnac":
            return _dm.lrolrocnac_apply(self.coefficients[0], ux, uy)
        if self.model == "kaguyalism":
            return _dm.kaguyalism_apply(self.coefficients, ux, uy)
        # lunarorbiter: Newton on remove(d) = u, from ISIS SetUndistortedFocalPlane's
        # first-order perspective guess
        px, py = self.coefficients[:2]
        fac = 1.0 - px * ux - py * uy
        return _newton(self._remove_closed, self._remove_jacobian, ux, uy, ux * fac, uy * fac)


def _radial_apply(k, ux, uy):
    """Invert ``u = d (1 - k0 - k1 r^2 - k2 r^4)`` along the radius: 1-D Newton on
    ``r_d (1 - k0 - k1 r_d^2 - k2 r_d^4) = r_u``. Points without a solution (beyond the
    model's turning radius) keep ``d = u``, as usgscsm's ``applyDistortion`` does."""
    k0, k1, k2 = k
    ru = np.hypot(ux, uy)
    r = ru / (1.0 - k0)
    for _ in range(_NEWTON_MAX_ITER):
        r2 = r * r
        g = r * (1.0 - k0 - r2 * (k1 + r2 * k2)) - ru
        dg = 1.0 - k0 - r2 * (3.0 * k1 + 5.0 * r2 * k2)
        step = g / np.where(dg == 0.0, 1.0, dg)
        r = r - step
        if not np.any(np.abs(step) > _NEWTON_TOL_MM):  # NaNs compare False: they are done
            break
    r2 = r * r
    ok = np.abs(r * (1.0 - k0 - r2 * (k1 + r2 * k2)) - ru) <= 1e3 * _NEWTON_TOL_MM
    scale = np.where(ok & (ru > 0), r / np.where(ru > 0, ru, 1.0), 1.0)
    return ux * scale, uy * scale


def _newton(func, jac, tx, ty, x, y):
    """Solve ``func(x, y) = (tx, ty)`` elementwise by Newton's method (vectorised).

    Points whose Jacobian is singular or that do not converge keep their last iterate;
    non-finite inputs stay non-finite.
    """
    tx, ty = np.broadcast_arrays(tx, ty)
    shape = tx.shape
    x = np.array(np.broadcast_to(x, shape), dtype=float).ravel()
    y = np.array(np.broadcast_to(y, shape), dtype=float).ravel()
    tx, ty = tx.ravel(), ty.ravel()
    active = np.isfinite(tx) & np.isfinite(ty)
    for _ in range(_NEWTON_MAX_ITER):
        if not active.any():
            break
        xa, ya = x[active], y[active]
        fx, fy = func(xa, ya)
        rx, ry = tx[active] - fx, ty[active] - fy
        done = (np.abs(rx) + np.abs(ry)) <= _NEWTON_TOL_MM
        jxx, jxy, jyx, jyy = jac(xa, ya)
        det = jxx * jyy - jxy * jyx
        ok = np.abs(det) > 1e-12
        safe = np.where(ok, det, 1.0)
        stepx = np.where(ok & ~done, (jyy * rx - jxy * ry) / safe, 0.0)
        stepy = np.where(ok & ~done, (jxx * ry - jyx * rx) / safe, 0.0)
        x[active] = xa + stepx
        y[active] = ya + stepy
        idx = np.flatnonzero(active)
        active[idx[done | ~ok]] = False
    return x.reshape(shape), y.reshape(shape)
