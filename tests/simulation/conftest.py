"""Fixtures of the simulation tests: one small simulated survey shared by the module tests."""

from __future__ import annotations

import pytest

from pipeline.simulation import Surface, simulate_survey
from tests.simulation.helpers import SMALL


@pytest.fixture(scope="session")
def small_survey(tmp_path_factory):
    """``(outdir, SurveyInfo)`` of the small survey, rendered once per session."""
    out = tmp_path_factory.mktemp("sim") / "survey"
    info = simulate_survey(out, **SMALL)
    return out, info


@pytest.fixture(scope="session")
def surface() -> Surface:
    return Surface(seed=3, region=(178.0, 182.0, -2.0, 2.0))
