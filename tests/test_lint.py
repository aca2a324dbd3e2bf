"""The code passes ruff with the project's rules (pyproject.toml's [tool.ruff]: pycodestyle,
pyflakes, import order, pydocstyle with the numpy convention, complexity)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_ruff_check_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' brings it)")
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "pipeline", "tests", "bench"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, f"ruff check found problems:\n{out.stdout}\n{out.stderr}"
