"""Distortion models: usgscsm closed forms and exact vectorised inverses."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.geometry.distortion import Distortion


def _grid(r=5.0, n=41):
    x, y = np.meshgrid(np.linspace(-r, r, n), np.linspace(-r, r, n), indexing="ij")
    return x, y


@pytest.mark.parametrize(
    "dist",
    [
        Distortion.radial((0.0, 1e-3, -2e-6)),
        Distortion.radial((2e-4, -5e-4, 0.0)),
        Distortion(
            "transverse",
            tuple(
                [0.0, 1.0, 0.0, 1e-3, 0.0, 2e-4, 1e-5, 0.0, -1e-5, 0.0]
                + [0.0, 0.0, 1.0, 0.0, -3e-4, 1e-3, 0.0, 2e-5, 0.0, -1e-5]
            ),
        ),
        Distortion.from_isd_block(
            {
                "lunarorbiter": {
                    "perspective_x": -3e-6,
                    "perspective_y": 8e-7,
                    "center_point_x": -1.11,
                    "center_point_y": 0.3,
                }
            }
        ),
        Distortion.from_isd_block(
            {
                "lunarorbiter": {
                    "perspective_x": -3e-4,
                    "perspective_y": 8e-5,
                    "center_point_x": -1.11,
                    "center_point_y": 0.3,
                    "coefficients": [2.8e-4, -2.9e-8],
                }
            }
        ),
    ],
)
def test_apply_inverts_remove(dist):
    x, y = _grid()
    ux, uy = dist.remove(x, y)
    assert np.abs(ux - x).max() > 1e-9  # the model does something
    dx, dy = dist.apply(ux, uy)
    np.testing.assert_allclose(dx, x, atol=1e-12)
    np.testing.assert_allclose(dy, y, atol=1e-12)
    # and the other way round
    ux2, uy2 = dist.remove(*dist.apply(x, y))
    np.testing.assert_allclose(ux2, x, atol=1e-12)
    np.testing.assert_allclose(uy2, y, atol=1e-12)
    # scalars and non-finite inputs
    assert np.ndim(dist.apply(1.0, 2.0)[0]) == 0
    assert np.isnan(dist.apply(np.nan, 1.0)[0])


def test_usgscsm_closed_forms():
    # usgscsm FrameCameraTests: distortionFunction with all coefficients one at (7.5, 7.5)
    ones = Distortion("transverse", (1.0,) * 20)
    dx, dy = ones.apply(7.5, 7.5)
    assert dx == pytest.approx(1872.25) and dy == pytest.approx(1872.25)
    alternating = Distortion("transverse", (1.0, 0.0) * 5 + (0.0, 1.0) * 5)
    dx, dy = alternating.apply(7.5, 7.5)
    assert dx == pytest.approx(908.5) and dy == pytest.approx(963.75)
    # ... and removeDistortion (setFocalPlane_AlternatingOnes) recovers (7.5, 7.5)
    ux, uy = alternating.remove(908.5, 963.75)
    assert ux == pytest.approx(7.5, abs=1e-8) and uy == pytest.approx(7.5, abs=1e-8)
    # radial removal: u = d (1 - (k0 + k1 r^2 + k2 r^4))
    rad = Distortion.radial((0.1, 0.01, 0.001))
    ux, uy = rad.remove(3.0, 4.0)
    dr = 0.1 + 25 * 0.01 + 625 * 0.001
    assert ux == pytest.approx(3.0 * (1 - dr)) and uy == pytest.approx(4.0 * (1 - dr))


def test_isd_blocks_round_trip():
    for block in (
        {"radial": {"coefficients": [0.0, 1e-5, 0.0]}},
        {"transverse": {"x": [0.0, 1.0] + [0.0] * 7 + [1e-6], "y": [0.0, 0.0, 1.0] + [0.0] * 7}},
        {
            "lunarorbiter": {
                "perspective_x": 1e-6,
                "perspective_y": 0.0,
                "center_point_x": 1.0,
                "center_point_y": 0.0,
                "coefficients": [0.0, 0.0],
            }
        },
    ):
        d = Distortion.from_isd_block(block)
        assert Distortion.from_isd_block(d.to_isd_block()) == d
    assert Distortion.from_isd_block(None).is_identity
    assert Distortion.from_isd_block({"radial": {"coefficients": [0, 0, 0]}}).is_identity
    # the usgscsm test ISD's singular transverse block behaves as the identity
    assert Distortion.from_isd_block(
        {"transverse": {"x": [0, 1] + [0] * 8, "y": [0, 1] + [0] * 8}}
    ).is_identity
    with pytest.raises(ValueError, match="not supported"):
        Distortion.from_isd_block({"dawnfc": {"coefficients": [1e-5]}})
