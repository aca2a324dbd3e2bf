"""Small frames and small overlaps tie (issue 21): 128^2 and 256^2 frames at 20-30 % overlap.

Surveys come from the simulation package's planner with the small-frame presets' wobble limit
(``max_wobble_shift``, :data:`pipeline.simulation.presets.SMALL_FRAME_WOBBLE_SHIFT`), fewer
frames than the presets (a few dozen) so that each test takes seconds, rendered in memory
(``render_iof`` through the true cameras) plus Gaussian noise; the reported cameras carry
pointing errors of 0.1-0.3 deg per axis. Every frame must be tied into one network and the
adjusted cameras must agree with the truth to 0.3 px (90th percentile): at seams (two frames
placing the same ground) and per frame after removing the network's common rigid motion.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import api
from pipeline.config import Config, RunParams
from pipeline.geometry.overlap import overlap_pairs
from pipeline.registration import match_pair
from pipeline.registration.params import RegistrationParams
from pipeline.simulation.presets import survey_preset
from tests.registration.helpers import rigid_misregistration_px, seam_misregistration_px
from tests.registration.small_surveys import small_survey


@pytest.mark.parametrize(
    ("preset", "n", "overlap", "seed"),
    [("small_128", 6, 0.20, 3), ("small_128", 6, 0.30, 4), ("small_256", 4, 0.20, 5), ("small_256", 4, 0.30, 6)],
)
def test_every_small_frame_tied_subpixel(preset, n, overlap, seed):
    survey = small_survey(preset, n_strips=n, frames_per_strip=n, overlap=overlap, seed=seed)
    assert np.percentile(seam_misregistration_px(survey.true, survey.reported), 90) > 2.0  # errors visible before
    cfg = Config(registration=RegistrationParams(points="surface"), run=RunParams(seed=0))
    result = api.register(survey.frames, cfg)
    st = result.stats
    assert st.n_tied == len(survey.frames) == n * n, result.status
    assert st.n_components == 1
    assert all(s.status == "tied" for s in result.status.values())
    seam = seam_misregistration_px(survey.true, result.cameras)
    rigid, _translation, _twist = rigid_misregistration_px(survey.true, result.cameras)
    assert np.percentile(seam, 90) <= 0.3, np.percentile(seam, 90)
    assert np.percentile(rigid, 90) <= 0.3, np.percentile(rigid, 90)


def test_side_neighbours_of_128px_frames_tie_at_20_percent(small_128_survey):
    """Every pair of along- or across-track neighbours (overlap 15-25 % of a 128 px frame,
    i.e. a strip 19-32 px wide) yields tie points that agree with the truth."""
    survey = small_128_survey
    cfg = RegistrationParams(points="surface")
    pairs = [p for p in overlap_pairs([f.camera for f in survey.frames], min_fraction=cfg.min_overlap_fraction)
             if p.fraction >= 0.1]
    assert len(pairs) >= 2 * 6 * 5  # the side neighbours of a 6 x 6 survey
    errors = []
    for p in pairs:
        m = match_pair(survey.frames[p.i], survey.frames[p.j], p, cfg, seed=0)
        assert m.ok, (p, m.reason)
        assert len(m) >= cfg.min_matches
        ti, tj = survey.true[m.id_i], survey.true[m.id_j]
        line, sample = tj.ground_to_image(ti.image_to_ground(m.img_i[:, 0], m.img_i[:, 1]))
        errors.append(np.hypot(line - m.img_j[:, 0], sample - m.img_j[:, 1]))
    err = np.concatenate(errors)
    assert np.median(err) < 0.1 and np.percentile(err, 90) < 0.3, (np.median(err), np.percentile(err, 90))


def test_small_survey_follows_the_preset():
    survey = small_survey("small_128", n_strips=2, frames_per_strip=2, overlap=0.25, seed=1)
    assert len(survey.frames) == 4
    assert all(f.data.shape == tuple(survey_preset("small_128")["size"]) for f in survey.frames)


@pytest.fixture(scope="module")
def small_128_survey():
    return small_survey("small_128", n_strips=6, frames_per_strip=6, overlap=0.20, seed=3)
