"""Quaternion conventions, slerp and Lagrange interpolation."""

from __future__ import annotations

import math

import numpy as np

from pipeline.geometry.rotation import (
    interpolate_quaternions,
    lagrange_interpolate,
    matrix_to_quat,
    quat_to_matrix,
    rotvec_to_matrix,
)


def test_quaternion_is_scalar_first_active_rotation():
    half = math.radians(90.0) / 2
    q = [math.cos(half), 0.0, 0.0, math.sin(half)]  # +90 deg about z
    np.testing.assert_allclose(quat_to_matrix(q) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[0] >= 0 else -q
        np.testing.assert_allclose(matrix_to_quat(quat_to_matrix(q)), q, atol=1e-14)


def test_rotvec():
    r = rotvec_to_matrix([0.0, 0.0, math.pi / 2])
    np.testing.assert_allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)
    small = rotvec_to_matrix([1e-10, 0.0, 0.0])
    np.testing.assert_allclose(small @ [0.0, 1.0, 0.0], [0.0, 1.0, 1e-10], atol=1e-20)


def test_slerp_halfway_and_hold():
    q0 = [1.0, 0.0, 0.0, 0.0]
    q1 = [math.cos(0.5), 0.0, 0.0, math.sin(0.5)]  # 1 rad about z
    q = interpolate_quaternions([0.0, 2.0], [q0, q1], 1.0)
    np.testing.assert_allclose(q, [math.cos(0.25), 0.0, 0.0, math.sin(0.25)], atol=1e-15)
    np.testing.assert_allclose(interpolate_quaternions([0.0, 2.0], [q0, q1], 5.0), q1)
    # sign flips are the same rotation: shortest arc
    q = interpolate_quaternions([0.0, 2.0], [q0, [-v for v in q1]], 1.0)
    np.testing.assert_allclose(abs(np.dot(q, [math.cos(0.25), 0.0, 0.0, math.sin(0.25)])), 1.0, atol=1e-15)


def test_lagrange_is_exact_for_polynomials():
    t = np.linspace(0.0, 10.0, 21)
    values = np.stack([t**3 - 2 * t, 5.0 + 0 * t, t**2], axis=1)
    out = lagrange_interpolate(t, values, 3.3)
    np.testing.assert_allclose(out, [3.3**3 - 6.6, 5.0, 3.3**2], rtol=1e-12)
    assert lagrange_interpolate([1.0], [[1.0, 2.0, 3.0]], 7.0).tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(lagrange_interpolate([0.0, 1.0], [[0.0], [2.0]], 0.25), [0.5])
