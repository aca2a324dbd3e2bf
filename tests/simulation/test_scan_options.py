"""Scan-strip options: presets, ``farside simulate`` flags, relief, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import pipeline.simulation as sim
from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.simulation import load_truth, simulate_survey, survey_kwargs, survey_preset
from pipeline.simulation.jitter import PointingJitter
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scantruth import pair_misregistration_px


def test_presets_and_flags_map_to_simulate_survey_keywords():
    ls = survey_preset("linescan_strips")
    assert ls["frames"] is False and ls["linescan"].n_strips == 3
    assert (ls["linescan"].lines, ls["linescan"].samples, ls["linescan"].overlap_across) == (2000, 512, 0.25)
    assert survey_preset("pushframe_strip")["pushframe"].framelet_height == 14
    mix = survey_preset("scan_mix")
    assert "frames" not in mix and mix["linescan"].n_strips == 2 and mix["pushframe"].n_framelets == 100
    kw = survey_kwargs(linescan=True, pushframe=True, frames=False)
    assert kw["linescan"] is True and kw["pushframe"] is True and kw["frames"] is False
    assert "linescan" not in survey_kwargs() and "frames" not in survey_kwargs()
    # a preset's own strip parameters are kept when the flag is also given
    assert survey_kwargs(preset="linescan_strips", linescan=True)["linescan"] == ls["linescan"]
    assert survey_kwargs(preset="linescan_strips", frames=True)["frames"] is True


def test_farside_simulate_passes_the_scan_flags(monkeypatch, tmp_path):
    seen = {}

    def fake(outdir, **kw):
        seen.update(kw)
        return "nothing"

    monkeypatch.setattr(sim, "simulate_survey", fake)
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "o"), "--linescan", "--pushframe", "--no-frames"])
    assert res.exit_code == 0, res.output
    assert seen["linescan"] is True and seen["pushframe"] is True and seen["frames"] is False
    seen.clear()
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "p"), "--preset", "linescan_strips"])
    assert res.exit_code == 0, res.output
    assert seen["frames"] is False and isinstance(seen["linescan"], LineScanParams)
    seen.clear()
    CliRunner().invoke(main, ["simulate", str(tmp_path / "q")])
    assert not {"linescan", "pushframe", "frames"} & set(seen)  # defaults: the committed sample's keywords


def test_main_simulate_accepts_the_scan_flags(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("pipeline.simulation.command.simulate_survey", lambda outdir, **kw: seen.update(kw) or "x")
    assert sim.main_simulate([str(tmp_path / "o"), "--linescan", "--no-frames"]) == 0
    assert seen["linescan"] is True and seen["frames"] is False and "pushframe" not in seen


def test_bad_scan_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="overlap_across"):
        LineScanParams(overlap_across=0.95)
    with pytest.raises(ConfigError, match="num_lines_overlap"):
        PushFrameParams(num_lines_overlap=3)
    with pytest.raises(ConfigError, match="ground_overlap_lines"):
        PushFrameParams(ground_overlap_lines=14.0)
    with pytest.raises(ConfigError, match="heading"):
        LineScanParams(heading="east")
    with pytest.raises(ConfigError, match="expected a LineScanParams"):
        simulate_survey("unused", linescan="yes")


def test_jitter_round_trips_and_has_its_amplitude():
    j = PointingJitter.from_seed(np.random.default_rng(5), amplitude_deg=0.03, drift_deg=0.01, duration_s=60.0)
    assert PointingJitter.from_dict(j.to_dict()) == j
    t = np.linspace(-30.0, 30.0, 6001)
    v = np.degrees(j.rotvec_rad(t))
    assert np.all(np.abs(v).max(axis=0) <= 0.03 + 0.01 + 1e-12)
    assert np.all(np.abs(v).max(axis=0) > 0.01)
    assert np.abs(np.degrees(PointingJitter.none(30.0).rotvec_rad(t))).max() == 0.0


def test_strips_over_relief_see_its_parallax(tmp_path):
    out = tmp_path / "relief"
    simulate_survey(out, seed=4, n_strips=1, frames_per_strip=2, size=(64, 64), workers=1, calibration=False,
                    relief=True, linescan=LineScanParams(n_strips=2, lines=160, samples=64),
                    pushframe=PushFrameParams(n_framelets=8, samples=64))  # fmt: skip
    truth = load_truth(out)
    assert truth.terrain is not None
    lo, hi = truth.survey["relief"]["height_range_m"]
    assert truth.true_cameras["LS_S0"].height_range_m == (lo, hi) and hi - lo > 1000
    # projecting through the sphere ignores the relief: neighbouring strips misregister
    assert np.nanmedian(pair_misregistration_px(truth, "LS_S0", "LS_S1")) > 0.1
    # the truth's own correspondences (first hit on the truth DEM) do not
    for a, b in (("LS_S0", "LS_S1"), ("PF_S0", "LS_S0"), ("LS_S1", "FS_S0_F01")):
        cam = truth.true_cameras[a]
        ll, ss = np.meshgrid((np.arange(10) + 0.5) * cam.lines / 10, (np.arange(8) + 0.5) * cam.samples / 8,
                             indexing="ij")  # fmt: skip
        lb, sb, ok = truth.true_correspondence(a, b, ll, ss)
        assert ok.sum() > 5, (a, b)
        d = truth.misregistration_px(a, ll[ok], ss[ok], b, lb[ok], sb[ok])
        assert np.nanmax(d) < 1e-3, (a, b, np.nanmax(d))
