"""The output set of a run: GeoTIFF, quicklook, STAC item and report, written as one.

:class:`OutputSet` decides before any work whether the run may write its products
(``--overwrite`` governs every one of them), gives the writer a private staging folder
beside the output (``.OUT.tif.farside-tmp@host@pid@start@token/``, on the same filesystem so
renames are atomic) and, at the end, renames the staged products onto their final names.

Commit protocol
---------------
1. A journal ``.OUT.tif.farside-set.json`` is written: the products of the set and a hash of
   the request (inputs, config, output) that makes them.
2. The report is rendered into the staging folder from the staged GeoTIFF (it shows the
   mosaic's final path); then the GeoTIFF, quicklook, STAC item and report are renamed. A
   report that cannot be rendered stops the run before anything is renamed.
3. Side files of the same output that this set does not write (an earlier run's relief model
   when this run has a DEM, its quicklook when this one has none...) are removed: they would
   describe the mosaic just replaced. Then the journal and the staging folder are removed.

A run killed between 1 and 3 leaves the journal: the next run of the same request reports
which products the interrupted run left and which are missing, may replace them without
``--overwrite`` and writes the complete set. Stale staging folders of killed runs (their
writer process is gone) are removed by the next run for the same output; the staging folder
is removed on success and on failure.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import MosaicError, OutputExists, explain_os_error
from pipeline.io.quicklook import default_quicklook_path
from pipeline.io.reliefmap import default_relief_path
from pipeline.io.stac import default_stac_path
from pipeline.orchestration.tempfiles import MARK, atomic_write_bytes, is_stale, remove_stale, temp_name
from pipeline.report import default_report_path

log = logging.getLogger(__name__)

__all__ = ["OutputSet"]

JOURNAL_FORMAT = "farside-output-set/1"
_LEGACY_TEMPORARIES = ("*.partial.tif", "*.cog.tif", "*.ovr.tmp", "partial")
"""Temporaries of earlier farside versions (and of ``pipeline.mosaic``) beside the output."""
_SIDE_FILES = {"quicklook": default_quicklook_path, "stac": default_stac_path, "relief": default_relief_path,
               "report": default_report_path}
"""The products beside ``OUT.tif``, by kind, in the set's order after the mosaic."""


@dataclass
class OutputSet:
    """The products one run writes beside ``out``.

    Attributes
    ----------
    out : Path
        The GeoTIFF.
    products : dict of str to Path
        ``mosaic``, then ``quicklook``, ``stac``, ``relief`` (``OUT.relief.tif``), ``report``
        as enabled: final paths.
    request : str
        Hash of what makes the set (inputs, config, output): a journal of the same request
        lets the run replace an interrupted set's products without ``overwrite``.
    staging : Path or None
        The private folder the writer writes into (:meth:`stage`).

    Examples
    --------
    >>> s = OutputSet.for_run(Path("out/m.tif"), quicklook=True, stac=False, report=True, request="r")
    >>> [p.name for p in s.products.values()]
    ['m.tif', 'm.png', 'm.report.html']
    """

    out: Path
    products: dict[str, Path]
    request: str
    staging: Path | None = None
    interrupted: list[Path] = field(default_factory=list)

    @classmethod
    def for_run(cls, out: Path, *, quicklook: bool, stac: bool, report: bool, request: str,
                relief: bool = False) -> OutputSet:
        """The output set of one run writing ``out`` (the GeoTIFF) and the files asked for beside it."""
        out = Path(out)
        wanted = {"quicklook": quicklook, "stac": stac, "relief": relief, "report": report}
        products = {"mosaic": out} | {kind: path(out) for kind, path in _SIDE_FILES.items() if wanted[kind]}
        return cls(out, products, request)

    @property
    def leftovers(self) -> list[Path]:
        """Side files of ``out`` that this set does not write, left by an earlier run (its
        quicklook, STAC item, relief model or report): they describe another mosaic, so they
        need ``--overwrite`` like the set's own products, and the commit removes them."""
        paths = [path(self.out) for kind, path in _SIDE_FILES.items() if kind not in self.products]
        return [p for p in paths if p.exists() or p.is_symlink()]

    @property
    def journal(self) -> Path:
        """The commit journal beside the output."""
        return self.out.parent / f".{self.out.name}.farside-set.json"

    def staged(self, kind: str) -> Path:
        """Where the writer puts product ``kind`` inside the staging folder."""
        if self.staging is None:
            raise MosaicError("the output set has no staging folder yet (call stage())")
        return self.staging / self.products[kind].name

    # -- before any work ------------------------------------------------------------------
    def prepare(self, overwrite: bool) -> None:
        """Check the output folder, clean up after killed runs and refuse existing products.

        Raises
        ------
        MosaicError
            The folder cannot be made or written (its parent is a file, read-only, full...),
            or another live farside run is writing the same output.
        OutputExists
            A product of the set exists, was not left by an interrupted run of this same
            request, and ``overwrite`` is False.
        """
        folder = self.out.parent
        if folder.exists() and not folder.is_dir():
            raise MosaicError(f"--out {self.out}: {folder} is a file, not a folder; choose an output path in a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".{self.out.name}.farside-probe"
            atomic_write_bytes(probe, b"")
            probe.unlink()
        except OSError as exc:
            raise MosaicError(f"--out {self.out}: cannot write there: {explain_os_error(exc)}") from exc
        self._refuse_concurrent_writer()
        remove_stale(folder, self.out.name)
        self._remove_legacy_temporaries()
        replaceable = self._interrupted_products()
        existing = [p for p in self.products.values() if p.exists() or p.is_symlink()] + self.leftovers
        blocked = [p for p in existing if p not in replaceable]
        if blocked and not overwrite:
            names = ", ".join(str(p) for p in blocked)
            whole = ", ".join(p.name for p in self.products.values())
            raise OutputExists(f"{names} exist{'s' if len(blocked) == 1 else ''}; pass --overwrite to replace "
                               f"the output set ({whole})")

    def _refuse_concurrent_writer(self) -> None:
        for p in self.out.parent.glob(f".{self.out.name}{MARK}*"):
            if p.is_dir() and is_stale(p.name, p) is False:
                owner = p.name.split("@")
                raise MosaicError(f"another farside run (pid {owner[2]} on {owner[1] or 'this host'}) is writing "
                                  f"{self.out}; wait for it to finish or choose another --out")

    def _remove_legacy_temporaries(self) -> None:
        folder = self.out.parent
        for final in self.products.values():
            for pattern in _LEGACY_TEMPORARIES:
                for p in folder.glob(f".{final.name}.{pattern}"):
                    if MARK in p.name or not p.is_file():
                        continue
                    try:
                        p.unlink()
                        log.info("removed %s, a temporary left by a killed run", p)
                    except OSError as exc:
                        log.warning("could not remove the temporary %s (%s)", p, exc.strerror)

    def _interrupted_products(self) -> list[Path]:
        """Products an interrupted commit of this same request left (replaceable)."""
        try:
            journal = json.loads(self.journal.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("ignoring the unreadable output-set journal %s", self.journal)
            return []
        if not isinstance(journal, dict) or journal.get("format") != JOURNAL_FORMAT:
            return []
        listed = [self.out.parent / str(n) for n in journal.get("products", [])]
        left = [p for p in listed if p.exists()]
        missing = [p.name for p in listed if not p.exists()]
        if journal.get("request") != self.request:
            if left:
                log.warning("%s are from an interrupted run with other inputs or settings (missing: %s)",
                            ", ".join(p.name for p in left), ", ".join(missing) or "none")
            return []
        log.warning("an earlier run of this command was interrupted while writing its outputs: it left %s, "
                    "missing %s; this run writes the complete set",
                    ", ".join(p.name for p in left) or "nothing", ", ".join(missing) or "nothing")
        self.interrupted = left
        return left

    # -- writing --------------------------------------------------------------------------
    def stage(self) -> Path:
        """Create the private staging folder; returns the staged GeoTIFF path."""
        staging = self.out.parent / temp_name(self.out.name)
        try:
            staging.mkdir()
        except OSError as exc:
            raise MosaicError(f"--out {self.out}: cannot create a staging folder: {explain_os_error(exc)}") from exc
        self.staging = staging
        return self.staged("mosaic")

    def commit(self, render_report: Callable[[Path, Path], object] | None = None) -> None:
        """Rename the staged products onto their final names (module docstring, steps 1-3).

        ``render_report(path, mosaic)`` writes the report to ``path`` from the staged GeoTIFF
        ``mosaic``, before any product is renamed.

        Raises
        ------
        MosaicError
            A product cannot be written or renamed: the message lists the products in
            place and the missing ones; rerunning the same command completes the set.
        """
        names = [p.name for p in self.products.values()]
        done: list[str] = []
        try:
            if "report" in self.products:
                if render_report is None:
                    raise MosaicError("no report renderer given")
                render_report(self.staged("report"), self.staged("mosaic"))
            atomic_write_bytes(self.journal, json.dumps(
                {"format": JOURNAL_FORMAT, "request": self.request, "products": names}).encode())
            for kind in self.products:
                staged = self.staged(kind)
                if not staged.exists():
                    raise MosaicError(f"the run did not produce {staged.name}")
                os.replace(staged, self.products[kind])
                done.append(self.products[kind].name)
            for p in self.leftovers:
                p.unlink()
                log.info("removed %s: an earlier run's, not part of this output set", p)
            self.journal.unlink(missing_ok=True)
        except (OSError, MosaicError) as exc:
            missing = [n for n in names if n not in done]
            why = explain_os_error(exc) if isinstance(exc, OSError) else str(exc)
            raise MosaicError(
                f"{self.out}: the output set is incomplete ({why}): written {', '.join(done) or 'nothing'}; "
                f"missing {', '.join(missing)}; rerun the same command to complete it (no --overwrite needed)"
            ) from exc
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the staging folder and everything in it (success or failure)."""
        if self.staging is not None and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging = None
