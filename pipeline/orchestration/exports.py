"""The products of a run for the neighbouring tools: adjusted cameras, the control network, an ISIS cube.

``farside mosaic --write-cameras DIR --write-network FILE --format cub`` calls
:func:`check_outputs` before the run (so a name clash fails at once, not after an hour) and
:func:`write_outputs` after it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.io.cameras import write_cameras
from pipeline.io.cnet import FORMATS, columns_of, write_network
from pipeline.io.cube import default_cube_path, write_cube
from pipeline.orchestration.result import RunResult
from pipeline.orchestration.steps import unregistered

log = logging.getLogger(__name__)

__all__ = ["OUTPUT_FORMATS", "check_outputs", "write_outputs"]

OUTPUT_FORMATS = ("cog", "cub")
"""Mosaic formats: the COG (always written) and an ISIS3 cube beside it."""


def check_outputs(out: Path, *, cameras_dir: Path | None = None, network: Path | None = None,
                  formats: tuple[str, ...] = ("cog",), overwrite: bool = False) -> None:
    """Refuse, before any work, outputs that would be overwritten or cannot be written.

    Raises
    ------
    ConfigError
        An unknown format or network extension, or an existing file without ``overwrite``.
    """
    unknown = [f for f in formats if f not in OUTPUT_FORMATS]
    if unknown:
        raise ConfigError(f"unknown --format {unknown[0]!r}: use {', '.join(OUTPUT_FORMATS)}")
    if network is not None and network.suffix.lower() not in FORMATS:
        raise ConfigError(f"--write-network {network}: name the file with one of {', '.join(FORMATS)}")
    clash = []
    if network is not None and network.exists():
        clash.append(network)
    if "cub" in formats and default_cube_path(out).exists():
        clash.append(default_cube_path(out))
    if cameras_dir is not None and cameras_dir.is_dir() and any(cameras_dir.glob("*.json")):
        clash.append(cameras_dir)
    if clash and not overwrite:
        raise ConfigError(f"{clash[0]} exists; pass --overwrite to replace it")


def _provenance(result: RunResult) -> dict[str, str]:
    reg = result.registration
    if reg is None:
        return {}
    out = {}
    for fid, status in reg.status.items():
        if status.status == "tied":
            out[fid] = (f"adjusted by farside's bundle adjustment for {result.out.name} ({status.n_tie_points} "
                        f"tie points, residual RMS {status.rms_before_px:.3f} -> {status.rms_after_px:.3f} px)")
        else:
            out[fid] = f"prior pointing, not adjusted ({status.status}: {status.reason})"
    return out


def write_outputs(result: RunResult, *, cameras_dir: Path | None = None, network: Path | None = None,
                  formats: tuple[str, ...] = ("cog",), cameras_frame: str = "auto",
                  overwrite: bool = False) -> dict[str, list[Path]]:
    """Write the requested products of a finished run.

    Parameters
    ----------
    result : RunResult
    cameras_dir : Path, optional
        One ALE ISD per frame: the adjusted camera (or the prior one of a frame registration
        did not tie, or of every frame when registration is off), ``_provenance`` saying which.
    network : Path, optional
        The control network; ``.net``/``.pvl`` (ISIS PVL), ``.csv`` or ``.parquet``.
    formats : tuple of str
        ``"cub"`` adds ``OUT.cub`` (ISIS3 cube) beside the COG.
    cameras_frame : {"auto", "j2000", "body_fixed"}
        Frame of the written cameras.
    overwrite : bool

    Returns
    -------
    dict
        ``{"cameras": [...], "network": [...], "cube": [...]}``, the files written.
    """
    written: dict[str, list[Path]] = {}
    if cameras_dir is not None:
        reg = result.registration
        cams = dict(reg.cameras) if reg is not None else {f.id: f.camera for f in result.plan.frames}
        written["cameras"] = write_cameras(cams, cameras_dir, frame=cameras_frame,
                                           provenance=_provenance(result) or "prior pointing (registration off)",
                                           overwrite=overwrite)
    if network is not None:
        reg = result.registration
        if reg is None:
            log.warning("--write-network: registration is off, so the control network is empty")
            net = unregistered({}).network
        else:
            net = reg.network
        written["network"] = [write_network(columns_of(net), network, overwrite=overwrite)]
    if "cub" in formats:
        written["cube"] = [write_cube(result.out, overwrite=overwrite)]
    return written
