"""The simulator's package face, presets, command-line options and module sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.simulation as sim
from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.simulation import PRESETS, survey_kwargs, survey_preset

PKG = Path(sim.__file__).resolve().parent


def test_no_module_over_500_lines_and_names_kept():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PKG.glob("*.py")}
    assert max(sizes.values()) <= 500, {k: v for k, v in sizes.items() if v > 500}
    for name in sim.__all__:
        assert getattr(sim, name) is not None
    # names other packages import from the old modules still resolve there
    from pipeline.simulation.sensor import DetectorParams, render_iof  # noqa: F401
    from pipeline.simulation.survey import CameraSpec, nadir_attitude, nadir_camera  # noqa: F401
    from pipeline.simulation.truth import Truth, load_truth  # noqa: F401


def test_default_kwargs_are_the_old_ones():
    assert survey_kwargs() == {"n_strips": 3, "frames_per_strip": 6, "size": (320, 320)}
    kw = survey_kwargs(preset="small_256", strips=2, law="lunar_lambert", law_params=["L=0.3"], overlap=0.3,
                       max_wobble_shift=0.05, oblique=(30, 40), relief=True)
    assert kw["n_strips"] == 2 and kw["frames_per_strip"] == 8 and kw["size"] == (256, 256)
    assert kw["law"].parameters == {"L": 0.3} and kw["overlap_along"] == kw["overlap_across"] == 0.3
    assert kw["max_wobble_shift"] == 0.05 and kw["oblique_deg"] == (30.0, 40.0) and kw["relief"] is True
    with pytest.raises(ConfigError, match="KEY=NUMBER"):
        survey_kwargs(law="lunar_lambert", law_params=["L"])
    with pytest.raises(ConfigError, match="unknown survey preset"):
        survey_preset("tiny")
    assert set(PRESETS) == {"relief_strip", "oblique_relief", "film", "small_128", "small_256", "linescan_strips",
                            "pushframe_strip", "scan_mix"}


def test_click_cli_takes_the_new_options(tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["simulate", str(out), "--seed", "4", "--strips", "1", "--frames-per-strip",
                                       "2", "--size", "48", "--law", "lunar_lambert", "--law-param", "L=0.7",
                                       "--overlap", "0.3", "--max-wobble-shift", "0.02"])
    assert result.exit_code == 0, result.output
    survey = json.loads((out / "truth" / "survey.json").read_text())
    assert survey["photometry"]["law"]["parameters"] == {"L": 0.7}
    assert survey["plan"]["overlap_along"] == pytest.approx(0.3, abs=0.01)
    bad = CliRunner().invoke(main, ["simulate", str(tmp_path / "bad"), "--preset", "nope"])
    assert bad.exit_code != 0 and "unknown survey preset" in bad.output
