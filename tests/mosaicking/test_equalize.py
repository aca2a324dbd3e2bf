"""Equalisation: least-squares gains/offsets from overlaps recover known corrections."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.frame import Frame, FrameMeta
from pipeline.mosaicking import Equalization, OverlapStats, equalize_frames, grid_for_frames, overlap_stats
from pipeline.mosaicking.equalize import solve_equalization
from pipeline.mosaicking.params import MosaickingParams
from tests.mosaicking.helpers import camera, render

TRUE_GAIN = np.array([1.10, 0.92, 1.00, 0.85, 1.13])
TRUE_OFFSET = np.array([0.010, -0.006, 0.004, -0.012, 0.004])
assert abs(TRUE_GAIN.mean() - 1) < 1e-12 and abs(TRUE_OFFSET.mean()) < 1e-12


def _exact_stats(pairs, gain, offset, loc=0.12, scale=0.03):
    """Stats of frames showing one surface (median ``loc``, scale ``scale``) as
    ``(truth - offset) / gain``."""
    return [OverlapStats(i, j, 1000 + 10 * i, (loc - offset[i]) / gain[i], (loc - offset[j]) / gain[j],
                         scale / gain[i], scale / gain[j]) for i, j in pairs]


def test_solver_recovers_exact_corrections():
    pairs = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 2), (1, 3)]
    stats = _exact_stats(pairs, TRUE_GAIN, TRUE_OFFSET)
    g, o = solve_equalization(stats, 5)
    assert np.allclose(g, TRUE_GAIN, atol=1e-9) and np.allclose(o, TRUE_OFFSET, atol=1e-9)
    # a reference frame keeps the identity; the others are relative to it
    g, o = solve_equalization(stats, 5, reference=2)
    assert g[2] == pytest.approx(1.0) and o[2] == pytest.approx(0.0, abs=1e-12)
    corrected = [(0.12 - TRUE_OFFSET[k]) / TRUE_GAIN[k] * g[k] + o[k] for k in range(5)]
    assert np.allclose(corrected, corrected[2], atol=1e-9)


def test_solver_modes_groups_and_errors():
    # gain only: ratio of medians; offsets stay 0
    stats = [OverlapStats(0, 1, 500, 1.0, 2.0, 0.1, 0.1)]
    g, o = solve_equalization(stats, 2, adjust="gain")
    assert g[0] * 1.0 == pytest.approx(g[1] * 2.0) and np.mean(g) == pytest.approx(1.0) and not o.any()
    g, o = solve_equalization(stats, 2, adjust="offset")
    assert not (g - 1).any() and o[0] + 1.0 == pytest.approx(o[1] + 2.0) and o.sum() == pytest.approx(0.0)
    # two separate groups and a loner: each group normalised on its own, the loner untouched
    stats = _exact_stats([(0, 1), (2, 3)], TRUE_GAIN, TRUE_OFFSET)
    g, o = solve_equalization(stats, 5)
    assert g[:2].mean() == pytest.approx(1.0) and g[2:4].mean() == pytest.approx(1.0)
    assert g[4] == 1.0 and o[4] == 0.0
    assert g[0] / g[1] == pytest.approx(TRUE_GAIN[0] / TRUE_GAIN[1])
    with pytest.raises(ConfigError):
        solve_equalization(stats, 5, adjust="both")
    with pytest.raises(ConfigError):
        solve_equalization(stats, 5, reference=9)


def test_overlap_stats_on_windows():
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    b = a.copy() * 2 + 1
    va = np.ones_like(a, bool)
    vb = np.ones_like(b, bool)
    vb[:2] = False
    # b's window starts 3 rows, 4 cols into the common grid; windows share 7 x 6 pixels
    (s,) = overlap_stats([a, b], [va, vb], [(0, 0), (3, 4)], min_pixels=10)
    assert (s.i, s.j, s.n) == (0, 1, 5 * 6)
    common_a = a[5:10, 4:10]
    common_b = b[2:7, 0:6]
    assert s.loc_i == pytest.approx(np.median(common_a)) and s.loc_j == pytest.approx(np.median(common_b))
    assert s.scale_j == pytest.approx(2 * s.scale_i)
    assert overlap_stats([a, b], [va, vb], [(0, 0), (3, 4)], min_pixels=31) == []
    assert overlap_stats([a, b], [va, vb], [(0, 0), (10, 0)]) == []


@pytest.fixture(scope="module")
def survey():
    """Five overlapping frames, each showing the surface through a known gain and offset."""
    cams = [camera(180.0, 0.0), camera(180.3, 0.05, heading="south"), camera(180.15, -0.3),
            camera(179.8, -0.2, rotvec=(0, 0, 0.4)), camera(179.85, 0.2)]
    frames = []
    for k, cam in enumerate(cams):
        img, mask = render(cam, gain=TRUE_GAIN[k], offset=TRUE_OFFSET[k])
        meta = FrameMeta(id=f"f{k}", path=f"f{k}.img", format="pds3", shape=img.shape, dtype="float32")
        frames.append(Frame(meta, camera=cam, data=img, mask=mask))
    return frames, grid_for_frames(cams, "farside_eqc")


def test_equalize_frames_recovers_known_gains_and_offsets(survey):
    frames, grid = survey
    eq = equalize_frames({f.id: f for f in frames}, None, grid, MosaickingParams())
    assert isinstance(eq, Equalization) and eq.ids == tuple(f.id for f in frames)
    assert len(eq.pairs) >= 6
    assert np.allclose(eq.gain, TRUE_GAIN, rtol=0.02), eq.gain
    assert np.allclose(eq.offset, TRUE_OFFSET, atol=0.003), eq.offset
    assert eq.rms(corrected=True) < 0.1 * eq.rms(corrected=False)
    assert eq.correction("f3") == (pytest.approx(eq.gain[3]), pytest.approx(eq.offset[3]))
    assert eq.correction("unknown") == (1.0, 0.0)
    d = eq.to_dict()
    assert set(d["frames"]) == {f.id for f in frames} and d["rms_after"] < d["rms_before"]
    assert "gain" in eq.summary()


def test_equalize_reference_frame_by_id(survey):
    frames, grid = survey
    eq = equalize_frames(frames, None, grid, MosaickingParams(equalize_reference="f2", equalize_adjust="gain_offset"))
    assert eq.correction("f2") == (pytest.approx(1.0), pytest.approx(0.0, abs=1e-12))
    # relative corrections are the true ones relative to frame 2 (whose truth is gain 1, offset 0.004)
    k = 0
    assert eq.gain[k] == pytest.approx(TRUE_GAIN[k] / TRUE_GAIN[2], rel=0.02)
    with pytest.raises(ConfigError):
        equalize_frames(frames, None, grid, MosaickingParams(equalize_reference="nope"))
