"""Masters per detector: each light frame of a mixed survey gets its own detector's masters."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.calibration import MasterSet, build_master_set
from pipeline.calibration.params import CalibrationParams
from pipeline.errors import CalibrationError
from pipeline.frame import FrameType
from tests.calibration.helpers import make_frame

CFG = CalibrationParams()


def _set(rng, instrument, shape, bias_level, flat_cols=None, n=5):
    """Noise-free bias (``bias_level`` + a column pattern) and flats (``flat_cols`` across)."""
    cols = np.arange(shape[1])
    bias = bias_level + 0.01 * cols[None, :] + np.zeros(shape)
    flat = np.ones(shape) if flat_cols is None else np.broadcast_to(flat_cols, shape)
    frames = [make_frame(bias, 0.0, FrameType.BIAS, f"{instrument}_B{k}") for k in range(n)]
    frames += [make_frame(bias + 1000.0 * flat, 1.0, FrameType.FLAT, f"{instrument}_F{k}") for k in range(n)]
    return [dataclasses.replace(f, meta=dataclasses.replace(f.meta, instrument=instrument)) for f in frames]


def _light(shape, instrument, kind="frame", **camera):
    f = make_frame(np.zeros(shape), 1.0, name=f"L_{instrument}_{shape[0]}")
    return dataclasses.replace(f, meta=dataclasses.replace(f.meta, instrument=instrument),
                               camera=SimpleNamespace(kind=kind, **camera))


def test_each_detector_gets_its_own_masters(rng):
    flat_ls = np.linspace(0.8, 1.2, 64)
    frames = _set(rng, "FSC", (32, 32), 100.0) + _set(rng, "FSL", (200, 64), 300.0, flat_ls)
    ms = build_master_set(frames, CFG)
    assert [d.instrument for d in ms.detectors] == ["FSC", "FSL"] and not ms.rejected
    cam = ms.for_frame(_light((32, 32), "FSC"))
    assert cam.shape == (32, 32) and np.allclose(cam.bias[0, :3], [100.0, 100.01, 100.02])
    # a line-scan strip of another length: the per-column pattern on every line
    strip = ms.for_frame(_light((500, 64), "FSL", kind="line-scan"))
    assert strip.shape == (500, 64)
    assert np.allclose(strip.bias, 300.0 + 0.01 * np.arange(64)[None, :])
    assert np.allclose(strip.flat, flat_ls / np.median(flat_ls), rtol=1e-5)
    assert "line-scan: 200 x 64 -> 500 x 64" in strip.provenance["adapted"]


def test_push_frame_masters_repeat_their_framelet(rng):
    period = 10
    pattern = np.repeat(np.linspace(0.9, 1.1, period)[:, None], 48, axis=1)
    flat = np.tile(pattern, (4, 1))  # calibration strips of 4 framelets
    frames = _set(rng, "FSP", (40, 48), 200.0, flat)
    ms = build_master_set(frames, CFG)
    got = ms.for_frame(_light((70, 48), "FSP", kind="push-frame", framelet_height=12, num_lines_overlap=2,
                              line_summing=1.0))
    assert got.shape == (70, 48)
    want = np.tile(pattern, (7, 1))
    assert np.allclose(got.flat, want / np.median(flat), rtol=1e-5)


def test_frames_without_an_instrument_match_by_shape(rng):
    ms = build_master_set(_set(rng, "A", (16, 16), 10.0) + _set(rng, "B", (24, 16), 20.0), CFG)
    assert ms.for_frame(_light((24, 16), None)).bias[0, 0] == pytest.approx(20.0)
    assert ms.for_frame(_light((16, 16), "OTHER")).bias[0, 0] == pytest.approx(10.0)


def test_no_fitting_detector_is_a_clear_error(rng):
    ms = build_master_set(_set(rng, "A", (16, 16), 10.0) + _set(rng, "B", (24, 16), 20.0), CFG)
    with pytest.raises(CalibrationError, match=r"no calibration masters for this 30 x 30 px.*A \(16 x 16 px\), "
                                                r"B \(24 x 16 px\)"):
        ms.for_frame(_light((30, 30), "C"))
    # one detector: its masters (the calibration then names both shapes)
    one = build_master_set(_set(rng, "A", (16, 16), 10.0), CFG)
    assert one.for_frame(_light((30, 30), "C")).shape == (16, 16)
    assert MasterSet().for_frame(_light((30, 30), "C")).shape is None  # no calibration frames: defaults
