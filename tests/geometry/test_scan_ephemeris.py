"""ALE's table semantics (States, Orientations) and usgscsm's uniform ephemeris, on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import GeometryError
from pipeline.geometry.ale_tables import (
    AleOrientations,
    ale_states_at,
    csm_ephemeris_from_tables,
    eigen_quat_to_matrix,
    eigen_slerp,
    matrix_to_eigen_quat,
    quat_mul,
)
from pipeline.geometry.ephemeris import CsmEphemeris, lagrange_interp_uniform, quat_xyzw_to_matrix
from pipeline.geometry.rotation import quat_to_matrix, rotvec_to_matrix


def cubic(t):
    return np.stack([1 + 2 * t - t**2 + 0.5 * t**3, 3 - t + 0.25 * t**3, -2 + t**2], axis=-1)


def dcubic(t):
    return np.stack([2 - 2 * t + 1.5 * t**2, -1 + 0.75 * t**2, 2 * t], axis=-1)


def test_states_hermite_and_lagrange_reproduce_a_cubic_trajectory():
    times = np.array([0.0, 0.7, 1.5, 2.0, 3.1, 4.0])
    t = np.array([0.0, 0.35, 1.0, 1.5, 2.9, 3.99, 4.0, 4.5, -0.5])
    # with velocities: cubic Hermite between the two bracketing records (exact for a cubic)
    p, v = ale_states_at(times, cubic(times), dcubic(times), t)
    np.testing.assert_allclose(p, cubic(t), atol=1e-12)
    np.testing.assert_allclose(v, dcubic(t), atol=1e-11)
    # without velocities: 4-point Lagrange and its derivative (exact for a cubic) away from the
    # ends; in the first and last interval ALE's window shrinks to 2 points (linear)
    inner = np.array([1.0, 1.5, 2.9])
    p, v = ale_states_at(times, cubic(times), None, inner)
    np.testing.assert_allclose(p, cubic(inner), atol=1e-12)
    np.testing.assert_allclose(v, dcubic(inner), atol=1e-10)
    p, _ = ale_states_at(times, cubic(times), None, np.array([0.35]))
    np.testing.assert_allclose(p[0], 0.5 * (cubic(times[0]) + cubic(times[1])), atol=1e-12)
    # a record time returns the record itself, even if it disagrees with its neighbours
    pos = cubic(times)
    pos[2] += 100.0
    p, _ = ale_states_at(times, pos, dcubic(times), np.array([1.5]))
    np.testing.assert_array_equal(p[0], pos[2])
    # one record: moved linearly by its velocity
    p, v = ale_states_at([10.0], [[1.0, 2.0, 3.0]], [[0.5, 0.0, -1.0]], np.array([12.0]))
    np.testing.assert_allclose(p, [[2.0, 2.0, 1.0]])


def test_eigen_quaternion_conventions():
    q = np.array([0.9, 0.1, -0.3, 0.2])
    q /= np.linalg.norm(q)
    np.testing.assert_allclose(eigen_quat_to_matrix(q), quat_to_matrix(q), atol=1e-15)
    np.testing.assert_allclose(matrix_to_eigen_quat(quat_to_matrix(q)), q, atol=1e-15)
    r = rotvec_to_matrix([0.2, -0.1, 0.4])
    np.testing.assert_allclose(eigen_quat_to_matrix(matrix_to_eigen_quat(r)), r, atol=1e-15)
    a, b = matrix_to_eigen_quat(rotvec_to_matrix([0.0, 0.0, 0.2])), matrix_to_eigen_quat(np.eye(3))
    mid = eigen_slerp(b, a, 0.25)
    np.testing.assert_allclose(eigen_quat_to_matrix(mid), rotvec_to_matrix([0, 0, 0.05]), atol=1e-15)
    np.testing.assert_allclose(eigen_slerp(b, -a, 0.25), mid, atol=1e-15)  # shortest arc
    np.testing.assert_allclose(
        quat_mul(a, a), matrix_to_eigen_quat(rotvec_to_matrix([0, 0, 0.4])), atol=1e-15
    )


def test_orientations_product_and_inverse():
    times = np.array([0.0, 1.0, 2.0])
    quats = np.array([matrix_to_eigen_quat(rotvec_to_matrix([0.1 * k, 0.05, -0.02 * k])) for k in range(3)])
    pointing = AleOrientations(times, quats, None, matrix_to_eigen_quat(rotvec_to_matrix([0.0, 0.3, 0.0])))
    body = AleOrientations(
        np.array([0.5, 1.5]), np.array([[1.0, 0, 0, 0], matrix_to_eigen_quat(rotvec_to_matrix([0, 0, 0.1]))])
    )
    prod = body * pointing.inverse()
    np.testing.assert_array_equal(prod.times, [0.0, 0.5, 1.0, 1.5, 2.0])
    for t, tol in ((0.0, 1e-14), (1.5, 1e-14), (2.0, 1e-14), (0.8, 1e-3)):  # exact at the merged times
        expected = (
            eigen_quat_to_matrix(body.interpolate(t))[0] @ eigen_quat_to_matrix(pointing.interpolate(t))[0].T
        )
        np.testing.assert_allclose(eigen_quat_to_matrix(prod.interpolate(t))[0], expected, atol=tol)


def _ephemeris(**kw):
    t = np.linspace(-1, 1, 25)
    base = {"center_time": 100.0, "pos_start": 90.0, "pos_stop": 110.0, "positions": cubic(t),
            "velocities": dcubic(t), "quat_start": 90.0, "quat_stop": 110.0,
            "quaternions": [[0.0, 0.0, 0.0, 1.0]] * 5}  # fmt: skip
    base.update(kw)
    return CsmEphemeris(**base)


def test_csm_ephemeris_tables_and_validation():
    eph = _ephemeris()
    assert (eph.t0_ephem, eph.dt_ephem, eph.t0_quat, eph.dt_quat) == (-10.0, 20.0 / 24, -10.0, 5.0)
    np.testing.assert_allclose(
        eph.position(np.array([-10.0, 10.0])), cubic(np.array([-1.0, 1.0])), atol=1e-12
    )
    np.testing.assert_array_equal(eph.cam_to_body(3.0), np.eye(3))
    with pytest.raises(GeometryError, match=">= 2 positions"):
        _ephemeris(positions=[[0, 0, 0]], velocities=[[0, 0, 0]])
    with pytest.raises(GeometryError, match=">= 2 quaternions"):
        _ephemeris(quaternions=[[0, 0, 0, 1]])
    with pytest.raises(GeometryError, match="positive time interval"):
        _ephemeris(pos_stop=80.0)
    with pytest.raises(GeometryError, match="non-finite"):
        _ephemeris(quaternions=[[0, 0, np.nan, 1]] * 2)


def test_usgscsm_resamples_short_tables_to_25_nodes():
    times = np.array([0.0, 2.0, 4.0])
    pointing = AleOrientations(times, np.array([[1.0, 0, 0, 0]] * 3))
    body = AleOrientations(np.array([0.0]), np.array([[1.0, 0, 0, 0]]))
    eph = csm_ephemeris_from_tables(2.0, times, cubic(times), dcubic(times), pointing, body)
    assert eph.n_positions == 25 and eph.dt_ephem == pytest.approx(4.0 / 24)
    np.testing.assert_allclose(
        eph.position_table, 1000.0 * cubic(eph.position_node_times()), atol=1e-9
    )  # km -> m
    assert eph.n_quaternions == 3 and not eph.has_sun


def test_quaternions_are_interpolated_componentwise_like_usgscsm():
    """usgscsm interpolates the 4 components with Lagrange and normalises afterwards."""
    q = np.array([[0.0, 0.0, np.sin(a / 2), np.cos(a / 2)] for a in np.linspace(0, 0.2, 5)])
    t = 2.37  # inside: a 4-point Lagrange per component
    raw = lagrange_interp_uniform(q, 0.0, 1.0, t, 8)
    assert abs(np.linalg.norm(raw) - 1) > 1e-9  # not a unit quaternion until normalised
    np.testing.assert_allclose(
        quat_xyzw_to_matrix(raw), quat_xyzw_to_matrix(raw / np.linalg.norm(raw)), atol=1e-15
    )
    angle = np.arctan2(quat_xyzw_to_matrix(raw)[1, 0], quat_xyzw_to_matrix(raw)[0, 0])
    assert angle == pytest.approx(0.05 * t, abs=1e-8)
