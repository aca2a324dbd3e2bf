"""The dask graph: every stage wired together, built once and computed once.

:func:`build_graph` turns a :class:`~pipeline.orchestration.plan.Plan` into one dask graph
whose task keys are hashes of their inputs (``dask.base.tokenize``), so a rerun hits the same
keys and the work directory's cached products. Every task is the same small function: run one
step of :mod:`pipeline.orchestration.steps` unless its product is already cached.

Tasks (one per frame / pair / tile, so a cluster is useful)::

    masters ─┐
    frame_i ─┴─ calibrate_i ──┬── match_ij ──┐
                              │              ├── adjust ── crosscheck_i ──┬── equalize ──┐
                              │              │     └── relief ──(crosscheck, photometry, tile_t, write)
                              │              │                            │              ├── tile_t ── write
                              └──────────────┴────────────────────────────┴──────────────┘

``relief`` (:mod:`~pipeline.orchestration.reliefstep`, without ``mosaicking.dem`` and with
``mosaicking.relief: model``) builds the relief model from the adjusted tie points; the
steps that take a DEM use it.

Pixels are read inside the calibrate tasks, on the workers, from shared storage; tiles are
written to the work directory by their tasks and assembled window by window by the single
``write`` task, so memory is bounded by the tile size and the frames per tile.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dask.base import tokenize
from dask.delayed import Delayed
from dask.task_spec import TaskRef
from rasterio.errors import RasterioError

from pipeline.calibration import MasterSet
from pipeline.calibration.photometric_fit import PhotometricFit
from pipeline.errors import MosaicError, explain_os_error
from pipeline.frame import Frame, FrameFailure
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.overlap import neighbours
from pipeline.geometry.relief import ReliefModel
from pipeline.mosaicking.equalize import Equalization
from pipeline.orchestration import reliefstep, steps
from pipeline.orchestration.plan import Plan
from pipeline.orchestration.taskgraph import TaskGraph
from pipeline.orchestration.tempfiles import MARK
from pipeline.orchestration.workdir import WorkDir
from pipeline.registration import RegistrationResult
from pipeline.registration.bundle import GroundControl
from pipeline.registration.pairs import PairMatches

__all__ = ["Graph", "build_graph"]


# ----------------------------------------------------------------------------------------
# tasks: module-level, picklable, pure apart from the work-directory cache
# ----------------------------------------------------------------------------------------
PRODUCT_TYPES: dict[str, tuple[type, ...]] = {
    "masters": (MasterSet,),
    "calibrated": (Frame, FrameFailure),
    "matches": (PairMatches, type(None)),
    "control": (GroundControl, type(None)),
    "adjusted": (RegistrationResult,),
    "relief": (ReliefModel,),
    "crosschecked": (Frame, FrameFailure),
    "equalize": (Equalization, type(None)),
    "photometry": (PhotometricFit, type(None)),
    "normalised": (Frame, FrameFailure),
    "shaded": (Frame, FrameFailure),
    "tiles": (dict, type(None)),
}
"""What each stage's cached product may be: anything else in the work directory is recomputed."""


def _cached_step(workdir: WorkDir, stage: str, key: str, step: Callable[..., Any], *args: Any) -> Any:
    """Run ``step(*args)`` unless ``stage/key`` is already in the work directory."""
    return workdir.cached(stage, key, lambda: step(*args), expect=PRODUCT_TYPES[stage])


def _tile_task(workdir: WorkDir, key: str, *args: Any) -> tuple[Path, bool]:
    """Mosaic one tile into the work directory; returns the product's path (the writer reads
    tiles one at a time, so they never all sit in memory) and whether it holds any pixel."""
    product = workdir.cached("tiles", key, lambda: steps.tile_step(*args), expect=PRODUCT_TYPES["tiles"])
    return workdir.path("tiles", key), product is not None


def _summary_task(frame) -> dict[str, Any]:
    if isinstance(frame, FrameFailure):
        return {"failure": frame}
    return {"id": frame.id, "qa": dict(frame.qa)}


def _write_task(workdir: WorkDir, tiles: list[tuple[Path, bool]], grid: MapGrid, out: Path, bands: list[str],
                tags: dict, summaries: list[dict], masters, registration, equalization, photometry, params,
                datetimes, num_threads: int | None = None, relief: ReliefModel | None = None) -> dict[str, Any]:
    """The single writer: assemble tiles window by window into the COG and its side files;
    with no pixel to write, an error naming why every frame went (and no output at all)."""
    t0 = time.perf_counter()
    if not any(has_data for _, has_data in tiles):
        failures = [s["failure"] for s in summaries if "failure" in s]
        raise steps.nothing_to_mosaic(len(summaries), failures)
    try:
        products = (workdir.load(p, expect=PRODUCT_TYPES["tiles"]) for p, has_data in tiles if has_data)
        written = steps.write_products(products, grid, out, bands, tags, params, datetimes, num_threads, relief)
    except (RasterioError, OSError) as exc:
        raise MosaicError(_write_failure(Path(out), exc)) from exc
    return {
        **written,
        "write_seconds": time.perf_counter() - t0,
        "out": str(out),
        "summaries": summaries,
        "calibration_rejected": list(masters.rejected),
        "registration": registration,
        "equalization": equalization,
        "photometry": steps.photometry_summary(photometry),
        "relief": relief,
    }


def _write_failure(out: Path, exc: Exception) -> str:
    """One line for a failed GeoTIFF/quicklook/STAC write: GDAL reports a full disk only as
    "Write failed", so the line gives the free space of the output folder too."""
    folder = out.parent.parent if MARK in out.parent.name else out.parent  # the staging folder's parent
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"cannot write {out.name} into {folder}: {explain_os_error(exc)}"
    chain, cur = [], exc
    while cur is not None and len(chain) < 4:
        chain.append(str(cur).removesuffix(" See previous exception for details."))
        cur = cur.__cause__ or cur.__context__
    try:
        free = f"{shutil.disk_usage(folder).free / 1e6:.1f} MB free there"
    except OSError:
        free = "free space unknown"
    return (f"cannot write {out.name} into {folder} (GDAL: {'; '.join(chain)}); {free}: if the disk is full, "
            "free space or choose --out on another filesystem")


def _section_token(section) -> str:
    """A config section as canonical JSON: its pickle holds sets whose order changes from
    one Python process to the next, which would change every task key."""
    return section.model_dump_json()


# ----------------------------------------------------------------------------------------
# building
# ----------------------------------------------------------------------------------------
@dataclass
class Graph:
    """A built graph: its final task and the ``(stage, key)`` of every cached product."""

    result: Delayed
    products: list[tuple[str, str]] = field(default_factory=list)


class _Builder:
    def __init__(self, plan: Plan, out: Path | None = None):
        self.plan = plan
        self.out = plan.out if out is None else Path(out)
        self.cfg = plan.config
        self.workdir = plan.workdir
        self.products: list[tuple[str, str]] = []
        self.relief: TaskRef | None = None
        self.graph = TaskGraph()  # built in time linear in the tasks (dask.delayed is not)

    def task(self, stage: str, name: str, step: Callable[..., Any], *args: Any, key_parts: tuple) -> TaskRef:
        """One cached step: its key hashes ``key_parts`` (the step's inputs and settings)."""
        key = tokenize(stage, *key_parts)
        self.products.append((stage, key))
        return self.graph.add(f"{name}-{key}", _cached_step, self.workdir, stage, key, step, *args)

    def build(self) -> Graph:
        p, cfg = self.plan, self.cfg
        cal, reg, mos, seed = cfg.calibration, cfg.registration, cfg.mosaicking, cfg.run.seed
        max_bytes = cfg.ingestion.max_frame_bytes
        masters = self.task("masters", "masters", steps.masters_step, p.inputs.calibration, cal, max_bytes,
                            key_parts=([f.meta.content_hash for f in p.inputs.calibration], _section_token(cal)))
        calibrated = [
            self.task("calibrated", f"calibrate-{f.id}", steps.calibrate_step, f, masters, cal, max_bytes,
                      key_parts=(f.meta.content_hash, f.meta.band, f.camera, masters.key, _section_token(cal)))
            for f in p.frames
        ]
        cameras = {f.id: f.camera for f in p.frames}
        dem = str(mos.dem) if mos.dem else None
        base = steps.level_base(mos)
        controls = [
            self.task("control", f"control-{k}", steps.control_step, c, reg, seed,
                      key_parts=(c.key, _section_token(reg), seed))
            for k, c in enumerate(calibrated)
        ] if reg.enabled and reg.reference_basemap is not None else []
        registration = None  # pass 1: the frames' own cameras predict the pair maps
        for _ in range(steps.match_passes(reg, dem)):
            matched = calibrated
            guide = registration.key if registration is not None else None
            if reg.enabled and p.pairs and steps.shading_active(reg, dem):
                matched = [self.task("shaded", f"shade-{k}", steps.shade_step, c, reg, dem, registration,
                                     key_parts=(c.key, _section_token(reg), dem, guide))
                           for k, c in enumerate(calibrated)]
            elif reg.enabled and p.pairs and registration is not None:  # only the cameras change: not cached
                matched = [self.graph.add(f"guide-{k}-{tokenize('guide', c.key, guide)}", steps.shade_step, c, reg,
                                          dem, registration)
                           for k, c in enumerate(calibrated)]
            matches = [
                self.task("matches", f"match-{q.i}-{q.j}", steps.match_step, matched[q.i], matched[q.j], q, reg,
                          seed, dem, key_parts=(matched[q.i].key, matched[q.j].key, q, _section_token(reg), seed,
                                                dem))
                for q in (p.pairs if reg.enabled else [])
            ]
            registration = self.task("adjusted", "adjust", steps.adjust_step, cameras, matches, controls, reg,
                                     seed, dem, base, key_parts=(cameras, [m.key for m in matches],
                                                                 [c.key for c in controls], _section_token(reg), seed,
                                                                 dem, base))
        self.relief = None
        if reliefstep.relief_active(mos, reg.enabled):
            self.relief = self.task("relief", "relief", reliefstep.relief_step, registration, p.grid, mos,
                                    key_parts=(registration.key, p.grid, _section_token(mos)))
        relief, relief_key = self.relief, (self.relief.key if self.relief is not None else None)
        calibrated = self.crosschecked(calibrated, registration)
        calibrated, photometry = self.normalised(calibrated, registration)
        equalization = None
        if mos.equalize and len(p.frames) > 1:
            equalization = self.task("equalize", "equalize", steps.equalize_step, calibrated, registration, p.grid,
                                     mos, key_parts=([c.key for c in calibrated], registration.key, p.grid,
                                                     _section_token(mos)))
        tiles = []
        for tile in p.tiles:
            order = p.tile_frames[tile.index]
            if not order:
                continue
            key = tokenize("tiles", tile, p.grid, [calibrated[i].key for i in order], registration.key,
                           equalization.key if equalization is not None else None, _section_token(mos), relief_key)
            self.products.append(("tiles", key))
            tiles.append(self.graph.add(
                f"tile-{tile.index[0]}-{tile.index[1]}-{key}", _tile_task,
                self.workdir, key, tile, p.grid, [calibrated[i] for i in order], order, registration,
                equalization, mos, relief))
        summaries = [self.graph.add(f"_summary_task-{tokenize(c.key)}", _summary_task, c) for c in calibrated]
        datetimes = sorted(f.meta.time_utc for f in p.frames if f.meta.time_utc is not None)
        result = self.graph.add(
            f"write-{tokenize(p.out, [t.key for t in tiles])}", _write_task,
            self.workdir, tiles, p.grid, self.out, p.bands, steps.provenance_tags(p.frames, cfg, p.failures), summaries,
            masters, registration, equalization, photometry, mos, datetimes, cfg.run.workers, relief,
        )
        return Graph(self.graph.delayed(result), self.products)

    def _relief_key(self) -> str | None:
        return self.relief.key if self.relief is not None else None

    def crosschecked(self, calibrated: list[TaskRef], registration: TaskRef) -> list[TaskRef]:
        """Per frame, after registration: the cross-frame check against the frames of its
        overlapping pairs (frames in no pair are passed on as they are)."""
        cal, cc = self.cfg.calibration, self.cfg.crosschecking
        if not (self.cfg.registration.enabled and cc.enabled):
            return calibrated
        cosmic = cal.enabled and cal.cosmic_rays
        dem = str(self.cfg.mosaicking.dem) if self.cfg.mosaicking.dem else None
        out = list(calibrated)
        for i, others in enumerate(neighbours(len(calibrated), self.plan.pairs)):
            if not others:
                continue
            out[i] = self.task(
                "crosschecked", f"crosscheck-{i}", steps.crosscheck_step, calibrated[i],
                [calibrated[j] for j in others], registration, cal, cc, dem, cosmic, self.relief,
                key_parts=(calibrated[i].key, [calibrated[j].key for j in others], registration.key,
                           _section_token(cal), _section_token(cc), dem, cosmic, self._relief_key()),
            )
        return out


    def normalised(self, calibrated: list[TaskRef], registration: TaskRef) -> tuple[list[TaskRef], TaskRef | None]:
        """With ``calibration.photometry.model: auto``: one task fits the law to the registered
        frames' overlaps, then one task per frame normalises it with the fitted law."""
        cal = self.cfg.calibration
        if not steps.auto_photometry(cal):
            return calibrated, None
        dem = str(self.cfg.mosaicking.dem) if self.cfg.mosaicking.dem else None
        fit = self.task("photometry", "photometry", steps.photometry_step, calibrated, registration, self.plan.grid,
                        cal, dem, self.cfg.run.seed, self.relief,
                        key_parts=([c.key for c in calibrated], registration.key, self.plan.grid,
                                   _section_token(cal), dem, self.cfg.run.seed, self._relief_key()))
        out = [self.task("normalised", f"normalise-{i}", steps.normalise_step, c, fit, cal, registration, dem,
                         self.relief, key_parts=(c.key, fit.key, _section_token(cal), registration.key, dem,
                                                 self._relief_key()))
               for i, c in enumerate(calibrated)]
        return out, fit


def build_graph(plan: Plan, out: str | Path | None = None) -> Graph:
    """The whole run as one dask graph ending in the writer task.

    ``out``: where the writer puts the GeoTIFF and its side files (default ``plan.out``;
    :func:`~pipeline.orchestration.run.run` passes its staging folder). The task keys do not
    depend on it.
    """
    return _Builder(plan, out).build()
