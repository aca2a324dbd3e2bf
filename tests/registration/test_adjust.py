"""Bundle adjustment on a synthetic survey with known truth (the simulation package's
planner and renderer), pointing errors injected into the reported cameras.

Misregistration is measured against truth (``registration_helpers``):

- *seam*: where two frames overlap, the ground distance between where the two adjusted
  cameras put the same ground point, in pixels: what a mosaic seam shows;
- *rigid*: a grid of image points of every frame projected through the adjusted vs the
  true camera, after removing the network's common motion (east/north translation and
  rotation about the vertical = the common rotation only the priors fix).
"""

from __future__ import annotations

import csv
import json
import math
import pickle

import numpy as np
import pytest

from pipeline import api
from pipeline.config import Config, RunParams
from pipeline.geometry import FrameCamera
from pipeline.geometry.overlap import overlap_pairs
from pipeline.registration import (
    PairMatches,
    adjust,
    match_pair,
    write_adjusted_isds,
    write_control_network,
)
from pipeline.registration.params import RegistrationParams
from tests.registration.helpers import (
    make_survey,
    misregistration_px,
    nadir_camera,
    rigid_misregistration_px,
    seam_misregistration_px,
)


def register(frames, params: RegistrationParams, seed: int = 0):
    """``pipeline.api.register`` with these registration parameters and run seed."""
    return api.register(frames, Config(registration=params, run=RunParams(seed=seed)))


def _assert_registered(survey, result, *, p90=0.2):
    assert result.stats.n_tied == len(survey.frames)
    assert result.stats.n_components == 1
    assert all(s.status == "tied" for s in result.status.values())
    seam = seam_misregistration_px(survey.true, result.cameras)
    rigid, translation, twist = rigid_misregistration_px(survey.true, result.cameras)
    assert np.percentile(seam, 90) <= p90, np.percentile(seam, 90)
    assert np.percentile(rigid, 90) <= p90, np.percentile(rigid, 90)
    return seam, rigid, translation, twist


def test_register_survey_meets_targets(survey, survey_matches, cfg):
    _, matches = survey_matches
    result = adjust(survey.reported, matches, cfg)
    seam0 = seam_misregistration_px(survey.true, survey.reported)
    assert np.percentile(seam0, 90) > 2.0  # the injected errors are visible before
    _seam, _rigid, translation, twist = _assert_registered(survey, result)
    st = result.stats
    assert st.rms_before_px > 1.0
    assert st.rms_after_px < 0.15
    assert st.converged and not st.absolute_control
    # common motion within what the priors allow: sigma / sqrt(N) per axis (3 sigma bound)
    n = len(survey.frames)
    bound = 3 * math.radians(cfg.pointing_sigma_deg) / math.sqrt(n)
    gsd, alt = survey.plan.gsd_m, survey.plan.altitude_m
    assert np.all(np.abs(translation) * gsd / alt <= bound)
    assert abs(twist) <= bound
    assert st.common_rotation_sigma_deg == pytest.approx(cfg.pointing_sigma_deg / math.sqrt(n))
    assert any("limited by the pointing priors" in note for note in result.notes)
    # corrections undo the injected errors up to the common rotation (~0.1 deg here)
    for fid, corr in result.corrections.items():
        assert np.linalg.norm(np.array(corr.rotvec_rad) + survey.errors[fid]) < math.radians(0.25)
    for fid, s in result.status.items():
        assert s.n_tie_points >= cfg.min_tie_points
        assert s.rms_after_px < s.rms_before_px


def test_register_end_to_end_is_deterministic_and_picklable(survey, survey_matches, cfg):
    # register() = overlap_pairs + match_pair per pair + adjust: same seed, same numbers
    r1 = register(survey.frames, cfg, seed=0)
    r2 = adjust(survey.reported, survey_matches[1], cfg)
    assert r1.stats == r2.stats
    for fid in r1.cameras:
        np.testing.assert_array_equal(r1.cameras[fid].cam_to_body, r2.cameras[fid].cam_to_body)
    r3 = pickle.loads(pickle.dumps(r1))
    assert r3.stats == r1.stats and set(r3.cameras) == set(r1.cameras)
    _assert_registered(survey, r1)


def test_match_pair_value_is_picklable_and_maps_to_the_same_ground(survey, survey_matches):
    _pairs, matches = survey_matches
    m = max(matches, key=len)
    assert isinstance(m, PairMatches) and m.ok and m.id_i and m.id_j
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.img_i, m.img_i)
    # with the TRUE cameras both observations of a tie point see the same ground (<0.3 px)
    ti, tj = survey.true[m.id_i], survey.true[m.id_j]
    xi = ti.image_to_ground(m.img_i[:, 0], m.img_i[:, 1])
    line, sample = tj.ground_to_image(xi)
    err = np.hypot(line - m.img_j[:, 0], sample - m.img_j[:, 1])
    assert np.median(err) < 0.1 and np.percentile(err, 90) < 0.3
    assert m.resolution_m == pytest.approx(survey.plan.gsd_m, rel=0.1)


def test_converges_with_half_degree_errors():
    survey = make_survey(error_deg=(0.4, 0.5), seed=1)
    cfg = RegistrationParams(points="surface")  # a world on the sphere (free points: see conftest.cfg)
    result = register(survey.frames, cfg, seed=0)
    assert np.percentile(seam_misregistration_px(survey.true, survey.reported), 90) > 5
    _assert_registered(survey, result)


def test_converges_with_ten_percent_gross_outliers(survey, survey_matches, cfg):
    _, matches = survey_matches
    rng = np.random.default_rng(0)
    corrupted, n_bad = [], 0
    for m in matches:
        if not len(m):
            corrupted.append(m)
            continue
        img_j = m.img_j.copy()
        k = max(1, round(0.1 * len(m)))
        bad = rng.choice(len(m), k, replace=False)
        img_j[bad] += rng.uniform(5, 40, (k, 2)) * rng.choice([-1, 1], (k, 2))
        n_bad += k
        corrupted.append(PairMatches(m.i, m.j, m.img_i, img_j, m.score, m.id_i, m.id_j))
    result = adjust(survey.reported, corrupted, cfg)
    _assert_registered(survey, result)
    assert result.stats.n_outliers + 2 * result.stats.n_inconsistent_tracks >= n_bad


def test_solving_positions_too():
    survey = make_survey(error_deg=(0.1, 0.3), position_error_m=500.0, seed=2)
    cfg = RegistrationParams(position_sigma_m=500.0, points="surface")
    pairs = overlap_pairs([f.camera for f in survey.frames])
    matches = [match_pair(survey.frames[p.i], survey.frames[p.j], p, cfg, seed=0) for p in pairs]
    pointing_only = adjust(survey.reported, matches, RegistrationParams(points="surface"))
    result = adjust(survey.reported, matches, cfg)
    seam_p = np.percentile(seam_misregistration_px(survey.true, pointing_only.cameras), 90)
    seam = np.percentile(seam_misregistration_px(survey.true, result.cameras), 90)
    assert seam <= 0.2 < seam_p  # altitude errors need position offsets
    assert all(np.any(np.array(c.position_offset_m) != 0) for c in result.corrections.values())


def test_unmatched_and_missing_frames_are_reported(survey, survey_matches, cfg):
    _, matches = survey_matches
    cams = dict(survey.reported)
    cams["lonely"] = nadir_camera(170.0, 5.0)
    cams["blind"] = None
    kept = adjust(cams, matches, cfg)
    assert kept.status["lonely"].status == "prior"
    assert "no tie points" in kept.status["lonely"].reason
    assert kept.cameras["lonely"] is cams["lonely"]
    assert kept.status["blind"].status == "excluded" and "blind" not in kept.cameras
    excl = adjust(cams, matches, cfg.model_copy(update={"unmatched": "exclude"}))
    assert excl.status["lonely"].status == "excluded" and "lonely" not in excl.cameras
    assert excl.frames_with("tied") == list(survey.reported)


def test_disabled_keeps_prior_cameras(survey):
    result = register(survey.frames, RegistrationParams(enabled=False))
    assert all(result.cameras[f.id] is f.camera for f in survey.frames)
    assert all(s.status == "prior" for s in result.status.values())


def test_no_matches_at_all(survey, cfg):
    result = adjust(survey.reported, [PairMatches.empty(0, 1, "nothing", id_i="a", id_j="b")], cfg)
    assert result.stats.n_tied == 0
    assert all(s.status == "prior" for s in result.status.values())


def test_writers(tmp_path, survey, survey_matches, cfg):
    _, matches = survey_matches
    result = adjust(survey.reported, matches, cfg)
    path = write_control_network(result.network, tmp_path / "net" / "control.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(result.network) > 100
    assert set(rows[0]) == {"point_id", "frame_id", "line", "sample", "lon_deg", "lat_deg",
                            "residual_before_px", "residual_after_px", "outlier", "control"}
    used = [r for r in rows if r["outlier"] == "0"]
    assert max(float(r["residual_after_px"]) for r in used) < cfg.outlier_px
    lon = np.array([float(r["lon_deg"]) for r in rows])
    assert np.all(np.abs(np.abs(lon) - 180) < 2)
    paths = write_adjusted_isds(result.cameras, tmp_path / "isd")
    assert len(paths) == len(result.cameras)
    fid = paths[0].stem
    back = FrameCamera.from_isd(json.loads(paths[0].read_text()))
    np.testing.assert_allclose(back.cam_to_body, result.cameras[fid].cam_to_body, atol=1e-12)
    with pytest.raises(FileExistsError):
        write_adjusted_isds(result.cameras, tmp_path / "isd")
    assert len(write_adjusted_isds(result.cameras, tmp_path / "isd", overwrite=True)) == len(paths)


def test_translation_only_misregistration_reported(survey, survey_matches, cfg):
    """The brief's measure (remove only the common translation) is reported, not asserted:
    the network's common twist (rotation about the vertical) is fixed only by the priors."""
    _, matches = survey_matches
    result = adjust(survey.reported, matches, cfg)
    rel_before, _ = misregistration_px(survey.true, survey.reported)
    rel_after, _ = misregistration_px(survey.true, result.cameras)
    assert np.percentile(rel_after, 90) < np.percentile(rel_before, 90) / 5


def test_fast_projection_equals_corrected_camera():
    """The batched frame-camera projection (one ground_to_image for every frame sharing
    intrinsics) equals each corrected camera's own ground_to_image."""
    from pipeline.registration.bundle.cameras import FrameKind

    cams = [nadir_camera(180.2, 0.3, tilt_deg=(1.0, -0.5), yaw_deg=20, radial_k1=1e-3),
            nadir_camera(180.5, -0.2, tilt_deg=(-0.7, 0.2), yaw_deg=-10, radial_k1=1e-3)]
    kind = FrameKind()
    assert kind.group_key(cams[0]) == kind.group_key(cams[1])
    xyz = np.concatenate([c.image_to_ground(np.array([10.0, 100, 150]), np.array([20.0, 90, 180])) for c in cams])
    frame = np.repeat([0, 1], 3)
    w = np.array([[[0.003, -0.002, 0.004]], [[-0.001, 0.002, 0.0005]]])
    d = np.array([[[120.0, -80, 300]], [[-50.0, 20, -100]]])
    got = kind.project(cams, frame, w, d, xyz)
    for f, cam in enumerate(cams):
        want = np.stack(cam.with_pointing_correction(w[f, 0], d[f, 0]).ground_to_image(xyz[frame == f]), axis=1)
        np.testing.assert_allclose(got[frame == f], want, atol=1e-8)


def test_scipy_solver_reaches_the_same_minimum(survey, survey_matches, cfg):
    # the same problem for both: no observation near an outlier threshold decides differently
    cfg = cfg.model_copy(update={"outlier_px": 1e6, "outlier_sigma": 1e6})
    schur = adjust(survey.reported, survey_matches[1], cfg)
    scipy_ = adjust(survey.reported, survey_matches[1], cfg.model_copy(update={"solver": "scipy"}))
    assert scipy_.stats.n_observations == schur.stats.n_observations
    assert scipy_.stats.rms_after_px == pytest.approx(schur.stats.rms_after_px, rel=1e-3)
    for fid, c in schur.corrections.items():
        np.testing.assert_allclose(scipy_.corrections[fid].rotvec_rad, c.rotvec_rad, atol=math.radians(1e-4))


@pytest.mark.parametrize("loss", ["linear", "soft_l1", "cauchy", "arctan"])
def test_other_robust_losses_converge(survey, survey_matches, cfg, loss):
    result = adjust(survey.reported, survey_matches[1], cfg.model_copy(update={"robust_loss": loss}))
    _assert_registered(survey, result)


def test_config_validation():
    from pipeline.errors import ConfigError

    with pytest.raises(ValueError, match="odd"):
        RegistrationParams(ncc_window_px=20)
    with pytest.raises(ValueError, match="unknown detector"):
        RegistrationParams(detector="surf")
    with pytest.raises(ValueError):
        RegistrationParams(robust_loss="tukey")
    assert RegistrationParams(detector="orb").detector == "orb"
    assert issubclass(ConfigError, ValueError)
