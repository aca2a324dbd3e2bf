"""Push-frame specifics: framelet timing, order, flips, overlap removal, usgscsm's framelet choice."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from pipeline.errors import BadGeometry
from pipeline.geometry import PushFrameCamera
from pipeline.geometry.body import xyz_to_lonlat_deg
from tests.geometry.scan_helpers import ISDS, SHARED, USGSCSM_ISDS, camera, require

WAC = SHARED / "reference" / "usgscsm" / "lroWacPushFrame.json"


def orbital_isd() -> dict:
    return json.loads(require(USGSCSM_ISDS / "orbitalPushFrame.json").read_text())


def centres(cam, n_samples=9):
    """Image coordinates at the centre line of every framelet."""
    k = np.arange(cam.n_framelets)
    return np.meshgrid(
        (k + 0.5) * cam.summed_framelet_height, np.linspace(0.5, cam.samples - 0.5, n_samples), indexing="ij"
    )


def test_wac_framelet_times_and_reversed_order():
    cam = camera(require(WAC))
    assert cam.framelet_order_reversed and cam.summed_framelet_height == 14 and cam.n_framelets == 364
    t = cam.line_time([0.5, 13.99, 14.0, cam.lines - 0.5])
    assert t[0] == t[1]  # one exposure per framelet
    np.testing.assert_allclose(t[1] - t[2], cam.interframe_delay, rtol=1e-12)  # reversed: earlier below
    # first image framelet = last exposure: starting time + exposure / 2 + 363 delays
    expected = cam.starting_time_s + cam.exposure_duration / 2 + 363 * cam.interframe_delay - cam.time_s
    assert t[0] == pytest.approx(expected, abs=1e-9)


def test_wac_inverts_at_framelet_centres_but_not_where_framelets_overlap():
    cam = camera(require(WAC))
    line, sample = centres(cam)
    back_l, back_s = cam.ground_to_image(cam.image_to_ground(line, sample))
    assert np.abs(back_l - line).max() < 1e-9 and np.abs(back_s - sample).max() < 1e-9
    # near a framelet's top its ground is also seen by the neighbour, whose centre is closer:
    # usgscsm (and farside) answer with the neighbour's line, ~6.4 px away (truth: lroWacPushFrame)
    top = line - 0.5 * cam.summed_framelet_height + 1.0
    back_l, _ = cam.ground_to_image(cam.image_to_ground(top, sample))
    assert 6.0 < np.abs(back_l - top).max() < 7.0


def test_wac_ale_isd_with_summing():
    cam = camera(require(ISDS / "ale" / "lrolrocwac_isd.json"))
    assert (cam.lines, cam.samples, cam.summed_framelet_height, cam.n_framelets) == (1040, 128, 4, 260)
    lon, lat = xyz_to_lonlat_deg(cam.image_to_ground(*cam.image_center))
    assert lat == pytest.approx(-70.721, abs=1e-3) and lon % 360 == pytest.approx(242.439, abs=1e-3)
    line, sample = centres(cam, 5)
    back_l, back_s = cam.ground_to_image(cam.image_to_ground(line, sample, 300.0))
    assert np.abs(back_l - line).max() < 1e-9 and np.abs(back_s - sample).max() < 1e-9


@pytest.mark.parametrize(
    "change, lines, focal_x",
    [
        ({}, 360, [0.575, 0.025, 0.575]),
        # 2 overlap lines: framelets of 10 lines; image line j of a framelet is detector line j + 1
        ({"num_lines_overlap": 2}, 300, [0.475, -0.075, 0.275]),
        # flipped framelets: the detector line runs the other way (h - j)
        ({"framelets_flipped": True}, 360, [-0.575, -0.025, -0.575]),
        ({"framelet_order_reversed": True}, 360, [0.575, 0.025, 0.575]),
    ],
)
def test_framelet_geometry_variants(change, lines, focal_x):
    isd = orbital_isd()
    isd.update(change)
    cam = PushFrameCamera.from_isd(isd)
    assert cam.lines == lines and cam.isd_lines == 360
    # focal plane x (mm; focal2pixel_lines = (0, -10, 0)) of lines 0.25, 5.75, 12.25
    np.testing.assert_allclose(cam.image_to_focal(np.array([0.25, 5.75, 12.25]), 8.0)[0], focal_x, atol=1e-12)
    line, sample = centres(cam, 5)
    back_l, back_s = cam.ground_to_image(cam.image_to_ground(line, sample))
    assert np.abs(back_l - line).max() < 1e-9 and np.abs(back_s - sample).max() < 1e-9
    assert cam == PushFrameCamera.from_isd(cam.to_isd())


def test_reversed_order_reverses_time():
    plain = PushFrameCamera.from_isd(orbital_isd())
    isd = orbital_isd()
    isd["framelet_order_reversed"] = True
    rev = PushFrameCamera.from_isd(isd)
    assert rev.line_time(0.5) == plain.line_time(plain.lines - 0.5)
    assert rev.line_time(plain.lines - 0.5) == plain.line_time(0.5)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"num_lines_overlap": 3}, "even"),
        ({"num_lines_overlap": 12}, "leaves nothing"),
        ({"framelets_flipped": "no"}, "true or false"),
        ({"interframe_delay": -1.0}, "positive"),
        ({"image_lines": 5}, "less than one framelet"),
    ],
)
def test_bad_framelet_keys_raise_bad_geometry(change, match):
    isd = orbital_isd()
    isd.update(change)
    with pytest.raises(BadGeometry, match=match):
        PushFrameCamera.from_isd(copy.deepcopy(isd), source="orbitalPushFrame.json")
