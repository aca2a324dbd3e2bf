"""Rendering through scanning cameras: pixels land where the *true* camera model says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.geometry import load_camera
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scanplan import reported_scan_isd, true_scan_camera
from pipeline.simulation.scanrender import focal_rays, render_scan_iof
from pipeline.simulation.scantruth import framelet_ground_to_image
from tests.simulation.scan_helpers import SpotSurface, centroids, one_strip


def _spots(cam, rng, lines, samples):
    ll, ss = np.meshgrid(lines, samples, indexing="ij")
    ll = ll.ravel() + rng.uniform(-0.5, 0.5, ll.size)
    ss = ss.ravel() + rng.uniform(-0.5, 0.5, ss.size)
    return cam.image_to_ground(ll, ss)


@pytest.fixture(scope="module")
def jittery_strip():
    """A 240 x 96 line-scan strip with 0.05 deg of jitter, rendered over bright spots (no detector).

    The jitter periods are 0.3-0.8 of the strip (72-190 lines): faster jitter warps the image
    of a spot enough to bias its intensity centroid (0.09 px at 19 lines per period)."""
    params = LineScanParams(n_strips=1, lines=240, samples=96, jitter_deg=0.05, jitter_drift_deg=0.02,
                            jitter_period_fraction=(0.3, 0.8))
    strip = one_strip(params)
    cam = true_scan_camera(strip, params)
    xyz = _spots(cam, np.random.default_rng(0), np.arange(24.0, 230.0, 16.0), np.array([16.0, 48.0, 80.0]))
    scene = render_scan_iof(cam, SpotSurface(xyz, sigma_m=1.2 * params.gsd_m), supersample=4,
                            exposure_s=strip.exposure_s, line_period_s=strip.period_s)  # fmt: skip
    return params, strip, cam, xyz, scene


def test_line_scan_spots_land_where_the_true_camera_says(jittery_strip):
    params, strip, cam, xyz, scene = jittery_strip
    pl, ps = cam.ground_to_image(xyz)
    got = centroids(scene.iof, pl, ps)
    err = np.hypot(got[:, 0] - pl, got[:, 1] - ps)
    assert len(err) == 39
    assert err.max() < 0.05, err.max()  # measured 0.011 px (median 0.004)
    # the jitter is really in the pixels: the smooth nadir camera misses the spots
    nominal = true_scan_camera(strip, params, jitter=False)
    nl, ns = nominal.ground_to_image(xyz)
    miss = np.hypot(got[:, 0] - nl, got[:, 1] - ns)
    assert np.percentile(miss, 90) > 0.5, miss  # 0.05 deg of jitter is ~1.7 px at this IFOV
    # and the reported ISD (true + pointing error) misses them by its error
    reported = load_camera(reported_scan_isd(strip, params, cam))
    rl, rs = reported.ground_to_image(xyz)
    assert np.hypot(got[:, 0] - rl, got[:, 1] - rs).min() > 1.0


def test_line_scan_scene_angles_and_exposure_spread(jittery_strip):
    _, _, cam, _, scene = jittery_strip
    assert scene.iof.shape == (240, 96) and scene.on_body.all()
    # nadir view: emission ~0 at the centre (jitter + a 96-px detector at 14 mm: < 2.5 deg at the edges)
    assert np.degrees(scene.emission[120, 48]) < 0.2
    assert np.degrees(np.nanmax(scene.emission)) < 2.5
    # incidence at the centre is the planned one
    sun = cam.sun_position_m
    centre = cam.image_to_ground(120.0, 48.0)
    n = centre / np.linalg.norm(centre)
    inc = np.degrees(np.arccos(np.dot(n, (sun - centre) / np.linalg.norm(sun - centre))))
    assert abs(np.degrees(scene.incidence[120, 48]) - inc) < 0.05


def test_push_frame_rays_are_the_camera_rays():
    params = PushFrameParams(n_framelets=6, samples=48, jitter_deg=0.03)
    strip = one_strip(params)
    cam = true_scan_camera(strip, params)
    ll = np.array([0.5, 13.7, 14.2, 50.3, 83.9])
    ss = np.array([0.5, 20.0, 47.5, 30.0, 10.1])
    o, d = cam.rays(ll, ss)
    h = cam.summed_framelet_height
    for i in range(ll.size):
        o2, d2 = focal_rays(cam, np.fmod(ll[i], h), ss[i], [float(cam.line_time(ll[i]))])
        np.testing.assert_allclose(d2.reshape(3), d[i], rtol=0, atol=1e-14)
        np.testing.assert_allclose(o2.reshape(3), o[i], rtol=0, atol=1e-6)


@pytest.fixture(scope="module", params=[(0, 3.0), (2, 2.0)], ids=["no-trim", "trim-2"])
def framelet_strip(request):
    """A push-frame strip of 10 framelets x 14 x 64 over a smooth textured surface (no detector);
    ``num_lines_overlap`` 0 (3 lines of ground overlap) or 2 (usgscsm trims 1 line at each end)."""
    trim, ground = request.param
    params = PushFrameParams(n_framelets=10, samples=64, jitter_deg=0.03, num_lines_overlap=trim,
                             ground_overlap_lines=ground)  # fmt: skip
    strip = one_strip(params)
    cam = true_scan_camera(strip, params)
    xyz = _spots(cam, np.random.default_rng(1), np.arange(6.0, 140.0, 9.0), np.arange(8.0, 64.0, 12.0))
    surface = SpotSurface(xyz, sigma_m=2.5 * params.gsd_m, ripple=0.03, wave_m=1500.0)
    scene = render_scan_iof(cam, surface, supersample=2, exposure_s=strip.exposure_s, smear_samples=2)
    return params, cam, scene


def _overlap_pairs(cam, scene, shift: float = 0.0):
    """(value in framelet k, value framelet k + 1 shows at the same ground, local row) for the
    rows of framelet k that framelet k + 1 also sees."""
    h, n = cam.summed_framelet_height, cam.samples
    ss = np.arange(n) + 0.5
    mine, theirs, rows = [], [], []
    for k in range(cam.n_framelets - 1):
        nxt = scene.iof[(k + 1) * h : (k + 2) * h]
        for r in range(h - 5, h):
            xyz = cam.image_to_ground(np.full(n, k * h + r + 0.5), ss)
            lb, sb = framelet_ground_to_image(cam, k + 1, xyz)
            local = lb - (k + 1) * h + shift
            ok = (local >= 0.5) & (local <= h - 0.5) & (sb >= 0.5) & (sb <= n - 0.5)
            if not ok.any():
                continue
            val = ndimage.map_coordinates(nxt, [local[ok] - 0.5, sb[ok] - 0.5], order=3, mode="nearest")
            mine.append(scene.iof[k * h + r][ok])
            theirs.append(val)
            rows.append(local[ok])
    return np.concatenate(mine), np.concatenate(theirs), np.concatenate(rows)


def test_push_frame_framelets_agree_in_their_overlaps(framelet_strip):
    params, cam, scene = framelet_strip
    mine, theirs, rows = _overlap_pairs(cam, scene)
    # 3 (2) lines of ground overlap between consecutive framelets (+- the jitter), all 9 pairs
    assert mine.size >= 9 * (params.ground_overlap_lines - 1) * cam.samples * 0.9
    assert rows.max() < params.ground_overlap_lines + 0.5
    rel = (theirs - mine) / mine
    assert np.sqrt(np.mean(rel**2)) < 0.005, np.sqrt(np.mean(rel**2))  # measured 0.0014 / 0.0023
    assert np.abs(rel).max() < 0.02  # measured 0.0074 / 0.0128
    # the texture is strong enough that a one-line misplacement would show
    m2, t2, _ = _overlap_pairs(cam, scene, shift=1.0)
    assert np.sqrt(np.mean(((t2 - m2) / m2) ** 2)) > 5 * np.sqrt(np.mean(rel**2))
