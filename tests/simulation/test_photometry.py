"""Scattering laws: formulas, rendering with a law, the truth normal albedo, truth files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.calibration.photometry import normalisation_factor
from pipeline.calibration.radiometry import AU_M
from pipeline.errors import ConfigError
from pipeline.simulation import (
    SCATTERING_LAWS,
    Detector,
    DetectorParams,
    Radiometry,
    hapke_smooth,
    load_truth,
    nadir_camera,
    render_frame,
    render_iof,
    scattering_law,
    simulate_survey,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_images"
LAWS = [("lommel_seeliger", {}), ("lunar_lambert", {"L": 0.2}), ("lunar_lambert", {"L": 0.8}),
        ("lunar_lambert_mcewen", {}), ("lambert", {}), ("hapke", {}), ("hapke", {"w": 0.25, "b": 0.3})]


def _hapke_isis(i, e, g, w, b, c, bs0, hs, bc0, hc, phi):
    """ISIS HapkeLROC::photometry, smooth branch (theta = 0), one geometry at a time."""
    cosi, cose, cosg = math.cos(i), math.cos(e), math.cos(g)
    k = 1.0 if phi == 0 else -math.log(1 - 1.209 * phi ** (2 / 3)) / (1.209 * phi ** (2 / 3))
    b2 = b * b
    pg = (1 + c) * 0.5 * (1 - b2) / (1 - 2 * b * cosg + b2) ** 1.5 + (1 - c) * 0.5 * (1 - b2) / (
        1 + 2 * b * cosg + b2) ** 1.5
    tang2 = math.tan(g / 2)
    bsg = 0.0 if hs == 0 else 1 / (1 + tang2 / hs)
    bcg = 1.0 if g == 0 else (0.0 if hc == 0 else (1 + (1 - math.exp(-tang2 / hc)) / (tang2 / hc)) / (
        2 * (1 + tang2 / hc) ** 2))
    r0 = (1 - math.sqrt(1 - w)) / (1 + math.sqrt(1 - w))

    def h(x):
        return 1 / (1 - w * x * (r0 + (1 - 2 * r0 * x) * 0.5 * math.log((1 + x) / x)))

    mie = h(cosi / k) * h(cose / k) - 1
    return k * w / 4 * cosi / (cosi + cose) * (pg * (1 + bs0 * bsg) + mie) * (1 + bc0 * bcg)


def test_built_in_laws_formulas_and_scale():
    i, e, g = math.radians(40.0), math.radians(15.0), math.radians(50.0)
    mu0, mu = math.cos(i), math.cos(e)
    for name, params in LAWS:
        assert float(scattering_law(name, **params)(0.0, 0.0, 0.0)) == pytest.approx(1.0, rel=1e-12)
    assert float(scattering_law("lommel_seeliger")(i, e, g)) == pytest.approx(2 * mu0 / (mu0 + mu), rel=1e-12)
    assert float(scattering_law("lunar_lambert", L=0.2)(i, e, g)) == pytest.approx(
        0.4 * mu0 / (mu0 + mu) + 0.8 * mu0, rel=1e-12)
    ell = 1 - 0.019 * 50 + 2.42e-4 * 2500 - 1.46e-6 * 125000
    assert float(scattering_law("lunar_lambert_mcewen")(i, e, g)) == pytest.approx(
        2 * ell * mu0 / (mu0 + mu) + (1 - ell) * mu0, rel=1e-12)
    # the vectorised Hapke is ISIS's formula (smooth branch), scaled to 1 at i = e = g = 0
    law = scattering_law("hapke", w=0.3, b=0.25, c=0.5, bc0=0.4, hc=0.08)
    p = law.parameters
    for geom in [(0.3, 0.1, 0.35), (1.0, 0.2, 1.1), (0.6, 0.6, 0.05), (1.3, 0.9, 2.0)]:
        assert float(hapke_smooth(*geom, **p)) == pytest.approx(_hapke_isis(*geom, **p), rel=1e-12)
        assert float(law(*geom)) == pytest.approx(_hapke_isis(*geom, **p) / _hapke_isis(1e-9, 1e-9, 0.0, **p),
                                                  rel=1e-6)
    # below the horizon: no light
    for name, params in LAWS:
        assert float(scattering_law(name, **params)(math.radians(95), 0.1, 1.7)) == 0.0
    with pytest.raises(ConfigError, match="unknown scattering law"):
        scattering_law("oren_nayar")
    with pytest.raises(ConfigError, match="Hapke"):
        scattering_law("hapke", w=1.5)
    assert set(SCATTERING_LAWS) >= {"lommel_seeliger", "lunar_lambert", "lunar_lambert_mcewen", "hapke"}


@pytest.mark.parametrize("name,params", LAWS)
def test_normalising_with_the_true_law_recovers_the_normal_albedo(surface, name, params):
    law = scattering_law(name, **params)
    cam = nadir_camera(180.3, 0.4, lines=48, samples=48, sun_incidence_deg=52.0,
                       rotvec_rad=(0.0, math.radians(8.0), 0.0))  # emission ~ 8 deg, spread of angles
    scene = render_iof(cam, surface, supersample=1, psf_sigma_px=0.0, law=law)
    ll, ss = np.meshgrid(np.arange(48) + 0.5, np.arange(48) + 0.5, indexing="ij")
    xyz, hit = cam.image_to_ground_hit(ll, ss)
    assert hit.all()
    truth = surface.albedo_xyz(xyz) * law.normal_albedo_factor()
    norm = scene.iof * normalisation_factor(scene.incidence, scene.emission, scene.phase, law)
    np.testing.assert_allclose(norm, truth, rtol=2e-5)
    # with the default law (lunar-Lambert L = 0.5) the same frame is not recovered as well
    wrong = scene.iof * normalisation_factor(
        scene.incidence, scene.emission, scene.phase, scattering_law("lunar_lambert")
    )
    assert np.max(np.abs(wrong / truth - np.median(wrong / truth))) > 1e-3


def test_noisy_frames_normalise_to_the_normal_albedo_within_the_noise(surface):
    """Raw DN -> I/F -> normalised with the true law: ratio to the truth 1, scatter = shot + read noise.
    With the wrong law the two Sun elevations disagree by several per cent."""
    law = scattering_law("lommel_seeliger")
    rad = Radiometry()
    dparams = DetectorParams(bias_dn=0.0, bias_drift_dn=0.0, psf_sigma_px=0.0)
    det = Detector.ideal((48, 48), dparams)
    ll, ss = np.meshgrid(np.arange(48) + 0.5, np.arange(48) + 0.5, indexing="ij")
    ratios = {}
    for inc in (35.0, 60.0):
        cam = nadir_camera(180.2, -0.2, lines=48, samples=48, sun_incidence_deg=inc)
        out = render_frame(cam, surface, exposure_s=0.012, detector=det, seed=int(inc), noise=True,
                           cosmic_rays=False, supersample=1, law=law, radiometry=rad)
        xyz, _ = cam.image_to_ground_hit(ll, ss)
        d_au = np.linalg.norm(cam.sun_position_m - xyz, axis=-1) / AU_M
        iof = out.dn / (0.012 * rad.responsivity) * np.pi * d_au**2 / rad.solar_irradiance
        sc = out.scene
        truth = surface.albedo_xyz(xyz) * law.normal_albedo_factor()
        ratio = iof * normalisation_factor(sc.incidence, sc.emission, sc.phase, law) / truth
        dn_expected = sc.radiance * rad.responsivity * 0.012
        sigma = np.sqrt(dn_expected / dparams.gain_e_per_dn + dparams.read_noise_dn**2 + 1 / 12) / dn_expected
        assert abs(np.mean(ratio) - 1) < 3 * np.sqrt(np.mean(sigma**2) / ratio.size) + 1e-4
        assert np.std(ratio) == pytest.approx(np.sqrt(np.mean(sigma**2)), rel=0.1)
        wrong = scattering_law("lunar_lambert")
        ratios[inc] = np.mean(iof * normalisation_factor(sc.incidence, sc.emission, sc.phase, wrong) / truth)
    assert abs(ratios[60.0] / ratios[35.0] - 1) > 0.05


def test_survey_records_the_law_and_the_normal_albedo(tmp_path):
    law = scattering_law("lunar_lambert", L=0.2)
    out = tmp_path / "ll02"
    simulate_survey(out, seed=3, n_strips=1, frames_per_strip=2, size=(48, 48), formats=("tiff",),
                    calibration=False, law=law, workers=1)
    survey = json.loads((out / "truth" / "survey.json").read_text())
    phot = survey["photometry"]
    assert phot["model"] == "lunar_lambert" and phot["law"]["parameters"] == {"L": 0.2}
    assert phot["normal_albedo"]["standard_deg"] == [30.0, 0.0, 30.0]
    assert phot["normal_albedo"]["factor"] == pytest.approx(law.normal_albedo_factor(), rel=1e-12)
    assert survey["pipeline_config"]["calibration"]["photometry"] == {"model": "lunar_lambert", "lunar_lambert_l": 0.2}
    truth = load_truth(out)
    assert truth.law == law and truth.normal_albedo_factor() == pytest.approx(law.normal_albedo_factor())
    lon, lat = np.radians([179.9, 180.1]), np.radians([0.1, -0.1])
    np.testing.assert_allclose(
        truth.normal_albedo(lon, lat), truth.surface.albedo(lon, lat) * law.normal_albedo_factor()
    )
    fid = truth.frame_ids[1]
    assert float(np.nanmean(truth.true_scene(fid).iof)) == pytest.approx(truth.frames[fid]["iof_mean"], abs=2e-6)


def test_hapke_and_user_laws_in_the_truth(tmp_path):
    def my_law(i, e, g, k=1.0):
        return np.cos(i) ** k

    simulate_survey(tmp_path / "user", seed=3, n_strips=1, frames_per_strip=1, size=(32, 32), formats=("fits",),
                    calibration=False, law=scattering_law(my_law, k=0.7), workers=1)
    truth = load_truth(tmp_path / "user")
    assert truth.photometry["law"]["model"] == "my_law" and truth.photometry["law"]["parameters"] == {"k": 0.7}
    assert truth.law is None
    with pytest.raises(ConfigError, match="load_truth"):
        truth.normal_albedo(np.radians(180.0), 0.0)
    again = load_truth(tmp_path / "user", law=scattering_law(my_law, k=0.7))
    assert again.normal_albedo_factor() == pytest.approx(math.cos(math.radians(30.0)) ** 0.7)
    simulate_survey(tmp_path / "hapke", seed=3, n_strips=1, frames_per_strip=1, size=(32, 32), formats=("fits",),
                    calibration=False, law="hapke", workers=1)
    survey = json.loads((tmp_path / "hapke" / "truth" / "survey.json").read_text())
    assert survey["photometry"]["law"]["parameters"]["w"] == pytest.approx(0.395)
    assert "photometry" not in survey["pipeline_config"]["calibration"]  # no pipeline model matches
    assert load_truth(tmp_path / "hapke").law.name == "hapke"


def test_default_truth_has_the_default_law():
    if not (SAMPLE / "truth" / "survey.json").is_file():
        pytest.skip("sample_images/ not generated (make sample)")
    truth = load_truth(SAMPLE)
    assert truth.law.name == "lunar_lambert" and truth.law.parameters == {"L": 0.5}
    c30 = math.cos(math.radians(30.0))
    assert truth.normal_albedo_factor() == pytest.approx(c30 / (c30 + 1) + 0.5 * c30, rel=1e-12)


def test_built_in_laws_agree_with_the_pipelines_models():
    """The simulator's laws are its own code (the oracle); the pipeline's models of the same
    name must give the same normalisation (a ratio, so constant factors do not matter)."""
    from pipeline.calibration.photometry import PHOTOMETRIC_MODELS, photometric_function

    rng = np.random.default_rng(0)
    i, e, g = rng.uniform(0, 1.3, 50), rng.uniform(0, 1.0, 50), rng.uniform(0.05, 1.8, 50)
    std = np.radians([30.0, 0.0, 30.0])
    pairs = [(scattering_law("lunar_lambert_mcewen"), PHOTOMETRIC_MODELS["lunar_lambert"]),
             (scattering_law("lommel_seeliger"), PHOTOMETRIC_MODELS["lommel_seeliger"]),
             (scattering_law("lunar_lambert", L=0.3), photometric_function("lunar_lambert", 0.3))]
    for sim_law, model in pairs:
        ok = model(i, e, g) > 0
        np.testing.assert_allclose(normalisation_factor(i, e, g, sim_law)[ok], normalisation_factor(i, e, g, model)[ok],
                                   rtol=1e-12)
        assert float(sim_law(*std)) > 0
