"""LRO WAC EDR -> push-frame images per filter and parity, against ISIS lrowac2isis's own tests
(ISIS_EXPECTED.md, FunctionalTestsLrowac2isis.cpp) and ALE's ISD of the same product."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import UnreadableFrame, UnsupportedFormat
from pipeline.io import read_meta
from pipeline.io.lrowac import FILTERS, output_lines, read_wac_edr, read_wac_label

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
EDR = SHARED / "pds3" / "lrowac2isis" / "wac0000a1c4_cropped.img"


@pytest.fixture(scope="module")
def edr() -> Path:
    if not EDR.is_file():
        pytest.skip(f"real WAC EDR not found at {EDR} (clone the project next to shared/)")
    return EDR


def _hist(image) -> tuple[int, float, float, float]:
    v = image.data[~image.mask].astype(np.float64)
    return v.size, v.mean(), v.sum(), v.std(ddof=1)  # ISIS: valid pixels, sample std


def _band1(images, camera, parity):
    (image,) = [i for i in images if i.camera == camera and i.parity == parity and i.band == 1]
    return image


# ISIS Histogram of band 1 of each output cube: (valid, average, sum, std, tolerance of average/std)
EXPECTED = {
    "default": {
        ("UV", "even"): (128, 86.1211, 11023.5, 31.168941871307862, 1e-4),
        ("UV", "odd"): (512, 85.7861328125, 43922.5, 30.5786, 1e-4),
        ("VIS", "even"): (2816, 140.49680397727272, 395639, 40.1957, 1e-4),
        ("VIS", "odd"): (9856, 141.94663149350649, 1399026, 24.4899, 1e-4),
    },
    "color_offset": {
        ("UV", "even"): (512, 87.537109375, 44819, 32.4207, 1e-4),
        ("UV", "odd"): (512, 85.7861328125, 43922.5, 30.5786, 1e-4),
        ("VIS", "even"): (9856, 144.54956371, 1424680.5, 26.579817, 1e-4),
        ("VIS", "odd"): (9856, 141.94663149350649, 1399026, 24.4899, 1e-4),
    },
    "no_unlut": {
        ("UV", "even"): (128, 44.4609375, 5691, 15.39449863, 1e-4),
        ("UV", "odd"): (512, 44.380859375, 22723, 15.25508, 1e-4),
        ("VIS", "even"): (2816, 61.2080965, 172362, 6.821865, 1e-4),
        ("VIS", "odd"): (9856, 61.74015, 608511, 4.67139, 1e-4),
    },
}
OPTIONS = {"default": {}, "color_offset": {"color_offset": 2}, "no_unlut": {"decompand": False}}
SHAPES = {  # (UV lines, VIS lines, UV NumFramelets, VIS NumFramelets)
    "default": (5, 18, 1, 1), "color_offset": (13, 130, 3, 9), "no_unlut": (5, 18, 1, 1),
}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_histograms_match_lrowac2isis(edr, case):
    images = read_wac_edr(edr, **OPTIONS[case])
    assert len(images) == 14  # COLOR: 2 UV + 5 VIS filters, odd and even
    uv_lines, vis_lines, uv_n, vis_n = SHAPES[case]
    for (camera, parity), (n, mean, total, std, tol) in EXPECTED[case].items():
        image = _band1(images, camera, parity)
        assert image.data.shape == ((uv_lines, 128) if camera == "UV" else (vis_lines, 704))
        assert image.num_framelets == (uv_n if camera == "UV" else vis_n)
        assert image.decompanded == (case != "no_unlut") and image.color_offset == OPTIONS[case].get("color_offset", 0)
        got = _hist(image)
        assert got[0] == n
        assert got[1] == pytest.approx(mean, abs=tol)
        assert got[2] == pytest.approx(total, abs=1e-4)
        assert got[3] == pytest.approx(std, abs=tol)


def test_band_bins_ids_and_times(edr):
    images = read_wac_edr(edr)
    for camera, parity in (("UV", "odd"), ("UV", "even"), ("VIS", "odd"), ("VIS", "even")):
        bands = sorted((i for i in images if i.camera == camera and i.parity == parity), key=lambda i: i.band)
        filters = [1, 2] if camera == "UV" else [3, 4, 5, 6, 7]
        assert [i.filter_number for i in bands] == filters
        assert [i.center_nm for i in bands] == [FILTERS[f] for f in filters]
        assert [i.width_nm for i in bands] == ([32, 15] if camera == "UV" else [36, 20, 20, 23, 39])
        assert {i.instrument_id for i in bands} == {f"WAC-{camera}"}
        assert {i.naif_ik_code for i in bands} == {-85626 if camera == "UV" else -85621}
    label = read_wac_label(edr)
    assert label.start_time == datetime(2009, 9, 15, 7, 27, 49, 230000, tzinfo=UTC)
    assert label.stop_time == datetime(2009, 9, 15, 7, 30, 19, 542000, tzinfo=UTC)
    assert label.mode == "COLOR" and label.exposure_s == 0.04 and label.interframe_delay_s == 0.578125


def test_pixels_are_the_decompanded_framelet_lines(edr):
    """Independent of ISIS: each band-parity image holds, at its set's rows, the framelet's
    stored lines through the lookup table (middle 128 samples for UV); the rest is masked."""
    raw = np.fromfile(edr, np.uint8)[8624 : 8624 + 100 * 704].reshape(100, 704)
    lut = read_wac_label(edr).lut
    images = read_wac_edr(edr)
    by = {(i.camera, i.parity, i.filter_number): i for i in images}
    # set 0 (odd): lines 0-77: UV1 0-3, UV2 4-7, VIS3 8-21, VIS4 22-35 ... VIS7 64-77
    # set 1 (even): lines 78-99: UV1 78-81, UV2 82-85, VIS3 86-99 (its first 4 lines fit the 18-line image)
    np.testing.assert_array_equal(by["UV", "odd", 2].data[:4], lut[raw[4:8, 288:416]].astype(np.float32))
    np.testing.assert_array_equal(by["VIS", "odd", 6].data[:14], lut[raw[50:64]].astype(np.float32))
    np.testing.assert_array_equal(by["VIS", "even", 3].data[14:18], lut[raw[86:90]].astype(np.float32))
    np.testing.assert_array_equal(by["UV", "even", 1].data[4], lut[raw[78, 288:416]].astype(np.float32))
    assert by["VIS", "odd", 6].mask[14:].all() and not by["VIS", "odd", 6].mask[:14].any()
    assert by["VIS", "even", 4].mask.all()  # set 1 ends before its VIS filter-4 framelet
    assert all(np.isnan(i.data[i.mask]).all() for i in images)


def test_camera_facts_match_ales_isd_of_the_same_product(edr):
    """ALE's ISD of wac0000a1c4 (UV even, the full product) vs what the EDR gives."""
    isd_path = SHARED / "linescan" / "isds" / "ale" / "lrolrocwac_isd.json"
    vis_path = SHARED / "usgscsm" / "lroWacPushFrame.json"
    if not isd_path.is_file() or not vis_path.is_file():
        pytest.skip("ALE/usgscsm WAC ISDs not found in ../shared")
    isd = json.loads(isd_path.read_text())
    uv = _band1(read_wac_edr(edr), "UV", "even")
    keys = uv.isd_keys()
    for key in ("image_samples", "framelet_height", "detector_line_summing", "detector_sample_summing",
                "exposure_duration", "interframe_delay", "framelets_flipped"):
        assert keys[key] == isd[key], key
    # the full product has FILE_RECORDS - LABEL_RECORDS = 20280 stored lines: the ISD's 1040 lines
    assert output_lines("COLOR", "UV", 20290 - 10) == isd["image_lines"] == 1040
    # the filter's NAIF code names the keywords the ISD was built from
    assert isd["focal2pixel_lines"] == isd["naif_keywords"][f"INS{uv.naif_filter_code}_ITRANSL"]
    assert isd["focal_length_model"]["focal_length"] == isd["naif_keywords"][f"INS{uv.naif_filter_code}_FOCAL_LENGTH"]
    vis = json.loads(vis_path.read_text())  # a VIS filter-6 ISD (another product)
    six = next(i for i in read_wac_edr(edr) if i.camera == "VIS" and i.filter_number == 6)
    np.testing.assert_allclose(vis["focal2pixel_lines"], vis["naif_keywords"][f"INS{six.naif_filter_code}_ITRANSL"],
                               rtol=1e-11)  # the ISD rounds to 14 digits
    assert vis["framelet_height"] == six.framelet_height == 14
    bands = vis["naif_keywords"]["INS-85621_FILTER_BANDID"]
    assert vis["starting_detector_line"] == vis["naif_keywords"]["INS-85621_FILTER_OFFSET"][bands.index(6)]


def test_unused_table_entries_are_masked(edr, tmp_path):
    raw = edr.read_bytes()
    label_end = 8624
    body = bytearray(raw)
    body[label_end + 8 * 704 + 10] = 3  # VIS filter 3, odd, first line, sample 10: table pair (-9998, -9998)
    path = tmp_path / "wac.img"
    path.write_bytes(bytes(body))
    vis3 = _band1(read_wac_edr(path), "VIS", "odd")
    assert vis3.mask[0, 10] and vis3.mask.sum() == _band1(read_wac_edr(edr), "VIS", "odd").mask.sum() + 1


def test_refusals_name_the_file(edr, tmp_path):
    with pytest.raises(UnsupportedFormat, match="read_wac_edr splits it"):  # not a frame for ingest (yet)
        read_meta(edr)
    nac = SHARED / "pds3" / "lronac" / "nacl.img"
    if nac.is_file():
        with pytest.raises(UnreadableFrame, match="nacl.img: not an LROC WAC EDR"):
            read_wac_edr(nac)
    short = tmp_path / "short.img"
    short.write_bytes(edr.read_bytes()[:20000])
    with pytest.raises(UnreadableFrame, match="short.img: truncated"):
        read_wac_edr(short)
    bad = tmp_path / "mode.img"
    bad.write_bytes(edr.read_bytes().replace(b"INSTRUMENT_MODE_ID             = COLOR",
                                             b"INSTRUMENT_MODE_ID             = SEPIA", 1))
    with pytest.raises(UnsupportedFormat, match="mode.img: WAC INSTRUMENT_MODE_ID 'SEPIA'"):
        read_wac_edr(bad)
