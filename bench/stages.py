"""Per-stage wall time of one dask computation, measured from outside the pipeline.

:class:`StageTimer` is a ``dask.callbacks.Callback`` (local schedulers: synchronous,
threads, processes): it stamps every task when the scheduler hands it to a worker and when
its result comes back. Tasks are grouped into stages by the prefix of their key (the graph
names its tasks ``calibrate-<id>-<hash>``, ``match-<i>-<j>-<hash>``, ``tile-...``), and the
computation's wall time is *attributed*: during every interval, the elapsed time is split
evenly between the tasks running then, so the stage times add up to the compute wall time
(time with no task running is ``idle``). ``task_s`` is the plain sum of task durations
(CPU-ish seconds over all workers).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from dask.callbacks import Callback

# task-key prefix -> reported stage
STAGE_OF_PREFIX = {
    "masters": "calibrate",
    "calibrate": "calibrate",
    "crosscheck": "calibrate",
    "shade": "register",
    "match": "register",
    "adjust": "register",
    "equalize": "equalize",
    "tile": "mosaic",
    "write": "write",
}
STAGES = ("plan", "calibrate", "register", "equalize", "mosaic", "write")


def key_prefix(key: Any) -> str:
    """``"calibrate-FS_S0_F00-abc"`` -> ``"calibrate"``; tuple keys use their first item."""
    if isinstance(key, tuple):
        key = key[0]
    return str(key).split("-", 1)[0]


def stage_of(key: Any) -> str:
    return STAGE_OF_PREFIX.get(key_prefix(key), "other")


def attribute(intervals: list[tuple[str, float, float]], t0: float, t1: float) -> dict[str, float]:
    """Split the wall time ``[t0, t1]`` between stages.

    Parameters
    ----------
    intervals : list of (stage, start, end)
        One per task, seconds on any common clock.

    Returns
    -------
    dict of stage to seconds (plus ``idle``), summing to ``t1 - t0``.
    """
    events = []
    for stage, a, b in intervals:
        a, b = max(a, t0), min(b, t1)
        if b > a:
            events.append((a, 1, stage))
            events.append((b, -1, stage))
    events.sort(key=lambda e: (e[0], e[1]))
    out: dict[str, float] = defaultdict(float)
    running: dict[str, int] = defaultdict(int)
    now = t0
    for t, delta, stage in events:
        dt = t - now
        if dt > 0:
            n = sum(running.values())
            if n:
                for s, k in running.items():
                    if k:
                        out[s] += dt * k / n
            else:
                out["idle"] += dt
            now = t
        running[stage] += delta
    if t1 > now:
        out["idle"] += t1 - now
    return dict(out)


class StageTimer(Callback):
    """Record when each task of a local dask computation starts and ends."""

    def __init__(self):
        super().__init__()
        self.starts: dict[Any, float] = {}
        self.ends: dict[Any, float] = {}
        self.compute_start: float | None = None
        self.compute_end: float | None = None

    # dask callback hooks (called in the scheduler's thread)
    def _start(self, dsk):
        if self.compute_start is None:
            self.compute_start = time.perf_counter()

    def _pretask(self, key, dsk, state):
        self.starts[key] = time.perf_counter()

    def _posttask(self, key, result, dsk, state, worker_id):
        self.ends[key] = time.perf_counter()

    def _finish(self, dsk, state, errored):
        self.compute_end = time.perf_counter()

    def intervals(self) -> list[tuple[str, float, float]]:
        return [(stage_of(k), s, self.ends[k]) for k, s in self.starts.items() if k in self.ends]

    def summary(self, t_call: float, t_return: float) -> dict[str, Any]:
        """Stage table of one ``run`` call that started at ``t_call`` and returned at
        ``t_return`` (``time.perf_counter`` values).

        Returns ``{"wall_s": {stage: s}, "task_s": {stage: s}, "tasks": {stage: n},
        "span_s": {stage: [first start, last end] relative to t_call}}``; ``wall_s`` has
        ``plan`` (ingest, grid, pairs, graph build: before the first task) and ``after``
        (after the last task: engine shutdown, result assembly) and sums to the call's time.
        """
        ivs = self.intervals()
        c0 = self.compute_start if self.compute_start is not None else t_return
        c1 = self.compute_end if self.compute_end is not None else t_return
        wall = {"plan": max(0.0, c0 - t_call)}
        wall.update(attribute(ivs, c0, c1))
        wall["after"] = max(0.0, t_return - c1)
        task_s: dict[str, float] = defaultdict(float)
        tasks: dict[str, int] = defaultdict(int)
        span: dict[str, list[float]] = {}
        for stage, a, b in ivs:
            task_s[stage] += b - a
            tasks[stage] += 1
            lo, hi = span.get(stage, [a, b])
            span[stage] = [min(lo, a), max(hi, b)]
        by_task = attribute([(key_prefix(k), s, self.ends[k]) for k, s in self.starts.items() if k in self.ends],
                            c0, c1)
        return {
            "wall_s": {k: round(v, 4) for k, v in wall.items()},
            "wall_by_task_s": {k: round(v, 4) for k, v in by_task.items()},
            "task_s": {k: round(v, 4) for k, v in task_s.items()},
            "tasks": dict(tasks),
            "span_s": {k: [round(a - t_call, 3), round(b - t_call, 3)] for k, (a, b) in span.items()},
        }
