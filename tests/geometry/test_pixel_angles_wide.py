"""pixel_angles on wide views, where the angle cosines curve too much for an 8 px grid: it
halves the grid instead of computing most pixels exactly (issue 21: the calibrate stage's
photometric angles were 260,000 exact ray casts per 512² frame of the benchmark survey)."""

import numpy as np
import pytest

from pipeline.geometry import illumination
from pipeline.geometry.illumination import pixel_angles
from tests.calibration.helpers import MOON_R, look_at_camera


# half fields of view of 9 and 18 deg at 256 px (4 and 2 px grids); exact: every pixel evaluated
@pytest.mark.parametrize(("focal_mm", "share"), [(8.0, 0.2), (4.0, 0.7)])
def test_wide_frames_are_interpolated_on_a_finer_grid_within_tolerance(monkeypatch, focal_mm, share):
    shape = (256, 256)
    cam = look_at_camera(*shape, [MOON_R, 0, 0], 200e3, focal_mm=focal_mm, pitch_mm=0.01, sun_dir=(1.0, 0.6, 0.2))
    exact = pixel_angles(cam, shape, step=1)
    evaluated = []
    original = illumination._exact_cosines

    def counting(camera, lines, samples):
        evaluated.append(np.size(lines))
        return original(camera, lines, samples)

    monkeypatch.setattr(illumination, "_exact_cosines", counting)
    fast = pixel_angles(cam, shape, step=8)
    assert sum(evaluated) < share * shape[0] * shape[1]  # not pixel by pixel
    assert np.array_equal(fast[3], exact[3])
    usable = exact[3] & (exact[1] < np.radians(80.0))
    for a, b in zip(fast[:3], exact[:3], strict=True):
        assert np.abs(np.cos(a) - np.cos(b))[usable].max() < 5e-5  # what photometry uses
        away = usable & (b > np.radians(5.0))
        assert np.degrees(np.abs(a - b)[away]).max(initial=0.0) < 1e-2
        assert np.degrees(np.abs(a - b)[usable]).max() < 0.3  # near 0, where arccos is steep
