"""Smoke tests of the benchmark harness pieces that time nothing (bench/)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# bench/ is imported from the repository root (put on sys.path when pytest did not)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import accuracy, report, stages
from bench.machine import cpu_model, machine_info
from bench.memory import PeakMemorySampler, run_measured

ROOT = Path(__file__).resolve().parents[1]


# -- report ------------------------------------------------------------------------------
def test_markdown_table_aligns_and_formats():
    md = report.markdown_table(["name", "x"], [["a|b", 1.234], ["c", None], ["d", float("nan")]])
    lines = md.splitlines()
    assert lines[0].startswith("| name")
    assert set(lines[1]) <= set("|:- ")
    assert lines[1].endswith(":|")  # right-aligned numbers
    assert "a\\|b" in lines[2] and "1.2" in lines[2]
    assert lines[3].count("–") == 1 and lines[4].count("–") == 1
    assert len({len(ln) for ln in lines}) == 1  # every row padded to the same width


def test_markdown_table_rejects_ragged_rows():
    with pytest.raises(ValueError):
        report.markdown_table(["a", "b"], [[1]])


def test_render_full_document():
    doc = {
        "machine": {"cpu": "Test CPU", "cores": 2},
        "surveys": {"small": {"n_frames": 20, "frame_px": 512, "input_mpx": 5.24, "methods": [
            {"method": "farside", "status": "ok", "wall_s": 10.0, "mpx_per_s": 0.52, "peak_mb": 800.0,
             "stages": {"wall_s": {"plan": 1.0, "calibrate": 4.0, "mosaic": 5.0}},
             "accuracy": {"pearson": 0.95, "seam_ratio": 1.1, "coverage_pct": 99.0,
                          "geolocation_adjusted": {"common_px": 0.3, "frame_to_frame_rms_px": 0.1}}},
            {"method": "cv2.Stitcher SCANS", "status": "timeout after 240 s"},
        ]}},
        "scaling": [{"survey": "medium", "label": "native", "scheduler": "threads", "workers": 1,
                     "grid_shape": [100, 200], "wall_s": 20.0, "speedup": 1.0, "peak_mb": 900}],
        "notes": ["a note"],
    }
    md = report.render(doc)
    assert "Test CPU" in md and "timeout after 240 s" in md and "0.950" in md and "100×200" in md
    assert md.count("\n| ") >= 4 and "- a note" in md


# -- stage attribution ----------------------------------------------------------------------
def test_stage_of_key_prefixes():
    assert stages.stage_of("calibrate-FS_S0_F00-abc") == "calibrate"
    assert stages.stage_of("masters-123") == "calibrate"
    assert stages.stage_of(("tile-0-1-abc", 0)) == "mosaic"
    assert stages.stage_of("match-0-1-ff") == "register"
    assert stages.stage_of("_summary_task-ff") == "other"


def test_attribute_splits_wall_time_between_running_tasks():
    ivs = [("a", 0.0, 2.0), ("b", 1.0, 3.0), ("a", 5.0, 6.0)]
    out = stages.attribute(ivs, 0.0, 7.0)
    assert out["a"] == pytest.approx(1.0 + 0.5 + 1.0)
    assert out["b"] == pytest.approx(0.5 + 1.0)
    assert out["idle"] == pytest.approx(2.0 + 1.0)
    assert sum(out.values()) == pytest.approx(7.0)


def test_stage_timer_records_dask_tasks():
    dask = pytest.importorskip("dask")
    from dask.delayed import delayed

    def f(x):
        return x + 1

    a = delayed(f)(1, dask_key_name="calibrate-x-1")
    b = delayed(f)(a, dask_key_name="tile-0-0-1")
    timer = stages.StageTimer()
    with timer:
        assert dask.compute(b, scheduler="threads")[0] == 3
    summary = timer.summary(timer.compute_start, timer.compute_end)
    assert summary["tasks"] == {"calibrate": 1, "mosaic": 1}
    assert sum(summary["wall_s"].values()) == pytest.approx(timer.compute_end - timer.compute_start, abs=1e-3)


# -- memory -------------------------------------------------------------------------------
def test_run_measured_sees_child_memory(tmp_path):
    code = "import time, numpy as np; a = np.ones(150 * 2**20 // 8); time.sleep(0.6); print('done')"
    m = run_measured([sys.executable, "-c", code], timeout=60, log_dir=tmp_path)
    assert m.ok and "done" in m.stdout_tail
    assert m.peak_rss_mb > 140
    assert m.cpu_s is not None and m.cpu_s > 0 and m.cpu_util is not None
    assert m.machine_cpu_s is not None and m.others_cores is not None and m.others_cores >= 0


def test_run_measured_counts_grandchildren(tmp_path):
    inner = "import time, numpy as np; a = np.ones(120 * 2**20 // 8); time.sleep(0.8)"
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {inner!r}])"
    m = run_measured([sys.executable, "-c", code], timeout=60, log_dir=tmp_path)
    assert m.ok and m.max_processes >= 2 and m.peak_rss_mb > 120


def test_run_measured_times_out(tmp_path):
    m = run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5, log_dir=tmp_path)
    assert m.timed_out and not m.ok


def test_sampler_on_running_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.4)"])
    with PeakMemorySampler(proc.pid, interval=0.02) as s:
        proc.wait()
    assert s.samples >= 1 and s.peak_mb > 1


# -- accuracy metrics ---------------------------------------------------------------------
def test_offset_stats_separates_common_and_relative():
    disp = np.zeros((3, 4, 2))
    disp[..., 0] = 1.0            # everything 1 px down
    disp[1, :, 1] = 2.0           # frame 1 also 2 px right
    out = accuracy.offset_stats(disp)
    assert out["common_row_px"] == pytest.approx(1.0)
    assert out["common_col_px"] == pytest.approx(2.0 / 3)
    rel = np.array([2 / 3, 4 / 3, 2 / 3])
    assert out["frame_to_frame_rms_px"] == pytest.approx(np.sqrt(np.mean(rel**2)))
    assert out["max_px"] == pytest.approx(np.sqrt(5.0))


def test_pearson_and_linear_residual():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 50))
    b = 3 * a + 2
    b[0, 0] = np.nan
    assert accuracy.pearson(a, b) == pytest.approx(1.0)
    assert accuracy.pearson(a, -b) == pytest.approx(-1.0)
    res = accuracy.linear_residual(b, a)
    assert np.nanmax(np.abs(res)) < 1e-9


def test_seam_ratio():
    res = np.ones((10, 10))
    band = np.zeros((10, 10), bool)
    band[:, 4:6] = True
    res[band] = 3.0
    assert accuracy.seam_ratio(res, band, ~band) == pytest.approx(3.0)


def test_polygon_union_edge_band_and_coverage():
    shape = (40, 40)
    square = (np.array([10.0, 10.0, 30.0, 30.0]), np.array([10.0, 30.0, 30.0, 10.0]))  # rows, cols
    union = accuracy.polygon_union(shape, [square])
    assert 380 <= union.sum() <= 441  # ~20x20
    assert union[20, 20] and not union[5, 5]
    band = accuracy.edge_band(shape, [square], half_width=3)
    assert band[10, 20] and band[13, 20] and not band[20, 20] and not band[2, 20]
    valid = np.zeros(shape, bool)
    valid[:, :20] = True
    assert accuracy.coverage_percent(valid, union) == pytest.approx(50.0, abs=5.0)
    assert accuracy.erode(union, 2).sum() < union.sum()


# -- stitcher inputs and machine -------------------------------------------------------------
def test_stretch_to_8bit():
    from bench.run import stretch_to_8bit

    a = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    m = np.zeros((10, 10), bool)
    m[0, 0] = True
    b = a.copy()
    b[5, 5] = np.nan
    out = stretch_to_8bit([("a", a, m), ("b", b, None)])
    assert out["a"].dtype == np.uint8 and out["a"][0, 0] == 0 and out["b"][5, 5] == 0
    assert out["a"][9, 9] == 255 and out["a"][0, 1] >= 1


def test_machine_info(tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Fake CPU @ 1GHz\n")
    assert cpu_model(fake) == "Fake CPU @ 1GHz"
    info = machine_info()
    assert info["cores"] >= 1 and info["python"] and info["opencv"]
    json.dumps(info)


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "bench.run", "--help"], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and "--sizes" in out.stdout


def test_cosmic_ray_rates_on_the_sample_against_its_truth():
    """The calibrate stage and the cross-frame check, run as `farside mosaic` runs them,
    flag every injected hot/dead pixel and cosmic-ray hit of the sample and few other
    pixels (README table)."""
    from bench.cosmic_rates import flagging_rates

    stages = flagging_rates(ROOT / "sample_images", ROOT / "configs" / "default.yaml")
    for rates in stages.values():
        assert rates["frames"] == 18 and rates["hits"] > 50
        assert rates["bad_flagged"] == 1.0
        assert rates["hits_found"] >= 0.99 and rates["hit_pixels_flagged"] >= 0.99
        assert rates["others_flagged"] < 1e-3


def test_calibrated_sample_frames_match_the_truth_albedo():
    """Issue 5's radiometric targets on every sample frame (true geometry): correlation
    with the true albedo >= 0.98, and a residual after one gain fit <= 3 % of the albedo's
    spread apart from noise (frame and calibration frames rendered without noise)."""
    from bench.calibration_accuracy import frame_accuracy

    rows = frame_accuracy(ROOT / "sample_images", ROOT / "configs" / "default.yaml")
    assert len(rows) == 18
    for row in rows:
        assert row["pearson"] >= 0.98, row
        assert row["systematic_pct"] <= 3.0, row
        # the real masters' noise (5 flats) and the frame's own noise only add to it
        assert row["systematic_pct"] < row["master_noise_pct"] < row["residual_pct"], row


def test_gain_residual_is_relative_to_the_albedo_spread():
    from bench.calibration_accuracy import gain_residual_pct

    albedo = np.linspace(0.1, 0.2, 101)
    assert gain_residual_pct(2.0 * albedo, albedo) == pytest.approx(0.0, abs=1e-9)
    wobble = np.where(np.arange(101) % 2, 1.0, -1.0) * 0.01 * np.std(albedo) * 2.0
    assert gain_residual_pct(2.0 * albedo + wobble, albedo) == pytest.approx(1.0, rel=0.02)


def test_cosmic_ray_rates_on_a_textured_survey_need_the_overlaps(tmp_path):
    """Issue 5's >= 99 % / < 0.1 % on a 12-frame survey of rough highland texture (seed 22,
    2 x 2 supersampled like the sample, 60 hits per frame), where one frame alone finds
    98.2 % of the hits: faint hits on sharp crater rims look like the rims. Registered
    overlaps reveal them (measured: 99.2 % of hits, 99.1 % of their pixels, 0.037 %)."""
    from bench.cosmic_rates import flagging_rates
    from pipeline.simulation import simulate_survey
    from pipeline.simulation.sensor import DetectorParams

    simulate_survey(tmp_path, seed=22, n_strips=3, frames_per_strip=4, size=(512, 512), supersample=2,
                    detector_params=DetectorParams(cosmic_mean=60.0))
    stages = flagging_rates(tmp_path, ROOT / "configs" / "default.yaml")
    single, final = stages["single_frame"], stages["with_overlaps"]
    assert final["hits"] > 600 and final["bad_flagged"] == 1.0
    assert final["hits_found"] >= 0.99 and final["hit_pixels_flagged"] >= 0.99
    assert final["others_flagged"] < 1e-3
    assert final["hits_found"] > single["hits_found"] + 0.005
