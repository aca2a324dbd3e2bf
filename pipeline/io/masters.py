"""Calibration masters on disk: one FITS file per master (bias, dark rate, flat, bad pixels).

Files: ``bias.fits``, ``dark_rate.fits``, ``flat.fits``, ``badpix.fits``; float32 images (uint8
for the bad-pixel flags). A constant master is a header-only file with its value in
``CONSTVAL``; every header carries ``BUNIT`` and the provenance in ``SOURCE``; the bias header
keeps the read noise in ``RDNOISE`` (DN).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from astropy.io import fits

from pipeline.errors import CalibrationError

log = logging.getLogger(__name__)

__all__ = ["MASTER_FILES", "read_masters", "write_masters"]

MASTER_FILES = {"bias": "bias.fits", "dark_rate": "dark_rate.fits", "flat": "flat.fits", "bad": "badpix.fits"}
"""File name of each master."""

_UNITS = {"bias": "DN", "dark_rate": "DN/s", "flat": "", "bad": "BadPixel flags"}


def write_masters(directory: str | Path, values: dict[str, object], provenance: dict[str, str],
                  read_noise_dn: float | None) -> list[Path]:
    """Write masters (name -> array, constant or None) into ``directory`` (created if needed).

    Returns
    -------
    list of Path
        The files written (existing ones are overwritten).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, filename in MASTER_FILES.items():
        value = values.get(name)
        if isinstance(value, np.ndarray):
            dtype = np.uint8 if name == "bad" else np.float32
            hdu = fits.PrimaryHDU(np.asarray(value, dtype=dtype))
        else:
            hdu = fits.PrimaryHDU()
            if value is not None:
                hdu.header["CONSTVAL"] = (float(value), "constant master value")
        hdu.header["FSMASTER"] = (name, "farside calibration master")
        hdu.header["BUNIT"] = _UNITS[name]
        hdu.header["SOURCE"] = provenance.get(name, "")
        if name == "bias" and read_noise_dn is not None:
            hdu.header["RDNOISE"] = (float(read_noise_dn), "[DN] median bias-stack scatter")
        path = directory / filename
        hdu.writeto(path, overwrite=True)
        written.append(path)
    log.info("saved calibration masters to %s", directory)
    return written


def read_masters(directory: str | Path) -> tuple[dict[str, object], dict[str, str], float | None]:
    """Masters written by :func:`write_masters`: ``(values, provenance, read_noise_dn)``.

    Raises
    ------
    CalibrationError
        A file is missing or not a readable FITS master.
    """
    directory = Path(directory)
    values: dict[str, object] = {}
    provenance: dict[str, str] = {}
    read_noise = None
    for name, filename in MASTER_FILES.items():
        path = directory / filename
        try:
            with fits.open(path) as hdul:
                header = hdul[0].header
                data = hdul[0].data
                if data is not None:
                    values[name] = np.array(data, dtype=np.uint8 if name == "bad" else np.float32)
                elif "CONSTVAL" in header:
                    values[name] = float(header["CONSTVAL"])
                else:
                    values[name] = None
                provenance[name] = str(header.get("SOURCE", ""))
                if "RDNOISE" in header:
                    read_noise = float(header["RDNOISE"])
        except FileNotFoundError as exc:
            raise CalibrationError(f"{path}: calibration master missing (write it with Masters.save)") from exc
        except OSError as exc:
            raise CalibrationError(f"{path}: not a readable FITS master ({exc})") from exc
    return values, provenance, read_noise
