"""``ruff check pipeline tests bench`` is clean under the configuration in pyproject.toml."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The known remainder: files another branch is changing while this check was introduced (the
# relief work). They are linted once that branch is merged; the lead removes this exclusion then.
KNOWN_REMAINDER = (
    "bench/relief.py",
    "pipeline/api.py",
    "pipeline/geometry/dem.py",
    "pipeline/geometry/demread.py",
    "pipeline/geometry/relief.py",
    "pipeline/io/geotiff.py",
    "pipeline/io/reliefmap.py",
    "pipeline/mosaicking/params.py",
    "pipeline/orchestration/codecs.py",
    "pipeline/orchestration/graph.py",
    "pipeline/orchestration/outputs.py",
    "pipeline/orchestration/progress.py",
    "pipeline/orchestration/qa.py",
    "pipeline/orchestration/qa_relief.py",
    "pipeline/orchestration/reliefstep.py",
    "pipeline/orchestration/result.py",
    "pipeline/orchestration/run.py",
    "pipeline/orchestration/runlines.py",
    "pipeline/orchestration/steps.py",
    "pipeline/registration/bundle/blocks.py",
    "pipeline/registration/bundle/driver.py",
    "pipeline/registration/bundle/points.py",
    "pipeline/registration/params.py",
    "pipeline/registration/points3d.py",
    "pipeline/report/data.py",
    "pipeline/report/plots_relief.py",
    "pipeline/report/sections/adjustment.py",
    "pipeline/report/sections/registration.py",
    "pipeline/report/sections/relief.py",
    "pipeline/report/sections/table.py",
    "tests/geometry/test_dem_cube.py",
    "tests/geometry/test_relief_model.py",
    "tests/mosaicking/relief_helpers.py",
    "tests/mosaicking/test_relief_targets.py",
    "tests/orchestration/test_end_to_end.py",
    "tests/orchestration/test_relief_outputs.py",
    "tests/orchestration/test_scan_end_to_end.py",
    "tests/registration/conftest.py",
    "tests/registration/test_adjust.py",
    "tests/registration/test_adjust_sparse.py",
    "tests/registration/test_free_points.py",
    "tests/registration/test_linescan_adjust.py",
    "tests/registration/test_small_frames.py",
)


def test_ruff_check_is_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' brings it)")
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "pipeline", "tests", "bench"]
    cmd += ["--exclude", ",".join(KNOWN_REMAINDER)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"ruff check found problems:\n{out.stdout}\n{out.stderr}"
