"""Orchestration: the only place that knows the order of the stages and the only one that
imports dask.

:func:`plan` decides everything before pixels are read, :func:`build_graph` wires the stage
steps (:mod:`~pipeline.orchestration.steps`, shared with :mod:`pipeline.api`) into one dask
graph, :func:`run` computes it on the configured engine (:mod:`~pipeline.orchestration.scheduler`)
with a resumable work directory (:mod:`~pipeline.orchestration.workdir`) and writes the QA report.
"""

from pipeline.orchestration.graph import Graph, build_graph
from pipeline.orchestration.plan import Plan, plan
from pipeline.orchestration.result import RunResult
from pipeline.orchestration.run import run

__all__ = ["Graph", "Plan", "RunResult", "build_graph", "plan", "run"]
