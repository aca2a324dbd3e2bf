"""The work directory: each stage's products cached under a hash of their inputs.

A rerun after a crash or kill finds finished products under the same keys (the keys are
``dask.base.tokenize``-style hashes of inputs and config, computed by the graph) and skips
that work; the result is the same. Every file is written to a temporary name and renamed,
so a killed task never leaves a half-written product behind.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file in the same folder + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class WorkDir:
    """A folder of cached stage products, ``<root>/<stage>/<key>.pkl``."""

    root: Path

    def path(self, stage: str, key: str, suffix: str = ".pkl") -> Path:
        return self.root / stage / f"{key}{suffix}"

    def load(self, path: Path) -> Any:
        """The product stored at ``path`` (a path of this work directory)."""
        with Path(path).open("rb") as fh:
            return pickle.load(fh)

    def cached(self, stage: str, key: str, compute: Callable[[], T]) -> T:
        """Return the product stored under ``stage/key``, computing and storing it if absent."""
        path = self.path(stage, key)
        if path.exists():
            try:
                with path.open("rb") as fh:
                    value = pickle.load(fh)
                log.debug("reused %s/%s", stage, key)
                return value
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                log.warning("discarding unreadable cached product %s (%s)", path, exc)
        t0 = time.perf_counter()
        value = compute()
        seconds = time.perf_counter() - t0
        atomic_write_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        atomic_write_bytes(path.with_suffix(".seconds"), f"{seconds:.6f}".encode())
        return value


def count_reused(workdir: WorkDir, since: float, products: list[tuple[str, str]]) -> dict[str, int]:
    """How many of this run's ``(stage, key)`` products existed before ``since``
    (a ``time.time()``), i.e. were reused rather than computed."""
    counts: dict[str, int] = {}
    for stage, key in products:
        p = workdir.path(stage, key)
        if p.exists() and p.stat().st_mtime < since:
            counts[stage] = counts.get(stage, 0) + 1
    return counts


def stage_seconds(workdir: WorkDir, since: float, products: list[tuple[str, str]]) -> dict[str, float]:
    """Compute time (s, summed over tasks and workers) per stage of the products this run made."""
    out: dict[str, float] = {}
    for stage, key in products:
        p = workdir.path(stage, key, ".seconds")
        if p.exists() and p.stat().st_mtime >= since:
            out[stage] = out.get(stage, 0.0) + float(p.read_text() or 0)
    return out
