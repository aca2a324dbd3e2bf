"""Good-path reader tests on small synthetic products written to tmp_path.

The ``write_*`` builders here are shared by the other ``tests/io`` modules
(``from tests.io.test_read_formats import write_pds3, ...``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import LabelTooLarge
from pipeline.frame import FrameType
from pipeline.io import READERS, detect_format, read_meta, read_pixels

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images"

# ----------------------------------------------------------------------------- builders


def pds3_text(lines: int, samples: int, sample_type: str, bits: int, *, pointer: str, bands: int = 1,
              storage: str | None = None, image_extra: str = "", top_extra: str = "",
              record: str = "RECORD_TYPE = UNDEFINED") -> str:
    image = [f"  LINES = {lines}", f"  LINE_SAMPLES = {samples}", f"  SAMPLE_TYPE = {sample_type}",
             f"  SAMPLE_BITS = {bits}", f"  BANDS = {bands}"]
    if storage:
        image.append(f"  BAND_STORAGE_TYPE = {storage}")
    body = "\r\n".join([
        "PDS_VERSION_ID = PDS3", record, f"^IMAGE = {pointer}", 'INSTRUMENT_ID = "TESTCAM"',
        "START_TIME = 2031-03-14T06:00:00.250", top_extra,
        "OBJECT = IMAGE", *image, image_extra, "END_OBJECT = IMAGE", "END", "",
    ])
    return body


def write_pds3(directory: Path, stem: str, raw: np.ndarray, sample_type: str, *, bits: int | None = None,
               attached: bool = True, storage: str | None = None, prefix: int = 0, suffix: int = 0,
               image_extra: str = "", top_extra: str = "EXPOSURE_DURATION = 12.5 <MS>",
               data_name: str | None = None, pad: bytes = b"") -> Path:
    """Write a PDS3 product. ``raw`` is (lines, samples) or (bands, lines, samples) in the
    stored dtype (byte order included); returns the .IMG (attached) or the .LBL path."""
    raw = np.asarray(raw)
    cube = raw if raw.ndim == 3 else raw[None]
    bands, lines, samples = cube.shape
    bits = bits or raw.dtype.itemsize * 8
    if storage in (None, "BAND_SEQUENTIAL"):
        rows = [cube[b, i].tobytes() for b in range(bands) for i in range(lines)]
    elif storage == "LINE_INTERLEAVED":
        rows = [b"".join(cube[b, i].tobytes() for b in range(bands)) for i in range(lines)]
    else:  # SAMPLE_INTERLEAVED
        rows = [np.ascontiguousarray(cube[:, i, :].T).tobytes() for i in range(lines)]
    data = b"".join(b"\xaa" * prefix + r + b"\xbb" * suffix for r in rows) + pad
    extra = image_extra
    if prefix:
        extra += f"\r\n  LINE_PREFIX_BYTES = {prefix}"
    if suffix:
        extra += f"\r\n  LINE_SUFFIX_BYTES = {suffix}"
    directory.mkdir(parents=True, exist_ok=True)
    if attached:
        start = 1
        while True:
            text = pds3_text(lines, samples, sample_type, bits, pointer=f"{start} <BYTES>", bands=bands,
                             storage=storage, image_extra=extra, top_extra=top_extra).encode()
            if len(text) + 1 <= start:
                break
            start = len(text) + 1
        head = text + b" " * (start - 1 - len(text))
        path = directory / f"{stem}.IMG"
        path.write_bytes(head + data)
        return path
    name = data_name or f"{stem}.IMG"
    text = pds3_text(lines, samples, sample_type, bits, pointer=f'"{name}"', bands=bands, storage=storage,
                     image_extra=extra, top_extra=top_extra)
    label = directory / f"{stem}.LBL"
    label.write_text(text)
    (directory / name).write_bytes(data) if data_name != "" else None
    return label


PDS4_TYPES = {
    "SignedByte": "i1", "UnsignedByte": "u1",
    "SignedMSB2": ">i2", "SignedLSB2": "<i2", "UnsignedMSB2": ">u2", "UnsignedLSB2": "<u2",
    "SignedMSB4": ">i4", "SignedLSB4": "<i4", "UnsignedMSB4": ">u4", "UnsignedLSB4": "<u4",
    "SignedMSB8": ">i8", "SignedLSB8": "<i8", "UnsignedMSB8": ">u8", "UnsignedLSB8": "<u8",
    "IEEE754MSBSingle": ">f4", "IEEE754LSBSingle": "<f4", "IEEE754MSBDouble": ">f8", "IEEE754LSBDouble": "<f8",
}


def pds4_xml(data_name: str, lines: int, samples: int, data_type: str, *, bands: int = 0,
             scaling: str = "", specials: dict[str, str] | None = None,
             exposure: str = '<img:exposure_duration unit="ms">14.3</img:exposure_duration>',
             frame_type: str | None = "LIGHT", purpose: str = "Science", offset: int = 0,
             axis_names: tuple[str, ...] = ("Band", "Line", "Sample")) -> str:
    special = ""
    if specials:
        special = (
            "<Special_Constants>" + "".join(f"<{k}>{v}</{k}>" for k, v in specials.items()) + "</Special_Constants>"
        )
    mission = (
        f"<Mission_Area><farside:frame_type>{frame_type}</farside:frame_type></Mission_Area>" if frame_type else ""
    )
    if bands:
        sizes = {"band": bands, "line": lines, "sample": samples}
        axes = "".join(
            f"<Axis_Array><axis_name>{n}</axis_name><elements>{sizes[n.lower()]}</elements>"
            f"<sequence_number>{i + 1}</sequence_number></Axis_Array>" for i, n in enumerate(axis_names))
        array, n_axes = "Array_3D_Image", 3
    else:
        axes = (f"<Axis_Array><axis_name>Line</axis_name><elements>{lines}</elements>"
                "<sequence_number>1</sequence_number></Axis_Array>"
                f"<Axis_Array><axis_name>Sample</axis_name><elements>{samples}</elements>"
                "<sequence_number>2</sequence_number></Axis_Array>")
        array, n_axes = "Array_2D_Image", 2
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1" xmlns:img="http://pds.nasa.gov/pds4/img/v1"
    xmlns:farside="http://farside.invalid/pds4/farside/v1">
  <Identification_Area><logical_identifier>urn:test</logical_identifier><version_id>1.0</version_id></Identification_Area>
  <Observation_Area>
    <Time_Coordinates><start_date_time>2031-03-14T06:00:21.600Z</start_date_time></Time_Coordinates>
    <Primary_Result_Summary><purpose>{purpose}</purpose></Primary_Result_Summary>
    <Observing_System>
      <Observing_System_Component><name>TEST CAMERA</name><type>Instrument</type></Observing_System_Component>
    </Observing_System>
    {mission}
    <Discipline_Area><img:Imaging><img:Exposure>{exposure}</img:Exposure></img:Imaging></Discipline_Area>
  </Observation_Area>
  <File_Area_Observational>
    <File><file_name>{data_name}</file_name></File>
    <{array}>
      <offset unit="byte">{offset}</offset>
      <axes>{n_axes}</axes>
      <axis_index_order>Last Index Fastest</axis_index_order>
      <Element_Array><data_type>{data_type}</data_type>{scaling}</Element_Array>
      {axes}
      {special}
    </{array}>
  </File_Area_Observational>
</Product_Observational>
"""


def write_pds4(directory: Path, stem: str, raw: np.ndarray, data_type: str, *, data_name: str | None = None,
               header: bytes = b"", **kw) -> Path:
    """Write ``<stem>.xml`` + data file; ``raw`` (lines, samples) or (bands, lines, samples)
    already in the stored dtype. Returns the label path."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = np.asarray(raw)
    name = data_name or f"{stem}.img"
    if raw.ndim == 3:
        kw.setdefault("bands", raw.shape[0])
        lines, samples = raw.shape[1:]
    else:
        lines, samples = raw.shape
    xml = directory / f"{stem}.xml"
    xml.write_text(pds4_xml(name, lines, samples, data_type, offset=len(header), **kw))
    if "/" not in name and not name.startswith(".."):
        (directory / name).write_bytes(header + raw.tobytes())
    return xml


def write_fits(
    directory: Path, stem: str, data: np.ndarray, header: dict | None = None, *, extension: bool = False
) -> Path:
    from astropy.io import fits

    directory.mkdir(parents=True, exist_ok=True)
    hdu = (fits.ImageHDU if extension else fits.PrimaryHDU)(data=data)
    for k, v in (header or {}).items():
        hdu.header[k] = v
    path = directory / f"{stem}.fits"
    if extension:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    else:
        hdu.writeto(path)
    return path


def write_sidecar(directory: Path, stem: str, doc: dict) -> Path:
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(doc))
    return path


def isis_cube(directory: Path, stem: str, raw: np.ndarray, type_name: str, *, order: str = "Lsb",
              tile: tuple[int, int] | None = None, base: float = 0.0, mult: float = 1.0) -> Path:
    """Write a minimal ISIS3 cube (attached label), BandSequential or Tile."""
    cube = raw if raw.ndim == 3 else raw[None]
    bands, lines, samples = cube.shape
    start = 65537
    if tile:
        tl, ts = tile
        nl, ns = -(-lines // tl), -(-samples // ts)
        padded = np.zeros((bands, nl * tl, ns * ts), cube.dtype)
        padded[:, :lines, :samples] = cube
        body = padded.reshape(bands, nl, tl, ns, ts).transpose(0, 1, 3, 2, 4).tobytes()
        fmt = f"Format = Tile\n    TileSamples = {ts}\n    TileLines = {tl}"
    else:
        body = cube.tobytes()
        fmt = "Format = BandSequential"
    label = f"""Object = IsisCube
  Object = Core
    StartByte   = {start}
    {fmt}

    Group = Dimensions
      Samples = {samples}
      Lines   = {lines}
      Bands   = {bands}
    End_Group

    Group = Pixels
      Type       = {type_name}
      ByteOrder  = {order}
      Base       = {base}
      Multiplier = {mult}
    End_Group
  End_Object

  Group = Instrument
    SpacecraftName = "TEST"
    InstrumentId   = NACL
    StartTime      = 2009-11-29T14:51:21.968000
    ExposureDuration = 0.3376 <ms>
  End_Group
End_Object
End
""".encode()
    path = directory / f"{stem}.cub"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(label + b"\0" * (start - 1 - len(label)) + body)
    return path


def ramp(lines: int = 6, samples: int = 5, dtype: str = "<u2", start: int = 0) -> np.ndarray:
    return (np.arange(lines * samples).reshape(lines, samples) + start).astype(dtype)


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
