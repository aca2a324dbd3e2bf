"""LRO WAC EDRs as frames: one :class:`~pipeline.frame.FrameMeta` per filter and parity.

A WAC EDR is one file holding interleaved colour framelets (:mod:`pipeline.io.lrowac`); it
becomes as many push-frame images as lrowac2isis writes cube bands, each a frame of its own,
with the id ``<stem>_<VIS|UV><centre nm>_<odd|even>`` (e.g. ``wac0000a1c4_UV321_even``) and
its ISD sidecar ``<id>.json`` beside the EDR (ALE's ``isd_generate`` on the matching cube).
Pixels are decompanded DN; the rest of the framelets of the other parity are masked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import UnreadableFrame
from pipeline.frame import FrameMeta, FrameType
from pipeline.io.hashing import content_hash
from pipeline.io.lrowac import WacImage, read_wac_edr
from pipeline.io.odl import LabelSyntaxError
from pipeline.io.pds3 import looks_like_odl
from pipeline.io.sidecar import read_sidecar

__all__ = ["FORMAT", "is_wac_edr", "load_wac", "wac_metas"]

FORMAT = "lrowac"
"""``FrameMeta.format`` of a WAC band-parity image."""


def is_wac_edr(path: Path) -> bool:
    """Whether ``path`` is an LROC WAC EDR (an attached PDS3 label naming the WAC's companding
    table); reads the first few kB only."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(16384)
    except OSError:
        return False
    return looks_like_odl(head[:512]) and b"LRO:LOOKUP_CONVERSION_TABLE" in head and b"LROC" in head


def _image_id(stem: str, im: WacImage) -> str:
    return f"{stem}_{im.camera}{int(round(im.center_nm))}_{im.parity}"


def wac_metas(path: Path, *, max_bytes: int | None = None) -> list[FrameMeta]:
    """The frames of a WAC EDR (metadata; the split is cheap, pixels are read again on load).

    Raises
    ------
    BadFrame
        Not a WAC EDR, damaged, or a sidecar that cannot be read.
    """
    path = Path(path)
    try:
        images = read_wac_edr(path, max_bytes=max_bytes)
    except LabelSyntaxError as exc:
        raise UnreadableFrame(path, f"WAC EDR label is not valid ODL: {exc}") from None
    digest = content_hash([path])
    metas = []
    for k, im in enumerate(images):
        fid = _image_id(path.stem, im)
        sidecar = path.with_name(f"{fid}.json")
        info = read_sidecar(sidecar) if sidecar.is_file() else None
        extra = {"wac": {"camera": im.camera, "parity": im.parity, "filter_number": im.filter_number,
                         "center_nm": im.center_nm, "cube_band": im.band, "isd_keys": im.isd_keys()},
                 "bands": len(images)}
        if info is not None:
            extra["sidecar"] = str(info.path)
        metas.append(FrameMeta(
            id=fid, path=path, format=FORMAT, shape=tuple(int(v) for v in im.data.shape), dtype="uint8",
            frame_type=FrameType.LIGHT, exposure_s=im.edr.exposure_s, time_utc=im.edr.start_time,
            instrument=im.instrument_id, content_hash=f"{digest}:{k}",
            isd_path=info.path if info is not None and info.has_isd else None, band=k, extra=extra,
        ))
    return metas


def load_wac(meta: FrameMeta, max_bytes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of one band-parity image of a WAC EDR: decompanded DN (float32) and its mask."""
    im = read_wac_edr(meta.path, max_bytes=max_bytes)[meta.band]
    return im.data.astype(np.float32), im.mask
