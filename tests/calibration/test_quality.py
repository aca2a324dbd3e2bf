"""Light frames that lie quietly are refused with the reason (issue 17)."""

import numpy as np
import pytest

from pipeline.calibration.quality import frame_defect


def test_pictures_pass(rng):
    assert frame_defect(rng.uniform(100, 200, (32, 32))) is None
    # a film scan: black border (0) around a picture is still a picture
    scan = np.zeros((64, 64))
    scan[8:-8, 8:-8] = rng.uniform(20, 200, (48, 48))
    assert frame_defect(scan) is None


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda r: np.zeros((32, 32)), "every valid pixel is 0"),
        (lambda r: np.full((32, 32), 7.0), "every valid pixel is 7"),
        (lambda r: np.where(r.uniform(size=(100, 100)) < 0.995, 0.0, 50.0), "% of the valid pixels are 0"),
        (lambda r: np.where(r.uniform(size=(100, 100)) < 0.995, 4095.0, 50.0), "saturated (>= 4095 DN)"),
        (lambda r: np.full((8, 8), np.nan), "no valid pixel"),
    ],
)
def test_frames_that_are_no_picture_are_named(rng, make, why):
    assert why in frame_defect(make(rng), saturation_dn=4095.0)


def test_masked_pixels_do_not_count(rng):
    data = rng.uniform(100, 200, (16, 16))
    mask = np.ones(data.shape, bool)
    mask[0, :2] = False
    data[0, :2] = 3.0
    assert frame_defect(data, mask) == "every valid pixel is 3"
