"""Line-scan and push-frame strips of a simulated survey: plan, render, write, truth.

Used by :func:`pipeline.simulation.simulate_survey` (options ``linescan=`` and ``pushframe=``);
the strips are planned over the frame survey's region (centred on it) after its frames in
time, so a survey can mix frames and strips, or hold strips only (``frames=False``). Files::

    LS_S0.IMG  LS_S0.json        line-scan strip (format in turn) + reported ALE ISD sidecar
    PF_S0.xml  PF_S0.img  PF_S0.json   push-frame strip (framelets stacked, overlap trimmed)
    calibration/linescan/LS_BIAS_00.* ..  calibration/pushframe/PF_FLAT_04.*   (15 per kind)
    truth/LS_S0.json ...                  true ISDs (jitter, no pointing/position error)
    truth/linescan_detector.json ...      per-kind detector seed, constants and defects

``survey.json`` gets every strip in ``frames`` (with ``kind``, its :class:`StripPlan`, centre
angles, defects and ``shape``) and a ``scan`` block (parameters, ids, measured side overlaps,
conventions). :func:`pipeline.simulation.load_truth` reads the strips' cameras with
:func:`pipeline.geometry.load_camera`, so :class:`~pipeline.simulation.Truth`'s geometry
helpers work for them as for frames.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.simulation.coverage import overlap_fraction
from pipeline.simulation.orbit import J2000_UTC, MISSION_START_UTC
from pipeline.simulation.scandetector import (
    SCAN_CALIBRATION_DIRS,
    expose_scan,
    scan_detector,
    scan_detector_truth,
    write_scan_calibration,
)
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scanplan import (
    INSTRUMENT_ID,
    StripPlan,
    plan_strips,
    reported_scan_isd,
    true_scan_camera,
)
from pipeline.simulation.scanrender import render_scan_iof
from pipeline.simulation.sensor import RenderedFrame
from pipeline.simulation.truthfiles import TRUTH_DIR
from pipeline.simulation.truthfiles import rounded as _r
from pipeline.simulation.writers import LABELLED_FORMATS, FrameLabel, dump_json, write_frame, write_sidecar

__all__ = ["SCAN_CONVENTIONS", "ScanOutput", "ScanSurvey", "plan_scan_survey", "render_strip"]

DETECTOR_FILES = {"line-scan": "linescan_detector.json", "push-frame": "pushframe_detector.json"}
INSTRUMENT_NAME = {"line-scan": "FARSIDE SIMULATED LINE-SCAN CAMERA",
                   "push-frame": "FARSIDE SIMULATED PUSH-FRAME CAMERA"}  # fmt: skip

SCAN_CONVENTIONS = {
    "time": "tau = (t - center_ephemeris_time) / half_duration_s; half_duration_s = lines * line period / 2 "
    "(line scan) or n_framelets * interframe_delay / 2 (push frame), as ScanCamera.half_duration_s",
    "pointing_error_deg": "[c0, c1]: cam_to_body_reported(t) = cam_to_body_true(t) @ R(c0 + c1 tau) at the ISD's "
    "table nodes (rotation vectors, camera frame); undo exactly with "
    "reported.with_pointing_correction(-radians([c0, c1]), -position_error_m)",
    "position_error_m": "[p0]: position_reported(t) = position_true(t) + p0, body-fixed metres",
    "jitter": "cam_to_body_true = cam_to_body_nadir @ R(jitter(t)), see the jitter formula; with jitter_in_isd "
    "false the reported ISD is built on cam_to_body_nadir instead of cam_to_body_true",
    "camera_frame": "+Z nadir, +Y along the flight (image lines advance with it), +X = Y x Z (increasing samples)",
    "push_frame_image": "framelets stacked in exposure order, num_lines_overlap / 2 lines trimmed at each end of "
    "every framelet (usgscsm's reduced image); image line l is in framelet floor(l / lines_per_framelet)",
}
"""The ``conventions`` of the ``survey.json`` ``scan`` block."""


@dataclass
class ScanOutput:
    """What :meth:`ScanSurvey.render_and_write` wrote (paths relative to the survey folder)."""

    files: dict[str, list[str]] = field(default_factory=dict)
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    calibration_files: dict[str, list[str]] = field(default_factory=dict)
    calibration_truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    block: dict[str, Any] = field(default_factory=dict)


def render_strip(strip: StripPlan, params, camera, surface, *, detector, seed: int, radiometry, supersample: int = 2,
                 law=None, terrain=None, shadows: bool = True, frame_area: float = 320 * 320, noise: bool = True,
                 cosmic_rays: bool = True) -> tuple[RenderedFrame, list[float]]:
    """Render one strip in memory: ideal scene (:func:`render_scan_iof`) then the detector.

    Returns
    -------
    RenderedFrame
    drifts : list of float
        Per framelet bias drift (push frame).
    """
    smear = getattr(params, "smear_samples", 1)
    scene = render_scan_iof(camera, surface, supersample=supersample, psf_sigma_px=detector.params.psf_sigma_px,
                            radiometry=radiometry, law=law, terrain=terrain, shadows=shadows,
                            exposure_s=strip.exposure_s, line_period_s=strip.period_s, smear_samples=smear)  # fmt: skip
    rng = np.random.default_rng([int(seed), 0x5CA9])
    exp, drifts = expose_scan(strip.kind, scene.radiance.astype(np.float64) * radiometry.responsivity,
                              strip.exposure_s, detector, rng,
                              framelet_lines=getattr(camera, "summed_framelet_height", 0),
                              frame_area=frame_area, noise=noise, cosmic_rays=cosmic_rays)  # fmt: skip
    return RenderedFrame(dn=exp.dn, scene=scene, exposure=exp, detector=detector), drifts


@dataclass
class ScanSurvey:
    """Planned strips of every scanning kind of a survey.

    Attributes
    ----------
    seed : int
    params : dict of str to LineScanParams or PushFrameParams
        By kind (``line-scan``, ``push-frame``).
    strips : list of StripPlan
        In time order.
    true_cameras : dict of str to LineScanCamera or PushFrameCamera
    sun_distance_au : float
    """

    seed: int
    params: dict[str, Any]
    strips: list[StripPlan]
    true_cameras: dict[str, Any]
    sun_distance_au: float = 1.0

    def with_height_range(self, heights: tuple[float, float]) -> None:
        """Set every camera's ``height_range_m`` (relief: the DEM's range, written to the ISDs)."""
        self.true_cameras = {k: dataclasses.replace(c, height_range_m=heights) for k, c in self.true_cameras.items()}

    def reported_isd(self, strip: StripPlan) -> dict[str, Any]:
        """The strip's sidecar ISD (:func:`pipeline.simulation.scanplan.reported_scan_isd`)."""
        cam = self.true_cameras[strip.id]
        isd = reported_scan_isd(strip, self.params[strip.kind], cam, sun_distance_au=self.sun_distance_au)
        if cam.height_range_m != (-1000.0, 1000.0):
            isd["reference_height"] = {"minheight": cam.height_range_m[0], "maxheight": cam.height_range_m[1],
                                       "unit": "m"}  # fmt: skip
        return isd

    def render_and_write(self, outdir: Path, surface, *, radiometry, detector_params, frame_area: float,
                         supersample: int = 2, law=None, terrain=None, shadows: bool = True,
                         calibration: bool = True, formats: tuple[str, ...] = ("pds3",),
                         workers: int = 1) -> ScanOutput:  # fmt: skip
        """Render every strip, write strips, sidecars, calibration strips and truth files."""
        outdir = Path(outdir)
        out = ScanOutput()
        detectors = {}
        for kind, p in self.params.items():
            shape = (p.lines, p.samples)
            extra = {"framelet_height": p.framelet_height, "num_lines_overlap": p.num_lines_overlap} if (
                kind == "push-frame") else {}  # fmt: skip
            det = scan_detector(kind, self.seed, shape, detector_params, frame_area=frame_area, **extra)
            detectors[kind] = det
            doc = scan_detector_truth(kind, self.seed, shape, detector_params, det, frame_area=frame_area, **extra)
            (outdir / TRUTH_DIR / DETECTOR_FILES[kind]).write_text(dump_json(doc), encoding="utf-8", newline="\n")
            out.written.append(f"{TRUTH_DIR}/{DETECTOR_FILES[kind]}")

        def render(i_strip):
            i, s = i_strip
            sseed = int(np.random.default_rng([int(self.seed), 0x5CA1, i]).integers(0, 2**31 - 1))
            return render_strip(s, self.params[s.kind], self.true_cameras[s.id], surface, detector=detectors[s.kind],
                                seed=sseed, radiometry=radiometry, supersample=supersample, law=law, terrain=terrain,
                                shadows=shadows, frame_area=frame_area)  # fmt: skip

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            rendered = list(pool.map(render, enumerate(self.strips)))
        for s, (frame, drifts) in zip(self.strips, rendered):
            label = FrameLabel(stem=s.id, frame_type="LIGHT", exposure_s=s.exposure_s, start_time=s.start_time,
                               instrument_id=INSTRUMENT_ID[s.kind], instrument_name=INSTRUMENT_NAME[s.kind],
                               byte_order=s.byte_order)  # fmt: skip
            paths = write_frame(outdir, frame.dn, label, s.format)
            side = write_sidecar(
                outdir, s.id, self.reported_isd(s), label if s.format not in LABELLED_FORMATS else None
            )
            write_sidecar(outdir / TRUTH_DIR, s.id, self.true_cameras[s.id].to_isd())
            rel = [p.relative_to(outdir).as_posix() for p in [*paths, side]]
            out.files[s.id] = rel
            out.written += rel + [f"{TRUTH_DIR}/{s.id}.json"]
            out.truth[s.id] = _strip_truth(s, self.params[s.kind], frame, drifts, rel, terrain is not None and shadows)
        if calibration:
            for kind, det in detectors.items():
                longest = max(s.period_s for s in self.strips if s.kind == kind)
                files, truth = write_scan_calibration(
                    outdir, kind, seed=self.seed, formats=formats, detector=det,
                    max_exposure_s=longest, instrument_id=INSTRUMENT_ID[kind],
                )  # fmt: skip
                out.calibration_files.update(files)
                out.calibration_truth.update(truth)
                out.written += [r for rels in files.values() for r in rels]
        out.block = {"scan": self.block(calibration)}
        return out

    def block(self, calibration: bool = True) -> dict[str, Any]:
        """The ``survey.json`` ``scan`` block."""
        doc: dict[str, Any] = {}
        for kind, p in self.params.items():
            ids = [s.id for s in self.strips if s.kind == kind]
            side = [overlap_fraction(self.true_cameras[a], [self.true_cameras[b]]) for a, b in itertools.pairwise(ids)]
            doc[kind] = {
                "params": p.to_dict(),
                "focal_length_mm": _r(p.focal_length_mm, 9),
                "strips": ids,
                "measured_side_overlap": [_r(v, 4) for v in side],
                "detector": f"{TRUTH_DIR}/{DETECTOR_FILES[kind]}",
                "calibration": SCAN_CALIBRATION_DIRS[kind] if calibration else None,
            }
        doc["conventions"] = SCAN_CONVENTIONS
        return doc


def _strip_truth(s: StripPlan, params, frame: RenderedFrame, drifts, rel, lit: bool) -> dict[str, Any]:
    sc = frame.scene
    cl, cs = s.lines // 2, s.samples // 2
    out = {
        **s.to_dict(),
        "files": rel,
        "shape": [s.lines, s.samples],
        "gsd_m": float(params.gsd_m),
        "incidence_center_deg": _r(math.degrees(sc.incidence[cl, cs]), 4),
        "emission_center_deg": _r(math.degrees(sc.emission[cl, cs]), 4),
        "phase_center_deg": _r(math.degrees(sc.phase[cl, cs]), 4),
        "iof_mean": _r(np.nanmean(sc.iof), 6),
        "dn_median": float(np.median(frame.dn)),
        "defects": frame.exposure.defects(),
    }
    if drifts:
        out["framelet_bias_drift_dn"] = drifts
    if lit and sc.lit is not None:
        out["lit_fraction"] = _r(np.mean(sc.lit[sc.on_body]), 4) if sc.on_body.any() else 0.0
    return out


def plan_scan_survey(frame_plan, *, seed: int, linescan: LineScanParams | None = None,
                     pushframe: PushFrameParams | None = None, formats: tuple[str, ...] = ("pds3",),
                     incidence_deg: tuple[float, float] = (35.0, 55.0), radiometry, surface_params,
                     law=None) -> ScanSurvey:  # fmt: skip
    """Plan the strips of a survey over the frame plan's region, after its frames in time.

    Parameters
    ----------
    frame_plan : SurveyPlan
        Gives the region (strips centred on it), the last frame time and the radiometry.
    seed : int
    linescan, pushframe : LineScanParams or PushFrameParams, optional
    formats, incidence_deg, radiometry, surface_params, law
        As :func:`pipeline.simulation.scanplan.plan_strips`.
    """
    lon0, lon1, lat0, lat1 = frame_plan.region_deg
    center = (0.5 * (lon0 + lon1), 0.5 * (lat0 + lat1))
    last = max((f.time_s for f in frame_plan.frames), default=(MISSION_START_UTC - J2000_UTC).total_seconds())
    params: dict[str, Any] = {}
    strips: list[StripPlan] = []
    for day, p in ((1, linescan), (2, pushframe)):
        if p is None:
            continue
        params[p.kind] = p
        strips += plan_strips(p, seed=seed, center_deg=center, start_time_s=last + 86400.0 * day, formats=formats,
                              incidence_deg=incidence_deg, radiometry=radiometry, surface_params=surface_params,
                              law=law)  # fmt: skip
    sun_au = radiometry.sun_distance_au
    cams = {s.id: true_scan_camera(s, params[s.kind], sun_distance_au=sun_au) for s in strips}
    return ScanSurvey(seed=int(seed), params=params, strips=strips, true_cameras=cams, sun_distance_au=sun_au)

