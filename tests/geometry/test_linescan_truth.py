"""Exactness against usgscsm on real and synthetic scanning ISDs.

``../shared/reference/linescan/truth/computed/*.truth.json`` hold usgscsm ba32d13's
``imageToGround`` (5 x 5 grid at height 0, the centre at +1000 m and -2000 m, one point at
+500 m) and ``groundToImage`` of each result, on LRO NAC / WAC, Kaguya TC / MI, Chandrayaan-1/2,
Apollo Pan, the ISIS NAC pairs and usgscsm's synthetic ISDs. Required: <= 1e-3 m on the ground
and <= 1e-4 px back in the image; measured (this branch): <= 4e-8 m and <= 4e-8 px, so the
tests assert 1e-6 m / 1e-6 px to catch any regression well inside the requirement.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.geometry import LineScanCamera
from pipeline.geometry.body import xyz_to_lonlat_deg
from tests.geometry.scan_helpers import ISDS, camera, isd_of, points, require, truth, truth_files

GROUND_TOL_M = 1e-6  # requirement: 1e-3 m
IMAGE_TOL_PX = 1e-6  # requirement: 1e-4 px

FILES = truth_files() or [
    pytest.param(None, marks=pytest.mark.skip(reason="../shared/reference/linescan absent"))
]


def _id(path):
    return path.name.removesuffix(".truth.json") if path is not None else "absent"


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_image_to_ground_matches_usgscsm(path):
    doc = truth(path)
    cam = camera(isd_of(doc))
    assert cam.name_model == doc["name_model"]
    p = points(doc)
    xyz, hit = cam.image_to_ground_hit(p["line"], p["sample"], p["height"])
    err = np.linalg.norm(xyz - p["xyz"], axis=-1)
    assert err.max() < GROUND_TOL_M, f"worst ground error {err.max():.3e} m at point {int(err.argmax())}"
    np.testing.assert_array_equal(hit, p["hit"])  # usgscsm: ray missed -> closest point, no hit
    lon, lat = xyz_to_lonlat_deg(xyz)
    lon_e = np.array([q["lon_e"] for q in doc["points"]])
    np.testing.assert_allclose(lat, [q["lat_pc"] for q in doc["points"]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.mod(lon - lon_e + 180.0, 360.0) - 180.0, 0.0, atol=1e-9)


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_ground_to_image_matches_usgscsm(path):
    """usgscsm's back-projection of its own ground points, including (push frame) its framelet
    choice where framelets overlap: the WAC's ``back_line`` is up to 6.4 px from the input line."""
    doc = truth(path)
    cam = camera(isd_of(doc))
    p = points(doc)
    line, sample = cam.ground_to_image(p["xyz"])
    assert np.abs(line - p["back_line"]).max() < IMAGE_TOL_PX
    assert np.abs(sample - p["back_sample"]).max() < IMAGE_TOL_PX


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_line_scan_round_trip_is_exact(path):
    """image -> ground -> image returns to the input within 1e-6 px for every line scanner
    (measured <= 2e-9 px), on a 9 x 9 grid at heights 0 and +500 m."""
    doc = truth(path)
    cam = camera(isd_of(doc))
    if not isinstance(cam, LineScanCamera):
        pytest.skip("push frame: groundToImage picks one of overlapping framelets (see test_pushframe)")
    line, sample = np.meshgrid(
        np.linspace(0.5, cam.lines - 0.5, 9), np.linspace(0.5, cam.samples - 0.5, 9), indexing="ij"
    )
    for height in (0.0, 500.0):
        xyz, hit = cam.image_to_ground_hit(line, sample, height)
        back_l, back_s = cam.ground_to_image(xyz)
        err = np.hypot(back_l - line, back_s - sample)[hit]
        assert hit.any() and err.max() < 1e-6, f"height {height}: worst {err.max():.2e} px"


# ISDs of the reference set without a computed truth file: the image-centre latitude / east
# longitude that usgscsm gives (shared/reference/linescan/README.md, 3 decimals)
README_CENTRES = [
    ("ale/lrolroc_isd.json", 33.956, 140.317),  # LRO NAC-L M103595705LE, far side
    ("ale/chandrayaan2_tmc2_isd.json", 0.392, 185.830),  # TMC-2 nadir, far side
    ("isis3/lidarObservationImage2.isd", 60.974, 98.999),  # NAC-L M119219248LE, far side
]


@pytest.mark.parametrize("isd, lat, lon", README_CENTRES, ids=[c[0] for c in README_CENTRES])
def test_image_centre_of_isds_without_truth_file(isd, lat, lon):
    cam = camera(require(ISDS / isd))
    lon_c, lat_c = xyz_to_lonlat_deg(cam.image_to_ground(*cam.image_center))
    assert abs(lat_c - lat) < 6e-4 and abs((lon_c - lon + 180) % 360 - 180) < 6e-4
