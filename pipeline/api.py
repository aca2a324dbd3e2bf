"""The public Python API: each stage callable on its own, without dask.

>>> from pipeline import ingest, calibrate, register, crosscheck, mosaic, load_config  # doctest: +SKIP
>>> cfg = load_config()
>>> found = ingest("sample_images", calibration="sample_images/calibration")
>>> frames = calibrate(found.frames, found.calibration, cfg)
>>> reg = register(frames, cfg)
>>> frames = crosscheck(frames, reg.cameras, cfg)   # hits that the overlaps reveal
>>> mosaic(frames, "out/by_hand.tif", cameras=reg.cameras, config=cfg)

``pipeline.run`` does the same through the dask graph (any scheduler, resume, tiles in
parallel); these functions run in the calling thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Config, load_config
from pipeline.frame import Frame, FrameFailure

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.ingestion import IngestResult


def ingest(path: str | Path, *, calibration: str | Path | None = None, config: Config | None = None) -> IngestResult:
    """Scan ``path`` (and a calibration folder) and read every frame's metadata and camera.

    Pixels are not read; ``Frame.load()`` reads them. Returns an ``IngestResult`` with
    ``frames`` (LIGHT), ``calibration`` (BIAS/DARK/FLAT), ``failures`` and ``duplicates``.
    """
    from pipeline.ingestion import ingest as _ingest

    config = config or load_config()
    return _ingest(path, calibration=calibration, config=config.ingest)


def calibrate(frames: Frame | list[Frame], calibration_frames: list[Frame] | Any = (),
              config: Config | None = None) -> Frame | list[Frame | FrameFailure]:
    """Calibrate one frame (returns a ``Frame``) or a list (returns frames or failures).

    ``calibration_frames`` are BIAS/DARK/FLAT frames, or an already built
    ``pipeline.calibration.Masters``. Output units follow ``calibration.output`` (I/F by
    default, photometrically normalised when ``calibration.photometry`` is set).
    """
    from pipeline.calibration import Masters, build_masters_from_frames, calibrate_frame
    from pipeline.errors import FarsideError

    config = config or load_config()
    cfg = config.calibration
    masters = calibration_frames if isinstance(calibration_frames, Masters) else \
        build_masters_from_frames(list(calibration_frames), cfg)
    if isinstance(frames, Frame):
        return calibrate_frame(frames.load(config.ingest.max_frame_bytes), masters, cfg)
    out: list[Frame | FrameFailure] = []
    for f in frames:
        try:
            out.append(calibrate_frame(f.load(config.ingest.max_frame_bytes), masters, cfg))
        except FarsideError as exc:
            out.append(FrameFailure(f.meta.path, "calibrate", str(exc)))
    return out


def register(frames: list[Frame], config: Config | None = None):
    """Tie points + bundle adjustment; returns a ``RegistrationResult`` (adjusted cameras,
    control network, residuals before/after in pixels, per-frame status)."""
    from pipeline.registration import register as _register

    config = config or load_config()
    good = [f for f in frames if isinstance(f, Frame)]
    return _register(good, config.registration, seed=config.run.seed)


def crosscheck(frames: list[Frame], cameras: dict[str, Any] | None = None, config: Config | None = None) -> list[Frame]:
    """Cosmic-ray hits that overlapping frames reveal (``pipeline.calibration.crossframe``):
    each calibrated frame against the frames whose footprints overlap it, through
    ``cameras`` (frame id -> registered camera, e.g. ``register(...).cameras``; default the
    frames' own). Returns the frames with those hits repaired and flagged in ``repaired``."""
    from pipeline.calibration.crossframe import crosscheck_frames
    from pipeline.mosaicking.tile import load_dem
    from pipeline.registration import overlap_pairs

    config = config or load_config()
    good = [f for f in frames if isinstance(f, Frame)]
    cams = {f.id: (cameras or {}).get(f.id, f.camera) for f in good}
    neighbours: dict[str, list[str]] = {f.id: [] for f in good}
    ids = list(cams)
    for pair in overlap_pairs(cams):
        neighbours[ids[pair.i]].append(ids[pair.j])
        neighbours[ids[pair.j]].append(ids[pair.i])
    dem = load_dem(str(config.mosaic.dem)) if config.mosaic.dem else None
    return crosscheck_frames(good, neighbours, cams, config.calibration, dem)


def mosaic(frames: list[Frame], out: str | Path, *, cameras: dict[str, Any] | None = None,
           config: Config | None = None) -> Path:
    """Orthorectify, equalise and blend calibrated frames into a COG at ``out``.

    Runs tile by tile in this thread (``pipeline.run`` parallelises the same functions).
    ``cameras`` (frame id -> adjusted camera) overrides the frames' own cameras.
    """
    from pipeline import mosaicking as mos
    from pipeline.io.geotiff import CogWriter

    config = config or load_config()
    cfg = config.mosaic
    good = [f for f in frames if isinstance(f, Frame) and f.camera is not None]
    cams = {f.id: (cameras or {}).get(f.id, f.camera) for f in good}
    grid = mos.grid_for_frames(list(cams.values()), cfg.crs, resolution_m=cfg.resolution_m, bounds=cfg.bounds)
    equalization = mos.equalize_frames({f.id: f for f in good}, cams, grid, cfg) if cfg.equalize and len(good) > 1 else None
    boxes = [mos.footprint_bbox_xy(cams[f.id], grid.crs) for f in good]
    out = Path(out)
    with CogWriter(out, grid, bands=["iof", *cfg.extra_bands], tags={}, compress=cfg.compress,
                   overviews=cfg.overviews, overview_resampling=cfg.overview_resampling) as writer:
        for tile in grid.tiles(cfg.tile_size, cfg.halo):
            order = mos.frames_touching(grid[tile.outer], boxes)
            if order:
                inputs = [(i, good[i], cams[good[i].id]) for i in order]
                product = mos.mosaic_tile_frames(inputs, grid, tile, equalization, cfg)
                if product is not None:
                    writer.write_tile(product)
    return out
