"""The free points' level sigma (bundle/covariance.py) against the dense inverse of the normal
matrix, and against the level errors a single strip really makes over relief without a DEM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.registration import adjust
from pipeline.registration.bundle import driver
from pipeline.registration.bundle.blocks import BlockProblem
from pipeline.registration.bundle.covariance import level_mode
from pipeline.registration.params import RegistrationParams
from tests.registration.network_helpers import point_radius_error_m, relief_dem, relief_m, strip_network

CFG = RegistrationParams(pointing_sigma_deg=0.1, position_sigma_m=200.0, points="free", robust_loss="linear")


def _problem(net, cfg):
    inp = driver._inputs(net.reported, net.matches, cfg, (), None)
    tr = inp.tracks
    p0, r_prior, r_sigma, r_fn = driver._starting_points(inp, cfg, None)
    rot, pos = driver._frame_sigmas(cfg, 1)
    return BlockProblem(inp.cams, tr.frame, tr.track, tr.line_sample, p0, np.zeros(0, int), np.zeros((0, 2)),
                        np.zeros((0, 3)), rot, pos, 0.5, points="free", radius_prior=r_prior,
                        radius_sigma_m=r_sigma, radius_fn=r_fn)


def test_level_sigma_and_rise_equal_the_dense_covariance():
    prob = _problem(strip_network(n_strips=2, per_strip=5, seeds=15, relief=relief_m), CFG)
    x = np.zeros(prob.n_params)
    sigma, rise = level_mode(prob, x, CFG)
    jac = prob.jacobian(x).toarray()
    cov = np.linalg.inv(jac.T @ jac)  # residuals over their sigmas: the inverse normal matrix is the covariance
    nc = prob.npf * prob.nf
    up = nc + 3 * np.arange(prob.nt) + 2
    g = np.full(prob.nt, 1.0 / prob.nt)
    dense = math.sqrt(g @ cov[np.ix_(up, up)] @ g)
    assert sigma == pytest.approx(dense, rel=1e-6)
    np.testing.assert_allclose(rise, cov[np.ix_(up, up)] @ g / dense, rtol=1e-6, atol=1e-6 * dense)


def test_a_single_strip_floats_by_about_its_level_sigma_and_says_so():
    """Over relief, a single nadir strip's level is fixed only by the pointing priors (a pitch
    ramp and the points closing up follow a raised level); with the injected pointing errors
    drawn from the prior, the level errors over 8 seeds scatter by about the computed sigma
    (measured: sigma 293 m, RMS error 157 m; over 30 seeds an RMS error of 182 m against 293 m, and
    206 m against 267 m with tie_sigma_px at the true 0.1 px), and the adjustment warns. A DEM fixes the level (sigma
    of a few metres, no warning)."""
    cfg = CFG.model_copy(update={"robust_loss": "huber", "position_sigma_m": None})
    errors, sigmas = [], []
    for seed in range(8):
        net = strip_network(n_strips=1, per_strip=8, seeds=30, relief=relief_m, error_deg=0.1, seed=seed)
        res = adjust(net.reported, net.matches, cfg)
        errors.append(float(np.mean(point_radius_error_m(net, res))))
        sigmas.append(res.level_sigma_m)
    sigma = float(np.mean(sigmas))
    ratio = math.sqrt(np.mean(np.square(errors))) / sigma
    assert sigma > 100.0 and 0.4 < ratio < 2.0, (sigma, errors)
    assert res.level_parallax_px > 0.3 and any("common level is known only to" in n for n in res.notes)
    net = strip_network(n_strips=1, per_strip=8, seeds=30, relief=relief_m, error_deg=0.1)
    held = adjust(net.reported, net.matches, cfg, dem=relief_dem(0.01, (145.0, 155.0), (-5.0, 5.0)))
    assert held.level_sigma_m < 10.0 and not any("common level" in n and "only" in n for n in held.notes)


def test_a_base_dem_holds_the_level_and_one_as_fine_as_the_frames_is_pointed_to_mosaicking_dem():
    """``mosaicking.relief_base`` holds the free points' mean radius to point_radius_sigma_m (100 m):
    the level sigma falls below it (measured 95 m, the level 6 m off the truth's); a base with
    posts within two ground samples (here 0.0005 deg, 15 m, at 20 m GSD) is better given as
    mosaicking.dem, and the adjustment says so."""
    fine = relief_dem(0.0005, (149.0, 151.0), (-1.0, 1.0))
    cfg = CFG.model_copy(update={"robust_loss": "huber", "position_sigma_m": None})
    net = strip_network(n_strips=1, per_strip=8, seeds=30, relief=relief_m, error_deg=0.1)
    res = adjust(net.reported, net.matches, cfg, base=fine)
    assert res.points == "free" and res.level_sigma_m < cfg.point_radius_sigma_m, res.level_sigma_m
    assert abs(np.mean(point_radius_error_m(net, res))) < 3 * res.level_sigma_m
    assert any("give it as mosaicking.dem" in n for n in res.notes)
