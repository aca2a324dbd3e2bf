"""The cross-check casts each frame's coordinate grid onto the ground once, not once per
overlapping frame (issue 21: no repeated image -> ground of the same frame)."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.crosschecking import crosscheck_frame, frame_coordinates
from pipeline.crosschecking.check import frame_ground
from pipeline.frame import Frame, FrameMeta

sim = pytest.importorskip("pipeline.simulation")


def _frame(fid, data, camera):
    meta = FrameMeta(id=fid, path=Path(f"{fid}.img"), format="pds3", shape=data.shape, dtype="float32")
    return Frame(meta, camera=camera, data=data, mask=np.zeros(data.shape, bool), repaired=np.zeros(data.shape, bool))


def test_precomputed_ground_gives_the_same_coordinates_bit_for_bit():
    cam = sim.nadir_camera(180.0, 0.0, lines=48, samples=64)
    other = sim.nadir_camera(180.05, 0.02, lines=40, samples=40)
    ground = frame_ground(cam)
    assert ground.xyz.shape == (len(ground.gl), len(ground.gs), 3) and ground.seen.all()
    # the grid's ground points are the camera's own pixel centres on the body (< 1 mm)
    ll, ss = np.meshgrid(ground.gl + 0.5, ground.gs + 0.5, indexing="ij")
    np.testing.assert_allclose(ground.xyz, cam.image_to_ground(ll, ss), rtol=0, atol=1e-3)
    for a, b in zip(frame_coordinates(cam, other), frame_coordinates(cam, other, ground=ground)):
        assert np.array_equal(a, b, equal_nan=True)
    # one ground serves every other frame: a frame that sees only part of it leaves it whole
    # (an in-place mask once carried the first frame's view into the next: cosmic-ray recall 0.98)
    corner = sim.nadir_camera(180.2, 0.1, lines=40, samples=40)
    frame_coordinates(cam, corner, ground=ground)
    assert ground.seen.all()
    for a, b in zip(frame_coordinates(cam, other), frame_coordinates(cam, other, ground=ground)):
        assert np.array_equal(a, b, equal_nan=True)


def test_crosscheck_casts_the_frame_once_for_all_its_overlaps(monkeypatch):
    n = 64
    surface = sim.Surface(seed=5, region=(179, 181.5, -1, 1.5))
    cams = [sim.nadir_camera(180.00, 0.00, lines=n, samples=n), sim.nadir_camera(180.10, 0.05, lines=n, samples=n),
            sim.nadir_camera(180.05, 0.10, lines=n, samples=n), sim.nadir_camera(179.95, 0.05, lines=n, samples=n)]
    frames = [_frame(f"f{i}", sim.render_iof(c, surface).iof.astype(np.float32), c) for i, c in enumerate(cams)]
    expected = crosscheck_frame(frames[0], frames[1:], {})
    calls = []
    cls = type(cams[0])
    original = cls.image_to_ground_hit

    def counting(self, *args, **kwargs):
        calls.append(self is cams[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "image_to_ground_hit", counting)
    out = crosscheck_frame(frames[0], frames[1:], {})
    assert out.qa["crosscheck_overlaps"] == 3
    assert calls.count(True) == 1  # three overlapping frames, one cast of this frame's grid
    assert out.qa == expected.qa and np.array_equal(out.data, expected.data)
