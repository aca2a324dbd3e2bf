"""Fixtures for the geometry tests: reference ISDs and small synthetic cameras."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pipeline.geometry import FrameCamera
from tests.geometry.helpers import REFERENCE, SIMPLE_FRAMER_ISD, require


@pytest.fixture
def simple_framer_isd() -> dict:
    return copy.deepcopy(SIMPLE_FRAMER_ISD)


@pytest.fixture
def simple_framer(simple_framer_isd) -> FrameCamera:
    return FrameCamera.from_isd(simple_framer_isd, source="simpleFramerISD.json")


@pytest.fixture
def usgscsm_dir() -> Path:
    return require(REFERENCE / "usgscsm")


@pytest.fixture
def ale_dir() -> Path:
    return require(REFERENCE / "ale-isds")
