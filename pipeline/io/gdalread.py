"""Reading rasters through GDAL (rasterio): one quiet, safe way to open and decode.

Every GDAL read of a frame goes through :func:`open_raster` and :func:`read_stored_band`:

- only the drivers named by the caller may open the file (a ``.tif`` that is really
  something else is not silently read by another driver);
- GDAL writes nothing beside the frame (``GDAL_PAM_ENABLED=NO``: no ``.aux.xml``);
- GDAL/rasterio errors become :class:`~pipeline.errors.UnreadableFrame` naming the file;
- :func:`check_declared_size` compares ``lines x samples x bands x bytes`` from the
  header with the memory cap *before* any pixel is decoded.

Values come back as *stored* (no scale/offset applied, nodata not masked): each reader
applies its format's rules (ISIS special pixels, alpha masks...).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from pipeline.errors import LabelTooLarge, UnreadableFrame, UnsupportedFormat

__all__ = [
    "BOMB_MIN_BYTES",
    "GDAL_OPTIONS",
    "MAX_COMPRESSION_RATIO",
    "check_compression_ratio",
    "check_declared_size",
    "dataset_dtype",
    "open_raster",
    "read_stored_band",
]

GDAL_OPTIONS = {"GDAL_PAM_ENABLED": "NO", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
"""GDAL configuration for reading frames: no ``.aux.xml`` written, no folder listing."""

MAX_COMPRESSION_RATIO = 250
"""A compressed raster declaring more than this many times its file size is a bomb..."""

BOMB_MIN_BYTES = 128 * 1024**2
"""...when it also declares at least this many bytes (small blank images are fine)."""

_SUPPORTED_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")


@contextlib.contextmanager
def open_raster(path: str | Path, drivers: Sequence[str], what: str, where: Path | None = None) -> Iterator:
    """Open ``path`` with rasterio, allowing only ``drivers``.

    Parameters
    ----------
    path : str or Path
    drivers : sequence of str
        GDAL driver short names (``"GTiff"``, ``"PNG"``, ``"ISIS3"``...).
    what : str
        What the file should be, for the message (``"TIFF"``, ``"ISIS cube"``).
    where : Path, optional
        The file named in errors (default ``path``).

    Yields
    ------
    rasterio.io.DatasetReader

    Raises
    ------
    UnreadableFrame
        GDAL cannot open the file with those drivers.
    """
    where = Path(where or path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(**GDAL_OPTIONS), contextlib.ExitStack() as stack:
            source = _gdal_source(Path(path), stack)
            ds, error = None, None
            for driver in drivers:  # rasterio takes one allowed driver at a time
                try:
                    if not isinstance(source, str):
                        source.seek(0)
                    ds = rasterio.open(source, driver=driver)
                    break
                except (RasterioError, OSError, ValueError) as exc:
                    error = error or exc
            if ds is None:
                raise UnreadableFrame(where, f"not a readable {what} ({_first_line(error)}); check the file")
            try:
                yield ds
            finally:
                ds.close()


def _gdal_source(path: Path, stack: contextlib.ExitStack):
    """What rasterio opens: the path, or for a file name that is not valid UTF-8 (GDAL takes
    UTF-8 names only; the OS allows any bytes) the open file, which rasterio reads into memory."""
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return stack.enter_context(path.open("rb"))
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def check_declared_size(where: Path, lines: int, samples: int, bands: int, itemsize: int, band: int,
                        max_bytes: int | None, *, source: str = "header") -> None:
    """Refuse, before decoding, an image whose header declares more than ``max_bytes``.

    Raises
    ------
    UnreadableFrame
        Empty size.
    LabelTooLarge
        ``lines * samples * bands * itemsize > max_bytes`` (the message gives the numbers
        and the ``ingest.max_frame_bytes`` fix).
    UnsupportedFormat
        ``band`` beyond the bands of the image.
    """
    if lines <= 0 or samples <= 0 or bands <= 0:
        raise UnreadableFrame(where, f"image size {lines} x {samples} x {bands} is empty")
    declared = lines * samples * bands * itemsize
    if max_bytes is not None and declared > max_bytes:
        raise LabelTooLarge(
            where, f"{source} declares {lines} x {samples} x {bands} samples of {itemsize} bytes = {declared} bytes, "
            f"over the limit of {max_bytes} bytes; raise ingest.max_frame_bytes if the image is genuine"
        )
    if not 0 <= band < bands:
        raise UnsupportedFormat(
            where, f"band {band} requested but the image has {bands} band(s) (ingest.band is zero-based)"
        )


def check_compression_ratio(where: Path, declared: int, file_size: int) -> None:
    """Refuse a decompression bomb from its header: a compressed image declaring at least
    :data:`BOMB_MIN_BYTES` and more than :data:`MAX_COMPRESSION_RATIO` times its file size.

    Real images (noise, texture) compress at most a few tens to one; deflate's limit is
    about 1030:1, reached only by constant data. Checked before anything is decoded.

    Raises
    ------
    LabelTooLarge
        With the declared size, the file size and the ratio.
    """
    if declared >= BOMB_MIN_BYTES and declared > MAX_COMPRESSION_RATIO * max(file_size, 1):
        raise LabelTooLarge(
            where, f"header declares {declared} bytes of pixels in a file of {file_size} bytes (compressed "
            f"{declared / max(file_size, 1):.0f}:1, more than {MAX_COMPRESSION_RATIO}:1): a decompression bomb or a "
            "blank image, refused before decoding; if it is genuine, store it uncompressed"
        )


def dataset_dtype(ds, where: Path, what: str) -> np.dtype:
    """The one numpy dtype of all bands of ``ds`` (refusing complex and mixed types)."""
    names = set(ds.dtypes)
    if len(names) != 1 or next(iter(names)) not in _SUPPORTED_DTYPES:
        raise UnsupportedFormat(
            where,
            f"{what} sample type {', '.join(sorted(names))} is not supported "
            "(8/16/32-bit integer or 32/64-bit float)",
        )
    return np.dtype(next(iter(names)))


def read_stored_band(ds, index: int, where: Path, what: str) -> np.ndarray:
    """Stored values of band ``index`` (1-based, GDAL's numbering), no scaling, no masking.

    Raises
    ------
    UnreadableFrame
        GDAL fails to decode (truncated or damaged file).
    """
    try:
        return ds.read(index, masked=False)
    except (RasterioError, OSError, ValueError, MemoryError) as exc:
        raise UnreadableFrame(
            where, f"{what} pixels cannot be decoded ({_first_line(exc)}); the file is damaged or truncated"
        ) from None
