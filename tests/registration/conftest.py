"""Shared synthetic surveys for the registration tests (built once per session)."""

from __future__ import annotations

import pytest

from pipeline.geometry.overlap import overlap_pairs
from pipeline.registration import match_pair
from pipeline.registration.params import RegistrationParams
from tests.registration.helpers import make_survey


@pytest.fixture(scope="session")
def cfg() -> RegistrationParams:
    # the synthetic surveys' world is the sphere: points on it (free points let this nadir network
    # of 3 x 3 frames float ~870 m above it, seams on the sphere 1.46 px p90; the default, auto,
    # finds no relief and solves on the sphere too: test_point_mode.py)
    return RegistrationParams(points="surface")


@pytest.fixture(scope="session")
def survey():
    """3 strips x 3 frames, pointing errors 0.1-0.3 deg per axis, no position errors."""
    return make_survey(error_deg=(0.1, 0.3), seed=0)


@pytest.fixture(scope="session")
def survey_matches(survey, cfg):
    pairs = overlap_pairs([f.camera for f in survey.frames], min_area_km2=cfg.min_overlap_km2,
                          min_fraction=cfg.min_overlap_fraction)
    return pairs, [match_pair(survey.frames[p.i], survey.frames[p.j], p, cfg, seed=0) for p in pairs]
