"""The photometric fit recovers the law a synthetic survey was rendered with (see photometric_survey.py).

"Within its reported uncertainty" is checked at 3 sigma, and the uncertainty itself must be
small, so a test cannot pass by reporting a huge one.
"""

import doctest

import numpy as np
import pytest

from pipeline.calibration import photometric_fit as fit_module
from pipeline.calibration import photometric_laws as laws_module
from pipeline.calibration.hapke import LROC_HAPKE_643NM, hapke_lroc
from pipeline.calibration.photometric_fit import HAPKE_SUBSETS, fit_photometry
from pipeline.calibration.photometric_laws import hapke_law, lunar_lambert_law
from pipeline.calibration.photometry import (
    lommel_seeliger,
    lunar_lambert,
    normalisation_factor,
)
from pipeline.errors import PhotometricModelError
from pipeline.geometry.reflectance import lunar_lambert_l
from tests.calibration.photometric_survey import render, survey_geometry

HAPKE_TRUTH = LROC_HAPKE_643NM.replace(w=0.25, theta=np.radians(18.0))


def _hapke(i, e, g):
    return hapke_lroc(i, e, g, HAPKE_TRUTH)


def _constant_l(weight):
    return lambda i, e, g: lunar_lambert(i, e, g, weight=weight)


def _fit(s, **kw):
    # statistical choice and uncertainties (the floor and the jackknife: test_photometric_floor.py)
    kw.setdefault("systematic", 0.0)
    kw.setdefault("jackknife", False)
    return fit_photometry(s.iof, s.incidence, s.emission, s.phase, s.frame, s.cell, **kw)


def _check_equalisation(fit, s):
    assert fit.incidence_slope_after == pytest.approx(0.0, abs=1.0)  # % per 10 deg
    assert fit.overlap_rms_after < 0.012  # 1 % noise per view
    assert np.abs(fit.gains - s.gains).max() < 0.02  # true gains spread 5 %
    assert np.abs(fit.offsets - s.offsets).max() < 0.0015  # true offsets spread 0.002 I/F


def test_survey_geometry_is_realistic():
    inc, emi, _, frame, cell = survey_geometry()
    assert np.degrees(inc).min() < 32 and np.degrees(inc).max() > 78
    assert np.degrees(emi).max() == pytest.approx(45, abs=6)
    views = np.bincount(cell)
    assert frame.max() + 1 == 20 and np.mean(views >= 2) > 0.7 and views.max() >= 4


@pytest.mark.parametrize("weight", [0.3, 0.6, 0.9])
def test_constant_lunar_lambert_l_is_recovered(weight):
    s = render(_constant_l(weight))
    fit = _fit(s, model="lunar_lambert_constant")
    assert fit.constrained and fit.model == "lunar_lambert" and fit.parameter_names == ("L0",)
    assert 0 < fit.uncertainties[0] < 0.005
    assert abs(fit.parameters[0] - weight) < 3 * fit.uncertainties[0]
    _check_equalisation(fit, s)


def test_lommel_seeliger_is_lunar_lambert_with_l_one():
    s = render(lommel_seeliger)
    fit = _fit(s, model="lunar_lambert_constant")
    assert fit.constrained and 0 < fit.uncertainties[0] < 0.005
    assert abs(fit.parameters[0] - 1.0) < 3 * fit.uncertainties[0]
    assert abs(fit.incidence_slope_before) > 1.0  # the default McEwen law leaves a gradient
    _check_equalisation(fit, s)


def test_mcewen_l_of_phase_is_recovered_as_a_curve():
    s = render(lunar_lambert)  # McEwen's L(phase), a cubic in phase
    fit = _fit(s, model=lunar_lambert_law(3, s.phase))  # (auto's choice of order: the test below)
    assert fit.constrained and fit.model == "lunar_lambert" and len(fit.parameters) == 4
    phase = np.radians([15.0, 30.0, 50.0, 70.0, 90.0, 110.0])
    ell, sigma = fit.lunar_lambert_l(phase)
    assert np.all(sigma > 0) and np.all(sigma < 0.01)
    assert np.all(np.abs(ell - lunar_lambert_l(phase)) < 3 * sigma)
    _check_equalisation(fit, s)


def test_hapke_subset_is_recovered():
    s = render(_hapke)
    fit = _fit(s, model=hapke_law(("w", "theta"), base=HAPKE_TRUTH.replace(w=0.38, theta=np.radians(25.0))))
    assert fit.constrained and fit.model == "hapke" and fit.parameter_names == ("w", "theta")
    w, theta = fit.parameters
    sw, st = fit.uncertainties
    assert 0 < sw < 0.01 and 0 < st < np.radians(0.5)
    assert abs(w - 0.25) < 3 * sw and abs(theta - np.radians(18.0)) < 3 * st
    _check_equalisation(fit, s)


@pytest.mark.parametrize(
    ("law", "expected"),
    [
        (lommel_seeliger, "lunar_lambert"),
        (_constant_l(0.5), "lunar_lambert"),
        (lunar_lambert, "lunar_lambert"),
        (_hapke, "hapke"),
    ],
    ids=["lommel_seeliger", "lunar_lambert_0.5", "mcewen", "hapke"],
)
def test_auto_chooses_the_rendering_family_and_flattens_the_survey(law, expected):
    s = render(law, cell_deg=0.15)
    fit = _fit(s)  # model="auto"
    assert fit.constrained and fit.model == expected, fit.message
    # 4 lunar-Lambert orders and the Hapke subsets, each refitted with theta held at 0 where it ran
    # into that bound
    pinned = sum("at its bound" in c[0] for c in fit.candidates)
    assert len(fit.candidates) == 4 + len(HAPKE_SUBSETS) + pinned, fit.candidates
    assert "lowest BIC" in fit.message
    assert abs(fit.incidence_slope_after) < 1.0
    # normalised brightness per cell against the true albedo
    norm = fit.normalise(s.iof, s.incidence, s.emission, s.phase, s.frame)
    seen = np.bincount(s.cell, minlength=s.albedo.size) > 0
    per_cell = (
        np.bincount(s.cell, norm, s.albedo.size)[seen] / np.bincount(s.cell, minlength=s.albedo.size)[seen]
    )
    assert np.corrcoef(per_cell, s.albedo[seen])[0, 1] > 0.995
    if expected == "lunar_lambert":  # a constant L needs no phase terms, McEwen's cubic all
        assert fit.parameter_names == (("L0", "L1", "L2", "L3") if law is lunar_lambert else ("L0",))


def test_one_geometry_falls_back_to_mcewen_and_says_so():
    s = render(_constant_l(0.5))
    n = s.iof.size
    inc, emi, pha = np.full(n, np.radians(50.0)), np.full(n, np.radians(10.0)), np.full(n, np.radians(45.0))
    rng = np.random.default_rng(1)
    iof = s.gains[s.frame] * s.albedo[s.cell] * 0.3 * (1 + 0.01 * rng.standard_normal(n))
    fit = fit_photometry(iof, inc, emi, pha, s.frame, s.cell, fit_offsets=False)
    assert not fit.constrained and fit.model == "lunar_lambert_mcewen"
    assert "do not constrain" in fit.message and "McEwen" in fit.message
    assert fit.parameters.size == 0 and fit.candidates == ()
    assert np.abs(fit.gains - s.gains).max() < 0.01  # the equalisation is still fitted
    assert fit.photometric_function()(inc[:1], emi[:1], pha[:1]) == pytest.approx(
        lunar_lambert(inc[:1], emi[:1], pha[:1])
    )


def test_unconstrained_law_falls_back():
    # two frames with (almost) the same geometry pattern: L is barely constrained
    s = render(_constant_l(0.5), n_strips=1, frames_per_strip=2, half_width_deg=0.15, cell_deg=0.05)
    fit = _fit(s, model="lunar_lambert_constant")
    assert not fit.constrained and "uncertainty L0" in fit.message


def test_fitted_law_plugs_into_the_normalisation():
    s = render(_constant_l(0.6))
    fit = _fit(s, model="lunar_lambert_constant")
    f = fit.photometric_function()
    i, e, g = np.radians([40.0, 70.0]), np.radians([10.0, 30.0]), np.radians([45.0, 80.0])
    assert f(i, e, g) == pytest.approx(lunar_lambert(i, e, g, weight=float(fit.parameters[0])))
    factor = normalisation_factor(i, e, g, f)
    assert factor == pytest.approx(f(*np.radians([30.0, 0.0, 30.0])) / f(i, e, g))


def test_subsampling_is_deterministic_and_keeps_the_answer():
    s = render(_constant_l(0.6))
    a = _fit(s, model="lunar_lambert_constant", max_observations=5000)
    b = _fit(s, model="lunar_lambert_constant", max_observations=5000)
    full = _fit(s, model="lunar_lambert_constant")
    assert a.n_observations <= 5000 < full.n_observations
    assert np.array_equal(a.parameters, b.parameters) and np.array_equal(a.gains, b.gains)
    assert abs(a.parameters[0] - 0.6) < 3 * a.uncertainties[0]
    assert a.uncertainties[0] > full.uncertainties[0]


def test_weights_and_input_errors():
    s = render(_constant_l(0.6), cell_deg=0.15)
    w = np.ones(s.iof.size)
    w[::7] = 0.0  # zero weight drops an observation
    fit = _fit(s, model="lunar_lambert_constant", weight=w)
    assert fit.n_observations == int((w > 0).sum())
    with pytest.raises(PhotometricModelError, match="one length"):
        fit_photometry(s.iof[:-1], s.incidence, s.emission, s.phase, s.frame, s.cell)
    with pytest.raises(PhotometricModelError, match="unknown model"):
        _fit(s, model="minnaert")
    single = np.arange(s.iof.size)  # every cell seen once
    with pytest.raises(PhotometricModelError, match="seen twice"):
        fit_photometry(
            s.iof, s.incidence, s.emission, s.phase, s.frame, single, model="lunar_lambert_constant"
        )


def test_docstring_examples_run():
    for module in (fit_module, laws_module):
        failed, tried = doctest.testmod(module)
        assert tried > 0 and failed == 0, module.__name__
