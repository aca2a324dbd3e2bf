"""Every real ISIS cube in ../shared reads: values against GDAL's read (every band) and ISIS's
own expectations (ISIS_EXPECTED.md, the reference READMEs); the GDAL fallback for cubes the
own reader refuses (ISIS2 qubes, GeoTIFF-backed ISIS3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import LabelTooLarge, UnreadableFrame
from pipeline.io import read_meta, read_pixels

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
CUBES = [
    "isis3/M1181493219CE.vis.odd.reduced.cub",
    "isis3/back.reduced.cub",
    "isis3/1x1_70NS_7b_wbhs_albflt_grid_geirist_tcorrect.reduced.cub",
    "isis3/WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub",
    "isis3/3133_h1_cropped.cub",
    "linescan/nac-crop/M143947267L.cal.echo.crop.cub",
]

# ISIS special pixels by stored type, written out here (ISIS SpecialPixel.h), independent of the reader
_F4_SPECIALS = np.frombuffer(bytes.fromhex("FF7FFFFBFF7FFFFCFF7FFFFDFF7FFFFEFF7FFFFF"), ">f4")


def _isis_specials(raw: np.ndarray) -> np.ndarray:
    if raw.dtype == np.float32:
        return np.isin(raw, _F4_SPECIALS) | ~np.isfinite(raw)
    if raw.dtype == np.int16:
        return raw <= -32764
    if raw.dtype == np.uint8:
        return (raw == 0) | (raw == 255)
    raise AssertionError(raw.dtype)


def _ref(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"real cube {path} not found (clone the project next to shared/)")
    return path


@pytest.mark.parametrize("name", CUBES)
def test_every_band_matches_gdal(name):
    import rasterio

    path = _ref(name)
    meta = read_meta(path)
    bands = meta.extra["bands"]
    with rasterio.open(path) as ds:
        assert (ds.count, ds.height, ds.width) == (bands, *meta.shape)
        for b in range(bands):
            m = meta if b == 0 else read_meta(path, band=b)
            data, mask = read_pixels(m)
            raw = ds.read(b + 1)
            scale, offset = ds.scales[b], ds.offsets[b]
            expected = (raw.astype(np.float64) * scale + offset).astype(np.float32)
            special = _isis_specials(raw)
            assert np.array_equal(mask, special), f"band {b}: mask differs from ISIS special pixels"
            np.testing.assert_array_equal(data[~mask], expected[~mask], err_msg=f"band {b}")
            assert np.isnan(data[mask]).all()


def test_isis2_qube_through_gdal_matches_lo2isis():
    """lo2isisTest.lo2isisTestDefault: 151 x 5 x 1 UnsignedByte, base 0, multiplier 1, histogram."""
    path = _ref("isis3/3133_h1_cropped.cub")
    meta = read_meta(path)
    assert meta.extra["reader"] == "gdal" and meta.extra["isis_version"] == 2
    assert (meta.shape, meta.extra["bands"], meta.dtype) == ((5, 151), 1, "uint8")
    assert (meta.extra["scale"], meta.extra["offset"]) == (1.0, 0.0)
    assert meta.time_utc == datetime(1967, 2, 20, 8, 14, 28, 610000, tzinfo=UTC)
    assert meta.instrument == "24_INCH_FOCAL_LENGTH_CAMERA"
    data, mask = read_pixels(meta)
    v = data[~mask].astype(np.float64)
    assert v.size == 755 and v.sum() == 56954
    assert v.mean() == pytest.approx(75.43576, abs=1e-5)
    assert v.std(ddof=1) == pytest.approx(11.2905, abs=1e-4)
    # and independently of GDAL: the label's ^QUBE = 5727 <BYTES>, 151 x 5 x 1 bytes, no suffixes
    raw = np.frombuffer(path.read_bytes()[5726 : 5726 + 755], np.uint8).reshape(5, 151)
    np.testing.assert_array_equal(data, raw.astype(np.float32))


def test_isis2_qube_refusals(tmp_path):
    path = _ref("isis3/3133_h1_cropped.cub")
    with pytest.raises(LabelTooLarge, match="5 x 151 x 1 samples of 1 bytes = 755 bytes"):
        read_meta(path, max_bytes=700)
    short = tmp_path / "short.cub"
    short.write_bytes(path.read_bytes()[:6000])
    with pytest.raises(UnreadableFrame, match="short.cub: truncated: the ISIS2 qube declares"):
        read_meta(short)


def test_nac_crop_tile_cube():
    """The real far-side NAC crop: Tile format, StartByte 65537, 400 x 400 float32 I/F 0.017-0.260."""
    meta = read_meta(_ref("linescan/nac-crop/M143947267L.cal.echo.crop.cub"))
    layout = meta.extra["layout"]
    assert meta.extra.get("reader") is None  # farside's own reader (the label has '-' continuations)
    assert (layout["storage"], layout["offset"], meta.shape, meta.dtype) == ("TILE", 65536, (400, 400), "float32")
    assert meta.instrument == "NACL"
    data, mask = read_pixels(meta)
    assert not mask.any()
    assert 0.0170 < data.min() < 0.0171 and 0.2601 < data.max() < 0.2602


def test_wac_vis_cube_five_bands():
    """The real WAC VIS odd cube (labels wrapped with '-'): 5 bands, exposure in ms."""
    path = _ref("isis3/M1181493219CE.vis.odd.reduced.cub")
    meta = read_meta(path)
    assert meta.extra["bands"] == 5 and meta.shape == (357, 22) and meta.instrument == "WAC-VIS"
    assert meta.exposure_s == pytest.approx(0.026)
    for b in range(5):
        data, mask = read_pixels(read_meta(path, band=b))
        rows = mask.all(axis=1)
        assert 0 < rows.sum() < 357 and not mask[~rows].any()  # whole Null lines (the other parity), no others
        assert 100 < np.nanmedian(data) < 1000  # the values of this cube (not I/F, not NaN)


def test_geotiff_backed_isis3_cube_through_gdal(tmp_path):
    """An ISIS3 label whose ^Core is a GeoTIFF (GDAL DATA_LOCATION=GEOTIFF): the own reader
    refuses it, GDAL reads it; Base/Multiplier applied, specials masked, metadata from the label."""
    import rasterio

    raw = (np.arange(30 * 40).reshape(30, 40) % 500).astype(np.int16)
    raw[0, 0], raw[0, 1] = -32768, -32766  # Null, Lis
    label = tmp_path / "G.lbl"
    with rasterio.open(label, "w", driver="ISIS3", width=40, height=30, count=1, dtype="int16",
                       DATA_LOCATION="GEOTIFF") as ds:
        ds.write(raw[None])
        ds.scales, ds.offsets = (0.5,), (10.0,)
    text = label.read_text()
    instrument = ("End_Object\n  Group = Instrument\n    InstrumentId = TEST\n"
                  "    StartTime = 2010-01-02T03:04:05.5\n    ExposureDuration = 2.5 <ms>\n  End_Group\n"
                  "End_Object")
    label.write_text(text.replace("End_Object\nEnd_Object", instrument, 1))
    meta = read_meta(label)
    assert meta.format == "isis3" and meta.extra["reader"] == "gdal" and "GeoTIFF" in meta.extra["fallback_reason"]
    assert meta.path.name == "G.tif" and meta.label_path == label  # both hashed
    assert meta.instrument == "TEST" and meta.exposure_s == pytest.approx(0.0025)
    assert meta.time_utc == datetime(2010, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    data, mask = read_pixels(meta)
    assert mask[0, :2].all() and mask.sum() == 2
    np.testing.assert_array_equal(data[~mask], (10.0 + 0.5 * raw.astype(np.float64))[~mask].astype(np.float32))
