"""Orthorectification: exact warps, conservative masks, visibility, true-camera accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.warp import GroundGrid, image_coordinates, orthorectify, warp_frame
from tests.mosaicking.helpers import camera, render, truth_on_grid


@pytest.fixture(scope="module")
def tilted():
    """An oblique, rotated camera over (170 E, 10 N) and a grid around its footprint."""
    cam = camera(170.0, 10.0, size=(120, 160), gsd_m=150.0, rotvec=(0.08, -0.05, 0.4))
    grid = MapGrid.from_bounds("farside_eqc", (-330_000, 260_000, -260_000, 340_000), 140.0)
    return cam, grid


def _coord_images(cam):
    line, sample = np.meshgrid(np.arange(cam.lines) + 0.5, np.arange(cam.samples) + 0.5, indexing="ij")
    return line.astype(np.float32), sample.astype(np.float32)


def test_coordinate_encoding_images_warp_exactly(tilted):
    cam, grid = tilted
    line_img, sample_img = _coord_images(cam)
    ground = GroundGrid.from_grid(grid)
    line, sample = image_coordinates(cam, ground)
    tolerances = {"nearest": 0.5 + 1e-4, "bilinear": 1e-3, "cubic": 0.06, "lanczos": 0.06}
    for method, tol in tolerances.items():
        vl, ok = orthorectify(line_img, None, cam, grid, resampling=method, ground=ground)
        vs, ok2 = orthorectify(sample_img, None, cam, grid, resampling=method, ground=ground)
        assert np.array_equal(ok, ok2)
        assert ok.sum() > 5000, method
        assert np.abs(vl - line)[ok].max() <= tol, method
        assert np.abs(vs - sample)[ok].max() <= tol, method
    # valid exactly where the kernel fits inside the image (bilinear: between edge centres)
    _, ok = orthorectify(line_img, None, cam, grid, resampling="bilinear", ground=ground)
    inside = (line >= 0.5) & (line <= cam.lines - 0.5) & (sample >= 0.5) & (sample <= cam.samples - 0.5)
    margin = (line >= 0.52) & (line <= cam.lines - 0.52) & (sample >= 0.52) & (sample <= cam.samples - 0.52)
    assert not (ok & ~inside).any()
    assert ok[margin].all()


def test_nearest_picks_the_containing_pixel(tilted):
    cam, grid = tilted
    index = np.arange(cam.lines * cam.samples, dtype=np.float32).reshape(cam.shape)
    vals, ok = orthorectify(index, None, cam, grid, resampling="nearest")
    line, sample = image_coordinates(cam, GroundGrid.from_grid(grid))
    far = ok & (np.abs(line % 1 - 0.5) < 0.45) & (np.abs(sample % 1 - 0.5) < 0.45)
    expect = np.floor(line[far]) * cam.samples + np.floor(sample[far])
    assert np.array_equal(vals[far], expect.astype(np.float32))


@pytest.mark.parametrize("method,reach", [("bilinear", 1), ("cubic", 2), ("lanczos", 4)])
def test_mask_is_conservative_over_the_kernel(tilted, method, reach):
    cam, grid = tilted
    img = np.ones(cam.shape, np.float32)
    mask = np.zeros(cam.shape, bool)
    mask[60, 80] = True
    img[60, 80] = 1e6  # poison: must never leak into a valid output pixel
    img[20, 20] = np.nan  # NaN counts as invalid too
    vals, ok = orthorectify(img, mask, cam, grid, resampling=method)
    line, sample = image_coordinates(cam, GroundGrid.from_grid(grid))
    for r, c in ((60, 80), (20, 20)):
        # output pixels whose kernel footprint reaches the bad pixel (index distance < reach)
        near = (np.abs(line - 0.5 - r) < reach - 0.02) & (np.abs(sample - 0.5 - c) < reach - 0.02)
        assert near.any()
        assert not ok[near].any()
    assert np.all(np.isfinite(vals))
    assert np.allclose(vals[ok], 1.0, atol=1e-5)


def test_grid_off_the_disc_and_far_hemisphere_are_invalid():
    # orthographic far-side grid larger than the disc: corners are off the Moon (NaN lon/lat)
    cam = camera(180.0, 0.0, size=(64, 64), gsd_m=30_000.0)  # sees most of the disc
    grid = MapGrid.from_bounds("farside_ortho", (-2_000_000, -2_000_000, 2_000_000, 2_000_000), 50_000.0)
    img = np.ones(cam.shape, np.float32)
    vals, ok = orthorectify(img, None, cam, grid)
    x, y = grid.pixel_centres()
    off_disc = np.hypot(x, y) > 1_737_400
    assert off_disc.any() and not ok[off_disc].any()
    assert ok.any() and np.all(np.isfinite(vals))
    # eqc grid on the near side (the antipodes of the footprint): points in front of the
    # camera along the same rays but facing away (emission > 90 deg) must not be filled
    near = MapGrid.from_bounds("farside_eqc", (-5_458_000 + 1, -600_000, -5_458_000 + 1_200_000, 600_000), 40_000.0)
    line, sample = cam.ground_to_image(GroundGrid.from_grid(near).xyz)
    assert (np.isfinite(line) & (line > 0) & (line < 64) & (sample > 0) & (sample < 64)).any()
    _, ok = orthorectify(img, None, cam, near)
    assert not ok.any()


def test_true_camera_reproduces_the_surface(tilted):
    cam, grid = tilted
    img, mask = render(cam)
    truth = truth_on_grid(grid)
    for method in ("bilinear", "cubic", "lanczos"):
        vals, ok = orthorectify(img, mask, cam, grid, resampling=method)
        assert ok.sum() > 5000
        r = np.corrcoef(vals[ok], truth[ok])[0, 1]
        assert r >= 0.99, (method, r)
        assert np.abs(vals[ok] - truth[ok]).mean() < 0.004, method


def test_dem_heights_are_used():
    from pipeline.geometry.dem import Dem

    cam = camera(180.0, 0.0, size=(96, 96), gsd_m=200.0, rotvec=(0.25, 0.0, 0.0))  # oblique view
    grid = MapGrid.from_bounds("farside_eqc", (-40_000, -40_000, 40_000, 40_000), 400.0)
    dem_grid = MapGrid.from_bounds("farside_eqc", (-80_000, -80_000, 80_000, 80_000), 1000.0)
    x, y = dem_grid.pixel_centres()
    heights = 2000.0 * np.sin(x / 9000.0) * np.cos(y / 11000.0)
    dem = Dem.from_grid(heights, dem_grid)
    # render through the terrain: ray/DEM intersection of every pixel centre
    line, sample = np.meshgrid(np.arange(96) + 0.5, np.arange(96) + 0.5, indexing="ij")
    from pipeline.geometry.body import xyz_to_lonlat
    from tests.mosaicking.helpers import albedo_xyz

    xyz, hit = cam.image_to_ground_hit(line, sample, dem=dem)
    lon, lat = xyz_to_lonlat(xyz)
    from pipeline.geometry.body import lonlat_to_xyz

    img = albedo_xyz(lonlat_to_xyz(lon, lat)).astype(np.float32)  # albedo of the map position
    truth = truth_on_grid(grid)
    with_dem, ok_d = orthorectify(img, ~hit, cam, grid, dem=dem)
    sphere, ok_s = orthorectify(img, ~hit, cam, grid)
    both = ok_d & ok_s
    err_dem = np.abs(with_dem - truth)[both].mean()
    err_sphere = np.abs(sphere - truth)[both].mean()
    assert err_dem < 0.004
    assert err_dem < 0.5 * err_sphere


def test_bad_arguments():
    cam = camera(180.0, 0.0, size=(32, 32))
    grid = MapGrid.from_bounds("farside_eqc", (-5000, -5000, 5000, 5000), 500.0)
    img = np.zeros((32, 32), np.float32)
    with pytest.raises(ConfigError):
        orthorectify(img, None, cam, grid, resampling="sinc")
    with pytest.raises(ValueError):
        orthorectify(np.zeros((31, 32), np.float32), None, cam, grid)
    with pytest.raises(ValueError):
        orthorectify(img, np.zeros((4, 4), bool), cam, grid)
    with pytest.raises(ValueError):
        warp_frame(img, None, cam)  # neither grid nor ground


def test_result_does_not_depend_on_the_window(tilted):
    """A pixel's value is the same whether computed in a big grid or a small sub-grid."""
    cam, grid = tilted
    img, mask = render(cam)
    for method in ("bilinear", "lanczos"):
        full, ok = orthorectify(img, mask, cam, grid, resampling=method)
        part, ok_p = orthorectify(img, mask, cam, grid[190:260, 230:300], resampling=method)
        assert np.array_equal(ok_p, ok[190:260, 230:300])
        assert np.array_equal(part, full[190:260, 230:300])


def test_sources_and_grids_beyond_opencv_limits():
    """cv2.remap takes int16 coordinates: longer frames (LROC NAC: 52 224 lines) and wider
    output grids still work (scipy for the source, blocks for the destination)."""
    from pipeline.mosaicking import footprint_bbox_xy
    from pipeline.simulation.survey import CameraSpec, nadir_camera

    narrow = CameraSpec(focal_length_mm=700.0, pixel_pitch_mm=0.007, radial_k=(0.0, 0.0, 0.0))  # 10 urad
    cam = nadir_camera(180.0, 0.0, lines=33_000, samples=8, gsd_m=0.5, spec=narrow)
    line_img = np.broadcast_to((np.arange(33_000) + 0.5)[:, None], cam.shape).astype(np.float32)
    (box,) = footprint_bbox_xy(cam, "farside_eqc")
    grid = MapGrid.from_bounds("farside_eqc", box, 1.0)  # ~16 500 rows: the whole strip
    vals, ok = orthorectify(line_img, None, cam, grid)
    line, _ = image_coordinates(cam, GroundGrid.from_grid(grid))
    assert ok.sum() > 10_000
    assert np.abs(vals - line)[ok].max() < 1e-2
    # a destination wider than 32 767 columns, split into blocks
    wide = MapGrid.from_bounds("farside_eqc", (-34_000 * 2.0, -2.0, 0.0, 2.0), 2.0)  # 2 x 34 000
    small = camera(180.0, 0.0, size=(16, 16), gsd_m=2.0)
    vals, ok = orthorectify(np.ones((16, 16), np.float32), None, small, wide)
    assert wide.shape[1] > 32_767 and ok.sum() > 0 and np.all(vals[ok] == 1.0)
