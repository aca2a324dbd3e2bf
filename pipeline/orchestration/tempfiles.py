"""Temporary files and folders that say who made them, so a later run can clean up after a kill.

Every temporary farside writes (work-directory products, the staged output set) is named
``.<name>.farside-tmp@<host>@<pid>@<start>@<token>``: the host, process id and process start
time of its writer. A temporary is *stale* when its writer is gone: on this host, no process
with that id and start time is alive; on another host (a cluster's shared filesystem), it is
older than :data:`OTHER_HOST_STALE_S`. :func:`remove_stale` deletes stale temporaries and
never touches one whose writer may still be running.

Examples
--------
>>> name = temp_name("mosaic.tif")
>>> name.startswith(".mosaic.tif.farside-tmp@") and is_stale(name) is False
True
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import socket
import time
from functools import lru_cache
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

__all__ = ["OTHER_HOST_STALE_S", "atomic_write_bytes", "is_stale", "remove_stale", "temp_name"]

OTHER_HOST_STALE_S = 24 * 3600.0
"""Age (s) after which a temporary written on another host counts as stale."""

MARK = ".farside-tmp@"
_PATTERN = re.compile(r"\.farside-tmp@(?P<host>[A-Za-z0-9-]*)@(?P<pid>[0-9]+)@(?P<start>[0-9]+)@[0-9a-f]+$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64]


def _start_time(pid: int) -> int | None:
    """Start time (integer seconds since the epoch) of process ``pid``, None if there is none."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return int(proc.create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:  # another user's live process
        return -1


@lru_cache(maxsize=8)
def _owner(pid: int) -> str:
    return f"{_host()}@{pid}@{_start_time(pid) or 0}"


def temp_name(name: str) -> str:
    """A hidden temporary name for ``name`` owned by this process (unique per call)."""
    return f".{name}{MARK}{_owner(os.getpid())}@{secrets.token_hex(4)}"


def is_stale(name: str, path: Path | None = None) -> bool | None:
    """True when the writer of temporary ``name`` is gone, False when it may be alive, None
    when ``name`` is not a farside temporary (``path``: the file, for its age)."""
    m = _PATTERN.search(name)
    if m is None:
        return None
    if m["host"] != _host():
        try:
            age = time.time() - (path.lstat().st_mtime if path is not None else time.time())
        except OSError:
            return False
        return age > OTHER_HOST_STALE_S
    start = _start_time(int(m["pid"]))
    return start is None or (start != -1 and abs(start - int(m["start"])) > 1)


def remove_stale(folder: Path, prefix: str = "") -> list[Path]:
    """Delete the stale farside temporaries (files or folders) directly in ``folder`` whose
    names start with ``.<prefix>``; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        if not p.name.startswith("." + prefix) or MARK not in p.name:
            continue
        if is_stale(p.name, p):
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p)
            except OSError as exc:
                log.warning("could not remove the stale temporary %s (%s)", p, exc.strerror)
    if removed:
        log.info("removed %d temporaries left by killed runs in %s", len(removed), folder)
    return removed


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary in the same folder, then rename.

    A reader sees the old file or the new one, never a part; a killed writer leaves a
    temporary that :func:`remove_stale` recognises. The caller turns ``OSError`` into a
    message naming the path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temp_name(path.name))
    try:
        with open(tmp, "xb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
