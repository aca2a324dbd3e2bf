"""Real lunar frame-camera ISDs produced by USGS ALE (../shared/reference/ale-isds)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from pipeline.errors import BadGeometry, GeometryError, UnsupportedFormat
from pipeline.geometry import FrameCamera, load_camera
from pipeline.geometry.body import xyz_to_lonlat_deg

FRAME_ISDS = [
    "clem_hires_isd.json",
    "clem_lwir_isd.json",
    "clem_nir_isd.json",
    "clem_uvvis_isd.json",
    "lohighcamera_isd.json",
    "lomediumcamera_isd.json",
    "apollometric_isd.json",
]
LINE_SCAN_ISDS = ["kaguyatc_isd.json", "kaguyami_isis_isd.json"]


def _readme_table(ale_dir) -> dict[str, dict]:
    """Rows of the README table: file -> {look, lat, lon} (centres in degrees, lon east)."""
    rows = {}
    for line in (ale_dir / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not cells[0].endswith(".json"):
            continue
        m = re.match(r"([\d.]+) ([NS]), ([\d.]+) E", cells[5])
        rows[cells[0]] = {
            "look": -1 if cells[4] == "-Z" else 1,
            "lines_samples": tuple(int(v) for v in re.findall(r"\d+", cells[3])),
            "centre": None if m is None else ((1 if m[2] == "N" else -1) * float(m[1]), float(m[3])),
        }
    return rows


@pytest.mark.parametrize("name", FRAME_ISDS)
def test_frame_isds_load_and_match_readme(ale_dir, name):
    row = _readme_table(ale_dir)[name]
    cam = FrameCamera.from_file(ale_dir / name)
    assert (cam.lines, cam.samples) == row["lines_samples"]
    assert cam.look_direction == row["look"]
    cam.check_boresight()
    # the README centre is the boresight (focal-plane origin) on the R = 1737.4 km sphere
    bl, bs = cam.focal_to_image(0.0, 0.0)
    xyz, hit = cam.image_to_ground_hit(bl, bs)
    assert hit
    lon, lat = xyz_to_lonlat_deg(xyz)
    exp_lat, exp_lon = row["centre"]
    assert lat == pytest.approx(exp_lat, abs=0.05)
    assert (lon - exp_lon + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("name", [n for n in FRAME_ISDS if n.startswith("clem")])
def test_clementine_image_centre_matches_readme(ale_dir, name):
    # Clementine's boresight is the image centre, so the image centre matches the table too
    exp_lat, exp_lon = _readme_table(ale_dir)[name]["centre"]
    cam = FrameCamera.from_file(ale_dir / name)
    lon, lat = xyz_to_lonlat_deg(cam.image_to_ground(*cam.image_center))
    assert lat == pytest.approx(exp_lat, abs=0.05)
    assert (lon - exp_lon + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.05)


def test_kinds_of_focal_plane_and_distortion(ale_dir):
    hi = FrameCamera.from_file(ale_dir / "lohighcamera_isd.json")
    assert hi.distortion.model == "lunarorbiter"
    assert hi.focal2pixel_lines[0] != 0.0 and hi.focal2pixel_samples[2] != 0.0  # affine with offsets
    med = FrameCamera.from_file(ale_dir / "lomediumcamera_isd.json")
    assert med.look_direction == -1
    assert FrameCamera.from_file(ale_dir / "apollometric_isd.json").look_direction == -1
    assert FrameCamera.from_file(ale_dir / "clem_uvvis_isd.json").look_direction == 1


@pytest.mark.parametrize("name", FRAME_ISDS)
def test_round_trip_real_isds(ale_dir, name):
    cam = FrameCamera.from_file(ale_dir / name)
    line, sample = np.meshgrid(np.linspace(0, cam.lines, 9), np.linspace(0, cam.samples, 9), indexing="ij")
    xyz, hit = cam.image_to_ground_hit(line, sample)
    assert hit.all()
    bl, bs = cam.ground_to_image(xyz)
    np.testing.assert_allclose(bl, line, atol=1e-8)
    np.testing.assert_allclose(bs, sample, atol=1e-8)


@pytest.mark.parametrize("name", ["apollometric_isd.json", "lohighcamera_isd.json"])
def test_minus_z_instruments_read_as_plus_z_miss_the_body(ale_dir, name):
    cam = FrameCamera.from_file(ale_dir / name, look_direction=1)
    with pytest.raises(GeometryError, match="look direction is probably wrong"):
        cam.check_boresight()
    # a per-instrument override table (as ingest passes it) works too
    isd = json.loads((ale_dir / name).read_text())
    cam = FrameCamera.from_isd(isd, look_direction={isd["name_sensor"].lower(): 1})
    assert cam.look_direction == 1


@pytest.mark.parametrize("name", LINE_SCAN_ISDS)
def test_line_scan_isds_are_not_frame_cameras_but_load(ale_dir, name):
    with pytest.raises(BadGeometry, match="load_camera") as info:
        FrameCamera.from_file(ale_dir / name)
    assert isinstance(info.value, UnsupportedFormat)
    assert name in str(info.value)
    cam = load_camera(ale_dir / name)
    assert type(cam).__name__ in ("LineScanCamera", "PushFrameCamera")
    cam.check_boresight()  # and it sees the body


def test_to_isd_keeps_real_fields_after_correction(ale_dir, tmp_path):
    cam = FrameCamera.from_file(ale_dir / "lohighcamera_isd.json")
    adj = cam.with_pointing_correction([1e-5, -2e-5, 3e-6], [10.0, 0.0, -5.0])
    isd = adj.to_isd()
    assert (
        isd["naif_keywords"] == json.loads((ale_dir / "lohighcamera_isd.json").read_text())["naif_keywords"]
    )
    path = tmp_path / "lo.json"
    path.write_text(json.dumps(isd))
    again = FrameCamera.from_file(path)
    assert again.look_direction == -1 and again.distortion == cam.distortion
    np.testing.assert_allclose(again.position_m, adj.position_m, rtol=0, atol=1e-8)
    np.testing.assert_allclose(again.cam_to_body, adj.cam_to_body, rtol=0, atol=1e-15)
    xyz = adj.image_to_ground(np.array([0.0, 4000.0, 8750.0]), np.array([0.0, 6000.0, 11800.0]))
    l1, s1 = adj.ground_to_image(xyz)
    l2, s2 = again.ground_to_image(xyz)
    np.testing.assert_allclose(l2, l1, atol=1e-7)
    np.testing.assert_allclose(s2, s1, atol=1e-7)
