"""The QA report of a real run on a small generated survey (with the top_index band): the
misregistration it reports, checked against the simulator's true cameras and against the
reported (unadjusted) pointing."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pipeline.orchestration import run
from pipeline.orchestration.qa import report_data, tie_observations
from pipeline.report.misregistration import ASP_THRESHOLD_PX, misregistration
from pipeline.simulation import load_truth
from tests.conftest import small_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seam_run(survey, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seamrun")
    cfg = small_config(tmp, mosaicking={"extra_bands": ["count", "top_index"]})
    result = run(survey, tmp / "mosaic.tif", calibration=survey / "calibration", config=cfg)
    return result, report_data(result), load_truth(survey)


def test_observations_carry_the_adjustment_residuals(seam_run):
    """The residual vectors' lengths are the network's residual_after_px of the same rows."""
    result, data, _ = seam_run
    net = result.registration.network
    keep = ~np.asarray(net.outlier, bool) & ~np.asarray(net.control, bool)
    obs = data.tie_observations
    assert len(obs) == int(keep.sum()) > 100
    np.testing.assert_allclose(np.hypot(*obs.residual_px.T), np.asarray(net.residual_after_px)[keep],
                               rtol=1e-6, atol=1e-6)
    assert [f.mosaic_index for f in data.frames] == list(range(len(result.plan.frames)))
    assert data.pixel_size_m == result.plan.grid.resolution


def test_misregistration_small_after_adjustment_large_before(seam_run):
    """Adjusted cameras pass ASP's criterion; the same tie points through the true cameras
    disagree even less (matching noise only); through the reported pointing they disagree
    several times more, and frames fail."""
    result, data, truth = seam_run
    pixel = result.plan.grid.resolution
    net = result.registration.network
    adjusted = misregistration(data.tie_observations, pixel)
    true = misregistration(tie_observations(net, truth.true_cameras), pixel)
    reported = misregistration(tie_observations(net, {f.id: f.camera for f in result.plan.frames}), pixel)

    def p85(m):
        return np.array([m.px(f.offsets.at(85)) for f in m.frames])

    assert adjusted.failing == ()
    assert p85(adjusted).max() <= 1.0, p85(adjusted)
    assert np.median(p85(true)) <= np.median(p85(adjusted)) + 0.1
    assert np.median(p85(reported)) >= 5 * np.median(p85(adjusted)), (p85(reported), p85(adjusted))
    assert p85(reported).max() > ASP_THRESHOLD_PX and reported.failing


def test_page_shows_seam_map_and_numbers(seam_run):
    result, data, _ = seam_run
    text = result.report.read_text()
    seams = re.search(r'<section id="seams">(.*?)</section>', text, re.DOTALL).group(1)
    assert 'alt="seam map"' in seams and 'id="seam-table"' in seams
    assert f'id="misregistered-frames">All {len(data.frames)} frame(s)' in seams
    assert 'alt="residual vectors"' in text
    assert len(re.findall(r"data-seam=", seams)) >= len(data.frames) - 1  # a connected survey
