"""Bad input: every case is a BadFrame subclass naming the file and the reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.calibration import CalibrationParams, MasterSet
from pipeline.errors import BadFrame, BadGeometry, LabelTooLarge, UnreadableFrame, UnsupportedFormat
from pipeline.frame import FrameFailure
from pipeline.ingestion import ingest
from pipeline.ingestion.params import IngestionParams
from pipeline.io import read_meta, read_pixels
from pipeline.orchestration.steps import calibrate_step
from tests.io.builders import isis_cube, pds3_text, ramp, write_fits, write_pds3, write_pds4

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images"


def _raises(exc_type, path, *needles):
    with pytest.raises(exc_type) as info:
        meta = read_meta(path)
        read_pixels(meta)
    err = info.value
    assert isinstance(err, BadFrame)
    text = str(err)
    assert Path(err.path).name in text
    for needle in needles:
        assert needle in text, text
    return err


@pytest.mark.parametrize(
    "name", ["empty.IMG", "empty.fits", "empty.tif", "empty.png", "empty.xml", "empty.LBL", "empty.cub"]
)
def test_zero_byte_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    err = _raises(UnreadableFrame, path, "empty")
    assert err.path == path


@pytest.mark.parametrize("sample_type", ["MSB_UNSIGNED_INTEGER", "LSB_UNSIGNED_INTEGER"])
def test_truncated_pds3_says_expected_and_actual(tmp_path, sample_type):
    path = write_pds3(tmp_path, "T", ramp(dtype=">u2" if sample_type[0] == "M" else "<u2"), sample_type)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-7])
    _raises(UnreadableFrame, path, "truncated", "60 bytes", f"{size} bytes expected", f"only {size - 7} bytes")


def test_truncated_pds4_data_file(tmp_path):
    xml = write_pds4(tmp_path, "T", ramp(dtype="<u2"), "UnsignedLSB2")
    (tmp_path / "T.img").write_bytes((tmp_path / "T.img").read_bytes()[:10])
    err = _raises(UnreadableFrame, xml, "truncated", "only 10 bytes")
    assert err.path == xml


def test_truncated_fits(tmp_path):
    path = write_fits(tmp_path, "T", ramp(100, 100, "uint16"))
    path.write_bytes(path.read_bytes()[:2880 + 1000])
    _raises(UnreadableFrame, path, "truncated")


def test_truncated_tiff(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "T.tif", ramp(64, 64, "uint16"))
    data = (tmp_path / "T.tif").read_bytes()
    (tmp_path / "T.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFrame):
        read_pixels(read_meta(tmp_path / "T.tif"))


def test_declared_size_over_cap_before_allocating(tmp_path, monkeypatch):
    from pipeline.io import rawarray

    text = pds3_text(100000, 100000, "MSB_UNSIGNED_INTEGER", 16, pointer="400 <BYTES>").encode()
    path = tmp_path / "HUGE.IMG"
    path.write_bytes(text + b" " * (399 - len(text)) + b"\0" * 64)
    monkeypatch.setattr(rawarray, "read_stored", lambda *a, **k: pytest.fail("must not read pixels"))
    err = _raises(LabelTooLarge, path, "20000000000 bytes", "max_frame_bytes")
    assert "100000 x 100000 x 1" in err.reason
    with pytest.raises(LabelTooLarge):
        read_meta(write_pds3(tmp_path, "small", ramp(), "LSB_UNSIGNED_INTEGER"), max_bytes=10)


def test_declared_size_over_cap_fits_and_tiff(tmp_path):
    import tifffile

    with pytest.raises(LabelTooLarge):
        read_meta(write_fits(tmp_path, "F", ramp(50, 50, "uint16")), max_bytes=100)
    tifffile.imwrite(tmp_path / "T.tif", ramp(50, 50, "uint16"))
    with pytest.raises(LabelTooLarge):
        read_meta(tmp_path / "T.tif", max_bytes=100)


@pytest.mark.parametrize(("sample_type", "bits", "needle"), [
    ("VAX_REAL", 32, "VAX_REAL"), ("MSB_UNSIGNED_INTEGER", 12, "12-bit"), ("CHARACTER", 8, "CHARACTER"),
    ("IEEE_REAL", 16, "16-bit"),
])
def test_unsupported_pds3_sample_type(tmp_path, sample_type, bits, needle):
    text = pds3_text(2, 2, sample_type, bits, pointer="300 <BYTES>").encode()
    path = tmp_path / "U.IMG"
    path.write_bytes(text + b" " * (299 - len(text)) + b"\0" * 64)
    _raises(UnsupportedFormat, path, needle, "not supported")


@pytest.mark.parametrize("data_type", ["ComplexLSB8", "UTF8_String", "SignedBitString"])
def test_unsupported_pds4_data_type(tmp_path, data_type):
    xml = write_pds4(tmp_path, "U", ramp(dtype="<u2"), data_type)
    _raises(UnsupportedFormat, xml, data_type)


@pytest.mark.parametrize("name", ["../escape.img", "/etc/passwd", "sub/inner.img", "..\\win.img", "C:evil.img"])
def test_pds4_file_name_escaping_folder(tmp_path, name):
    (tmp_path / "labels").mkdir()
    (tmp_path / "escape.img").write_bytes(ramp(dtype="<u2").tobytes())
    xml = write_pds4(tmp_path / "labels", "E", ramp(dtype="<u2"), "UnsignedLSB2", data_name=name)
    _raises(UnreadableFrame, xml, "outside its own folder")


def test_pds3_pointer_escaping_folder(tmp_path):
    (tmp_path / "d").mkdir()
    label = write_pds3(tmp_path / "d", "E", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER", attached=False,
                       data_name="../E.IMG")
    _raises(UnreadableFrame, label, "outside its own folder")


def test_detached_label_without_data_file(tmp_path):
    label = write_pds3(tmp_path, "L", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER", attached=False)
    (tmp_path / "L.IMG").unlink()
    _raises(UnreadableFrame, label, "'L.IMG'", "missing")
    xml = write_pds4(tmp_path, "X", ramp(dtype=">u2"), "UnsignedMSB2")
    (tmp_path / "X.img").unlink()
    _raises(UnreadableFrame, xml, "'X.img'", "missing")


def test_sidecar_not_json(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "S.tif", ramp(dtype="uint16"))
    (tmp_path / "S.json").write_text('{"exposure_duration": 0.01,')
    err = _raises(BadGeometry, tmp_path / "S.tif", "not valid JSON")
    assert err.path == tmp_path / "S.json"


def _sample_isd() -> dict:
    return json.loads((SAMPLE / "FS_S0_F00.json").read_text())


def _frame_with_isd(directory: Path, isd: dict | str, shape=(320, 320)) -> Path:
    path = write_pds3(directory, "G", ramp(*shape, ">u2"), "MSB_UNSIGNED_INTEGER")
    (directory / "G.json").write_text(isd if isinstance(isd, str) else json.dumps(isd))
    return path


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda d: d.pop("focal_length_model"), "focal_length"),
    (lambda d: d.pop("sensor_position", None) or d.pop("instrument_position", None), "position"),
    (lambda d: d.__setitem__("image_lines", "many"), "image_lines"),
])
def test_sidecar_missing_keys_rejected_by_ingest(tmp_path, mutate, needle):
    isd = _sample_isd()
    mutate(isd)
    _frame_with_isd(tmp_path, isd)
    result = ingest(tmp_path)
    assert not result.frames and len(result.failures) == 1
    failure = result.failures[0]
    assert failure.path.name == "G.IMG" and failure.stage == "ingest"
    assert "G.json" in failure.reason and needle in failure.reason.lower()


def test_sidecar_nan_rejected_by_ingest(tmp_path):
    text = json.dumps(_sample_isd()).replace('"focal_length": 8.0', '"focal_length": NaN', 1)
    assert "NaN" in text
    _frame_with_isd(tmp_path, text)
    result = ingest(tmp_path)
    assert not result.frames and "G.json" in result.failures[0].reason


def test_isd_size_mismatch(tmp_path):
    _frame_with_isd(tmp_path, _sample_isd(), shape=(300, 320))
    result = ingest(tmp_path)
    assert not result.frames
    reason = result.failures[0].reason
    assert "320 x 320" in reason and "300 x 320" in reason


@pytest.mark.parametrize(("value", "why"), [(0, "every valid pixel is 0"), (4095, "every valid pixel is 4095")])
def test_constant_frame_is_read_then_rejected_by_calibration(tmp_path, value, why):
    path = write_pds3(tmp_path, "Z", np.full((6, 5), value, ">u2"), "MSB_UNSIGNED_INTEGER")
    result = ingest(tmp_path)
    assert len(result.frames) == 1 and not result.failures  # a valid product ...
    out = calibrate_step(result.frames[0], MasterSet(), CalibrationParams(), None)
    assert isinstance(out, FrameFailure) and why in out.reason  # ... that is no picture
    assert path.exists()


@pytest.mark.parametrize("name", ["fake.png", "fake.IMG", "fake.jpg", "fake.fits", "fake.tif", "fake.cub"])
def test_file_that_is_not_an_image(tmp_path, name):
    path = tmp_path / name
    path.write_text("this is a text file, not an image\n" * 10)
    _raises(UnreadableFrame, path)


def test_png_with_valid_header_but_damaged_pixels(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "D.png"), ramp(32, 32, "uint8"))
    data = (tmp_path / "D.png").read_bytes()
    (tmp_path / "D.png").write_bytes(data[:40])
    _raises(UnreadableFrame, tmp_path / "D.png", "cannot be decoded")


@pytest.mark.parametrize(("extra", "exc", "needle"), [
    ("FRAME_TYPE = SKYBOX", UnreadableFrame, "unknown frame type"),
    ("EXPOSURE_DURATION = 12 <FURLONG>", UnreadableFrame, "unknown exposure unit"),
    ("EXPOSURE_DURATION = -1 <MS>", UnreadableFrame, "negative"),
    ("START_TIME = yesterday", UnreadableFrame, "not an ISO 8601"),
])
def test_bad_label_values(tmp_path, extra, exc, needle):
    path = write_pds3(tmp_path, "V", ramp(), "LSB_UNSIGNED_INTEGER", top_extra=extra)
    if "START_TIME" in extra:
        path.write_bytes(path.read_bytes().replace(b"START_TIME = 2031", b"XTART_TIME = 2031", 1))
    _raises(exc, path, needle)


def test_malformed_pds3_label(tmp_path):
    path = tmp_path / "M.IMG"
    path.write_bytes(b"PDS_VERSION_ID = PDS3\r\nOBJECT = IMAGE\r\n  LINES = (1, 2\r\nEND\r\n" + b"\0" * 32)
    _raises(UnreadableFrame, path, "not valid ODL")
    path.write_bytes(b"PDS_VERSION_ID = PDS3\r\nLINES = 3\r\n" + b"\0" * 32)
    _raises(UnreadableFrame, path, "no END")


def test_malformed_pds4_label(tmp_path):
    (tmp_path / "M.xml").write_text("<Product_Observational><File_Area_Observational>")
    _raises(UnreadableFrame, tmp_path / "M.xml", "not well-formed XML")
    (tmp_path / "N.xml").write_text("<html><body/></html>")
    _raises(UnreadableFrame, tmp_path / "N.xml", "not a PDS4 product")
    (tmp_path / "B.xml").write_text(
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><Product_Observational>&a;</Product_Observational>'
    )
    _raises(UnreadableFrame, tmp_path / "B.xml", "entities")


def test_band_out_of_range(tmp_path):
    path = write_pds3(tmp_path, "B", ramp(), "LSB_UNSIGNED_INTEGER")
    with pytest.raises(UnsupportedFormat, match="band 3 requested"):
        read_meta(path, band=3)


def test_isis_cube_truncated(tmp_path):
    path = isis_cube(tmp_path, "K", ramp(7, 8, "<i2"), "SignedWord")
    path.write_bytes(path.read_bytes()[:-3])
    _raises(UnreadableFrame, path, "truncated")


def test_bad_config_band_through_ingest(tmp_path):
    write_pds3(tmp_path, "B", ramp(), "LSB_UNSIGNED_INTEGER")
    result = ingest(tmp_path, config=IngestionParams(band=2))
    assert not result.frames and "band 2 requested" in result.failures[0].reason
