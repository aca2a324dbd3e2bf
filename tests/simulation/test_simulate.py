"""End to end: simulate_survey writes a deterministic survey whose truth reads back."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pdr
import pytest
import tifffile
from astropy.io import fits

from pipeline.geometry import FrameCamera
from pipeline.simulation import load_truth, main_simulate, simulate_survey
from tests.simulation.helpers import SMALL


def _digest(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _read(path):
    if path.suffix == ".tif":
        return tifffile.imread(path)
    if path.suffix == ".fits":
        return fits.getdata(path)
    prod = pdr.read(str(path))
    key = "IMAGE" if "IMAGE" in prod.keys() else "image"  # noqa: SIM118 (pdr's Data is not a dict)
    return np.asarray(prod[key])


def test_same_seed_same_bytes(small_survey, tmp_path):
    out, _ = small_survey
    again = tmp_path / "again"
    simulate_survey(again, **{**SMALL, "workers": 2})  # thread count must not matter
    assert _digest(out) == _digest(again)


def test_layout_and_formats(small_survey):
    out, info = small_survey
    assert len(info.frame_ids) == 6 and set(info.formats) == {"pds3", "pds4", "fits", "tiff"}
    assert len(info.calibration_files) == 15
    kinds = sorted(k.split("_")[0] for k in info.calibration_files)
    assert kinds.count("BIAS") == kinds.count("DARK") == kinds.count("FLAT") == 5
    for fid, files in info.files.items():
        for rel in files:
            assert (out / rel).is_file()
        assert (out / f"{fid}.json").is_file() and (out / "truth" / f"{fid}.json").is_file()
    for name in ("survey.json", "surface.json", "detector.json", "detector.npz", "calibration_config.yaml"):
        assert (out / "truth" / name).is_file()
    assert info.coverage >= 0.99
    assert "light images" in str(info) and "strips x" in str(info)


def test_every_frame_opens_with_its_reader(small_survey):
    out, info = small_survey
    for files in {**info.files, **info.calibration_files}.values():
        data = _read(out / files[0])
        assert data.shape == (96, 96)
        assert data.dtype.kind == "u" and data.dtype.itemsize == 2
        assert 0 < int(data.max()) <= 4095


def test_sidecars_hold_reported_isd(small_survey):
    out, info = small_survey
    truth = load_truth(out)
    for fid in info.frame_ids:
        doc = json.loads((out / f"{fid}.json").read_text())
        assert doc["name_model"] == "USGS_ASTRO_FRAME_SENSOR_MODEL"
        assert doc["image_identifier"] == fid
        fmt = truth.frames[fid]["format"]
        assert ("exposure_duration" in doc) == (fmt == "tiff")
        if fmt == "tiff":
            assert doc["exposure_duration"] == pytest.approx(truth.exposure_s(fid))
            assert doc["frame_type"] == "LIGHT"
        cam = FrameCamera.from_isd(doc)
        assert cam.sun_position_m is not None


def test_truth_round_trip(small_survey):
    out, info = small_survey
    truth = load_truth(out)
    assert truth.frame_ids == info.frame_ids
    # true and reported cameras differ by exactly the recorded errors
    for fid in info.frame_ids:
        true, rep = truth.true_cameras[fid], truth.reported_cameras[fid]
        fixed = rep.with_pointing_correction(-truth.pointing_error_rad(fid),
                                             -np.asarray(truth.frames[fid]["position_error_m"]))
        np.testing.assert_allclose(fixed.position_m, true.position_m, atol=1e-3)
        # first-order inverse of the pointing error: residual far below a pixel
        xyz, _ = true.image_to_ground_hit(np.array(48.0), np.array(48.0))
        line, sample = fixed.ground_to_image(xyz)
        assert abs(line - 48.0) < 0.05 and abs(sample - 48.0) < 0.05
        line, sample = rep.ground_to_image(xyz)
        assert np.hypot(line - 48.0, sample - 48.0) > 0.5  # the error is visible
    # the detector rebuilt from the seed matches the stored float16 copies
    arrays = np.load(out / "truth" / "detector.npz")
    np.testing.assert_allclose(arrays["flat"], truth.detector.flat, atol=2e-3)
    np.testing.assert_allclose(arrays["bias"], truth.detector.bias, atol=0.2)
    # the surface is the one that made the frames: ideal radiance ~ calibrated raw frame
    fid = info.frame_ids[2]
    raw = _read(out / info.files[fid][0]).astype(float)
    det, fr = truth.detector, truth.frames[fid]
    sig = raw - det.bias - fr["defects"]["bias_drift_dn"] - det.dark_rate * fr["exposure_s"]
    good = (det.flat > 0) & ~truth.cosmic_mask(fid) & (raw < 4095)
    radiance = sig / np.where(good, det.flat, 1.0) / fr["exposure_s"] / truth.radiometry.responsivity
    ratio = radiance[good] / truth.true_scene(fid).radiance[good]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)
    assert truth.photometry["lunar_lambert_l"] == 0.5


def test_defects_in_files_where_recorded(small_survey):
    out, info = small_survey
    truth = load_truth(out)
    det = truth.detector
    # hot pixels stand out in the longest dark; dead pixels read the bias in flats
    dark_id = max(
        (k for k in truth.calibration if k.startswith("DARK")), key=lambda k: truth.calibration[k]["exposure_s"]
    )
    dark = _read(out / info.calibration_files[dark_id][0]).astype(float)
    hot = tuple(det.hot.T)
    assert np.all(dark[hot] - det.bias[hot] > 50)
    flat = _read(out / info.calibration_files["FLAT_00"][0]).astype(float)
    dead = tuple(det.dead.T)
    assert np.all(flat[dead] < det.bias[dead] + 20)
    # cosmic rays recorded in light frames are bright in the files
    n_hits = 0
    for fid in info.frame_ids:
        data = _read(out / info.files[fid][0]).astype(float)
        for hit in truth.frames[fid]["defects"]["cosmic_rays"]:
            for (a, b), v in zip(hit["pixels"], hit["dn"]):
                n_hits += 1
                assert data[a, b] >= min(4095.0, v)
        for a, b in truth.frames[fid]["defects"]["saturated"]:
            assert data[a, b] == 4095
    assert n_hits > 0


def test_main_simulate_refuses_non_empty_dir(small_survey, capsys):
    out, _ = small_survey
    assert main_simulate([str(out), "--size", "32"]) == 2


def test_main_simulate_small(tmp_path, capsys):
    rc = main_simulate([str(tmp_path / "s"), "--seed", "1", "--strips", "1", "--frames-per-strip", "2", "--size",
                        "48", "--formats", "tiff", "--no-calibration"])
    assert rc == 0
    assert "2 light images" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "s").glob("*.tif")) == ["FS_S0_F00.tif", "FS_S0_F01.tif"]


def test_rerun_replaces_previous_files(tmp_path):
    simulate_survey(tmp_path, seed=2, n_strips=1, frames_per_strip=2, size=(32, 32), calibration=False,
                    formats=("pds4",))
    assert (tmp_path / "FS_S0_F00.xml").exists()
    (tmp_path / "keep.txt").write_text("mine")
    simulate_survey(tmp_path, seed=2, n_strips=1, frames_per_strip=2, size=(32, 32), calibration=False,
                    formats=("fits",))
    assert not (tmp_path / "FS_S0_F00.xml").exists() and (tmp_path / "FS_S0_F00.fits").exists()
    assert (tmp_path / "keep.txt").read_text() == "mine"
