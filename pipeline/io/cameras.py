"""Writing cameras as ISD sidecars for ISIS (``csminit``), ASP (``bundle_adjust``, ``mapproject``
with ``.json`` CSM cameras) and other usgscsm-based tools.

One ``<frame id>.json`` per camera, in ALE's ISD schema (see
:mod:`pipeline.geometry.cameras.frame_isd` for the conventions: km, frames labelled as they
are, a -Z look direction as a negative focal length), written atomically; existing files are
never replaced unless asked.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pipeline.errors import MosaicError

log = logging.getLogger(__name__)

__all__ = ["write_cameras"]


def write_cameras(
    cameras: Mapping[str, object],
    outdir: str | Path,
    *,
    frame: str = "auto",
    provenance: str | Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write one ALE-format ISD ``<frame id>.json`` per camera into ``outdir``.

    Parameters
    ----------
    cameras : mapping of frame id to FrameCamera
        E.g. ``RunResult.registration.cameras`` (the adjusted cameras).
    outdir : str or Path
        Created if missing.
    frame : {"auto", "j2000", "body_fixed"}
        Frame of the written geometry (``FrameCamera.to_isd``).
    provenance : str or mapping of frame id to str, optional
        The ``_provenance`` text of each file (what made these cameras, e.g. "adjusted by
        farside's bundle adjustment").
    overwrite : bool
        Replace existing files (never the default: pointing ``outdir`` at the input folder
        must not clobber the original sidecars).

    Returns
    -------
    list of Path
        The files written, in the order of ``cameras``.

    Raises
    ------
    MosaicError
        A file exists (and ``overwrite`` is False), or cannot be written.

    Examples
    --------
    >>> write_cameras(result.registration.cameras, "out/cameras")  # doctest: +SKIP
    [PosixPath('out/cameras/FS_S0_F00.json'), ...]
    """
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MosaicError(f"{outdir}: cannot create the cameras folder ({exc.strerror})") from exc
    items = [(fid, cam) for fid, cam in cameras.items() if cam is not None]
    targets = [outdir / f"{fid}.json" for fid, _ in items]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not overwrite:
        raise MosaicError(f"{existing[0]} exists ({len(existing)} camera file(s) would be replaced); "
                          "choose an empty folder or pass --overwrite")
    written = []
    for (fid, cam), path in zip(items, targets):
        text = provenance.get(fid) if isinstance(provenance, Mapping) else provenance
        isd = cam.to_isd(frame=frame, provenance=text)
        tmp = path.with_name(f".{path.name}.partial")
        try:
            tmp.write_text(json.dumps(isd, indent=1))
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise MosaicError(f"{path}: cannot write the camera ({exc.strerror})") from exc
        written.append(path)
    log.info("wrote %d camera ISD(s) to %s", len(written), outdir)
    return written
