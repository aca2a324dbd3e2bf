"""Running the whole pipeline: plan, build the graph, compute it once, write the report."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pipeline.config import Config
from pipeline.orchestration.graph import build_graph
from pipeline.orchestration.plan import plan
from pipeline.orchestration.progress import RunProgress
from pipeline.orchestration.qa import report_data
from pipeline.orchestration.result import RunResult
from pipeline.orchestration.scheduler import start_engine
from pipeline.orchestration.workdir import count_reused, stage_seconds
from pipeline.report import default_report_path, write_report

log = logging.getLogger(__name__)

__all__ = ["run"]


def run(frames_dir: str | Path, out: str | Path, *, calibration: str | Path | None = None,
        config: Config | None = None, progress: bool | str | RunProgress = False,
        report: bool = True) -> RunResult:
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
    progress : bool, str or RunProgress
        Per-stage progress on stderr (:mod:`pipeline.orchestration.progress`): True or
        ``"auto"`` (a live display on a terminal, timestamped lines elsewhere), ``"live"``,
        ``"lines"``, False or ``"off"``; or a ``RunProgress`` of the caller's.
    report : bool
        Write the HTML QA report ``OUT.report.html``.

    Examples
    --------
    >>> from pipeline import run
    >>> result = run("sample_images", "out/mosaic.tif", calibration="sample_images/calibration")  # doctest: +SKIP
    """
    t0 = time.time()
    shown = progress if isinstance(progress, RunProgress) else RunProgress(
        "auto" if progress is True else "off" if progress is False else str(progress))
    with shown:
        shown.set_total("ingest", 0)
        p = plan(frames_dir, out, calibration=calibration, config=config)
        found = len(p.inputs.frames) + len(p.inputs.calibration)
        shown.set_total("ingest", found)
        shown.advance("ingest", found)
        graph = build_graph(p)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        run_cfg = p.config.run
        with start_engine(run_cfg.scheduler, workers=run_cfg.workers, batch=run_cfg.slurm) as engine:
            (product,) = engine.compute(graph.result, progress=shown if shown.mode != "off" else False)
    stages = stage_seconds(p.workdir, t0, graph.products)
    stages["write"] = product["write_seconds"]
    result = RunResult(Path(out), p, product, time.time() - t0, count_reused(p.workdir, t0, graph.products), stages)
    if report:
        result.report = write_report(report_data(result), default_report_path(out))
    log.debug("%s", result.summary())
    return result
