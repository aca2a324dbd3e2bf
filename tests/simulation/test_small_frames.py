"""Small frames (128^2, 256^2) at 20-30 % overlap: every frame overlaps its neighbours as planned."""

from __future__ import annotations

import time

import pytest

from pipeline.simulation import (
    PRESETS,
    load_truth,
    measure_overlaps,
    plan_survey,
    simulate_survey,
    survey_preset,
)
from pipeline.simulation.presets import SMALL_FRAME_WOBBLE_SHIFT


@pytest.mark.parametrize("size", [128, 256])
@pytest.mark.parametrize("overlap", [0.20, 0.30])
def test_small_frames_keep_their_planned_overlap(size, overlap):
    plan = plan_survey(seed=3, n_strips=6, frames_per_strip=6, size=(size, size), overlap_along=overlap,
                       overlap_across=overlap, max_wobble_shift=SMALL_FRAME_WOBBLE_SHIFT)
    along, across = measure_overlaps(plan, {f.id: plan.true_camera(f) for f in plan.frames})
    # measured on a 24 x 24 grid of each frame (1/24 = 0.04 steps), wobble shift <= 2 %
    assert min(along) >= overlap - 0.06 and max(along) <= overlap + 0.06
    assert min(across) >= overlap - 0.06 and max(across) <= overlap + 0.1


def test_the_default_wobble_breaks_small_frame_overlaps():
    """Why the option exists: a 15 % wobble on 128^2 frames at 20 % overlap leaves near-gaps."""
    plan = plan_survey(seed=3, n_strips=6, frames_per_strip=6, size=(128, 128), overlap_along=0.2,
                       overlap_across=0.2)
    along, across = measure_overlaps(plan, {f.id: plan.true_camera(f) for f in plan.frames})
    assert min(min(along), min(across)) < 0.1


def test_small_surveys_write_quickly(tmp_path):
    """36 frames of 128^2 (a corner of the small_128 preset) with their truth."""
    out = tmp_path / "small"
    info = simulate_survey(out, seed=5, **survey_preset("small_128", n_strips=6, frames_per_strip=6))
    assert len(info.frame_ids) == 36 and info.size == (128, 128) and info.coverage > 0.99
    assert info.overlap_along[0] >= 0.19 and info.overlap_across[0] >= 0.19
    assert info.overlap_along[1] <= 0.31 and not info.calibration_files
    truth = load_truth(out)
    assert truth.survey["max_wobble_shift"] == SMALL_FRAME_WOBBLE_SHIFT
    assert all(truth.true_cameras[f].shape == (128, 128) for f in truth.frame_ids)


@pytest.mark.slow
def test_a_few_hundred_small_frames(tmp_path):
    """The small_128 preset: 256 frames of 128^2, every one overlapping its neighbours."""
    t0 = time.perf_counter()
    info = simulate_survey(tmp_path / "s256", seed=6, **survey_preset("small_128"))
    elapsed = time.perf_counter() - t0
    assert len(info.frame_ids) == 256 == PRESETS["small_128"]["n_strips"] * PRESETS["small_128"]["frames_per_strip"]
    assert info.overlap_along[0] >= 0.19 and info.overlap_across[0] >= 0.19 and info.coverage > 0.99
    print(f"256 frames of 128^2 in {elapsed:.1f} s")  # informative only, never asserted
