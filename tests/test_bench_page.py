"""docs/benchmarks.md is what bench/page.py renders from the committed docs/benchmarks.json
(no timing is asserted: the numbers are whatever the last `make bench` measured)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import page  # noqa: E402


def test_committed_page_is_the_rendered_results():
    doc = json.loads(page.RESULTS.read_text(encoding="utf-8"))
    assert page.PAGE.read_text(encoding="utf-8") == page.render_page(doc), \
        "docs/benchmarks.md is stale: run `python -m bench.page` (or make bench)"


def test_check_mode_flags_a_stale_page(tmp_path):
    results, md = tmp_path / "r.json", tmp_path / "p.md"
    results.write_text(json.dumps({"surveys": {}}))
    md.write_text("old page\n")
    assert page.main(["--results", str(results), "--page", str(md), "--check"]) == 1
    assert page.main(["--results", str(results), "--page", str(md)]) == 0
    assert page.main(["--results", str(results), "--page", str(md), "--check"]) == 0


def _doc(adjust_s: float, speedup: float) -> dict:
    return {
        "surveys": {"small": {"n_frames": 20, "frame_px": 512, "input_mpx": 5.2, "methods": [
            {"method": "farside (threads ×2)", "status": "ok", "wall_s": 10.0,
             "stages": {"wall_s": {"plan": 1.0, "calibrate": 2.0, "register": 6.0, "mosaic": 1.0}}},
            {"method": "floor (read+remap+write)", "status": "ok", "wall_s": 0.4},
            {"method": "cv2.Stitcher PANORAMA", "status": "OK, kept 20/20", "wall_s": 4.0},
            {"method": "cv2.Stitcher SCANS", "status": "failed", "wall_s": 1.0},
        ]}},
        "growth": [{"survey": "growth-64", "n_frames": 64, "ms_per_frame": 200.0, "per_frame_vs_first": 1.0,
                    "cpu_util": 1.0},
                   {"survey": "growth-1024", "n_frames": 1024, "ms_per_frame": 220.0, "per_frame_vs_first": 1.1,
                    "peak_mb": 2500, "cpu_util": 1.2}],
        "adjust_scaling": [{"images": 9_940, "grid_strips_x_frames": [70, 143], "adjust_s": adjust_s,
                            "adjust_cpu_s": 80.0, "peak_rss_mb": 1000, "converged": True},
                           {"images": 60_000, "error": "timed out after 7200 s"}],
        "scaling": [{"survey": "medium", "label": "native", "workers": 2, "speedup": speedup}],
    }


def test_targets_judge_the_measured_numbers():
    rows = {r[0]: r for r in page.target_rows(_doc(100.0, 1.85))}
    # 10 s against the only successful stitcher run (4 s; the failed SCANS does not count), 25x the floor
    assert rows["small: end to end ≤ 1.0× cv2.Stitcher's fastest"][2:] == ["2.50", "missed"]
    assert rows["small: end to end ≤ 20× the I/O floor"][2:] == ["25.0", "missed"]
    assert rows["growth: ms/frame at the largest survey vs 64 frames"][2:] == ["1.10", "met"]
    assert rows["growth: CPU ms/frame at the largest survey vs 64 frames"][2:] == ["1.32", "missed"]
    assert rows["growth: peak memory at 1,024 frames"][2:] == ["2500", "missed"]
    assert rows["adjustment: 10,000 images, wall (CPU) s"][3] == "met"
    assert rows["adjustment: 60,000 images completes"][2:] == ["timed out after 7200 s", "missed"]
    assert rows["medium: 2 workers vs 1"][2:] == ["1.85", "met"]
    slow = {r[0]: r for r in page.target_rows(_doc(130.0, 1.5))}
    assert slow["adjustment: 10,000 images, wall (CPU) s"][3] == "missed"
    assert slow["medium: 2 workers vs 1"][3] == "missed"


def test_stage_table_shares_add_up_to_the_run():
    (row,) = page.stage_rows(_doc(100.0, 1.85))
    assert row[:3] == ["small", "farside (threads ×2)", "10.0"]
    assert row[3] == "1.0 (10 %)" and row[5] == "6.0 (60 %)" and row[-1] == "register"
    text = page.render_page(_doc(100.0, 1.85))
    assert "## Bundle adjustment alone" in text and "timed out after 7200 s" in text and text.endswith("|\n")
