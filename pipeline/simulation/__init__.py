"""Synthetic far-side survey with known truth: ``farside simulate OUTDIR --seed N``.

A lunar-like albedo surface defined on the sphere (:class:`Surface`), a CSM frame camera
flying north-south strips across 180 deg E (:func:`plan_survey`), a detector with bias,
dark current, flat field, defects, noise and cosmic rays (:func:`render_frame`), writers
for PDS3, PDS4, FITS and TIFF with ISD sidecars, and the truth to check every pipeline
stage against (:func:`load_truth`).

Options, each off by default (the default survey is unchanged byte for byte): other
scattering laws (:func:`scattering_law`, :data:`SCATTERING_LAWS`), relief rendered through
a synthetic DEM (:class:`ReliefParams`, :class:`Relief`, :class:`Terrain`), oblique
strips, film-like 8-bit PNG frames with scan borders and fiducials (:class:`FilmParams`),
small frames held at their overlaps (``max_wobble_shift``), line-scan and push-frame strips
with pointing jitter (:class:`LineScanParams`, :class:`PushFrameParams`), and named presets
(:func:`survey_preset`).

Modules: ``surface`` (albedo), ``relief``/``terrain``/``terrain_setup`` (topography),
``photometry`` (scattering laws), ``detector`` and ``sensor`` (forward model), ``film``,
``orbit`` (camera, attitude, Sun), ``survey`` and ``oblique`` (flight plan),
``coverage``, ``writers``, ``calibration_frames``, ``truthfiles``, ``simulate`` (the
whole survey), ``truth`` (reading it back), ``presets`` and ``command`` (CLI); scanning
cameras: ``scanparams``, ``jitter``, ``scanplan``, ``scanrender``, ``scandetector``,
``scansurvey`` and ``scantruth``.

Examples
--------
>>> from pipeline.simulation import simulate_survey, load_truth   # doctest: +SKIP
>>> info = simulate_survey("out/sim", seed=42)                     # doctest: +SKIP
>>> truth = load_truth("out/sim")                                  # doctest: +SKIP
>>> truth.surface.albedo(np.radians(180.0), 0.0)                   # doctest: +SKIP
"""

from pipeline.simulation.command import main_simulate, survey_kwargs
from pipeline.simulation.coverage import coverage_fraction, measure_overlaps, overlap_fraction
from pipeline.simulation.detector import Detector, DetectorParams, Exposure, expose
from pipeline.simulation.film import FilmFrame, FilmParams, film_frame
from pipeline.simulation.jitter import PointingJitter
from pipeline.simulation.orbit import CameraSpec, nadir_camera
from pipeline.simulation.photometry import (
    LUNAR_LAMBERT_L,
    SCATTERING_LAWS,
    STANDARD_GEOMETRY_DEG,
    PhotometricLaw,
    hapke_smooth,
    lunar_lambert,
    scattering_law,
)
from pipeline.simulation.presets import PRESETS, survey_preset
from pipeline.simulation.relief import Relief, ReliefParams
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scanplan import StripPlan, plan_strips, reported_scan_isd, true_scan_camera
from pipeline.simulation.scanrender import render_scan_iof
from pipeline.simulation.scantruth import pair_misregistration_px, pointing_error_rotvec, strip_ids
from pipeline.simulation.sensor import Radiometry, RenderedFrame, Scene, camera_rays, render_frame, render_iof
from pipeline.simulation.simulate import SurveyInfo, simulate_survey
from pipeline.simulation.surface import DEFAULT_REGION_DEG, Surface, SurfaceParams
from pipeline.simulation.survey import FramePlan, SurveyPlan, plan_survey
from pipeline.simulation.terrain import Terrain
from pipeline.simulation.truth import Truth, load_truth
from pipeline.simulation.writers import WRITERS, FrameLabel, write_frame, write_sidecar

__all__ = [
    "DEFAULT_REGION_DEG",
    "LUNAR_LAMBERT_L",
    "PRESETS",
    "SCATTERING_LAWS",
    "STANDARD_GEOMETRY_DEG",
    "WRITERS",
    "CameraSpec",
    "Detector",
    "DetectorParams",
    "Exposure",
    "FilmFrame",
    "FilmParams",
    "FrameLabel",
    "FramePlan",
    "LineScanParams",
    "PhotometricLaw",
    "PointingJitter",
    "PushFrameParams",
    "Radiometry",
    "Relief",
    "ReliefParams",
    "RenderedFrame",
    "Scene",
    "StripPlan",
    "Surface",
    "SurfaceParams",
    "SurveyInfo",
    "SurveyPlan",
    "Terrain",
    "Truth",
    "camera_rays",
    "coverage_fraction",
    "expose",
    "film_frame",
    "hapke_smooth",
    "load_truth",
    "lunar_lambert",
    "main_simulate",
    "measure_overlaps",
    "nadir_camera",
    "overlap_fraction",
    "pair_misregistration_px",
    "plan_strips",
    "plan_survey",
    "pointing_error_rotvec",
    "render_frame",
    "render_iof",
    "render_scan_iof",
    "reported_scan_isd",
    "scattering_law",
    "simulate_survey",
    "strip_ids",
    "survey_kwargs",
    "survey_preset",
    "true_scan_camera",
    "write_frame",
    "write_sidecar",
]
