"""One exception tree for farside.

Every error the pipeline raises on purpose is a :class:`FarsideError`. Subclasses that
describe bad input are also ``ValueError`` (or ``OSError`` for unreadable files), as in
rasterio's ``errors.py``, so generic handlers keep working. Messages name the file
involved and, where there is one, the fix.

Per-frame failures inside a batch are *values*, not exceptions: a batch stage returns a
:class:`pipeline.frame.FrameFailure` for a bad frame and carries on.
"""

from __future__ import annotations

import errno
from pathlib import Path


class FarsideError(Exception):
    """Base class of every error raised by farside."""


class ConfigError(FarsideError, ValueError):
    """The configuration (YAML file, CLI option or Python argument) is invalid."""


class BadFrame(FarsideError, ValueError):
    """A frame (image file, label or sidecar) cannot be used.

    Parameters
    ----------
    path : str or Path
        The offending file.
    reason : str
        What is wrong, in one line, ideally with the fix.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class UnreadableFrame(BadFrame, OSError):
    """The file is empty, truncated or not the format its name or label claims."""


class DataContradictsLabel(UnreadableFrame):
    """The data contradict the label: a declared bit depth the values, the file size or the
    byte statistics rule out."""


class UnsupportedFormat(BadFrame):
    """The file is a valid product of a kind farside does not support (yet)."""


class LabelTooLarge(BadFrame):
    """The label declares more data than the configured memory cap allows."""


class BadGeometry(BadFrame):
    """The ISD sidecar is missing keys, holds non-finite numbers or disagrees with the image."""


class UnsupportedGeometry(BadGeometry, UnsupportedFormat):
    """The ISD is valid but describes a sensor model farside does not support (line scan, ...)."""


class GeometryError(FarsideError, ValueError):
    """A geometric computation cannot be done (ray misses the body, empty footprint, ...)."""


class CalibrationError(FarsideError, ValueError):
    """Calibration frames are inconsistent (shapes differ, no exposure, ...)."""


class PhotometricModelError(CalibrationError):
    """A photometric model definition, parameter map or photometric fit input is unusable."""


class RegistrationError(FarsideError, RuntimeError):
    """Tie points or bundle adjustment failed for the whole network."""


class EngineStartError(FarsideError, RuntimeError):
    """A batch (slurm/pbs) engine got no dask worker: its jobs never started or died first."""


class ReportDataError(FarsideError, ValueError):
    """The data handed to the QA report are inconsistent (e.g. arrays of different lengths)."""


class MosaicError(FarsideError, RuntimeError):
    """Nothing could be mosaicked, or the output cannot be written."""


class OutputExists(MosaicError):
    """A product of the output set exists and ``--overwrite`` was not given."""


class WorkDirError(FarsideError, OSError):
    """The work directory cannot be used: not writable, full, or on a read-only filesystem."""


class ProductError(FarsideError, ValueError):
    """A cached stage product cannot be stored (no codec for a type) or fails verification."""


class WorkerLost(FarsideError, RuntimeError):
    """Worker processes of the local process engine kept dying (killed, out of memory)."""


_OS_FIXES = {
    errno.ENOSPC: "free space there, or choose a folder on another filesystem",
    errno.EDQUOT: "free space in your quota, or choose a folder on another filesystem",
    errno.EROFS: "the filesystem is read-only: choose a writable folder",
    errno.EACCES: "choose a folder you can write to, or fix its permissions",
    errno.EPERM: "choose a folder you can write to, or fix its permissions",
    errno.ENOTDIR: "a parent of this path is a file, not a folder: choose another path",
    errno.EISDIR: "this path is a folder: name a file",
    errno.ENOENT: "check the path",
    errno.EEXIST: "remove it or choose another path",
    errno.ENAMETOOLONG: "choose a shorter path",
}


def explain_os_error(exc: OSError, path: str | Path | None = None) -> str:
    """One line for an :class:`OSError`: the file, what happened and the fix.

    >>> explain_os_error(OSError(errno.ENOSPC, "No space left on device"), "/scratch/w")
    '/scratch/w: No space left on device (free space there, or choose a folder on another filesystem)'
    """
    where = path if path is not None else (exc.filename if exc.filename is not None else "")
    what = exc.strerror or str(exc) or type(exc).__name__
    fix = _OS_FIXES.get(exc.errno) if exc.errno is not None else None
    text = f"{where}: {what}" if where != "" else what
    return f"{text} ({fix})" if fix else text
