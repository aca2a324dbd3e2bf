"""Frames that lie quietly are caught and the mosaic is made without them (issue 17).

The session survey (2 strips x 3 frames) is copied and one frame is made a liar: random bytes
under its valid PDS4 label (every reader accepts it; only the overlaps show it is not the
surface), or all zero (a valid product that is no picture). The run rejects exactly that frame
with the reason and the mosaic's level is what the five honest frames make.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rasterio

from pipeline.orchestration import run
from tests.conftest import small_config

pytestmark = pytest.mark.slow

LIAR = "FS_S0_F01"  # a PDS4 product: FS_S0_F01.xml + FS_S0_F01.img


@pytest.fixture(scope="module")
def honest(survey, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("honest")
    result = run(survey, tmp / "m.tif", calibration=survey / "calibration", config=small_config(tmp), report=False)
    with rasterio.open(result.out) as ds:
        return float(np.nanmedian(ds.read(1)))


def _lying_copy(survey, tmp_path, how):
    frames = tmp_path / "frames"
    shutil.copytree(survey, frames)
    data = frames / f"{LIAR}.img"
    raw = data.read_bytes()
    if how == "noise":
        data.write_bytes(np.random.default_rng(3).integers(0, 256, len(raw), dtype=np.uint8).tobytes())
    else:
        data.write_bytes(bytes(len(raw)))
    return frames


@pytest.mark.parametrize(("how", "stage", "why"), [("noise", "crosscheck", "agree with none"),
                                                  ("zero", "calibrate", "every valid pixel is 0")])
def test_a_lying_frame_is_rejected_and_the_mosaic_made_without_it(survey, tmp_path, honest, how, stage, why):
    frames = _lying_copy(survey, tmp_path, how)
    result = run(frames, tmp_path / "m.tif", calibration=frames / "calibration", config=small_config(tmp_path),
                 report=False)
    (failure,) = result.failures
    assert failure.path.stem == LIAR and failure.stage == stage and why in failure.reason
    with rasterio.open(result.out) as ds:
        median = float(np.nanmedian(ds.read(1)))
    # the other frames set the level (an all-zero frame once dragged it from 0.070 to 0.015)
    assert median == pytest.approx(honest, rel=0.05)
