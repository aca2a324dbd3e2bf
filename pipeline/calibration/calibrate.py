"""Calibrate one light frame: raw DN to DN/s, radiance or photometrically normalised I/F.

:func:`calibrate_frame` chains the pure steps of this package on one frame (no dask):

1. mask non-finite and saturated raw pixels (``raw >= calibration.saturation_dn``; no
   saturation test on film scans), the overscan strip, the constant scan border, the
   fiducial marks of film scans and the instrument's fixed mask
   (:func:`~pipeline.calibration.masks.frame_marks`);
2. ``(raw - bias - dark_rate * t) / flat`` (:func:`~pipeline.calibration.radiometry.remove_signature`);
3. repair the master bad pixels and the reseau crosses of film scans from their neighbours;
4. detect and repair cosmic-ray hits and cold pixels (:mod:`pipeline.calibration.cosmics`);
   repaired pixels are flagged in the mask too (``calibration.mask_repaired``); never on film
   scans (``frame.meta.extra["film"]``, set at ingest), which have no cosmic rays;
5. DN/s, radiance, I/F (Sun distance from the camera), and photometric normalisation to
   the standard geometry, masking pixels off the body or beyond the angle limits.
"""

from __future__ import annotations

import logging

import numpy as np

from pipeline.calibration.cosmics import detect_outliers, residual_noise
from pipeline.calibration.masks import frame_marks
from pipeline.calibration.masters import Masters, build_masters, overscan_mask
from pipeline.calibration.params import AUTO, CalibrationParams, PhotometryParams
from pipeline.calibration.photometry import PhotometricFunction, normalisation_factor, photometric_function
from pipeline.calibration.radiometry import (
    remove_signature,
    sun_distance_au,
    to_dn_per_s,
    to_iof,
    to_radiance,
)
from pipeline.errors import BadFrame, CalibrationError
from pipeline.frame import Frame
from pipeline.geometry.illumination import pixel_angles
from pipeline.geometry.topography import topographic_pixel_angles
from pipeline.imaging.repair import count_hits, repair_pixels
from pipeline.imaging.stats import noise_sigma

log = logging.getLogger(__name__)

UNITS = {"dn": "DN (relative)", "dn_per_s": "DN/s", "radiance": "W m-2 sr-1 um-1", "iof": "I/F"}
"""Unit of the calibrated data for each ``calibration.output``."""


PENDING = "auto: after registration"
"""QA ``photometry`` of a frame whose law is fitted once the cameras are registered."""


def needs_exposure(output: str) -> bool:
    """Whether calibrating to ``output`` needs each frame's exposure duration."""
    return output != "dn"


def normalise_photometry(value: np.ndarray, camera: object, pcfg: PhotometryParams,
                         func: PhotometricFunction | None = None, dem=None) -> tuple[np.ndarray, np.ndarray]:
    """Values (I/F or relative DN) normalised to the standard geometry with the photometric
    function ``func`` (default: ``pcfg.model``'s), and the pixels that cannot be normalised
    (off the body, beyond the incidence or emission limits, unlit). With a ``dem`` (Dem-like),
    incidence and emission come from its local surface normal at every pixel
    (:func:`~pipeline.geometry.topography.topographic_pixel_angles`)."""
    if dem is not None:
        incidence, emission, phase, hit = topographic_pixel_angles(camera, value.shape, dem)
    else:
        incidence, emission, phase, hit = pixel_angles(camera, value.shape, pcfg.angle_grid_step)
    func = func or photometric_function(pcfg.model, pcfg.lunar_lambert_l)
    standard = (pcfg.standard_incidence_deg, pcfg.standard_emission_deg, pcfg.standard_phase_deg)
    with np.errstate(invalid="ignore"):
        factor = normalisation_factor(incidence, emission, phase, func, standard)
        beyond = (
            ~hit
            | ~(incidence <= np.radians(pcfg.incidence_max_deg))
            | ~(emission <= np.radians(pcfg.emission_max_deg))
            | ~np.isfinite(factor)
        )
    return np.where(beyond, value, value * np.where(beyond, 1.0, factor)), beyond


def normalise_frame(frame: Frame, func: PhotometricFunction, pcfg: PhotometryParams, label: str,
                    dem=None, camera=None) -> Frame:
    """A calibrated frame normalised to the standard geometry with the photometric function
    ``func`` (e.g. the law fitted to the overlaps), its QA ``photometry`` set to ``label``;
    the angles through ``camera`` (default the frame's own, e.g. the registered one) and, with
    a ``dem``, from its surface normal (see :func:`normalise_photometry`)."""
    value, beyond = normalise_photometry(frame.data, camera or frame.camera, pcfg, func, dem)
    mask = frame.mask | beyond
    data = np.where(mask, 0.0, value).astype(np.float32)
    return frame.replace(data=data, mask=mask, qa={**frame.qa, "photometry": label})


def _photometry(value: np.ndarray, mask: np.ndarray, frame: Frame, cfg: CalibrationParams,
                qa: dict) -> tuple[np.ndarray, np.ndarray]:
    """The photometric step of calibration (``auto`` waits for the registered cameras)."""
    if cfg.output not in ("iof", "dn") or cfg.photometry is None:
        return value, mask
    if frame.camera is None or frame.camera.sun_position_m is None:
        log.warning("%s: no camera or Sun position, so no photometric normalisation", frame.id)
        qa["photometry"] = "skipped: no geometry"
        return value, mask
    if cfg.photometry.model == AUTO:
        qa["photometry"] = PENDING
        return value, mask
    value, beyond = normalise_photometry(value, frame.camera, cfg.photometry)
    qa["photometry"] = cfg.photometry.model
    return value, mask | beyond


def _calibrated_product(frame: Frame, raw: np.ndarray, cfg: CalibrationParams) -> Frame:
    """A product already radiometrically calibrated upstream (e.g. an ISIS cube whose
    Radiometry group says I/F): no detector steps, the unit carried on, then photometry."""
    unit = frame.meta.extra["calibrated"]
    allowed = {"iof": ("iof", "dn"), "radiance": ("radiance", "iof", "dn")}[unit]
    if cfg.output not in allowed:
        raise BadFrame(frame.meta.path, f"already calibrated to {UNITS[unit]}, which cannot become "
                                        f"{UNITS[cfg.output]}; set calibration.output to one of {allowed}")
    mask = (np.zeros(raw.shape, bool) if frame.mask is None else np.array(frame.mask, bool)) | ~np.isfinite(raw)
    value = np.where(mask, 0.0, raw)
    qa: dict[str, object] = {"exposure_s": frame.meta.exposure_s, "units": UNITS[cfg.output], "photometry": "none",
                             "calibrated_upstream": UNITS[unit]}
    if unit == "radiance" and cfg.output == "iof":
        qa["sun_distance_au"] = distance = sun_distance_au(frame.camera, raw.shape)
        value = to_iof(value, cfg.solar_irradiance, distance)
    value, mask = _photometry(value, mask, frame, cfg, qa)
    data = np.where(mask, 0.0, value).astype(np.float32)
    valid = data[~mask]
    qa.update(median=float(np.median(valid)) if valid.size else float("nan"), noise=noise_sigma(data, mask),
              masked_fraction=float(mask.mean()), cosmic_rays=0, cosmic_ray_pixels=0, cold_pixels=0,
              bad_pixels_repaired=0, saturated=0)
    zeros = np.zeros(raw.shape, bool)
    return frame.replace(data=data, mask=mask, repaired=zeros, qa={**frame.qa, **qa})


def calibrate_frame(frame: Frame, masters: Masters | None, cfg: CalibrationParams) -> Frame:
    """Calibrate one light frame (pure: returns a new :class:`Frame`).

    Parameters
    ----------
    frame : Frame
        Raw light frame with its pixels loaded (:func:`pipeline.io.load_frame`).
        ``meta.exposure_s`` is required for every output but ``dn`` (relative DN: bias and
        flat removed, dark current only when the exposure is known); ``camera`` (with a Sun
        position) is needed for the Sun distance and for photometric normalisation;
        ``meta.extra["film"]`` (set by ingest) marks a film scan: scan border and edge
        notches masked, reseau crosses repaired, no cosmic-ray repair, no saturation test.
    masters : Masters or None
        Calibration masters; ``None`` uses the documented fallbacks (see
        :func:`~pipeline.calibration.masters.build_masters`), with WARNINGs.
    cfg : CalibrationParams
        ``cfg.output`` picks the unit of the result (``dn``, ``dn_per_s``, ``radiance`` or
        ``iof``); photometric normalisation applies to ``iof`` and ``dn`` when
        ``cfg.photometry`` is set.

    Returns
    -------
    Frame
        ``data``: float32 ``(lines, samples)`` in the unit of ``cfg.output`` (values under
        the mask are finite but meaningless); ``mask``: True = invalid (input mask,
        non-finite, saturated, overscan, scan border, edge notches, fixed instrument mask,
        repaired bad pixels and cosmic-ray hits, off body or beyond the angle limits); ``qa``
        gains ``median``, ``noise``, ``masked_fraction``, ``cosmic_rays`` (hits; 0 for film),
        ``cosmic_ray_pixels``, ``cold_pixels``, ``bad_pixels_repaired``, ``saturated``,
        ``film``, ``scan_border_pixels``, ``fiducial_pixels``, ``reseau_pixels_repaired``,
        ``instrument_mask_pixels``,
        ``units``, ``exposure_s``, ``sun_distance_au`` and ``photometry``.

    Raises
    ------
    BadFrame
        No usable exposure duration, or pixels that are not a 2-D image.
    CalibrationError
        The masters (or the instrument's mask PNG) do not match the frame's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from pipeline.frame import FrameMeta
    >>> meta = FrameMeta(id="f", path=Path("f.fits"), format="fits", shape=(32, 32),
    ...                  dtype="uint16", exposure_s=2.0)
    >>> raw = np.full((32, 32), 300.0, np.float32)   # 2 s at 100 DN/s over a 100 DN bias
    >>> out = calibrate_frame(Frame(meta, data=raw), Masters(bias=100.0),
    ...                       CalibrationParams(output="dn_per_s"))
    >>> float(out.qa["median"])
    100.0
    """
    if not frame.loaded:
        raise ValueError(f"{frame.id}: pixels not loaded; read them first (pipeline.io.load_frame)")
    if not cfg.enabled:
        return frame
    raw = np.asarray(frame.data, dtype=np.float64)
    path = frame.meta.path
    if raw.ndim != 2:
        raise BadFrame(path, f"expected a 2-D image, got shape {raw.shape}")
    if frame.meta.extra.get("calibrated"):
        return _calibrated_product(frame, raw, cfg)
    t = frame.meta.exposure_s
    timed = t is not None and np.isfinite(t) and t > 0
    if not timed and needs_exposure(cfg.output):
        raise BadFrame(
            path,
            f"no usable exposure duration ({t!r} s): cannot calibrate to {UNITS[cfg.output]}; give it in the "
            "label or the sidecar's exposure_duration, or set calibration.output: dn",
        )
    if masters is None:
        masters = build_masters([], [], [], cfg)
    if masters.shape is not None and masters.shape != raw.shape:
        raise CalibrationError(
            f"{path}: frame is {raw.shape} but the calibration masters are {masters.shape}"
        )

    mask = np.zeros(raw.shape, bool) if frame.mask is None else np.array(frame.mask, dtype=bool)
    mask |= ~np.isfinite(raw) | overscan_mask(raw.shape, cfg.overscan_samples)
    film = bool(frame.meta.extra.get("film", False))
    marks = frame_marks(raw, mask, film=film, params=cfg.masking, instrument=frame.meta.instrument, where=str(path))
    mask |= marks.mask
    level = None if film else cfg.saturation_dn  # a scan has no detector well: its 255 is a tone
    saturated = np.zeros(raw.shape, bool) if level is None else (raw >= level) & ~marks.mask
    mask |= saturated

    dn = remove_signature(
        np.where(np.isfinite(raw), raw, 0.0),
        masters.bias_for(raw, cfg.overscan_samples),
        masters.dark_rate,
        masters.flat,
        t if timed else 0.0,
    )
    bad = np.zeros(raw.shape, bool) if masters.bad is None else masters.bad != 0
    reseau = marks.repair
    dn = repair_pixels(dn, bad | reseau, avoid=mask)

    hits = cold = np.zeros(raw.shape, bool)
    if cfg.cosmic_rays and not film:
        known = mask | bad
        noise = residual_noise(dn, known, cfg.gain_e_per_dn, cfg.read_noise_dn or masters.read_noise_dn)
        negative = (
            cfg.cold_pixels if cfg.cold_pixels is not None else not isinstance(masters.flat, np.ndarray)
        )
        hits, cold = detect_outliers(
            dn,
            known,
            saturated=saturated,
            negative=negative,
            noise=noise,
            sigclip=cfg.cosmic_sigma,
            sigfrac=cfg.cosmic_sigfrac,
            objlim=cfg.cosmic_objlim,
            niter=cfg.cosmic_niter,
            psf_fwhm_px=cfg.cosmic_psf_fwhm_px,
        )
        dn = repair_pixels(dn, hits | cold, avoid=known)
    repaired = bad | reseau | hits | cold
    if cfg.mask_repaired:
        mask |= repaired

    value = to_dn_per_s(dn, t) if cfg.output != "dn" else dn
    qa: dict[str, object] = {"exposure_s": float(t) if timed else None, "units": UNITS[cfg.output],
                             "photometry": "none", "film": film, **marks.qa()}
    if cfg.output in ("radiance", "iof"):
        value = to_radiance(value, cfg.responsivity)
    if cfg.output == "iof":
        distance = sun_distance_au(frame.camera, raw.shape)
        qa["sun_distance_au"] = distance
        value = to_iof(value, cfg.solar_irradiance, distance)
    value, mask = _photometry(value, mask, frame, cfg, qa)

    finite = np.isfinite(value)
    mask |= ~finite
    data = np.where(finite, value, 0.0).astype(np.float32)
    valid = data[~mask]
    qa.update(
        median=float(np.median(valid)) if valid.size else float("nan"),
        noise=noise_sigma(data, mask),
        masked_fraction=float(mask.mean()),
        cosmic_rays=count_hits(hits),
        cosmic_ray_pixels=int(hits.sum()),
        cold_pixels=int(cold.sum()),
        bad_pixels_repaired=int(bad.sum()),
        saturated=int(saturated.sum()),
    )
    log.debug("calibrated %s: %s", frame.id, qa)
    return frame.replace(data=data, mask=mask, repaired=repaired, qa={**frame.qa, **qa})
