"""The camera-guided area matcher on two frames with known truth.

Frames are rendered through the *true* cameras (``render_iof``) and matched with *reported*
cameras carrying a known pointing error; a tie point is right when the true cameras put its
two image positions on the same ground.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.frame import Frame, FrameMeta
from pipeline.registration.areamatch import PairMap, match_frames_area, search_radius_px
from pipeline.registration.pairs import MATCHERS
from pipeline.registration.params import RegistrationParams
from pipeline.simulation import Surface, render_iof
from tests.registration.helpers import aimed_camera, nadir_camera

SURFACE = Surface(seed=4, region=(176.0, 184.0, -4.0, 4.0))


def _frame(fid: str, true_cam, reported_cam, *, noise: float = 0.001, seed: int = 0) -> Frame:
    scene = render_iof(true_cam, SURFACE, supersample=2)
    rng = np.random.default_rng(seed)
    data = (scene.iof + rng.normal(0, noise, scene.iof.shape)).astype(np.float32)
    meta = FrameMeta(id=fid, path=Path(f"/synthetic/{fid}.tif"), format="tiff", shape=data.shape, dtype="float32")
    return Frame(meta=meta, camera=reported_cam, data=data, mask=~scene.on_body)


def _pair(*, dlon: float = 0.3, yaw_j: float = 180.0, error_deg=(0.25, -0.2, 0.1), altitude_j: float = 100_000.0,
          size: int = 160):
    """Frame i at 180 E, frame j ``dlon`` degrees east (a 160 px frame at 100 km spans 16 km =
    0.53 deg: overlap ~ 1 - dlon / 0.53), j rotated by ``yaw_j`` and its reported pointing off
    by ``error_deg``."""
    ti = nadir_camera(180.0, 0.0, size=size)
    tj = nadir_camera(180.0 + dlon, 0.05, size=size, yaw_deg=yaw_j, altitude_m=altitude_j)
    rj = tj.with_pointing_correction(np.radians(error_deg))
    return _frame("I", ti, ti, seed=1), _frame("J", tj, rj, seed=2), {"I": ti, "J": tj}


def _tie_errors(m, true):
    line, sample = true["J"].ground_to_image(true["I"].image_to_ground(m.img_i[:, 0], m.img_i[:, 1]))
    return np.hypot(line - m.img_j[:, 0], sample - m.img_j[:, 1])


def test_pair_map_reproduces_the_cameras():
    fi, fj, _ = _pair()
    pm = PairMap.from_cameras(fi.camera, fj.camera, margin_px=10)
    rng = np.random.default_rng(0)
    line, sample = rng.uniform(0, 160, 200), rng.uniform(0, 160, 200)
    lj, sj = fj.camera.ground_to_image(fi.camera.image_to_ground(line, sample))
    ml, ms = pm.at(line, sample)
    assert np.abs(ml - lj).max() < 0.01 and np.abs(ms - sj).max() < 0.01
    dl, ds = pm.dense(np.array([10.5, 80.25]), np.array([3.5, 99.0, 150.5]))
    al, as_ = pm.at(*np.meshgrid([10.5, 80.25], [3.5, 99.0, 150.5], indexing="ij"))
    np.testing.assert_allclose(dl, al, atol=1e-9)
    np.testing.assert_allclose(ds, as_, atol=1e-9)


def test_pair_map_through_a_dem_predicts_the_relief_parallax():
    """Two views 30 deg apart over a 2 km dome: the map through the DEM puts points of the
    dome's surface where the other camera sees them; the sphere's map is off by the
    parallax (height x the tangents of the two view angles)."""
    from affine import Affine

    from pipeline.geometry.body import lonlat_to_xyz_deg
    from pipeline.geometry.dem import Dem

    step = 0.005
    lon = np.arange(178.0, 182.0, step) + step / 2
    lat = np.arange(2.0, -2.0, -step) - step / 2
    lo, la = np.meshgrid(lon, lat)
    dome = 2000.0 * np.exp(-((lo - 180.0) ** 2 + la ** 2) / 0.05)
    dem = Dem.from_array(dome, Affine(step, 0, 178.0, 0, -step, 2.0), datum_radius_m=1737400.0)
    cam_r = nadir_camera(179.1145, 0.0, size=160, tilt_deg=(0.0, 15.0))  # looks 0.8855 deg east
    cam_s = nadir_camera(180.8855, 0.0, size=160, tilt_deg=(0.0, -15.0))  # and west: both at the dome
    rng = np.random.default_rng(0)
    plon, plat = rng.uniform(179.95, 180.05, 300), rng.uniform(-0.05, 0.05, 300)
    xyz = lonlat_to_xyz_deg(plon, plat, dem.height_m(np.radians(plon), np.radians(plat)))
    lr, sr = cam_r.ground_to_image(xyz)
    ls, ss = cam_s.ground_to_image(xyz)
    ok = (lr > 0) & (lr < 160) & (sr > 0) & (sr < 160) & (ls > 0) & (ls < 160) & (ss > 0) & (ss < 160)
    assert ok.sum() > 100
    through = PairMap.from_cameras(cam_r, cam_s, margin_px=10, dem=dem)
    sphere = PairMap.from_cameras(cam_r, cam_s, margin_px=10)
    err_dem = np.hypot(*(np.subtract(through.at(lr[ok], sr[ok]), (ls[ok], ss[ok]))))
    err_sphere = np.hypot(*(np.subtract(sphere.at(lr[ok], sr[ok]), (ls[ok], ss[ok]))))
    assert np.percentile(err_dem, 90) < 0.05, np.percentile(err_dem, 90)  # measured 0.020 px
    assert np.median(err_sphere) > 2.0, np.median(err_sphere)  # measured 10.4 px


@pytest.mark.parametrize("yaw_j", [0.0, 180.0, 35.0])
def test_tie_points_agree_with_truth_whatever_the_rotation(yaw_j):
    fi, fj, true = _pair(yaw_j=yaw_j)
    cfg = RegistrationParams()
    m = match_frames_area(fi, fj, cfg, seed=0)
    assert len(m) >= 100, (m.reason, m.coarse)
    err = _tie_errors(m, true)
    assert np.median(err) < 0.12 and np.percentile(err, 90) < 0.3, (np.median(err), np.percentile(err, 90))
    # the pointing error is seen: the a-priori positions in J are several pixels off
    pred_l, pred_s = fj.camera.ground_to_image(fi.camera.image_to_ground(m.img_i[:, 0], m.img_i[:, 1]))
    assert np.median(np.hypot(pred_l - m.img_j[:, 0], pred_s - m.img_j[:, 1])) > 3.0
    assert np.all(m.ncc >= cfg.min_ncc)


def test_order_and_reference_choice_do_not_matter():
    # j from 130 km: coarser, so it becomes the reference; the output stays in (i, j) order
    fi, fj, true = _pair(altitude_j=130_000.0, dlon=0.3)
    cfg = RegistrationParams()
    m = match_frames_area(fi, fj, cfg, seed=0)
    assert len(m) >= 50, m.reason
    assert m.resolution_m == pytest.approx(fj.camera.gsd_m())
    err = _tie_errors(m, true)
    assert np.median(err) < 0.15 and np.percentile(err, 90) < 0.35
    back = match_frames_area(fj, fi, cfg, seed=0)
    np.testing.assert_allclose(np.median(back.img_j, axis=0), np.median(m.img_i, axis=0), atol=2.0)


def test_a_constant_scan_border_does_not_pull_the_match():
    fi, fj, true = _pair()
    data = fj.data.copy()
    data[:, :14] = 0.0  # a black border on the side that overlaps frame i
    data[:10, :] = 0.0
    fj = fj.replace(data=data)
    m = match_frames_area(fi, fj, RegistrationParams(), seed=0)
    assert len(m) >= 50, (m.reason, m.coarse)
    err = _tie_errors(m, true)
    assert np.percentile(err, 90) < 0.3
    assert np.all(m.img_j[:, 1] > 14 + 5)  # nothing on the border


def test_narrow_overlap_shrinks_the_window():
    fi, fj, true = _pair(dlon=0.46)  # about 13 % of a 160 px frame: a strip ~ 20 px wide
    m = match_frames_area(fi, fj, RegistrationParams(), seed=0)
    assert len(m) >= 12, (m.reason, m.coarse)
    assert m.coarse["window_px"] < 21
    assert np.percentile(_tie_errors(m, true), 90) < 0.3


def test_reasons_when_there_is_nothing_to_match():
    fi, fj, _ = _pair(dlon=0.8)  # no overlap
    m = match_frames_area(fi, fj, RegistrationParams())
    assert len(m) == 0 and "do not overlap" in m.reason
    fi, fj, _ = _pair(error_deg=(1.5, -1.5, 0.0))  # ~37 px: beyond the search radius for 0.3 deg
    cfg = RegistrationParams()
    assert search_radius_px(fi.camera, cfg.pointing_sigma_deg) < 37
    m = match_frames_area(fi, fj, cfg)
    assert len(m) == 0 and m.reason
    m = match_frames_area(fi, fj, cfg.model_copy(update={"pointing_sigma_deg": 0.8}))
    assert len(m) >= 50, m.reason


def test_search_radius_follows_the_pointing_prior():
    cam = nadir_camera(180.0, 0.0)  # focal 1000 px
    expected = math.ceil(math.sqrt(2) * math.tan(math.radians(0.9)) * 1000.0) + 3
    assert search_radius_px(cam, 0.3) == expected


def test_matcher_registry_matches_the_config_choices():
    choices = RegistrationParams.model_fields["matcher"].annotation.__args__
    assert set(MATCHERS) == set(choices)
    assert RegistrationParams().matcher == "area"


def test_tie_points_through_a_rough_dem_between_opposite_oblique_views():
    """Views from opposite sides at about 45 and 30 deg emission over relief rough at the pixel
    scale (100 m RMS, 180 m correlation): the search image is the reference image carried
    through the exact geometry (each pixel's ray onto the DEM, then into the reference), so the
    images agree by construction and a tie point's error is the matcher's alone. Evaluating the
    map through the DEM at every patch pixel keeps them right (measured 0.17 px median / 0.42 px
    p90, 150 points); the affine patch of the map at its centre was off by 0.47 / 1.07 px."""
    import cv2
    from affine import Affine
    from scipy import ndimage

    from pipeline.geometry.dem import Dem
    from pipeline.simulation.terrain import Terrain

    step = 0.001
    rng = np.random.default_rng(0)
    h = ndimage.gaussian_filter(rng.normal(size=(1200, 1200)), 6.0)
    dem = Dem.from_array(h * (100.0 / h.std()), Affine(step, 0, 179.4, 0, -step, 0.6), datum_radius_m=1737400.0)

    cam_r, cam_s = aimed_camera(40.0), aimed_camera(-28.0)
    scene = render_iof(cam_r, SURFACE, supersample=2, terrain=Terrain(dem), shadows=False)
    ll, ss = np.meshgrid(np.arange(160) + 0.5, np.arange(160) + 0.5, indexing="ij")
    xyz, hit = cam_s.image_to_ground_hit(ll, ss, dem=dem)
    lr, sr = cam_r.ground_to_image(np.where(hit[..., None], xyz, 1737400.0))
    img_s = cv2.remap(scene.iof, (sr - 0.5).astype(np.float32), (lr - 0.5).astype(np.float32), cv2.INTER_CUBIC)
    seen = hit & (lr > 2) & (lr < 158) & (sr > 2) & (sr < 158)

    def frame(fid, cam, data, bad):
        meta = FrameMeta(id=fid, path=Path(f"/synthetic/{fid}.tif"), format="tiff", shape=data.shape,
                         dtype="float32")
        return Frame(meta=meta, camera=cam, data=data.astype(np.float32), mask=bad)

    m = match_frames_area(frame("R", cam_r, scene.iof, ~scene.on_body), frame("S", cam_s, img_s, ~seen),
                          RegistrationParams(), seed=0, dem=dem)
    assert len(m) >= 100, (m.reason, m.coarse)
    xyz, _ = cam_s.image_to_ground_hit(m.img_j[:, 0], m.img_j[:, 1], dem=dem)
    err = np.hypot(*(np.subtract(cam_r.ground_to_image(xyz), (m.img_i[:, 0], m.img_i[:, 1]))))
    assert np.median(err) < 0.25 and np.percentile(err, 90) < 0.6, (np.median(err), np.percentile(err, 90))
