"""ISIS3 cubes (``.cub``) with an attached (or ``^Core``-detached) PVL label.

``IsisCube/Core``: ``StartByte`` (1-based), ``Format`` ``Tile`` (``TileSamples``,
``TileLines``) or ``BandSequential``, ``Dimensions`` (``Samples``, ``Lines``, ``Bands``),
``Pixels`` (``Type`` UnsignedByte/SignedByte/UnsignedWord/SignedWord/UnsignedInteger/
SignedInteger/Real/Double, ``ByteOrder`` Lsb/Msb, ``Base``, ``Multiplier``). Values are
``Base + Multiplier * stored``; ISIS special pixels (Null, Lrs, Lis, His, Hrs) are masked.

Metadata from ``IsisCube/Instrument``: ``StartTime``, ``ExposureDuration`` or
``LineExposureDuration`` (in its unit; milliseconds when none is given, ISIS's
convention for these keywords), ``InstrumentId``.

Cubes this reader refuses for want of a format (ISIS2 qubes, an ISIS3 ``Format`` or pixel
type it does not know) are read through GDAL instead (:mod:`pipeline.io.gdalcube`,
``extra["reader"] == "gdal"``); damaged cubes (label syntax, truncation) are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import UnreadableFrame, UnsupportedFormat
from pipeline.io import gdalcube
from pipeline.io.base import Described, load_raw
from pipeline.io.gdalcube import load_gdal_cube
from pipeline.io.odl import Label, LabelSyntaxError, Quantity, parse_label
from pipeline.io.pds3 import looks_like_odl, read_label_text, resolve_file
from pipeline.io.rawarray import RawLayout, check_layout

__all__ = ["describe_isis3", "load_isis3", "looks_like_isis"]

_TYPES = {
    "UNSIGNEDBYTE": "u1", "SIGNEDBYTE": "i1", "UNSIGNEDWORD": "u2", "SIGNEDWORD": "i2",
    "UNSIGNEDINTEGER": "u4", "SIGNEDINTEGER": "i4", "REAL": "f4", "DOUBLE": "f8",
}


def looks_like_isis(head: bytes) -> bool:
    """Whether a file starts with an ISIS cube label (``Object = IsisCube``)."""
    text = head.lstrip().decode("latin-1").lower()
    return text.startswith("object") and "isiscube" in text[:64].replace(" ", "")


def _v(x):
    return x.value if isinstance(x, Quantity) else x


def load_isis3(meta, max_bytes: int | None):
    """Pixels of a cube: the own raw reader, or GDAL for a cube described through it."""
    if meta.extra.get("reader") == "gdal":
        return load_gdal_cube(meta, max_bytes)
    return load_raw(meta, max_bytes)


def describe_isis3(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Label metadata of an ISIS3 cube (ISIS2 qubes and layouts the own reader does not
    know: through GDAL)."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(256)
    isis3 = looks_like_isis(head)
    if not isis3 and not looks_like_odl(head):
        raise UnreadableFrame(path, "not an ISIS cube (the label starts neither with Object = IsisCube nor "
                              "with an ISIS2 qube label)")
    text, _ = read_label_text(path, attached=True)
    try:
        label = parse_label(text)
    except LabelSyntaxError as exc:
        raise UnreadableFrame(path, f"ISIS cube label is not valid PVL: {exc}; the label is damaged") from None
    if not isis3:
        if gdalcube.is_isis2_qube(label):
            return gdalcube.describe_gdal_cube(path, band, max_bytes, label=label, reason="ISIS2 qube")
        raise UnreadableFrame(path, "not an ISIS cube: an ODL label without Object = IsisCube or an ISIS2 ^QUBE")
    try:
        return _describe_own(path, band, max_bytes, label, data_root)
    except UnsupportedFormat as exc:
        if "band" in exc.reason and "requested" in exc.reason:
            raise
        cube = label.get("ISISCUBE")
        meta = _instrument_metadata(cube) if isinstance(cube, Label) else None
        core = cube.get("CORE") if isinstance(cube, Label) else None
        named = core.get("^CORE") if isinstance(core, Label) else None
        data_path = resolve_file(path, named, path, data_root) if isinstance(named, str) else None
        try:
            return gdalcube.describe_gdal_cube(path, band, max_bytes, label=label, reason=exc.reason,
                                               isis_metadata=meta, data_path=data_path)
        except UnreadableFrame:
            raise exc from None


def _instrument_metadata(cube: Label) -> dict:
    inst = cube.get("INSTRUMENT") if isinstance(cube.get("INSTRUMENT"), Label) else Label()
    exposure = inst.get("EXPOSUREDURATION", inst.get("LINEEXPOSUREDURATION"))
    radiometry = cube.get("RADIOMETRY") if isinstance(cube.get("RADIOMETRY"), Label) else Label()
    kind = str(radiometry.get("RADIOMETRICTYPE", "")).strip().lower()
    return {
        "calibrated": {"iof": "iof", "radiance": "radiance"}.get(kind),
        "time": inst.get("STARTTIME"),
        "exposure": exposure,
        "exposure_default_unit": "ms",
        "instrument": None if inst.get("INSTRUMENTID") is None else str(inst.get("INSTRUMENTID")),
        "frame_type": None,
    }


def _describe_own(path: Path, band: int, max_bytes: int | None, label: Label, data_root: Path | None = None):

    cube = label.get("ISISCUBE")
    core = cube.get("CORE") if isinstance(cube, Label) else None
    if not isinstance(core, Label):
        raise UnreadableFrame(path, "ISIS cube label has no IsisCube/Core object")
    dims, pixels = core.get("DIMENSIONS"), core.get("PIXELS")
    if not isinstance(dims, Label) or not isinstance(pixels, Label):
        raise UnreadableFrame(path, "ISIS cube Core lacks the Dimensions or Pixels group")
    ptype = str(pixels.get("TYPE", "")).upper()
    if ptype not in _TYPES:
        raise UnsupportedFormat(path, f"ISIS pixel type {pixels.get('TYPE')!r} is not supported")
    order = {"LSB": "<", "MSB": ">"}.get(str(pixels.get("BYTEORDER", "Lsb")).upper())
    if order is None:
        raise UnreadableFrame(path, f"ISIS ByteOrder {pixels.get('BYTEORDER')!r} is neither Lsb nor Msb")
    dtype = np.dtype(order + _TYPES[ptype])
    data_path = path
    if isinstance(core.get("^CORE"), str):
        data_path = resolve_file(path, core["^CORE"], path, data_root)
        with data_path.open("rb") as fh:
            if fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
                raise UnsupportedFormat(path, f"the cube's ^Core {data_path.name} is a GeoTIFF")
    fmt = str(core.get("FORMAT", "Tile")).upper()
    ints = {}
    for key, block, default in (("STARTBYTE", core, 1), ("SAMPLES", dims, None), ("LINES", dims, None),
                                ("BANDS", dims, 1), ("TILESAMPLES", core, 0), ("TILELINES", core, 0)):
        value = _v(block.get(key, default))
        if not isinstance(value, int) or isinstance(value, bool):
            raise UnreadableFrame(path, f"ISIS cube {key} = {value!r} is not an integer")
        ints[key] = value
    if ints["STARTBYTE"] < 1:
        raise UnreadableFrame(path, f"ISIS cube StartByte = {ints['STARTBYTE']} is not positive")
    try:
        base = float(_v(pixels.get("BASE", 0.0)))
        mult = float(_v(pixels.get("MULTIPLIER", 1.0)))
    except (TypeError, ValueError):
        raise UnreadableFrame(path, "ISIS cube Base/Multiplier is not a number") from None
    if fmt == "TILE":
        storage = "TILE"
    elif fmt == "BANDSEQUENTIAL":
        storage = "BSQ"
    else:
        raise UnsupportedFormat(
            path, f"ISIS cube Format {core.get('FORMAT')!r} is not supported (Tile, BandSequential)"
        )
    layout = RawLayout(
        path=str(data_path), offset=ints["STARTBYTE"] - 1, dtype=dtype.str, lines=ints["LINES"],
        samples=ints["SAMPLES"], bands=ints["BANDS"], storage=storage, tile_lines=ints["TILELINES"],
        tile_samples=ints["TILESAMPLES"], scale=mult, value_offset=base, isis_specials=True,
    )
    check_layout(layout, band=band, max_bytes=max_bytes, source=path)
    raw = _instrument_metadata(cube)
    d = Described(
        data_path=data_path, label_path=None, shape=(layout.lines, layout.samples),
        dtype=dtype.newbyteorder("=").name, bands=layout.bands,
        instrument=None if raw["instrument"] is None else str(raw["instrument"]),
        extra={"layout": layout.to_dict(), "scale": mult, "offset": base, "bands": layout.bands,
               "stored_dtype": dtype.str},
    )
    d.extra["_raw"] = raw
    return d
