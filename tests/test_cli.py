"""The ``farside`` command line: help, version, exit codes, inventory, dry run, inspect."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pipeline import __version__
from pipeline.cli import main


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_and_version():
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("mosaic", "ingest", "inspect", "simulate"):
        assert command in result.output
    assert _run("--version").output.strip().endswith(__version__)
    assert "Examples" in _run("mosaic", "--help").output


def test_ingest_inventory_and_json(survey, tmp_path):
    out = tmp_path / "inv.json"
    result = _run("ingest", survey, "--calibration", survey / "calibration", "--json", out)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert len([r for r in rows if r.get("status") == "ok" or r.get("frame_type") == "LIGHT"]) >= 6


def test_dry_run_lists_frames_and_grid(survey, tmp_path):
    result = _run("mosaic", survey, "--out", tmp_path / "m.tif", "--dry-run", "--workdir", tmp_path / "w")
    assert result.exit_code == 0, result.output
    assert "frames to mosaic: 6" in result.output and "output grid" in result.output
    assert not (tmp_path / "m.tif").exists()


def test_nothing_to_mosaic_exits_non_zero_with_one_line(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.IMG").write_bytes(b"")
    result = _run("mosaic", frames, "--out", tmp_path / "m.tif", "--workdir", tmp_path / "w")
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("farside: error:")]
    assert len(lines) == 1 and "nothing to mosaic" in lines[0] and "a.IMG" in lines[0]


def test_bad_config_is_a_clear_error(survey, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mosaic:\n  blend: smudge\n")
    result = _run("mosaic", survey, "--out", tmp_path / "m.tif", "--config", cfg)
    assert result.exit_code != 0
    assert "blend" in result.output


@pytest.mark.slow
def test_mosaic_then_inspect(survey, tmp_path):
    out = tmp_path / "m.tif"
    args = ["mosaic", survey, "--out", out, "--calibration", survey / "calibration",
            "--scheduler", "synchronous", "--workdir", tmp_path / "w", "--resolution", 400]
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and out.exists()
    assert out.with_suffix(".report.html").exists()
    again = _run(*args)
    assert again.exit_code != 0 and "--overwrite" in again.output
    info = _run("inspect", out, "--json")
    assert info.exit_code == 0
    data = json.loads(info.output)
    assert data["resolution_m"] == 400
    assert "Moon" in data["crs"] or "180" in data["crs"]
