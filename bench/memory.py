"""Peak resident memory of a whole process tree, and measured subprocess runs.

The pipeline may start worker processes (``processes``/``distributed`` schedulers), so
the peak is the largest *sum* of RSS over a process and all its descendants, sampled by a
background thread. RSS counts pages shared between a parent and its forked children once
per process, so the sum slightly overstates what a tree of forked processes really uses;
it is what ``top`` users see and an upper bound on the true footprint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import psutil

MB = 1024**2


def tree_rss(proc: psutil.Process) -> int:
    """Sum of the resident set sizes (bytes) of ``proc`` and all its descendants."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class PeakMemorySampler:
    """Sample the RSS of a process tree every ``interval`` seconds in a daemon thread
    (new descendants are looked for every ``rescan`` seconds: that scan reads every
    process on the machine, the RSS reads are cheap).

    >>> with PeakMemorySampler(os.getpid()) as s:   # doctest: +SKIP
    ...     work()
    >>> s.peak_mb
    """

    def __init__(self, pid: int, interval: float = 0.05, rescan: float = 0.5):
        self.pid = int(pid)
        self.interval = float(interval)
        self.rescan = float(rescan)  # seconds between scans for new child processes
        self._procs: list[psutil.Process] = []
        self.peak_bytes = 0
        self.samples = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MB

    def start(self) -> PeakMemorySampler:
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return self
        self._sample(proc)
        self._thread = threading.Thread(target=self._loop, args=(proc,), daemon=True, name="peak-rss")
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.peak_mb

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _refresh(self, proc: psutil.Process) -> None:
        """Find the tree's processes (a scan of every process: done every ``rescan`` s)."""
        try:
            self._procs = [proc, *proc.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self._procs = [proc]
        self._scanned = time.monotonic()
        self.max_processes = max(self.max_processes, len(self._procs))

    def _sample(self, proc: psutil.Process) -> None:
        if time.monotonic() - getattr(self, "_scanned", -1e9) > self.rescan:
            self._refresh(proc)
        total = 0
        for p in self._procs:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self.peak_bytes = max(self.peak_bytes, total)
        self.samples += 1

    def _loop(self, proc: psutil.Process) -> None:
        while not self._stop.wait(self.interval):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            self._sample(proc)


@dataclass
class Measured:
    """One command run by :func:`run_measured`."""

    cmd: list[str]
    returncode: int | None
    wall_s: float
    peak_rss_mb: float
    max_processes: int
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    load_before: float | None = None  # 1-minute load average when it started (other users' work)
    cpu_s: float | None = None  # user + system CPU seconds of the command and its reaped descendants
    machine_cpu_s: float | None = None  # busy CPU seconds of the whole machine meanwhile (everyone)

    @property
    def cpu_util(self) -> float | None:
        """Average busy cores over the run (cpu_s / wall_s)."""
        return self.cpu_s / self.wall_s if self.cpu_s is not None and self.wall_s > 0 else None

    @property
    def others_cores(self) -> float | None:
        """Average cores busy with *other* work on the machine during the run (0 = quiet)."""
        if self.cpu_s is None or self.machine_cpu_s is None or self.wall_s <= 0:
            return None
        return max(0.0, (self.machine_cpu_s - self.cpu_s) / self.wall_s)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _children_cpu() -> float | None:
    """User + system CPU seconds of this process's terminated, waited-for children."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores, everyone)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _tail(path: Path, n: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace")


def run_measured(cmd: list[str], *, timeout: float | None = None, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, interval: float = 0.05,
                 log_dir: str | Path | None = None) -> Measured:
    """Run ``cmd`` in its own process group, sampling its tree's peak RSS; kill the group
    after ``timeout`` seconds (recorded as ``timed_out``). stdout/stderr go to files in
    ``log_dir`` (a temporary folder by default) and their tails are kept."""
    import tempfile

    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="bench-log-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    timed_out = False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    ru0 = _children_cpu()
    busy0 = _machine_busy()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        sampler = PeakMemorySampler(proc.pid, interval).start()
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group this call created, nothing else
            except ProcessLookupError:
                pass
            rc = proc.wait()
        wall = time.perf_counter() - t0
        sampler.stop()
    return Measured(list(map(str, cmd)), rc, wall, sampler.peak_mb, sampler.max_processes, timed_out,
                    _tail(out_path), _tail(err_path), load, _children_cpu() - ru0 if ru0 is not None else None,
                    _machine_busy() - busy0)
