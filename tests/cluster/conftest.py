"""Real clusters for the ``cluster`` tests: a single-node SLURM and a multi-process dask cluster.

Both fixtures are session-scoped, start in seconds and stop everything they started.

``slurm_cluster``
    A throwaway SLURM (Debian ``slurm-wlm`` + ``munge``) on this machine, run as root
    without systemd: a private ``munged`` (own key and socket), ``slurmctld`` and
    ``slurmd -N localhost`` with a minimal ``slurm.conf`` (one node ``localhost``, one
    partition ``debug``, private ports). Everything lives in
    ``$TMPDIR/farside-slurm-<uid>/``; daemons a killed earlier run left behind are found
    there (pid files) and stopped first. ``SLURM_CONF`` is exported for the test process and
    the jobs it submits. Skips, with the reason, when the tools are missing (``.ci/run``
    installs them), when not root, or when the node does not come up within 60 s.

``distributed_scheduler``
    ``python -m dask scheduler`` on 127.0.0.1 (ephemeral port) and two ``dask worker``
    processes (``--nthreads 1``, with nannies), yielding ``tcp://127.0.0.1:PORT``. They get
    SIGTERM if the test process dies (``PR_SET_PDEATHSIG``), so a killed run leaves none.

Run them alone with ``.venv/bin/python -m pytest tests/cluster -m cluster``.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SLURM_TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel", "scontrol")
# daemons live in /usr/sbin, which a non-login root shell's PATH may lack
TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])
SLURM_HOME_PREFIX = f"farside-slurm-{os.getuid()}-"
NODE_UP_TIMEOUT_S = 60.0
DASK_UP_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------- helpers


def _alive(pid: int) -> bool:
    """True for a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not _alive(pid):
                return
            time.sleep(0.05)


def _stop_daemon(home: Path, name: str) -> None:
    """Stop the ``name`` daemon whose pid file is in ``home``, if it still runs."""
    pidfile = home / f"{name}.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if _alive(pid) and _comm(pid).startswith(name[:15]):
        _stop_pid(pid)
    pidfile.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path.name}: no log)"
    return f"--- {path.name}:\n" + "\n".join(text[-lines:])


def _mem_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


# --------------------------------------------------------------------------- SLURM


@dataclass
class SlurmCluster:
    """A running single-node SLURM: ``conf`` is exported as ``SLURM_CONF``."""

    home: Path
    conf: Path
    partition: str = "debug"
    node: str = "localhost"
    cpus: int = 1
    memory_mb: int = 1024
    logs: list[Path] = field(default_factory=list)

    def squeue(self) -> list[str]:
        """Job ids SLURM still lists (pending, running or completing)."""
        out = subprocess.run(
            ["squeue", "--noheader", "--format=%i"], capture_output=True, text=True, timeout=30
        ).stdout
        return out.split()

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(_tail(p, lines) for p in self.logs)


def _slurm_conf(home: Path, cpus: int, memory_mb: int) -> str:
    return f"""\
# farside test cluster (tests/cluster/conftest.py): one node, root, no systemd, no cgroups
ClusterName=farside
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={home}/munge.socket
StateSaveLocation={home}/state
SlurmdSpoolDir={home}/spool
SlurmctldPidFile={home}/slurmctld.pid
SlurmdPidFile={home}/slurmd.pid
SlurmctldLogFile={home}/slurmctld.log
SlurmdLogFile={home}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=60
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _start_munged(home: Path, munged: str) -> None:
    key = home / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o600)
    socket_path = home / "munge.socket"
    subprocess.run(
        [munged, "--force", f"--key-file={key}", f"--socket={socket_path}",
         f"--pid-file={home}/munged.pid", f"--log-file={home}/munged.log",
         f"--seed-file={home}/munged.seed"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        timeout=30, check=True,
    )
    end = time.monotonic() + 10
    while not socket_path.exists():
        if time.monotonic() > end:
            raise RuntimeError("munged created no socket")
        time.sleep(0.05)


def _node_state() -> str:
    try:
        done = subprocess.run(
            ["sinfo", "--noheader", "--Node", "--nodes=localhost", "--format=%T"],
            capture_output=True, text=True, timeout=10,
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    return done.stdout.strip() if done.returncode == 0 else f"sinfo: {done.stderr.strip()}"


def _daemon_alive(home: Path, name: str) -> bool:
    try:
        pid = int((home / f"{name}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return _alive(pid) and _comm(pid).startswith(name[:15])


def _stop_slurm(home: Path) -> None:
    """Cancel the jobs of the SLURM in ``home``, then stop its daemons."""
    conf = home / "slurm.conf"
    if conf.exists() and _daemon_alive(home, "slurmctld") and _daemon_alive(home, "slurmd"):
        env = {**os.environ, "SLURM_CONF": str(conf)}
        try:  # cancel jobs first: killing slurmd alone would orphan their processes
            subprocess.run(["scancel", f"--user={os.getuid()}"], env=env, capture_output=True, timeout=20)
            end = time.monotonic() + 15
            while time.monotonic() < end:
                done = subprocess.run(
                    ["squeue", "--noheader", "--format=%i"], env=env, capture_output=True, text=True,
                    timeout=10,
                )
                if done.returncode != 0 or not done.stdout.strip():
                    break
                time.sleep(0.2)
        except (OSError, subprocess.SubprocessError):
            pass
    for name in ("slurmd", "slurmctld", "munged"):
        _stop_daemon(home, name)


def _clean_leftovers() -> None:
    """Stop and remove the SLURMs of earlier runs that died without their teardown."""
    for home in Path(tempfile.gettempdir()).glob(SLURM_HOME_PREFIX + "*"):
        owner = home.name.removeprefix(SLURM_HOME_PREFIX)
        if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
            continue  # a test run in progress
        _stop_slurm(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A real single-node SLURM with partition ``debug`` (see the module docstring)."""
    tools = {tool: shutil.which(tool, path=TOOL_PATH) for tool in SLURM_TOOLS}
    missing = [tool for tool, path in tools.items() if path is None]
    if missing:
        pytest.skip(
            f"SLURM not installed (missing {', '.join(missing)}): install Debian slurm-wlm and munge "
            "(done by .ci/run: apt-get install slurm-wlm munge)"
        )
    if os.geteuid() != 0:
        pytest.skip("the throwaway SLURM runs its daemons as root (SlurmUser=root): run the tests as root")

    _clean_leftovers()
    home = Path(tempfile.gettempdir()) / f"{SLURM_HOME_PREFIX}{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o711, parents=True)
    home.chmod(0o711)  # munged: socket reachable, key directory not writable by others
    (home / "state").mkdir()
    (home / "spool").mkdir()
    cpus = len(os.sched_getaffinity(0))
    memory_mb = max(512, int(_mem_mb() * 0.9))  # below what slurmd measures, or the node drains
    conf = home / "slurm.conf"
    conf.write_text(_slurm_conf(home, cpus, memory_mb))
    cluster = SlurmCluster(
        home=home, conf=conf, cpus=cpus, memory_mb=memory_mb,
        logs=[home / "munged.log", home / "slurmctld.log", home / "slurmd.log"],
    )
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        try:
            _start_munged(home, tools["munged"])
            for cmd in (
                [tools["slurmctld"], "-c", "-f", str(conf)],
                [tools["slurmd"], "-N", "localhost", "-f", str(conf)],
            ):
                subprocess.run(
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                    timeout=30, check=True,
                )
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            pytest.skip(f"cannot start SLURM: {exc}\n{cluster.log_tail()}")
        end = time.monotonic() + NODE_UP_TIMEOUT_S
        state = ""
        while True:
            state = _node_state()
            if state == "idle":
                break
            if time.monotonic() > end:
                pytest.skip(
                    f"SLURM node localhost not idle after {NODE_UP_TIMEOUT_S:.0f} s "
                    f"(state: {state!r})\n{cluster.log_tail()}"
                )
            time.sleep(0.2)
        yield cluster
    finally:
        _stop_slurm(home)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------- dask


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (Linux PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session`` and everything in its group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # nanny children that outlived their parent
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def distributed_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tcp://127.0.0.1:PORT`` of a dask scheduler with two single-threaded worker processes."""
    from dask.distributed import Client

    home = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = home / "scheduler.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: list[tuple[subprocess.Popen, Path]] = []

    def spawn(args: list[str], name: str) -> subprocess.Popen:
        log = home / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dask", *args], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        procs.append((proc, log))
        return proc

    def logs() -> str:
        return "\n".join(_tail(log) for _, log in procs)

    try:
        scheduler = spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
             "--scheduler-file", str(scheduler_file)],
            "scheduler",
        )
        end = time.monotonic() + DASK_UP_TIMEOUT_S
        while not scheduler_file.exists():
            if scheduler.poll() is not None or time.monotonic() > end:
                pytest.fail(f"dask scheduler did not start\n{logs()}")
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written in one go, but be safe against a partial read
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(2):
            spawn(
                ["worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--name", f"worker-{i}", "--local-directory", str(home / f"worker-{i}"),
                 "--death-timeout", "30"],
                f"worker-{i}",
            )
        with Client(address, timeout="30s") as client:
            try:
                client.wait_for_workers(2, timeout=DASK_UP_TIMEOUT_S)
            except TimeoutError:
                pytest.fail(f"two dask workers did not join {address}\n{logs()}")
        yield address
    finally:
        for proc, _ in reversed(procs):  # workers first, then the scheduler
            _stop_group(proc)
