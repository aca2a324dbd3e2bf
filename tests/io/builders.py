"""Builders of small synthetic products (PDS3, PDS4, FITS, ISIS3 cubes, JSON sidecars) for
the ``tests/io`` and ingestion tests: ``from tests.io.builders import write_pds3, ...``.

Arrays are written as given (their dtype's byte order is the file's); lines and samples are
the array's rows and columns.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


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
