"""``pipeline.orchestration.scheduler.start_engine`` on real clusters: a dask scheduler with two worker
processes (``tcp://``) and a single-node SLURM through dask-jobqueue (``slurm``).

The functions run on workers are built inside :func:`_remote`: workers cannot import this test
module, and local functions are shipped by value (cloudpickle).
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import dask
import pytest

from pipeline.config import SlurmParams, load_config
from pipeline.errors import ConfigError, EngineStartError, FarsideError
from pipeline.orchestration.scheduler import start_engine

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(150)]

SLURM_JOB = dict(queue="debug", cores=1, processes=1, memory="1GB", walltime="00:10:00")


@pytest.fixture(autouse=True)
def _any_dashboard_port():
    """Concurrent runs would fight over dask-jobqueue's default dashboard port 8787."""
    import dask_jobqueue  # noqa: F401  (loads its config defaults first: set() restores on exit)

    with dask.config.set({"jobqueue.slurm.scheduler-options": {"dashboard_address": "127.0.0.1:0"}}):
        yield


def _remote() -> SimpleNamespace:
    def where(i: int, pause: float = 0.0) -> tuple[int, int, str | None]:
        """``(i * i, pid, SLURM_JOB_ID)`` of the process that ran it."""
        import os
        import time

        time.sleep(pause)
        return i * i, os.getpid(), os.environ.get("SLURM_JOB_ID")

    def slow_square(i: int, pause: float, markers: str) -> int:
        """Leave ``<i>-<pid>`` in ``markers`` on start, sleep, return ``i * i``."""
        import os
        import time

        open(os.path.join(markers, f"{i}-{os.getpid()}"), "w").close()
        time.sleep(pause)
        return i * i

    return SimpleNamespace(where=where, slow_square=slow_square)


def _worker_pids(address: str, n: int = 2) -> set[int]:
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(n, timeout=60)  # a nanny may still be restarting a killed worker
        return set(client.run(os.getpid).values())


# --------------------------------------------------------------------------- tcp://


def test_tcp_address_computes_on_two_worker_processes(distributed_scheduler: str) -> None:
    remote = _remote()
    worker_pids = _worker_pids(distributed_scheduler)
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids

    parts = [dask.delayed(remote.where)(i, 0.3) for i in range(8)]
    total = dask.delayed(sum)([p[0] for p in parts])
    with start_engine(distributed_scheduler) as engine:
        assert engine.distributed and engine.cluster is None
        results, total_value = engine.compute(parts, total)

    assert [r[0] for r in results] == [i * i for i in range(8)]
    assert total_value == sum(i * i for i in range(8))
    assert {r[1] for r in results} == worker_pids  # both worker processes did work


def test_worker_killed_mid_task_still_gives_the_result(distributed_scheduler: str, tmp_path: Path) -> None:
    remote = _remote()
    _worker_pids(distributed_scheduler)
    n = 4
    parts = [dask.delayed(remote.slow_square, pure=False)(i, 1.5, str(tmp_path)) for i in range(n)]
    total = dask.delayed(sum)(parts)

    with start_engine(distributed_scheduler) as engine, ThreadPoolExecutor(1) as pool:
        running = pool.submit(engine.compute, total)
        end = time.monotonic() + 60
        while not (started := sorted(tmp_path.iterdir(), key=lambda p: p.stat().st_mtime)):
            assert time.monotonic() < end, "no task started"
            time.sleep(0.05)
        victim_task, victim_pid = (int(x) for x in started[0].name.split("-"))
        os.kill(victim_pid, signal.SIGKILL)  # the worker process, while its task sleeps
        (result,) = running.result(timeout=90)

    assert result == sum(i * i for i in range(n))
    reruns = {int(p.name.split("-")[1]) for p in tmp_path.glob(f"{victim_task}-*")}
    assert victim_pid in reruns and len(reruns) >= 2, "the killed task was not run again elsewhere"


# --------------------------------------------------------------------------- SLURM


def test_slurm_engine_runs_the_graph_in_slurm_jobs(
    slurm_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # sbatch writes slurm-<job>.out into the submission directory
    remote = _remote()
    parts = [dask.delayed(remote.where)(i) for i in range(4)]
    t0 = time.monotonic()
    with start_engine("slurm", batch=SlurmParams(**SLURM_JOB, jobs=1), start_timeout=90) as engine:
        assert engine.distributed and engine.cluster is not None
        queued = set(slurm_cluster.squeue())
        (results,) = engine.compute(parts)
    print(f"slurm engine up and computed in {time.monotonic() - t0:.1f} s")

    assert [r[0] for r in results] == [0, 1, 4, 9]
    job_ids = {r[2] for r in results}
    assert None not in job_ids, "work ran outside a SLURM job"
    assert job_ids <= queued
    assert os.getpid() not in {r[1] for r in results}
    end = time.monotonic() + 30  # leaving the block cancels the worker jobs
    while set(slurm_cluster.squeue()) & job_ids:
        assert time.monotonic() < end, f"jobs {job_ids} still queued after the engine closed"
        time.sleep(0.2)


def test_example_slurm_config_submits_on_a_real_slurm(
    slurm_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[2]
    run = load_config(root / "configs" / "slurm.yaml").run
    assert run.scheduler == "slurm"
    # the example's directives as they are; its size shrunk to this one-node test cluster
    batch = run.slurm.model_copy(update=dict(queue="debug", cores=1, memory="1GB", jobs=1))
    monkeypatch.chdir(tmp_path)
    with start_engine(run.scheduler, batch=batch, start_timeout=90) as engine:
        script = engine.cluster.job_script()
        (value,) = engine.compute(dask.delayed(sum)([1, 2, 3]))
    assert value == 6
    assert all(f"#SBATCH {d}" in script for d in run.slurm.job_extra_directives)


def test_slurm_job_that_never_starts_is_an_error_not_a_hang(
    slurm_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    batch = SlurmParams(**SLURM_JOB, jobs=1, job_extra_directives=["--begin=now+1hour"])
    t0 = time.monotonic()
    with pytest.raises(EngineStartError, match=r"no slurm dask worker joined within 5 s.*PENDING") as err:
        with start_engine("slurm", batch=batch, start_timeout=5):
            pytest.fail("the engine started although its job is held for an hour")
    assert isinstance(err.value, FarsideError)
    assert time.monotonic() - t0 < 30
    end = time.monotonic() + 30  # the pending job was cancelled
    while slurm_cluster.squeue():
        assert time.monotonic() < end, "the pending worker job was not cancelled"
        time.sleep(0.2)


def test_slurm_job_whose_worker_dies_fails_fast(
    slurm_cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    with dask.config.set({"jobqueue.slurm.python": "/bin/false"}):  # a worker that exits at once
        with pytest.raises(EngineStartError, match="ended before its dask worker connected"):
            with start_engine("slurm", batch=SlurmParams(**SLURM_JOB, jobs=1), start_timeout=120):
                pytest.fail("the engine started without a worker")
    assert time.monotonic() - t0 < 60, "a dead job should not wait for the whole start timeout"
    end = time.monotonic() + 30  # its job leaves the queue (SLURM may list it a moment as completing)
    while slurm_cluster.squeue():
        assert time.monotonic() < end, "the dead worker's job stayed in the queue"
        time.sleep(0.2)


def test_slurm_rejects_unknown_partition_at_once(slurm_cluster, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    batch = SlurmParams(**{**SLURM_JOB, "queue": "no-such-partition"}, jobs=1)
    before = set(slurm_cluster.squeue())  # jobs of earlier tests may still be completing
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="invalid partition"):
        with start_engine("slurm", batch=batch, start_timeout=120):
            pytest.fail("the engine started on an unknown partition")
    assert time.monotonic() - t0 < 30
    assert not set(slurm_cluster.squeue()) - before, "a job was queued on the unknown partition"
