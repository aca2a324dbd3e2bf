"""Scan borders and fiducial marks found from the pixels, against the film simulator's truth masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from pipeline.calibration.film import fiducial_marks, scan_border
from pipeline.ingestion import ingest
from pipeline.io import load_frame
from pipeline.simulation import FilmParams, film_frame, load_truth, simulate_survey
from pipeline.simulation.film import border_mask

ROOT = Path(__file__).resolve().parents[2]
EIGHT = np.ones((3, 3), bool)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    return ndimage.binary_dilation(mask, EIGHT, iterations=px) if px else mask


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """Two simulated film frames of 192^2 (dark marks, black skewed border) with their truth."""
    out = tmp_path_factory.mktemp("film") / "survey"
    simulate_survey(out, seed=21, n_strips=1, frames_per_strip=2, size=(192, 192), film=True, workers=1)
    truth = load_truth(out)
    return out, truth, {fid: truth.true_scene(fid).iof for fid in truth.frame_ids}


def test_simulated_film_frames_border_exact_and_every_mark_found(film):
    out, truth, _ = film
    for fid in truth.frame_ids:
        img = cv2.imread(str(out / f"{fid}.png"), cv2.IMREAD_UNCHANGED).astype(float)
        found = scan_border(img, margin_px=0)
        assert np.array_equal(found.mask, truth.border_mask(fid))  # pixel for pixel
        true_px = truth.frames[fid]["film"]["border_px"]
        for side, (a, b) in found.widths_px.items():  # the fitted skew is the simulated one
            assert a == pytest.approx(true_px[side][0], abs=0.6) and b == pytest.approx(true_px[side][1], abs=0.6)
        marks = fiducial_marks(img, found.mask, margin_px=1)
        fid_truth = truth.fiducial_mask(fid)
        assert not (fid_truth & ~marks.mask).any()  # every cross and notch pixel
        assert not (marks.mask & ~grow(fid_truth, 1)).any()  # nothing beyond the 1-pixel margin
        assert marks.polarity == "dark"
        assert marks.crosses.any() and marks.notches.any()
        assert not (marks.notches & ~grow(fid_truth, 1)).any()


VARIANTS = {
    "skewed": ({"border_fraction": (0.01, 0.08)}, {}),
    "grey border": ({"border_dn": 40}, {}),
    "bright marks": ({"polarity": "bright"}, {}),
    "white border, bright marks": ({"border_dn": 255, "polarity": "bright"}, {}),
    "noisy border": ({}, {"noise_dn": 2}),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_real_looking_variants(film, name):
    """Skewed borders up to 8 %, non-zero constant (grey, white) borders, bright marks, a
    border with scanner noise (found with border_tolerance 2 DN)."""
    _, truth, scenes = film
    params, extra = VARIANTS[name]
    tol = float(extra.get("noise_dn", 0))
    missed = extra_px = marks_px = 0
    for seed, fid in enumerate(truth.frame_ids * 2):
        ff = film_frame(scenes[fid], FilmParams(**params), np.random.default_rng(seed))
        img = ff.data.astype(float)
        if tol:
            noise = np.random.default_rng(seed + 100).integers(0, int(tol) + 1, img.shape)
            img = np.where(ff.border, np.clip(img + noise, 0, 255), img)
        found = scan_border(img, tolerance=tol, margin_px=1)
        assert not (ff.border & ~found.mask).any(), name  # the whole border
        assert (found.mask & ~grow(ff.border, 1)).sum() <= 0.0005 * img.size, name  # and only its margin more
        marks = fiducial_marks(img, found.mask, margin_px=1)
        missed += int((ff.fiducials & ~marks.mask & ~found.mask).sum())
        marks_px += int(ff.fiducials.sum())
        extra_px += int((marks.mask & ~grow(ff.fiducials, 1)).sum())
        assert marks.polarity == params.get("polarity", "dark")
    n_px = 4 * 192 * 192
    assert missed <= 0.03 * marks_px, (name, missed, marks_px)  # >= 97 % of the mark pixels
    assert extra_px <= 0.006 * n_px, (name, extra_px)  # <= 0.6 % of the frame wrongly masked


def test_synthetic_skewed_border_widths_and_non_borders():
    rng = np.random.default_rng(3)
    img = 50 + 100 * rng.random((120, 160))
    widths = {"top": (3.0, 9.5), "bottom": (6.2, 2.0), "left": (4.0, 4.0), "right": (11.0, 5.5)}
    truth = border_mask(img.shape, widths)
    img[truth] = 17.0
    found = scan_border(img, margin_px=0)
    assert np.array_equal(found.mask, truth)
    assert found.values == {side: 17.0 for side in widths}
    for side, (a, b) in widths.items():
        assert found.widths_px[side] == pytest.approx((a, b), abs=0.6)
    # a flat image, a single constant first line, a noisy frame: no border
    assert not scan_border(np.full((40, 40), 9.0)).found
    ramp = np.tile(np.arange(40.0)[:, None], (1, 40))
    assert not scan_border(ramp).found
    assert not scan_border(rng.normal(100, 3, (64, 64))).found


def test_no_border_on_the_raw_detector_frames_of_the_sample():
    """Every sample frame (PDS3, PDS4, FITS, TIFF, 16-bit raw DN) is not film and has no border:
    raw detector frames keep all their pixels even with ``calibration.masking.scan_border: all``."""
    found = ingest(ROOT / "sample_images")
    assert len(found.frames) == 18
    for frame in found.frames:
        assert frame.meta.extra["film"] is False
        assert not scan_border(load_frame(frame).data).found, frame.id


def test_bad_arguments():
    with pytest.raises(ValueError, match="2-D"):
        scan_border(np.zeros(5))
    with pytest.raises(ValueError, match="polarity"):
        fiducial_marks(np.zeros((8, 8)), polarity="grey")
