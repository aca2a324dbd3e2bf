"""The dask graph: every stage wired together, built once and computed once.

``plan(...)`` scans the inputs (metadata only), chooses the output grid and tiles, finds
the overlapping pairs and which frames touch which tile; ``Plan.build()`` turns that into
one dask graph whose task keys are hashes of their inputs (``dask.base.tokenize``), so a
rerun hits the same keys and the work directory's cached products; ``run(...)`` computes
the graph once on the configured scheduler and returns a :class:`RunResult`.

Tasks (one per frame / pair / tile, so a cluster is useful)::

    masters ─┐
    frame_i ─┴─ calibrate_i ──┬── match_ij ──┐
                              │              ├── adjust ──┬── equalize ──┐
                              │              │            │              ├── tile_t ── write
                              └──────────────┴────────────┴──────────────┘

Pixels are read inside the calibrate tasks, on the workers, from shared storage; tiles
are written to the work directory by their tasks and assembled window by window by the
single ``write`` task, so memory is bounded by the tile size and the frames per tile.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed, delayed

from pipeline import __version__
from pipeline.config import Config
from pipeline.errors import FarsideError, MosaicError
from pipeline.frame import Frame, FrameFailure
from pipeline.geometry.grid import MapGrid, Tile
from pipeline.ingestion import IngestResult, ingest
from pipeline.scheduler import start_engine
from pipeline.workdir import WorkDir, count_reused, stage_seconds

log = logging.getLogger(__name__)

WRITER_CACHE_MB = 256
"""GDAL block cache (MB) of the single writer task."""


# ----------------------------------------------------------------------------------------
# tasks: module-level, picklable, pure apart from the work-directory cache
# ----------------------------------------------------------------------------------------
def _masters_task(cal_frames: list[Frame], cfg, workdir: WorkDir, key: str):
    from pipeline.calibration import build_masters_from_frames

    return workdir.cached("masters", key, lambda: build_masters_from_frames(cal_frames, cfg))


def _calibrate_task(frame: Frame, masters, cfg, max_bytes: int, workdir: WorkDir, key: str):
    """Read and calibrate one frame; a bad frame becomes a :class:`FrameFailure` value."""
    from pipeline.calibration import calibrate_frame

    def compute():
        try:
            loaded = frame.load(max_bytes=max_bytes)
            return calibrate_frame(loaded, masters, cfg) if cfg.enabled else loaded
        except FarsideError as exc:
            return FrameFailure(frame.meta.path, "calibrate", str(getattr(exc, "reason", exc)))

    return workdir.cached("calibrated", key, compute)


def _match_task(fi, fj, pair, cfg, seed: int, workdir: WorkDir, key: str):
    from pipeline.registration import match_pair

    if isinstance(fi, FrameFailure) or isinstance(fj, FrameFailure):
        return None
    return workdir.cached("matches", key, lambda: match_pair(fi, fj, pair, cfg, seed=seed))


def _control_task(frame, cfg, seed: int, workdir: WorkDir, key: str):
    """Ground control for one frame from the reference basemap (None when it does not match)."""
    from pipeline.registration import match_basemap

    if isinstance(frame, FrameFailure):
        return None
    return workdir.cached("control", key, lambda: match_basemap(frame, cfg, seed=seed))


def _adjust_task(cameras: dict, matches: list, controls: list, cfg, seed: int, workdir: WorkDir, key: str):
    from pipeline.registration import adjust

    found = [m for m in matches if m is not None]
    control = [c for c in controls if c is not None]
    return workdir.cached("adjusted", key, lambda: adjust(cameras, found, cfg, control=control, seed=seed))


def _crosscheck_task(frame, others: list, registration, cfg, dem_path, workdir: WorkDir, key: str):
    """Cosmic-ray hits of one calibrated frame that its overlapping frames reveal."""
    from pipeline.calibration.crossframe import crosscheck_frame
    from pipeline.mosaicking.tile import load_dem

    excluded = _excluded(registration)
    if isinstance(frame, FrameFailure) or frame.id in excluded:
        return frame
    good = [o for o in others if isinstance(o, Frame) and o.id not in excluded]
    dem = load_dem(str(dem_path)) if dem_path else None
    return workdir.cached("crosschecked", key,
                          lambda: crosscheck_frame(frame, good, _cameras_of(registration), cfg, dem))


def _equalize_task(frames: list, cameras, grid: MapGrid, cfg, workdir: WorkDir, key: str):
    from pipeline.mosaicking import equalize_frames

    def compute():
        excluded = _excluded(cameras)
        good = {f.id: f for f in frames if isinstance(f, Frame) and f.id not in excluded}
        return equalize_frames(good, _cameras_of(cameras), grid, cfg)

    return workdir.cached("equalize", key, compute)


def _tile_task(tile: Tile, grid: MapGrid, frames: list, order: list[int], cameras, equalization,
               cfg, workdir: WorkDir, key: str):
    """Mosaic one tile; returns the cached product path (``None`` when the tile is empty)."""
    from pipeline.mosaicking import mosaic_tile_frames

    def compute():
        cams = _cameras_of(cameras)
        excluded = _excluded(cameras)
        inputs = [(idx, f, cams.get(f.id, f.camera)) for idx, f in zip(order, frames)
                  if isinstance(f, Frame) and f.id not in excluded]
        return mosaic_tile_frames(inputs, grid, tile, equalization, cfg) if inputs else None

    workdir.cached("tiles", key, compute)
    return workdir.path("tiles", key)


def _summary_task(frame) -> dict[str, Any]:
    if isinstance(frame, FrameFailure):
        return {"failure": frame}
    return {"id": frame.id, "qa": dict(frame.qa)}


def _write_task(tile_paths: list[Path], grid: MapGrid, out: Path, bands: list[str], tags: dict,
                summaries: list[dict], registration, equalization, write_cfg: dict) -> dict[str, Any]:
    """The single writer: assemble tiles window by window into the COG (atomic rename)."""
    import rasterio

    from pipeline.io.geotiff import CogWriter
    from pipeline.workdir import load_pickle

    t0 = time.perf_counter()
    coverage = 0
    # GDAL's block cache defaults to 5 % of RAM; cap it so the writer's memory does not grow
    # with the mosaic (tiles arrive window by window anyway)
    writer = CogWriter(out, grid, bands=bands, tags=tags, compress=write_cfg["compress"],
                       overviews=write_cfg["overviews"], overview_resampling=write_cfg["overview_resampling"])
    with rasterio.Env(GDAL_CACHEMAX=WRITER_CACHE_MB), writer:
        for path in tile_paths:
            product = load_pickle(path)
            if product is None:
                continue
            writer.write_tile(product)
            coverage += int(product["valid"].sum())
    side = {}
    if write_cfg.get("quicklook"):
        from pipeline.io.quicklook import write_quicklook

        side["quicklook"] = str(write_quicklook(out, max_px=write_cfg["quicklook_max_px"]))
    if write_cfg.get("stac"):
        from pipeline.io.stac import write_stac_item

        side["stac"] = str(write_stac_item(out, inputs=json.loads(tags["farside_inputs"]),
                                           datetimes=write_cfg["datetimes"] or None,
                                           quicklook=side.get("quicklook")))
    return {
        "write_seconds": time.perf_counter() - t0,
        "out": str(out),
        "valid_pixels": coverage,
        "summaries": summaries,
        "registration": registration,
        "equalization": equalization,
        "side_files": side,
    }


def _excluded(registration) -> set[str]:
    status = getattr(registration, "status", None) or {}
    return {fid for fid, st in status.items() if st.status == "excluded"}


def _cameras_of(registration) -> dict:
    if registration is None:
        return {}
    if isinstance(registration, dict):
        return registration
    return dict(registration.cameras)


# ----------------------------------------------------------------------------------------
# planning
# ----------------------------------------------------------------------------------------
@dataclass
class Plan:
    """Everything decided before any pixel is read."""

    frames_dir: Path
    out: Path
    config: Config
    inputs: IngestResult
    frames: list[Frame]
    failures: list[FrameFailure]
    grid: MapGrid
    tiles: list[Tile]
    tile_frames: dict[tuple[int, int], list[int]]
    pairs: list[Any]
    workdir: WorkDir
    bands: list[str] = field(default_factory=list)
    products: list[tuple[str, str]] = field(default_factory=list)
    """``(stage, key)`` of every work-directory product the graph makes (filled by build)."""

    def describe(self) -> str:
        """A human-readable account of what ``run`` would do (``--dry-run``)."""
        g = self.grid
        lon, lat = g.xy_to_lonlat(*_grid_corners(g))
        lines = [
            f"frames to mosaic: {len(self.frames)}",
            *(f"  {f.id:<28} {f.meta.format:<5} {f.meta.shape[0]}x{f.meta.shape[1]}" for f in self.frames),
            f"calibration frames: {len(self.inputs.calibration)}",
            f"rejected: {len(self.failures)}",
            *(f"  {x}" for x in self.failures),
            (f"overlapping pairs: {len(self.pairs)} (registration "
            f"{'on' if self.config.registration.enabled else 'off'})"),
            f"output grid: {g.shape[0]} rows x {g.shape[1]} cols at {g.resolution:.1f} m, CRS {g.crs.name}",
            f"  lon {np.nanmin(lon):.3f}..{np.nanmax(lon):.3f}  lat {np.nanmin(lat):.3f}..{np.nanmax(lat):.3f} deg",
            (f"tiles: {len(self.tiles)} of {self.config.mosaic.tile_size} px "
            f"({sum(1 for v in self.tile_frames.values() if v)} touched by frames)"),
            f"work directory: {self.workdir.root}",
            f"output: {self.out}",
        ]
        return "\n".join(lines)

    def build(self) -> Delayed:
        """The whole run as one dask graph ending in the writer task."""
        cfg = self.config
        wd = self.workdir
        self.products = products = []
        cal_key = tokenize([f.meta.content_hash for f in self.inputs.calibration], _cfg_token(cfg.calibration))
        products.append(("masters", cal_key))
        masters = delayed(_masters_task, pure=True)(
            self.inputs.calibration, cfg.calibration, wd, cal_key, dask_key_name=f"masters-{cal_key}"
        )
        calibrated = []
        for f in self.frames:
            key = tokenize(f.meta.content_hash, f.meta.band, f.camera, cal_key, _cfg_token(cfg.calibration))
            products.append(("calibrated", key))
            calibrated.append(
                delayed(_calibrate_task, pure=True)(
                    f, masters, cfg.calibration, cfg.ingest.max_frame_bytes, wd, key,
                    dask_key_name=f"calibrate-{f.id}-{key}",
                )
            )
        cameras = {f.id: f.camera for f in self.frames}
        if cfg.registration.enabled and self.pairs:
            matches = []
            for pair in self.pairs:
                i, j = pair.i, pair.j
                key = tokenize(calibrated[i].key, calibrated[j].key, pair, _cfg_token(cfg.registration), cfg.run.seed)
                products.append(("matches", key))
                matches.append(
                    delayed(_match_task, pure=True)(
                        calibrated[i], calibrated[j], pair, cfg.registration, cfg.run.seed, wd, key,
                        dask_key_name=f"match-{i}-{j}-{key}",
                    )
                )
            controls = []
            if cfg.registration.reference_basemap is not None:
                for c in calibrated:
                    key = tokenize(c.key, _cfg_token(cfg.registration), cfg.run.seed)
                    products.append(("control", key))
                    controls.append(delayed(_control_task, pure=True)(
                        c, cfg.registration, cfg.run.seed, wd, key, dask_key_name=f"control-{key}"))
            akey = tokenize(cameras, [m.key for m in matches], [c.key for c in controls],
                            _cfg_token(cfg.registration), cfg.run.seed)
            products.append(("adjusted", akey))
            registration = delayed(_adjust_task, pure=True)(
                cameras, matches, controls, cfg.registration, cfg.run.seed, wd, akey,
                dask_key_name=f"adjust-{akey}",
            )
            reg_key = akey
            calibrated = self._crosschecked(calibrated, registration, reg_key)
        else:
            registration, reg_key = cameras, tokenize(cameras)
        if cfg.mosaic.equalize and len(self.frames) > 1:
            ekey = tokenize([c.key for c in calibrated], reg_key, self.grid, _cfg_token(cfg.mosaic))
            products.append(("equalize", ekey))
            equalization = delayed(_equalize_task, pure=True)(
                calibrated, registration, self.grid, cfg.mosaic, wd, ekey, dask_key_name=f"equalize-{ekey}"
            )
        else:
            equalization, ekey = None, "none"
        tiles = []
        for tile in self.tiles:
            order = self.tile_frames[tile.index]
            if not order:
                continue
            key = tokenize(tile, self.grid, [calibrated[i].key for i in order], reg_key, ekey, _cfg_token(cfg.mosaic))
            products.append(("tiles", key))
            tiles.append(
                delayed(_tile_task, pure=True)(
                    tile, self.grid, [calibrated[i] for i in order], order, registration, equalization,
                    cfg.mosaic, wd, key, dask_key_name=f"tile-{tile.index[0]}-{tile.index[1]}-{key}",
                )
            )
        summaries = [delayed(_summary_task, pure=True)(c) for c in calibrated]
        tags = _provenance_tags(self)
        m = cfg.mosaic
        write_cfg = {
            "quicklook": m.quicklook, "quicklook_max_px": m.quicklook_max_px, "stac": m.stac,
            "compress": m.compress, "overviews": m.overviews, "overview_resampling": m.overview_resampling,
            "datetimes": sorted(f.meta.time_utc for f in self.frames if f.meta.time_utc is not None),
        }
        return delayed(_write_task, pure=True)(
            tiles, self.grid, self.out, self.bands, tags, summaries, registration, equalization, write_cfg,
            dask_key_name=f"write-{tokenize(self.out, [t.key for t in tiles])}",
        )

    def _crosschecked(self, calibrated: list[Delayed], registration, reg_key: str) -> list[Delayed]:
        """Per frame, after registration: the cross-frame cosmic-ray check against the
        frames of its overlapping pairs (frames in no pair are passed on as they are)."""
        cal = self.config.calibration
        if not (cal.enabled and cal.cosmic_rays and cal.crossframe):
            return calibrated
        dem = str(self.config.mosaic.dem) if self.config.mosaic.dem else None
        neighbours: dict[int, set[int]] = {}
        for pair in self.pairs:
            neighbours.setdefault(pair.i, set()).add(pair.j)
            neighbours.setdefault(pair.j, set()).add(pair.i)
        out = list(calibrated)
        for i, others in sorted(neighbours.items()):
            order = sorted(others)
            key = tokenize(calibrated[i].key, [calibrated[j].key for j in order], reg_key, _cfg_token(cal), dem)
            self.products.append(("crosschecked", key))
            out[i] = delayed(_crosscheck_task, pure=True)(
                calibrated[i], [calibrated[j] for j in order], registration, cal, dem, self.workdir, key,
                dask_key_name=f"crosscheck-{i}-{key}",
            )
        return out


def _cfg_token(section) -> str:
    """A config section as canonical JSON: its pickle holds sets whose order changes from
    one Python process to the next, which would change every task key."""
    return section.model_dump_json()


def _grid_corners(grid: MapGrid) -> tuple[np.ndarray, np.ndarray]:
    xmin, ymin, xmax, ymax = grid.bounds
    xs = np.linspace(xmin, xmax, 9)
    ys = np.linspace(ymin, ymax, 9)
    xx, yy = np.meshgrid(xs, ys)
    return xx.ravel(), yy.ravel()


def _provenance_tags(plan: Plan) -> dict[str, str]:
    import cv2
    import rasterio

    return {
        "farside_version": __version__,
        "farside_inputs": json.dumps([str(f.meta.path) for f in plan.frames]),
        "farside_input_hashes": json.dumps([f.meta.content_hash for f in plan.frames]),
        "farside_config": plan.config.model_dump_json(),
        "farside_software": json.dumps(
            {"numpy": np.__version__, "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__,
             "opencv": cv2.__version__}
        ),
        "farside_rejected": json.dumps([str(x) for x in plan.failures]),
    }


def plan(frames_dir: str | Path, out: str | Path, *, calibration: str | Path | None = None,
         config: Config | None = None) -> Plan:
    """Scan inputs and decide the output grid, tiles and pairs; reads no pixels.

    Raises
    ------
    MosaicError
        No frame can be placed on the map (the message lists why each was rejected).
    """
    from pipeline import mosaicking as mos
    from pipeline.config import load_config

    config = config or load_config()
    frames_dir, out = Path(frames_dir), Path(out)
    result = ingest(frames_dir, calibration=calibration, config=config.ingest)
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

    cfg = config.mosaic
    cameras = [f.camera for f in frames]
    grid = mos.grid_for_frames(cameras, cfg.crs, resolution_m=cfg.resolution_m, bounds=cfg.bounds)
    from pipeline.mosaicking.tile import required_halo

    tiles = grid.tiles(cfg.tile_size, max(cfg.halo, required_halo(cfg)))
    pad = _pointing_margin_m(cameras, config) if config.registration.enabled else 0.0
    boxes = [mos.footprint_bbox_xy(c, grid.crs, pad_m=pad) for c in cameras]
    for f, box in zip(frames, boxes):
        if not box:
            failures.append(FrameFailure(f.meta.path, "mosaic", f"footprint not visible in the output CRS "
                                         f"{grid.crs.name!r}; choose a CRS that shows it (mosaic.crs)"))
    keep = [k for k, box in enumerate(boxes) if box]
    frames, cameras, boxes = [frames[k] for k in keep], [cameras[k] for k in keep], [boxes[k] for k in keep]
    if not frames:
        raise MosaicError("nothing to mosaic: " + "; ".join(str(x) for x in failures))
    tile_frames = {t.index: mos.frames_touching(grid[t.outer], boxes) for t in tiles}
    pairs = []
    if config.registration.enabled and len(frames) > 1:
        from pipeline.registration import overlap_pairs

        pairs = overlap_pairs(cameras, min_area_km2=config.registration.min_overlap_km2,
                              min_fraction=config.registration.min_overlap_fraction)
    workdir = WorkDir(Path(config.run.workdir) if config.run.workdir else out.parent / ".farside-work")
    bands = ["iof", *cfg.extra_bands]
    return Plan(frames_dir, out, config, result, frames, failures, grid, tiles, tile_frames, pairs, workdir, bands)


def _pointing_margin_m(cameras, config: Config) -> float:
    """How far (m) corrected footprints may move: 3 sigma of the pointing prior at the
    largest altitude, plus 3 sigma of the position prior."""
    sigma = math.radians(config.registration.pointing_sigma_deg)
    alt = max(float(np.linalg.norm(c.position_m)) - c.radii_m[0] for c in cameras)
    return alt * math.tan(3 * sigma) + 3 * (config.registration.position_sigma_m or 0.0)


# ----------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """What a run did: the output, rejected frames, stage statistics, timings."""

    out: Path
    plan: Plan
    product: dict[str, Any]
    seconds: float
    reused: dict[str, int]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report: Path | None = None

    @property
    def registration(self):
        """The ``RegistrationResult`` (None when registration was off)."""
        reg = self.product.get("registration")
        return reg if hasattr(reg, "stats") else None

    @property
    def failures(self) -> list[FrameFailure]:
        """Every rejected frame: at ingest, for geometry, in calibration or registration."""
        late = [s["failure"] for s in self.product["summaries"] if "failure" in s]
        reg = self.registration
        dropped = [] if reg is None else [
            FrameFailure(f.meta.path, "register", reg.status[f.id].reason)
            for f in self.plan.frames if f.id in _excluded(reg)
        ]
        return [*self.plan.failures, *late, *dropped]

    def summary(self) -> str:
        """A few lines for the terminal: output, frames, registration, reuse, rejections."""
        n_used = len(self.plan.frames) - len(self.failures) + len(self.plan.failures)
        lines = [(f"wrote {self.out} ({self.plan.grid.shape[0]} x {self.plan.grid.shape[1]} px at "
                 f"{self.plan.grid.resolution:g} m, {n_used} frames) in {self.seconds:.1f} s")]
        reg = self.registration
        if reg is not None:
            st = reg.stats
            lines.append(f"registration: {st.n_tied}/{st.n_frames} frames tied, {st.n_tracks} tie points, "
                         f"residual RMS {st.rms_before_px:.2f} -> {st.rms_after_px:.3f} px")
        if self.report is not None:
            lines.append(f"QA report: {self.report}")
        if self.reused:
            lines.append("reused from the work directory: " + ", ".join(f"{v} {k}" for k, v in self.reused.items()))
        if self.failures:
            lines.append(f"rejected {len(self.failures)} file(s):")
            lines += [f"  {x}" for x in self.failures]
        return "\n".join(lines)


def run(frames_dir: str | Path, out: str | Path, *, calibration: str | Path | None = None,
        config: Config | None = None, progress: bool = False, report: bool = True) -> RunResult:
    """Run the whole pipeline and write ``out`` (COG + STAC item + quicklook + QA report).

    Parameters
    ----------
    frames_dir : path
        Folder of raw frames (any supported format) with ``<stem>.json`` ISD sidecars.
    out : path
        Output GeoTIFF; written atomically (temporary name, then rename).
    calibration : path, optional
        Folder of bias/dark/flat frames.
    config : Config, optional
        Validated configuration (``pipeline.load_config``); defaults to ``configs/default.yaml``.
    progress : bool
        Show a progress bar (local) or distributed progress.
    report : bool
        Write the HTML QA report ``OUT.report.html``.

    Examples
    --------
    >>> from pipeline import load_config, run
    >>> result = run("sample_images", "out/mosaic.tif", calibration="sample_images/calibration")  # doctest: +SKIP
    """
    t0 = time.time()
    p = plan(frames_dir, out, calibration=calibration, config=config)
    graph = p.build()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    run_cfg = p.config.run
    with start_engine(run_cfg.scheduler, workers=run_cfg.workers, batch=run_cfg.slurm) as engine:
        (product,) = engine.compute(graph, progress=progress)
    stages = stage_seconds(p.workdir, t0, p.products)
    stages["write"] = product["write_seconds"]
    result = RunResult(Path(out), p, product, time.time() - t0, count_reused(p.workdir, t0, p.products), stages)
    if report:
        from pipeline.qa import report_data
        from pipeline.report import default_report_path, write_report

        result.report = write_report(report_data(result), default_report_path(out))
    log.debug("%s", result.summary())
    return result
