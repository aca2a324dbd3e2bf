"""The scaling benchmark's network (bench/adjust_scaling.py) on a small size: it must adjust
to its truth (times are benchmarks, never asserted)."""

from __future__ import annotations

from bench.adjust_scaling import make_network, run_one


def test_network_has_strips_overlap_and_outliers():
    net = make_network(200, seed=1)
    strips, per = net["grid"]
    assert strips * per == len(net["ids"]) >= 150
    lengths = net["n_obs"] / net["n_tracks"]
    assert 2.5 < lengths < 6  # tracks of several frames (60 % along, 25 % across)
    assert net["n_obs"] > 60 * len(net["ids"])


def test_small_network_adjusts_to_its_truth():
    row = run_one(200)
    assert row["converged"] and row["n_tied"] == row["images"]
    assert row["rms_before_px"] > 5 and row["rms_after_px"] < 0.3  # noise 0.2 px per axis
    assert 0.03 < row["n_outliers"] / row["observations"] < 0.08  # the 5 % injected, found
    assert row["frame_to_frame_p90_px"] < 0.3
