"""Shared fixtures: paths to the project and to ../shared reference data."""

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator for synthetic test data."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference`` beside the project; skips the test when absent."""
    ref = SHARED / "reference"
    if not ref.is_dir():
        pytest.skip(f"reference data not found at {ref} (clone the project next to shared/)")
    return ref


@pytest.fixture(scope="session")
def survey(tmp_path_factory) -> Path:
    """A small generated survey (2 strips x 3 frames of 192 px over 180 E, seed 7) with
    calibration frames and truth; made once per test session."""
    from pipeline.simulation import simulate_survey

    root = tmp_path_factory.mktemp("survey")
    simulate_survey(root, seed=7, n_strips=2, frames_per_strip=3, size=(192, 192))
    return root


def small_config(tmp: Path, **sections):
    """The default config with a synchronous scheduler, a work directory in ``tmp``, small
    tiles, and ``sections`` merged over it (``run={"scheduler": "threads"}``)."""
    from pipeline.config import load_config

    base = {"run": {"scheduler": "synchronous", "workdir": str(tmp / "work")}, "mosaicking": {"tile_size": 128}}
    for key, value in sections.items():
        base.setdefault(key, {}).update(value)
    return load_config(None, base)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test`` runs ``-n``, ``--dist loadgroup``): the ``cluster`` tests
    on one worker (they share one session's SLURM and dask cluster), and each ``slow`` module's
    tests on one worker, so its module-scoped survey runs are built once, not once per worker."""
    for item in items:
        if item.get_closest_marker("cluster") is not None:
            item.add_marker(pytest.mark.xdist_group("cluster"))
        elif item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
