"""Planning a run: everything decided before any pixel is read.

:func:`plan` scans the inputs (metadata only), rejects frames that cannot be placed on the
map, chooses the output grid and its tiles, finds which frames touch which tile and the
overlapping pairs. The result, a :class:`Plan`, is turned into one dask graph by
:func:`pipeline.orchestration.graph.build_graph`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.config import Config, load_config
from pipeline.errors import MosaicError
from pipeline.frame import Frame, FrameFailure
from pipeline.geometry.grid import MapGrid, Tile
from pipeline.geometry.overlap import Pair, overlap_pairs
from pipeline.ingestion import IngestResult, ingest
from pipeline.io.grids import read_grid
from pipeline.io.stac import lon_extent
from pipeline.mosaicking import footprint_bbox_xy
from pipeline.mosaicking.gridspec import output_grid
from pipeline.mosaicking.tileindex import frames_by_tile
from pipeline.orchestration.guards import check_output_size, check_pixel_size
from pipeline.orchestration.steps import effective_calibration, mosaic_band
from pipeline.orchestration.workdir import WorkDir

__all__ = ["Plan", "plan", "workdir_for"]


@dataclass
class Plan:
    """Everything decided before any pixel is read.

    Attributes
    ----------
    frames_dir, out : Path
        The input folder and the output GeoTIFF.
    config : Config
        As given, with ``calibration.output`` set to ``dn`` when some frames have no
        exposure duration (:func:`~pipeline.orchestration.steps.effective_calibration`).
    inputs : IngestResult
        What ingest found (light and calibration frames, rejections).
    frames : list of Frame
        The light frames that will be mosaicked (each has a camera and lands on the map).
    failures : list of FrameFailure
        Files rejected so far (ingest, geometry, off the map).
    grid : MapGrid
        The output grid; ``tiles`` its tiles; ``tile_frames`` tile index -> indices into
        ``frames`` of the frames touching it.
    pairs : list of Pair
        Overlapping pairs (indices into ``frames``) when registration is on.
    workdir : WorkDir
        Where stage products are cached.
    bands : list of str
        Output band names (the mosaic, then ``mosaicking.extra_bands``).
    """

    frames_dir: Path
    out: Path
    config: Config
    inputs: IngestResult
    frames: list[Frame]
    failures: list[FrameFailure]
    grid: MapGrid
    tiles: list[Tile]
    tile_frames: dict[tuple[int, int], list[int]]
    pairs: list[Pair]
    workdir: WorkDir
    bands: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """A human-readable account of what ``run`` would do (``--dry-run``)."""
        g = self.grid
        lon, lat = g.xy_to_lonlat(*_grid_corners(g))
        lines = [
            f"frames to mosaic: {len(self.frames)}",
            *(f"  {f.id:<28} {f.meta.format:<5} {f.meta.shape[1]} x {f.meta.shape[0]}" for f in self.frames),
            f"calibration frames: {len(self.inputs.calibration)}",
            f"rejected: {len(self.failures)}",
            *(f"  {x}" for x in self.failures),
            (f"overlapping pairs: {len(self.pairs)} (registration "
             f"{'on' if self.config.registration.enabled else 'off'})"),
            f"output grid: {g.shape[1]} x {g.shape[0]} px (width x height) at {g.resolution:.1f} m, CRS {g.crs.name}"
            + (f" ({':'.join(g.crs.to_authority())})" if g.crs.to_authority() else ""),
            f"  lon {_lon_range(lon)}  lat {np.nanmin(lat):.3f}..{np.nanmax(lat):.3f} deg",
            (f"tiles: {len(self.tiles)} of {self.config.mosaicking.tile_size} px "
             f"({sum(1 for v in self.tile_frames.values() if v)} touched by frames)"),
            f"work directory: {self.workdir.root}",
            f"output: {self.out}",
        ]
        return "\n".join(lines)


def _lon_range(lon: np.ndarray) -> str:
    """``west..east`` degrees of the smallest arc holding ``lon``; east-positive, so a range
    across 180 E reads 177.800..182.200 (east beyond 180), not -179.96..179.49."""
    lon = np.asarray(lon, float)
    lon = lon[np.isfinite(lon)]
    if lon.size == 0:
        return "none"
    west, east = lon_extent(lon)
    if east < west:
        east += 360.0
    return f"{west:.3f}..{east:.3f}"


def _grid_corners(grid: MapGrid) -> tuple[np.ndarray, np.ndarray]:
    xmin, ymin, xmax, ymax = grid.bounds
    xx, yy = np.meshgrid(np.linspace(xmin, xmax, 9), np.linspace(ymin, ymax, 9))
    return xx.ravel(), yy.ravel()


def plan(frames_dir: str | Path, out: str | Path, *, calibration: str | Path | None = None,
         config: Config | None = None) -> Plan:
    """Scan inputs and decide the output grid, tiles and pairs; reads no pixels.

    Raises
    ------
    MosaicError
        No frame can be placed on the map (the message lists why each was rejected).
    """
    config = config or load_config()
    frames_dir, out = Path(frames_dir), Path(out)
    result = ingest(frames_dir, calibration=calibration, config=config.ingestion)
    failures = list(result.failures)
    frames = []
    for f in result.frames:
        if f.camera is None:
            failures.append(FrameFailure(
                f.meta.path, "geometry",
                "no camera: add a <stem>.json ISD sidecar (USGS ALE isd_generate); frames without geometry "
                "cannot be placed on the map (registration to a basemap without an ISD is not supported)",
            ))
        else:
            frames.append(f)
    if not frames:
        why = "; ".join(str(x) for x in failures) or f"no frames found in {frames_dir}"
        raise MosaicError(f"nothing to mosaic: {why}")

    calibration = effective_calibration(frames, config.calibration)
    if calibration is not config.calibration:
        config = config.model_copy(update={"calibration": calibration})
    cfg = config.mosaicking
    cameras = [f.camera for f in frames]
    grid = output_grid(cameras, cfg, like=read_grid(cfg.like) if cfg.like else None)
    check_output_size(grid, cfg.max_output_pixels, cfg.tile_size)
    pad = _pointing_margin_m(cameras, config) if config.registration.enabled else 0.0
    boxes = [footprint_bbox_xy(c, grid.crs, pad_m=pad) for c in cameras]
    check_pixel_size(grid, boxes)
    tiles = grid.tiles(cfg.tile_size, cfg.halo)
    for f, box in zip(frames, boxes):
        if not box:
            failures.append(FrameFailure(f.meta.path, "mosaic", f"footprint not visible in the output CRS "
                                         f"{grid.crs.name!r}; choose a CRS that shows it (mosaicking.crs)"))
    keep = [k for k, box in enumerate(boxes) if box]
    frames, cameras, boxes = [frames[k] for k in keep], [cameras[k] for k in keep], [boxes[k] for k in keep]
    if not frames:
        raise MosaicError("nothing to mosaic: " + "; ".join(str(x) for x in failures))
    tile_frames = frames_by_tile(grid, tiles, boxes)  # linear in the frames (not tiles x frames)
    reg = config.registration
    pairs = overlap_pairs(cameras, min_area_km2=reg.min_overlap_km2, min_fraction=reg.min_overlap_fraction) \
        if reg.enabled and len(frames) > 1 else []
    workdir = workdir_for(config, out)
    bands = [mosaic_band(config.calibration), *cfg.extra_bands]
    return Plan(frames_dir, out, config, result, frames, failures, grid, tiles, tile_frames, pairs, workdir, bands)


def workdir_for(config: Config, out: str | Path) -> WorkDir:
    """The work directory of a run: ``run.workdir``, default ``<output folder>/.farside-work``."""
    return WorkDir(Path(config.run.workdir) if config.run.workdir else Path(out).parent / ".farside-work")


def _pointing_margin_m(cameras, config: Config) -> float:
    """How far (m) corrected footprints may move: 3 sigma of the pointing prior at the
    largest altitude, plus 3 sigma of the position prior."""
    sigma = math.radians(config.registration.pointing_sigma_deg)
    alt = max(float(np.linalg.norm(c.position_m)) - c.radii_m[0] for c in cameras)
    return alt * math.tan(3 * sigma) + 3 * (config.registration.position_sigma_m or 0.0)
