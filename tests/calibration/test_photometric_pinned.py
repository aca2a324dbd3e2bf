"""A Hapke parameter the data cannot tell from its bound is held there (issue 20, the smooth Hapke survey).

A smooth surface (mean roughness slope theta = 0) fitted with Hapke (w, theta) free: the
roughness terms change the law only to second order in theta near 0, so theta runs to its
bound with an unbounded uncertainty and the candidate is undetermined; the fit then holds
theta at 0 and refits w, which the data determine. Truth: the rendering law of
``tests.calibration.photometric_survey.render``.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.calibration.hapke import LROC_HAPKE_643NM, hapke_lroc
from pipeline.calibration.photometric_candidates import fit_candidate, pinned_law
from pipeline.calibration.photometric_fit import fit_photometry, prepare_observations
from pipeline.calibration.photometric_laws import hapke_law
from tests.calibration.photometric_survey import render

SMOOTH = LROC_HAPKE_643NM.replace(w=0.3, theta=0.0)
ROUGH = LROC_HAPKE_643NM.replace(w=0.25, theta=np.radians(18.0))
STANDARD = tuple(np.radians([30.0, 0.0, 30.0]))


def _survey(params):
    return render(lambda i, e, g: hapke_lroc(i, e, g, params))


def _candidate(s, law):
    obs = prepare_observations(s.iof, s.incidence, s.emission, s.phase, s.frame, s.cell, None)
    return fit_candidate(obs, law, STANDARD)


def test_smooth_surface_runs_theta_into_its_bound_and_is_then_fitted_with_theta_held():
    s = _survey(SMOOTH)
    free = _candidate(s, hapke_law(("w", "theta")))
    assert not free.constrained and "theta" in free.why  # the cause: theta undetermined near 0
    pinned = pinned_law(free)
    assert pinned is not None and pinned.parameter_names == ("w",) and pinned.pinned == ("theta",)
    assert pinned.base.theta == 0.0 and pinned.label == "hapke (w; theta = 0.00 deg at its bound)"
    fit = fit_photometry(s.iof, s.incidence, s.emission, s.phase, s.frame, s.cell, model=hapke_law(("w", "theta")),
                         systematic=0.0, jackknife=False)
    assert fit.constrained and fit.model == "hapke" and fit.law.pinned == ("theta",), fit.message
    assert [c[0] for c in fit.candidates] == ["hapke (w, theta)", "hapke (w; theta = 0.00 deg at its bound)"]
    assert 0 < fit.uncertainties[0] < 0.01
    assert fit.parameters[0] == pytest.approx(0.3, abs=3 * fit.uncertainties[0])
    assert "theta = 0.00 deg (held at its bound)" in fit.message
    assert abs(fit.incidence_slope_after) < 1.0


def test_a_determined_or_interior_fit_is_not_pinned():
    s = _survey(ROUGH)
    rough = _candidate(s, hapke_law(("w", "theta")))
    assert rough.constrained and pinned_law(rough) is None  # theta = 18 deg is well inside its range
    lunar = _candidate(s, hapke_law(("w",)))
    assert pinned_law(lunar) is None  # one free parameter: nothing left to fit after holding it
