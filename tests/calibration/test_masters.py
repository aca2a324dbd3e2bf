import logging

import numpy as np
import pytest
from astropy.io import fits

from pipeline.calibration import BadPixel, Masters, build_masters, build_masters_from_frames
from pipeline.calibration.badpixels import find_dead, find_hot, find_noisy
from pipeline.calibration.params import CalibrationParams
from pipeline.errors import CalibrationError
from pipeline.frame import FrameType
from pipeline.imaging.repair import repair_pixels
from tests.calibration.helpers import SHAPE, make_frame, make_sensor

CFG = CalibrationParams()


def _calibration_set(sensor, rng, noise=True, n_bias=9, n_dark=5, n_flat=5):
    bias = [sensor.expose(0.0, 0.0, rng, noise) for _ in range(n_bias)]
    darks = [(sensor.expose(0.0, t, rng, noise), t) for t in np.linspace(10.0, 20.0, n_dark)]
    flats = [(sensor.expose(10000.0 * k, 1.0, rng, noise), 1.0) for k in np.linspace(0.8, 1.2, n_flat)]
    return bias, darks, flats


def test_exact_masters_from_noise_free_frames(rng):
    sensor = make_sensor(rng)
    bias, darks, flats = _calibration_set(sensor, rng, noise=False)
    m = build_masters(bias, darks, flats, CFG)
    assert m.bias.dtype == np.float32 and m.bias.shape == SHAPE
    assert np.allclose(m.bias, sensor.bias, atol=1e-3)  # column pattern kept
    assert np.allclose(m.dark_rate, sensor.dark_rate, rtol=1e-5, atol=1e-4)
    truth_flat = sensor.flat / np.median(sensor.flat)
    good = ~sensor.dead
    assert np.allclose(m.flat[good], truth_flat[good], rtol=1e-4)
    assert np.median(m.flat) == pytest.approx(1.0, abs=1e-6)
    assert ((m.bad & BadPixel.HOT) != 0)[sensor.hot].all()
    assert ((m.bad & BadPixel.DEAD) != 0)[sensor.dead].all()
    assert m.read_noise_dn == pytest.approx(0.0, abs=1e-3)


def test_bad_pixel_map_rates_with_noise(rng):
    sensor = make_sensor(rng, n_hot=60, n_dead=60, n_noisy=30)
    m = build_masters(*_calibration_set(sensor, rng), CFG)
    flags = m.bad
    hot, dead, noisy = (
        (flags & BadPixel.HOT) != 0,
        (flags & BadPixel.DEAD) != 0,
        (flags & BadPixel.NOISY) != 0,
    )
    assert hot[sensor.hot].mean() >= 0.99
    assert dead[sensor.dead].mean() >= 0.99
    assert noisy[sensor.noisy].mean() >= 0.99
    injected = sensor.hot | sensor.dead | sensor.noisy
    assert (flags != 0)[~injected].mean() < 1e-3
    assert m.read_noise_dn == pytest.approx(4.0, rel=0.15)
    # the masters themselves are close to the truth away from the bad pixels
    good = ~injected
    assert np.abs(m.bias - sensor.bias)[good].std() < 4.0 / np.sqrt(9) * 1.5
    assert np.abs(m.flat - sensor.flat / np.median(sensor.flat))[good].std() < 0.01


def test_empty_lists_fall_back_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.calibration"):
        m = build_masters([], [], [], CFG)
    assert m.bias == 0.0 and m.dark_rate == 0.0 and m.flat == 1.0 and m.bad is None and m.shape is None
    (record,) = caplog.records  # one warning, naming every fallback and the keys that exist
    text = record.getMessage()
    assert "no calibration frames" in text and "zero bias" in text and "zero dark" in text and "unit flat" in text
    assert "calibration.bias_dn" in text and "calibrate." not in text


def test_missing_masters_among_others_are_each_named(caplog, rng):
    with caplog.at_level(logging.WARNING, logger="pipeline.calibration"):
        build_masters([rng.normal(100, 1, (8, 8)) for _ in range(3)], [], [], CFG)
    text = caplog.text
    assert "no dark frames" in text and "no usable flat frames" in text and "no bias" not in text


def test_bias_fallbacks_constant_and_overscan(caplog, rng):
    m = build_masters([], [], [], CFG.model_copy(update={"bias_dn": 180.0}))
    assert m.bias == 180.0 and "180" in m.provenance["bias"]
    cfg = CFG.model_copy(update={"overscan_samples": (200, 224)})
    with caplog.at_level(logging.WARNING):
        m = build_masters([], [], [], cfg)
    assert m.bias is None and "overscan" in caplog.text
    raw = np.full(SHAPE, 500.0)
    raw[:, 200:] = np.arange(SHAPE[0])[:, None] + 100.0  # a per-line bias level
    assert np.allclose(m.bias_for(raw, (200, 224))[:, 0], np.arange(SHAPE[0]) + 100.0)
    with pytest.raises(CalibrationError, match="overscan_samples"):
        m.bias_for(raw, None)
    with pytest.raises(CalibrationError, match="outside"):
        m.bias_for(raw, (200, 300))


def test_darks_and_flats_use_the_overscan_bias(rng):
    sensor = make_sensor(rng, n_hot=0, n_dead=0, n_noisy=0)
    sensor.bias[:] = 150.0  # flat bias, measured by the overscan columns
    sensor.flat[:, 200:] = 0.0  # overscan: no light
    sensor.dark_rate[:, 200:] = 0.0
    cfg = CFG.model_copy(update={"overscan_samples": (200, 224)})
    _, darks, flats = _calibration_set(sensor, rng, noise=False)
    m = build_masters([], darks, flats, cfg)
    assert np.allclose(m.dark_rate[:, :200], sensor.dark_rate[:, :200], atol=1e-3)
    assert np.all(m.flat[:, 200:] == 1.0)
    assert not m.bad[:, 200:].any()


def test_shapes_and_exposures_are_checked():
    with pytest.raises(CalibrationError, match="shapes"):
        build_masters([np.zeros((4, 4)), np.zeros((4, 5))], [], [], CFG)
    with pytest.raises(CalibrationError, match="exposure"):
        build_masters([], [(np.zeros((4, 4)), 0.0)], [], CFG)
    with pytest.raises(CalibrationError, match="no signal"):
        build_masters([np.full((4, 4), 10.0)], [], [(np.full((4, 4), 10.0), 1.0)], CFG)


def test_save_load_round_trip(tmp_path, rng):
    sensor = make_sensor(rng)
    m = build_masters(*_calibration_set(sensor, rng, n_flat=3), CFG)
    written = m.save(tmp_path / "masters")
    assert {p.name for p in written} == {"bias.fits", "dark_rate.fits", "flat.fits", "badpix.fits"}
    with fits.open(tmp_path / "masters" / "bias.fits") as hdul:
        assert hdul[0].header["BUNIT"] == "DN" and "bias frames" in hdul[0].header["SOURCE"]
    back = Masters.load(tmp_path / "masters")
    for name in ("bias", "dark_rate", "flat", "bad"):
        assert np.array_equal(getattr(back, name), getattr(m, name))
    assert back.bad.dtype == np.uint8
    assert back.read_noise_dn == pytest.approx(m.read_noise_dn)
    assert back.provenance == m.provenance


def test_save_load_constant_and_overscan_masters(tmp_path):
    m = Masters(bias=None, dark_rate=0.0, flat=1.0, provenance={"bias": "overscan"})
    m.save(tmp_path)
    back = Masters.load(tmp_path)
    assert back.bias is None and back.dark_rate == 0.0 and back.flat == 1.0 and back.bad is None
    Masters(bias=123.5).save(tmp_path)
    assert Masters.load(tmp_path).bias == 123.5


def test_load_errors(tmp_path):
    with pytest.raises(CalibrationError, match="missing"):
        Masters.load(tmp_path / "nowhere")
    Masters(bias=np.zeros((3, 3)), flat=np.ones((4, 4))).save(tmp_path)
    with pytest.raises(CalibrationError, match="different shapes"):
        Masters.load(tmp_path)
    (tmp_path / "flat.fits").write_bytes(b"not a fits file")
    with pytest.raises(CalibrationError, match="FITS"):
        Masters.load(tmp_path)


def test_build_masters_from_frames_groups_by_type(rng, caplog):
    sensor = make_sensor(rng, n_hot=5, n_dead=5, n_noisy=0)
    bias, darks, flats = _calibration_set(sensor, rng, noise=False, n_bias=3, n_dark=2, n_flat=2)
    frames = [make_frame(b, 0.0, FrameType.BIAS, f"b{i}") for i, b in enumerate(bias)]
    frames += [make_frame(d, t, FrameType.DARK, f"d{i}") for i, (d, t) in enumerate(darks)]
    frames += [make_frame(f, t, FrameType.FLAT, f"f{i}") for i, (f, t) in enumerate(flats)]
    frames.append(make_frame(np.zeros(SHAPE), 1.0, FrameType.LIGHT, "light"))
    m = build_masters_from_frames(frames, CFG)
    direct = build_masters(bias, darks, flats, CFG)
    for name in ("bias", "dark_rate", "flat", "bad"):
        assert np.array_equal(getattr(m, name), getattr(direct, name))
    # one bad calibration frame is left out with its reason; the masters come from the rest
    frames[3] = make_frame(darks[0][0], None, FrameType.DARK, "nodark")
    m = build_masters_from_frames(frames, CFG)
    ((bad),) = m.rejected
    assert bad.path.name == "nodark.fits" and "exposure" in bad.reason
    alone = build_masters(bias, darks[1:], flats, CFG)
    assert np.array_equal(m.dark_rate, alone.dark_rate) and np.array_equal(m.flat, alone.flat)


def test_calibration_frames_of_another_size_or_without_signal_are_left_out(rng):
    sensor = make_sensor(rng, n_hot=0, n_dead=0, n_noisy=0)
    bias, darks, flats = _calibration_set(sensor, rng, noise=False, n_bias=3, n_dark=2, n_flat=3)
    frames = [make_frame(b, 0.0, FrameType.BIAS, f"b{i}") for i, b in enumerate(bias)]
    frames += [make_frame(d, t, FrameType.DARK, f"d{i}") for i, (d, t) in enumerate(darks)]
    frames += [make_frame(f, t, FrameType.FLAT, f"f{i}") for i, (f, t) in enumerate(flats)]
    frames.append(make_frame(bias[0][:-2], 0.0, FrameType.BIAS, "small"))
    frames.append(make_frame(bias[0], flats[0][1], FrameType.FLAT, "dark_flat"))  # bias level only
    m = build_masters_from_frames(frames, CFG)
    reasons = {f.path.stem: f.reason for f in m.rejected}
    assert set(reasons) == {"small", "dark_flat"}
    assert "not the" in reasons["small"] and "no signal" in reasons["dark_flat"]
    assert m.shape == bias[0].shape and "3 normalised flat frames" in m.provenance["flat"]


def test_bad_pixel_finders_on_known_arrays():
    rate = np.full((20, 20), 1.0) + np.linspace(0, 5, 20)[None, :]  # gradient: not hot
    rate += np.random.default_rng(0).normal(0, 0.01, rate.shape)
    rate[5, 5] = 50.0
    assert np.argwhere(find_hot(rate, 8.0)).tolist() == [[5, 5]]
    flat = np.full((20, 20), 1.0) * np.linspace(0.3, 1.0, 20)[None, :]  # vignetting: not dead
    flat[10, 12] = 0.1
    flat[3, 3] = np.nan
    assert np.argwhere(find_dead(flat, 0.5)).tolist() == [[3, 3], [10, 12]]
    scatter = np.random.default_rng(1).normal(4.0, 0.3, (20, 20))
    scatter[7, 8] = 30.0
    assert np.argwhere(find_noisy(scatter, 6.0)).tolist() == [[7, 8]]


def test_repair_pixels_uses_good_neighbours_and_fills_clusters():
    img = np.tile(np.arange(30.0), (30, 1))  # linear in samples
    bad = np.zeros(img.shape, bool)
    bad[10, 10] = True
    bad[20:27, 5:12] = True  # a 7x7 cluster: interior pixels have no good neighbour
    broken = img.copy()
    broken[bad] = 1e6
    out = repair_pixels(broken, bad)
    assert out[10, 10] == pytest.approx(10.0)
    assert np.all(np.isfinite(out)) and np.abs(out[bad] - img[bad]).max() < 3.0
    assert np.array_equal(out[~bad], img[~bad])
    avoid = np.zeros(img.shape, bool)
    avoid[9:12, 11] = True
    broken[avoid] = -1e6  # e.g. saturated: must not be used as a source
    assert repair_pixels(broken, bad, avoid)[10, 10] == pytest.approx(10.0, abs=1.0)
