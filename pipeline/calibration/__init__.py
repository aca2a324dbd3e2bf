"""Calibration: from raw DN to photometrically normalised reflectance (I/F).

Build the masters once from the (loaded) calibration frames, then calibrate each light frame::

    masters = build_masters_from_frames(calibration_frames, cfg.calibration)
    masters.save("work/masters")           # reusable: Masters.load("work/masters")
    calibrated = calibrate_frame(load_frame(frame), masters, cfg.calibration)

Every step is also a pure function on numpy arrays (``remove_signature``,
``detect_cosmics``, ``to_iof``, ``PHOTOMETRIC_MODELS``, ...). No dask here.
"""

from pipeline.calibration.badpixels import BadPixel, find_dead, find_hot, find_noisy
from pipeline.calibration.calibrate import UNITS, calibrate_frame
from pipeline.calibration.cosmics import detect_cosmics, detect_outliers, residual_noise
from pipeline.calibration.masters import Masters, build_masters, build_masters_from_frames
from pipeline.calibration.masterset import DetectorMasters, MasterSet, build_master_set
from pipeline.calibration.params import CalibrationParams, PhotometryParams
from pipeline.calibration.photometry import (
    PHOTOMETRIC_MODELS,
    lommel_seeliger,
    lunar_lambert,
    normalisation_factor,
)
from pipeline.calibration.radiometry import (
    AU_M,
    remove_signature,
    sun_distance_au,
    to_dn_per_s,
    to_iof,
    to_radiance,
)

__all__ = [
    "AU_M",
    "PHOTOMETRIC_MODELS",
    "UNITS",
    "BadPixel",
    "CalibrationParams",
    "DetectorMasters",
    "MasterSet",
    "Masters",
    "PhotometryParams",
    "build_master_set",
    "build_masters",
    "build_masters_from_frames",
    "calibrate_frame",
    "detect_cosmics",
    "detect_outliers",
    "find_dead",
    "find_hot",
    "find_noisy",
    "lommel_seeliger",
    "lunar_lambert",
    "normalisation_factor",
    "remove_signature",
    "repair_pixels",
    "residual_noise",
    "sun_distance_au",
    "to_dn_per_s",
    "to_iof",
    "to_radiance",
]
