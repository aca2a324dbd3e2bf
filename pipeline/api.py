"""The public Python API: each stage callable on its own, in the calling thread, without dask.

>>> from pipeline import ingest, calibrate, register, crosscheck, mosaic, load_config  # doctest: +SKIP
>>> cfg = load_config()  # doctest: +SKIP
>>> found = ingest("sample_images", calibration="sample_images/calibration")  # doctest: +SKIP
>>> frames = calibrate(found.frames, found.calibration, cfg)  # doctest: +SKIP
>>> reg = register(frames, cfg)  # doctest: +SKIP
>>> frames = crosscheck(frames, reg, cfg)  # doctest: +SKIP
>>> mosaic(frames, "out/by_hand.tif", registration=reg, config=cfg)  # doctest: +SKIP

(the README's walk-through; ``tests/orchestration/test_end_to_end.py`` runs it.)
:func:`pipeline.run` does the same through the dask graph (any scheduler, resume, tiles in
parallel). Both run the same steps (:mod:`pipeline.orchestration.steps`), so they make the
same products.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from pipeline.calibration import DetectorMasters, Masters, MasterSet
from pipeline.calibration.calibrate import PENDING
from pipeline.config import Config, load_config
from pipeline.frame import Frame, FrameFailure
from pipeline.geometry.overlap import neighbours, overlap_pairs
from pipeline.ingestion import IngestResult
from pipeline.ingestion import ingest as _ingest
from pipeline.io.grids import read_grid
from pipeline.mosaicking import footprint_bbox_xy, frames_touching
from pipeline.mosaicking.gridspec import output_grid
from pipeline.orchestration import steps
from pipeline.orchestration.outputs import OutputSet
from pipeline.orchestration.reliefstep import relief_active, relief_step
from pipeline.registration import RegistrationResult

__all__ = ["calibrate", "crosscheck", "ingest", "mosaic", "register"]


def ingest(path: str | Path, *, calibration: str | Path | None = None, config: Config | None = None) -> IngestResult:
    """Scan ``path`` (and a calibration folder) and read every frame's metadata and camera.

    Pixels are not read (:func:`pipeline.io.load_frame` reads them). Returns an
    ``IngestResult`` with ``frames`` (LIGHT), ``calibration`` (BIAS/DARK/FLAT), ``failures``
    and ``duplicates``.
    """
    config = config or load_config()
    return _ingest(path, calibration=calibration, config=config.ingestion)


def calibrate(frames: Frame | Sequence[Frame], calibration_frames: Sequence[Frame] | MasterSet | Masters = (),
              config: Config | None = None) -> Frame | FrameFailure | list[Frame | FrameFailure]:
    """Calibrate one frame (returns a ``Frame`` or a ``FrameFailure``) or a list (returns a list).

    ``calibration_frames`` are BIAS/DARK/FLAT frames (of any number of detectors: each light
    frame gets its own detector's masters, :mod:`pipeline.calibration.masterset`), or already
    built ``pipeline.calibration.MasterSet`` or ``Masters`` (one detector). Output units follow
    ``calibration.output`` (I/F by default, photometrically normalised when
    ``calibration.photometry`` is set).
    """
    config = config or load_config()
    light = [frames] if isinstance(frames, Frame) else list(frames)
    cal, max_bytes = steps.effective_calibration(light, config.calibration), config.ingestion.max_frame_bytes
    if isinstance(calibration_frames, Masters):
        masters = MasterSet((DetectorMasters("", calibration_frames),))
    elif isinstance(calibration_frames, MasterSet):
        masters = calibration_frames
    else:
        masters = steps.masters_step(list(calibration_frames), cal, max_bytes)
    if isinstance(frames, Frame):
        return steps.calibrate_step(frames, masters, cal, max_bytes)
    return [steps.calibrate_step(f, masters, cal, max_bytes) for f in light]


def register(frames: Sequence[Frame | FrameFailure], config: Config | None = None) -> RegistrationResult:
    """Tie points + bundle adjustment; returns a ``RegistrationResult`` (adjusted cameras,
    control network, residuals before/after in pixels, per-frame status)."""
    config = config or load_config()
    reg, seed = config.registration, config.run.seed
    dem = str(config.mosaicking.dem) if config.mosaicking.dem else None
    base = steps.level_base(config.mosaicking)
    good = [f for f in frames if isinstance(f, Frame) and f.camera is not None]
    cameras = {f.id: f.camera for f in good}
    matches, controls, pairs = [], [], []
    if reg.enabled:
        pairs = overlap_pairs([f.camera for f in good], min_area_km2=reg.min_overlap_km2,
                              min_fraction=reg.min_overlap_fraction)
        if reg.reference_basemap is not None:
            controls = [steps.control_step(f, reg, seed) for f in good]
    result = None
    for _ in range(steps.match_passes(reg, dem)):
        if pairs:
            matched = [steps.shade_step(f, reg, dem, result) for f in good]
            matches = [steps.match_step(matched[p.i], matched[p.j], p, reg, seed, dem) for p in pairs]
        result = steps.adjust_step(cameras, matches, controls, reg, seed, dem, base)
    return result


def crosscheck(frames: Sequence[Frame | FrameFailure], registration: RegistrationResult | None = None,
               config: Config | None = None) -> list[Frame | FrameFailure]:
    """The cross-frame check (:mod:`pipeline.crosschecking`): each calibrated frame against the
    frames whose footprints overlap it, through the cameras of ``registration`` (default the
    frames' own). Returns the frames with the cosmic-ray hits the overlaps reveal repaired and
    flagged in ``repaired``, and a :class:`FrameFailure` for a frame that agrees with none of
    them; every frame is compared with the frames as given, so the order does not matter."""
    config = config or load_config()
    good = [f for f in frames if isinstance(f, Frame)]
    registration = registration or steps.unregistered({f.id: f.camera for f in good})
    cams = steps.cameras_of(registration)
    pairs = overlap_pairs([cams.get(f.id, f.camera) for f in good])
    dem = str(config.mosaicking.dem) if config.mosaicking.dem else None
    near = neighbours(len(good), pairs)
    cal = config.calibration
    cosmic = cal.enabled and cal.cosmic_rays
    relief = _relief(good, registration, config)
    checked = {f.id: steps.crosscheck_step(f, [good[j] for j in near[k]], registration, cal,
                                           config.crosschecking, dem, cosmic, relief) for k, f in enumerate(good)}
    return [checked.get(f.id, f) if isinstance(f, Frame) else f for f in frames]


def _relief(good: Sequence[Frame], registration: RegistrationResult, config: Config, grid=None):
    """The relief model of a registration (None without one, or with ``mosaicking.dem`` or
    ``relief: sphere``), over ``grid`` (default the mosaic's grid of the adjusted cameras)."""
    cfg, reg = config.mosaicking, config.registration
    if not relief_active(cfg, reg.enabled) or not registration.corrections:
        return None
    if grid is None:
        cams = steps.cameras_of(registration)
        grid = output_grid([cams.get(f.id, f.camera) for f in good], cfg,
                           like=read_grid(cfg.like) if cfg.like else None)
    return relief_step(registration, grid, cfg)


def mosaic(frames: Sequence[Frame | FrameFailure], out: str | Path, *,
           registration: RegistrationResult | None = None, config: Config | None = None,
           overwrite: bool = False) -> Path:
    """Equalise and blend calibrated frames into a COG at ``out``, with the same side files
    (quicklook, STAC item, ``OUT.relief.tif``) and provenance tags as :func:`pipeline.run`, written
    as one set as :func:`pipeline.run` writes it (staged, renamed together; an existing product
    is an :class:`~pipeline.errors.OutputExists` unless ``overwrite``).

    Runs tile by tile in this thread. ``registration`` (e.g. ``register(...)``) gives the
    adjusted cameras; default the frames' own. With ``calibration.photometry.model: auto`` the
    photometric law is fitted here, to the registered frames' overlaps, and applied first.
    """
    config = config or load_config()
    cfg = config.mosaicking
    out = Path(out)
    request = hashlib.sha256(json.dumps(
        [sorted(f.meta.content_hash for f in frames if isinstance(f, Frame)), config.model_dump(mode="json"),
         str(out.resolve())], sort_keys=True, default=str).encode()).hexdigest()
    with_relief = (relief_active(cfg, config.registration.enabled) and registration is not None
                   and bool(registration.corrections))
    outputs = OutputSet.for_run(out, quicklook=cfg.quicklook, stac=cfg.stac, report=False, request=request,
                                relief=with_relief)
    outputs.prepare(overwrite)
    good = [f for f in frames if isinstance(f, Frame) and f.camera is not None]
    if not good:
        raise steps.nothing_to_mosaic(len(frames), [f for f in frames if isinstance(f, FrameFailure)])
    registration = registration or steps.unregistered({f.id: f.camera for f in good})
    cams = steps.cameras_of(registration)
    grid = output_grid([cams.get(f.id, f.camera) for f in good], cfg, like=read_grid(cfg.like) if cfg.like else None)
    cal = steps.effective_calibration(good, config.calibration)
    relief = _relief(good, registration, config, grid) if with_relief else None
    if steps.auto_photometry(cal) and any(f.qa.get("photometry") == PENDING for f in good):
        dem = str(cfg.dem) if cfg.dem else None
        fit = steps.photometry_step(good, registration, grid, cal, dem, config.run.seed, relief)
        good = [steps.normalise_step(f, fit, cal, registration, dem, relief) for f in good]
    equalization = steps.equalize_step(good, registration, grid, cfg) if cfg.equalize and len(good) > 1 else None
    boxes = [footprint_bbox_xy(cams.get(f.id, f.camera), grid.crs) for f in good]

    def tiles():
        for tile in grid.tiles(cfg.tile_size, cfg.halo):
            order = frames_touching(grid[tile.outer], boxes)
            if order:
                yield steps.tile_step(tile, grid, [good[i] for i in order], order, registration, equalization, cfg,
                                      relief)

    failures = [f for f in frames if isinstance(f, FrameFailure)]
    datetimes = sorted(f.meta.time_utc for f in good if f.meta.time_utc is not None)
    band = steps.mosaic_band(cal)
    try:
        steps.write_products(tiles(), grid, outputs.stage(), [band, *cfg.extra_bands],
                             steps.provenance_tags(good, config, failures), cfg, datetimes,
                             num_threads=config.run.workers, relief=relief)
        outputs.commit()
    finally:
        outputs.discard()
    return out
