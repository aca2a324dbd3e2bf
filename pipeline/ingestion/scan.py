"""Folder scan: which files of a folder are frames, one path per product.

- lists files (recursively with ``ingestion.recursive``, following no folder twice), skipping
  hidden files, notes and tables (``.md``, ``.txt``, ``.csv``, ``.yaml``...), sidecars (``.json``:
  a lone sidecar is not a frame) and ``truth/`` and ``calibration/`` subfolders (unless the
  latter is the ``calibration`` argument);
- pairs labels with data files: a PDS4 ``.xml`` claims the files it names, a PDS3 ``.LBL``
  its same-stem data file, so no data file is read twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from pipeline.errors import FarsideError
from pipeline.frame import FrameFailure
from pipeline.io import DATA_SUFFIXES
from pipeline.io.pds4 import MAX_XML_BYTES, parse_pds4, pds4_data_names

log = logging.getLogger(__name__)

__all__ = ["IGNORED_SUFFIXES", "SKIPPED_FOLDERS", "scan_folder"]

IGNORED_SUFFIXES = frozenset({
    ".md", ".txt", ".csv", ".tsv", ".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".log",
    ".html", ".htm", ".pdf", ".py", ".ipynb", ".npz", ".npy", ".fmt", ".cat", ".pvl", ".hdr",
    ".rst", ".sh", ".zip", ".gz", ".tar", ".md5", ".sha256", ".ovr", ".msk", ".aux",
})
"""Suffixes never taken for frames (notes, tables, configs, sidecars, PDS catalog/format files)."""

SKIPPED_FOLDERS = frozenset({"truth", "calibration"})
"""Subfolder names skipped while scanning frames (``calibration`` is scanned when it is the
``calibration`` argument)."""



def _list_files(folder: Path, recursive: bool, skip_dirs: set[Path], seen: set[Path] | None = None) -> list[Path]:
    """Files of ``folder`` (and of its sub-folders when ``recursive``), visiting no folder
    twice: a symbolic link back up the tree, or two links to one folder, are followed once."""
    seen = set() if seen is None else seen
    seen.add(folder.resolve())
    out: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        log.warning("%s: cannot list folder (%s)", folder, exc.strerror)
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            real = entry.resolve()
            if real in seen:
                if recursive:
                    log.info("%s: already scanned (as %s); not followed again", entry, real)
                continue
            if recursive and real not in skip_dirs and entry.name.lower() not in SKIPPED_FOLDERS:
                out.extend(_list_files(entry, recursive, skip_dirs, seen))
            continue
        if entry.is_file():
            out.append(entry)
    return out


def scan_folder(
    folder: str | Path, *, recursive: bool = False, skip_dirs: Iterable[Path] = ()
) -> tuple[list[Path], list[FrameFailure]]:
    """Frame candidates of a folder: one path per product (label or image), sorted.

    Parameters
    ----------
    folder : str or Path
    recursive : bool
        Descend into subfolders (never ``truth/`` or ``calibration/``).
    skip_dirs : iterable of Path
        Further folders to skip (resolved paths).

    Returns
    -------
    candidates : list of Path
        PDS4 ``.xml`` labels, PDS3 ``.LBL`` labels and image files not claimed by a label.
    failures : list of FrameFailure
        Files rejected while pairing (none at present; reserved for scan problems).
    """
    folder = Path(folder)
    files = _list_files(folder, recursive, {Path(p).resolve() for p in skip_dirs})
    files = [f for f in files if f.suffix.lower() not in IGNORED_SUFFIXES and not f.name.lower().endswith(".aux.xml")]
    claimed: set[Path] = set()
    by_dir_stem: dict[tuple[Path, str], list[Path]] = {}
    for f in files:
        by_dir_stem.setdefault((f.parent, f.stem.lower()), []).append(f)
    for f in files:
        suffix = f.suffix.lower()
        if suffix == ".xml":
            names: list[str] = []
            try:
                if f.stat().st_size <= MAX_XML_BYTES:
                    names = pds4_data_names(parse_pds4(f))
            except FarsideError:
                names = []
            if names:
                lowered = {n.lower() for n in names}
                claimed.update(g for g in files if g.parent == f.parent and g.name.lower() in lowered and g != f)
            else:  # unreadable label: its same-stem data file is reported with it, not on its own
                claimed.update(g for g in by_dir_stem.get((f.parent, f.stem.lower()), [])
                               if g.suffix.lower() in DATA_SUFFIXES)
        elif suffix == ".lbl":
            claimed.update(g for g in by_dir_stem.get((f.parent, f.stem.lower()), [])
                           if g != f and g.suffix.lower() in DATA_SUFFIXES)
    candidates = sorted(f for f in files if f not in claimed)
    return candidates, []


