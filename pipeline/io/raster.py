"""Label-less rasters: TIFF, PNG and JPEG, decoded by GDAL (rasterio).

Only the image grid is in these files; exposure, frame type and time come from the
``<stem>.json`` sidecar. GDAL decodes every TIFF compression it was built with (none, LZW
- ``cv2.imwrite``'s default -, deflate, JPEG, PackBits, ZSTD, LZMA, LERC; strips or tiles,
contiguous or separate planes), 8/16-bit PNG and baseline/progressive JPEG; nothing needs
``imagecodecs``. Supported samples: 8/16/32-bit integers and 32/64-bit floats; greyscale or
colour (the requested ``band`` in RGB(A) order; palette images are expanded to RGB). An
alpha channel is not a band: its zero pixels are masked, as are TIFF nodata pixels.

Decompression bombs are refused before any pixel is decoded: the declared ``lines x
samples x bands x bytes`` is checked against ``max_bytes`` (``ingest.max_frame_bytes``)
from the header alone - the PNG ``IHDR`` chunk and the JPEG ``SOFn`` segment are parsed
here from the first bytes of the file (GDAL is not even opened for an oversized PNG or
JPEG); TIFFs from their IFD (GDAL's open reads no strip). A TIFF whose last strip or tile
lies beyond the end of the file is refused as truncated.
"""

from __future__ import annotations

import contextlib
import logging
import struct
from pathlib import Path

import numpy as np
from rasterio.enums import ColorInterp

from pipeline.errors import UnreadableFrame
from pipeline.io.base import Described
from pipeline.io.gdalread import (
    check_compression_ratio,
    check_declared_size,
    dataset_dtype,
    open_raster,
    read_stored_band,
)

log = logging.getLogger(__name__)

__all__ = ["describe_jpeg", "describe_png", "describe_tiff", "jpeg_header", "load_raster", "png_header"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DRIVERS = {"tiff": ("GTiff", "COG"), "png": ("PNG",), "jpeg": ("JPEG",)}
_NAMES = {"tiff": "TIFF", "png": "PNG", "jpeg": "JPEG"}


def png_header(path: Path) -> tuple[int, int, int, int]:
    """``(lines, samples, bands, bytes per sample)`` from a PNG's ``IHDR`` (33 bytes read).

    Bands count colour samples as decoded (grey 1, grey+alpha 2, RGB and palette 3,
    RGBA 4, palette with transparency 4).
    """
    with path.open("rb") as fh:
        head = fh.read(33)
    if not head.startswith(_PNG_SIGNATURE) or len(head) < 29 or head[12:16] != b"IHDR":
        raise UnreadableFrame(path, "not a PNG image (PNG signature or IHDR missing); check the file")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise UnreadableFrame(path, f"PNG colour type {colour} / bit depth {depth} is invalid")
    return height, width, channels, 2 if depth == 16 else 1


def jpeg_header(path: Path) -> tuple[int, int, int, int]:
    """``(lines, samples, components, bytes per sample)`` from a JPEG's ``SOFn`` segment."""
    with path.open("rb") as fh:
        data = fh.read(1 << 20)
    if not data.startswith(b"\xff\xd8"):
        raise UnreadableFrame(path, "not a JPEG image (SOI marker missing); check the file")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if i + 10 > len(data):
                break
            precision, height, width, channels = struct.unpack(">BHHB", data[i + 4 : i + 10])
            return height, width, channels, 2 if precision > 8 else 1
        if length < 2:
            break
        i += 2 + length
    raise UnreadableFrame(path, "JPEG has no frame header (SOF); the file is damaged or truncated")


def _layout(ds, path: Path, what: str) -> dict:
    """Which GDAL bands are colour, which alpha; palette."""
    interp = list(ds.colorinterp)
    alpha = [i + 1 for i, c in enumerate(interp) if c == ColorInterp.alpha]
    colour = [i + 1 for i, c in enumerate(interp) if c != ColorInterp.alpha]
    palette = None
    if ds.count == 1 and interp and interp[0] == ColorInterp.palette:
        try:
            cmap = ds.colormap(1)
        except ValueError:
            cmap = None
        if cmap:
            palette = np.zeros((256, 4), np.uint8)
            for k, rgba in cmap.items():
                if 0 <= k < 256:
                    palette[k] = rgba[:4]
            palette = palette.tolist()
    return {"gdal_bands": colour, "alpha_band": alpha[0] if alpha else None, "palette": palette}


def _tiff_truncated(ds, path: Path) -> None:
    """Refuse a TIFF whose last strip/tile of any band ends beyond the file."""
    size = path.stat().st_size
    bh, bw = ds.block_shapes[0]
    nx, ny = -(-ds.width // bw), -(-ds.height // bh)
    for b in range(1, ds.count + 1):
        off = ds.get_tag_item(f"BLOCK_OFFSET_{nx - 1}_{ny - 1}", "TIFF", bidx=b)
        cnt = ds.get_tag_item(f"BLOCK_SIZE_{nx - 1}_{ny - 1}", "TIFF", bidx=b)
        if off and cnt and int(off) + int(cnt) > size:
            raise UnreadableFrame(
                path, f"truncated: TIFF strips/tiles end at byte {int(off) + int(cnt)} but the file has only "
                f"{size} bytes; re-copy it"
            )


@contextlib.contextmanager
def _open(path: Path, fmt: str, what: str, header_ok: bool):
    try:
        with open_raster(path, _DRIVERS.get(fmt, ("GTiff", "PNG", "JPEG")), what) as ds:
            yield ds
    except UnreadableFrame as exc:
        if not header_ok or not exc.reason.startswith("not a readable"):
            raise
        detail = exc.reason[exc.reason.find("(") :].split(";")[0]
        raise UnreadableFrame(path, f"{what} header is valid but the pixels cannot be decoded {detail}; "
                              "the file is damaged or truncated") from None


def _describe(path: Path, band: int, max_bytes: int | None, fmt: str):

    path = Path(path)
    what = _NAMES[fmt]
    header = None
    if fmt in ("png", "jpeg"):
        try:
            header = (png_header if fmt == "png" else jpeg_header)(path)
        except (OSError, struct.error) as exc:
            raise UnreadableFrame(path, f"{what} header cannot be read ({exc})") from None
        lines, samples, channels, itemsize = header
        # the size checks come before GDAL opens the file at all (the band is checked below)
        check_declared_size(path, lines, samples, channels, itemsize, 0, max_bytes)
        check_compression_ratio(path, lines * samples * channels * itemsize, path.stat().st_size)
    with _open(path, fmt, what, header is not None) as ds:
        dtype = dataset_dtype(ds, path, what)
        info = _layout(ds, path, what)
        bands = 3 if info["palette"] is not None else len(info["gdal_bands"])
        check_declared_size(path, ds.height, ds.width, max(ds.count, bands), dtype.itemsize, band, max_bytes)
        if header is not None and (header[0], header[1]) != (ds.height, ds.width):
            raise UnreadableFrame(
                path, f"{what} header says {header[0]} x {header[1]}, GDAL reads {ds.height} x {ds.width}"
            )
        if fmt == "tiff":
            if ds.compression is not None:
                check_compression_ratio(path, ds.height * ds.width * ds.count * dtype.itemsize, path.stat().st_size)
            _tiff_truncated(ds, path)
        compression = ds.compression.name if ds.compression is not None else "none"
        nodata = ds.nodata
    return Described(
        data_path=path, shape=(ds.height, ds.width), dtype=dtype.name, bands=bands,
        extra={"bands": bands, "compression": compression, "nodata": nodata, **info},
    )


def describe_tiff(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Header of a TIFF (first image): size, sample type, bands, compression."""
    return _describe(path, band, max_bytes, "tiff")


def describe_png(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Header of a PNG (``IHDR`` checked before GDAL opens it)."""
    return _describe(path, band, max_bytes, "png")


def describe_jpeg(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Header of a JPEG (``SOFn`` checked before GDAL opens it)."""
    return _describe(path, band, max_bytes, "jpeg")


def load_raster(meta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a TIFF/PNG/JPEG frame: band ``meta.band`` (RGB order) as float32.

    Returns
    -------
    data : ndarray of float32, shape (lines, samples)
        Stored values (no scaling); NaN where masked.
    mask : ndarray of bool
        True where the alpha channel is 0, at the TIFF nodata value, or non-finite.
    """
    path = Path(meta.path)
    fmt = meta.format
    what = _NAMES.get(fmt, fmt)
    if fmt in ("png", "jpeg"):
        lines, samples, channels, itemsize = (png_header if fmt == "png" else jpeg_header)(path)
        check_declared_size(path, lines, samples, channels, itemsize, 0, max_bytes)
        check_compression_ratio(path, lines * samples * channels * itemsize, path.stat().st_size)
    with _open(path, fmt, what, fmt in ("png", "jpeg")) as ds:
        dtype = dataset_dtype(ds, path, what)
        check_declared_size(path, ds.height, ds.width, max(ds.count, meta.extra.get("bands", 1)), dtype.itemsize,
                            meta.band, max_bytes)
        info = meta.extra if "gdal_bands" in meta.extra else _layout(ds, path, what)  # (metadata of an older reader)
        palette, alpha_band = info.get("palette"), info.get("alpha_band")
        alpha = None
        if palette is not None:
            index = read_stored_band(ds, 1, path, what)
            table = np.asarray(palette, np.uint8)
            arr = table[index, meta.band]
            alpha = table[index, 3]
        else:
            arr = read_stored_band(ds, info["gdal_bands"][meta.band], path, what)
            if alpha_band is not None:
                alpha = read_stored_band(ds, alpha_band, path, what)
    data = arr.astype(np.float32)
    mask = ~np.isfinite(data)
    if alpha is not None:
        mask |= alpha == 0
    nodata = meta.extra.get("nodata")
    if nodata is not None and np.isfinite(nodata):
        mask |= arr == nodata
    data[mask] = np.nan
    return data, mask
