import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.calibration.params import PhotometryParams
from pipeline.calibration.photometry import (
    PHOTOMETRIC_MODELS,
    lommel_seeliger,
    lunar_lambert,
    normalisation_factor,
    photometric_function,
)
from pipeline.geometry.illumination import pixel_angles
from pipeline.geometry.reflectance import lunar_lambert_l
from tests.calibration.helpers import MOON_R, look_at_camera

D = np.radians


def test_lommel_seeliger_known_values():
    assert lommel_seeliger(0.0, 0.0, 0.0) == pytest.approx(0.5)
    assert lommel_seeliger(D(60.0), 0.0, D(60.0)) == pytest.approx(0.5 / 1.5)
    assert lommel_seeliger(D(95.0), 0.0, 0.0) == 0.0  # Sun below the horizon
    assert lommel_seeliger(0.0, D(90.0), 0.0) == 0.0


def test_lunar_lambert_limits_and_mcewen_l():
    i, e, g = D(40.0), D(20.0), D(55.0)
    assert lunar_lambert(i, e, g, weight=1.0) == pytest.approx(2 * lommel_seeliger(i, e, g))
    assert lunar_lambert(i, e, g, weight=0.0) == pytest.approx(np.cos(i))  # Lambert
    assert lunar_lambert_l(0.0) == pytest.approx(1.0)
    g30 = 30.0
    l30 = 1 - 0.019 * g30 + 2.42e-4 * g30**2 - 1.46e-6 * g30**3
    assert lunar_lambert_l(D(30.0)) == pytest.approx(l30)
    # ISIS LunarLambertMcEwen's normalisation constant R30 (i = g = 30 deg, e = 0)
    c30 = np.cos(D(30.0))
    r30 = 2 * l30 * c30 / (1 + c30) + (1 - l30) * c30
    assert lunar_lambert(D(30.0), 0.0, D(30.0)) == pytest.approx(r30)
    assert lunar_lambert(D(95.0), 0.0, D(95.0)) == 0.0


def test_registry_and_config_validation():
    assert set(PHOTOMETRIC_MODELS) == {"lommel_seeliger", "lunar_lambert", "hapke"}
    for func in PHOTOMETRIC_MODELS.values():  # one signature: (inc, emi, phase) in radians
        out = func(np.full((2, 3), 0.3), np.zeros((2, 3)), np.full((2, 3), 0.3))
        assert out.shape == (2, 3) and np.all(out > 0)
    fixed = photometric_function("lunar_lambert", 0.5)
    assert fixed(D(30.0), 0.0, D(80.0)) == pytest.approx(lunar_lambert(D(30.0), 0.0, 0.0, weight=0.5))
    with pytest.raises(ValidationError, match="unknown photometric model"):
        PhotometryParams(model="minnaert")


def test_normalisation_factor():
    f = normalisation_factor(np.array([D(30.0)]), np.array([0.0]), np.array([D(30.0)]), lunar_lambert)
    assert f[0] == pytest.approx(1.0)
    inc, emi, g = D(60.0), D(10.0), D(65.0)
    f = normalisation_factor(np.array(inc), np.array(emi), np.array(g), lommel_seeliger)
    expected = lommel_seeliger(D(30.0), 0.0, D(30.0)) / lommel_seeliger(inc, emi, g)
    assert f == pytest.approx(expected)
    unlit = normalisation_factor(np.array(D(100.0)), np.array(0.0), np.array(D(100.0)), lunar_lambert)
    assert np.isnan(unlit)


def _exact(camera, shape):
    return pixel_angles(camera, shape, step=1)


def test_pixel_angles_match_the_camera_exactly_with_step_1():
    cam = look_at_camera(16, 20, [MOON_R, 0, 0], 200e3, sun_dir=(1.0, 1.0, 0.0))
    inc, emi, pha, hit = pixel_angles(cam, (16, 20), step=1)
    xyz, h = cam.image_to_ground_hit(np.array([3.5]), np.array([7.5]))
    i, e, g = cam.illumination_angles(xyz)
    assert hit.all() and h[0]
    assert (inc[3, 7], emi[3, 7], pha[3, 7]) == pytest.approx((i[0], e[0], g[0]))


@pytest.mark.parametrize("distance_m", [200e3, 3.0e8])  # a nadir frame; the whole disk and its limb
def test_grid_interpolation_error_is_small(distance_m):
    shape = (256, 256)
    cam = look_at_camera(*shape, [MOON_R, 0, 0], distance_m, sun_dir=(1.0, 0.6, 0.2))
    exact = _exact(cam, shape)
    coarse = pixel_angles(cam, shape, step=8)
    assert np.array_equal(coarse[3], exact[3])  # the body's outline is exact
    usable = exact[3] & (exact[1] < D(80.0))
    for a, b in zip(coarse[:3], exact[:3], strict=True):
        # what photometry uses: the cosines
        assert np.abs(np.cos(a) - np.cos(b))[usable].max() < 5e-5
        # the angles themselves, away from 0 (where arccos is steep)
        away = usable & (b > D(5.0))
        assert np.degrees(np.abs(a - b)[away]).max(initial=0.0) < 5e-3
        assert np.isnan(a[~exact[3]]).all()
