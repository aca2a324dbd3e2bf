"""usgscsm's ephemeris of a scanning camera: uniform tables and their Lagrange interpolation.

A line-scan or push-frame sensor model of usgscsm (``UsgsAstroLsSensorModel``,
``UsgsAstroPushFrameSensorModel``) does not interpolate the ISD's tables directly. When it is
built from an ALE ISD it resamples them once (see :mod:`pipeline.geometry.ale_tables`) into
*uniform* tables, and every later evaluation is a Lagrange interpolation on those:

- sensor positions and velocities (body-fixed metres, m/s) at ``n >= 25`` equally spaced
  times from the first to the last ``instrument_position`` time;
- the sun position and velocity at the same times;
- camera-to-body quaternions at as many equally spaced times as the merged
  ``instrument_pointing`` / ``body_rotation`` times.

:class:`CsmEphemeris` holds these tables and evaluates them exactly as usgscsm does
(``lagrangeInterp``, order 8 reduced near the table ends; the quaternion is interpolated
component-wise, then normalised by ``calculateRotationMatrixFromQuaternions``).

Conventions
-----------
Time
    Tables are stored against **absolute** ephemeris times (TDB seconds past J2000) of their
    first and last node plus the node count, so that the node times are bit-for-bit those
    usgscsm computes (``start + i * (stop - start) / (n - 1)``). Every evaluation takes time
    **relative to** ``center_time`` (the ISD's ``center_ephemeris_time``), as usgscsm does.
Quaternions
    Stored as usgscsm stores them: ``(x, y, z, w)``, scalar **last**, rotating camera
    vectors into the body-fixed frame (``v_body = R(q) @ v_cam``).
Units
    Metres, metres per second, seconds.

Everything here is vectorised over arrays of times; there are no per-point loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.errors import GeometryError

__all__ = [
    "CsmEphemeris",
    "lagrange_coefficients",
    "lagrange_interp_uniform",
    "quat_xyzw_to_matrix",
]


def lagrange_interp_uniform(values, t0: float, dt: float, time, order: int = 8) -> np.ndarray:
    """Port of usgscsm ``lagrangeInterp``: Lagrange interpolation on a uniform table.

    Parameters
    ----------
    values : array_like of shape (n, k)
        Table values at times ``t0 + i * dt``, ``i = 0 .. n - 1`` (``n >= 2``).
    t0, dt : float
        Time of the first node and node spacing (any unit, same as ``time``).
    time : array_like
        Times to interpolate at (any shape ``S``).
    order : {2, 4, 6, 8}
        Highest order (number of nodes) used. As in usgscsm, the order is reduced near the
        table ends (2 nodes next to the first / last interval, then 4, 6) and times outside
        the table are extrapolated from its first / last interval.

    Returns
    -------
    ndarray of shape ``S + (k,)``

    Raises
    ------
    GeometryError
        Fewer than two nodes (usgscsm: ``INDEX_OUT_OF_RANGE``).

    Examples
    --------
    >>> table = [[1.0], [2.0], [4.0], [8.0], [16.0], [32.0], [64.0], [128.0]]
    >>> float(lagrange_interp_uniform(table, 0.0, 1.0, 3.5, order=4)[0]) == 180 / 16
    True
    """
    vals = np.asarray(values, dtype=float)
    if vals.ndim == 1:
        vals = vals[:, None]
    n = vals.shape[0]
    if n < 2:
        raise GeometryError("at least 2 points are required to perform Lagrange interpolation")
    time = np.asarray(time, dtype=float)
    shape = time.shape
    fndex = ((time - t0) / dt).ravel()
    # static_cast<int> truncates towards zero; non-finite values are clamped like huge ones
    trunc = np.trunc(np.where(np.isfinite(fndex), fndex, 0.0))
    index = np.clip(trunc, 0, n - 2).astype(np.intp)
    t = fndex - index
    coeffs = lagrange_coefficients(vals, int(order))
    u = t[:, None]
    out = np.take(coeffs[:, 7], index, axis=0)
    for p in range(6, -1, -1):  # Horner over the 8 coefficients
        out *= u
        out += np.take(coeffs[:, p], index, axis=0)
    return out.reshape(shape + (vals.shape[1],))


def _basis(order: int) -> np.ndarray:
    """Monomial coefficients ``A[j, p]`` of the uniform Lagrange basis ``L_j(t)`` on nodes
    ``j - order/2 + 1`` (``L_j(t) = sum_p A[j, p] t**p``), padded to 8 powers."""
    m = np.arange(order) - (order // 2 - 1)
    a = np.zeros((order, 8))
    for j in range(order):
        others = np.delete(m, j)
        poly = np.poly(others)[::-1] / np.prod(m[j] - others)  # ascending powers
        a[j, : poly.size] = poly
    return a


_BASES = {o: _basis(o) for o in (2, 4, 6, 8)}


def lagrange_coefficients(values, order: int = 8) -> np.ndarray:
    """Per-interval polynomials of usgscsm's uniform Lagrange interpolation.

    For the table interval ``i`` (times ``t0 + (i + u) dt``, ``0 <= u < 1``) usgscsm uses a
    polynomial of degree ``o - 1`` through the ``o`` nodes ``i - o/2 + 1 ..`` with ``o`` = 8
    inside the table, 6, 4 and 2 nearer its ends (and at most ``order``). This returns its
    coefficients in powers of ``u``: ``C[i, p, :]``, shape ``(n - 1, 8, k)``, built from the
    differences to node ``i`` (so ``C[i, 0] = values[i]`` exactly). Evaluating them (Horner)
    equals usgscsm's weighted sum to rounding, at a fraction of the cost.
    """
    vals = np.asarray(values, dtype=float)
    n, k = vals.shape
    idx = np.arange(n - 1)
    ordr = np.full(n - 1, 2)
    ordr[(idx >= 1) & (idx < n - 2)] = 4
    ordr[(idx >= 2) & (idx < n - 3)] = 6
    ordr[(idx >= 3) & (idx < n - 4)] = 8
    ordr = np.minimum(ordr, order)
    out = np.zeros((n - 1, 8, k))
    for o in (2, 4, 6, 8):
        sel = np.flatnonzero(ordr == o)
        if sel.size == 0:
            continue
        nodes = vals[(sel - (o // 2 - 1))[:, None] + np.arange(o)] - vals[sel][:, None, :]  # (S, o, k)
        out[sel] = np.einsum("jp,sjk->spk", _BASES[o], nodes)
        out[sel, 0] = vals[sel]
    return out


def quat_xyzw_to_matrix(q) -> np.ndarray:
    """Port of usgscsm ``calculateRotationMatrixFromQuaternions``: normalise ``(x, y, z, w)`` quaternions
    (shape ``(..., 4)``) and return their rotation matrices, shape ``(..., 3, 3)``.

    Examples
    --------
    >>> quat_xyzw_to_matrix([0.0, 0.0, 0.0, 1.0]).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    q = np.asarray(q, dtype=float)
    q = q / np.sqrt(np.einsum("...i,...i->...", q, q))[..., None]
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz, ww = x * x, y * y, z * z, w * w
    xy, xz, yz, xw, yw, zw = x * y, x * z, y * z, x * w, y * w, z * w
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = xx - yy - zz + ww
    m[..., 0, 1] = 2 * (xy - zw)
    m[..., 0, 2] = 2 * (xz + yw)
    m[..., 1, 0] = 2 * (xy + zw)
    m[..., 1, 1] = -xx + yy - zz + ww
    m[..., 1, 2] = 2 * (yz - xw)
    m[..., 2, 0] = 2 * (xz - yw)
    m[..., 2, 1] = 2 * (yz + xw)
    m[..., 2, 2] = -xx - yy + zz + ww
    return m


def _floats(values, width: int, name: str) -> tuple[float, ...]:
    arr = np.asarray(values, dtype=float)
    if arr.size and (arr.ndim != 2 or arr.shape[1] != width):
        arr = arr.reshape(-1, width)
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} holds non-finite values")
    return tuple(float(v) for v in arr.ravel())


class PicklesWithoutCache:
    """Mixin of frozen dataclasses with a ``_cache`` dict: pickles without it (small, cheap)."""

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_cache", {})


@dataclass(frozen=True)
class CsmEphemeris(PicklesWithoutCache):
    """usgscsm's uniform ephemeris tables of one scanning image (body-fixed).

    Attributes
    ----------
    center_time : float
        ``center_ephemeris_time`` (absolute ET, s); evaluations take time relative to it.
    pos_start, pos_stop : float
        Absolute ET (s) of the first and last position node.
    positions, velocities : tuple of float
        ``(n, 3)`` row-major: sensor position (m) and velocity (m/s), body-fixed, at the
        nodes ``pos_start + i * (pos_stop - pos_start) / (n - 1)``.
    quat_start, quat_stop : float
        Absolute ET (s) of the first and last quaternion node.
    quaternions : tuple of float
        ``(m, 4)`` row-major ``(x, y, z, w)`` camera-to-body quaternions at the nodes.
    sun_positions, sun_velocities : tuple of float
        ``(n_sun, 3)`` sun position (m) and velocity (m/s), body-fixed. usgscsm samples them at
        the position nodes; a single position (optionally with a velocity) is extrapolated
        linearly from relative time 0 (usgscsm ``getSunPosition``). Empty: no sun.
    """

    center_time: float
    pos_start: float
    pos_stop: float
    positions: tuple[float, ...]
    velocities: tuple[float, ...]
    quat_start: float
    quat_stop: float
    quaternions: tuple[float, ...]
    sun_positions: tuple[float, ...] = ()
    sun_velocities: tuple[float, ...] = ()
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        set_ = object.__setattr__
        for name in ("center_time", "pos_start", "pos_stop", "quat_start", "quat_stop"):
            v = float(getattr(self, name))
            if not math.isfinite(v):
                raise GeometryError(f"ephemeris {name} is not finite")
            set_(self, name, v)
        set_(self, "positions", _floats(self.positions, 3, "positions"))
        set_(self, "velocities", _floats(self.velocities, 3, "velocities"))
        set_(self, "quaternions", _floats(self.quaternions, 4, "quaternions"))
        set_(self, "sun_positions", _floats(self.sun_positions, 3, "sun_positions"))
        set_(self, "sun_velocities", _floats(self.sun_velocities, 3, "sun_velocities"))
        n, m = len(self.positions) // 3, len(self.quaternions) // 4
        if n < 2 or len(self.velocities) != len(self.positions):
            raise GeometryError(
                f"the ephemeris needs >= 2 positions with as many velocities, got {n} and "
                f"{len(self.velocities) // 3}"
            )
        if m < 2:
            raise GeometryError(f"the ephemeris needs >= 2 quaternions, got {m}")
        if not (self.pos_stop > self.pos_start and self.quat_stop > self.quat_start):
            raise GeometryError("ephemeris tables must span a positive time interval")
        if len(self.sun_velocities) not in (0, len(self.sun_positions)):
            raise GeometryError("sun_velocities must be empty or match sun_positions")

    # -- uniform grids ----------------------------------------------------------------------
    @property
    def n_positions(self) -> int:
        """Number of position nodes."""
        return len(self.positions) // 3

    @property
    def n_quaternions(self) -> int:
        """Number of quaternion nodes."""
        return len(self.quaternions) // 4

    @property
    def dt_ephem(self) -> float:
        """Position node spacing (s), usgscsm ``m_dtEphem``."""
        return (self.pos_stop - self.pos_start) / (self.n_positions - 1)

    @property
    def t0_ephem(self) -> float:
        """First position node relative to ``center_time`` (s), usgscsm ``m_t0Ephem``."""
        return self.pos_start - self.center_time

    @property
    def dt_quat(self) -> float:
        """Quaternion node spacing (s), usgscsm ``m_dtQuat``."""
        return (self.quat_stop - self.quat_start) / (self.n_quaternions - 1)

    @property
    def t0_quat(self) -> float:
        """First quaternion node relative to ``center_time`` (s), usgscsm ``m_t0Quat``."""
        return self.quat_start - self.center_time

    def position_node_times(self) -> np.ndarray:
        """Absolute ET (s) of the position nodes, computed as usgscsm does."""
        return self.pos_start + np.arange(self.n_positions) * self.dt_ephem

    def quaternion_node_times(self) -> np.ndarray:
        """Absolute ET (s) of the quaternion nodes, computed as usgscsm does."""
        return self.quat_start + self.dt_quat * np.arange(self.n_quaternions)

    def _arr(self, name: str, width: int) -> np.ndarray:
        a = self._cache.get(name)
        if a is None:
            a = np.array(getattr(self, name)).reshape(-1, width)
            a.setflags(write=False)
            self._cache[name] = a
        return a

    @property
    def position_table(self) -> np.ndarray:
        """Positions (m), read-only, shape ``(n_positions, 3)``."""
        return self._arr("positions", 3)

    @property
    def velocity_table(self) -> np.ndarray:
        """Velocities (m/s), read-only, shape ``(n_positions, 3)``."""
        return self._arr("velocities", 3)

    @property
    def quaternion_table(self) -> np.ndarray:
        """Quaternions ``(x, y, z, w)``, read-only, shape ``(n_quaternions, 4)``."""
        return self._arr("quaternions", 4)

    @property
    def has_sun(self) -> bool:
        """Whether the tables include Sun positions."""
        return bool(self.sun_positions)

    # -- evaluation (relative time) ------------------------------------------------------------
    def _interp(self, name: str, t0: float, dt: float, t_rel, order: int = 8) -> np.ndarray:
        coeffs = self._cache.get(("coeffs", name))
        if coeffs is None:  # (8, n - 1, k): one contiguous table per power
            coeffs = np.ascontiguousarray(
                lagrange_coefficients(getattr(self, name), order).transpose(1, 0, 2)
            )
            self._cache[("coeffs", name)] = coeffs
        t_rel = np.asarray(t_rel, dtype=float)
        fndex = ((t_rel - t0) / dt).ravel()
        index = np.clip(np.trunc(np.where(np.isfinite(fndex), fndex, 0.0)), 0, coeffs.shape[1] - 1).astype(
            np.intp
        )
        u = (fndex - index)[:, None]
        out = np.take(coeffs[7], index, axis=0)
        for p in range(6, -1, -1):  # Horner
            out *= u
            out += np.take(coeffs[p], index, axis=0)
        return out.reshape(t_rel.shape + (coeffs.shape[2],))

    def position(self, t_rel) -> np.ndarray:
        """Sensor position (m, body-fixed), shape ``(..., 3)``, at times relative to
        ``center_time`` (usgscsm ``getAdjSensorPosVel`` without adjustments)."""
        return self._interp("position_table", self.t0_ephem, self.dt_ephem, t_rel)

    def velocity(self, t_rel) -> np.ndarray:
        """Sensor velocity (m/s, body-fixed), shape ``(..., 3)``."""
        return self._interp("velocity_table", self.t0_ephem, self.dt_ephem, t_rel)

    def quaternion(self, t_rel) -> np.ndarray:
        """Interpolated (not normalised) ``(x, y, z, w)`` camera-to-body quaternions."""
        order = 8 if self.n_quaternions * 4 >= 6 else 4
        return self._interp("quaternion_table", self.t0_quat, self.dt_quat, t_rel, order)

    def cam_to_body(self, t_rel) -> np.ndarray:
        """Camera-to-body rotation matrices, shape ``(..., 3, 3)``."""
        return quat_xyzw_to_matrix(self.quaternion(t_rel))

    def sun_position(self, t_rel) -> np.ndarray | None:
        """Sun position (m, body-fixed), usgscsm ``getSunPosition``: Lagrange (order 8) on the
        sun table when it has several nodes, else the single position moved linearly by its
        velocity (``t_rel * v``), else the single position. None when there is no sun."""
        if not self.sun_positions:
            return None
        t_rel = np.asarray(t_rel, dtype=float)
        sun = self._arr("sun_positions", 3)
        if sun.shape[0] > 1:
            return lagrange_interp_uniform(sun, self.t0_ephem, self.dt_ephem, t_rel, 8)
        if self.sun_velocities:
            vel = self._arr("sun_velocities", 3)[0]
            return t_rel[..., None] * vel + sun[0]
        return np.broadcast_to(sun[0], t_rel.shape + (3,)).copy()
