"""Progress of a run, everywhere: a live display on a terminal, timestamped lines elsewhere.

The graph's task keys name their stage by prefix (``calibrate-``, ``match-``, ``crosscheck-``,
``equalize-``, ``tile-``, ``write-``, ...: see :mod:`pipeline.orchestration.graph`), so one
dask callback (:meth:`RunProgress.dask_callback`) counts finished tasks per stage; on a
``dask.distributed`` scheduler a thread polls the scheduler's per-prefix task states instead.

Displays (``mode``):

``live``
    a ``rich`` display with one row per stage (done / total, elapsed, ETA) redrawn in place;
    log records are printed *above* it through the same console, so they scroll instead of
    overwriting the bars.
``lines``
    one timestamped line per stage at most every ``interval_s`` (10 s) seconds, plus one when
    the stage completes: what a pipe, a CI log or a SLURM output file can hold.
``auto``
    ``live`` when the stream is a terminal, else ``lines``.
``off``
    nothing (``-q``).

:func:`setup_logging` puts ISO timestamps on every log line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import IO, Any

from dask.callbacks import Callback

__all__ = ["LOG_DATEFMT", "LOG_FORMAT", "MODES", "STAGES", "RunProgress", "setup_logging", "stage_of"]

STAGES = {
    "ingest": "frames ingested",
    "masters": "calibration masters",
    "calibrate": "frames calibrated",
    "shade": "frames shaded for matching",
    "match": "pairs matched",
    "control": "frames matched to the basemap",
    "adjust": "bundle adjustment",
    "relief": "relief model",
    "crosscheck": "frames cross-checked",
    "equalize": "equalisation",
    "tile": "tiles mosaicked",
    "write": "mosaic written",
}
"""Task-key prefix -> what its count means, in display order."""

MODES = ("auto", "live", "lines", "off")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S"


def setup_logging(level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Timestamped log lines on ``stream`` (default stderr) for the ``pipeline`` loggers.

    Replaces handlers installed by an earlier call, so it can be called once per command.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_farside", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATEFMT))
    handler._farside = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("distributed", "bokeh", "tornado", "rasterio", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def stage_of(key: Any) -> str | None:
    """The stage of a dask task key (``"calibrate-FS_S0_F00-ab12"`` -> ``"calibrate"``)."""
    if isinstance(key, tuple):
        key = key[0]
    prefix = str(key).split("-", 1)[0]
    return prefix if prefix in STAGES else None


class _Counts:
    def __init__(self) -> None:
        self.total: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()


class _Lines:
    """``lines`` display: at most one line per stage every ``interval_s``, and one at the end."""

    def __init__(self, stream: IO[str], interval_s: float, clock: Callable[[], float],
                 now: Callable[[], datetime]):
        self.stream, self.interval_s, self.clock, self.now = stream, interval_s, clock, now
        self.last: dict[str, float] = {}
        self.final: set[str] = set()

    def update(self, counts: _Counts, stage: str) -> None:
        done, total = counts.done.get(stage, 0), counts.total.get(stage, 0)
        if total <= 0:  # not counted yet (ingest before the scan ends)
            return
        t = self.clock()
        complete = total > 0 and done >= total
        if stage in self.final or (not complete and t - self.last.get(stage, -1e300) < self.interval_s):
            return
        self.last[stage] = t
        if complete:
            self.final.add(stage)
        elapsed = t - counts.started.get(stage, t)
        eta = "" if complete or not done else f", eta {elapsed / done * (total - done):.0f} s"
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        stamp = self.now().strftime(LOG_DATEFMT)
        self.stream.write(f"{stamp} progress {STAGES[stage]}: {done}/{total}{pct}, {elapsed:.0f} s{eta}\n")
        self.stream.flush()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class _Live:
    """``live`` display: rich rows redrawn in place, log records printed above them."""

    def __init__(self, stream: IO[str]):
        from rich.console import Console  # deferred: only a terminal needs rich
        from rich.progress import (  # deferred: as above
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=stream, force_terminal=True)
        self.progress = Progress(TextColumn("{task.description:<30}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 console=self.console, refresh_per_second=4)
        self.tasks: dict[str, Any] = {}
        self.handler: logging.Handler | None = None
        self.saved: list[logging.Handler] = []

    def update(self, counts: _Counts, stage: str) -> None:
        total = counts.total.get(stage) or None
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(STAGES[stage], total=total)
        self.progress.update(self.tasks[stage], completed=counts.done.get(stage, 0), total=total)

    def start(self) -> None:
        console = self.console

        class ConsoleHandler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)

        root = logging.getLogger()
        self.saved = [h for h in root.handlers if isinstance(h, logging.StreamHandler)
                      and getattr(h, "stream", None) in (sys.stderr, sys.stdout, console.file)]
        self.handler = ConsoleHandler()
        self.handler.setFormatter(self.saved[0].formatter if self.saved else
                                  logging.Formatter(LOG_FORMAT, LOG_DATEFMT))
        for h in self.saved:
            root.removeHandler(h)
        root.addHandler(self.handler)
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()
        root = logging.getLogger()
        if self.handler is not None:
            root.removeHandler(self.handler)
        for h in self.saved:
            root.addHandler(h)


class RunProgress:
    """Per-stage progress of a run (context manager).

    Parameters
    ----------
    mode : {"auto", "live", "lines", "off"}
        See the module docstring.
    stream : file, optional
        Where it goes (default stderr).
    interval_s : float
        ``lines``: least time between two lines of one stage, seconds.
    clock, now : callables, optional
        Monotonic seconds and the wall-clock time of the line stamps (tests pass fakes).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with RunProgress("lines", stream=out, now=lambda: datetime(2024, 1, 1, tzinfo=UTC)) as p:
    ...     p.set_total("calibrate", 2)
    ...     p.advance("calibrate", 2)
    >>> out.getvalue().splitlines()[-1]
    '2024-01-01T00:00:00 progress frames calibrated: 2/2 (100%), 0 s'
    """

    def __init__(self, mode: str = "auto", *, stream: IO[str] | None = None, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] | None = None):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
        stream = stream or sys.stderr
        if mode == "auto":
            mode = "live" if getattr(stream, "isatty", lambda: False)() else "lines"
        self.mode = mode
        self.counts = _Counts()
        self.clock = clock
        self.display = None
        if mode == "live":
            self.display = _Live(stream)
        elif mode == "lines":
            self.display = _Lines(stream, interval_s, clock, now or (lambda: datetime.now(UTC)))

    # -- context ----------------------------------------------------------------------
    def __enter__(self) -> RunProgress:
        if self.display is not None:
            self.display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.display is not None:
            self.display.stop()

    # -- counting ---------------------------------------------------------------------
    def _show(self, stage: str) -> None:
        if self.display is not None:
            self.display.update(self.counts, stage)

    def set_total(self, stage: str, total: int) -> None:
        """Declare how many units ``stage`` has (starts its clock)."""
        with self.counts.lock:
            self.counts.total[stage] = int(total)
            self.counts.done.setdefault(stage, 0)
            self.counts.started.setdefault(stage, self.clock())
            self._show(stage)

    def advance(self, stage: str, n: int = 1) -> None:
        """``n`` more units of ``stage`` are done."""
        with self.counts.lock:
            self.counts.started.setdefault(stage, self.clock())
            self.counts.done[stage] = self.counts.done.get(stage, 0) + n
            self._show(stage)

    def set_done(self, stage: str, done: int) -> None:
        """``done`` units of ``stage`` are done (polling displays)."""
        with self.counts.lock:
            if done != self.counts.done.get(stage):
                self.counts.done[stage] = done
                self._show(stage)

    def expect(self, keys: Iterable[Any]) -> None:
        """Totals per stage from the task keys of a graph."""
        totals: dict[str, int] = {}
        for key in keys:
            stage = stage_of(key)
            if stage is not None:
                totals[stage] = totals.get(stage, 0) + 1
        for stage in STAGES:  # display order
            if stage in totals:
                self.set_total(stage, totals[stage])

    # -- schedulers -------------------------------------------------------------------
    def dask_callback(self) -> Callback:
        """A dask callback (local schedulers) that counts finished tasks per stage."""
        outer = self

        class _Callback(Callback):
            def _start(self, dsk):
                outer.expect(dsk.keys())

            def _posttask(self, key, result, dsk, state, worker_id):
                stage = stage_of(key)
                if stage is not None:
                    outer.advance(stage)

        return _Callback()

    @contextlib.contextmanager
    def watch_distributed(self, client: Any, keys: Iterable[Any], period_s: float = 1.0):
        """Poll a ``dask.distributed`` scheduler for per-stage counts while the block runs.

        Counts are the tasks of each prefix no longer waiting or running on the scheduler;
        tasks it has already forgotten count as done.
        """
        keys = list(keys)
        self.expect(keys)
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(period_s):
                try:
                    pending = client.run_on_scheduler(_pending_by_prefix)
                except Exception:  # noqa: BLE001 - the scheduler is closing: stop polling
                    return
                for stage, total in list(self.counts.total.items()):
                    if stage != "ingest":
                        self.set_done(stage, max(0, total - int(pending.get(stage, 0))))

        thread = threading.Thread(target=poll, name="farside-progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=5)
            for stage, total in list(self.counts.total.items()):
                self.set_done(stage, total)


def _pending_by_prefix(dask_scheduler=None) -> dict[str, int]:
    """On the scheduler: tasks per prefix still waiting, queued or processing."""
    out: dict[str, int] = {}
    for ts in dask_scheduler.tasks.values():
        if ts.state in ("waiting", "queued", "processing", "no-worker"):
            stage = stage_of(ts.key)
            if stage is not None:
                out[stage] = out.get(stage, 0) + 1
    return out
