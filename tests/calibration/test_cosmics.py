import numpy as np
import pytest

from pipeline.calibration.cosmics import (
    detect_cosmics,
    detect_outliers,
    psf_neighbour_ratio,
    residual_noise,
)
from tests.calibration.helpers import GAIN, READ_NOISE, add_cosmics, make_scene, psf_blur


def _noisy(rate: np.ndarray, rng) -> np.ndarray:
    return (rng.poisson(rate * GAIN) / GAIN + rng.normal(0, READ_NOISE, rate.shape)).astype(np.float32)


def test_psf_neighbour_ratio_known_values():
    assert psf_neighbour_ratio(1.5) == pytest.approx(0.2916, abs=1e-3)
    # sharper PSF, smaller share; broader, larger
    assert psf_neighbour_ratio(1.0) < psf_neighbour_ratio(1.5) < psf_neighbour_ratio(3.0) < 1.0


def test_single_hits_and_tracks_on_a_flat_field(rng):
    img = _noisy(np.full((64, 64), 1000.0), rng)
    img[10, 10] += 400.0  # single pixel
    img[30, 20:24] += 500.0  # horizontal track
    for k in range(4):  # diagonal track
        img[45 + k, 40 + k] += 600.0
    img[50, 10] += 700.0  # L-shaped track corner
    img[50, 11] += 650.0
    img[51, 11] += 600.0
    hits = detect_cosmics(img)
    expected = np.zeros(img.shape, bool)
    expected[10, 10] = True
    expected[30, 20:24] = True
    expected[[45, 46, 47, 48], [40, 41, 42, 43]] = True
    expected[[50, 50, 51], [10, 11, 11]] = True
    assert hits[expected].all()
    assert (hits & ~expected).sum() <= 2  # a noise pixel beside a hit may join it


def test_blurred_small_craters_survive(rng):
    """PSF-blurred dips and peaks (1.5 px FWHM and broader) are scene, not hits."""
    lines, samples = 96, 96
    scene = np.full((lines, samples), 1500.0)
    spikes = np.zeros_like(scene)
    core = np.zeros(scene.shape, bool)
    for i, r in enumerate(range(8, lines - 8, 12)):
        for j, c in enumerate(range(8, samples - 8, 12)):
            spikes[r, c] = (1 if (i + j) % 2 else -1) * 1200.0 * (1 + (i + j) % 3)
            core[r, c] = True
    for fwhm in (1.5, 2.5):
        blurred = np.maximum(scene + psf_blur(spikes, fwhm / 2.3548) * (fwhm / 1.5) ** 2, 50.0)
        pos, neg = detect_outliers(_noisy(blurred, rng))
        assert not (pos | neg)[core].any(), fwhm  # no crater (of 36) is taken for a hit
        assert (pos | neg).sum() <= 3  # noise beyond 5 sigma, now and then on a flank


def test_flagging_rates_on_a_textured_scene(rng):
    """>= 99 % of injected hits flagged, < 0.1 % of the other pixels."""
    found = injected = false = others = 0
    for _ in range(3):
        rate, _ = make_scene(rng, level=1500.0)
        img, truth = add_cosmics(_noisy(rate, rng), rng, n=120)
        hits = detect_cosmics(img)
        found += (hits & truth).sum()
        injected += truth.sum()
        false += (hits & ~truth).sum()
        others += (~truth).sum()
    assert found / injected >= 0.99
    assert false / others < 1e-3


def test_cold_pixels_are_found_on_the_negated_image(rng):
    rate, _ = make_scene(rng, level=1500.0)
    img = _noisy(rate, rng)
    dead = rng.choice(img.size, 40, replace=False)
    truth = np.zeros(img.shape, bool)
    truth.flat[dead] = True
    img[truth] *= 0.2
    _, neg = detect_outliers(img)
    assert neg[truth].mean() >= 0.99
    assert (neg & ~truth).sum() < 1e-3 * img.size
    _, none = detect_outliers(img, negative=False)
    assert not none.any()


def test_masked_pixels_are_neither_reported_nor_used(rng):
    img = _noisy(np.full((48, 48), 800.0), rng)
    img[20:24, 20:24] = 4095.0  # a saturated spot, masked
    img[5, 5] += 300.0
    mask = np.zeros(img.shape, bool)
    mask[20:24, 20:24] = True
    hits = detect_cosmics(img, mask)
    assert not (hits & mask).any()
    assert hits[5, 5] and hits.sum() <= 3  # the hit, perhaps a noise pixel beside it


def test_residual_noise_follows_poisson_noise(rng):
    level = np.tile(np.linspace(200.0, 3000.0, 256), (256, 1))
    img = _noisy(level, rng)
    expected = 0.862 * np.sqrt(level / GAIN + READ_NOISE**2)
    measured = residual_noise(img)
    assert np.median(measured / expected) == pytest.approx(1.0, abs=0.1)
    modelled = residual_noise(img, gain_e_per_dn=GAIN, read_noise_dn=READ_NOISE)
    assert np.median(modelled / expected) == pytest.approx(1.0, abs=0.05)
    assert residual_noise(np.zeros((40, 40))).min() == pytest.approx(0.862 / np.sqrt(12), rel=1e-3)


def test_saturated_core_of_a_track_leaves_the_rest_found(rng):
    """The unsaturated pixels of a track whose core saturated are hits; the saturated
    pixels themselves are left to the mask."""
    img = _noisy(np.full((48, 48), 1500.0), rng)
    track = [(20, 14), (21, 15), (22, 16), (23, 17), (24, 18)]
    for k, (r, c) in enumerate(track):
        img[r, c] += 2500.0 if k in (1, 2) else 600.0
    saturated = img >= 3500.0
    img[saturated] = 3500.0
    assert saturated.sum() == 2
    hits = detect_cosmics(img, saturated, saturated=saturated)
    rest = [p for k, p in enumerate(track) if k not in (1, 2)]
    assert all(hits[p] for p in rest)
    assert not (hits & saturated).any() and hits.sum() <= len(rest) + 2
    # repaired instead of kept, the saturated core hides its neighbours
    assert not detect_cosmics(img, saturated)[tuple(np.array(rest).T)].all()


def test_a_hit_beside_a_crater_rim_takes_the_hit_not_the_rim(rng):
    """A hit does not grow into the sharp, bright rim of the crater it lands beside (the
    rim is above the growth level but not as sharp as a hit)."""
    n = 64
    yy, xx = np.mgrid[0:n, 0:n]
    radius = np.hypot(yy - 32, xx - 32)
    rim = np.exp(-0.5 * ((radius - 6.0) / 0.4) ** 2)  # a 1 px wide bright ring
    img = _noisy(psf_blur(1500.0 + 900.0 * rim - 400.0 * (radius < 5.0)), rng)
    assert not detect_cosmics(img).any()
    img[32, 39] += 700.0  # just outside the rim, right
    img[25, 32] += 700.0  # just outside the rim, top
    hits = detect_cosmics(img)
    assert hits[32, 39] and hits[25, 32]
    assert hits.sum() <= 8  # each hit and its charge spill; 28 rim pixels stand 6 sigma above med3


def test_a_hit_on_a_steep_slope_is_found(rng):
    """The sharpness test measures excesses above the local gradient, not a flat level."""
    ramp = np.tile(np.linspace(800.0, 3200.0, 64), (64, 1))  # 38 DN per sample
    img = _noisy(psf_blur(ramp), rng)
    img[30, 30] += 350.0
    img[40, 20] += 300.0
    img[41, 19] += 300.0
    hits = detect_cosmics(img)
    assert hits[30, 30] and hits[40, 20] and hits[41, 19]
    assert hits.sum() <= 5
