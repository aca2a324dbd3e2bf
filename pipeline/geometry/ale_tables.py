"""From an ALE ISD's tables to usgscsm's uniform ephemeris, as ALE C++ and usgscsm do it.

usgscsm's ``constructStateFromIsd`` (line scan and push frame alike) reads the ISD with ALE's
C++ library and resamples it:

Positions (``instrument_position``, ``sun_position``)
    ALE ``States::getState(t, SPLINE)``: the stored state where ``t`` is one of the table's
    times; else a cubic Hermite spline between the two bracketing records when velocities are
    present (times shifted to the middle of the up-to-8-record window), else a 4-point Lagrange
    polynomial and its derivative; one record is moved linearly by its velocity. The sensor is
    sampled at ``max(25, N)`` equally spaced times from its first to its last record time and
    the sun at the same times.
Rotation into the body frame
    ALE ``Orientations::rotateStateAt(t, state, SLERP)``: ``body_rotation`` slerped at ``t``
    (Eigen's ``slerp``), times its ``constant_rotation``; the velocity gains the
    ``R @ skew(av) @ p`` term with the linearly interpolated angular velocity ``av``.
    Positions are then multiplied by 1000: ALE works in **kilometres** whatever ``unit`` says.
Pointing
    ``sensor_to_target = body_rotation * instrument_pointing.inverse()`` (ALE ``Orientations``
    algebra: the product is tabulated at the union of both tables' times), then slerped at as
    many equally spaced times, from the first to the last merged time, as there are merged
    times. Stored as ``(x, y, z, w)`` camera-to-body.

Quaternions in the ISD are scalar first ``(w, x, y, z)`` and rotate J2000 into the named frame
(ALE's ``getJsonQuatArray``). ALE reads ``instrument_pointing.constant_rotation`` only when
``time_dependent_frames`` is present (its C++ reader), and ``body_rotation.constant_rotation``
when present.

All functions are vectorised over the sample times (no per-time Python loops).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.geometry.ephemeris import CsmEphemeris

__all__ = [
    "AleOrientations",
    "ale_states_at",
    "csm_ephemeris_from_tables",
    "eigen_quat_to_matrix",
    "eigen_slerp",
    "matrix_to_eigen_quat",
    "quat_inverse",
    "quat_mul",
]

_EPS = np.finfo(float).eps


# -- quaternion algebra (Eigen semantics, scalar first (w, x, y, z)) --------------------------
def quat_mul(a, b) -> np.ndarray:
    """Hamilton product ``a * b`` of ``(w, x, y, z)`` quaternions (broadcasting)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by + ay * bw + az * bx - ax * bz,
            aw * bz + az * bw + ax * by - ay * bx,
        ],
        axis=-1,
    )


def quat_inverse(q) -> np.ndarray:
    """Eigen ``Quaternion::inverse``: conjugate divided by the squared norm."""
    q = np.asarray(q, dtype=float)
    n2 = np.sum(q * q, axis=-1, keepdims=True)
    conj = q * np.array([1.0, -1.0, -1.0, -1.0])
    return np.where(n2 > 0, conj / np.where(n2 > 0, n2, 1.0), 0.0)


def eigen_slerp(q0, q1, t) -> np.ndarray:
    """Eigen ``QuaternionBase::slerp(t, other)`` (shortest arc, not renormalised), broadcasting."""
    q0 = np.asarray(q0, dtype=float)
    q1 = np.asarray(q1, dtype=float)
    t = np.asarray(t, dtype=float)
    d = np.sum(q0 * q1, axis=-1)
    absd = np.abs(d)
    near = absd >= 1.0 - _EPS
    theta = np.arccos(np.where(near, 0.0, absd))
    sin_t = np.sin(theta)
    safe = np.where(near, 1.0, sin_t)
    scale0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    scale1 = np.where(near, t, np.sin(t * theta) / safe)
    scale1 = np.where(d < 0.0, -scale1, scale1)
    return scale0[..., None] * q0 + scale1[..., None] * q1


def eigen_quat_to_matrix(q) -> np.ndarray:
    """Eigen ``toRotationMatrix`` of ``(w, x, y, z)`` quaternions (assumed unit, not
    renormalised), shape ``(..., 3, 3)``."""
    q = np.asarray(q, dtype=float)
    w, x, y, z = np.moveaxis(q, -1, 0)
    tx, ty, tz = 2 * x, 2 * y, 2 * z
    twx, twy, twz = tx * w, ty * w, tz * w
    txx, txy, txz = tx * x, ty * x, tz * x
    tyy, tyz, tzz = ty * y, tz * y, tz * z
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - (tyy + tzz)
    m[..., 0, 1] = txy - twz
    m[..., 0, 2] = txz + twy
    m[..., 1, 0] = txy + twz
    m[..., 1, 1] = 1 - (txx + tzz)
    m[..., 1, 2] = tyz - twx
    m[..., 2, 0] = txz - twy
    m[..., 2, 1] = tyz + twx
    m[..., 2, 2] = 1 - (txx + tyy)
    return m


def matrix_to_eigen_quat(m) -> np.ndarray:
    """ALE ``Rotation(matrix)``: Eigen's matrix-to-quaternion conversion, normalised,
    ``(w, x, y, z)``. ``m`` is one 3x3 rotation matrix (row-major list of 9 or (3, 3))."""
    m = np.asarray(m, dtype=float).reshape(3, 3)
    q = np.zeros(4)  # w, x, y, z
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        t = np.sqrt(tr + 1.0)
        q[0] = 0.5 * t
        t = 0.5 / t
        q[1] = (m[2, 1] - m[1, 2]) * t
        q[2] = (m[0, 2] - m[2, 0]) * t
        q[3] = (m[1, 0] - m[0, 1]) * t
    else:
        i = 0
        if m[1, 1] > m[0, 0]:
            i = 1
        if m[2, 2] > m[i, i]:
            i = 2
        j, k = (i + 1) % 3, (i + 2) % 3
        t = np.sqrt(m[i, i] - m[j, j] - m[k, k] + 1.0)
        q[1 + i] = 0.5 * t
        t = 0.5 / t
        q[0] = (m[k, j] - m[j, k]) * t
        q[1 + j] = (m[j, i] + m[i, j]) * t
        q[1 + k] = (m[k, i] + m[i, k]) * t
    return q / np.linalg.norm(q)


def interpolation_index(times: np.ndarray, t) -> np.ndarray:
    """ALE ``interpolationIndex``: index of the table interval used at ``t`` (clamped to the
    first / last interval)."""
    idx = np.searchsorted(times, np.asarray(t, dtype=float), side="right") - 1
    return np.clip(idx, 0, max(len(times) - 2, 0))


# -- ALE States -------------------------------------------------------------------------------
def ale_states_at(times, positions, velocities, t) -> tuple[np.ndarray, np.ndarray]:
    """ALE ``States::getState(t, SPLINE)`` at many times.

    Parameters
    ----------
    times : array_like (N,)
        Record times (increasing).
    positions : array_like (N, 3)
    velocities : array_like (N, 3) or None
        None when the ISD has no velocities (ALE: NaN velocities).
    t : array_like (M,)
        Sample times.

    Returns
    -------
    position, velocity : ndarray of shape (M, 3)
    """
    times = np.asarray(times, dtype=float)
    pos = np.asarray(positions, dtype=float)
    vel = None if velocities is None else np.asarray(velocities, dtype=float)
    t = np.atleast_1d(np.asarray(t, dtype=float))
    n = len(times)
    if n == 1:
        if vel is None:
            return np.repeat(pos[:1], t.size, 0), np.full((t.size, 3), np.nan)
        return pos[0] + vel[0] * (t - times[0])[:, None], np.repeat(vel[:1], t.size, 0)
    lower = interpolation_index(times, t)
    start = np.maximum(0, lower - 3)
    stop = np.minimum(lower + 4, n - 1)
    if vel is not None:
        # Hermite on the two bracketing records, times shifted by the window's mid time
        base = (times[start] + times[stop]) / 2
        s_time = t - base
        # interpolationIndex on the shifted window times (same interval except at rounding ties)
        width = stop - start + 1
        offs = np.arange(8)
        win = np.minimum(start[:, None] + offs, stop[:, None])
        scaled = times[win] - base[:, None]
        inside = offs[None, :] < width[:, None]
        cnt = np.sum((scaled <= s_time[:, None]) & inside, axis=1)
        k = np.clip(cnt - 1, 0, width - 2)
        i0 = start + k
        x0 = times[i0] - base
        x1 = times[i0 + 1] - base
        h = x1 - x0
        tt = (s_time - x0) / h
        tt2, tt3 = tt * tt, tt * tt * tt
        y0, y1, m0, m1 = pos[i0], pos[i0 + 1], vel[i0], vel[i0 + 1]
        a = (2 * tt3 - 3 * tt2 + 1)[:, None]
        b = (tt3 - 2 * tt2 + tt)[:, None] * h[:, None]
        c = (-2 * tt3 + 3 * tt2)[:, None]
        d = (tt3 - tt2)[:, None] * h[:, None]
        p = a * y0 + b * m0 + c * y1 + d * m1
        da = (6 * tt2 - 6 * tt)[:, None]
        db = (3 * tt2 - 4 * tt + 1)[:, None] * h[:, None]
        dc = (-6 * tt2 + 6 * tt)[:, None]
        dd = (3 * tt2 - 2 * tt)[:, None] * h[:, None]
        v = (da * y0 + db * m0 + dc * y1 + dd * m1) / h[:, None]
    else:
        p, v = _lagrange4_window(times, pos, t, lower, start, stop)
    # a time equal to a record time returns that record (lower_bound match)
    j = np.searchsorted(times, t, side="left")
    exact = (j < n) & (times[np.minimum(j, n - 1)] == t)
    if exact.any():
        je = j[exact]
        p[exact] = pos[je]
        if vel is not None:  # (ALE gives NaN velocities here when the ISD has none; farside
            v[exact] = vel[je]  # keeps the Lagrange derivative, so velocity_at stays finite)
    return p, v


def _lagrange4_window(times, pos, t, lower, start, stop):
    """ALE ``lagrangeInterpolate`` / ``lagrangeInterpolateDerivative`` with order 4 on the
    window ``[start, stop]`` (SPLINE without velocities). The derivative is written as the sum
    over ``k`` of the products without ``(t - t_k)`` (ALE's ``sum 1 / (t - t_j)`` form, which is
    the same away from the nodes and finite at them)."""
    k = lower - start
    size = stop - start + 1
    ws = np.minimum(np.minimum(k + 1, size - k - 1), 2)
    s = start + k - ws + 1
    npts = 2 * ws
    last = len(times) - 1
    idx = [np.minimum(s + i, last) for i in range(4)]
    used = [i < npts for i in range(4)]
    p = np.zeros((t.size, 3))
    v = np.zeros((t.size, 3))
    for i in range(4):
        weight = np.ones(t.size)
        num = np.ones(t.size)
        dnum = np.zeros(t.size)
        for jj in range(4):
            if jj == i:
                continue
            use = used[i] & used[jj]
            weight = weight * np.where(use, times[idx[i]] - times[idx[jj]], 1.0)
            num = num * np.where(use, t - times[idx[jj]], 1.0)
            prod = np.ones(t.size)  # d/dt: drop (t - t_jj), keep the other factors
            for kk in range(4):
                if kk not in (i, jj):
                    prod = prod * np.where(used[i] & used[kk], t - times[idx[kk]], 1.0)
            dnum = dnum + np.where(use, prod, 0.0)
        coef = np.where(used[i], 1.0 / weight, 0.0)[:, None] * pos[idx[i]]
        p += num[:, None] * coef
        v += dnum[:, None] * coef
    return p, v


# -- ALE Orientations -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AleOrientations:
    """ALE ``Orientations``: a table of rotations (``(w, x, y, z)``, rotating a source frame into
    a destination frame), optional angular velocities and a constant rotation applied after.

    ``interpolate(t) = constant * slerp(table, t)`` (one record: the record, moved by its
    angular velocity when it has one).
    """

    times: np.ndarray
    quats: np.ndarray
    avs: np.ndarray | None = None
    const: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0, 0.0]))

    def time_dependent(self, t) -> np.ndarray:
        """The table's rotations ``(w, x, y, z)`` at times ``t`` (s), shape ``(n, 4)``, without the constant."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if len(self.times) > 1:
            i = interpolation_index(self.times, t)
            tau = (t - self.times[i]) / (self.times[i + 1] - self.times[i])
            return eigen_slerp(self.quats[i], self.quats[i + 1], tau)
        if self.avs is None:
            return np.repeat(self.quats[:1], t.size, 0)
        av = self.avs[0]
        norm = float(np.linalg.norm(av))
        axis = av / norm if norm > 0 else av
        half = 0.5 * (t - self.times[0]) * norm
        rot = np.concatenate([np.cos(half)[:, None], np.sin(half)[:, None] * axis], axis=1)
        return quat_mul(rot, self.quats[0])

    def interpolate(self, t) -> np.ndarray:
        """The full rotations ``constant * table`` at times ``t`` (s), ``(w, x, y, z)``, shape ``(n, 4)``."""
        return quat_mul(self.const, self.time_dependent(t))

    def interpolate_av(self, t) -> np.ndarray:
        """Angular velocities (rad/s) at times ``t`` (s), interpolated linearly, shape ``(n, 3)``; zeros if none."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if self.avs is None:
            return np.zeros((t.size, 3))
        if len(self.avs) > 1:
            i = interpolation_index(self.times, t)
            tau = ((t - self.times[i]) / (self.times[i + 1] - self.times[i]))[:, None]
            return self.avs[i] + tau * (self.avs[i + 1] - self.avs[i])
        return np.repeat(self.avs[:1], t.size, 0)

    def rotate_state_at(self, t, pos, vel) -> tuple[np.ndarray, np.ndarray]:
        """ALE ``rotateStateAt(t, state, SLERP)``: ``R p`` and ``R v + R skew(av) p``."""
        m = eigen_quat_to_matrix(self.interpolate(t))
        av = self.interpolate_av(t)
        ax, ay, az = av[:, 0], av[:, 1], av[:, 2]
        zero = np.zeros_like(ax)
        skew = np.stack(
            [np.stack([zero, az, -ay], -1), np.stack([-az, zero, ax], -1), np.stack([ay, -ax, zero], -1)],
            axis=-2,
        )
        rp = np.einsum("nij,nj->ni", m, pos)
        rv = np.einsum("nij,nj->ni", m, vel) + np.einsum("nij,nj->ni", m @ skew, pos)
        return rp, rv

    def inverse(self) -> AleOrientations:
        """The inverse rotations (destination into source), without angular velocities."""
        const_inv = quat_inverse(self.const)
        rots = quat_mul(quat_inverse(self.quats), const_inv)
        return AleOrientations(self.times, rots, None, np.array([1.0, 0.0, 0.0, 0.0]))

    def __mul__(self, rhs: AleOrientations) -> AleOrientations:
        """ALE ``Orientations * Orientations`` (angular velocities are dropped: unused here)."""
        merged = np.unique(np.concatenate([self.times, rhs.times]))
        inv_const = quat_inverse(self.const)
        rots = quat_mul(quat_mul(inv_const, self.interpolate(merged)), rhs.interpolate(merged))
        return AleOrientations(merged, rots, None, self.const)


# -- usgscsm state ------------------------------------------------------------------------------
def csm_ephemeris_from_tables(
    center_time: float,
    inst_times,
    inst_positions_km,
    inst_velocities_km,
    pointing: AleOrientations,
    body: AleOrientations,
    sun_times=None,
    sun_positions_km=None,
    sun_velocities_km=None,
) -> CsmEphemeris:
    """The usgscsm ``constructStateFromIsd`` tables from parsed ALE ISD tables.

    Parameters
    ----------
    center_time : float
        ``center_ephemeris_time`` (s).
    inst_times, inst_positions_km, inst_velocities_km : array_like
        ``instrument_position`` records (positions km, velocities km/s or None), J2000.
    pointing : AleOrientations
        ``instrument_pointing`` (J2000 to camera).
    body : AleOrientations
        ``body_rotation`` (J2000 to body-fixed).
    sun_times, sun_positions_km, sun_velocities_km : array_like, optional
        ``sun_position`` records.

    Returns
    -------
    CsmEphemeris
    """
    times = np.asarray(inst_times, dtype=float)
    start, stop = float(times[0]), float(times[-1])
    n = max(25, len(times))
    step = (stop - start) / (n - 1)
    nodes = start + np.arange(n) * step
    p, v = ale_states_at(times, inst_positions_km, inst_velocities_km, nodes)
    p, v = body.rotate_state_at(nodes, p, v)
    sun_p: np.ndarray = np.zeros((0, 3))
    sun_v: np.ndarray = np.zeros((0, 3))
    if sun_times is not None:
        sp, sv = ale_states_at(sun_times, sun_positions_km, sun_velocities_km, nodes)
        sp, sv = body.rotate_state_at(nodes, sp, np.nan_to_num(sv) if sun_velocities_km is None else sv)
        sun_p, sun_v = sp * 1000.0, sv * 1000.0
    sensor_to_target = body * pointing.inverse()
    qtimes = sensor_to_target.times
    m = len(qtimes)
    qstep = (qtimes[-1] - qtimes[0]) / (m - 1) if m > 1 else 0.0
    q = sensor_to_target.interpolate(qtimes[0] + qstep * np.arange(m))
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)  # Rotation::toQuaternion normalises
    return CsmEphemeris(
        center_time=float(center_time),
        pos_start=start,
        pos_stop=stop,
        positions=p * 1000.0,
        velocities=v * 1000.0,
        quat_start=float(qtimes[0]),
        quat_stop=float(qtimes[-1]),
        quaternions=q[:, [1, 2, 3, 0]],
        sun_positions=sun_p,
        sun_velocities=sun_v,
    )
