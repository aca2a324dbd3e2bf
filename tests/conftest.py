"""Shared fixtures: paths to the project and to ../shared reference data."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference`` beside the project; skips the test when absent."""
    ref = SHARED / "reference"
    if not ref.is_dir():
        pytest.skip(f"reference data not found at {ref} (clone the project next to shared/)")
    return ref
