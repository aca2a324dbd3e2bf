"""Synthetic far-side survey with known truth: ``farside simulate OUTDIR --seed N``.

A lunar-like albedo surface defined on the sphere (:class:`Surface`), a CSM frame camera
flying north-south strips across 180 deg E (:func:`plan_survey`), a detector with bias,
dark current, flat field, defects, noise and cosmic rays (:func:`render_frame`), writers
for PDS3, PDS4, FITS and TIFF with ISD sidecars, and the truth to check every pipeline
stage against (:func:`load_truth`).

Examples
--------
>>> from pipeline.simulation import simulate_survey, load_truth   # doctest: +SKIP
>>> info = simulate_survey("out/sim", seed=42)                     # doctest: +SKIP
>>> truth = load_truth("out/sim")                                  # doctest: +SKIP
>>> truth.surface.albedo(np.radians(180.0), 0.0)                   # doctest: +SKIP
"""

from pipeline.simulation.sensor import (
    LUNAR_LAMBERT_L,
    Detector,
    DetectorParams,
    Exposure,
    Radiometry,
    RenderedFrame,
    Scene,
    expose,
    lunar_lambert,
    render_frame,
    render_iof,
)
from pipeline.simulation.simulate import SurveyInfo, main_simulate, simulate_survey
from pipeline.simulation.surface import DEFAULT_REGION_DEG, Surface, SurfaceParams
from pipeline.simulation.survey import (
    CameraSpec,
    FramePlan,
    SurveyPlan,
    coverage_fraction,
    nadir_camera,
    overlap_fraction,
    plan_survey,
)
from pipeline.simulation.truth import Truth, load_truth
from pipeline.simulation.writers import WRITERS, FrameLabel, write_frame, write_sidecar

__all__ = [
    "DEFAULT_REGION_DEG",
    "LUNAR_LAMBERT_L",
    "WRITERS",
    "CameraSpec",
    "Detector",
    "DetectorParams",
    "Exposure",
    "FrameLabel",
    "FramePlan",
    "Radiometry",
    "RenderedFrame",
    "Scene",
    "Surface",
    "SurfaceParams",
    "SurveyInfo",
    "SurveyPlan",
    "Truth",
    "coverage_fraction",
    "expose",
    "load_truth",
    "lunar_lambert",
    "main_simulate",
    "nadir_camera",
    "overlap_fraction",
    "plan_survey",
    "render_frame",
    "render_iof",
    "simulate_survey",
    "write_frame",
    "write_sidecar",
]
