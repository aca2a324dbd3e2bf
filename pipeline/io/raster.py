"""Label-less rasters: TIFF (tifffile), PNG and JPEG (OpenCV).

Only the image grid is in these files; exposure, frame type and time come from the
``<stem>.json`` sidecar. Supported: 8/16-bit unsigned integer and 32-bit float greyscale
(multi-channel images keep the requested ``band``, in RGB(A) order). A fully transparent
alpha channel pixel is masked.

Headers are read without decoding pixels: tifffile's page tags, the PNG ``IHDR`` chunk,
the JPEG ``SOFn`` segment.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np

from pipeline.errors import LabelTooLarge, UnreadableFrame, UnsupportedFormat

log = logging.getLogger(__name__)

__all__ = ["describe_jpeg", "describe_png", "describe_tiff", "load_opencv", "load_tiff"]

_TIFF_DTYPES = ("uint8", "uint16", "float32", "int16", "uint32", "int32", "float64")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_size(path: Path, lines: int, samples: int, bands: int, itemsize: int, band: int, max_bytes: int | None) -> None:
    if lines <= 0 or samples <= 0:
        raise UnreadableFrame(path, f"image size {lines} x {samples} is empty")
    declared = lines * samples * bands * itemsize
    if max_bytes is not None and declared > max_bytes:
        raise LabelTooLarge(
            path, f"header declares {lines} x {samples} x {bands} samples of {itemsize} bytes = {declared} bytes, "
            f"over the limit of {max_bytes} bytes; raise ingest.max_frame_bytes if the image is genuine"
        )
    if not 0 <= band < bands:
        raise UnsupportedFormat(path, f"band {band} requested but the image has {bands} band(s)")


def _tiff_page(path: Path):
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, OSError, struct.error, IndexError, KeyError, TypeError) as exc:
        raise UnreadableFrame(path, f"not a readable TIFF ({exc})") from None
    try:
        if not tif.pages:
            raise UnreadableFrame(path, "TIFF has no image")
        page = tif.pages.first
        shape, dtype = page.shape, page.dtype
    except (tifffile.TiffFileError, ValueError, OSError, struct.error, IndexError, KeyError, TypeError) as exc:
        tif.close()
        raise UnreadableFrame(path, f"TIFF header cannot be read ({exc})") from None
    return tif, page, shape, dtype


def _tiff_geometry(path: Path, shape, dtype, page) -> tuple[int, int, int]:
    if dtype is None or np.dtype(dtype).name not in _TIFF_DTYPES:
        raise UnsupportedFormat(path, f"TIFF sample type {dtype} is not supported (8/16-bit integer or 32-bit float)")
    if len(shape) == 2:
        return shape[0], shape[1], 1
    if len(shape) == 3:
        if getattr(page, "planarconfig", 1) == 2:  # separate planes: (bands, lines, samples)
            return shape[1], shape[2], shape[0]
        return shape[0], shape[1], shape[2]
    raise UnsupportedFormat(path, f"TIFF image of shape {shape} is not supported (greyscale or RGB)")


def describe_tiff(path: Path, band: int, max_bytes: int | None):
    """Header of a TIFF (first page)."""
    from pipeline.io.base import Described

    path = Path(path)
    tif, page, shape, dtype = _tiff_page(path)
    try:
        lines, samples, bands = _tiff_geometry(path, shape, dtype, page)
        _check_size(path, lines, samples, bands, np.dtype(dtype).itemsize, band, max_bytes)
        size = path.stat().st_size
        offsets, counts = page.dataoffsets, page.databytecounts
        if offsets and counts:
            end = max(int(o) + int(c) for o, c in zip(offsets, counts))
            if end > size:
                raise UnreadableFrame(
                    path, f"truncated: TIFF strips/tiles end at byte {end} but the file has only {size} bytes"
                )
        compression = getattr(page.compression, "name", str(page.compression))
        return Described(
            data_path=path, shape=(lines, samples), dtype=np.dtype(dtype).name, bands=bands,
            extra={"bands": bands, "compression": compression},
        )
    finally:
        tif.close()


def load_tiff(meta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a TIFF frame."""
    import tifffile

    path = Path(meta.path)
    tif, page, shape, dtype = _tiff_page(path)
    try:
        lines, samples, bands = _tiff_geometry(path, shape, dtype, page)
        _check_size(path, lines, samples, bands, np.dtype(dtype).itemsize, meta.band, max_bytes)
        try:
            arr = page.asarray()
        except (tifffile.TiffFileError, ValueError, OSError, struct.error, IndexError, KeyError, TypeError, RuntimeError) as exc:
            raise UnreadableFrame(path, f"TIFF pixels cannot be decoded ({exc})") from None
    finally:
        tif.close()
    if arr.ndim == 3:
        arr = arr[meta.band] if getattr(page, "planarconfig", 1) == 2 else arr[:, :, meta.band]
    return _finish(arr, None)


def _finish(arr: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(arr).astype(np.float32)
    mask = ~np.isfinite(data)
    if alpha is not None:
        mask |= alpha == 0
    data[mask] = np.nan
    return data, mask


def _png_header(path: Path) -> tuple[int, int, int, int]:
    with path.open("rb") as fh:
        head = fh.read(33)
    if not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR" or len(head) < 29:
        raise UnreadableFrame(path, "not a PNG image (PNG signature or IHDR missing); check the file")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise UnreadableFrame(path, f"PNG colour type {colour} / bit depth {depth} is invalid")
    if colour == 3:
        channels = 3  # palette images decode to BGR
    return height, width, channels, 2 if depth == 16 else 1


def _jpeg_header(path: Path) -> tuple[int, int, int, int]:
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


def _describe_cv(path: Path, band: int, max_bytes: int | None, header, name: str):
    from pipeline.io.base import Described

    path = Path(path)
    try:
        lines, samples, channels, itemsize = header(path)
    except (OSError, struct.error) as exc:
        raise UnreadableFrame(path, f"{name} header cannot be read ({exc})") from None
    colour = channels if channels in (1, 3, 4) else (1 if channels == 2 else channels)
    bands = 1 if channels == 2 else (3 if channels == 4 else colour)
    _check_size(path, lines, samples, bands, itemsize, band, max_bytes)
    return Described(
        data_path=path, shape=(lines, samples), dtype="uint16" if itemsize == 2 else "uint8", bands=bands,
        extra={"bands": bands, "channels": channels},
    )


def describe_png(path: Path, band: int, max_bytes: int | None):
    """Header of a PNG (IHDR)."""
    return _describe_cv(path, band, max_bytes, _png_header, "PNG")


def describe_jpeg(path: Path, band: int, max_bytes: int | None):
    """Header of a JPEG (SOFn)."""
    return _describe_cv(path, band, max_bytes, _jpeg_header, "JPEG")


def load_opencv(meta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a PNG/JPEG frame (``cv2.IMREAD_UNCHANGED``); colour in RGB(A) band order."""
    import cv2

    path = Path(meta.path)
    lines, samples = meta.shape
    bands = meta.extra.get("bands", 1)
    itemsize = 2 if meta.dtype == "uint16" else 1
    _check_size(path, lines, samples, bands, itemsize, meta.band, max_bytes)
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise UnreadableFrame(path, f"{meta.format.upper()} pixels cannot be decoded (damaged or truncated file)")
    alpha = None
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            alpha = arr[:, :, 3]
            arr = arr[:, :, 2::-1]
        elif arr.shape[2] == 2:
            alpha, arr = arr[:, :, 1], arr[:, :, :1]
        else:
            arr = arr[:, :, ::-1]
        arr = arr[:, :, min(meta.band, arr.shape[2] - 1)]
    if arr.shape != (lines, samples):
        raise UnreadableFrame(path, f"decoded image is {arr.shape}, header said {(lines, samples)}")
    return _finish(arr, alpha)
