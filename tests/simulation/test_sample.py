"""The committed sample (sample_images/): complete, small, and consistent with its truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.simulation import coverage_fraction, load_truth

SAMPLE = Path(__file__).resolve().parents[2] / "sample_images"


@pytest.fixture(scope="module")
def truth():
    if not (SAMPLE / "truth" / "survey.json").is_file():
        pytest.skip("sample_images/ not generated (make sample)")
    return load_truth(SAMPLE)


def test_sample_is_complete_and_small(truth):
    survey = truth.survey
    for rel in survey["files"]:
        assert (SAMPLE / rel).is_file(), rel
    assert (SAMPLE / "README.md").is_file()
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 8 * 1024**2
    assert len(truth.frames) == 18 and len(truth.calibration) == 15
    pairs = {(f["format"], f["byte_order"]) for f in truth.frames.values()}
    wanted = {("pds3", "MSB"), ("pds3", "LSB"), ("pds4", "MSB"), ("pds4", "LSB"), ("fits", "MSB"), ("tiff", "MSB")}
    assert wanted <= pairs


def test_sample_geometry(truth):
    plan = truth.survey["plan"]
    lon0, lon1, _, _ = plan["region_deg"]
    assert lon0 < 180 < lon1
    assert coverage_fraction(truth.true_cameras.values(), plan["region_deg"]) > 0.99
    for fid, cam in truth.true_cameras.items():
        assert cam.shape == (320, 320)
        side = json.loads((SAMPLE / f"{fid}.json").read_text())
        assert side["image_identifier"] == fid
        # the sidecar camera is the reported one, not the truth
        assert not np.allclose(truth.reported_cameras[fid].position_m, cam.position_m, atol=1.0)


def test_sample_defects_and_saturation(truth):
    frames = truth.frames.values()
    assert sum(len(f["defects"]["cosmic_rays"]) for f in frames) >= 18
    assert sum(len(f["defects"]["saturated"]) > 0 for f in frames) >= 2  # a few saturated spots
    assert len(truth.detector.hot) > 10 and len(truth.detector.dead) > 10
