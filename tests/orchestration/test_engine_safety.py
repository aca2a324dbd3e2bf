"""Local engines: a killed pool worker is survived, a killed farside leaves no process behind,
and the distributed dashboard is served to this machine only.

Task functions are built inside :func:`_tasks` so that they travel by value (cloudpickle):
pool workers cannot import this test module.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace
from urllib.parse import urlparse

import psutil
import pytest
from dask import delayed

from pipeline.errors import WorkerLost
from pipeline.orchestration import scheduler
from pipeline.orchestration.scheduler import PROCESS_ATTEMPTS, start_engine
from tests.conftest import ROOT


def _tasks() -> SimpleNamespace:
    def die_once(marker: str, x: int) -> int:
        """Kill the worker process running it the first time (any task), then ``2 * x``."""
        import os
        import signal

        try:
            with open(marker, "x") as fh:
                fh.write(str(os.getpid()))
        except FileExistsError:
            return 2 * x
        os.kill(os.getpid(), signal.SIGKILL)
        return -1  # never reached

    return SimpleNamespace(die_once=die_once)


def test_processes_engine_survives_a_killed_worker(tmp_path, caplog):
    marker = tmp_path / "killed-once"
    work = [delayed(_tasks().die_once)(str(marker), i) for i in range(4)]
    with caplog.at_level(logging.WARNING), start_engine("processes", workers=2) as engine:
        (total,) = engine.compute(delayed(sum)(work))
    assert total == 2 * (0 + 1 + 2 + 3)
    assert marker.exists()  # a worker really was killed
    assert any("a worker process died" in r.getMessage() and "attempt 2 of 3" in r.getMessage()
               for r in caplog.records)


def test_processes_engine_gives_up_with_one_clear_error(monkeypatch):
    calls = []

    def broken(*args):
        calls.append(1)
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(scheduler, "_local_compute", broken)
    with start_engine("processes", workers=1) as engine, pytest.raises(WorkerLost, match="--workers"):
        engine.compute(delayed(sum)([1, 2]))
    assert len(calls) == PROCESS_ATTEMPTS


PARENT = r"""
import sys, time
from dask import delayed
from pipeline.orchestration.scheduler import start_engine

def nap(folder, i):
    import os, time
    open(os.path.join(folder, f"{i}-{os.getpid()}"), "w").close()
    time.sleep(300)
    return i

if __name__ == "__main__":
    with start_engine("processes", workers=2) as engine:
        engine.compute([delayed(nap)(sys.argv[1], i) for i in range(2)])
"""


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def test_no_pool_worker_outlives_a_killed_farside(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    markers = tmp_path / "markers"
    markers.mkdir()
    parent = subprocess.Popen([sys.executable, str(script), str(markers)], cwd=ROOT)
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while not list(markers.iterdir()) and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.1)
        assert list(markers.iterdir()), "no pool worker started"
        descendants = psutil.Process(parent.pid).children(recursive=True)
        assert len(descendants) >= 2  # pool worker(s) and multiprocessing's resource tracker
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 30  # they notice within a second; allow for a loaded machine
        while _alive(descendants) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _alive(descendants)
        assert not left, [(p.pid, p.cmdline()[:3]) for p in left]
    finally:  # only what this test started
        parent.kill()
        for p in _alive(descendants):
            p.kill()


@pytest.mark.cluster
def test_the_distributed_dashboard_listens_on_localhost_only():
    with start_engine("distributed", workers=1) as engine:
        link = urlparse(engine.client.dashboard_link)
        assert link.hostname == "127.0.0.1"
        # this process (scheduler, dashboard, nannies) and the worker processes; not every child:
        # the SLURM daemons of tests/cluster, children of this process too, listen on all interfaces
        workers = engine.client.run(os.getpid).values()
        procs = [psutil.Process(), *(psutil.Process(pid) for pid in workers)]
        listening = [c.laddr for p in procs for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening and {a.ip for a in listening} <= {"127.0.0.1", "::1"}, listening
        assert link.port in {a.port for a in listening}
