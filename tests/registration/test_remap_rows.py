"""remap_rows: cv2.remap for maps and images past OpenCV's 32767-row limit, block by block."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.registration import areawindow
from pipeline.registration.areawindow import remap_rows


def maps(rows: int, cols: int, src_rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    r = np.linspace(-5, src_rows + 5, rows, dtype=np.float32)[:, None]
    r = r + rng.normal(0, 2, (rows, cols)).astype(np.float32)
    c = np.broadcast_to(np.linspace(-3, 40, cols, dtype=np.float32), (rows, cols)).copy()
    return c, r


@pytest.mark.parametrize("interp, border", [(cv2.INTER_CUBIC, 0.0), (cv2.INTER_LINEAR, 1.0)])
def test_blocks_give_the_result_of_one_call(monkeypatch, interp, border):
    img = np.random.default_rng(1).random((900, 37)).astype(np.float32)
    mx, my = maps(1000, 20, 900)
    whole = cv2.remap(img, mx, my, interp, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    monkeypatch.setattr(areawindow, "_REMAP_LIMIT", 100)  # force the block path on a small case
    monkeypatch.setattr(areawindow, "_REMAP_ROWS", 64)
    assert np.array_equal(remap_rows(img, mx, my, interp, border), whole)


def test_past_opencvs_limit():
    # 300 patches of 130 x 130 stacked in one map: 39,000 rows, more than cv2.remap takes
    img = np.random.default_rng(2).random((200, 150)).astype(np.float32)
    mx, my = maps(39000, 130, 200)
    with pytest.raises(cv2.error):
        cv2.remap(img, mx, my, cv2.INTER_LINEAR)
    out = remap_rows(img, mx, my, cv2.INTER_LINEAR, 0.0)
    head = cv2.remap(img, mx[:20000], my[:20000], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    assert out.shape == (39000, 130) and np.array_equal(out[:20000], head)
