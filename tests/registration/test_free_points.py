"""Free 3D tie points (latitude, longitude, radius) with a radius prior, against known truth.

Networks from ``network_helpers`` (no images): nadir strips at 60 km with 20 m pixels,
60 % overlap along the strips (base/height 0.053), tie points on a true surface with
+-1.5 km of relief, 0.1 px noise, pointing errors of 0.05 deg per axis (prior 0.1 deg).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.geometry.dem import Dem
from pipeline.registration import adjust
from pipeline.registration.params import RegistrationParams
from tests.registration.network_helpers import (
    point_radius_error_m,
    pointing_error_left_px,
    relief_dem,
    relief_m,
    strip_network,
)

CFG = RegistrationParams(pointing_sigma_deg=0.1, points="surface")  # the default is auto (test_point_mode.py)


@pytest.fixture(scope="module")
def relief_net():
    return strip_network(relief=relief_m)


def _truth_dem() -> Dem:
    return relief_dem(0.01, (145.0, 155.0), (-5.0, 5.0))


def test_relief_surface_points_are_wrong_free_points_right(relief_net):
    net = relief_net
    surface = adjust(net.reported, net.matches, CFG)
    free = adjust(net.reported, net.matches, CFG.model_copy(update={"points": "free"}))
    assert surface.convergence.converged and free.convergence.converged
    # surface-bound points cannot follow the relief: their radii are off by the relief itself and the
    # pointing absorbs the parallax
    err_s = point_radius_error_m(net, surface)
    err_f = point_radius_error_m(net, free)
    assert np.std(err_s) > 200.0, np.std(err_s)
    assert np.std(err_f) < 60.0, np.std(err_f)  # relative relief recovered (measured 42 m)
    assert abs(np.mean(err_f)) < 300.0  # the common radius is held by the loose sphere prior (measured 199 m)
    left_s = np.percentile(pointing_error_left_px(net, surface), 90)
    left_f = np.percentile(pointing_error_left_px(net, free), 90)
    assert left_s > 10.0 and left_f < 3.0, (left_s, left_f)  # measured 15.8 and 2.3 px
    # the residuals tell the same story: free points fit to the noise (0.1 px), surface points do not
    assert free.stats.rms_after_px < 0.12 and surface.stats.rms_after_px > 0.16
    # no drift: every correction within 3 prior sigmas of the injected error
    corr = np.array([free.corrections[k].rotvec_rad for k in net.ids])
    assert np.all(np.abs(corr + net.errors) < 3 * math.radians(CFG.pointing_sigma_deg))
    assert free.points_xyz.shape == (free.network.point_id.max() + 1, 3)


def test_free_points_with_a_dem_prior(relief_net):
    net = relief_net
    cfg = CFG.model_copy(update={"points": "free", "point_radius_sigma_m": 100.0})
    result = adjust(net.reported, net.matches, cfg, dem=_truth_dem())
    err = point_radius_error_m(net, result)
    assert abs(np.mean(err)) < 10.0 and np.std(err) < 20.0, (np.mean(err), np.std(err))  # measured 0.3, 8.8 m
    assert np.percentile(pointing_error_left_px(net, result), 90) < 1.0  # measured 0.55 px
    # the DEM is unused by surface-bound points: same answer with and without it
    a = adjust(net.reported, net.matches, CFG, dem=_truth_dem())
    b = adjust(net.reported, net.matches, CFG)
    np.testing.assert_array_equal(a.points_xyz, b.points_xyz)


def test_two_nearly_parallel_views_are_held_by_the_prior():
    """Two frames 10 m apart at 60 km (base/height 1.7e-4): the rays fix a point's radius only
    to ~12 km (0.1 px noise); the radius prior must decide it, not the noise."""
    size, gsd = 400, 20.0
    along = 1 - 10.0 / (size * gsd)
    net = strip_network(n_strips=1, per_strip=2, along=along, relief=relief_m, seeds=60, error_deg=0.02)
    held = adjust(net.reported, net.matches, CFG.model_copy(update={"points": "free"}))
    loose = adjust(net.reported, net.matches,
                   CFG.model_copy(update={"points": "free", "point_radius_sigma_sphere_m": 1e7}))
    assert held.convergence.converged
    r_held = np.linalg.norm(held.points_xyz, axis=1) - 1737400.0
    r_loose = np.linalg.norm(loose.points_xyz, axis=1) - 1737400.0
    sigma = CFG.point_radius_sigma_sphere_m
    assert np.all(np.abs(r_held) < 0.1 * sigma), np.abs(r_held).max()  # on the prior (measured < 70 m)
    # without a prior the same points scatter by tens of km (measured std 13 km vs 23 m)
    assert np.std(r_loose) > 100 * np.std(r_held), (np.std(r_loose), np.std(r_held))


def test_convergence_is_reported_honestly(relief_net):
    net = relief_net
    ok = adjust(net.reported, net.matches, CFG)
    conv = ok.convergence
    assert conv.converged and conv.reason.startswith(f"round {conv.rounds}: converged")
    assert conv.iterations >= conv.rounds >= 1 and math.isfinite(conv.final_cost)
    assert conv.linear_solver in ("cholmod", "splu") and not conv.drift
    assert ok.stats.converged and ok.stats.iterations == conv.rounds
    cut = adjust(net.reported, net.matches, CFG.model_copy(update={"max_nfev": 1}))
    assert not cut.convergence.converged and not cut.stats.converged
    assert "max_nfev" in cut.convergence.reason
    assert any("did NOT converge" in n for n in cut.notes)


def test_camera_motion_and_drift_warning():
    net = strip_network(error_deg=0.05, seed=3)
    calm = adjust(net.reported, net.matches, CFG)
    assert set(calm.motion) == set(net.ids)
    for fid, m in calm.motion.items():
        assert m.rotation_deg == pytest.approx(calm.corrections[fid].angle_deg)
        assert math.isnan(m.position_sigmas)
    assert calm.convergence.rms_rotation_sigmas < 1.5 and not calm.convergence.drift
    assert not any("drift" in n for n in calm.notes)
    # pointing errors 5 x the prior and nothing absolute: the corrections are far beyond the priors
    wild = strip_network(error_deg=0.5, seed=3)
    result = adjust(wild.reported, wild.matches, CFG)
    assert result.convergence.drift and result.convergence.rms_rotation_sigmas > CFG.drift_sigma
    assert any("network drift" in n for n in result.notes)
