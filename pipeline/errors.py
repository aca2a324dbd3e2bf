"""One exception tree for farside.

Every error the pipeline raises on purpose is a :class:`FarsideError`. Subclasses that
describe bad input are also ``ValueError`` (or ``OSError`` for unreadable files), as in
rasterio's ``errors.py``, so generic handlers keep working. Messages name the file
involved and, where there is one, the fix.

Per-frame failures inside a batch are *values*, not exceptions: a batch stage returns a
:class:`pipeline.frame.FrameFailure` for a bad frame and carries on.
"""

from __future__ import annotations

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
