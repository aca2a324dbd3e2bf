import numpy as np
import pytest

from pipeline.imaging.stats import (
    block_sigma,
    clipped_stack,
    fit_noise_model,
    highpass,
    interp_grid,
    local_median,
    mad_sigma,
    noise_sigma,
    scatter_but_one,
)


def test_mad_sigma_of_normal_noise_and_outliers(rng):
    x = rng.normal(5.0, 2.0, 100_000)
    x[:1000] = 1e6  # 1 % wild outliers barely move it
    assert mad_sigma(x) == pytest.approx(2.0, rel=0.03)
    assert np.isnan(mad_sigma(np.array([np.nan])))


def test_clipped_stack_rejects_an_outlier_frame_and_keeps_pattern(rng):
    pattern = np.tile(np.arange(16.0), (8, 1))  # a column pattern that must survive
    stack = pattern + rng.normal(0, 1.0, (7, 8, 16))
    stack[3, 2, 5] += 500.0  # a cosmic ray in one frame
    med, scatter = clipped_stack(stack, sigma=3.0)
    assert np.abs(med - pattern).max() < 2.0
    assert scatter is not None
    assert scatter[2, 5] < 3.0  # the hit was clipped out of the scatter too
    assert np.median(scatter) == pytest.approx(1.0, rel=0.2)


def test_clipped_stack_small_stacks():
    one = np.arange(6.0).reshape(1, 2, 3)
    med, scatter = clipped_stack(one, 3.0)
    assert np.array_equal(med, one[0]) and scatter is None
    two = np.stack([np.zeros((2, 2)), np.full((2, 2), 2.0)])
    med, scatter = clipped_stack(two, 3.0)
    assert np.allclose(med, 1.0) and scatter is None
    identical = np.full((5, 3, 3), 7.0)  # zero scatter must not clip everything
    med, scatter = clipped_stack(identical, 3.0)
    assert np.allclose(med, 7.0) and np.allclose(scatter, 0.0)
    with pytest.raises(ValueError):
        clipped_stack(np.zeros((3, 3)), 3.0)


def test_scatter_but_one_ignores_one_hit_but_not_a_noisy_pixel(rng):
    stack = rng.normal(0, 1.0, (9, 50, 50))
    stack[4, 10, 10] += 1000.0  # one hit
    stack[:, 20, 20] *= 100.0  # a noisy pixel
    s = scatter_but_one(stack)
    assert s[10, 10] < 3.0
    assert s[20, 20] > 10.0
    assert np.median(s) == pytest.approx(0.85, abs=0.1)
    with pytest.raises(ValueError):
        scatter_but_one(stack[:2])


def test_highpass_cancels_planes_and_noise_sigma_recovers_noise(rng):
    yy, xx = np.mgrid[0:200, 0:300]
    plane = 3.0 * xx - 2.0 * yy + 100.0
    assert np.allclose(highpass(plane)[1:-1, 1:-1], 0.0, atol=1e-9)
    noisy = plane + rng.normal(0, 4.0, plane.shape)
    assert noise_sigma(noisy) == pytest.approx(4.0, rel=0.03)
    mask = np.zeros(plane.shape, bool)
    mask[:, :150] = True
    noisy[:, :150] += rng.normal(0, 40.0, (200, 150))
    assert noise_sigma(noisy, mask) == pytest.approx(4.0, rel=0.05)


def test_block_sigma_follows_a_change_of_noise(rng):
    res = rng.normal(0, 1.0, (256, 256))
    res[:, 128:] *= 5.0
    sig = block_sigma(res, block=32)
    assert np.median(sig[:, :96]) == pytest.approx(1.0, rel=0.1)
    assert np.median(sig[:, 160:]) == pytest.approx(5.0, rel=0.1)
    assert block_sigma(np.zeros((40, 40)), floor=0.3).min() == pytest.approx(0.3)


def test_fit_noise_model_recovers_gain_and_read_noise(rng):
    gain, rn = 2.0, 5.0
    level = np.tile(np.linspace(0.0, 1000.0, 512), (256, 1))
    img = rng.poisson(level * gain) / gain + rng.normal(0, rn, level.shape)
    # strong texture in a few blocks must not bias the fit
    img[:64, :64] += 50.0 * rng.normal(0, 1, (64, 64))
    residual = img - local_median(img, 3)
    a, b = fit_noise_model(residual, local_median(img, 5))
    k = 0.862  # x - med3(x) noise per unit pixel noise
    assert a == pytest.approx(k**2 / gain, rel=0.1)
    assert np.sqrt(b) == pytest.approx(k * rn, rel=0.3)
    # flat image: no slope can be fitted, the level is the median variance
    flat = rng.normal(0, 3.0, (128, 128)) + 10.0
    a0, b0 = fit_noise_model(flat - local_median(flat, 3), np.full(flat.shape, 10.0))
    assert a0 == 0.0 and np.sqrt(b0) == pytest.approx(k * 3.0, rel=0.1)


def test_interp_grid_is_exact_for_bilinear_functions():
    gl = np.array([0.0, 8.0, 16.0, 19.0])
    gs = np.array([0.0, 8.0, 13.0])
    f = lambda line, s: 2.0 + 0.5 * line - 0.25 * s + 0.01 * line * s
    grid = f(gl[:, None], gs[None, :])
    out = interp_grid(grid, gl, gs, np.arange(20.0), np.arange(14.0))
    ll, ss = np.meshgrid(np.arange(20.0), np.arange(14.0), indexing="ij")
    assert np.allclose(out, f(ll, ss))
    single = interp_grid(np.array([[3.0]]), np.array([0.0]), np.array([0.0]), np.arange(3.0), np.arange(2.0))
    assert np.allclose(single, 3.0)


def test_local_median_sizes_agree_with_scipy(rng):
    from scipy import ndimage

    img = rng.normal(0, 1, (40, 50)).astype(np.float32)
    for size in (3, 5, 7):
        ours = local_median(img, size)
        ref = ndimage.median_filter(img, size=size)
        assert np.allclose(ours[3:-3, 3:-3], ref[3:-3, 3:-3])
    yy, xx = np.mgrid[0:30, 0:40]
    plane = (2.0 * xx - 3.0 * yy).astype(np.float32)
    assert np.allclose(local_median(plane, 9), plane)  # odd reflection keeps gradients at edges
