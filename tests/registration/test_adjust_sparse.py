"""The sparse reduced camera system: structure, exactness against the dense Schur
complement, and the linear solvers agreeing on the same minimum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.errors import RegistrationError
from pipeline.registration import adjust
from pipeline.registration.bundle import driver
from pipeline.registration.bundle.blocks import BlockProblem
from pipeline.registration.bundle.problem import _robust
from pipeline.registration.bundle.reduced import (
    ReducedPattern,
    available_linear_solvers,
    resolve_linear_solver,
)
from pipeline.registration.bundle.solve import _Normal
from pipeline.registration.params import RegistrationParams
from tests.registration.network_helpers import pointing_error_left_px, strip_network

CFG = RegistrationParams(pointing_sigma_deg=0.1, position_sigma_m=200.0, points="surface")  # world: the sphere


@pytest.fixture(scope="module")
def net():
    return strip_network(n_strips=4, per_strip=8, seeds=30)


def _problem(net, cfg):
    inp = driver._inputs(net.reported, net.matches, cfg, (), None)
    tr = inp.tracks
    p0, *_ = driver._starting_points(inp, cfg, None)
    rot, pos = driver._frame_sigmas(cfg, 1)
    return BlockProblem(inp.cams, tr.frame, tr.track, tr.line_sample, p0, np.zeros(0, int), np.zeros((0, 2)),
                        np.zeros((0, 3)), rot, pos, 0.5)


def test_reduced_system_is_sparse_and_equals_the_dense_schur_complement(net):
    prob = _problem(net, CFG)
    x = np.zeros(prob.n_params)
    ne = _Normal(prob, x, _robust("linear", prob.n_img), 2.0)
    pat = ReducedPattern(prob.obs_frame, prob.obs_track, prob.nf, prob.npf)
    v_inv = np.linalg.inv(ne.v)
    y = np.einsum("nij,njk->nik", ne.w, v_inv[prob.obs_track])
    diag = ne.u - np.stack([sum(y[o] @ ne.w[o].T for o in np.flatnonzero(prob.obs_frame == f))
                            for f in range(prob.nf)])
    s_sparse = pat.assemble(diag, y, ne.w)
    # dense reference from the full Jacobian: S = A_cc - A_cp A_pp^-1 A_pc
    jac = prob.jacobian(x).toarray()
    a = jac.T @ jac
    nc = prob.npf * prob.nf
    s_dense = a[:nc, :nc] - a[:nc, nc:] @ np.linalg.solve(a[nc:, nc:], a[nc:, :nc])
    np.testing.assert_allclose(s_sparse.toarray(), s_dense, rtol=0, atol=1e-9 * np.abs(s_dense).max())
    # only frames sharing tie points couple: each frame row has at most its neighbours' blocks
    # (60 % overlap: a point is seen by up to 3 frames along and 2 strips across -> 3 x 5 frames)
    blocks_per_row = np.bincount(pat.slot_frames.ravel(), minlength=prob.nf) + 1
    assert blocks_per_row.max() <= 15
    assert s_sparse.nnz == prob.npf**2 * (prob.nf + 2 * len(pat.slot_frames)) < 0.5 * nc**2


@pytest.mark.parametrize("solver", ["splu", "pcg", "cholmod"])
def test_linear_solvers_reach_the_same_minimum(net, solver):
    if solver not in available_linear_solvers():
        pytest.skip("cholmod needs scikit-sparse (apt-get install libsuitesparse-dev; pip install 'scikit-sparse<0.5')")
    cfg = CFG.model_copy(update={"position_sigma_m": None})
    ref = adjust(net.reported, net.matches, cfg.model_copy(update={"linear_solver": "splu"}))
    got = adjust(net.reported, net.matches, cfg.model_copy(update={"linear_solver": solver}))
    assert got.convergence.converged and got.convergence.linear_solver == solver
    assert got.stats.n_observations == ref.stats.n_observations
    assert got.stats.rms_after_px == pytest.approx(ref.stats.rms_after_px, rel=1e-4)
    for fid, c in ref.corrections.items():
        np.testing.assert_allclose(got.corrections[fid].rotvec_rad, c.rotvec_rad, atol=math.radians(1e-5))
    assert np.percentile(pointing_error_left_px(net, got), 90) < 1.0


def test_schur_and_scipy_agree_with_positions_and_free_points():
    net = strip_network(n_strips=2, per_strip=4, seeds=20)
    cfg = CFG.model_copy(update={"points": "free"})
    schur = adjust(net.reported, net.matches, cfg)
    scipy_ = adjust(net.reported, net.matches, cfg.model_copy(update={"solver": "scipy"}))
    assert scipy_.convergence.linear_solver == "lsmr"
    assert scipy_.stats.rms_after_px == pytest.approx(schur.stats.rms_after_px, rel=1e-3)
    for fid, c in schur.corrections.items():
        np.testing.assert_allclose(scipy_.corrections[fid].rotvec_rad, c.rotvec_rad, atol=math.radians(2e-4))
        np.testing.assert_allclose(scipy_.corrections[fid].position_offset_m, c.position_offset_m, atol=1.0)


def test_unknown_or_missing_linear_solver_is_a_clear_error(monkeypatch):
    with pytest.raises(RegistrationError, match="unknown linear solver"):
        resolve_linear_solver("magic")
    from pipeline.registration.bundle import reduced

    monkeypatch.setattr(reduced, "_have_cholmod", lambda: False)
    assert resolve_linear_solver("auto") == "splu"
    with pytest.raises(RegistrationError, match="libsuitesparse-dev"):
        resolve_linear_solver("cholmod")
