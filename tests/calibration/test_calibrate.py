import logging

import cv2
import numpy as np
import pytest

from pipeline.calibration import (
    Masters,
    MasterSet,
    build_masters,
    calibrate_frame,
    lunar_lambert,
    sun_distance_au,
)
from pipeline.calibration.params import CalibrationParams, PhotometryParams
from pipeline.errors import BadFrame, CalibrationError
from pipeline.frame import FrameFailure
from pipeline.geometry.illumination import pixel_angles
from pipeline.orchestration.steps import calibrate_step
from tests.calibration.helpers import (
    GAIN,
    MOON_R,
    READ_NOISE,
    SHAPE,
    add_cosmics,
    look_at_camera,
    make_frame,
    make_scene,
    make_sensor,
)

EXACT = CalibrationParams(output="dn_per_s", cosmic_rays=False, saturation_dn=None)


def _masters(sensor, rng, noise=True):
    bias = [sensor.expose(0.0, 0.0, rng, noise) for _ in range(9)]
    darks = [(sensor.expose(0.0, t, rng, noise), t) for t in (10.0, 15.0, 20.0, 25.0, 30.0)]
    flats = [(sensor.expose(10000.0, 1.0, rng, noise), 1.0) for _ in range(5)]
    return build_masters(bias, darks, flats, CalibrationParams())


def test_exact_recovery_of_the_bias_dark_flat_exposure_chain(rng):
    sensor = make_sensor(rng)
    masters = _masters(sensor, rng, noise=False)
    rate, _ = make_scene(rng)
    t = 0.8
    raw = sensor.expose(rate, t, rng, noise=False).astype(np.float64)
    out = calibrate_frame(make_frame(raw, t), masters, EXACT)
    assert out.data.dtype == np.float32 and out.data.shape == SHAPE
    good = ~(sensor.dead | sensor.hot | sensor.noisy)
    # the flat is normalised to median 1, so DN/s come out relative to a median pixel
    scale = np.median(sensor.flat)
    assert np.allclose(out.data[good], (rate * scale)[good], rtol=2e-5)
    assert np.array_equal(out.repaired, masters.bad != 0)  # repaired bad pixels flagged, nothing else
    assert not out.mask.any()  # repaired pixels stay valid data (calibration.mask_repaired: false)
    assert out.qa["bad_pixels_repaired"] == int((masters.bad != 0).sum())
    assert out.qa["units"] == "DN/s" and out.qa["exposure_s"] == t
    masked = calibrate_frame(make_frame(raw, t), masters, EXACT.model_copy(update={"mask_repaired": True}))
    assert np.array_equal(masked.mask, masters.bad != 0)


def test_radiance_and_iof_units(rng):
    raw = np.full((32, 32), 1100.0)
    masters = Masters(bias=100.0)
    cfg = EXACT.model_copy(update={"output": "radiance", "responsivity": 2500.0})
    out = calibrate_frame(make_frame(raw, 2.0), masters, cfg)
    assert np.allclose(out.data, 500.0 / 2500.0)
    cam = look_at_camera(32, 32, [MOON_R, 0, 0], 100e3, sun_dir=(1.0, 0.0, 0.0), sun_au=1.3)
    cfg = cfg.model_copy(update={"output": "iof", "solar_irradiance": 1500.0, "photometry": None})
    out = calibrate_frame(make_frame(raw, 2.0, camera=cam), masters, cfg)
    d = sun_distance_au(cam, (32, 32))
    assert out.qa["sun_distance_au"] == pytest.approx(d)
    assert np.allclose(out.data, np.pi * 0.2 * d**2 / 1500.0, rtol=1e-6)
    assert out.qa["photometry"] == "none" and not out.mask.any()


@pytest.mark.parametrize(
    "model, weight", [("lunar_lambert", None), ("lunar_lambert", 0.5), ("lommel_seeliger", None)]
)
def test_photometric_normalisation_recovers_the_albedo(rng, model, weight):
    shape = (128, 160)
    # a wide frame lit at grazing incidence: the angles vary and part of it is beyond 85 deg
    sun = (np.cos(np.radians(84.0)), np.sin(np.radians(84.0)), 0.0)
    cam = look_at_camera(*shape, [MOON_R, 0, 0], 3000e3, sun_dir=sun, sun_au=1.0)
    inc, emi, pha, hit = pixel_angles(cam, shape, step=1)
    albedo, _ = make_scene(rng, shape=shape, level=0.12, n_craters=0)
    pcfg = PhotometryParams(model=model, lunar_lambert_l=weight)
    from pipeline.calibration.photometry import photometric_function

    func = photometric_function(model, weight)
    iof = albedo * func(inc, emi, pha)
    d = sun_distance_au(cam, shape)
    cfg = CalibrationParams(
        cosmic_rays=False, saturation_dn=None, responsivity=2500.0, solar_irradiance=1500.0, photometry=pcfg
    )
    rate = iof * cfg.solar_irradiance / (np.pi * d**2) * cfg.responsivity  # DN/s
    t = 0.05
    out = calibrate_frame(make_frame(rate * t + 180.0, t, camera=cam), Masters(bias=180.0), cfg)
    f_std = func(*np.radians([30.0, 0.0, 30.0]))
    beyond = inc > np.radians(85.0)
    assert beyond.any() and not beyond.all()
    assert np.array_equal(out.mask, beyond | ~hit)
    valid = ~out.mask
    assert np.allclose(out.data[valid], (albedo * f_std)[valid], rtol=2e-4)
    assert out.qa["photometry"] == model


def test_off_body_and_emission_limit_are_masked():
    shape = (64, 64)
    cam = look_at_camera(*shape, [MOON_R, 0, 0], 3.5e8, pitch_mm=0.06, sun_dir=(1.0, 0.0, 0.0))
    _, emi, _, hit = pixel_angles(cam, shape, step=1)
    assert (~hit).any()
    cfg = CalibrationParams(cosmic_rays=False, saturation_dn=None, photometry=PhotometryParams(model="lunar_lambert"))
    out = calibrate_frame(make_frame(np.full(shape, 500.0), 1.0, camera=cam), Masters(bias=100.0), cfg)
    with np.errstate(invalid="ignore"):
        expected = ~hit | (emi > np.radians(70.0)) | (np.nan_to_num(emi) > np.radians(84.9))
    # lit from the camera's side: incidence == emission here, so the 70 deg limit rules
    assert np.array_equal(out.mask, expected)
    assert np.isfinite(out.data).all()


def test_flagging_rates_end_to_end(rng):
    """Injected hot/dead/noisy pixels and cosmic rays flagged (>= 99 %), others not (< 0.1 %)."""
    sensor = make_sensor(rng, n_hot=60, n_dead=60, n_noisy=30)
    masters = _masters(sensor, rng)
    cfg = CalibrationParams(output="dn_per_s")
    caught = injected = false = others = 0
    for _ in range(3):
        rate, _ = make_scene(rng, level=1500.0)
        raw = sensor.expose(rate, 1.0, rng)
        raw, cosmic = add_cosmics(raw, rng, n=100)
        saturated = raw >= cfg.saturation_dn
        out = calibrate_frame(make_frame(raw, 1.0), masters, cfg)
        truth = sensor.hot | sensor.dead | sensor.noisy | cosmic
        caught += ((out.mask | out.repaired) & truth).sum()
        injected += truth.sum()
        other = ~truth & ~saturated
        false += ((out.mask | out.repaired) & other).sum()
        others += other.sum()
        unsaturated = (cosmic & ~saturated).astype(np.uint8)  # bright hits saturate: masked as such
        n_hits = cv2.connectedComponents(unsaturated, connectivity=8)[0] - 1
        assert 0.9 * n_hits <= out.qa["cosmic_rays"] <= out.qa["cosmic_ray_pixels"]  # hits, then pixels
        assert out.qa["cold_pixels"] == 0  # a master flat exists: no cold-pixel search
    assert caught / injected >= 0.99
    assert false / others < 1e-3


def test_saturated_pixels_are_masked_and_counted(rng):
    raw = np.full((40, 40), 1000.0) + rng.normal(0, 3, (40, 40))
    raw[10:13, 10:13] = 4095.0
    out = calibrate_frame(make_frame(raw, 1.0), Masters(bias=100.0), CalibrationParams(output="dn_per_s"))
    assert out.mask[10:13, 10:13].all() and out.qa["saturated"] == 9
    assert out.mask.sum() <= 9 + 2


def test_qa_numbers(rng):
    sensor = make_sensor(rng, n_hot=0, n_dead=0, n_noisy=0)
    masters = _masters(sensor, rng)
    t = 2.0
    out = calibrate_frame(
        make_frame(sensor.expose(1000.0, t, rng), t), masters, CalibrationParams(output="dn_per_s")
    )
    qa = out.qa
    level = 1000.0 * np.median(sensor.flat)
    assert qa["median"] == pytest.approx(level, rel=0.01)
    expected_noise = np.sqrt(level * t / GAIN + READ_NOISE**2) / t  # DN/s
    assert qa["noise"] == pytest.approx(expected_noise, rel=0.1)
    assert qa["masked_fraction"] < 1e-3
    assert {"cosmic_rays", "cosmic_ray_pixels", "cold_pixels", "bad_pixels_repaired", "saturated"} <= set(qa)


def test_missing_masters_fall_back_with_warnings(caplog):
    cfg = EXACT.model_copy(update={"bias_dn": 100.0})
    with caplog.at_level(logging.WARNING):
        out = calibrate_frame(make_frame(np.full((16, 16), 300.0), 4.0), None, cfg)
    assert np.allclose(out.data, 50.0)
    assert "bias_dn" in caplog.text and "dark" in caplog.text and "flat" in caplog.text


def test_overscan_bias_when_there_are_no_bias_frames():
    raw = np.full((20, 30), 700.0) + np.arange(20)[:, None]  # bias drifting along lines
    raw[:, 26:] = 100.0 + np.arange(20)[:, None]  # overscan: bias only
    cfg = EXACT.model_copy(update={"overscan_samples": (26, 30)})
    masters = build_masters([], [], [], cfg)
    out = calibrate_frame(make_frame(raw, 2.0), masters, cfg)
    assert np.allclose(out.data[:, :26], 300.0)
    assert out.mask[:, 26:].all() and not out.mask[:, :26].any()


def test_errors_become_failures_in_a_batch(caplog):
    picture = 300.0 + np.arange(256.0).reshape(16, 16) % 7
    good = make_frame(picture, 1.0, name="good")
    no_time = make_frame(picture, None, name="no_time")
    with pytest.raises(BadFrame, match="exposure"):
        calibrate_frame(no_time, Masters(), EXACT)
    with pytest.raises(CalibrationError, match="masters are"):
        calibrate_frame(good, Masters(bias=np.zeros((8, 8))), EXACT)
    out = [calibrate_step(f, MasterSet(), EXACT, None) for f in (good, no_time)]
    assert out[0].qa["units"] == "DN/s"
    assert isinstance(out[1], FrameFailure) and out[1].stage == "calibrate" and "exposure" in out[1].reason
    assert "calibration.output: dn" in out[1].reason  # the fix is named


def test_frames_without_exposure_calibrate_to_relative_dn():
    picture = 300.0 + np.arange(256.0).reshape(16, 16) % 7
    frame = make_frame(picture, None, name="film")
    out = calibrate_frame(frame, Masters(bias=100.0, flat=2.0), CalibrationParams(output="dn", cosmic_rays=False))
    assert out.qa["units"] == "DN (relative)" and out.qa["exposure_s"] is None
    np.testing.assert_allclose(out.data, (picture - 100.0) / 2.0, rtol=1e-6)


def test_a_run_with_untimed_frames_is_calibrated_to_dn_with_one_warning(caplog):
    from pipeline.orchestration.steps import effective_calibration, mosaic_band

    frames = [make_frame(np.zeros((4, 4)), t, name=n) for n, t in (("a", 1.0), ("b", None), ("c", None))]
    with caplog.at_level(logging.WARNING):
        cal = effective_calibration(frames, CalibrationParams())
    assert cal.output == "dn" and mosaic_band(cal) == "dn"
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 of 3 frames" in record.getMessage() and "b, c" in record.getMessage()
    timed = [make_frame(np.zeros((4, 4)), 1.0, name="a")]
    assert effective_calibration(timed, CalibrationParams()).output == "iof"
    assert mosaic_band(CalibrationParams(enabled=False)) == "dn"


def test_photometry_needs_geometry(caplog):
    cfg = CalibrationParams(cosmic_rays=False)
    with caplog.at_level(logging.WARNING):
        out = calibrate_frame(make_frame(np.full((16, 16), 300.0), 1.0), Masters(bias=100.0), cfg)
    assert out.qa["photometry"].startswith("skipped") and out.qa["sun_distance_au"] == 1.0
    assert "photometric" in caplog.text and "1 AU" in caplog.text
    assert np.allclose(out.data, np.pi * 200.0)


def test_disabled_calibration_passes_the_frame_through():
    frame = make_frame(np.full((8, 8), 300.0), 1.0)
    out = calibrate_frame(frame, None, CalibrationParams(enabled=False))
    assert out is frame


def test_unloaded_frames_are_refused():
    frame = make_frame(np.full((8, 8), 300.0), 1.0).replace(data=None)
    with pytest.raises(ValueError, match="load_frame"):
        calibrate_frame(frame, None, CalibrationParams())


def test_lunar_lambert_is_exported():
    assert lunar_lambert(0.0, 0.0, 0.0) == pytest.approx(1.0)
