"""The vectorised correlation core: masked NCC against brute force, LSM against known shifts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.registration.correlate import lsm_refine, masked_ncc, ncc, ncc_peaks, spline_patches


def _brute(t, im, tv, iv):
    n, th, tw = t.shape
    out = np.full((n, im.shape[1] - th + 1, im.shape[2] - tw + 1), -np.inf)
    for k in range(n):
        for a in range(out.shape[1]):
            for b in range(out.shape[2]):
                m = tv[k] & iv[k, a : a + th, b : b + tw]
                if m.sum() >= 3:
                    out[k, a, b] = np.corrcoef(t[k][m], im[k, a : a + th, b : b + tw][m])[0, 1]
    return out


def test_masked_ncc_equals_brute_force_with_and_without_masks():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(4, 9, 11))
    im = rng.normal(size=(4, 15, 16))
    im[:, 2:11, 3:14] += 0.7 * t
    full, cnt = masked_ncc(t, im)
    ones_t, ones_i = np.ones(t.shape, bool), np.ones(im.shape, bool)
    np.testing.assert_allclose(full, _brute(t, im, ones_t, ones_i), atol=1e-10)
    assert np.all(cnt == 9 * 11)
    tv, iv = rng.random(t.shape) > 0.25, rng.random(im.shape) > 0.25
    masked, cnt = masked_ncc(t, im, tv, iv, min_overlap=0.0)
    np.testing.assert_allclose(masked, _brute(t, im, tv, iv), atol=1e-10)
    assert np.all(np.argmax(full.reshape(4, -1), axis=1) == 2 * full.shape[2] + 3)


def test_peaks_are_subpixel_and_flag_edges():
    yy, xx = np.mgrid[0:7, 0:7]
    surf = -((yy - 3.3) ** 2) - (xx - 2.8) ** 2  # a paraboloid: the parabola fit is exact
    edge = -((yy - 0.0) ** 2) - (xx - 3.0) ** 2
    p = ncc_peaks(np.stack([surf, edge]))
    np.testing.assert_allclose(p.shift[0], [3.3, 2.8], atol=1e-12)
    assert not p.on_edge[0] and p.on_edge[1]


def test_spline_patches_equal_map_coordinates():
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.normal(size=(60, 70)), 1.5)
    coef = ndimage.spline_filter(img, order=3, mode="mirror")
    corner = np.array([[10.3, 20.7], [30.01, 5.5], [1.0, 1.0], [58.0, 2.0]])
    patches, inside = spline_patches(coef, corner, 9)
    assert inside.tolist() == [True, True, True, False]
    for k in range(3):
        rr, cc = np.mgrid[0:9, 0:9]
        ref = ndimage.map_coordinates(img, [corner[k, 0] + rr, corner[k, 1] + cc], order=3, mode="mirror")
        np.testing.assert_allclose(patches[k], ref, atol=1e-9)
    assert np.all(patches[3] == 0)


@pytest.mark.parametrize("affine", [False, True])
def test_lsm_recovers_known_shifts_gain_and_offset(affine):
    rng = np.random.default_rng(1)
    img = ndimage.gaussian_filter(rng.normal(size=(200, 200)), 1.6)
    coef = ndimage.spline_filter(img, order=3, mode="mirror")
    w, h = 15, 7
    centres = np.array([[50.0, 60.0], [120.0, 90.0], [150.0, 150.0], [80.0, 130.0]])
    truth = np.array([[0.37, -0.21], [-0.45, 0.3], [0.12, 0.49], [0.0, 0.0]])
    # templates: the image at centre + truth (exact spline samples), another gain and offset
    rr, cc = np.mgrid[-h : h + 1, -h : h + 1]
    tmpl = np.stack([ndimage.map_coordinates(img, [c[0] + s[0] + rr, c[1] + s[1] + cc], order=3, mode="mirror")
                     for c, s in zip(centres, truth, strict=True)]) * 1.7 + 0.2
    g = np.arange(-h - 1, h + 2, dtype=float)
    gy, gx = np.meshgrid(g, g, indexing="ij")

    def sample(shift, deform):
        if deform is None:
            return spline_patches(coef, centres + shift - (h + 1), w + 2)[0]
        pos_r = centres[:, 0, None, None] + shift[:, 0, None, None] + deform[:, 0, 0, None, None] * gy \
            + deform[:, 0, 1, None, None] * gx
        pos_c = centres[:, 1, None, None] + shift[:, 1, None, None] + deform[:, 1, 0, None, None] * gy \
            + deform[:, 1, 1, None, None] * gx
        return ndimage.map_coordinates(coef, [pos_r, pos_c], order=3, mode="mirror", prefilter=False)

    start = np.round(truth)  # integer starts, up to half a pixel off
    ref = lsm_refine(tmpl, sample, start, affine=affine)
    assert ref.ok.all()
    np.testing.assert_allclose(ref.shift, truth, atol=2e-3)
    assert np.all(ref.score > 0.999) and np.all(ref.sigma_px < 0.01)


def test_lsm_follows_a_scaled_patch_only_when_affine():
    rng = np.random.default_rng(2)
    img = ndimage.gaussian_filter(rng.normal(size=(120, 120)), 2.0)
    h = 10  # a 21 x 21 template
    c = np.array([[60.0, 60.0]])
    rr, cc = np.mgrid[-h : h + 1, -h : h + 1]
    scale = 1.12  # the template is the image stretched by 12 % about a point 0.3 px off its centre
    tmpl = ndimage.map_coordinates(img, [60.3 + scale * rr, 60.0 + scale * cc], order=3)[None]
    g = np.arange(-h - 1, h + 2, dtype=float)
    gy, gx = np.meshgrid(g, g, indexing="ij")

    def sample(shift, deform):
        dm = np.eye(2)[None] if deform is None else deform
        pos_r = (c[:, 0, None, None] + shift[:, 0, None, None]
                 + dm[:, 0, 0, None, None] * gy + dm[:, 0, 1, None, None] * gx)
        pos_c = (c[:, 1, None, None] + shift[:, 1, None, None]
                 + dm[:, 1, 0, None, None] * gy + dm[:, 1, 1, None, None] * gx)
        return ndimage.map_coordinates(img, [pos_r, pos_c], order=3)

    aff = lsm_refine(tmpl, sample, np.zeros((1, 2)), affine=True)
    assert aff.ok[0]
    np.testing.assert_allclose(aff.shift[0], [0.3, 0.0], atol=0.01)
    assert aff.score[0] > 0.999
    trans = lsm_refine(tmpl, sample, np.zeros((1, 2)))
    assert trans.score[0] < aff.score[0]


def test_ncc_of_patch_pairs():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(3, 8, 8))
    assert np.allclose(ncc(a, 2 * a + 1), 1.0) and np.allclose(ncc(a, -a), -1.0)
    assert ncc(a, np.ones_like(a)).tolist() == [0.0, 0.0, 0.0]
