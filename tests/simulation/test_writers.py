"""Every writer produces a file its reader opens with the same pixels and metadata."""

from __future__ import annotations

import numpy as np
import pdr
import pytest
import tifffile
from astropy.io import fits

from pipeline.simulation import FrameLabel, write_frame, write_sidecar
from pipeline.simulation.writers import WRITERS


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.integers(0, 4096, size=(37, 53)).astype(np.uint16)


def _label(stem, byte_order="MSB", frame_type="LIGHT"):
    return FrameLabel(stem=stem, frame_type=frame_type, exposure_s=0.0127, start_time="2031-03-14T06:00:21.600",
                      byte_order=byte_order)


@pytest.mark.parametrize("byte_order", ["MSB", "LSB"])
def test_pds3_opens_with_pdr(tmp_path, data, byte_order):
    (path,) = write_frame(tmp_path, data, _label("A", byte_order, "DARK"), "pds3")
    assert path.name == "A.IMG"
    prod = pdr.read(str(path))
    assert np.array_equal(np.asarray(prod["IMAGE"]), data)
    md = prod.metadata
    assert md["EXPOSURE_DURATION"]["value"] == pytest.approx(12.7)
    assert md["EXPOSURE_DURATION"]["units"] == "MS"
    assert str(md["START_TIME"]).startswith("2031-03-14T06:00:21.6")
    assert md["FRAME_TYPE"] == "DARK" and md["INSTRUMENT_ID"] == "FSC"
    assert md["IMAGE"]["SAMPLE_TYPE"] == f"{byte_order}_UNSIGNED_INTEGER"
    raw = path.read_bytes()
    assert len(raw) % (2 * data.shape[1]) == 0  # fixed-length records


@pytest.mark.parametrize("byte_order", ["MSB", "LSB"])
def test_pds4_opens_with_pdr(tmp_path, data, byte_order):
    xml, img = write_frame(tmp_path, data, _label("B", byte_order, "FLAT"), "pds4")
    assert (xml.name, img.name) == ("B.xml", "B.img")
    assert img.stat().st_size == data.size * 2
    prod = pdr.read(str(xml))
    assert np.array_equal(np.asarray(prod["image"]), data)
    md = prod.metadata
    assert float(md.metaget("img:exposure_duration")) == pytest.approx(12.7)
    assert md.metaget("farside:frame_type") == "FLAT"
    text = xml.read_text()
    assert '<img:exposure_duration unit="ms">12.7</img:exposure_duration>' in text
    assert "<start_date_time>2031-03-14T06:00:21.600Z</start_date_time>" in text
    assert "<purpose>Calibration</purpose>" in text


def test_fits_opens_with_astropy_and_pdr(tmp_path, data):
    (path,) = write_frame(tmp_path, data, _label("C", frame_type="BIAS"), "fits")
    with fits.open(path) as hdul:
        h = hdul[0].header
        assert hdul[0].data.dtype == np.uint16
        assert np.array_equal(hdul[0].data, data)
        assert h["BITPIX"] == 16 and h["BZERO"] == 32768
        assert h["EXPTIME"] == pytest.approx(0.0127)
        assert h["IMAGETYP"] == "BIAS" and h["DATE-OBS"] == "2031-03-14T06:00:21.600"
        assert "DATE" not in h  # no wall-clock stamp
    assert np.array_equal(np.asarray(pdr.read(str(path))["PRIMARY"]), data)


def test_tiff_and_sidecar(tmp_path, data):
    (path,) = write_frame(tmp_path, data, _label("D"), "tiff")
    back = tifffile.imread(path)
    assert back.dtype == np.uint16 and np.array_equal(back, data)
    side = write_sidecar(tmp_path, "D", {"name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL"}, _label("D"))
    import json

    doc = json.loads(side.read_text())
    assert doc["exposure_duration"] == pytest.approx(0.0127)
    assert doc["frame_type"] == "LIGHT" and doc["start_time"] == "2031-03-14T06:00:21.600"
    assert doc["name_model"] == "USGS_ASTRO_FRAME_SENSOR_MODEL"


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_writers_are_deterministic(tmp_path, data, fmt):
    a = write_frame(tmp_path / "a", data, _label("E"), fmt)
    b = write_frame(tmp_path / "b", data, _label("E"), fmt)
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()


def test_writers_refuse_non_uint16(tmp_path):
    with pytest.raises(ValueError):
        write_frame(tmp_path, np.zeros((4, 4), np.float32), _label("F"), "fits")
    with pytest.raises(ValueError):
        write_frame(tmp_path, np.zeros((4, 4), np.uint16), _label("F"), "png")
