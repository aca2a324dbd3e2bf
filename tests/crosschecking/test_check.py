"""Cosmic-ray hits found by comparing overlapping frames (pipeline.crosschecking)."""

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from pipeline.calibration import detect_cosmics
from pipeline.crosschecking import crosscheck_frame, crosscheck_outliers
from pipeline.frame import Frame, FrameMeta


def _scene(rng, n=96):
    """A textured surface seen through a 0.6 px Gaussian PSF, with small bright craters
    (~400 DN peaks) whose side neighbours hold 0.25 of their peak: sharp, but real."""
    base = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (n, n)), 3.0)
    base = 1000.0 + 80.0 * base / base.std()
    spots = np.zeros((n, n))
    spots[10::16, 10::16] = 900.0
    return ndimage.gaussian_filter(base + spots, 0.6)


def _noisy(scene, rng, sigma=3.0):
    return (scene + rng.normal(0.0, sigma, scene.shape)).astype(np.float32)


def test_a_hit_on_a_small_crater_is_found_where_one_frame_cannot_tell(rng):
    scene = _scene(rng)
    view, other = _noisy(scene, rng), _noisy(scene, rng)
    hits = [(42, 26), (58, 58), (50, 34)]  # two on craters, one on open ground
    for r, c in hits:
        view[r, c] += 150.0
    truth = np.zeros(scene.shape, bool)
    truth[tuple(np.array(hits).T)] = True
    # one frame alone: a 150 DN hit on a 400 DN crater looks like a sharper crater
    single = detect_cosmics(view, noise=3.0)
    assert not single[42, 26] and not single[58, 58] and single[50, 34]
    found = crosscheck_outliers(view, np.zeros(scene.shape, bool), [(other, np.ones(scene.shape, bool))])
    assert found[truth].all()
    assert not found[~truth].any()


def test_other_frames_may_differ_by_gain_offset_and_registration_error(rng):
    scene = _scene(rng)
    view = _noisy(scene, rng)
    view[40, 40] += 200.0
    # the other view: another gain and offset, and 0.3 px off in both axes
    shifted = ndimage.shift(scene, (0.3, -0.3), order=3, mode="nearest")
    other = 0.5 * _noisy(shifted, rng) + 20.0
    found = crosscheck_outliers(view, np.zeros(scene.shape, bool), [(other, np.ones(scene.shape, bool))],
                                misregistration_px=0.3)
    assert np.argwhere(found).tolist() == [[40, 40]]
    # allowing for no registration error, the same 0.3 px takes crater edges for hits
    naive = crosscheck_outliers(view, np.zeros(scene.shape, bool), [(other, np.ones(scene.shape, bool))],
                                misregistration_px=0.0)
    assert naive.sum() > 1


def test_every_covering_frame_must_agree_and_flags_are_respected(rng):
    scene = _scene(rng)
    view, a, b = _noisy(scene, rng), _noisy(scene, rng), _noisy(scene, rng)
    view[20, 30] += 300.0
    view[70, 70] += 300.0
    b[20, 30] += 300.0  # the same ground lit up in frame b too: not a hit of this frame
    flagged = np.zeros(scene.shape, bool)
    flagged[70, 70] = True  # already repaired by the single-frame detector
    covered = np.ones(scene.shape, bool)
    found = crosscheck_outliers(view, flagged, [(a, covered), (b, covered)])
    assert not found.any()
    # a pixel no frame covers is left to the single-frame detector
    view[50, 50] += 300.0
    half = np.zeros(scene.shape, bool)
    half[:, :48] = True
    found = crosscheck_outliers(view, flagged, [(a, half)])
    assert np.argwhere(found).tolist() == [[20, 30]]


def test_a_large_masked_region_makes_no_hits_at_its_edge(rng):
    scene = _scene(rng)
    view, other = _noisy(scene, rng), _noisy(scene, rng)
    flagged = np.zeros(scene.shape, bool)
    flagged[:, :40] = True  # e.g. beyond the limb: the calibrated data holds 0 there
    view[flagged] = 0.0
    view[60, 70] += 300.0
    found = crosscheck_outliers(view, flagged, [(other, np.ones(scene.shape, bool))])
    assert np.argwhere(found).tolist() == [[60, 70]]


def test_a_track_grows_from_its_brightest_pixel(rng):
    scene = _scene(rng)
    view, other = _noisy(scene, rng), _noisy(scene, rng)
    track = [(30, 60), (31, 61), (32, 62), (33, 63)]
    for (r, c), dn in zip(track, (400.0, 120.0, 90.0, 80.0)):
        view[r, c] += dn
    found = crosscheck_outliers(view, np.zeros(scene.shape, bool), [(other, np.ones(scene.shape, bool))])
    assert sorted(map(tuple, np.argwhere(found).tolist())) == track


def _frame(fid, data, camera):
    n = data.shape[0]
    meta = FrameMeta(id=fid, path=Path(f"{fid}.img"), format="pds3", shape=(n, n), dtype="float32")
    return Frame(meta, camera=camera, data=data, mask=np.zeros(data.shape, bool), repaired=np.zeros(data.shape, bool))


def test_crosscheck_frame_through_two_cameras():
    """Two overlapping simulated views of the same ground (different pointing, so the
    other frame's pixels fall between this frame's): hits in the overlap are found and
    repaired, nothing else is touched, and a hit outside the overlap is left alone."""
    sim = pytest.importorskip("pipeline.simulation")
    n = 128
    surface = sim.Surface(seed=5, region=(179, 181.5, -1, 1.5))
    cam_a = sim.nadir_camera(180.00, 0.00, lines=n, samples=n)
    cam_b = sim.nadir_camera(180.21, 0.13, lines=n, samples=n)  # ~60 % overlap, sub-pixel phase
    rng = np.random.default_rng(2)
    views = []
    for cam in (cam_a, cam_b):
        iof = sim.render_iof(cam, surface).iof
        views.append((iof + rng.normal(0.0, 0.002 * np.median(iof), iof.shape)).astype(np.float32))
    a = views[0].copy()
    hits = [(64, 100), (90, 120), (20, 5)]  # the last one outside frame b's view
    for r, c in hits:
        a[r, c] += 0.25 * np.median(a)
    out = crosscheck_frame(_frame("a", a, cam_a), [_frame("b", views[1], cam_b)], {})
    assert out.qa["crosscheck_overlaps"] == 1
    assert out.repaired[64, 100] and out.repaired[90, 120] and not out.repaired[20, 5]
    assert out.repaired.sum() == out.qa["crosscheck_cosmic_ray_pixels"] == 2
    assert abs(out.data[64, 100] - views[0][64, 100]) < 0.05 * np.median(a)
    unchanged = ~out.repaired
    assert np.array_equal(out.data[unchanged], a[unchanged])


def test_frame_coordinates_map_pixel_centres_between_frames():
    sim = pytest.importorskip("pipeline.simulation")
    from pipeline.crosschecking import frame_coordinates
    from pipeline.geometry.warp import warp_frame

    cam = sim.nadir_camera(180.0, 0.0, lines=48, samples=64)
    other = sim.nadir_camera(180.05, 0.02, lines=40, samples=40)
    # onto itself: the identity, and resampling a frame onto its own pixels changes nothing
    line, sample = frame_coordinates(cam, cam)
    ll, ss = np.meshgrid(np.arange(48) + 0.5, np.arange(64) + 0.5, indexing="ij")
    np.testing.assert_allclose(line, ll, atol=1e-6)
    np.testing.assert_allclose(sample, ss, atol=1e-6)
    image = np.random.default_rng(0).normal(0.0, 1.0, cam.shape).astype(np.float32)
    ortho = warp_frame(image, None, cam, coords=(line, sample), resampling="cubic")
    assert ortho.valid[2:-2, 2:-2].all()
    np.testing.assert_allclose(ortho.values[ortho.valid], image[ortho.valid], atol=2e-3)
    # onto another frame: the interpolated mapping matches the exact projection
    line, sample = frame_coordinates(cam, other)
    xyz = cam.image_to_ground(ll, ss)
    exact_l, exact_s = other.ground_to_image(xyz)
    assert np.nanmax(np.abs(line - exact_l)) < 5e-3 and np.nanmax(np.abs(sample - exact_s)) < 5e-3
    # a frame elsewhere on the Moon: nothing of it lands on this one (no interpolation
    # between far-apart grid nodes running through its image)
    far = sim.nadir_camera(180.0, 10.0, lines=64, samples=64)
    line, sample = frame_coordinates(cam, far)
    assert not ((line > 0) & (line < 64) & (sample > 0) & (sample < 64)).any()


def test_frame_coordinates_follow_the_dem():
    sim = pytest.importorskip("pipeline.simulation")
    from pipeline.crosschecking import frame_coordinates
    from pipeline.geometry.dem import Dem
    from pipeline.mosaicking import grid_for_frames

    cam = sim.nadir_camera(180.0, 0.0, lines=32, samples=32)
    other = sim.nadir_camera(180.05, 0.0, lines=32, samples=32)
    grid = grid_for_frames([cam, other], "farside_eqc")
    raised = Dem.from_grid(np.full(grid.shape, 10_000.0), grid)
    high = frame_coordinates(cam, other, raised)
    ll, ss = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5, indexing="ij")
    xyz, _ = cam.image_to_ground_hit(ll, ss, dem=raised)
    np.testing.assert_allclose(high, other.ground_to_image(xyz), atol=5e-3)
    # the parallax of the raised ground between the two viewpoints
    assert np.nanmedian(np.abs(high[1] - frame_coordinates(cam, other)[1])) > 0.2
