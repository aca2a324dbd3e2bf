"""Choosing and starting the dask scheduler that executes a farside graph.

The only module besides :mod:`pipeline.orchestration.graph` that imports dask. ``SPEC`` is one of

- ``synchronous`` — one thread, for debugging and tests;
- ``threads`` — a local thread pool (``workers`` threads, default: all cores);
- ``processes`` — a local process pool. A worker that dies (killed, out of memory) breaks
  the pool; the graph is then computed again on fresh workers (up to
  :data:`PROCESS_ATTEMPTS` times in all), which resumes from the work directory's cached
  products as the distributed engine resubmits a lost worker's tasks. Pool workers exit on
  their own within a second when the process that started them dies;
- ``distributed`` — a ``dask.distributed.LocalCluster`` of ``workers`` single-threaded
  worker processes on this machine, listening on 127.0.0.1 only, its dashboard on
  ``run.dashboard_address`` (default ``127.0.0.1:0``: this machine, a free port);
- ``tcp://host:port`` — an existing ``dask.distributed`` scheduler;
- ``slurm`` / ``pbs`` — a batch cluster started through ``dask-jobqueue`` with the
  ``run.slurm`` section of the config (queue, cores, memory, walltime, jobs).

Batch workers run ``python -m distributed.cli.dask_worker`` with the interpreter that runs
farside (``sys.executable``, i.e. the project's ``.venv``; dask's ``jobqueue.slurm.python``
setting overrides it), so the compute nodes must see that path: a shared filesystem, or the
local disk on a single machine. ``start_engine`` returns once the first worker job has joined;
a SLURM job script the controller rejects is a :class:`ConfigError` at once, and a job that
never starts (or ends before its worker connects) is an :class:`EngineStartError` after
``start_timeout`` seconds (default ``$FARSIDE_START_TIMEOUT`` or 600).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
from dask.diagnostics import ProgressBar
from dask.distributed import Client, LocalCluster
from dask.distributed import progress as dist_progress

from pipeline.config import DEFAULT_DASHBOARD, SlurmParams, check_scheduler
from pipeline.errors import ConfigError, EngineStartError, WorkerLost

log = logging.getLogger(__name__)

LOCAL_SCHEDULERS = ("synchronous", "threads", "processes")

START_TIMEOUT_ENV = "FARSIDE_START_TIMEOUT"
PROCESS_ATTEMPTS = 3
"""``processes``: computations of a graph in all when pool workers die (distributed allows 3 too)."""
_PARENT_POLL_S = 0.5
DEFAULT_START_TIMEOUT_S = 600.0
# SLURM job states after which a job will never run a worker (squeue --states=all);
# "ENDED": squeue no longer lists the job.
_SLURM_ENDED = {
    "ENDED", "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
    "OUT_OF_MEMORY", "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT",
}


@dataclass
class Engine:
    """A started scheduler: how to compute, and the client when it is distributed."""

    spec: str
    client: Any = None
    cluster: Any = None

    @property
    def distributed(self) -> bool:
        """Whether the engine has a dask ``distributed`` client."""
        return self.client is not None

    def compute(self, *collections: Any, progress: Any = False) -> tuple[Any, ...]:
        """Compute dask collections/delayed objects once, on this engine.

        ``progress``: False, True (dask's own bar) or a
        :class:`~pipeline.orchestration.progress.RunProgress` (per-stage counts).

        Raises
        ------
        WorkerLost
            ``processes``: pool workers died in each of :data:`PROCESS_ATTEMPTS` computations.
        """
        if self.client is None:
            kwargs: dict[str, Any] = {"scheduler": self.spec}
            if self.spec == "processes":
                kwargs["initializer"] = exit_with_parent
                return _retry_broken_pool(lambda: _local_compute(collections, kwargs, progress))
            return _local_compute(collections, kwargs, progress)
        futures = self.client.compute(list(collections))
        if hasattr(progress, "watch_distributed"):
            keys = [k for c in collections for k in c.__dask_graph__().keys()]
            with progress.watch_distributed(self.client, keys):
                return tuple(self.client.gather(futures))
        if progress:

            dist_progress(futures)
        return tuple(self.client.gather(futures))


def _local_compute(collections: tuple, kwargs: dict[str, Any], progress: Any) -> tuple[Any, ...]:
    if hasattr(progress, "dask_callback"):
        with progress.dask_callback():
            return dask.compute(*collections, **kwargs)
    if progress:
        with ProgressBar(dt=1.0):
            return dask.compute(*collections, **kwargs)
    return dask.compute(*collections, **kwargs)


def _retry_broken_pool(compute: Any) -> tuple[Any, ...]:
    """``compute()``, again on a fresh pool each time a worker process dies."""
    for attempt in range(1, PROCESS_ATTEMPTS + 1):
        try:
            return compute()
        except BrokenProcessPool as exc:
            if attempt == PROCESS_ATTEMPTS:
                raise WorkerLost(
                    f"worker processes of the 'processes' engine died in each of {PROCESS_ATTEMPTS} attempts "
                    f"({exc}); they were killed or ran out of memory (see `dmesg`): lower --workers "
                    "(run.workers) or use --scheduler threads"
                ) from exc
            log.warning("a worker process died (%s); computing again on fresh workers (attempt %d of %d), "
                        "reusing the finished stage products", exc, attempt + 1, PROCESS_ATTEMPTS)
    raise AssertionError("unreachable")  # pragma: no cover


def exit_with_parent() -> None:
    """Pool-worker initializer: end this process within :data:`_PARENT_POLL_S` s of its parent's
    death (a killed farside must not leave its workers computing for nobody)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="farside-exit-with-parent", daemon=True).start()


def validate_spec(spec: str) -> str:
    """Return ``spec`` if it names a scheduler farside knows, else raise :class:`ConfigError`."""
    try:
        return check_scheduler(spec)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _start_timeout(value: float | None) -> float:
    if value is not None:
        return float(value)
    env = os.environ.get(START_TIMEOUT_ENV)
    if not env:
        return DEFAULT_START_TIMEOUT_S
    try:
        timeout = float(env)
    except ValueError:
        timeout = -1.0
    if timeout <= 0:
        raise ConfigError(f"{START_TIMEOUT_ENV}={env!r}: expected a positive number of seconds")
    return timeout


@contextlib.contextmanager
def start_engine(
    spec: str,
    *,
    workers: int | None = None,
    batch: SlurmParams | None = None,
    start_timeout: float | None = None,
    dashboard_address: str = DEFAULT_DASHBOARD,
) -> Iterator[Engine]:
    """Start the scheduler named by ``spec`` for the duration of the ``with`` block.

    Parameters
    ----------
    spec : str
        See the module docstring.
    workers : int, optional
        Threads/processes for local schedulers, worker processes for ``distributed``.
    batch : SlurmParams, optional
        Job settings for ``slurm``/``pbs``.
    start_timeout : float, optional
        ``slurm``/``pbs``: seconds to wait for the first worker job to join
        (default: ``$FARSIDE_START_TIMEOUT``, else 600).
    dashboard_address : str
        ``host:port`` of the dask dashboard (``distributed``, ``slurm``, ``pbs``); the default
        ``127.0.0.1:0`` serves it to this machine only, on a free port.

    Raises
    ------
    ConfigError
        Unknown ``spec``, unreachable ``tcp://`` scheduler, no ``sbatch``/``qsub`` on this
        machine, or a job the batch system rejects (unknown partition, too much memory...).
    EngineStartError
        ``slurm``/``pbs``: no worker joined within ``start_timeout`` seconds, or every worker
        job ended before its worker connected. The submitted jobs are cancelled.
    """
    spec = validate_spec(spec)
    if spec in LOCAL_SCHEDULERS:
        with dask.config.set(num_workers=workers) if workers else contextlib.nullcontext():
            yield Engine(spec)
        return


    if spec == "distributed":
        cluster = LocalCluster(
            n_workers=workers or 2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=dashboard_address,
        )
        client = Client(cluster)
    elif spec in ("slurm", "pbs"):
        timeout = _start_timeout(start_timeout)
        cluster = _jobqueue_cluster(spec, batch or SlurmParams(), dashboard_address)
        client = None
        try:
            client = Client(cluster)
            _wait_for_first_worker(spec, cluster, client, timeout)
        except BaseException:
            if client is not None:
                client.close()
            cluster.close()  # cancels the submitted jobs
            raise
    else:
        cluster = None
        try:
            client = Client(spec, timeout="20s")
        except OSError as exc:
            raise ConfigError(f"cannot reach dask scheduler at {spec}: {exc}") from exc
    log.info("dask scheduler %s; dashboard: %s", client.scheduler.address, client.dashboard_link)
    try:
        yield Engine(spec, client=client, cluster=cluster)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _jobqueue_cluster(kind: str, cfg: SlurmParams, dashboard_address: str = DEFAULT_DASHBOARD) -> Any:
    try:
        import dask_jobqueue  # deferred: only the slurm/pbs schedulers need it (imports distributed's cluster code)
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ConfigError("the slurm/pbs schedulers need dask-jobqueue (pip install dask-jobqueue)") from exc
    cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
    submit = "sbatch" if kind == "slurm" else "qsub"
    if shutil.which(submit) is None:
        raise ConfigError(
            f"scheduler {kind!r}: `{submit}` is not on PATH; run farside on a {kind.upper()} login "
            "node, or use scheduler: distributed (this machine) or tcp://host:port"
        )
    kwargs: dict[str, Any] = {
        "cores": cfg.cores,
        "processes": cfg.processes,
        "memory": cfg.memory,
        "walltime": cfg.walltime,
        "queue": cfg.queue,
        "account": cfg.account,
        "job_extra_directives": list(cfg.job_extra_directives),
        "scheduler_options": {**dask.config.get(f"jobqueue.{kind}.scheduler-options", {}),
                              "dashboard_address": dashboard_address},
    }
    if cfg.local_directory:
        kwargs["local_directory"] = cfg.local_directory
    try:
        cluster = cls(**{k: v for k, v in kwargs.items() if v is not None})
    except ValueError as exc:  # e.g. a memory string dask cannot parse
        raise ConfigError(f"run.slurm: {exc}") from exc
    script = cluster.job_script()
    if kind == "slurm":
        try:
            _check_slurm_script(script)
        except BaseException:
            cluster.close()
            raise
    log.info("submitting %d %s worker job(s) running %s:\n%s", cfg.jobs, kind, _worker_python(kind), script)
    cluster.scale(jobs=cfg.jobs)
    return cluster


def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str] | None:
    """Run a batch-system command; None when it cannot run or hangs (the caller carries on)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: %s", " ".join(cmd), exc)
        return None


def _check_slurm_script(script: str) -> None:
    """``sbatch --test-only``: a job SLURM would reject is a ConfigError now, not a silent hang."""
    with tempfile.NamedTemporaryFile("w", prefix="farside-job-", suffix=".sh", delete=False) as fh:
        fh.write(script)
    try:
        done = _run(["sbatch", "--test-only", fh.name])
    finally:
        os.unlink(fh.name)
    if done is not None and done.returncode != 0:
        reason = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        raise ConfigError(
            f"SLURM rejects the dask worker job: {reason or 'sbatch --test-only failed'}. "
            "Check run.slurm (queue, account, cores, memory, walltime, job_extra_directives) "
            f"against `sinfo`. Job script:\n{script}"
        )


def _job_ids(cluster: Any) -> list[str]:
    try:
        jobs = list(cluster.workers.values())
    except RuntimeError:  # the cluster's event loop changed the dict meanwhile
        return []
    return [str(job.job_id) for job in jobs if getattr(job, "job_id", None)]


def _slurm_states(job_ids: list[str]) -> dict[str, str] | None:
    """``{job id: "STATE (reason)"}``, "ENDED" for jobs squeue no longer knows; None if it fails."""
    done = _run(["squeue", "--noheader", "--states=all", "--jobs=" + ",".join(job_ids), "--format=%i|%T|%r"])
    if done is None:
        return None
    if done.returncode != 0:  # "Invalid job id specified": every job is gone (purged)
        return dict.fromkeys(job_ids, "ENDED") if "invalid job id" in done.stderr.lower() else None
    states = dict.fromkeys(job_ids, "ENDED")
    for line in done.stdout.splitlines():
        job, _, rest = line.strip().partition("|")
        state, _, reason = rest.partition("|")
        if job in states:
            states[job] = f"{state} ({reason})" if reason and reason != "None" else state
    return states


def _slurm_output_tail(job_id: str, lines: int = 8) -> str:
    done = _run(["scontrol", "show", "job", job_id])
    if done is None or done.returncode != 0:
        return ""
    for token in done.stdout.split():
        if token.startswith("StdOut="):
            path = token.partition("=")[2]
            try:
                tail = Path(path).read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                return f"\n  job {job_id} output: {path} (not readable here)"
            if not any(line.strip() for line in tail):
                return f"\n  job {job_id} output ({path}): empty"
            return f"\n  job {job_id} output ({path}):\n    " + "\n    ".join(tail)
    return ""


def _worker_python(kind: str) -> str:
    return dask.config.get(f"jobqueue.{kind}.python", None) or sys.executable


def _wait_for_first_worker(kind: str, cluster: Any, client: Any, timeout: float) -> None:
    """Block until one dask worker joins; raise EngineStartError on timeout or dead jobs."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while True:
        step = max(0.1, min(5.0, deadline - time.monotonic()))
        try:
            client.wait_for_workers(1, timeout=step)
            return
        except TimeoutError:
            pass
        job_ids = _job_ids(cluster)
        if kind == "slurm" and job_ids:
            states = _slurm_states(job_ids) or states
            ended = [j for j in job_ids if states.get(j, "?").split(" ")[0] in _SLURM_ENDED]
            if ended and len(ended) == len(job_ids) and not client.scheduler_info()["workers"]:
                detail = ", ".join(f"{j} {states[j]}" for j in job_ids)
                raise EngineStartError(
                    f"every {kind} worker job ended before its dask worker connected ({detail}); "
                    f"jobs run `{_worker_python(kind)} -m distributed.cli.dask_worker`, which must "
                    "work on the compute nodes."
                    + "".join(_slurm_output_tail(j) for j in job_ids)
                )
        if time.monotonic() >= deadline:
            detail = ", ".join(f"{j} {states.get(j, '?')}" for j in job_ids) or (
                "none submitted: see the sbatch/qsub error logged above"
            )
            raise EngineStartError(
                f"no {kind} dask worker joined within {timeout:.0f} s (jobs: {detail}). "
                "Check run.slurm (queue, account, memory, walltime) and `squeue`/`sinfo`; "
                f"set {START_TIMEOUT_ENV}=SECONDS to wait longer on a busy cluster. "
                "The jobs are cancelled."
            )
