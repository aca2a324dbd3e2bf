"""Parameters of the calibration stage: the ``calibration`` section (and its ``photometry``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from pipeline.calibration.photometry import PHOTOMETRIC_MODELS
from pipeline.parameters import Section, check_choice

__all__ = ["AUTO", "CalibrationParams", "MaskingParams", "PhotometryParams"]

AUTO = "auto"
"""``photometry.model`` that fits the law to the data after registration."""

Polygon = list[tuple[float, float]]
"""Vertices (line, sample) in image coordinates: first pixel centre at (0.5, 0.5)."""


class PhotometryParams(Section):
    """Photometric normalisation of I/F to a standard geometry (angles in degrees)."""

    model: str = Field(
        "auto",
        description="photometric function: auto (fitted after registration to the overlapping "
        "observations: lunar-Lambert L(phase) or a Hapke subset, McEwen's L(phase) when the angles "
        "do not constrain it), or a key of pipeline.calibration.PHOTOMETRIC_MODELS (lunar_lambert: "
        "McEwen lunar-Lambert with L(phase), or constant L with lunar_lambert_l; lommel_seeliger; "
        "hapke: LROC Hapke, fixed 643 nm set)",
    )
    lunar_lambert_l: float | None = Field(
        None, description="constant lunar-Lambert weight L; default: McEwen's L(phase) polynomial"
    )
    incidence_max_deg: float = Field(85.0, gt=0, le=90, description="mask pixels lit more obliquely")
    emission_max_deg: float = Field(70.0, gt=0, le=90, description="mask pixels seen more obliquely")
    standard_incidence_deg: float = Field(30.0, ge=0, lt=90, description="standard incidence angle")
    standard_emission_deg: float = Field(0.0, ge=0, lt=90, description="standard emission angle")
    standard_phase_deg: float = Field(30.0, ge=0, le=180, description="standard phase angle")
    angle_grid_step: int = Field(
        8, ge=1, description="compute angles every N pixels and interpolate bilinearly (1 = every pixel)"
    )
    topographic: bool = Field(
        False, description="with model auto: incidence and emission from the local surface normal of "
        "mosaicking.dem, or of the relief model without one (its slopes at each pixel), in the photometric fit and "
        "the normalisation, instead of the sphere's (computed at every pixel)"
    )
    fit_systematic_pct: float = Field(
        0.1, ge=0, le=10, description="with model auto: relative brightness error (%, RMS) that calibration "
        "errors common to many views could leave (flat field, pointing); a fitted law is preferred over a "
        "simpler one (McEwen's L(phase) the simplest) only if it fits the overlaps better than that, and it "
        "bounds the parameters' systematic uncertainty; 0: lowest BIC"
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        return check_choice(value, (AUTO, *PHOTOMETRIC_MODELS), "photometric model")


class MaskingParams(Section):
    """Pixels that are not the surface: scan borders, fiducial marks, fixed per-instrument masks
    (:mod:`pipeline.calibration.masks`); masked before calibration, so they reach neither tie
    points nor the mosaic."""

    scan_border: Literal["film", "all", "off"] = Field(
        "film", description="mask the constant-valued scan border found along the frame edges: on film scans "
        "(film), on every frame (all: also fills, and the sky beyond the limb, which costs ground near it), or "
        "never (off)"
    )
    border_tolerance_dn: float = Field(
        0.0, ge=0, description="largest difference (raw DN) from a side's border value that still counts as "
        "border; 0: exactly constant (a scanner's black, a fill value)"
    )
    border_margin_px: int = Field(
        2, ge=0, description="pixels also masked inward of the scan border of film scans (the scanner's soft "
        "edge); other frames' constant edges (fills, sky) are masked exactly"
    )
    border_max_fraction: float = Field(
        0.25, gt=0, le=0.5, description="deepest scan border searched, fraction of the frame size across the side"
    )
    fiducials: Literal["film", "all", "off"] = Field(
        "film", description="mask fiducial marks (reseau crosses, edge notches) found in the image: on film "
        "scans (film: ingestion.film, the sidecar's film key or an 8-bit raster without exposure), on every "
        "frame (all), or never (off)"
    )
    reseau: Literal["repair", "mask"] = Field(
        "repair", description="reseau crosses found: repair them from their neighbours and flag them as "
        "repaired (masked too with calibration.mask_repaired; the tie points keep their surroundings), or mask "
        "them; edge notches are always masked"
    )
    fiducial_polarity: Literal["auto", "both", "dark", "bright"] = Field(
        "auto", description="marks darker or brighter than the scene; auto: the polarity that finds more "
        "crosses (then notches) in the frame"
    )
    fiducial_line_width_px: int = Field(3, ge=1, description="widest arm of a reseau cross (px)")
    fiducial_arm_px: int = Field(5, ge=2, description="shortest straight arm of a reseau cross, both directions (px)")
    fiducial_notch_px: int | None = Field(
        None, ge=3, description="widest edge notch (px); null: 12 % of the frame's smaller side"
    )
    fiducial_contrast: float = Field(
        0.7, gt=0, le=1, description="a mark pixel lies at least this fraction of the way from its local "
        "background to the frame's darkest (brightest) level"
    )
    fiducial_spread: float = Field(
        0.15, gt=0, description="a mark is flat: robust spread of its values at most this fraction of its "
        "depth below (above) the background"
    )
    fiducial_sigma: float = Field(6.0, gt=0, description="a mark differs from its background by more noise sigmas")
    fiducial_margin_px: int = Field(1, ge=0, description="pixels masked around each mark found (soft edges)")
    instruments: dict[str, str | list[Polygon]] = Field(
        default_factory=dict,
        description="fixed mask per instrument (FrameMeta.instrument; '*' for any): a PNG of the frame's size "
        "whose non-zero pixels are masked, or a list of polygons of [line, sample] vertices (image "
        "coordinates, first pixel centre at 0.5) whose inside is masked",
    )

    @field_validator("instruments")
    @classmethod
    def _check_instruments(cls, value: dict) -> dict:
        for name, spec in value.items():
            if isinstance(spec, str):
                if not Path(spec).is_file():
                    raise ValueError(f"instrument {name!r}: mask PNG {spec!r} not found (paths are relative to "
                                     "the working directory)")
                continue
            for k, poly in enumerate(spec):
                if len(poly) < 3 or not all(math.isfinite(c) for vertex in poly for c in vertex):
                    raise ValueError(f"instrument {name!r}: polygon {k} needs at least 3 finite [line, sample] "
                                     f"vertices, got {poly!r}")
        return value


class CalibrationParams(Section):
    """Radiometric calibration: bias, dark, flat, bad pixels, cosmic rays, DN/s, radiance, I/F."""

    enabled: bool = Field(True, description="False: frames pass through uncalibrated")
    saturation_dn: float | None = Field(
        4095.0, description="raw DN at or above which pixels are masked (None: no saturation test; never on "
        "film scans, whose 255 is a tone; 8-bit detector data: set 255)"
    )
    bias_dn: float | None = Field(
        None, description="constant bias (DN) used when no bias frames (and no overscan) are given"
    )
    overscan_samples: tuple[int, int] | None = Field(
        None,
        description="[start, stop) sample range of a serial overscan strip; without bias frames each "
        "frame's bias is the per-line median of this strip (the strip itself is masked)",
    )
    clip_sigma: float = Field(3.0, gt=0, description="sigma clipping (robust sigmas) when combining masters")
    hot_sigma: float = Field(
        8.0, gt=0, description="hot pixel: dark rate above its local median by this many robust sigmas"
    )
    dead_flat: float = Field(
        0.5, gt=0, lt=1, description="dead/low-response pixel: flat below this fraction of its local median"
    )
    noisy_sigma: float = Field(
        6.0, gt=0, description="noisy pixel: bias-stack scatter above the median by this many robust sigmas"
    )
    badpix_window: int = Field(
        9, ge=3, description="side (px, odd) of the local median window for hot and dead pixel tests"
    )
    mask_repaired: bool = Field(
        False, description="also flag repaired bad pixels and cosmic-ray hits as invalid in the frame mask "
        "(they are always counted in the frame's QA); true leaves holes in the mosaic and the tie points"
    )
    cosmic_rays: bool = Field(
        True, description="detect and repair cosmic-ray hits and single-pixel outliers (never on film scans: "
        "see ingestion.film)"
    )
    cosmic_sigma: float = Field(
        6.0, gt=0, description="cosmic-ray detection limit: residual over the local median, noise sigmas"
    )
    cosmic_sigfrac: float = Field(
        0.6, gt=0, le=1, description="a hit grows along its track through pixels as sharp as a hit, and "
        "takes its neighbours (charge spill), above cosmic_sigfrac * cosmic_sigma"
    )
    cosmic_objlim: float = Field(
        2.0, gt=0, description="residual / fine-structure contrast above which a sharp peak is a hit, "
        "not a blurred surface feature (L.A.Cosmic objlim)"
    )
    cosmic_psf_fwhm_px: float = Field(
        1.5, gt=0, description="narrowest optical PSF (FWHM, px): features at least this blurred are "
        "never taken for hits"
    )
    cosmic_niter: int = Field(4, ge=1, description="detection/repair iterations")
    cold_pixels: bool | None = Field(
        None, description="also detect single-pixel negative outliers (dead pixels no flat caught); "
        "None: only when there is no master flat"
    )
    gain_e_per_dn: float | None = Field(
        None, gt=0, description="detector gain for the cosmic-ray noise model; None: noise model fitted to "
        "each frame"
    )
    read_noise_dn: float | None = Field(
        None, ge=0, description="read noise for the noise model; default: measured from the bias stack"
    )
    responsivity: float = Field(
        1.0, gt=0, description="DN/s per unit radiance (W m^-2 sr^-1 um^-1)"
    )
    solar_irradiance: float = Field(
        1.0, gt=0, description="solar spectral irradiance at 1 AU in the band (W m^-2 um^-1)"
    )
    output: Literal["dn", "dn_per_s", "radiance", "iof"] = Field(
        "iof", description="how far to calibrate: relative DN (no exposure needed), DN/s, radiance, or I/F "
        "(photometrically normalised); a run whose frames lack exposure durations falls back to dn"
    )
    photometry: PhotometryParams | None = Field(
        PhotometryParams(), description="photometric normalisation of I/F; None disables it"
    )
    masking: MaskingParams = Field(
        MaskingParams(), description="scan borders, fiducial marks and fixed masks, masked before calibration"
    )
