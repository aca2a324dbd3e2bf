"""Faults for the reliability tests: a real small or read-only tmpfs, a fake errno, a dead pid."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.orchestration import tempfiles


@contextmanager
def mounted_tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real tmpfs at ``where`` (``options`` e.g. ``size=64k`` or ``ro,size=64k``), unmounted
    afterwards; skips the test when this machine does not allow mounting."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True,
                              timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); the fake-errno tests cover it")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20, check=False)


def failing_write(err: int, match: str = "") -> Callable[[Path, bytes], None]:
    """A stand-in for ``atomic_write_bytes`` that fails with ``err`` for paths containing ``match``."""
    original = tempfiles.atomic_write_bytes

    def write(path: Path, payload: bytes) -> None:
        if match in str(path):
            raise OSError(err, os.strerror(err), str(path))
        original(path, payload)

    return write


def dead_pid() -> int:
    """The pid of a process that has ended (for stale-temporary tests)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)
