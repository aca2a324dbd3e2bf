"""A survey mixing frames, line-scan and push-frame strips: files, ISDs, truth, determinism."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from pipeline.geometry import load_camera
from pipeline.geometry.body import xyz_to_lonlat_deg
from pipeline.geometry.cameras.linescan import LineScanCamera
from pipeline.geometry.cameras.pushframe import PushFrameCamera
from pipeline.geometry.scan_math import rotvec_matrices
from pipeline.io.frames import read_meta, read_pixels
from pipeline.simulation import load_truth, simulate_survey
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scanplan import StripPlan, reported_scan_isd, true_scan_camera
from pipeline.simulation.scantruth import (
    pair_misregistration_px,
    pointing_error_rotvec,
    scan_bad_pixel_mask,
    scan_detector_of,
    strip_ids,
)

MIXED = {
    "seed": 11, "n_strips": 2, "frames_per_strip": 2, "size": (64, 64), "workers": 1,
    "linescan": LineScanParams(n_strips=2, lines=240, samples=96, position_error_m=300.0),
    "pushframe": PushFrameParams(n_framelets=12, samples=96),
}  # fmt: skip
"""4 frames of 64^2 + 2 line-scan strips of 240 x 96 + 1 push-frame strip of 12 framelets x 14 x 96."""


def _digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("scan") / "survey"
    info = simulate_survey(out, **MIXED)
    return out, info, load_truth(out)


def _residual_angle(true, reported, rotvec, t) -> np.ndarray:
    """Angle (rad) of ``R(rotvec)^T true^T reported`` at times ``t`` (0: reported = true @ R(rotvec))."""
    rel = np.einsum("tji,tjk->tik", true.cam_to_body_at_time(t), reported.cam_to_body_at_time(t))
    r = np.einsum("tji,tjk->tik", rotvec_matrices(rotvec), rel)
    skew = np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], axis=1)
    return np.arctan2(0.5 * np.linalg.norm(skew, axis=1), 0.5 * (np.trace(r, axis1=1, axis2=2) - 1.0))


def _grid(cam, n=9):
    ll, ss = np.meshgrid(np.linspace(0.5, cam.lines - 0.5, n), np.linspace(0.5, cam.samples - 0.5, n), indexing="ij")
    return ll, ss


def test_strips_are_written_with_ale_isd_sidecars(mixed):
    out, info, truth = mixed
    assert strip_ids(truth) == ["LS_S0", "LS_S1", "PF_S0"] and info.frame_ids[-3:] == ["LS_S0", "LS_S1", "PF_S0"]
    for sid, cls, model in (("LS_S0", LineScanCamera, "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL"),
                            ("LS_S1", LineScanCamera, "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL"),
                            ("PF_S0", PushFrameCamera, "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL")):  # fmt: skip
        f = truth.frames[sid]
        data = next(out / p for p in f["files"] if not p.endswith(".json") and not p.endswith(".xml")) if (
            f["format"] != "pds4") else next(out / p for p in f["files"] if p.endswith(".xml"))  # fmt: skip
        meta = read_meta(data)
        pixels, _ = read_pixels(meta)
        isd = json.loads((out / f"{sid}.json").read_text())
        assert isd["name_model"] == model and "scan_corrections" not in isd["farside"]
        cam = load_camera(out / f"{sid}.json")
        assert isinstance(cam, cls) and cam.shape == pixels.shape == tuple(f["shape"])
        assert meta.exposure_s == pytest.approx(f["exposure_s"]) and 0 < f["exposure_s"] <= f["period_s"]
        assert isinstance(truth.true_cameras[sid], cls) and isinstance(truth.reported_cameras[sid], cls)
    pf = truth.true_cameras["PF_S0"]
    assert (pf.framelet_height, pf.n_framelets, pf.lines) == (14, 12, 168)
    assert json.loads((out / "PF_S0.json").read_text())["image_lines"] == 168


def test_truth_and_reported_isds_round_trip_through_load_camera(mixed):
    _, _, truth = mixed
    for sid in strip_ids(truth):
        strip = StripPlan.from_dict(truth.frames[sid])
        kind = strip.kind
        p = truth.survey["scan"][kind]["params"]
        params = (LineScanParams if kind == "line-scan" else PushFrameParams).from_dict(p)
        true_cam = true_scan_camera(strip, params)  # rebuilt from the plan in the truth
        rep_cam = load_camera(reported_scan_isd(strip, params, true_cam))
        ll, ss = _grid(true_cam)
        for a, b in ((truth.true_cameras[sid], true_cam), (truth.reported_cameras[sid], rep_cam)):
            assert np.abs(a.image_to_ground(ll, ss) - b.image_to_ground(ll, ss)).max() < 1e-6
            again = load_camera(a.to_isd())
            assert np.abs(again.image_to_ground(ll, ss) - a.image_to_ground(ll, ss)).max() < 1e-6
        planned = load_truth(truth.outdir, reported_from_sidecars=False).reported_cameras[sid]  # from the plan
        assert np.abs(planned.image_to_ground(ll, ss) - rep_cam.image_to_ground(ll, ss)).max() < 1e-6
        if kind == "line-scan":  # ground -> image inverts image -> ground on the reported camera
            gl, gs = truth.reported_cameras[sid].ground_to_image(truth.reported_cameras[sid].image_to_ground(ll, ss))
            assert max(np.abs(gl - ll).max(), np.abs(gs - ss).max()) < 1e-6


def test_reported_minus_true_is_the_documented_polynomial(mixed):
    _, _, truth = mixed
    for sid in strip_ids(truth):
        true, rep = truth.true_cameras[sid], truth.reported_cameras[sid]
        half = true.half_duration_s
        t = np.linspace(-1.05 * half, 1.05 * half, 997)
        expected = pointing_error_rotvec(truth, sid, t)
        angle = _residual_angle(true, rep, expected, t)
        assert angle.max() < 1e-9, (sid, angle.max())
        assert np.degrees(np.abs(expected).max()) > 0.05  # a real error: >= 0.05 deg constant
        p0 = np.asarray(truth.frames[sid]["position_error_m"][0])
        dp = rep.position_at_time(t) - true.position_at_time(t)
        assert np.abs(dp - p0).max() < 1e-6
        assert (np.linalg.norm(p0) == pytest.approx(300.0)) == (truth.frames[sid]["kind"] == "line-scan")


def test_ckdegree_one_correction_recovers_the_true_cameras(mixed):
    _, _, truth = mixed
    c = np.radians
    fixed = dict(truth.reported_cameras)
    for sid in strip_ids(truth):
        f = truth.frames[sid]
        fixed[sid] = fixed[sid].with_pointing_correction(-c(np.asarray(f["pointing_error_deg"])),
                                                         -np.asarray(f["position_error_m"]))  # fmt: skip
    for a, b in (("LS_S0", "LS_S1"), ("LS_S1", "PF_S0"), ("PF_S0", "LS_S0"), ("LS_S0", "FS_S0_F00"),
                 ("FS_S1_F01", "LS_S1")):  # fmt: skip
        truth_d = pair_misregistration_px(truth, a, b)
        reported_d = pair_misregistration_px(truth, a, b, truth.reported_cameras)
        fixed_d = pair_misregistration_px(truth, a, b, fixed)
        assert truth_d.size > 10, (a, b)
        assert np.nanmax(truth_d) < 1e-6, (a, b)
        assert np.nanpercentile(reported_d, 90) > 1.0, (a, b)
        if "FS_" not in a + b:  # frames keep their own (uncorrected) reported errors
            assert np.nanmax(fixed_d) < 1e-3, (a, b, np.nanmax(fixed_d))


def test_strip_side_overlap_and_geometry(mixed):
    _, _, truth = mixed
    block = truth.survey["scan"]["line-scan"]
    assert block["strips"] == ["LS_S0", "LS_S1"]
    assert 0.22 <= block["measured_side_overlap"][0] <= 0.28  # planned 25 %
    ls = truth.true_cameras["LS_S0"]
    assert ls.gsd_m() == pytest.approx(50.0, rel=0.05)
    # non-mirrored north-bound strip: lines advance north, samples go west
    lon, lat = xyz_to_lonlat_deg(ls.image_to_ground([0.5, 239.5, 120.0], [48.0, 48.0, 95.5]))
    assert lat[1] > lat[0] and ((lon[2] - lon[0] + 180) % 360 - 180) < 0
    # the truth's correspondences between neighbouring strips (sphere): the east edge of LS_S0
    # (low samples; LS_S0 is the western strip) is the west edge of LS_S1 (high samples)
    ll, ss = np.meshgrid(np.arange(10.0, 240.0, 20.0), np.arange(0.5, 24.0, 4.0), indexing="ij")
    lb, sb, ok = truth.true_correspondence("LS_S0", "LS_S1", ll, ss)
    assert ok.sum() > 20 and np.all(sb[ok] > 56) and np.all(np.abs(lb[ok] - ll[ok]) < 3)
    assert np.nanmax(truth.misregistration_px("LS_S0", ll[ok], ss[ok], "LS_S1", lb[ok], sb[ok])) < 1e-6


def test_scan_detectors_are_per_column_and_per_framelet(mixed):
    out, _, truth = mixed
    ls = scan_detector_of(truth, "line-scan")
    assert ls.shape == (240, 96) and np.all(ls.flat == ls.flat[0]) and np.all(ls.dark_rate == ls.dark_rate[0])
    dead = np.flatnonzero(scan_bad_pixel_mask(truth, "LS_S0").all(axis=0) & (ls.flat[0] == 0))
    assert dead.size >= 1
    dn = read_pixels(read_meta(out / "LS_S0.IMG"))[0]
    assert np.abs(np.median(dn[:, dead] - ls.bias[:, dead])) < 3  # dead columns read the bias
    for hit in truth.frames["LS_S0"]["defects"]["cosmic_rays"]:
        assert len({a for a, _ in hit["pixels"]}) == 1  # a line detector: a hit stays on its line
    pf = scan_detector_of(truth, "push-frame")
    assert np.array_equal(pf.flat[:14], pf.flat[14:28]) and not np.array_equal(pf.flat[0], pf.flat[1])
    for hit in truth.frames["PF_S0"]["defects"]["cosmic_rays"]:
        assert len({a // 14 for a, _ in hit["pixels"]}) == 1  # one framelet exposure
    assert truth.cosmic_mask("LS_S0").shape == (240, 96)
    bias = read_pixels(read_meta(out / "calibration/linescan/LS_BIAS_00.IMG"))[0]
    assert np.abs(np.median(bias - ls.bias, axis=0)).max() < 1.5
    assert len(truth.frames["PF_S0"]["framelet_bias_drift_dn"]) == 12


def test_true_scene_rerenders_the_strips(mixed):
    _, _, truth = mixed
    for sid in ("LS_S1", "PF_S0"):
        scene = truth.true_scene(sid)
        assert round(float(np.nanmean(scene.iof)), 6) == truth.frames[sid]["iof_mean"]


def test_scan_surveys_are_deterministic(mixed, tmp_path):
    out, _, _ = mixed
    again = tmp_path / "again"
    simulate_survey(again, **MIXED)
    assert _digests(again) == _digests(out)


def test_strips_only_survey_has_no_frames(tmp_path):
    out = tmp_path / "ls"
    info = simulate_survey(out, seed=2, frames=False, calibration=False, workers=1,
                           linescan=LineScanParams(n_strips=2, lines=64, samples=32, jitter_in_isd=False))  # fmt: skip
    truth = load_truth(out)
    assert info.frame_ids == ["LS_S0", "LS_S1"] and truth.detector is None
    assert not list(out.glob("FS_*")) and not (out / "calibration").exists()
    # unmodelled jitter: reported - true is no longer the polynomial alone
    t = np.linspace(-1, 1, 50) * truth.true_cameras["LS_S0"].half_duration_s
    angle = np.degrees(_residual_angle(truth.true_cameras["LS_S0"], truth.reported_cameras["LS_S0"],
                                       pointing_error_rotvec(truth, "LS_S0", t), t))  # fmt: skip
    assert 0.002 < angle.max() < 0.04  # the 0.02 deg jitter (+ 0.01 deg drift) is left
