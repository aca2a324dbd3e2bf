"""The growth rows of the benchmark (bench/growth.py) and the ratio columns: no timing."""

import sys
from pathlib import Path

import pytest

# bench/ is imported from the repository root (put on sys.path when pytest did not)
if str(Path(__file__).resolve().parents[1]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report
from bench.growth import GROWTH_HEADERS, growth_names, growth_rows
from bench.surveys import GROWTH, SIZES


def test_growth_surveys_have_constant_overlap_density():
    specs = [GROWTH[n] for n in growth_names("64,256,1024")]
    assert [s.n_frames for s in specs] == [64, 256, 1024]
    assert {(s.size, s.overlap, s.max_wobble_shift, s.calibration) for s in specs} == {(128, 0.25, 0.02, False)}
    kw = specs[0].simulate_kwargs()
    assert kw["overlap_along"] == kw["overlap_across"] == 0.25 and kw["formats"] == ("tiff",)
    assert growth_names("none") == [] and growth_names("growth-64") == ["growth-64"]
    with pytest.raises(ValueError):
        growth_names("100")


def test_older_survey_markers_still_match():
    # the fields added for the growth surveys stay out of the marker at their defaults
    assert SIZES["medium"].marker_params() == {"name": "medium", "n_strips": 6, "frames_per_strip": 8,
                                               "size": 1024, "seed": 7, "supersample": 1}
    assert SIZES["medium"].dirname() == "medium-6x8-1024px-seed7-ss1"


def test_growth_table_and_ratio_columns():
    doc = {
        "surveys": {"small": {"n_frames": 20, "frame_px": 512, "input_mpx": 5.2, "methods": [
            {"method": "farside (threads ×2)", "status": "ok", "wall_s": 10.0},
            {"method": "floor (read+remap+write)", "status": "ok", "wall_s": 0.5},
            {"method": "cv2.Stitcher SCANS", "status": "OK, kept 20/20", "wall_s": 30.0},
            {"method": "cv2.Stitcher PANORAMA", "status": "OK, kept 20/20", "wall_s": 4.0},
        ]}},
        "growth": [
            {"survey": "growth-64", "n_frames": 64, "frame_px": 128, "pairs": 210, "status": "ok", "wall_s": 16.0,
             "ms_per_frame": 250.0, "per_frame_vs_first": 1.0, "peak_mb": 400.0, "n_tied": 64, "n_components": 1,
             "stages": {"wall_s": {"plan": 1.0, "register": 5.0}}},
            {"survey": "growth-1024", "n_frames": 1024, "frame_px": 128, "status": "timeout after 900 s"},
        ],
    }
    assert report.reference_walls(doc["surveys"]["small"]) == (4.0, 0.5)
    rows = report.main_rows(doc)
    farside = rows[0]
    assert farside[4] == "2.50" and farside[5] == "20.0"  # 10 s / 4 s, 10 s / 0.5 s
    assert rows[1][4] == report.DASH  # ratios only for the pipeline's own rows
    g = growth_rows(doc, report.fmt)
    assert len(g[0]) == len(GROWTH_HEADERS) and g[0][6] == "1.00" and g[0][14] == "64/64"
    assert g[1][3] == "timeout after 900 s"
    md = report.render(doc)
    assert "## Growth" in md and "growth-1024 (1024×128²)" in md and "× stitcher" in md
