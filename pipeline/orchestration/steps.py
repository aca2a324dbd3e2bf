"""One implementation of each stage's unit of work, shared by the Python API and the dask graph.

Each step takes plain values (frames, cameras, a stage's parameter section), reads what it
needs from files through :mod:`pipeline.io`, calls the stage's science and turns a bad frame
into a :class:`~pipeline.frame.FrameFailure` value: :mod:`pipeline.api` loops over the steps
in the calling thread, :mod:`pipeline.orchestration.graph` wraps each call in a task. Nothing
here imports dask.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import rasterio

from pipeline import __version__
from pipeline.calibration import Masters, build_masters_from_frames, calibrate_frame
from pipeline.calibration.params import CalibrationParams
from pipeline.crosschecking import crosscheck_frame
from pipeline.crosschecking.params import CrosscheckingParams
from pipeline.errors import FarsideError
from pipeline.frame import Frame, FrameFailure
from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MapGrid, Tile
from pipeline.geometry.overlap import Pair
from pipeline.io import load_frame
from pipeline.io.geotiff import CogWriter, software_versions
from pipeline.io.quicklook import write_quicklook
from pipeline.io.stac import write_stac_item
from pipeline.mosaicking import equalize_frames, mosaic_tile_frames
from pipeline.mosaicking.params import MosaickingParams
from pipeline.registration import (
    ControlNetwork,
    FrameStatus,
    RegistrationResult,
    RegistrationStats,
    adjust,
    match_basemap,
    match_pair,
)
from pipeline.registration.params import RegistrationParams

log = logging.getLogger(__name__)

__all__ = [
    "WRITER_CACHE_MB",
    "adjust_step",
    "calibrate_step",
    "cameras_of",
    "control_step",
    "crosscheck_step",
    "equalize_step",
    "excluded_ids",
    "load_dem",
    "masters_step",
    "match_step",
    "provenance_tags",
    "tile_step",
    "unregistered",
    "write_products",
]

WRITER_CACHE_MB = 256
"""GDAL block cache (MB) of the single writer: tiles arrive window by window anyway."""


@lru_cache(maxsize=4)
def load_dem(path: str | None) -> Dem | None:
    """The DEM at ``path``, read once per process (``None`` for no DEM: the sphere)."""
    return Dem.from_file(path) if path else None


def _reason(exc: FarsideError) -> str:
    return str(getattr(exc, "reason", exc))


# ----------------------------------------------------------------------------- calibration
def masters_step(cal_frames: Sequence[Frame], params: CalibrationParams, max_bytes: int | None) -> Masters:
    """Calibration masters from the calibration frames (pixels read here)."""
    return build_masters_from_frames([load_frame(f, max_bytes) for f in cal_frames], params)


def calibrate_step(frame: Frame, masters: Masters | None, params: CalibrationParams,
                   max_bytes: int | None) -> Frame | FrameFailure:
    """Read and calibrate one light frame; a bad frame becomes a :class:`FrameFailure`."""
    try:
        loaded = load_frame(frame, max_bytes)
        return calibrate_frame(loaded, masters, params) if params.enabled else loaded
    except FarsideError as exc:
        log.warning("%s: calibration failed: %s", frame.id, _reason(exc))
        return FrameFailure(frame.meta.path, "calibrate", _reason(exc))


# ----------------------------------------------------------------------------- registration
def match_step(fi: Frame | FrameFailure, fj: Frame | FrameFailure, pair: Pair, params: RegistrationParams,
               seed: int):
    """Tie points of one overlapping pair (None when either frame failed)."""
    if isinstance(fi, FrameFailure) or isinstance(fj, FrameFailure):
        return None
    return match_pair(fi, fj, pair, params, seed=seed)


def control_step(frame: Frame | FrameFailure, params: RegistrationParams, seed: int):
    """Ground control of one frame from the reference basemap (None when it does not match)."""
    if isinstance(frame, FrameFailure):
        return None
    return match_basemap(frame, params, seed=seed)


def adjust_step(cameras: Mapping[str, Any], matches: Iterable, controls: Iterable, params: RegistrationParams,
                seed: int) -> RegistrationResult:
    """The bundle adjustment of every camera from the pairs' tie points (and ground control);
    with registration disabled, the prior cameras (:func:`unregistered`)."""
    if not params.enabled:
        return unregistered(cameras)
    found = [m for m in matches if m is not None]
    control = [c for c in controls if c is not None and len(c)]
    return adjust(dict(cameras), found, params, control=control, seed=seed)


def unregistered(cameras: Mapping[str, Any]) -> RegistrationResult:
    """A ``RegistrationResult`` that keeps every camera as reported (registration disabled)."""
    why = "registration disabled"
    return RegistrationResult(
        cameras=dict(cameras), corrections={}, status={fid: FrameStatus("prior", why) for fid in cameras},
        network=ControlNetwork.empty(), stats=RegistrationStats(n_frames=len(cameras)),
        notes=["registration disabled: frames placed with their reported pointing"],
    )


def excluded_ids(registration) -> set[str]:
    """Ids of the frames the registration excluded from the mosaic."""
    return {fid for fid, st in registration.status.items() if st.status == "excluded"}


def cameras_of(registration) -> dict[str, Any]:
    """Frame id -> adjusted (or prior) camera of a ``RegistrationResult``."""
    return dict(registration.cameras)


# ----------------------------------------------------------------------------- cross-check
def crosscheck_step(frame: Frame | FrameFailure, others: Sequence[Frame | FrameFailure], registration,
                    calibration: CalibrationParams, params: CrosscheckingParams, dem_path: str | None):
    """The cross-frame check of one calibrated frame against its overlapping frames."""
    excluded = excluded_ids(registration)
    if isinstance(frame, FrameFailure) or frame.id in excluded:
        return frame
    good = [o for o in others if isinstance(o, Frame) and o.id not in excluded]
    return crosscheck_frame(frame, good, cameras_of(registration), params, local_sigma=calibration.cosmic_sigma,
                            grow=calibration.cosmic_sigfrac, mask_repaired=calibration.mask_repaired,
                            dem=load_dem(dem_path))


# ----------------------------------------------------------------------------- mosaic
def _usable(frames: Iterable, registration) -> list[Frame]:
    excluded = excluded_ids(registration)
    return [f for f in frames if isinstance(f, Frame) and f.id not in excluded]


def equalize_step(frames: Sequence[Frame | FrameFailure], registration, grid: MapGrid, params: MosaickingParams):
    """Gain and offset per frame from the overlaps (:func:`pipeline.mosaicking.equalize_frames`)."""
    good = {f.id: f for f in _usable(frames, registration)}
    return equalize_frames(good, cameras_of(registration), grid, params)


def tile_step(tile: Tile, grid: MapGrid, frames: Sequence[Frame | FrameFailure], order: Sequence[int], registration,
              equalization, params: MosaickingParams) -> dict[str, Any] | None:
    """Mosaic one output tile from the frames touching it (``order``: their run indices)."""
    cams = cameras_of(registration)
    excluded = excluded_ids(registration)
    inputs = [(idx, f, cams.get(f.id, f.camera)) for idx, f in zip(order, frames)
              if isinstance(f, Frame) and f.id not in excluded]
    if not inputs:
        return None
    dem = load_dem(str(params.dem) if params.dem else None)
    return mosaic_tile_frames(inputs, grid, tile, equalization, params, dem=dem)


# ----------------------------------------------------------------------------- products
def provenance_tags(frames: Sequence[Frame], config, failures: Sequence[FrameFailure] = ()) -> dict[str, str]:
    """The GeoTIFF tags that record how a mosaic was made: inputs, their hashes, the config,
    library versions and the rejected files."""
    return {
        "farside_version": __version__,
        "farside_inputs": json.dumps([str(f.meta.path) for f in frames]),
        "farside_input_hashes": json.dumps([f.meta.content_hash for f in frames]),
        "farside_config": config.model_dump_json(),
        "farside_software": json.dumps(software_versions()),
        "farside_rejected": json.dumps([str(x) for x in failures]),
    }


def write_products(tiles: Iterable[dict[str, Any] | None], grid: MapGrid, out: Path, bands: Sequence[str],
                   tags: dict[str, str], params: MosaickingParams, datetimes: Sequence = ()) -> dict[str, Any]:
    """Assemble tile products into the COG at ``out`` (atomic rename), then its quicklook and
    STAC item as configured. Returns ``valid_pixels`` and the ``side_files`` written."""
    coverage = 0
    writer = CogWriter(out, grid, bands=list(bands), tags=tags, compress=params.compress,
                       overviews=params.overviews, overview_resampling=params.overview_resampling)
    with rasterio.Env(GDAL_CACHEMAX=WRITER_CACHE_MB), writer:
        for product in tiles:
            if product is None:
                continue
            writer.write_tile(product)
            coverage += int(product["valid"].sum())
    side: dict[str, str] = {}
    if params.quicklook:
        side["quicklook"] = str(write_quicklook(out, max_px=params.quicklook_max_px))
    if params.stac:
        side["stac"] = str(write_stac_item(out, inputs=json.loads(tags["farside_inputs"]),
                                           datetimes=list(datetimes) or None, quicklook=side.get("quicklook")))
    return {"valid_pixels": coverage, "side_files": side}
