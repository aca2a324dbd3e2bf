"""Good-path reader tests on small synthetic products written to tmp_path.

The products are written by :mod:`tests.io.builders`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import LabelTooLarge
from pipeline.frame import FrameType
from pipeline.io import READERS, detect_format, read_meta, read_pixels
from tests.io.builders import (
    PDS4_TYPES,
    isis_cube,
    pds3_text,
    pds4_xml,
    ramp,
    write_fits,
    write_pds3,
    write_pds4,
    write_sidecar,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images"

# ----------------------------------------------------------------------------- PDS3


PDS3_TYPES = [
    ("MSB_UNSIGNED_INTEGER", ">u2"), ("LSB_UNSIGNED_INTEGER", "<u2"), ("MSB_INTEGER", ">i2"),
    ("LSB_INTEGER", "<i2"), ("PC_INTEGER", "<i4"), ("SUN_INTEGER", ">i4"), ("UNSIGNED_INTEGER", "u1"),
    ("MSB_UNSIGNED_INTEGER", ">u4"), ("PC_UNSIGNED_INTEGER", "<u4"), ("IEEE_REAL", ">f4"), ("PC_REAL", "<f4"),
    ("IEEE_REAL", ">f8"), ("PC_REAL", "<f8"), ("VAX_INTEGER", "<i2"), ("MAC_UNSIGNED_INTEGER", ">u2"),
]


@pytest.mark.parametrize(("sample_type", "dtype"), PDS3_TYPES, ids=[f"{t}-{d}" for t, d in PDS3_TYPES])
def test_read_pds3_sample_types(tmp_path, sample_type, dtype):
    raw = ramp(dtype=dtype, start=1)
    path = write_pds3(tmp_path, "F", raw, sample_type)
    meta = read_meta(path)
    assert (meta.format, meta.shape, meta.dtype) == ("pds3", (6, 5), np.dtype(dtype).newbyteorder("=").name)
    assert meta.exposure_s == pytest.approx(0.0125) and meta.instrument == "TESTCAM"
    assert meta.time_utc == datetime(2031, 3, 14, 6, 0, 0, 250000, tzinfo=UTC)
    data, mask = read_pixels(meta)
    assert data.dtype == np.float32 and mask.dtype == bool and not mask.any()
    np.testing.assert_array_equal(data, raw.astype(np.float32))


def test_read_pds3_scaling_and_missing_constant(tmp_path):
    raw = ramp(dtype=">i2", start=-3)
    path = write_pds3(tmp_path, "S", raw, "MSB_INTEGER",
                      image_extra="  OFFSET = 1000.0\r\n  SCALING_FACTOR = 0.5\r\n  MISSING_CONSTANT = -3")
    data, mask = read_pixels(read_meta(path))
    expect = 1000.0 + 0.5 * raw.astype(np.float64)
    assert mask[0, 0] and mask.sum() == 1 and np.isnan(data[0, 0])
    np.testing.assert_allclose(data[~mask], expect[~mask])


def test_read_pds3_prefix_and_suffix_bytes(tmp_path):
    raw = ramp(dtype="<u2")
    path = write_pds3(tmp_path, "P", raw, "LSB_UNSIGNED_INTEGER", prefix=7, suffix=3)
    np.testing.assert_array_equal(read_pixels(read_meta(path))[0], raw)


@pytest.mark.parametrize("storage", ["BAND_SEQUENTIAL", "LINE_INTERLEAVED", "SAMPLE_INTERLEAVED"])
@pytest.mark.parametrize("order", [">u2", "<u2"])
def test_read_pds3_bands_keep_requested_band(tmp_path, storage, order):
    cube = np.stack([ramp(dtype=order, start=100 * b) for b in range(3)]).astype(order)
    sample_type = "MSB_UNSIGNED_INTEGER" if order == ">u2" else "LSB_UNSIGNED_INTEGER"
    path = write_pds3(tmp_path, "B", cube, sample_type, storage=storage)
    meta = read_meta(path, band=2)
    assert meta.band == 2 and meta.extra["bands"] == 3
    np.testing.assert_array_equal(read_pixels(meta)[0], cube[2])


def test_read_pds3_detached_label_by_either_file(tmp_path):
    raw = ramp(dtype=">u2")
    label = write_pds3(tmp_path, "D", raw, "MSB_UNSIGNED_INTEGER", attached=False)
    by_label, by_data = read_meta(label), read_meta(tmp_path / "D.IMG")
    assert by_label.label_path == label and by_label.path == tmp_path / "D.IMG"
    assert by_label.content_hash == by_data.content_hash and by_label.id == "D"
    np.testing.assert_array_equal(read_pixels(by_data)[0], raw)


def test_read_pds3_record_pointer(tmp_path):
    raw = ramp(4, 8, ">u2")  # 16-byte records
    text = pds3_text(4, 8, "MSB_UNSIGNED_INTEGER", 16, pointer="33",
                     record="RECORD_TYPE = FIXED_LENGTH\r\nRECORD_BYTES = 16").encode()
    path = tmp_path / "R.IMG"
    assert len(text) <= 32 * 16
    path.write_bytes(text + b" " * (32 * 16 - len(text)) + raw.tobytes())
    np.testing.assert_array_equal(read_pixels(read_meta(path))[0], raw)


@pytest.mark.parametrize(("text", "seconds"), [
    ("EXPOSURE_DURATION = 12.6 <MS>", 0.0126), ("EXPOSURE_DURATION = 1.5 <SEC>", 1.5),
    ("EXPOSURE_DURATION = 0.25 <s>", 0.25), ("EXPOSURE_DURATION = 2", 2.0),
    ("LINE_EXPOSURE_DURATION = (3.25 <ms>)", 0.00325), ("EXPOSURE_DURATION = 400 <us>", 0.0004),
    ("EXPOSURE_DURATION = 2.6623 <msec>", 0.0026623),
])
def test_read_pds3_exposure_units(tmp_path, text, seconds):
    path = write_pds3(tmp_path, "E", ramp(), "LSB_UNSIGNED_INTEGER", top_extra=text)
    assert read_meta(path).exposure_s == pytest.approx(seconds, rel=1e-12)


def test_read_pds3_frame_type_and_doy_time(tmp_path):
    path = write_pds3(tmp_path, "T", ramp(), "LSB_UNSIGNED_INTEGER",
                      top_extra="FRAME_TYPE = DARK\r\nIMAGE_TIME = 2009-333T14:51:21.968Z")
    path.write_bytes(path.read_bytes().replace(b"START_TIME", b"OTHER_TIME"))
    meta = read_meta(path)
    assert meta.frame_type == FrameType.DARK
    assert meta.time_utc == datetime(2009, 11, 29, 14, 51, 21, 968000, tzinfo=UTC)


def test_read_meta_reads_no_pixels(tmp_path, monkeypatch):
    from pipeline.io import rawarray

    path = write_pds3(tmp_path, "N", ramp(), "LSB_UNSIGNED_INTEGER")

    def boom(*a, **k):
        raise AssertionError("read_meta must not read pixels")

    monkeypatch.setattr(rawarray, "read_stored", boom)
    assert read_meta(path).shape == (6, 5)


def test_read_pixels_max_bytes(tmp_path):
    meta = read_meta(write_pds3(tmp_path, "M", ramp(), "LSB_UNSIGNED_INTEGER"))
    with pytest.raises(LabelTooLarge, match="60 bytes"):
        read_pixels(meta, max_bytes=59)


def test_sample_pds3_matches_pdr():
    """Our PDS3/PDS4 pixels equal pdr's on the sample survey (both byte orders)."""
    import pdr

    for name, key in (("FS_S0_F00.IMG", "IMAGE"), ("FS_S0_F04.IMG", "IMAGE"), ("FS_S0_F01.xml", "image"),
                      ("FS_S0_F05.xml", "image")):
        ours, mask = read_pixels(read_meta(SAMPLE / name))
        theirs = np.asarray(pdr.read(SAMPLE / name)[key], dtype=np.float32)
        assert not mask.any()
        np.testing.assert_array_equal(ours, theirs)


# ----------------------------------------------------------------------------- PDS4


@pytest.mark.parametrize("data_type", sorted(PDS4_TYPES))
def test_read_pds4_all_data_types(tmp_path, data_type):
    raw = ramp(dtype=PDS4_TYPES[data_type], start=1)
    xml = write_pds4(tmp_path, "P", raw, data_type)
    meta = read_meta(xml)
    assert (meta.format, meta.shape, meta.path.name, meta.label_path) == ("pds4", (6, 5), "P.img", xml)
    assert meta.exposure_s == pytest.approx(0.0143) and meta.frame_type == FrameType.LIGHT
    assert meta.instrument == "TEST CAMERA"
    assert meta.time_utc == datetime(2031, 3, 14, 6, 0, 21, 600000, tzinfo=UTC)
    np.testing.assert_array_equal(read_pixels(meta)[0], raw.astype(np.float32))
    assert read_meta(tmp_path / "P.img").content_hash == meta.content_hash  # data file finds its label


def test_read_pds4_scaling_specials_and_offset(tmp_path):
    raw = ramp(dtype="<i2", start=-2)
    xml = write_pds4(tmp_path, "Q", raw, "SignedLSB2", header=b"HDR!" * 4,
                     scaling="<scaling_factor>0.25</scaling_factor><value_offset>10</value_offset>",
                     specials={"missing_constant": "-2", "saturated_constant": "27", "invalid_constant": "0x0003"})
    data, mask = read_pixels(read_meta(xml))
    assert mask.sum() == 3 and mask[0, 0] and mask[5, 4] and mask[1, 0]
    np.testing.assert_allclose(data[~mask], (10 + 0.25 * raw.astype(float))[~mask])


@pytest.mark.parametrize(("unit", "seconds"), [("ms", 0.0143), ("s", 14.3), ("us", 14.3e-6)])
def test_read_pds4_exposure_unit_attribute(tmp_path, unit, seconds):
    xml = write_pds4(tmp_path, "U", ramp(), "UnsignedLSB2",
                     exposure=f'<img:exposure_duration unit="{unit}">14.3</img:exposure_duration>')
    assert read_meta(xml).exposure_s == pytest.approx(seconds)


@pytest.mark.parametrize(("frame_type", "purpose", "expected"), [
    ("FLAT", "Calibration", FrameType.FLAT),
    (None, "Science", FrameType.LIGHT),
    ("bias", "Calibration", FrameType.BIAS),
])
def test_read_pds4_frame_type(tmp_path, frame_type, purpose, expected):
    xml = write_pds4(tmp_path, "T", ramp(), "UnsignedMSB2", frame_type=frame_type, purpose=purpose)
    assert read_meta(xml).frame_type == expected


@pytest.mark.parametrize("axes", [("Band", "Line", "Sample"), ("Line", "Band", "Sample"), ("Line", "Sample", "Band")])
def test_read_pds4_3d_image(tmp_path, axes):
    cube = np.stack([ramp(dtype=">u2", start=50 * b) for b in range(3)]).astype(">u2")  # (band, line, sample)
    order = [{"Band": 0, "Line": 1, "Sample": 2}[a] for a in axes]
    stored = np.ascontiguousarray(cube.transpose(order))
    directory = tmp_path
    xml = directory / "C.xml"
    xml.write_text(pds4_xml("C.img", 6, 5, "UnsignedMSB2", bands=3, axis_names=axes))
    (directory / "C.img").write_bytes(stored.tobytes())
    np.testing.assert_array_equal(read_pixels(read_meta(xml, band=1))[0], cube[1])


def test_pds4_img_beside_pds3_img_are_told_apart(tmp_path):
    p3 = write_pds3(tmp_path, "A", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER")  # A.IMG
    write_pds4(tmp_path, "B", ramp(dtype="<u2", start=7), "UnsignedLSB2")  # B.xml + B.img
    assert detect_format(p3) == "pds3" and detect_format(tmp_path / "B.img") == "pds4"


# ----------------------------------------------------------------------------- FITS


@pytest.mark.parametrize("dtype", ["uint16", ">i2", ">f4", "uint8", ">i4", ">f8"])
def test_read_fits_types(tmp_path, dtype):
    data = ramp(dtype=dtype, start=1)
    path = write_fits(tmp_path, "F", data, {"EXPTIME": 1.25, "DATE-OBS": "2031-03-14T06:00:43.2",
                                             "IMAGETYP": "Dark Frame", "INSTRUME": "FSC"})
    meta = read_meta(path)
    assert (meta.format, meta.shape, meta.exposure_s, meta.frame_type, meta.instrument) == \
        ("fits", (6, 5), 1.25, FrameType.DARK, "FSC")
    assert meta.dtype == np.dtype(dtype).newbyteorder("=").name
    np.testing.assert_array_equal(read_pixels(meta)[0], data.astype(np.float32))


def test_read_fits_bscale_bzero_blank_and_extension(tmp_path):
    from astropy.io import fits

    raw = ramp(dtype=">i2", start=-5)
    hdu = fits.ImageHDU(data=raw, do_not_scale_image_data=True)
    hdu.header["BSCALE"], hdu.header["BZERO"], hdu.header["BLANK"] = 2.0, 100.0, -5
    path = tmp_path / "X.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    data, mask = read_pixels(read_meta(path))
    assert mask.sum() == 1 and mask[0, 0]
    np.testing.assert_allclose(data[~mask], (100 + 2.0 * raw.astype(float))[~mask])


def test_read_fits_cube_band_and_nan(tmp_path):
    cube = np.stack([ramp(dtype="float32", start=10 * b) for b in range(2)])
    cube[1, 2, 3] = np.nan
    meta = read_meta(write_fits(tmp_path, "C", cube), band=1)
    data, mask = read_pixels(meta)
    assert mask.sum() == 1 and mask[2, 3]
    np.testing.assert_array_equal(data[~mask], cube[1][~mask])


# ----------------------------------------------------------------------------- rasters


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_read_tiff_with_sidecar(tmp_path, dtype):
    import tifffile

    data = ramp(dtype=dtype)
    tifffile.imwrite(tmp_path / "T.tif", data)
    write_sidecar(
        tmp_path, "T", {"exposure_duration": 0.014, "frame_type": "FLAT", "start_time": "2031-03-14T06:01:04.800"}
    )
    meta = read_meta(tmp_path / "T.tif")
    assert (meta.format, meta.dtype, meta.exposure_s, meta.frame_type) == ("tiff", dtype, 0.014, FrameType.FLAT)
    assert meta.isd_path is None and meta.time_utc.tzinfo is not None
    np.testing.assert_array_equal(read_pixels(meta)[0], data)


@pytest.mark.parametrize(("suffix", "dtype"), [(".png", "uint8"), (".png", "uint16"), (".jpg", "uint8")])
def test_read_png_jpeg(tmp_path, suffix, dtype):
    import cv2

    data = (ramp(16, 16, "uint16") * (200 if dtype == "uint16" else 1)).astype(dtype)
    path = tmp_path / f"I{suffix}"
    cv2.imwrite(str(path), data, [cv2.IMWRITE_JPEG_QUALITY, 100])
    meta = read_meta(path)
    assert meta.format == ("png" if suffix == ".png" else "jpeg") and meta.shape == (16, 16) and meta.dtype == dtype
    got = read_pixels(meta)[0]
    if suffix == ".png":
        np.testing.assert_array_equal(got, data)
    else:
        assert np.abs(got - data).max() <= 3


def test_read_png_rgb_band_in_rgb_order(tmp_path):
    import cv2

    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    cv2.imwrite(str(tmp_path / "C.png"), rgb[..., ::-1])  # OpenCV writes BGR
    meta = read_meta(tmp_path / "C.png", band=2)
    assert (read_pixels(meta)[0] == 30).all()


# ----------------------------------------------------------------------------- ISIS3


@pytest.mark.parametrize("tile", [None, (4, 3)])
@pytest.mark.parametrize("order", ["Lsb", "Msb"])
def test_read_isis3_cube(tmp_path, tile, order):
    dt = ("<" if order == "Lsb" else ">") + "i2"
    raw = ramp(7, 8, dt, start=-32768)
    path = isis_cube(tmp_path, "K", raw, "SignedWord", order=order, tile=tile, base=5.0, mult=0.5)
    meta = read_meta(path)
    assert (meta.format, meta.shape, meta.instrument) == ("isis3", (7, 8), "NACL")
    assert meta.exposure_s == pytest.approx(0.0003376)
    data, mask = read_pixels(meta)
    assert mask[0, :5].all() and not mask.ravel()[5:].any()  # ISIS specials -32768..-32764
    np.testing.assert_allclose(data[~mask], (5.0 + 0.5 * raw.astype(float))[~mask])


def test_registry_covers_formats():
    assert set(READERS) == {"pds3", "pds4", "fits", "isis3", "tiff", "png", "jpeg", "lrowac"}
