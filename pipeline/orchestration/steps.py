"""One implementation of each stage's unit of work, shared by the Python API and the dask graph.

Each step takes plain values (frames, cameras, a stage's parameter section), reads what it
needs from files through :mod:`pipeline.io`, calls the stage's science and turns a bad frame
into a :class:`~pipeline.frame.FrameFailure` value: :mod:`pipeline.api` loops over the steps
in the calling thread, :mod:`pipeline.orchestration.graph` wraps each call in a task. Nothing
here imports dask.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from pipeline import __version__
from pipeline.calibration import UNITS, MasterSet, build_master_set, calibrate_frame
from pipeline.calibration.calibrate import needs_exposure, normalise_frame
from pipeline.calibration.params import AUTO, CalibrationParams
from pipeline.calibration.photometric_fit import PhotometricFit, fit_photometry
from pipeline.calibration.photometric_map import map_observations
from pipeline.calibration.photometric_summary import photometry_report
from pipeline.calibration.photometry import photometric_function
from pipeline.calibration.quality import frame_defect
from pipeline.crosschecking import crosscheck_frame
from pipeline.crosschecking.params import CrosscheckingParams
from pipeline.errors import BadFrame, FarsideError, MosaicError
from pipeline.frame import Frame, FrameFailure
from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MapGrid, Tile
from pipeline.geometry.overlap import Pair
from pipeline.io import load_frame
from pipeline.io.geotiff import CogWriter, software_versions
from pipeline.io.paths import printable
from pipeline.io.quicklook import write_quicklook
from pipeline.io.reliefmap import default_relief_path, write_relief
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
    shading_normalised,
)
from pipeline.registration.params import RegistrationParams

log = logging.getLogger(__name__)

__all__ = [
    "WRITER_CACHE_MB",
    "adjust_step",
    "auto_photometry",
    "calibrate_step",
    "cameras_of",
    "control_step",
    "crosscheck_step",
    "effective_calibration",
    "equalize_step",
    "excluded_ids",
    "level_base",
    "load_dem",
    "masters_step",
    "match_passes",
    "match_step",
    "mosaic_band",
    "normalise_step",
    "nothing_to_mosaic",
    "photometry_step",
    "photometry_summary",
    "provenance_tags",
    "shade_step",
    "shading_active",
    "terrain",
    "tile_step",
    "unregistered",
    "write_products",
]

WRITER_CACHE_MB = 512
"""GDAL block cache (MB) of the single writer (tiles arrive window by window) and of the COG
conversion, whose overviews reread the whole mosaic: below the mosaic's size blocks are decompressed
again and again (rasterio takes ``GDAL_CACHEMAX`` as an integer in **bytes**: given 256 it kept a
256-byte cache and the medium benchmark's 5366 x 4046 x 3 conversion took 54 s instead of 5.5 s)."""


@lru_cache(maxsize=4)
def load_dem(path: str | None) -> Dem | None:
    """The DEM at ``path`` (GeoTIFF or ISIS cube), read once per process (``None`` for no DEM:
    the sphere)."""
    return Dem.from_file(path) if path else None


def terrain(dem_path: str | None, relief=None) -> Dem | None:
    """The surface to orthorectify through: the relief model's heights
    (:class:`~pipeline.geometry.relief.ReliefModel`) when there is one, else the DEM at
    ``dem_path`` (None: the sphere)."""
    return relief.dem if relief is not None and not relief.is_sphere else load_dem(dem_path)


def _reason(exc: FarsideError) -> str:
    return str(getattr(exc, "reason", exc))


# ----------------------------------------------------------------------------- calibration
def effective_calibration(frames: Sequence[Frame], params: CalibrationParams) -> CalibrationParams:
    """The calibration a set of light frames allows: when some lack an exposure duration
    (film scans, label-less PNG/JPEG, press releases) the whole run is calibrated to
    relative DN — one unit for every frame, no per-second scaling — with one warning naming
    those frames."""
    if not params.enabled or not needs_exposure(params.output):
        return params
    untimed = [f.id for f in frames if not (f.meta.exposure_s is not None and f.meta.exposure_s > 0)
               and not f.meta.extra.get("calibrated")]
    if not untimed:
        return params
    names = ", ".join(untimed[:5]) + (f" and {len(untimed) - 5} more" if len(untimed) > 5 else "")
    log.warning("%d of %d frames have no exposure duration (%s): every frame is calibrated to relative DN "
                "(band 'dn') instead of %s; give exposure_duration in their sidecars for %s",
                len(untimed), len(frames), names, UNITS[params.output], UNITS[params.output])
    return params.model_copy(update={"output": "dn"})


def mosaic_band(params: CalibrationParams) -> str:
    """Name of the mosaic's first band: the unit the frames were calibrated to (``dn`` when
    calibration is off)."""
    return params.output if params.enabled else "dn"


def masters_step(cal_frames: Sequence[Frame], params: CalibrationParams, max_bytes: int | None) -> MasterSet:
    """Calibration masters of every detector from the calibration frames (pixels read here;
    :mod:`pipeline.calibration.masterset`). A frame that cannot be read or cannot serve is
    listed in ``MasterSet.rejected`` and the masters come from the rest; with calibration
    disabled nothing is read (and nothing is said)."""
    if not params.enabled:
        return MasterSet()
    loaded, unreadable = [], []
    for f in cal_frames:
        try:
            loaded.append(load_frame(f, max_bytes))
        except FarsideError as exc:
            log.warning("calibration frame %s left out: %s", f.meta.path, _reason(exc))
            unreadable.append(FrameFailure(f.meta.path, "calibrate", _reason(exc)))
    masters = build_master_set(loaded, params)
    return dataclasses.replace(masters, rejected=(*unreadable, *masters.rejected))


def calibrate_step(frame: Frame, masters: MasterSet, params: CalibrationParams,
                   max_bytes: int | None) -> Frame | FrameFailure:
    """Read and calibrate one light frame with its detector's masters; a bad frame (unreadable,
    no picture — constant, nearly all zero or saturated —, no masters of its detector, or not
    calibratable) becomes a :class:`FrameFailure`."""
    try:
        loaded = load_frame(frame, max_bytes)
        defect = frame_defect(loaded.data, loaded.mask, params.saturation_dn if params.enabled else None)
        if defect is not None:
            raise BadFrame(frame.meta.path, f"{defect}: not a picture of the surface")
        return calibrate_frame(loaded, masters.for_frame(loaded), params) if params.enabled else loaded
    except FarsideError as exc:
        log.warning("%s: calibration failed: %s", frame.id, _reason(exc))
        return FrameFailure(frame.meta.path, "calibrate", _reason(exc))


# ----------------------------------------------------------------------------- registration
def match_step(fi: Frame | FrameFailure, fj: Frame | FrameFailure, pair: Pair, params: RegistrationParams,
               seed: int, dem_path: str | None = None):
    """Tie points of one overlapping pair (None when either frame failed), their pair map
    through the DEM at ``dem_path`` when one is given (``mosaicking.dem``)."""
    if isinstance(fi, FrameFailure) or isinstance(fj, FrameFailure):
        return None
    return match_pair(fi, fj, pair, params, seed=seed, dem=load_dem(dem_path))


def level_base(mosaicking) -> str | None:
    """The coarse DEM that holds the free tie points' level (``mosaicking.relief_base``), when
    no ``mosaicking.dem`` does it (:func:`adjust_step`'s ``base_path``)."""
    return str(mosaicking.relief_base) if mosaicking.relief_base and not mosaicking.dem else None


def match_passes(params: RegistrationParams, dem_path: str | None) -> int:
    """Matching passes of a run: ``dem_passes`` through a DEM with the area matcher, else 1
    (also with registration disabled: one adjustment step, which keeps the priors)."""
    return params.dem_passes if params.enabled and dem_path and params.matcher == "area" else 1


def shade_step(frame: Frame | FrameFailure, params: RegistrationParams, dem_path: str | None,
               guide: RegistrationResult | None = None):
    """The frame the area matcher sees in one pass: with the camera of ``guide`` (the previous
    pass's adjustment, :func:`match_passes`) when given, and divided by the shading of the DEM
    at ``dem_path`` as that camera sees it
    (:func:`~pipeline.registration.shading.shading_normalised`) when :func:`shading_active`.
    Both the pair map and the shading are predicted with that camera: shading predicted with
    the prior camera lies a pixel or more off the image and adds texture instead of removing it."""
    if isinstance(frame, FrameFailure):
        return frame
    if guide is not None:
        frame = frame.replace(camera=guide.cameras.get(frame.id, frame.camera))
    if not shading_active(params, dem_path):
        return frame
    return shading_normalised(frame, load_dem(dem_path), psf_sigma_px=params.shading_psf_px,
                              lunar_lambert_l=params.shading_lunar_lambert_l)


def shading_active(params: RegistrationParams, dem_path: str | None) -> bool:
    """Whether the area matcher works on shading-normalised frames (:func:`shade_step`)."""
    return bool(dem_path) and params.relief_shading and params.matcher == "area"


def control_step(frame: Frame | FrameFailure, params: RegistrationParams, seed: int):
    """Ground control of one frame from the reference basemap (None when it does not match)."""
    if isinstance(frame, FrameFailure):
        return None
    return match_basemap(frame, params, seed=seed)


def adjust_step(cameras: Mapping[str, Any], matches: Iterable, controls: Iterable, params: RegistrationParams,
                seed: int, dem_path: str | None = None, base_path: str | None = None) -> RegistrationResult:
    """The bundle adjustment of every camera from the pairs' tie points (and ground control);
    with registration disabled, the prior cameras (:func:`unregistered`). ``dem_path``
    (``mosaicking.dem``) gives free tie points their radius prior; without it ``base_path``
    (``mosaicking.relief_base``) holds their common level."""
    if not params.enabled:
        return unregistered(cameras)
    found = [m for m in matches if m is not None]
    control = [c for c in controls if c is not None and len(c)]
    return adjust(dict(cameras), found, params, control=control, seed=seed, dem=load_dem(dem_path),
                  base=load_dem(base_path))


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
                    calibration: CalibrationParams, params: CrosscheckingParams, dem_path: str | None,
                    cosmic: bool = True, relief=None) -> Frame | FrameFailure:
    """The cross-frame check of one calibrated frame against its overlapping frames: cosmic
    rays they reveal (when ``cosmic``; never on film scans, which have none), and a frame that
    agrees with none of them (correlation below ``params.min_agreement`` with every usable
    overlap) becomes a :class:`FrameFailure`."""
    excluded = excluded_ids(registration)
    if isinstance(frame, FrameFailure) or frame.id in excluded:
        return frame
    cosmic = cosmic and not frame.meta.extra.get("film")
    good = [o for o in others if isinstance(o, Frame) and o.id not in excluded]
    checked = crosscheck_frame(frame, good, cameras_of(registration), params, local_sigma=calibration.cosmic_sigma,
                               grow=calibration.cosmic_sigfrac, mask_repaired=calibration.mask_repaired,
                               dem=terrain(dem_path, relief), cosmic=cosmic)
    r = checked.qa.get("overlap_correlation")
    if r is not None and r < params.min_agreement:
        why = (f"its pixels agree with none of the {checked.qa['crosscheck_overlaps']} overlapping frames (best "
               f"correlation {r:.2f} < crosschecking.min_agreement {params.min_agreement:g}): not the surface its "
               "camera sees (wrong data under the label, or a wrong camera)")
        log.warning("%s rejected: %s", frame.id, why)
        return FrameFailure(frame.meta.path, "crosscheck", why)
    return checked


# ----------------------------------------------------------------------------- photometry
def auto_photometry(calibration: CalibrationParams) -> bool:
    """Whether the photometric law is fitted to the data after registration."""
    return (calibration.enabled and calibration.photometry is not None and calibration.photometry.model == AUTO
            and calibration.output in ("iof", "dn"))


def photometry_step(frames: Sequence[Frame | FrameFailure], registration, grid: MapGrid,
                    calibration: CalibrationParams, dem_path: str | None, seed: int = 0,
                    relief=None) -> PhotometricFit | None:
    """Fit the photometric law to the overlapping observations of the registered frames
    (:func:`pipeline.calibration.photometric_fit.fit_photometry`); None without observations.
    A law the data do not constrain falls back to McEwen's ``L(phase)`` with a warning."""
    good = [f for f in _usable(frames, registration) if f.camera is not None]
    p = calibration.photometry
    dem = terrain(dem_path, relief)
    if p.topographic and dem is None:
        log.warning("calibration.photometry.topographic needs mosaicking.dem or a relief model with relief: "
                    "photometric angles from the sphere")
    topographic = p.topographic and dem is not None
    obs = map_observations(good, cameras_of(registration), grid, dem=dem, topographic=topographic)
    if not len(obs):
        log.warning("no frame has a camera with a Sun position: no photometric fit, McEwen's L(phase) used")
        return None
    if np.bincount(obs.cell).max() < 2:
        log.warning("photometry: no ground is seen by two frames (%d frames): nothing to fit, McEwen's L(phase) "
                    "used", len(good))
        return None
    fit = fit_photometry(obs.iof, obs.incidence, obs.emission, obs.phase, obs.frame, obs.cell, model=AUTO,
                         standard_deg=(p.standard_incidence_deg, p.standard_emission_deg, p.standard_phase_deg),
                         seed=seed, systematic=p.fit_systematic_pct / 100.0)
    fit = dataclasses.replace(fit, angles="dem" if topographic else "sphere")
    (log.info if fit.constrained else log.warning)("photometry: %s", fit.message)
    return fit


def normalise_step(frame: Frame | FrameFailure, fit: PhotometricFit | None, calibration: CalibrationParams,
                   registration=None, dem_path: str | None = None, relief=None) -> Frame | FrameFailure:
    """Normalise one frame to the standard geometry with the fitted law (McEwen's L(phase) when
    nothing could be fitted), through its registered camera when ``registration`` is given and
    with topographic angles when ``calibration.photometry.topographic`` and a DEM or a relief
    model (:func:`terrain`)."""
    if isinstance(frame, FrameFailure) or frame.camera is None or frame.camera.sun_position_m is None:
        return frame
    func = fit.photometric_function() if fit is not None else photometric_function("lunar_lambert")
    label = f"auto: {fit.model}" if fit is not None else "auto: lunar_lambert (no fit)"
    camera = cameras_of(registration).get(frame.id) if registration is not None else None
    dem = terrain(dem_path, relief) if calibration.photometry.topographic else None
    return normalise_frame(frame, func, calibration.photometry, label + (" (topographic)" if dem else ""), dem,
                           camera)


def photometry_summary(fit: PhotometricFit | None) -> dict[str, Any] | None:
    """What the run and its report say about the fit: the law, parameters with uncertainties,
    overlap residual and incidence slope before and after, the incidence profile
    (:func:`~pipeline.calibration.photometric_summary.photometry_report`)."""
    return None if fit is None else photometry_report(fit)


# ----------------------------------------------------------------------------- mosaic
def _usable(frames: Iterable, registration) -> list[Frame]:
    excluded = excluded_ids(registration)
    return [f for f in frames if isinstance(f, Frame) and f.id not in excluded]


def equalize_step(frames: Sequence[Frame | FrameFailure], registration, grid: MapGrid, params: MosaickingParams):
    """Gain and offset per frame from the overlaps (:func:`pipeline.mosaicking.equalize_frames`)."""
    good = {f.id: f for f in _usable(frames, registration)}
    return equalize_frames(good, cameras_of(registration), grid, params)


def tile_step(tile: Tile, grid: MapGrid, frames: Sequence[Frame | FrameFailure], order: Sequence[int], registration,
              equalization, params: MosaickingParams, relief=None) -> dict[str, Any] | None:
    """Mosaic one output tile from the frames touching it (``order``: their run indices),
    orthorectified through the relief model, ``params.dem`` or the sphere (:func:`terrain`)."""
    cams = cameras_of(registration)
    excluded = excluded_ids(registration)
    inputs = [(idx, f, cams.get(f.id, f.camera)) for idx, f in zip(order, frames)
              if isinstance(f, Frame) and f.id not in excluded]
    if not inputs:
        return None
    dem = terrain(str(params.dem) if params.dem else None, relief)
    return mosaic_tile_frames(inputs, grid, tile, equalization, params, dem=dem)


# ----------------------------------------------------------------------------- products
def nothing_to_mosaic(n_frames: int, failures: Sequence[FrameFailure]) -> MosaicError:
    """The error of a run that has no pixel to write: how many frames, and why each went,
    the reasons counted (``all 6 frames rejected: no usable exposure duration ... (6)``)."""
    reasons = Counter(f.reason for f in failures)
    why = "; ".join(f"{r} ({n})" if n > 1 else r for r, n in reasons.most_common(3))
    more = f"; and {len(reasons) - 3} other reasons" if len(reasons) > 3 else ""
    what = f"all {n_frames} frames rejected" if len(failures) >= n_frames else "no frame has valid pixels on the map"
    return MosaicError(f"nothing to mosaic, no output written: {what}: {why or 'no valid pixel'}{more}")


def provenance_tags(frames: Sequence[Frame], config, failures: Sequence[FrameFailure] = ()) -> dict[str, str]:
    """The GeoTIFF tags that record how a mosaic was made: inputs, their hashes, the config,
    library versions and the rejected files."""
    return {
        "farside_version": __version__,
        "farside_inputs": json.dumps([printable(f.meta.path) for f in frames]),
        "farside_input_hashes": json.dumps([f.meta.content_hash for f in frames]),
        "farside_config": config.model_dump_json(),
        "farside_software": json.dumps(software_versions()),
        "farside_rejected": json.dumps([str(x) for x in failures]),
    }


def write_products(tiles: Iterable[dict[str, Any] | None], grid: MapGrid, out: Path, bands: Sequence[str],
                   tags: dict[str, str], params: MosaickingParams, datetimes: Sequence = (),
                   num_threads: int | None = None, relief=None) -> dict[str, Any]:
    """Assemble tile products into the COG at ``out`` (atomic rename), then its quicklook and
    STAC item as configured, and the relief model as ``OUT.relief.tif`` when there is one
    (``num_threads``: GDAL threads of the COG conversion, default all CPUs). Returns
    ``valid_pixels`` and the ``side_files`` written."""
    coverage = 0
    writer = CogWriter(out, grid, bands=list(bands), tags=tags, compress=params.compress,
                       overviews=params.overviews, overview_resampling=params.overview_resampling,
                       num_threads=num_threads)
    with rasterio.Env(GDAL_CACHEMAX=WRITER_CACHE_MB * 1024 * 1024), writer:
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
    if relief is not None:
        side["relief"] = str(write_relief(default_relief_path(out), relief, num_threads=num_threads,
                                          tags={"farside_version": tags.get("farside_version", __version__)}))
    return {"valid_pixels": coverage, "side_files": side}
