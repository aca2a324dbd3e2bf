"""Writers of an adjustment's products: the control network (CSV) and adjusted ISD sidecars."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_adjusted_isds", "write_control_network"]


def write_control_network(network, path: str | Path) -> Path:
    """Write the control network as CSV.

    Columns: ``point_id, frame_id, line, sample, lon_deg, lat_deg, residual_before_px,
    residual_after_px, outlier, control`` (image coordinates in pixels, CSM convention;
    ground point of the adjusted network in planetocentric degrees). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(network.COLUMNS)
        for k in range(len(network)):
            w.writerow([
                int(network.point_id[k]), network.frame_id[k],
                f"{network.line[k]:.4f}", f"{network.sample[k]:.4f}",
                f"{network.lon_deg[k]:.8f}", f"{network.lat_deg[k]:.8f}",
                f"{network.residual_before_px[k]:.4f}", f"{network.residual_after_px[k]:.4f}",
                int(bool(network.outlier[k])), int(bool(network.control[k])),
            ])
    return path


def write_adjusted_isds(cameras: Mapping, outdir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write one ISD sidecar ``<frame id>.json`` per camera (``camera.to_isd()``).

    Parameters
    ----------
    cameras : mapping ``{frame id: FrameCamera}``
        E.g. ``RegistrationResult.cameras``.
    outdir : str or Path
        Created if missing.
    overwrite : bool
        Refuse (``FileExistsError``) to replace an existing file unless True: never
        clobber the original sidecars by pointing ``outdir`` at the input folder.

    Returns
    -------
    list of Path
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fid, cam in cameras.items():
        if cam is None:
            continue
        path = outdir / f"{fid}.json"
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        path.write_text(json.dumps(cam.to_isd(), indent=1))
        paths.append(path)
    return paths
