"""The reader registry and format detection: which reader takes a file.

:data:`READERS` maps a format name (also ``FrameMeta.format``) to a :class:`~pipeline.io.base.Reader`
record: its file extensions, a ``describe`` function (metadata, no pixels) and a ``load``
function (pixels). :func:`detect_format` picks the name from a file's suffix and first bytes.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UnreadableFrame, UnsupportedFormat
from pipeline.io import fits as _fits
from pipeline.io import isis3 as _isis3
from pipeline.io import pds3 as _pds3
from pipeline.io import pds4 as _pds4
from pipeline.io import raster as _raster
from pipeline.io import wacframes as _wac
from pipeline.io.base import Reader, load_raw

__all__ = ["DATA_SUFFIXES", "READERS", "check_nonempty", "detect_format"]

def _several_images(path: Path, *_args) -> None:
    raise UnsupportedFormat(path, "an LRO WAC EDR holds one image per filter and parity: read it with "
                                  "pipeline.io.read_metas")


READERS: dict[str, Reader] = {
    "pds3": Reader("pds3", (".img", ".lbl"), _pds3.describe_pds3, load_raw),
    "pds4": Reader("pds4", (".xml",), _pds4.describe_pds4, load_raw),
    "fits": Reader("fits", (".fits", ".fit", ".fts"), _fits.describe_fits, _fits.load_fits),
    "isis3": Reader("isis3", (".cub",), _isis3.describe_isis3, _isis3.load_isis3),
    "tiff": Reader("tiff", (".tif", ".tiff"), _raster.describe_tiff, _raster.load_raster),
    "png": Reader("png", (".png",), _raster.describe_png, _raster.load_raster),
    "jpeg": Reader("jpeg", (".jpg", ".jpeg"), _raster.describe_jpeg, _raster.load_raster),
    _wac.FORMAT: Reader(_wac.FORMAT, (), _several_images, _wac.load_wac),
}
"""Readers by format name; ``READERS[name].describe`` reads metadata, ``.load`` pixels."""

DATA_SUFFIXES = (".img", ".dat", ".raw", ".bin", ".qub")
"""Suffixes of raw data files whose format is told by their label (PDS3 or PDS4)."""

def _several_images(path: Path, *_args) -> None:
    raise UnsupportedFormat(path, "an LRO WAC EDR holds one image per filter and parity: read it with "
                                  "pipeline.io.read_metas")


def _head(path: Path, n: int = 512) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise UnreadableFrame(path, f"cannot read ({exc.strerror}); check the path and permissions") from None


def check_nonempty(path: Path) -> None:
    """Raise :class:`pipeline.errors.UnreadableFrame` when ``path`` cannot be stat'ed or is empty (0 bytes)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFrame(path, f"cannot read ({exc.strerror}); check the path and permissions") from None
    if size == 0:
        raise UnreadableFrame(path, "empty file (0 bytes); re-download or re-copy it")


def detect_format(path: str | Path) -> str:
    """Format name (a :data:`READERS` key) of a frame file, from its suffix and first bytes.

    A raw data file (``.img``...) is PDS3 when it starts with a PDS3 label or has a sibling
    ``.LBL``, an ISIS cube when it starts with ``Object = IsisCube``, and PDS4 when an
    ``.xml`` label in its folder names it.

    Raises
    ------
    UnreadableFrame
        Empty, unreadable, or a data file that no label describes.
    UnsupportedFormat
        A suffix and content no reader knows.
    """
    path = Path(path)
    check_nonempty(path)
    suffix = path.suffix.lower()
    if suffix == ".lbl" and _isis3.looks_like_isis(_head(path)):  # a detached ISIS3 label
        return "isis3"
    for name, reader in READERS.items():
        if suffix in reader.extensions and suffix != ".img":
            return name
    head = _head(path)
    if suffix in DATA_SUFFIXES:
        if _pds3.looks_like_odl(head):
            return "pds3"
        if _isis3.looks_like_isis(head):
            return "isis3"
        if _pds4.label_naming(path) is not None:
            return "pds4"
        if _pds3.detached_label_for(path) is not None:
            return "pds3"
        raise UnreadableFrame(
            path, "not a PDS image: no attached PDS3 label, no .LBL beside it and no PDS4 .xml names it; "
            "put its label beside it"
        )
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if _pds3.looks_like_odl(head):
        return "pds3"
    if _isis3.looks_like_isis(head):
        return "isis3"
    raise UnsupportedFormat(path, f"unknown image format (suffix {suffix or 'none'!r}); supported: "
                            "PDS3, PDS4, FITS, ISIS3 cube, TIFF, PNG, JPEG")


