"""ISIS cross-check on a real far-side LRO NAC-L pair: 53 LOLA shots projected into both images.

``truth/lola_isis_vs_usgscsm.csv`` holds, per shot, the line/sample ISIS predicts (the upstream
truth of ISIS ``FunctionalTestsLrolola2isis``, 1-based, first pixel centre at 1.0) and what
usgscsm predicts from the same ISD (0-based, first pixel centre at 0.5). ISIS and usgscsm
differ by up to 0.105 px in line and 1.82 px in sample on image 2 (their pointing
interpolations differ), so ISIS is an independent check at <= 2 px and usgscsm the exact one.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.geometry.scan_helpers import ISDS, TRUTH, camera, require


def _rows() -> list[dict]:
    path = TRUTH / "lola_isis_vs_usgscsm.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()
IMAGES = sorted({r["isd"] for r in ROWS}) or [
    pytest.param("absent", marks=pytest.mark.skip(reason="no reference data"))
]

# measured on this branch (max |farside - ISIS|, line / sample, px)
ISIS_SPREAD = {"lidarObservationImage1.isd": (0.07, 0.045), "lidarObservationImage2.isd": (0.11, 1.83)}


@pytest.mark.parametrize("isd", IMAGES)
def test_lola_shots_land_where_isis_and_usgscsm_put_them(isd):
    rows = [r for r in ROWS if r["isd"] == isd]
    assert len(rows) == 53
    cam = camera(require(ISDS / "isis3" / isd))
    xyz = np.array([[float(r[k]) for k in ("x_m", "y_m", "z_m")] for r in rows])
    lat = np.radians([float(r["lat_pc_deg"]) for r in rows])
    lon = np.radians([float(r["lon_e_deg"]) for r in rows])
    rad = 1000.0 * np.array([float(r["radius_km"]) for r in rows])
    np.testing.assert_allclose(xyz[:, 2], rad * np.sin(lat), atol=1e-6)  # the shots' body-fixed xyz
    np.testing.assert_allclose(xyz[:, 1], rad * np.cos(lat) * np.sin(lon), atol=1e-6)
    line, sample = cam.ground_to_image(xyz)
    isis_line = np.array([float(r["isis_line_1based"]) for r in rows]) - 0.5  # ISIS = usgscsm + 0.5
    isis_sample = np.array([float(r["isis_sample_1based"]) for r in rows]) - 0.5
    dl, ds = np.abs(line - isis_line).max(), np.abs(sample - isis_sample).max()
    assert dl <= 2.0 and ds <= 2.0, f"vs ISIS: {dl:.3f} / {ds:.3f} px"
    assert dl <= ISIS_SPREAD[isd][0] and ds <= ISIS_SPREAD[isd][1]
    # exact agreement with usgscsm (the CSV prints 6 decimals)
    np.testing.assert_allclose(line, [float(r["usgscsm_line_0based"]) for r in rows], rtol=0, atol=1e-5)
    np.testing.assert_allclose(sample, [float(r["usgscsm_sample_0based"]) for r in rows], rtol=0, atol=1e-5)
    assert cam.visible(xyz).all()
