"""Running the whole pipeline: plan, build the graph, compute it once, write the output set."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.orchestration.graph import PRODUCT_TYPES, build_graph
from pipeline.orchestration.outputs import OutputSet
from pipeline.orchestration.plan import plan, workdir_for
from pipeline.orchestration.progress import RunProgress
from pipeline.orchestration.qa import report_data
from pipeline.orchestration.reliefstep import relief_active
from pipeline.orchestration.result import RunResult
from pipeline.orchestration.scheduler import start_engine
from pipeline.orchestration.workdir import count_reused, stage_seconds
from pipeline.report import write_report

log = logging.getLogger(__name__)

__all__ = ["run"]


def _request(frames_dir: Path, calibration: str | Path | None, config: Config, out: Path, report: bool) -> str:
    """Hash of what determines the output set (not the engine: results do not depend on it)."""
    science = config.model_dump(mode="json", exclude={"run"})
    what = [str(frames_dir.resolve()), str(Path(calibration).resolve()) if calibration else None, science,
            config.run.seed, str(out.resolve()), report]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def run(frames_dir: str | Path, out: str | Path, *, calibration: str | Path | None = None,
        config: Config | None = None, progress: bool | str | RunProgress = False, report: bool = True,
        overwrite: bool = True) -> RunResult:
    """Run the whole pipeline and write the output set: ``out`` (COG), its quicklook and STAC
    item (as configured) and the QA report ``OUT.report.html``.

    Everything that can be checked is checked before any pixel is read: the output folder
    and the work directory are writable, no product of the set exists unless ``overwrite``
    (products an interrupted run of this same request left are replaced), and the output
    grid fits ``mosaicking.max_output_pixels``. The products are written into a staging
    folder and renamed together at the end (:mod:`pipeline.orchestration.outputs`).

    Parameters
    ----------
    frames_dir : path
        Folder of raw frames (any supported format) with ``<stem>.json`` ISD sidecars.
    out : path
        Output GeoTIFF.
    calibration : path, optional
        Folder of bias/dark/flat frames.
    config : Config, optional
        Validated configuration (``pipeline.load_config``); defaults to ``configs/default.yaml``.
    progress : bool, str or RunProgress
        Per-stage progress on stderr (:mod:`pipeline.orchestration.progress`): True or
        ``"auto"`` (a live display on a terminal, timestamped lines elsewhere), ``"live"``,
        ``"lines"``, False or ``"off"``; or a ``RunProgress`` of the caller's.
    report : bool
        Write the HTML QA report ``OUT.report.html``.
    overwrite : bool
        Replace existing products of the set (the CLI passes ``--overwrite``, default off
        there); False: an existing product is an :class:`~pipeline.errors.OutputExists`.

    Raises
    ------
    OutputExists
        A product of the set exists and ``overwrite`` is False.
    MosaicError
        Nothing to mosaic, an output too large or a pixel coarser than the frames, an
        output folder that cannot be written, an incomplete output set (the message lists
        what is missing; rerunning completes it).
    WorkDirError
        The work directory cannot be written (read-only, full, permissions).

    Examples
    --------
    >>> from pipeline import run
    >>> result = run("sample_images", "out/mosaic.tif", calibration="sample_images/calibration")  # doctest: +SKIP
    """
    t0 = time.time()
    config = config or load_config()
    frames_dir, out = Path(frames_dir), Path(out)
    mos = config.mosaicking
    outputs = OutputSet.for_run(out, quicklook=mos.quicklook, stac=mos.stac, report=report,
                                request=_request(frames_dir, calibration, config, out, report),
                                relief=relief_active(mos, config.registration.enabled))
    outputs.prepare(overwrite)
    workdir = workdir_for(config, out)
    workdir.check_writable()
    workdir.clean(PRODUCT_TYPES)
    shown = progress if isinstance(progress, RunProgress) else RunProgress(
        "auto" if progress is True else "off" if progress is False else str(progress))
    with shown:
        shown.set_total("ingest", 0)
        p = plan(frames_dir, out, calibration=calibration, config=config)
        found = len(p.inputs.frames) + len(p.inputs.calibration)
        shown.set_total("ingest", found)
        shown.advance("ingest", found)
        staged = outputs.stage()
        try:
            graph = build_graph(p, out=staged)
            run_cfg = p.config.run
            with start_engine(run_cfg.scheduler, workers=run_cfg.workers, batch=run_cfg.slurm,
                              dashboard_address=run_cfg.dashboard_address) as engine:
                (product,) = engine.compute(graph.result, progress=shown if shown.mode != "off" else False)
            stages = stage_seconds(p.workdir, t0, graph.products)
            stages["write"] = product["write_seconds"]
            product = {**product, "out": str(out),
                       "side_files": {k: str(outputs.products[k]) for k in product["side_files"]}}
            result = RunResult(out, p, product, time.time() - t0, count_reused(p.workdir, t0, graph.products),
                               stages)
            outputs.commit(lambda path, mosaic: write_report(
                dataclasses.replace(report_data(result), mosaic_file=mosaic), path) if report else None)
        finally:
            outputs.discard()
    if report:
        result.report = outputs.products["report"]
    log.debug("%s", result.summary())
    return result
