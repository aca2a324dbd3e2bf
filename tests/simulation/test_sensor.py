"""The detector and radiometric forward model: photometry, exposure, defects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.calibration.radiometry import AU_M
from pipeline.simulation import (
    Detector,
    DetectorParams,
    Radiometry,
    expose,
    lunar_lambert,
    nadir_camera,
    render_frame,
    render_iof,
)


def test_lunar_lambert_formula():
    i, e = math.radians(40.0), math.radians(10.0)
    mu0, mu = math.cos(i), math.cos(e)
    expected = 0.12 * (2 * 0.5 * mu0 / (mu0 + mu) + 0.5 * mu0)
    assert float(lunar_lambert(0.12, i, e)) == pytest.approx(expected, rel=1e-12)
    assert float(lunar_lambert(0.2, 0.0, 0.0)) == pytest.approx(0.2)
    assert float(lunar_lambert(0.2, math.radians(95), 0.0)) == 0.0  # night


def test_detector_is_deterministic_and_normalised():
    d1 = Detector.from_seed(4, (64, 80))
    d2 = Detector.from_seed(4, (64, 80))
    assert np.array_equal(d1.flat, d2.flat) and np.array_equal(d1.bias, d2.bias)
    live = d1.flat > 0
    assert np.median(d1.flat[live]) == pytest.approx(1.0, abs=1e-6)
    assert len(d1.dead) > 0 and len(d1.hot) > 0
    assert np.all(d1.flat[d1.dead[:, 0], d1.dead[:, 1]] == 0)
    assert np.all(d1.dark_rate[d1.hot[:, 0], d1.hot[:, 1]] >= DetectorParams().hot_rate_dn_s[0])
    # corners are vignetted
    assert d1.flat[:3, :3].mean() < 0.9 * d1.flat[28:36, 36:44].mean()
    # no pixel is both hot and dead
    assert not set(map(tuple, d1.hot)) & set(map(tuple, d1.dead))


def test_ideal_render_matches_radiometry(surface):
    cam = nadir_camera(180.0, 0.0, lines=48, samples=48, sun_incidence_deg=40.0)
    rad = Radiometry()
    det = Detector.ideal((48, 48))
    out = render_frame(cam, surface, exposure_s=0.01, detector=det, noise=False, cosmic_rays=False)
    expected = out.scene.radiance * rad.responsivity * 0.01
    assert out.dn.dtype == np.uint16
    np.testing.assert_allclose(out.dn, np.clip(np.rint(expected), 0, 4095), atol=1)
    # radiance = I/F * F / (pi d^2), d ~ 1 AU
    d_au = np.linalg.norm(cam.sun_position_m) / AU_M
    np.testing.assert_allclose(out.scene.radiance, out.scene.iof * rad.solar_irradiance / (np.pi * d_au**2),
                               rtol=1e-4)
    assert np.all(np.abs(np.degrees(out.scene.incidence) - 40.0) < 3.0)


def test_iof_is_albedo_times_photometric_function(surface):
    cam = nadir_camera(179.5, 0.5, lines=32, samples=32, sun_incidence_deg=50.0)
    scene = render_iof(cam, surface, supersample=1, psf_sigma_px=0.0)
    ll, ss = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5, indexing="ij")
    xyz, hit = cam.image_to_ground_hit(ll, ss)
    assert hit.all()
    i, e, _ = cam.illumination_angles(xyz)
    expected = lunar_lambert(surface.albedo_xyz(xyz), i, e)
    np.testing.assert_allclose(scene.iof, expected, rtol=1e-5)


def test_defects_recorded_where_injected(surface):
    cam = nadir_camera(180.2, -0.3, lines=64, samples=64)
    det = Detector.from_seed(2, (64, 64))
    clean = render_frame(cam, surface, exposure_s=0.012, detector=det, seed=5, cosmic_rays=False)
    hit = render_frame(cam, surface, exposure_s=0.012, detector=det, seed=5, cosmic_rays=True)
    crs = hit.exposure.cosmic_rays
    assert len(crs) >= 1
    mask = np.zeros((64, 64), bool)
    for c in crs:
        assert len(c["pixels"]) == len(c["dn"]) >= 1
        for (a, b), v in zip(c["pixels"], c["dn"]):
            mask[a, b] = True
            assert int(hit.dn[a, b]) >= min(4095, int(clean.dn[a, b]) + int(v) - 1)
    diff = hit.dn.astype(int) != clean.dn.astype(int)
    assert np.array_equal(diff & ~mask, np.zeros_like(diff))  # cosmic rays change nothing else


def test_dark_bias_flat_frames_show_the_defects():
    det = Detector.from_seed(9, (64, 64))
    rng = np.random.default_rng(0)
    dark = expose(0.0, 0.1, det, rng, cosmic_rays=False).dn.astype(float)
    bias = expose(0.0, 0.0, det, rng, cosmic_rays=False).dn.astype(float)
    flat = expose(2200.0 / 0.05, 0.05, det, rng, cosmic_rays=False).dn.astype(float)
    hot = tuple(det.hot.T)
    dead = tuple(det.dead.T)
    assert np.all(dark[hot] - bias[hot] > 50)  # >= 1000 DN/s * 0.1 s
    assert np.all(flat[dead] < det.bias[dead] + 20)  # no response to light
    med = np.median(flat)
    assert med > 1500
    # column pattern of the bias survives averaging over lines
    cols = bias.mean(axis=0)
    assert np.corrcoef(cols, det.bias.mean(axis=0))[0, 1] > 0.9


def test_saturation_is_recorded():
    det = Detector.from_seed(1, (32, 32))
    out = expose(np.full((32, 32), 5e5), 0.02, det, np.random.default_rng(0), cosmic_rays=False)
    assert out.dn.max() == 4095
    sat = out.saturated
    assert len(sat) > 0 and np.all(out.dn[sat[:, 0], sat[:, 1]] == 4095)
    assert int((out.dn == 4095).sum()) == len(sat)
