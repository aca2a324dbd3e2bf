"""Choosing and starting the dask scheduler that executes a farside graph.

The only module besides :mod:`pipeline.graph` that imports dask. ``SPEC`` is one of

- ``synchronous`` — one thread, for debugging and tests;
- ``threads`` — a local thread pool (``workers`` threads, default: all cores);
- ``processes`` — a local process pool;
- ``distributed`` — a ``dask.distributed.LocalCluster`` of ``workers`` single-threaded
  worker processes on this machine (dashboard included);
- ``tcp://host:port`` — an existing ``dask.distributed`` scheduler;
- ``slurm`` / ``pbs`` — a batch cluster started through ``dask-jobqueue`` with the
  ``run.slurm`` section of the config (queue, cores, memory, walltime, jobs).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dask

from pipeline.config import SlurmConfig
from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

LOCAL_SCHEDULERS = ("synchronous", "threads", "processes")
SCHEDULERS = (*LOCAL_SCHEDULERS, "distributed", "slurm", "pbs")


@dataclass
class Engine:
    """A started scheduler: how to compute, and the client when it is distributed."""

    spec: str
    client: Any = None
    cluster: Any = None

    @property
    def distributed(self) -> bool:
        return self.client is not None

    def compute(self, *collections: Any, progress: bool = False) -> tuple[Any, ...]:
        """Compute dask collections/delayed objects once, on this engine."""
        if self.client is None:
            kwargs: dict[str, Any] = {"scheduler": self.spec}
            if progress:
                from dask.diagnostics import ProgressBar

                with ProgressBar(dt=1.0):
                    return dask.compute(*collections, **kwargs)
            return dask.compute(*collections, **kwargs)
        futures = self.client.compute(list(collections))
        if progress:
            from dask.distributed import progress as dist_progress

            dist_progress(futures)
        return tuple(self.client.gather(futures))


def validate_spec(spec: str) -> str:
    """Return ``spec`` if it names a scheduler farside knows, else raise :class:`ConfigError`."""
    if spec in SCHEDULERS or spec.startswith(("tcp://", "tls://")):
        return spec
    raise ConfigError(
        f"unknown scheduler {spec!r}: use one of {', '.join(SCHEDULERS)} or a tcp://host:port address"
    )


@contextlib.contextmanager
def start_engine(spec: str, *, workers: int | None = None, batch: SlurmConfig | None = None) -> Iterator[Engine]:
    """Start the scheduler named by ``spec`` for the duration of the ``with`` block.

    Parameters
    ----------
    spec : str
        See the module docstring.
    workers : int, optional
        Threads/processes for local schedulers, worker processes for ``distributed``.
    batch : SlurmConfig, optional
        Job settings for ``slurm``/``pbs``.
    """
    spec = validate_spec(spec)
    if spec in LOCAL_SCHEDULERS:
        with dask.config.set(num_workers=workers) if workers else contextlib.nullcontext():
            yield Engine(spec)
        return

    from dask.distributed import Client, LocalCluster

    if spec == "distributed":
        cluster = LocalCluster(
            n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
    elif spec in ("slurm", "pbs"):
        cluster = _jobqueue_cluster(spec, batch or SlurmConfig())
        client = Client(cluster)
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


def _jobqueue_cluster(kind: str, cfg: SlurmConfig) -> Any:
    try:
        import dask_jobqueue
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ConfigError("the slurm/pbs schedulers need dask-jobqueue (pip install dask-jobqueue)") from exc
    cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
    kwargs: dict[str, Any] = {
        "cores": cfg.cores,
        "processes": cfg.processes,
        "memory": cfg.memory,
        "walltime": cfg.walltime,
        "queue": cfg.queue,
        "account": cfg.account,
        "job_extra_directives": list(cfg.job_extra_directives),
    }
    if cfg.local_directory:
        kwargs["local_directory"] = cfg.local_directory
    cluster = cls(**{k: v for k, v in kwargs.items() if v is not None})
    log.info("submitting %d %s worker job(s):\n%s", cfg.jobs, kind, cluster.job_script())
    cluster.scale(jobs=cfg.jobs)
    return cluster
