"""FITS images (astropy headers; pixels read as a raw big-endian array).

The first HDU holding an image (``NAXIS >= 2``) is used: the primary HDU or the first
image extension. ``NAXIS1`` = samples, ``NAXIS2`` = lines, ``NAXIS3`` = bands.
Values are ``BZERO + BSCALE * stored``; integer ``BLANK`` and non-finite reals are masked.
Uncompressed data are read straight from the file through a
:class:`~pipeline.io.rawarray.RawLayout` (same size checks as PDS); tile-compressed
images are decoded by astropy.

Metadata: ``EXPTIME`` (or ``EXPOSURE``; seconds), ``DATE-OBS`` (+ ``TIME-OBS`` when the
date has no time), ``IMAGETYP`` (or ``FRAMETYP``), ``INSTRUME``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

from pipeline.errors import LabelTooLarge, UnreadableFrame, UnsupportedFormat
from pipeline.io.base import Described, load_raw
from pipeline.io.rawarray import RawLayout, check_layout

log = logging.getLogger(__name__)

__all__ = ["BITPIX_DTYPES", "describe_fits", "load_fits"]

BITPIX_DTYPES = {8: "|u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


def _open(path: Path):

    with path.open("rb") as fh:
        head = fh.read(30)
    if not head.startswith(b"SIMPLE  ="):
        raise UnreadableFrame(path, "not a FITS file (it does not start with SIMPLE =); check the file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdul = fits.open(path, memmap=False, lazy_load_hdus=True, do_not_scale_image_data=True)
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise UnreadableFrame(path, f"FITS file cannot be opened ({exc})") from None
    return hdul


def _image_hdu(hdul, path: Path):

    index = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hdu = hdul[index]
        except IndexError:
            break
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise UnreadableFrame(path, f"FITS HDU {index} cannot be read ({exc})") from None
        header = hdu.header
        if isinstance(hdu, fits.CompImageHDU):
            naxis = header.get("ZNAXIS", header.get("NAXIS", 0))
        else:
            naxis = header.get("NAXIS", 0)
        is_image = isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))
        if is_image and isinstance(naxis, int) and naxis >= 2:
            return index, hdu
        index += 1
    raise UnsupportedFormat(path, "FITS file has no image HDU (NAXIS >= 2)")


def describe_fits(path: Path, band: int, max_bytes: int | None, data_root: Path | None = None):
    """Header metadata of a FITS image (no pixels read)."""
    path = Path(path)
    hdul = _open(path)
    try:
        index, hdu = _image_hdu(hdul, path)
        h = hdu.header
        compressed = isinstance(hdu, fits.CompImageHDU)
        bitpix = h.get("ZBITPIX") if compressed else h.get("BITPIX")
        naxis = h.get("ZNAXIS") if compressed else h.get("NAXIS")
        dims = [h.get(f"{'Z' if compressed else ''}NAXIS{i}") for i in range(1, naxis + 1)]
        if bitpix not in BITPIX_DTYPES:
            raise UnsupportedFormat(path, f"BITPIX = {bitpix!r} is not supported")
        if any(not isinstance(d, int) or d <= 0 for d in dims):
            raise UnreadableFrame(path, f"FITS image axes {dims} are not positive integers")
        if naxis > 3 and any(d != 1 for d in dims[3:]):
            raise UnsupportedFormat(path, f"FITS image with {naxis} axes {dims} is not supported (2 or 3)")
        samples, lines = dims[0], dims[1]
        bands = dims[2] if naxis >= 3 else 1
        scale = float(h.get("BSCALE", 1.0))
        zero = float(h.get("BZERO", 0.0))
        blank = h.get("BLANK") if bitpix > 0 else None
        dtype = np.dtype(BITPIX_DTYPES[bitpix])
        stored = dtype
        if bitpix == 16 and scale == 1.0 and zero == 32768.0:
            stored = np.dtype("uint16")
        elif bitpix == 32 and scale == 1.0 and zero == 2147483648.0:
            stored = np.dtype("uint32")
        elif bitpix == 8 and scale == 1.0 and zero == -128.0:
            stored = np.dtype("int8")
        layout = None
        if not compressed:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # truncation is reported by check_layout below
                info = hdul.fileinfo(index)
            layout = RawLayout(
                path=str(path), offset=int(info["datLoc"]), dtype=dtype.str, lines=lines, samples=samples,
                bands=bands, scale=scale, value_offset=zero,
                specials=(float(blank),) if isinstance(blank, int) and not isinstance(blank, bool) else (),
            )
            check_layout(layout, band=band, max_bytes=max_bytes, source=path)
        else:
            declared = lines * samples * bands * dtype.itemsize
            if max_bytes is not None and declared > max_bytes:

                raise LabelTooLarge(path, f"header declares {declared} bytes, over the limit of {max_bytes}")
            if not 0 <= band < bands:
                raise UnsupportedFormat(path, f"band {band} requested but the image has {bands} band(s)")
        date = h.get("DATE-OBS")
        if isinstance(date, str) and "T" not in date and isinstance(h.get("TIME-OBS"), str):
            date = f"{date}T{h['TIME-OBS']}"
        raw = {
            "time": date,
            "exposure": h.get("EXPTIME", h.get("EXPOSURE")),
            "frame_type": h.get("IMAGETYP", h.get("FRAMETYP")),
            "instrument": h.get("INSTRUME"),
        }
        d = Described(
            data_path=path, shape=(lines, samples), dtype=stored.newbyteorder("=").name, bands=bands,
            instrument=None if raw["instrument"] is None else str(raw["instrument"]).strip(),
            extra={"hdu": index, "bitpix": bitpix, "scale": scale, "offset": zero, "blank": blank,
                   "bands": bands, "compressed": compressed},
        )
        if layout is not None:
            d.extra["layout"] = layout.to_dict()
        d.extra["_raw"] = raw
        return d
    finally:
        hdul.close()


def load_fits(meta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of a FITS frame: raw layout, or astropy for compressed HDUs."""
    if "layout" in meta.extra:
        return load_raw(meta, max_bytes)
    path = Path(meta.path)
    hdul = _open(path)
    try:
        hdu = hdul[meta.extra["hdu"]]
        lines, samples = meta.shape
        bands = meta.extra.get("bands", 1)
        if max_bytes is not None and lines * samples * bands * 8 > max_bytes:

            raise LabelTooLarge(path, f"image of {lines} x {samples} x {bands} exceeds {max_bytes} bytes")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = np.asarray(hdu.data)
        except (OSError, ValueError, TypeError, IndexError, EOFError) as exc:
            raise UnreadableFrame(path, f"compressed FITS image cannot be decoded ({exc})") from None
        if raw.ndim == 3:
            raw = raw[meta.band]
        raw = raw.reshape(lines, samples)
        mask = np.zeros(raw.shape, bool)
        if raw.dtype.kind == "f":
            mask |= ~np.isfinite(raw)
        blank = meta.extra.get("blank")
        if isinstance(blank, int) and raw.dtype.kind in "iu":
            mask |= raw == blank
        data = (raw.astype(np.float64) * meta.extra["scale"] + meta.extra["offset"]).astype(np.float32)
        mask |= ~np.isfinite(data)
        data[mask] = np.nan
        return data, mask
    finally:
        hdul.close()
