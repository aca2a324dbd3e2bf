"""Adjusted cameras written for usgscsm-based tools (issue 22).

The written ISDs are read back two ways and image -> ground compared with the adjusted
camera to <= 1e-6 m: by farside (``FrameCamera.from_file``) and by an independent transcription
of usgscsm's ``UsgsAstroFrameSensorModel`` (``constructStateFromIsd`` + ``imageToGround``,
DOI-USGS/usgscsm at ba32d13), which ignores ``unit`` keys (km everywhere), composes
``body_rotation x instrument_pointing^-1`` and looks along ``(x, y, f)``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.errors import MosaicError
from pipeline.geometry import FrameCamera
from pipeline.geometry.rotation import quat_to_matrix
from pipeline.io.cameras import write_cameras
from pipeline.simulation.survey import nadir_camera


# ------------------------------------------------------------------ usgscsm, transcribed
def _usgscsm_rotation(block: dict) -> np.ndarray:
    """ALE ``Orientations`` at its only entry: constant_rotation x R(q), q = (w, x, y, z)."""
    (q,) = block["quaternions"]
    const = np.asarray(block.get("constant_rotation", np.eye(3).ravel()), float).reshape(3, 3)
    return const @ quat_to_matrix(q)


def usgscsm_image_to_ground(isd: dict, line: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Ground points (body-fixed m, height 0) as usgscsm computes them (radial distortion only)."""
    k0, k1, k2 = isd["optical_distortion"]["radial"]["coefficients"]
    body = _usgscsm_rotation(isd["body_rotation"])  # J2000 -> target
    pointing = _usgscsm_rotation(isd["instrument_pointing"])  # J2000 -> sensor
    m = body @ pointing.T  # sensor -> target
    (pos,) = isd["instrument_position"]["positions"]
    centre = body @ np.asarray(pos, float) * 1000.0  # "ALE operates in km and we want m"
    a = isd["radii"]["semimajor"] * 1000.0
    b = isd["radii"]["semiminor"] * 1000.0
    f = isd["focal_length_model"]["focal_length"]
    il, is_ = isd["focal2pixel_lines"], isd["focal2pixel_samples"]
    det_l = line * isd["detector_line_summing"] + isd["starting_detector_line"]
    det_s = sample * isd["detector_sample_summing"] + isd["starting_detector_sample"]
    t1 = det_l - isd["detector_center"]["line"] - il[0]
    t2 = det_s - isd["detector_center"]["sample"] - is_[0]
    det = il[1] * is_[2] - il[2] * is_[1]
    x = (is_[2] * t1 - il[2] * t2) / det
    y = (-is_[1] * t1 + il[1] * t2) / det
    rr = x * x + y * y  # removeDistortion, RADIAL
    dr = np.where(rr > 1e-6, k0 + k1 * rr + k2 * rr * rr, 0.0)
    x, y = x - x * dr, y - y * dr
    look = np.stack([x, y, np.full_like(x, f)], axis=-1) @ m.T  # xl = m00 x + m01 y - m02 (-f)
    # losEllipsoidIntersect (nearest root of the quadratic)
    scale = np.array([1 / a, 1 / a, 1 / b])
    p, d = centre * scale, look * scale
    qa = np.einsum("...i,...i", d, d)
    qb = 2 * np.einsum("...i,i", d, p)
    qc = p @ p - 1
    t = (-qb - np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    return centre + t[..., None] * look


# ------------------------------------------------------------------ tests
def _grid(cam, n=5):
    return np.meshgrid(np.linspace(0.5, cam.lines - 0.5, n), np.linspace(0.5, cam.samples - 0.5, n), indexing="ij")


def _check(adjusted: FrameCamera, path, frame: str):
    isd = json.loads(path.read_text())
    assert isd["farside"]["frame"] == frame
    refs = {isd[k]["reference_frame"] for k in ("instrument_position", "instrument_pointing", "body_rotation")}
    assert refs == ({1} if frame == "j2000" else {isd["body_rotation"]["reference_frame"]}) and 1 not in (
        refs if frame == "body_fixed" else set())
    line, sample = _grid(adjusted)
    truth = adjusted.image_to_ground(line, sample)
    back = FrameCamera.from_file(path)
    assert back == adjusted  # bit for bit, look direction included
    assert np.abs(back.image_to_ground(line, sample) - truth).max() <= 1e-6
    emulated = usgscsm_image_to_ground(isd, line, sample)
    err = np.abs(emulated - truth).max()
    assert err <= 1e-6, f"usgscsm's reading differs by {err} m"
    return isd


def test_real_minus_z_camera_written_in_j2000(ale_dir, tmp_path):
    """Lunar Orbiter Medium looks along -Z: written with a negative focal length, J2000 kept."""
    prior = FrameCamera.from_file(ale_dir / "lomediumcamera_isd.json")
    assert prior.look_direction == -1
    adjusted = prior.with_pointing_correction([2e-4, -1e-4, 5e-5], [30.0, -20.0, 10.0])
    (path,) = write_cameras({"LO3_3133": adjusted}, tmp_path, provenance="adjusted by farside's bundle adjustment")
    isd = _check(adjusted, path, "j2000")
    assert isd["focal_length_model"]["focal_length"] == pytest.approx(-79.833)
    assert "look_direction" not in isd["farside"]
    assert isd["_provenance"].startswith("adjusted by farside's bundle adjustment; geometry J2000")
    source = json.loads((ale_dir / "lomediumcamera_isd.json").read_text())
    assert isd["naif_keywords"] == source["naif_keywords"]
    # the positions are ALE's: km in J2000, as in the source (the correction moved it 39 m)
    moved = np.asarray(isd["instrument_position"]["positions"][0]) - source["instrument_position"]["positions"][0]
    assert 0.0 < np.linalg.norm(moved) < 0.05


def test_plus_z_real_camera_and_the_old_convention_fails(ale_dir, tmp_path):
    prior = FrameCamera.from_file(ale_dir / "clem_nir_isd.json")
    adjusted = prior.with_pointing_correction([1e-4, 0.0, -1e-4])
    (path,) = write_cameras({"nir": adjusted}, tmp_path)
    isd = _check(adjusted, path, "j2000")
    # the emulation is sensitive to the conventions: metres instead of km land ~1000x off
    wrong = json.loads(json.dumps(isd))
    wrong["instrument_position"]["positions"] = [[v * 1000 for v in isd["instrument_position"]["positions"][0]]]
    line, sample = _grid(adjusted)
    with np.errstate(invalid="ignore"):
        bad = usgscsm_image_to_ground(wrong, line, sample)
    assert not np.all(np.abs(bad - adjusted.image_to_ground(line, sample)) < 1.0)


def test_simulated_camera_is_body_fixed(tmp_path):
    prior = nadir_camera(180.0, 2.0, lines=32, samples=48, gsd_m=150.0)
    adjusted = prior.with_pointing_correction([1e-3, 2e-3, -1e-3], [5.0, 5.0, 5.0])
    paths = write_cameras({"a": adjusted, "b": prior, "none": None}, tmp_path / "cams", frame="body_fixed",
                          provenance={"a": "adjusted", "b": "prior pointing (not adjusted)"})
    assert [p.name for p in paths] == ["a.json", "b.json"]
    isd = _check(adjusted, paths[0], "body_fixed")
    assert isd["body_rotation"]["quaternions"] == [[1.0, 0.0, 0.0, 0.0]]
    assert isd["body_rotation"]["reference_frame"] == 31001  # MOON_ME
    assert json.loads(paths[1].read_text())["_provenance"].startswith("prior pointing (not adjusted)")
    with pytest.raises(MosaicError, match="exists"):
        write_cameras({"a": adjusted}, tmp_path / "cams")
    assert write_cameras({"a": adjusted}, tmp_path / "cams", overwrite=True)
    with pytest.raises(ValueError, match="J2000"):
        adjusted.to_isd(frame="j2000")
