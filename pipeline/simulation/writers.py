"""Writers of raw 16-bit frames in the formats farside reads: PDS3, PDS4, FITS, TIFF.

Every writer takes a ``uint16`` array of shape ``(lines, samples)`` and a
:class:`FrameLabel`, writes deterministic bytes (no wall-clock timestamps anywhere:
the only time is the simulated ``START_TIME``), and returns the paths it wrote.

- **PDS3** (:func:`write_pds3`): ``<stem>.IMG`` with an attached ODL label, fixed-length
  records of one image line, ``^IMAGE`` pointer in records, ``SAMPLE_TYPE``
  ``MSB_UNSIGNED_INTEGER`` or ``LSB_UNSIGNED_INTEGER``, ``EXPOSURE_DURATION = x <MS>``,
  ``START_TIME``, ``INSTRUMENT_ID``, ``FRAME_TYPE``.
- **PDS4** (:func:`write_pds4`): ``<stem>.xml`` (``Product_Observational`` with an
  ``Array_2D_Image``, ``UnsignedMSB2``/``UnsignedLSB2``) + ``<stem>.img`` raw data;
  ``img:exposure_duration unit="ms"``, ``start_date_time``, the frame type in
  ``Primary_Result_Summary/purpose`` (Science / Calibration) and
  ``farside:frame_type`` in the ``Mission_Area``.
- **FITS** (:func:`write_fits`): ``<stem>.fits``, astropy, ``BITPIX=16`` with
  ``BZERO=32768`` (unsigned 16-bit), ``EXPTIME`` (s), ``DATE-OBS``, ``IMAGETYP``,
  ``INSTRUME``.
- **TIFF** (:func:`write_tiff`): ``<stem>.tif``, tifffile, 16-bit grey, no metadata;
  its exposure, frame type and time live in the ``<stem>.json`` sidecar.

:func:`write_sidecar` writes a ``<stem>.json`` ISD sidecar (plus label-less metadata).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from astropy.io import fits

log = logging.getLogger(__name__)

FORMATS = ("pds3", "pds4", "fits", "tiff")

PDS4_FARSIDE_NS = "http://farside.invalid/pds4/farside/v1"
"""Namespace of the ``farside:`` mission-area keys (not a registered PDS4 dictionary)."""


@dataclass(frozen=True)
class FrameLabel:
    """Metadata written with a frame.

    Attributes
    ----------
    stem : str
        File stem (and product id).
    frame_type : str
        ``LIGHT``, ``BIAS``, ``DARK`` or ``FLAT``.
    exposure_s : float
        Exposure duration, seconds.
    start_time : str
        ISO-8601 UTC without zone, ``YYYY-MM-DDTHH:MM:SS.sss``.
    instrument_id, instrument_name, spacecraft_name : str
    byte_order : str
        ``MSB`` or ``LSB`` (PDS3 and PDS4).
    """

    stem: str
    frame_type: str
    exposure_s: float
    start_time: str
    instrument_id: str = "FSC"
    instrument_name: str = "FARSIDE SIMULATED FRAMING CAMERA"
    spacecraft_name: str = "FARSIDE SIMULATED ORBITER"
    byte_order: str = "MSB"


def _check(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    if data.ndim != 2 or data.dtype != np.uint16:
        raise ValueError(f"frames are written as 2-D uint16 arrays, got {data.dtype} {data.shape}")
    return data


def _ms(exposure_s: float) -> str:
    return f"{exposure_s * 1000.0:.4f}".rstrip("0").rstrip(".") if exposure_s else "0.0"


def write_pds3(directory: Path, data: np.ndarray, label: FrameLabel) -> list[Path]:
    """Write ``<stem>.IMG``: attached PDS3 label + 16-bit image (one record per line).

    Returns
    -------
    list of Path
        The one file written.
    """
    data = _check(data)
    lines, samples = data.shape
    record_bytes = samples * 2
    sample_type = "MSB_UNSIGNED_INTEGER" if label.byte_order == "MSB" else "LSB_UNSIGNED_INTEGER"
    dtype = ">u2" if label.byte_order == "MSB" else "<u2"

    def text(label_records: int) -> str:
        rows = [
            ("PDS_VERSION_ID", "PDS3"),
            ("RECORD_TYPE", "FIXED_LENGTH"),
            ("RECORD_BYTES", str(record_bytes)),
            ("FILE_RECORDS", str(label_records + lines)),
            ("LABEL_RECORDS", str(label_records)),
            ("^IMAGE", str(label_records + 1)),
            ("DATA_SET_ID", '"FARSIDE-SIM-L-FSC-2-EDR-V1.0"'),
            ("PRODUCT_ID", f'"{label.stem}"'),
            ("SPACECRAFT_NAME", f'"{label.spacecraft_name}"'),
            ("INSTRUMENT_ID", f'"{label.instrument_id}"'),
            ("INSTRUMENT_NAME", f'"{label.instrument_name}"'),
            ("TARGET_NAME", "MOON"),
            ("START_TIME", label.start_time),
            ("FRAME_TYPE", label.frame_type),
            ("EXPOSURE_DURATION", f"{_ms(label.exposure_s)} <MS>"),
        ]
        body = "".join(f"{k:<22}= {v}\r\n" for k, v in rows)
        body += (
            "\r\nOBJECT                = IMAGE\r\n"
            f"  LINES               = {lines}\r\n"
            f"  LINE_SAMPLES        = {samples}\r\n"
            f"  SAMPLE_TYPE         = {sample_type}\r\n"
            "  SAMPLE_BITS         = 16\r\n"
            "  BANDS               = 1\r\n"
            "  OFFSET              = 0.0\r\n"
            "  SCALING_FACTOR      = 1.0\r\n"
            "  VALID_MINIMUM       = 0\r\n"
            "  VALID_MAXIMUM       = 4095\r\n"
            "END_OBJECT            = IMAGE\r\nEND\r\n"
        )
        return body

    n = 1
    while len(text(n)) > n * record_bytes:
        n += 1
    head = text(n).encode("ascii")
    head += b" " * (n * record_bytes - len(head))
    path = Path(directory) / f"{label.stem}.IMG"
    path.write_bytes(head + data.astype(dtype).tobytes())
    return [path]


def write_pds4(directory: Path, data: np.ndarray, label: FrameLabel) -> list[Path]:
    """Write ``<stem>.xml`` (PDS4 ``Product_Observational`` label) and ``<stem>.img``.

    Returns
    -------
    list of Path
        ``[label, data file]``.
    """
    data = _check(data)
    lines, samples = data.shape
    dtype = ">u2" if label.byte_order == "MSB" else "<u2"
    data_type = "UnsignedMSB2" if label.byte_order == "MSB" else "UnsignedLSB2"
    purpose = "Science" if label.frame_type == "LIGHT" else "Calibration"
    data_name = f"{label.stem}.img"
    lid = f"urn:nasa:pds:farside_sim:data_raw:{label.stem.lower()}"
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1"
    xmlns:img="http://pds.nasa.gov/pds4/img/v1"
    xmlns:farside="{PDS4_FARSIDE_NS}"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Identification_Area>
    <logical_identifier>{lid}</logical_identifier>
    <version_id>1.0</version_id>
    <title>FARSIDE simulated {label.frame_type.lower()} frame {label.stem}</title>
    <information_model_version>1.18.0.0</information_model_version>
    <product_class>Product_Observational</product_class>
  </Identification_Area>
  <Observation_Area>
    <Time_Coordinates>
      <start_date_time>{label.start_time}Z</start_date_time>
      <stop_date_time>{label.start_time}Z</stop_date_time>
    </Time_Coordinates>
    <Primary_Result_Summary>
      <purpose>{purpose}</purpose>
      <processing_level>Raw</processing_level>
    </Primary_Result_Summary>
    <Investigation_Area>
      <name>FARSIDE SIMULATED SURVEY</name>
      <type>Mission</type>
    </Investigation_Area>
    <Observing_System>
      <Observing_System_Component>
        <name>{label.spacecraft_name}</name>
        <type>Host</type>
      </Observing_System_Component>
      <Observing_System_Component>
        <name>{label.instrument_name}</name>
        <type>Instrument</type>
        <description>instrument_id {label.instrument_id}</description>
      </Observing_System_Component>
    </Observing_System>
    <Target_Identification>
      <name>Moon</name>
      <type>Satellite</type>
    </Target_Identification>
    <Mission_Area>
      <farside:frame_type>{label.frame_type}</farside:frame_type>
      <farside:instrument_id>{label.instrument_id}</farside:instrument_id>
    </Mission_Area>
    <Discipline_Area>
      <img:Imaging>
        <img:Exposure>
          <img:exposure_duration unit="ms">{_ms(label.exposure_s)}</img:exposure_duration>
        </img:Exposure>
      </img:Imaging>
    </Discipline_Area>
  </Observation_Area>
  <File_Area_Observational>
    <File>
      <file_name>{data_name}</file_name>
    </File>
    <Array_2D_Image>
      <local_identifier>image</local_identifier>
      <offset unit="byte">0</offset>
      <axes>2</axes>
      <axis_index_order>Last Index Fastest</axis_index_order>
      <Element_Array>
        <data_type>{data_type}</data_type>
        <scaling_factor>1</scaling_factor>
        <value_offset>0</value_offset>
      </Element_Array>
      <Axis_Array>
        <axis_name>Line</axis_name>
        <elements>{lines}</elements>
        <sequence_number>1</sequence_number>
      </Axis_Array>
      <Axis_Array>
        <axis_name>Sample</axis_name>
        <elements>{samples}</elements>
        <sequence_number>2</sequence_number>
      </Axis_Array>
    </Array_2D_Image>
  </File_Area_Observational>
</Product_Observational>
"""
    directory = Path(directory)
    xml_path = directory / f"{label.stem}.xml"
    data_path = directory / data_name
    xml_path.write_text(xml, encoding="utf-8", newline="\n")
    data_path.write_bytes(data.astype(dtype).tobytes())
    return [xml_path, data_path]


def write_fits(directory: Path, data: np.ndarray, label: FrameLabel) -> list[Path]:
    """Write ``<stem>.fits`` (primary HDU, unsigned 16-bit via ``BZERO = 32768``).

    Returns
    -------
    list of Path
    """
    data = _check(data)
    hdu = fits.PrimaryHDU(data=data)  # uint16 -> BITPIX 16, BZERO 32768
    h = hdu.header
    h["EXPTIME"] = (float(label.exposure_s), "[s] exposure duration")
    h["DATE-OBS"] = (label.start_time, "UTC start of the exposure")
    h["IMAGETYP"] = (label.frame_type, "LIGHT, BIAS, DARK or FLAT")
    h["INSTRUME"] = (label.instrument_id, label.instrument_name[:40])
    h["TELESCOP"] = (label.spacecraft_name[:40], "spacecraft")
    h["OBJECT"] = ("MOON", "target")
    h["FRAMEID"] = (label.stem, "product id")
    h["BUNIT"] = ("DN", "raw data numbers")
    path = Path(directory) / f"{label.stem}.fits"
    hdu.writeto(path, overwrite=True, output_verify="exception")
    return [path]


def write_tiff(directory: Path, data: np.ndarray, label: FrameLabel) -> list[Path]:
    """Write ``<stem>.tif``: 16-bit greyscale, uncompressed, no metadata tags.

    The frame's exposure, type and time belong in its ``<stem>.json`` sidecar
    (:func:`write_sidecar` with ``label``).

    Returns
    -------
    list of Path
    """
    data = _check(data)
    path = Path(directory) / f"{label.stem}.tif"
    tifffile.imwrite(path, data, photometric="minisblack", metadata=None, software=False)
    return [path]


WRITERS = {"pds3": write_pds3, "pds4": write_pds4, "fits": write_fits, "tiff": write_tiff}
"""Frame writers by format name, all ``write(directory, data, label) -> [paths]``."""

LABELLED_FORMATS = ("pds3", "pds4", "fits")
"""Formats whose own label carries exposure, frame type and time."""


def write_frame(directory: str | Path, data: np.ndarray, label: FrameLabel, fmt: str) -> list[Path]:
    """Write one frame with the writer of ``fmt`` (a key of :data:`WRITERS`)."""
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose from {sorted(WRITERS)}") from None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return writer(directory, data, label)


def dump_json(obj: Any) -> str:
    """Deterministic JSON text (2-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def write_sidecar(
    directory: str | Path, stem: str, isd: dict[str, Any] | None, label: FrameLabel | None = None
) -> Path:
    """Write ``<stem>.json``: an ISD, plus ``exposure_duration`` (s), ``frame_type`` and
    ``start_time`` when ``label`` is given (for label-less formats).

    Returns
    -------
    Path
    """
    doc: dict[str, Any] = dict(isd or {})
    if label is not None:
        doc["exposure_duration"] = float(label.exposure_s)
        doc["frame_type"] = label.frame_type
        doc["start_time"] = label.start_time
    path = Path(directory) / f"{stem}.json"
    path.write_text(dump_json(doc), encoding="utf-8", newline="\n")
    return path
