import logging

import numpy as np
import pytest

from pipeline.calibration.radiometry import (
    AU_M,
    remove_signature,
    sun_distance_au,
    to_dn_per_s,
    to_iof,
    to_radiance,
)
from tests.calibration.helpers import AU, MOON_R, look_at_camera


def test_remove_signature_exact_and_guards_bad_flats():
    raw = np.array([[1130.0, 530.0], [230.0, 330.0]])
    bias = np.array([[100.0, 100.0], [110.0, 110.0]])
    dark = np.array([[2.0, 1.0], [0.0, 4.0]])
    flat = np.array([[0.5, 2.0], [0.0, np.nan]])
    out = remove_signature(raw, bias, dark, flat, 10.0)
    assert out[0].tolist() == [(1130 - 100 - 20) / 0.5, (530 - 100 - 10) / 2.0]
    assert out[1].tolist() == [120.0, 180.0]  # zero / NaN flat: left unflattened
    assert remove_signature(raw, 100.0, 0.0, 1.0, 1.0).shape == raw.shape


def test_units_chain():
    assert to_dn_per_s(np.array([50.0]), 0.25)[0] == 200.0
    assert to_radiance(np.array([200.0]), 2500.0)[0] == pytest.approx(0.08)
    # I/F = pi L d^2 / F
    assert to_iof(np.array(0.08), 1500.0, 1.0) == pytest.approx(np.pi * 0.08 / 1500.0)
    assert to_iof(np.array(0.08), 1500.0, 1.5) == pytest.approx(np.pi * 0.08 * 2.25 / 1500.0)


def test_sun_distance_from_the_camera(caplog):
    assert AU_M == AU
    cam = look_at_camera(32, 32, [MOON_R, 0, 0], 100e3, sun_dir=(1.0, 0.0, 0.0), sun_au=1.2)
    # the ground point under the image centre is (R, 0, 0)
    assert sun_distance_au(cam, (32, 32)) == pytest.approx((1.2 * AU - MOON_R) / AU, rel=1e-12)
    with caplog.at_level(logging.WARNING):
        assert sun_distance_au(None, (32, 32)) == 1.0
    assert "1 AU" in caplog.text
    no_sun = cam.__class__.build(
        lines=8,
        samples=8,
        focal_length_mm=50.0,
        pixel_pitch_mm=0.01,
        position_m=cam.position_m,
        cam_to_body=cam.cam_to_body,
    )
    assert sun_distance_au(no_sun, (8, 8)) == 1.0
