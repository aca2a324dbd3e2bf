"""The work directory: each stage's products cached under a hash of their inputs, verified on load.

A rerun after a crash or kill finds finished products under the same keys (the keys are
``dask.base.tokenize`` hashes of inputs and config, computed by the graph) and skips that
work; the result is the same, bit for bit.

Layout and guarantees (docs/reliability.md, docs/cluster.md for the trust model)
-------------------------------------------------------------------------------
``<root>/<stage>/<key>.npz``
    The product in a safe format (:mod:`pipeline.orchestration.codecs`: a stored zip of a
    JSON tree and ``.npy`` arrays, never a pickle): loading one cannot run code.
``<root>/<stage>/<key>.json``
    Its manifest entry: format, stage, key (the hash of the inputs that made it), the
    SHA-256 and size of the product file, its type, compute seconds and when it was written.

Both are written to temporaries and renamed, the product first. On load the entry must
exist and name this stage and key, the file must have its size and hash and decode into the
type it names, and it must have been written by this farside version (another version's
code may compute it differently); otherwise the product is recomputed (and rewritten) with a
warning naming it.
Files of earlier farside versions (``*.pkl``) are never loaded; :meth:`WorkDir.clean` removes
them with the temporaries of killed runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pipeline import __version__
from pipeline.errors import ProductError, WorkDirError, explain_os_error
from pipeline.orchestration import codecs
from pipeline.orchestration.tempfiles import atomic_write_bytes, remove_stale

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["ENTRY_FORMAT", "WorkDir", "atomic_write_bytes", "count_reused", "stage_seconds"]

ENTRY_FORMAT = "farside-product/1"
PRODUCT_SUFFIX = ".npz"
ENTRY_SUFFIX = ".json"
_MISSING = object()
_LEGACY = re.compile(r"[0-9a-f]{32}\.(pkl|seconds)")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class WorkDir:
    """A folder of cached stage products, ``<root>/<stage>/<key>.npz`` + ``<key>.json``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> wd = WorkDir(Path(tempfile.mkdtemp()))
    >>> wd.cached("demo", "k1", lambda: {"x": np.arange(3)})["x"].tolist()
    [0, 1, 2]
    >>> wd.cached("demo", "k1", lambda: 1 / 0)["x"].tolist()  # reused, not recomputed
    [0, 1, 2]
    """

    root: Path

    def path(self, stage: str, key: str, suffix: str = PRODUCT_SUFFIX) -> Path:
        """The product file of ``stage/key`` (``suffix=".json"``: its manifest entry)."""
        return self.root / stage / f"{key}{suffix}"

    def entry(self, stage: str, key: str) -> dict[str, Any] | None:
        """The manifest entry of ``stage/key`` (None when absent or unreadable)."""
        try:
            entry = json.loads(self.path(stage, key, ENTRY_SUFFIX).read_bytes())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("format") == ENTRY_FORMAT else None

    # -- writing --------------------------------------------------------------------------
    def store(self, stage: str, key: str, value: Any, seconds: float = 0.0) -> Path:
        """Write ``value`` as the product ``stage/key`` with its manifest entry.

        Raises
        ------
        ProductError
            ``value`` holds a type without a codec.
        WorkDirError
            The file cannot be written (disk full, read-only, permissions); the message
            names it and the fix.
        """
        payload = codecs.dumps(value)
        path = self.path(stage, key)
        entry = {
            "format": ENTRY_FORMAT, "stage": stage, "key": key, "file": path.name,
            "sha256": _sha256(payload), "bytes": len(payload), "type": type(value).__name__,
            "seconds": round(float(seconds), 6), "written_utc": datetime.now(UTC).isoformat(),
            "farside": __version__,
        }
        try:
            atomic_write_bytes(path, payload)
            atomic_write_bytes(self.path(stage, key, ENTRY_SUFFIX), json.dumps(entry, indent=1).encode())
        except OSError as exc:
            raise WorkDirError(
                f"work directory: cannot store {explain_os_error(exc, path)}; another folder: --workdir DIR "
                "(config run.workdir)"
            ) from exc
        return path

    # -- reading --------------------------------------------------------------------------
    def _verified(self, stage: str, key: str) -> Any:
        """The product, ``_MISSING`` when neither file exists; ProductError when it fails."""
        path, entry_path = self.path(stage, key), self.path(stage, key, ENTRY_SUFFIX)
        try:
            raw_entry = entry_path.read_bytes()
        except FileNotFoundError:
            if not path.exists():
                return _MISSING
            raise ProductError("no manifest entry (its writer was interrupted)") from None
        except OSError as exc:
            raise ProductError(f"manifest entry unreadable ({exc.strerror})") from None
        try:
            entry = json.loads(raw_entry)
        except ValueError:
            raise ProductError("manifest entry is not JSON") from None
        if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
            raise ProductError("manifest entry of an unknown format")
        if entry.get("stage") != stage or entry.get("key") != key or entry.get("file") != path.name:
            raise ProductError("manifest entry names another product")
        if entry.get("farside") != __version__:  # another version's code made it: not this run's result
            raise ProductError(f"written by farside {str(entry.get('farside'))[:20]}, this is {__version__}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ProductError(f"product file unreadable ({exc.strerror})") from None
        if len(data) != entry.get("bytes") or _sha256(data) != entry.get("sha256"):
            raise ProductError("content hash mismatch: the file changed after it was written")
        value = codecs.loads(data)
        if type(value).__name__ != entry.get("type"):
            raise ProductError(f"holds a {type(value).__name__}, its entry says {entry.get('type')}")
        return value

    def _checked(self, stage: str, key: str, expect: tuple[type, ...] | None) -> Any:
        value = self._verified(stage, key)
        if value is not _MISSING and expect is not None and not isinstance(value, expect):
            raise ProductError(f"holds a {type(value).__name__}, not a {' or '.join(t.__name__ for t in expect)}")
        return value

    def load(self, path: str | Path, expect: tuple[type, ...] | None = None) -> Any:
        """The verified product stored at ``path`` (a product path of this work directory),
        of one of the types ``expect`` when given.

        Raises
        ------
        ProductError
            It is missing or fails verification (the message names the file).
        """
        path = Path(path)
        try:
            value = self._checked(path.parent.name, path.name.removesuffix(PRODUCT_SUFFIX), expect)
        except ProductError as exc:
            raise ProductError(f"{path}: {exc}; rerun to recompute it") from None
        if value is _MISSING:
            raise ProductError(f"{path}: missing from the work directory; rerun to recompute it")
        return value

    def cached(self, stage: str, key: str, compute: Callable[[], T], expect: tuple[type, ...] | None = None) -> T:
        """The product ``stage/key``: reused when it verifies (and is one of the types
        ``expect``, when given), else computed and stored.

        A product that fails verification is recomputed with a warning naming its file.
        """
        try:
            value = self._checked(stage, key, expect)
            if value is not _MISSING:
                log.debug("reused %s/%s", stage, key)
                return value
        except ProductError as exc:
            log.warning("work directory: %s failed verification (%s); recomputing it", self.path(stage, key), exc)
        t0 = time.perf_counter()
        value = compute()
        self.store(stage, key, value, time.perf_counter() - t0)
        return value

    def products(self, stage: str) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` of every verified product of ``stage`` (failing ones are skipped
        with a warning), in key order."""
        for entry_path in sorted((self.root / stage).glob(f"*{ENTRY_SUFFIX}")):
            key = entry_path.name.removesuffix(ENTRY_SUFFIX)
            try:
                value = self._verified(stage, key)
            except ProductError as exc:
                log.warning("work directory: skipping %s (%s)", self.path(stage, key), exc)
                continue
            if value is not _MISSING:
                yield key, value

    # -- housekeeping ---------------------------------------------------------------------
    def check_writable(self) -> None:
        """Create the folder and write (then remove) a probe file in it.

        Raises
        ------
        WorkDirError
            The folder cannot be created or written: read-only filesystem, permissions,
            a file in its place, disk full.
        """
        probe = self.root / ".farside-probe"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(probe, b"farside work directory\n")
            probe.unlink()
        except OSError as exc:
            raise WorkDirError(
                f"work directory {explain_os_error(exc, self.root)}; another folder: --workdir DIR "
                "(config run.workdir)"
            ) from exc

    def clean(self, stages: Iterable[str]) -> int:
        """Remove, in the folders of ``stages``, temporaries of killed runs and the products of
        older farside versions (``<key>.pkl`` pickles, never loaded, and ``<key>.seconds``);
        returns how many files went. Nothing else is touched."""
        removed = 0
        for folder in (self.root / stage for stage in stages):
            if not folder.is_dir():
                continue
            removed += len(remove_stale(folder))
            for old in folder.iterdir():
                if not _LEGACY.fullmatch(old.name):
                    continue
                try:
                    old.unlink()
                    removed += 1
                except OSError:
                    log.warning("could not remove %s (a product of an older farside, never loaded)", old)
        return removed


def count_reused(workdir: WorkDir, since: float, products: list[tuple[str, str]]) -> dict[str, int]:
    """How many of this run's ``(stage, key)`` products existed before ``since``
    (a ``time.time()``), i.e. were reused rather than computed."""
    counts: dict[str, int] = {}
    for stage, key in products:
        p = workdir.path(stage, key, ENTRY_SUFFIX)
        if p.exists() and p.stat().st_mtime < since:
            counts[stage] = counts.get(stage, 0) + 1
    return counts


def stage_seconds(workdir: WorkDir, since: float, products: list[tuple[str, str]]) -> dict[str, float]:
    """Compute time (s, summed over tasks and workers) per stage of the products this run made."""
    out: dict[str, float] = {}
    for stage, key in products:
        p = workdir.path(stage, key, ENTRY_SUFFIX)
        if p.exists() and p.stat().st_mtime >= since:
            entry = workdir.entry(stage, key) or {}
            out[stage] = out.get(stage, 0.0) + float(entry.get("seconds") or 0.0)
    return out
