"""The plain-array matcher: a known shift of skimage's moon must be recovered to sub-pixel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.data import moon

from pipeline.errors import ConfigError
from pipeline.registration import DETECTORS, available_detectors
from pipeline.registration.detectors import check_detector
from pipeline.registration.features import match_images
from pipeline.registration.params import RegistrationParams

SHIFTS = [(3.37, -5.71), (0.25, 0.4), (-10.6, 7.5)]


def _pair(shift):
    a = moon().astype(np.float32)
    b = ndimage.shift(a, shift, order=3, mode="nearest")
    crop = (slice(24, -24), slice(24, -24))
    return a[crop], b[crop]


@pytest.mark.parametrize(
    ("detector", "shift"), [("sift", s) for s in SHIFTS] + [("orb", SHIFTS[0])]
)
def test_moon_shift_recovered_subpixel(detector, shift):
    a, b = _pair(shift)
    m = match_images(a, b, params=RegistrationParams(detector=detector), seed=0)
    assert len(m) >= 50, m.reason
    err = m.pts_b - m.pts_a - np.array(shift)
    assert np.all(np.abs(np.median(err, axis=0)) < 0.02)
    assert np.percentile(np.hypot(*err.T), 90) < 0.15
    assert np.all(m.ncc > 0.6)


def test_without_subpixel_is_pixel_accurate():
    a, b = _pair((3.37, -5.71))
    m = match_images(a, b, params=RegistrationParams(subpixel=False))
    err = m.pts_b - m.pts_a - np.array((3.37, -5.71))
    assert len(m) >= 50
    assert np.median(np.hypot(*err.T)) < 1.0
    assert np.all(np.isnan(m.ncc))


def test_deterministic_for_a_seed():
    a, b = _pair((0.25, 0.4))
    m1 = match_images(a, b, seed=5)
    m2 = match_images(a, b, seed=5)
    np.testing.assert_array_equal(m1.pts_a, m2.pts_a)
    np.testing.assert_array_equal(m1.pts_b, m2.pts_b)


def test_masked_region_yields_no_points_there():
    a, b = _pair((2.2, 1.3))
    valid = np.ones(a.shape, bool)
    valid[:, : a.shape[1] // 2] = False
    m = match_images(a, b, valid_a=valid, valid_b=valid)
    assert len(m) > 10
    assert np.all(m.pts_a[:, 1] > a.shape[1] // 2)
    assert np.all(m.pts_b[:, 1] > a.shape[1] // 2)


def test_unrelated_images_give_empty_result_with_reason():
    rng = np.random.default_rng(1)
    a = ndimage.gaussian_filter(rng.normal(size=(200, 200)), 2).astype(np.float32)
    b = ndimage.gaussian_filter(rng.normal(size=(200, 200)), 2).astype(np.float32)
    m = match_images(a, b)
    assert len(m) == 0
    assert m.reason


def test_all_invalid_gives_reason():
    a, b = _pair((1.0, 1.0))
    m = match_images(a, b, valid_a=np.zeros(a.shape, bool))
    assert len(m) == 0 and "valid" in m.reason


def test_detector_registry():
    assert set(DETECTORS) >= {"sift", "orb", "akaze"}
    assert {"sift", "orb"} <= set(available_detectors())
    assert check_detector("sift") == "sift"
    with pytest.raises(ConfigError, match="unknown detector"):
        check_detector("surf")
    if "akaze" not in available_detectors():
        with pytest.raises(ConfigError, match="opencv-contrib-python-headless"):
            check_detector("akaze")


def test_detectors_share_a_signature():
    img = moon()[100:300, 100:300].copy()
    valid = np.full(img.shape, 255, np.uint8)
    for name in available_detectors():
        pts, desc, norm = DETECTORS[name](img, valid, 200)
        assert pts.ndim == 2 and pts.shape[1] == 2 and pts.dtype == np.float32
        assert desc is not None and len(desc) == len(pts) and len(pts) <= 200
        assert isinstance(norm, int)
