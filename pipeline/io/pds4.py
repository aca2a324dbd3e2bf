"""PDS4 images: an XML label (``Product_Observational``) + the data file it names.

The label is parsed with the standard library's ElementTree (namespaces ignored, entity
expansion bounded by expat, external entities never fetched), which also keeps the
``unit`` attribute of ``img:exposure_duration`` that pdr's flattened label drops.

Supported arrays: ``Array_2D_Image`` and ``Array_3D_Image`` (also the generic
``Array_2D``/``Array_3D``) with every integer and IEEE 754 ``data_type``, both byte orders,
``offset`` (bytes), ``Element_Array`` ``scaling_factor``/``value_offset``, and
``Special_Constants`` (missing, invalid, saturated, ... -> mask).

Metadata: ``Time_Coordinates/start_date_time``; ``exposure_duration`` (any namespace) in
its ``unit``; the frame type from ``Mission_Area`` ``frame_type`` or, failing that,
``Primary_Result_Summary/purpose`` (``Science`` -> LIGHT); the instrument from a
``Mission_Area`` ``instrument_id`` or the ``Observing_System_Component`` of type
``Instrument``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UnreadableFrame, UnsupportedFormat
from pipeline.io import bitdepth
from pipeline.io.base import Described
from pipeline.io.pds3 import resolve_file
from pipeline.io.rawarray import RawLayout, check_layout

__all__ = ["MAX_XML_BYTES", "PDS4_DTYPES", "looks_like_pds4", "parse_pds4", "pds4_data_names", "pds4_layout"]

MAX_XML_BYTES = 16 * 1024**2

PDS4_DTYPES = {
    "SignedByte": "|i1", "UnsignedByte": "|u1",
    "SignedMSB2": ">i2", "SignedMSB4": ">i4", "SignedMSB8": ">i8",
    "SignedLSB2": "<i2", "SignedLSB4": "<i4", "SignedLSB8": "<i8",
    "UnsignedMSB2": ">u2", "UnsignedMSB4": ">u4", "UnsignedMSB8": ">u8",
    "UnsignedLSB2": "<u2", "UnsignedLSB4": "<u4", "UnsignedLSB8": "<u8",
    "IEEE754MSBSingle": ">f4", "IEEE754MSBDouble": ">f8",
    "IEEE754LSBSingle": "<f4", "IEEE754LSBDouble": "<f8",
}
"""numpy dtype of every supported PDS4 ``data_type``."""

_ARRAYS = ("Array_2D_Image", "Array_3D_Image", "Array_2D", "Array_3D")
_SPECIALS = (
    "missing_constant", "invalid_constant", "saturated_constant", "unknown_constant",
    "not_applicable_constant", "error_constant", "high_instrument_saturation",
    "high_representation_saturation", "low_instrument_saturation", "low_representation_saturation",
)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name]


def _find(elem: ET.Element, name: str) -> ET.Element | None:
    for e in elem.iter():
        if _local(e.tag) == name:
            return e
    return None


def _text(elem: ET.Element | None) -> str | None:
    if elem is None or elem.text is None:
        return None
    return elem.text.strip()


def looks_like_pds4(head: bytes) -> bool:
    """Whether an XML file starts like a PDS4 product label."""
    return b"<Product_" in head or b":Product_" in head or b"pds.nasa.gov/pds4" in head


def parse_pds4(path: Path) -> ET.Element:
    """Root element of a PDS4 label.

    Raises
    ------
    UnreadableFrame
        Empty, too large, not well-formed XML, or not a ``Product_*`` document.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            raise UnreadableFrame(path, "empty file (0 bytes); re-download the label")
        if size > MAX_XML_BYTES:
            raise UnreadableFrame(path, f"PDS4 label is {size} bytes, more than {MAX_XML_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFrame(path, f"cannot read ({exc.strerror})") from None
    if b"<!ENTITY" in data:
        raise UnreadableFrame(path, "PDS4 label declares XML entities, which farside refuses to expand")
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError) as exc:
        raise UnreadableFrame(path, f"not well-formed XML ({exc}); fix or regenerate the PDS4 label") from None
    if not _local(root.tag).startswith("Product_"):
        raise UnreadableFrame(path, f"XML root <{_local(root.tag)}> is not a PDS4 product label")
    return root


def _image_area(root: ET.Element) -> tuple[ET.Element, ET.Element] | None:
    for area in root.iter():
        if not _local(area.tag).startswith("File_Area"):
            continue
        for child in area:
            if _local(child.tag) in _ARRAYS:
                return area, child
    return None


def pds4_data_names(root: ET.Element) -> list[str]:
    """``file_name`` of every ``File_Area_Observational`` (any ``File_Area*``) of a label."""
    names = []
    for area in root.iter():
        if _local(area.tag).startswith("File_Area"):
            f = _child(area, "File")
            name = _text(_child(f, "file_name")) if f is not None else None
            if name:
                names.append(name)
    return names


def _number(text: str | None, what: str, where: Path) -> float:
    if text is None:
        raise UnreadableFrame(where, f"PDS4 {what} is missing")
    t = text.strip()
    try:
        if re.fullmatch(r"[+-]?\d+", t):
            return float(int(t))
        m = re.fullmatch(r"(?:0x|16#)([0-9A-Fa-f]+)#?", t)
        if m:
            return float(int(m.group(1), 16))
        return float(t)
    except ValueError:
        raise UnreadableFrame(where, f"PDS4 {what} = {text!r} is not a number") from None


def _int(text: str | None, what: str, where: Path) -> int:
    value = _number(text, what, where)
    if not value.is_integer() or abs(value) > 2**62:
        raise UnreadableFrame(where, f"PDS4 {what} = {text!r} is not an integer")
    return int(value)


def pds4_layout(root: ET.Element, label_path: Path, resolve) -> tuple[RawLayout, Path]:
    """Raw layout of the image of a PDS4 label and its data file.

    ``resolve(label_path, name, where)`` maps ``file_name`` to a path beside the label
    (refusing names that escape the folder).

    Raises
    ------
    UnreadableFrame, UnsupportedFormat
    """
    where = label_path
    found = _image_area(root)
    if found is None:
        raise UnsupportedFormat(where, "PDS4 label describes no Array_2D_Image or Array_3D_Image; only images are read")
    area, array = found
    f = _child(area, "File")
    name = _text(_child(f, "file_name")) if f is not None else None
    if not name:
        raise UnreadableFrame(where, "PDS4 File_Area has no file_name")
    data_path = resolve(label_path, name, where)
    offset = _int(_text(_child(array, "offset")), "offset", where)
    order = _text(_child(array, "axis_index_order")) or "Last Index Fastest"
    if order.lower() != "last index fastest":
        raise UnsupportedFormat(where, f"axis_index_order {order!r} is not supported (Last Index Fastest)")
    elem = _child(array, "Element_Array")
    if elem is None:
        raise UnreadableFrame(where, "PDS4 array has no Element_Array")
    data_type = _text(_child(elem, "data_type")) or ""
    if data_type not in PDS4_DTYPES:
        raise UnsupportedFormat(
            where, f"PDS4 data_type {data_type!r} is not supported (integers and IEEE754 reals only)"
        )
    scale_text = _text(_child(elem, "scaling_factor"))
    offset_text = _text(_child(elem, "value_offset"))
    scale = _number(scale_text, "scaling_factor", where) if scale_text else 1.0
    value_offset = _number(offset_text, "value_offset", where) if offset_text else 0.0
    axes = []
    for ax in _children(array, "Axis_Array"):
        axes.append((
            _int(_text(_child(ax, "sequence_number")), "sequence_number", where),
            (_text(_child(ax, "axis_name")) or "").lower(),
            _int(_text(_child(ax, "elements")), "elements", where),
        ))
    axes.sort()
    n_axes = 3 if "3D" in _local(array.tag) else 2
    if len(axes) != n_axes:
        raise UnreadableFrame(where, f"PDS4 {_local(array.tag)} has {len(axes)} Axis_Array, expected {n_axes}")
    if n_axes == 2:
        lines, samples, bands, storage = axes[0][2], axes[1][2], 1, "BSQ"
    else:
        names = [a[1] for a in axes]
        band_at = next((i for i, n in enumerate(names) if "band" in n or "wave" in n or "spectral" in n), 0)
        other = [a[2] for i, a in enumerate(axes) if i != band_at]
        lines, samples, bands = other[0], other[1], axes[band_at][2]
        storage = ("BSQ", "BIL", "BIP")[band_at]
    specials = []
    sc = _child(array, "Special_Constants")
    if sc is not None:
        dt = np.dtype(PDS4_DTYPES[data_type])
        for key in _SPECIALS:
            text = _text(_child(sc, key))
            if text is None:
                continue
            value = _number(text, key, where)
            if dt.kind == "f" and re.match(r"(?:0x|16#)", text.strip()):
                bits = int(value)
                value = float(np.array(bits, np.uint32 if dt.itemsize == 4 else np.uint64).view(dt.newbyteorder("=")))
            specials.append(value)
    dt = np.dtype(PDS4_DTYPES[data_type])
    valid_bits, bits_key = None, ""
    for key in ("sample_bits", "sample_bit_mask"):
        text = _text(_find(root, key))
        if text and dt.kind in "iu":
            m = re.fullmatch(r"\s*(?:2#([01]+)#|(\d+))\s*", text)
            if m:
                mask = int(m.group(1), 2) if m.group(1) else (1 << int(m.group(2))) - 1
                valid_bits = bitdepth.mask_bits(mask, 8 * dt.itemsize)
                bits_key = f", {key} {text}"
            break
    layout = RawLayout(
        path=str(data_path), offset=offset, dtype=PDS4_DTYPES[data_type], lines=lines, samples=samples,
        bands=bands, storage=storage, scale=scale, value_offset=value_offset, specials=tuple(specials),
        valid_bits=valid_bits, check_width=dt.kind in "iu", width_keyword=f"data_type {data_type}{bits_key}",
    )
    return layout, data_path


def _objects_after(root: ET.Element, data_name: str, image_end: int) -> bool:
    """Whether the label describes other data (arrays, tables, headers) of the same file at or
    after ``image_end`` (bytes); an offset that cannot be read counts as after."""
    for area in root.iter():
        if not _local(area.tag).startswith("File_Area"):
            continue
        f = _child(area, "File")
        if f is None or (_text(_child(f, "file_name")) or "") != data_name:
            continue
        for obj in area:
            off = _child(obj, "offset")
            if off is None:
                continue
            try:
                start = int(float(_text(off) or ""))
            except ValueError:
                return True
            if start >= image_end:
                return True
    return False


def pds4_metadata(root: ET.Element) -> dict[str, Any]:
    """Raw metadata values of a PDS4 label (not yet normalised)."""
    time = _text(_find(root, "start_date_time"))
    exp = _find(root, "exposure_duration")
    exposure = (_text(exp), exp.get("unit")) if exp is not None and _text(exp) else None
    frame_type = None
    instrument = None
    mission = _find(root, "Mission_Area")
    if mission is not None:
        frame_type = _text(_find(mission, "frame_type"))
        instrument = _text(_find(mission, "instrument_id"))
    purpose = _text(_find(root, "purpose"))
    if instrument is None:
        for comp in root.iter():
            if (
                _local(comp.tag) == "Observing_System_Component"
                and (_text(_child(comp, "type")) or "").lower() == "instrument"
            ):
                instrument = _text(_child(comp, "name"))
                break
    return {"time": time, "exposure": exposure, "frame_type": frame_type, "purpose": purpose, "instrument": instrument}


def describe_pds4(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Metadata of a PDS4 product: ``path`` is the ``.xml`` label or a data file one of
    the ``.xml`` labels in its folder names; the data file must resolve inside
    ``data_root`` (default: the label's folder)."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        label_path = path
    else:
        label_path = label_naming(path)
        if label_path is None:
            raise UnreadableFrame(path, "no PDS4 .xml label beside it names this data file")
    root = parse_pds4(label_path)
    layout, data_path = pds4_layout(root, label_path, lambda lp, name, where: resolve_file(lp, name, where, data_root))
    check_layout(layout, band=band, max_bytes=max_bytes, source=label_path)
    end = layout.offset + layout.stored_bytes
    bitdepth.check_file_size(label_path, data_path.name, layout.offset, layout.stored_bytes, layout.itemsize,
                             data_path.stat().st_size, objects_after=_objects_after(root, data_path.name, end),
                             keyword=layout.width_keyword)
    raw = pds4_metadata(root)
    d = Described(
        data_path=data_path,
        label_path=label_path,
        shape=(layout.lines, layout.samples),
        dtype=np.dtype(layout.dtype).newbyteorder("=").name,
        bands=layout.bands,
        instrument=raw["instrument"],
        extra={"layout": layout.to_dict(), "scale": layout.scale, "offset": layout.value_offset,
               "bands": layout.bands, "stored_dtype": layout.dtype, "special_constants": list(layout.specials)},
    )
    d.extra["_raw"] = raw
    return d


def label_naming(data_path: Path) -> Path | None:
    """The ``.xml`` PDS4 label in ``data_path``'s folder whose ``file_name`` is it, or None."""
    try:
        candidates = sorted(p for p in data_path.parent.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
    except OSError:
        return None
    same_stem = [p for p in candidates if p.stem == data_path.stem]
    for xml in same_stem + [p for p in candidates if p not in same_stem]:
        try:
            if xml.stat().st_size > MAX_XML_BYTES:
                continue
            head = xml.read_bytes()
        except OSError:
            continue
        if data_path.name.encode() not in head:
            continue
        try:
            root = parse_pds4(xml)
        except UnreadableFrame:
            continue
        if data_path.name in pds4_data_names(root):
            return xml
    return None
