"""The whole mosaic on real engines gives the synchronous result bit for bit: a dask
scheduler with two worker processes, and SLURM worker jobs through ``farside mosaic``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.orchestration import run
from tests.conftest import small_config

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def reference(survey, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "m.tif"
    run(survey, out, calibration=survey / "calibration", config=small_config(tmp), report=False)
    return out


def _same(a: Path, b: Path) -> bool:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        return np.array_equal(x.read(), y.read(), equal_nan=True)


def test_distributed_two_worker_processes_match_synchronous(survey, reference, distributed_scheduler, tmp_path):
    out = tmp_path / "m.tif"
    result = run(survey, out, calibration=survey / "calibration",
                 config=small_config(tmp_path, run={"scheduler": distributed_scheduler}), report=False)
    assert not result.reused, "computed on the workers, not read from a cache"
    assert _same(reference, out)


def test_farside_mosaic_on_slurm_matches_synchronous(survey, reference, slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # sbatch writes slurm-<job>.out into the submission directory
    cfg = tmp_path / "slurm.yaml"
    cfg.write_text(yaml.safe_dump({
        "mosaic": {"tile_size": 128},
        "run": {"slurm": {"queue": "debug", "cores": 1, "processes": 1, "memory": "1GB",
                          "walltime": "00:10:00", "jobs": 2}},
    }))
    out = tmp_path / "m.tif"
    result = CliRunner().invoke(main, [
        "mosaic", str(survey), "--out", str(out), "--calibration", str(survey / "calibration"),
        "--config", str(cfg), "--scheduler", "slurm", "--workdir", str(tmp_path / "work"),
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert list(tmp_path.glob("slurm-*.out")), "worker jobs ran through sbatch"
    assert _same(reference, out)
