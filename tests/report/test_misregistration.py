"""Misregistration numbers (ASP's criterion) and seams of the top_index band, against
synthetic cases with a known answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import rasterio

from pipeline.geometry.grid import MapGrid
from pipeline.io.geotiff import CogWriter
from pipeline.report.data import ReportDataError, TieObservations
from pipeline.report.misregistration import PERCENTILES, match_offsets, misregistration
from pipeline.report.raster import MAX_PLOT_PX, read_raster
from pipeline.report.seammap import colour_frames, seam_map
from tests.report.helpers import REJECTED_ID, footprints, overlap_boxes, tie_observations

PIXEL_M = 4000.0


def test_known_shift_fails_only_the_shifted_frame():
    """F03 sees the ground 3 map px east: each of its seams is off by exactly 12 km = 3 px,
    every other seam by 0; ASP's rule flags F03 only (its neighbours' 85th percentiles are
    set by their many good matches)."""
    fps = footprints()
    m = misregistration(tie_observations(fps, {"F03": (3 * PIXEL_M, 0.0)}), PIXEL_M)
    assert m.failing == ("F03",)
    for s in m.seams:
        want = 3.0 if "F03" in (s.frame_a, s.frame_b) else 0.0
        for q in (*PERCENTILES, 100):
            got = s.offsets.max_m if q == 100 else s.offsets.at(q)
            assert m.px(got) == pytest.approx(want, abs=1e-6), (s, q)
        assert m.seam_bad(s) == (want > 0)
    f03 = next(f for f in m.frames if f.frame_id == "F03")
    assert f03.bad and m.px(f03.offsets.at(85)) == pytest.approx(3.0, abs=1e-6)
    # every overlap of used frames is a seam of the network, F07 (rejected) in none
    pairs = {tuple(sorted((fps[i][0], fps[j][0]))) for i, j, _ in overlap_boxes(fps)}
    assert {(s.frame_a, s.frame_b) for s in m.seams} == pairs
    assert all(REJECTED_ID not in p for p in pairs)


@pytest.mark.parametrize(("shift_px", "fails"), [(1.4, False), (1.6, True)])
def test_threshold_is_one_and_a_half_map_pixels(shift_px, fails):
    m = misregistration(tie_observations(footprints(), {"F10": (0.0, shift_px * PIXEL_M)}), PIXEL_M)
    assert ("F10" in m.failing) is fails
    assert m.failing == (("F10",) if fails else ())


def test_criterion_counts_each_offset_for_both_frames():
    """With as many matches with the shifted frame as with each other neighbour, a neighbour
    fails exactly when more than 15 % of its matches are with it (ASP's per-image rule)."""
    fps = footprints()
    obs = tie_observations(fps, {"F06": (2 * PIXEL_M, 0.0)}, n_pair=20, n_with_shifted=20)
    m = misregistration(obs, PIXEL_M)
    ids = [fid for fid, _ in fps]
    partners = {fid: [] for fid in ids}
    for i, j, _ in overlap_boxes(fps):
        partners[ids[i]].append(ids[j])
        partners[ids[j]].append(ids[i])
    share = {f: (p.count("F06") / len(p) if f != "F06" else 1.0) for f, p in partners.items() if p}
    assert set(m.failing) == {f for f, s in share.items() if s > 0.15}
    assert "F06" in m.failing and len(m.failing) < len(share)


def test_pairs_of_longer_tracks_match_brute_force(rng):
    """Tracks seen by 2-5 frames: every pair of observations in two different frames, once."""
    frames = np.array([f"f{k}" for k in range(6)])
    rows = []
    for pid in range(60):
        for f in rng.choice(frames, size=rng.integers(2, 6), replace=False):
            rows.append((f, pid, rng.normal(0, 50, 3)))
    rng.shuffle(rows)
    fid = np.array([r[0] for r in rows])
    pid = np.array([r[1] for r in rows])
    xyz = np.array([r[2] for r in rows]) + [1_737_400.0, 0, 0]
    obs = TieObservations(fid, pid, xyz, np.zeros((len(rows), 2)), np.zeros((len(rows), 3)))
    a, b, p, d = match_offsets(obs)
    want = sorted(
        (min(fa, fb), max(fa, fb), pa, round(float(np.linalg.norm(xa - xb)), 6))
        for (fa, pa, xa), (fb, pb, xb) in itertools.combinations(zip(fid, pid, xyz), 2)
        if pa == pb and fa != fb
    )
    got = sorted((str(x), str(y), int(q), round(float(v), 6)) for x, y, q, v in zip(a, b, p, d))
    assert got == want
    m = misregistration(obs, 10.0)
    f0 = next(f for f in m.frames if f.frame_id == "f0")
    mine = [v for x, y, _q, v in want if "f0" in (x, y)]
    assert f0.offsets.n == len(mine)
    assert f0.offsets.at(85) == pytest.approx(float(np.percentile(mine, 85)), rel=1e-9)


def test_tie_observations_checks_shapes():
    with pytest.raises(ReportDataError, match="ground_xyz_m"):
        TieObservations(np.array(["a", "b"]), np.array([0, 0]), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 3)))


def test_seams_of_a_known_layout():
    t = np.full((6, 8), -1)
    t[:3, :4], t[:3, 4:], t[3:, :] = 0, 1, 2
    t[5, 7] = -1
    s = seam_map(t)
    assert s.edges == {(0, 1): 3, (0, 2): 4, (1, 2): 4}
    assert s.mask[:3, 3].all() and not s.mask[:2, 4].any()  # left of the 0|1 change
    assert s.mask[2, :].all() and not s.mask[3:, :].any()  # above the 0,1|2 change
    colours = colour_frames(np.array([0, 1, 2]), s.edges, 10)
    assert len(set(colours.values())) == 3


def test_top_index_read_whole_through_averaged_overviews(tmp_path):
    """The writer's overviews average the top_index band (1.5 between frames 1 and 2); the
    report must still read whole frame indices, and the seams where they are."""
    deg = np.pi / 180.0 * 1_737_400.0
    grid = MapGrid.from_bounds("farside_eqc", (-10 * deg, -10 * deg, 10 * deg, 10 * deg), 20 * deg / 2400)
    cols = grid.shape[1]
    top = np.zeros(grid.shape, np.float32)
    top[:, 1201:] = 1
    top[1203:, :] += 2
    path = tmp_path / "m.tif"
    with CogWriter(path, grid, bands=["iof", "count", "top_index"]) as w:
        w.write({"iof": np.ones(grid.shape, np.float32), "count": np.ones(grid.shape, np.float32), "top_index": top})
    with rasterio.open(path) as ds:
        assert ds.overviews(3)  # the file has averaged overviews
    r = read_raster(path)
    assert r.top_index.dtype == np.int32 and r.top_index.shape == r.view.shape
    assert max(r.top_index.shape) <= MAX_PLOT_PX
    assert set(np.unique(r.top_index)) == {0, 1, 2, 3}  # no hole: no averaged (fractional) index
    s = seam_map(r.top_index)
    assert set(s.edges) == {(0, 1), (0, 2), (1, 3), (2, 3)}
    seam_cols = np.flatnonzero(s.mask[: r.view.shape[0] // 4].any(axis=0))
    step = cols / r.view.shape[1]
    assert np.all(np.abs((seam_cols + 0.5) * step - 1201) <= step)
