"""PDS3 images: ``.IMG`` with an attached label, or a detached ``.LBL`` + data file.

The ODL label is parsed by :mod:`pipeline.io.odl` (strict and exception-safe); the image
array is described by a :class:`~pipeline.io.rawarray.RawLayout` built from the ``IMAGE``
object (``LINES``, ``LINE_SAMPLES``, ``BANDS``, ``BAND_STORAGE_TYPE``, ``SAMPLE_TYPE``,
``SAMPLE_BITS``, ``LINE_PREFIX_BYTES``, ``LINE_SUFFIX_BYTES``, ``OFFSET``,
``SCALING_FACTOR``, special constants) and the ``^IMAGE`` pointer (records, ``<BYTES>``,
or ``("file", n)``). Values are ``OFFSET + SCALING_FACTOR * stored`` as ``float32``.

Masked (invalid) pixels: the label's special constants (``MISSING_CONSTANT``,
``INVALID_CONSTANT``, ``NULL``, ``CORE_NULL``, ``CORE_*_SATURATION``, Kaguya
``INVALID_VALUE`` and ``OUT_OF_IMAGE_BOUNDS_VALUE``), the ISIS special values of signed
16-bit data (-32768..-32764, as ``pds2isis`` reads them), the most negative value of signed
32-bit data, and ISIS special values / NaN of real data. Note ISIS's ``pds2isis``/``kaguyami2isis``
keep Kaguya out-of-bounds pixels (-30000 DN) as valid numbers; farside masks them.

Metadata: ``START_TIME`` (or ``IMAGE_TIME``), exposure from ``EXPOSURE_DURATION`` /
``LINE_EXPOSURE_DURATION`` (unit from ``<MS>``/``<SEC>``..., seconds when none),
``INSTRUMENT_ID``, ``FRAME_TYPE`` (or ``IMAGE_TYPE``/``IMAGETYP``).

LROC NAC EDRs (8-bit companded) are decompanded with the label's ``LRO:XTERM``,
``LRO:MTERM``, ``LRO:BTERM`` exactly as ISIS ``lronac2isis`` does; LROC WAC EDRs
(framelets) are rejected with :class:`~pipeline.errors.UnsupportedFormat` as frames;
:func:`pipeline.io.lrowac.read_wac_edr` splits them into push-frame images.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UnreadableFrame, UnsupportedFormat
from pipeline.io import bitdepth, companding
from pipeline.io.base import Described
from pipeline.io.odl import Label, LabelSyntaxError, Quantity, find_label_end, parse_label
from pipeline.io.paths import check_inside
from pipeline.io.rawarray import RawLayout, check_layout

log = logging.getLogger(__name__)

__all__ = [
    "MAX_LABEL_BYTES",
    "describe_pds3",
    "detached_label_for",
    "looks_like_odl",
    "pds3_layout",
    "resolve_file",
    "sample_dtype",
]

MAX_LABEL_BYTES = 4 * 1024**2
"""An attached label longer than this (without END) is refused."""

_ODL_STARTS = (b"PDS_VERSION_ID", b"ODL_VERSION_ID", b"CCSD3ZF", b"NJPL1I00")

_INT_TYPES = {
    # (signed, byte order) by SAMPLE_TYPE
    "MSB_INTEGER": ("i", ">"), "SUN_INTEGER": ("i", ">"), "MAC_INTEGER": ("i", ">"), "INTEGER": ("i", ">"),
    "MSB_UNSIGNED_INTEGER": ("u", ">"), "SUN_UNSIGNED_INTEGER": ("u", ">"), "MAC_UNSIGNED_INTEGER": ("u", ">"),
    "UNSIGNED_INTEGER": ("u", ">"),
    "LSB_INTEGER": ("i", "<"), "PC_INTEGER": ("i", "<"), "VAX_INTEGER": ("i", "<"),
    "LSB_UNSIGNED_INTEGER": ("u", "<"), "PC_UNSIGNED_INTEGER": ("u", "<"), "VAX_UNSIGNED_INTEGER": ("u", "<"),
}
_REAL_TYPES = {
    "IEEE_REAL": ">", "FLOAT": ">", "REAL": ">", "SUN_REAL": ">", "MAC_REAL": ">", "MSB_REAL": ">",
    "PC_REAL": "<", "LSB_REAL": "<", "IEEE_REAL_LSB": "<",
}
_SPECIAL_KEYS = (
    "MISSING_CONSTANT", "INVALID_CONSTANT", "NULL", "CORE_NULL", "MISSING", "INVALID_VALUE",
    "OUT_OF_IMAGE_BOUNDS_VALUE", "CORE_LOW_REPR_SATURATION", "CORE_LOW_INSTR_SATURATION",
    "CORE_HIGH_REPR_SATURATION", "CORE_HIGH_INSTR_SATURATION", "SATURATED_CONSTANT",
)


def looks_like_odl(head: bytes) -> bool:
    """Whether a file starts with a PDS3/ODL label (``PDS_VERSION_ID = ...``, SFDU...)."""
    return head.lstrip().upper().startswith(_ODL_STARTS)


def sample_dtype(sample_type: Any, bits: Any, where: Path) -> np.dtype:
    """NumPy dtype of a PDS3 ``SAMPLE_TYPE`` / ``SAMPLE_BITS`` pair.

    Raises
    ------
    UnsupportedFormat
        VAX reals, packed bit widths (not 8/16/32/64), characters...
    """
    name = str(sample_type).strip().upper().replace(" ", "_")
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise UnreadableFrame(where, f"SAMPLE_BITS = {bits!r} is not an integer")
    if name in _INT_TYPES:
        if bits not in (8, 16, 32, 64):
            raise UnsupportedFormat(where, f"{bits}-bit {name} samples are not supported (8, 16, 32 or 64 bits)")
        kind, order = _INT_TYPES[name]
        if bits == 8:
            return np.dtype(f"|{kind}1")
        return np.dtype(f"{order}{kind}{bits // 8}")
    if name in _REAL_TYPES:
        if bits not in (32, 64):
            raise UnsupportedFormat(where, f"{bits}-bit {name} samples are not supported (32 or 64 bits)")
        return np.dtype(f"{_REAL_TYPES[name]}f{bits // 8}")
    raise UnsupportedFormat(
        where, f"SAMPLE_TYPE {sample_type!r} is not supported (integer MSB/LSB/PC/SUN/VAX or IEEE/PC real)"
    )


def read_label_text(path: Path, *, attached: bool) -> tuple[str, int]:
    """Label text and its length in bytes (attached: up to ``END``; detached: the file)."""
    try:
        with path.open("rb") as fh:
            if not attached:
                raw = fh.read(MAX_LABEL_BYTES + 1)
                if len(raw) > MAX_LABEL_BYTES:
                    raise UnreadableFrame(path, f"detached label is larger than {MAX_LABEL_BYTES} bytes")
                return raw.decode("latin-1"), len(raw)
            buf = b""
            while len(buf) < MAX_LABEL_BYTES:
                chunk = fh.read(65536)
                if not chunk:
                    break
                searched = max(0, len(buf) - 4096)  # a line holding END may straddle two chunks
                buf += chunk
                back = buf.rfind(b"\n", 0, searched) + 1 if searched else 0
                end = find_label_end(buf[back:].decode("latin-1"))
                if end is not None:
                    text = buf[: back + end].decode("latin-1")
                    return text, back + end
    except OSError as exc:
        raise UnreadableFrame(path, f"cannot read ({exc.strerror})") from None
    raise UnreadableFrame(path, "no END statement closes the PDS3 label; the label is damaged or truncated")


def parse(path: Path, *, attached: bool) -> Label:
    """Parsed label of ``path``, errors as ``UnreadableFrame``."""
    text, _ = read_label_text(path, attached=attached)
    try:
        return parse_label(text)
    except LabelSyntaxError as exc:
        raise UnreadableFrame(path, f"PDS3 label is not valid ODL: {exc}") from None


def _value(v: Any) -> Any:
    return v.value if isinstance(v, Quantity) else v


def _int(obj: Label, key: str, default: Any, where: Path) -> int:
    v = _value(obj.get(key, default))
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise UnreadableFrame(where, f"{key} = {v!r} is not an integer")
    return v


def _float(obj: Label, key: str, default: float, where: Path) -> float:
    v = _value(obj.get(key, default))
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = _value(v[0])
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UnreadableFrame(where, f"{key} = {v!r} is not a number")
    return float(v)


def resolve_file(label_path: Path, name: str, where: Path, root: Path | None = None) -> Path:
    """The data file a label names, in the label's folder (case-insensitive match).

    ``root`` (default: the label's folder) is the data root the file must resolve into,
    symbolic links followed (:func:`pipeline.io.paths.check_inside`).

    Raises
    ------
    UnreadableFrame
        The name escapes the folder (absolute, ``..``), a link leaves the data root, or no
        such file exists.
    """
    text = str(name).strip()
    candidate = Path(text)
    if not text or candidate.is_absolute() or text.startswith(("/", "\\")) or ".." in candidate.parts \
            or "\\" in text or len(candidate.parts) != 1 or ":" in text:
        raise UnreadableFrame(
            where, f"label points to {text!r}, outside its own folder; data files must sit beside the label"
        )

    folder = label_path.parent
    direct = folder / text
    if direct.is_file() or direct.is_symlink():
        return check_inside(direct, root or folder, where, text)
    lower = text.lower()
    try:
        for entry in sorted(folder.iterdir()):
            if entry.name.lower() == lower and (entry.is_file() or entry.is_symlink()):
                return check_inside(entry, root or folder, where, text)
    except OSError:
        pass
    raise UnreadableFrame(where, f"data file {text!r} named by the label is missing; put it beside the label")


def _pointer(label: Label, where: Path) -> tuple[str, Any, Label]:
    """(pointer key, pointer value, image object) of the image, searching nested objects."""

    def walk(block: Label, depth: int):
        for key, value in block.items():
            if key.startswith("^") and "IMAGE" in key and "HEADER" not in key and "PREFIX" not in key:
                obj = block.get(key[1:])
                if not isinstance(obj, Label):  # pointer at the top, object nested (ISIS crops)
                    obj = label.find(key[1:])
                if isinstance(obj, Label):
                    yield depth, key, value, obj, block
        for value in block.values():
            if isinstance(value, Label):
                yield from walk(value, depth + 1)

    found = list(walk(label, 0))
    if not found:
        others = sorted(k for k in label if k.startswith("^"))
        what = f" (it has {', '.join(others)})" if others else ""
        raise UnsupportedFormat(
            where, f"no ^IMAGE pointer with an IMAGE object in the label{what}; only images are read"
        )
    found.sort(key=lambda f: (f[1] != "^IMAGE", f[0]))
    found = [f[1:] for f in found]
    key, value, obj, block = found[0]
    return key, value, obj, block


def _data_offset(label_path: Path, key: str, pointer: Any, record_bytes: Any, where: Path,
                 data_root: Path | None) -> tuple[Path, int]:
    """``(data file, byte offset of the image in it)`` of the image pointer ``key = pointer``
    (a record number, a ``<BYTES>`` offset and/or a file name; records of ``record_bytes``)."""
    data_path = label_path
    ptr = pointer
    if isinstance(ptr, tuple):
        if not ptr:
            raise UnreadableFrame(where, f"{key} is empty")
        if isinstance(ptr[0], str):
            data_path = resolve_file(label_path, ptr[0], where, data_root)
            ptr = ptr[1] if len(ptr) > 1 else 1
        elif len(ptr) == 1:
            ptr = ptr[0]
    elif isinstance(ptr, str):
        data_path = resolve_file(label_path, ptr, where, data_root)
        ptr = 1
    if isinstance(ptr, Quantity):
        if str(ptr.unit).strip().upper() not in ("BYTES", "BYTE"):
            raise UnreadableFrame(where, f"{key} unit <{ptr.unit}> is not <BYTES>")
        start = _value(ptr)
        if not isinstance(start, int) or start < 1:
            raise UnreadableFrame(where, f"{key} = {ptr.value!r} <BYTES> is not a positive integer")
        offset = start - 1
    elif isinstance(ptr, int) and not isinstance(ptr, bool):
        if ptr < 1:
            raise UnreadableFrame(where, f"{key} = {ptr} is not a positive record number")
        if ptr == 1:
            offset = 0
        else:
            if not isinstance(record_bytes, int) or record_bytes <= 0:
                raise UnreadableFrame(
                    where, f"{key} counts records but RECORD_BYTES = {record_bytes!r} is not a positive integer"
                )
            offset = (ptr - 1) * record_bytes
    else:
        raise UnreadableFrame(where, f"{key} = {pointer!r} is not a record number, <BYTES> offset or file name")
    return data_path, offset


def _line_prefix(prefix: int, block: Label, data_path: Path) -> int:
    """``LINE_PREFIX_BYTES`` (bytes) as stored in ``data_path``: 0 when a line-prefix table
    pointer of ``block`` names another file."""
    if prefix:
        # A line-prefix table pointing into another file (cropped products, e.g. M3 L0)
        # means the image file itself carries no prefixes.
        for k, v in block.items():
            if k.startswith("^") and "PREFIX" in k:
                name = v[0] if isinstance(v, tuple) and v else v
                if isinstance(name, str) and Path(name).name.lower() != data_path.name.lower():
                    prefix = 0
    return prefix


def _special_values(image: Label, dtype: np.dtype) -> list[float]:
    """The special (no-data) values of an ``IMAGE`` object (its ``_SPECIAL_KEYS``) plus the
    conventional fills of ``dtype``: ISIS's 16-bit specials, the most negative 32-bit integer."""
    specials: list[float] = []
    for skey in _SPECIAL_KEYS:
        v = image.get(skey)
        values = v if isinstance(v, tuple) else (v,)
        for item in values:
            item = _value(item)
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                continue
            if dtype.kind == "f" and isinstance(item, int) and item > 2**31 - 1 and item < 2**32:
                item = float(np.array(item, np.uint32).view(np.float32))  # 16#FF7FFFFB# bit pattern
            specials.append(float(item))
    if dtype.kind == "i" and dtype.itemsize == 2:
        # ISIS's 16-bit special pixels (Null -32768, Lrs, Lis, His, Hrs -32764), also the
        # usual fill of signed 16-bit products (e.g. the LOLA LDEM gaps, -32767)
        specials.extend(float(v) for v in range(-32768, -32763))
    elif dtype.kind == "i" and dtype.itemsize >= 4:
        specials.append(float(np.iinfo(dtype).min))  # the conventional fill value
    return specials


def pds3_layout(label: Label, label_path: Path, *, attached: bool, where: Path,
                data_root: Path | None = None) -> tuple[RawLayout, Label, Path]:
    """Raw layout of the image of a parsed PDS3 label.

    Returns
    -------
    layout : RawLayout
    image : Label
        The ``IMAGE`` object.
    data_path : Path
        The file holding the pixels.
    """
    key, pointer, image, block = _pointer(label, where)
    record_bytes = block.get("RECORD_BYTES", label.get("RECORD_BYTES", label.find("RECORD_BYTES")))
    record_bytes = _value(record_bytes)
    data_path, offset = _data_offset(label_path, key, pointer, record_bytes, where, data_root)
    if not attached and data_path == label_path:
        raise UnreadableFrame(where, f"detached label's {key} does not name a data file")

    lines = _int(image, "LINES", None, where)
    samples = _int(image, "LINE_SAMPLES", None, where)
    bands = _int(image, "BANDS", 1, where)
    dtype = sample_dtype(_value(image.get("SAMPLE_TYPE", "")), _value(image.get("SAMPLE_BITS", 8)), where)
    storage_name = "_".join(str(_value(image.get("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL"))).upper().split())
    storage = {"BAND_SEQUENTIAL": "BSQ", "LINE_INTERLEAVED": "BIL", "SAMPLE_INTERLEAVED": "BIP"}.get(storage_name)
    if storage is None:
        if bands == 1:
            storage = "BSQ"
        else:
            raise UnsupportedFormat(where, f"BAND_STORAGE_TYPE {storage_name!r} is not supported")
    prefix = _int(image, "LINE_PREFIX_BYTES", 0, where)
    suffix = _int(image, "LINE_SUFFIX_BYTES", 0, where)
    prefix = _line_prefix(prefix, block, data_path)
    scale = _float(image, "SCALING_FACTOR", 1.0, where)
    offset_value = _float(image, "OFFSET", 0.0, where)
    specials = _special_values(image, dtype)
    mask = _value(image.get("SAMPLE_BIT_MASK"))
    layout = RawLayout(
        path=str(data_path),
        offset=offset,
        dtype=dtype.str,
        lines=lines,
        samples=samples,
        bands=bands,
        storage=storage,
        line_prefix=prefix,
        line_suffix=suffix,
        scale=scale,
        value_offset=offset_value,
        specials=tuple(specials),
        isis_specials=dtype.kind == "f",
        valid_bits=bitdepth.mask_bits(mask, 8 * dtype.itemsize) if dtype.kind in "iu" else None,
        check_width=dtype.kind in "iu",
        width_keyword=f"SAMPLE_TYPE = {_value(image.get('SAMPLE_TYPE'))}, "
        f"SAMPLE_BITS = {_value(image.get('SAMPLE_BITS', 8))}"
        + (f", SAMPLE_BIT_MASK = 2#{mask:b}#" if isinstance(mask, int) and not isinstance(mask, bool) else ""),
    )
    # LROC EDRs are companded 8-bit
    dataset = str(label.get("DATA_SET_ID", "")).upper()
    if dataset.startswith("LRO-L-LROC") and "EDR" in dataset:
        if dtype.itemsize != 1:
            raise UnsupportedFormat(where, f"not supported: LROC EDR with {dtype.itemsize * 8}-bit samples")
        if "LRO:XTERM" in label and "WAC" not in str(label.get("INSTRUMENT_NAME", "")).upper() \
                and str(label.get("FRAME_ID", "")).upper() in ("LEFT", "RIGHT"):
            lut = companding.lroc_nac_lut(label, where)
            if str(label.get("FRAME_ID", "")).upper() == "RIGHT":
                version = str(label.get("PRODUCT_VERSION_ID", "v1.30")).lstrip("vV")
                try:
                    old = float(version) < 1.30
                except ValueError:
                    old = False
                if old:
                    raise UnsupportedFormat(
                        where, "not supported: LROC NAC-R EDR older than v1.30 (lines stored mirrored); "
                        "import with ISIS lronac2isis"
                    )
            layout = RawLayout(**{**layout.to_dict(), "dtype": "|u1", "lut": tuple(lut), "specials": ()})
        else:
            raise UnsupportedFormat(
                where, "not supported: LROC companded EDR of the Wide Angle Camera (interleaved colour "
                "framelets, lookup-table companding) as a frame; pipeline.io.lrowac.read_wac_edr splits it into "
                "push-frame images per filter and parity, or import it with ISIS lrowac2isis and ingest the cubes"
            )
    return layout, image, data_path


def label_metadata(label: Label) -> dict[str, Any]:
    """Raw metadata values of a PDS3 label (not yet normalised)."""
    def first(*keys: str) -> Any:
        for key in keys:
            value = label.get(key)
            if value is not None:
                return value
        return None

    instrument = first("INSTRUMENT_ID")
    if isinstance(instrument, tuple):
        instrument = instrument[0] if instrument else None
    frame_id = label.get("FRAME_ID")
    if str(instrument).upper() == "LROC" and str(frame_id).upper() in ("LEFT", "RIGHT"):
        instrument = "NACL" if str(frame_id).upper() == "LEFT" else "NACR"  # as lronac2isis names them
    return {
        # Kaguya's CORRECTED_START_TIME is the clock-corrected time ISIS uses
        "time": first("CORRECTED_START_TIME", "START_TIME", "IMAGE_TIME", "IMAGE_MID_TIME"),
        "exposure": first("EXPOSURE_DURATION", "LINE_EXPOSURE_DURATION", "EXPOSURE_TIME"),
        "instrument": None if instrument is None else str(instrument),
        "frame_type": first("FRAME_TYPE", "IMAGE_TYPE", "IMAGETYP"),
    }


def _dtype_name(dtype: np.dtype) -> str:
    return np.dtype(dtype).newbyteorder("=").name


def describe_pds3(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Metadata of a PDS3 product: ``path`` is the ``.IMG`` (attached or with a sibling
    ``.LBL``) or the detached ``.LBL`` itself; a named data file must resolve inside
    ``data_root`` (default: the label's folder)."""
    path = Path(path)
    if path.suffix.lower() == ".lbl":
        label_path, attached = path, False
    else:
        with path.open("rb") as fh:
            head = fh.read(64)
        if looks_like_odl(head):
            label_path, attached = path, True
        else:
            sibling = detached_label_for(path)
            if sibling is None:
                raise UnreadableFrame(
                    path, "not a PDS3 product: no attached label (PDS_VERSION_ID) and no detached .LBL beside it"
                )
            label_path, attached = sibling, False
    label = parse(label_path, attached=attached)
    where = label_path
    layout, _image, data_path = pds3_layout(label, label_path, attached=attached, where=where, data_root=data_root)
    check_layout(layout, band=band, max_bytes=max_bytes, source=where)
    record = _value(label.get("RECORD_BYTES"))
    bitdepth.check_file_size(
        where, data_path.name, layout.offset, layout.stored_bytes, layout.itemsize, data_path.stat().st_size,
        objects_after=bitdepth.pds3_objects_after(label, _pointer(label, where)[0], data_path.name, attached,
                                                  layout.offset + layout.stored_bytes),
        record=record if isinstance(record, int) and str(label.get("RECORD_TYPE", "")).upper() == "FIXED_LENGTH" else 1,
        keyword=layout.width_keyword,
    )
    raw = label_metadata(label)
    extra = {"layout": layout.to_dict(), "raw_metadata": {k: repr(v) for k, v in raw.items()},
             "scale": layout.scale, "offset": layout.value_offset, "bands": layout.bands,
             "stored_dtype": layout.dtype, "companded": layout.lut is not None}
    d = Described(
        data_path=data_path,
        label_path=None if attached else label_path,
        shape=(layout.lines, layout.samples),
        dtype=_dtype_name(np.dtype(layout.dtype)),
        bands=layout.bands,
        instrument=raw["instrument"],
        extra=extra,
    )
    d.extra["_raw"] = raw
    return d


def detached_label_for(data_path: Path) -> Path | None:
    """A ``<stem>.LBL`` (any case) beside ``data_path``, or None."""
    stem = data_path.stem.lower()
    try:
        for entry in sorted(data_path.parent.iterdir()):
            if entry.suffix.lower() == ".lbl" and entry.stem.lower() == stem and entry.is_file():
                return entry
    except OSError:
        return None
    return None
