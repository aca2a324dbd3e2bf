"""Calibration: from raw DN to photometrically normalised reflectance (I/F).

Build the masters once from the calibration frames, then calibrate each light frame::

    masters = build_masters_from_frames(calibration_frames, cfg.calibrate)
    masters.save("work/masters")           # reusable: Masters.load("work/masters")
    calibrated = calibrate_frame(frame, masters, cfg.calibrate)

Every step is also a pure function on numpy arrays (``remove_signature``,
``detect_cosmics``, ``to_iof``, ``PHOTOMETRIC_MODELS``, ...). No dask here.
"""

from pipeline.calibration.badpixels import BadPixel, find_dead, find_hot, find_noisy, repair_pixels
from pipeline.calibration.calibrate import UNITS, calibrate_frame, calibrate_frames
from pipeline.calibration.cosmics import detect_cosmics, detect_outliers, residual_noise
from pipeline.calibration.masters import Masters, build_masters, build_masters_from_frames
from pipeline.calibration.photometry import (
    PHOTOMETRIC_MODELS,
    lommel_seeliger,
    lunar_lambert,
    normalisation_factor,
    pixel_angles,
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
    "Masters",
    "build_masters",
    "build_masters_from_frames",
    "calibrate_frame",
    "calibrate_frames",
    "detect_cosmics",
    "detect_outliers",
    "find_dead",
    "find_hot",
    "find_noisy",
    "lommel_seeliger",
    "lunar_lambert",
    "normalisation_factor",
    "pixel_angles",
    "remove_signature",
    "repair_pixels",
    "residual_noise",
    "sun_distance_au",
    "to_dn_per_s",
    "to_iof",
    "to_radiance",
]
