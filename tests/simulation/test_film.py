"""Film-like surveys: 8-bit PNG + ISD only, scan borders, fiducials, grain, and their truth masks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.geometry import FrameCamera
from pipeline.simulation import FilmParams, film_frame, load_truth, main_simulate, simulate_survey
from pipeline.simulation.film import fiducial_mask, reseau_positions

FILM = {"seed": 21, "n_strips": 2, "frames_per_strip": 2, "size": (128, 128), "film": True, "workers": 1}


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    out = tmp_path_factory.mktemp("film") / "survey"
    simulate_survey(out, **FILM)
    return out, load_truth(out)


def _png(out, fid):
    return cv2.imread(str(out / f"{fid}.png"), cv2.IMREAD_UNCHANGED)


def test_files_are_png8_with_isd_sidecars_and_nothing_else(film):
    out, truth = film
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert names == sorted([f"{fid}.{ext}" for fid in truth.frame_ids for ext in ("png", "json")])
    assert not (out / "calibration").exists()
    assert not (out / "truth" / "detector.json").exists() and truth.detector is None
    for fid in truth.frame_ids:
        img = _png(out, fid)
        assert img.dtype == np.uint8 and img.shape == (128, 128)
        side = json.loads((out / f"{fid}.json").read_text())
        assert not {"exposure_duration", "frame_type", "start_time"} & set(side)
        assert FrameCamera.from_file(out / f"{fid}.json").shape == (128, 128)
        assert "defects" not in truth.frames[fid]  # no cosmic rays, no detector
    assert truth.survey["pipeline_config"]["calibration"]["cosmic_rays"] is False


def test_border_and_fiducial_masks_match_the_pixels(film):
    out, truth = film
    p = FilmParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in truth.survey["film"]["params"].items()})
    for fid in truth.frame_ids:
        img = _png(out, fid).astype(int)
        border, fid_mask = truth.border_mask(fid), truth.fiducial_mask(fid)
        assert border.any() and fid_mask.any() and not (border & fid_mask).any()
        assert np.all(img[border] == p.border_dn)  # constant-valued scan border
        image = ~border & ~fid_mask
        assert np.all(img[image] > p.border_dn)  # nothing else is border-black
        # the marks are dark, well below the image around them
        ring = cv2.dilate(fid_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & image
        assert np.median(img[fid_mask]) <= p.dark_dn + 2 and np.median(img[ring]) > 3 * p.dark_dn
        # each side's border is a band whose width is the recorded one (linear along the side)
        bp = truth.frames[fid]["film"]["border_px"]
        for j in (40, 88):
            a, b = bp["top"]
            assert int(border[:64, j].sum()) == int(np.ceil(a + (b - a) * (j + 0.5) / 128 - 0.5))
            a, b = bp["left"]
            assert int(border[j, :64].sum()) == int(np.ceil(a + (b - a) * (j + 0.5) / 128 - 0.5))
    # fixed reseau: the same crosses in every frame, centred on the recorded positions
    centres = np.asarray(truth.survey["film"]["reseau_line_sample"])
    assert len(centres) == 25
    for fid in truth.frame_ids:
        fm = truth.fiducial_mask(fid)
        assert all(fm[int(c[0]), int(c[1])] for c in centres)


def test_tone_is_linear_in_iof_with_the_recorded_gain(film):
    out, truth = film
    fid = truth.frame_ids[2]
    img = _png(out, fid).astype(float)
    iof = truth.true_scene(fid).iof
    keep = ~truth.border_mask(fid) & ~truth.fiducial_mask(fid) & (img < 250)
    slope, intercept = np.polyfit(iof[keep], img[keep], 1)
    rec = truth.frames[fid]["film"]
    assert slope == pytest.approx(rec["gain_dn_per_iof"], rel=0.02)
    assert intercept == pytest.approx(rec["fog_dn"], abs=1.0)
    resid = img[keep] - (rec["fog_dn"] + rec["gain_dn_per_iof"] * iof[keep])
    assert 1.0 < np.std(resid) < 4.0  # film grain of a couple of DN (plus quantisation)


def test_bright_fiducials_and_the_frame_function():
    rng = np.random.default_rng(1)
    p = FilmParams(polarity="bright", reseau_grid=(3, 3))
    f = film_frame(np.full((96, 96), 0.08), p, rng)
    assert np.median(f.data[f.fiducials]) >= p.bright_dn - 3
    assert np.all(f.data[f.border] == p.border_dn)
    assert len(reseau_positions((96, 96), p)) == 9
    # notches reach beyond the widest border, so they always show
    m = fiducial_mask((96, 96), p)
    widest = p.border_fraction[1] * 96  # 5.76 px; the notch tip is 2.9 px further in
    row = int(np.ceil(widest))  # pixel centre 6.5 px from the edge, beyond any border
    assert m[row, 48] and m[48, row] and m[95 - row, 48] and m[48, 95 - row] and not m[row + 3, 48]
    with pytest.raises(ValueError, match="polarity"):
        FilmParams(polarity="grey")


def test_cli_writes_a_film_survey(tmp_path):
    out = tmp_path / "cli"
    assert main_simulate([str(out), "--film", "--film-polarity", "bright", "--strips", "1", "--frames-per-strip",
                          "2", "--size", "64", "--seed", "2"]) == 0
    truth = load_truth(out)
    assert truth.survey["film"]["params"]["polarity"] == "bright"
    assert sorted(p.suffix for p in out.glob("FS_*")) == [".json", ".json", ".png", ".png"]
