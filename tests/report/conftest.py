"""Fixtures of the report tests."""

from __future__ import annotations

import pytest

from tests.report.helpers import find_chromium


@pytest.fixture(scope="module")
def chromium():
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium not installed (apt-get install -y chromium): browser render test skipped")
    return exe
