"""``simulate_survey``: render a whole synthetic survey (frames, calibration, truth) to disk.

Layout of ``OUTDIR`` (``FS_S<strip>_F<index>`` stems, formats assigned in turn)::

    FS_S0_F00.IMG  FS_S0_F00.json      PDS3 frame (attached label) + reported ISD sidecar
    FS_S0_F01.xml  FS_S0_F01.img  .json  PDS4 label + data file + sidecar
    FS_S0_F02.fits FS_S0_F02.json      FITS + sidecar
    FS_S0_F03.tif  FS_S0_F03.json      TIFF + sidecar (ISD + exposure_duration, frame_type, start_time)
    ...
    calibration/BIAS_00.* .. DARK_04.* .. FLAT_04.*   (labelled formats in turn)
    truth/FS_S0_F00.json ...           true ISDs (no pointing/position error)
    truth/survey.json                  plan, photometry, detector constants, per-frame truth
    truth/surface.json                 surface parameters (rebuild with Surface.from_dict)
    truth/detector.json                hot/dead pixels, dust donuts, detector constants
    truth/detector.npz                 flat, dark_rate, bias (float16 copies; exact ones
                                       come from Detector.from_seed)
    truth/calibration_config.yaml      farside config keys that match the simulation

Options (each off by default; the default survey is byte for byte that of earlier versions):

- ``law``: another scattering law (``survey.json`` ``photometry`` then records it, its
  parameters and the normal-albedo factor; see :mod:`pipeline.simulation.photometry`);
- ``relief``: frames rendered through a synthetic DEM (:mod:`pipeline.simulation.relief`),
  written as ``truth/dem.tif`` (float32 heights above the 1 737 400 m sphere,
  ``IAU_2015:30100``), with a ``relief`` block in ``survey.json`` and the DEM's height range
  as every ISD's ``reference_height``;
- ``oblique_deg``: oblique strips (emission 30-45 deg, say), ``survey.json`` ``oblique``;
- ``film``: film-like frames (:mod:`pipeline.simulation.film`): ``FS_*.png`` (8-bit) +
  ``FS_*.json`` (ISD only), no calibration frames, no detector files;
  ``truth/film_masks.npz`` holds ``<id>/border`` and ``<id>/fiducials`` masks and
  ``survey.json`` a ``film`` block;
- ``max_wobble_shift``: a smaller off-nadir wobble, to hold small frames at their planned
  overlaps.

- ``linescan`` / ``pushframe``: line-scan and push-frame strips over the region, after the
  frames (``frames=False``: strips only); see :mod:`pipeline.simulation.scansurvey`.

Everything is deterministic from the seed: running twice writes identical bytes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import __version__
from pipeline.errors import ConfigError
from pipeline.simulation.calibration_frames import write_calibration_frames
from pipeline.simulation.coverage import coverage_fraction, measure_overlaps
from pipeline.simulation.detector import Detector, DetectorParams
from pipeline.simulation.film import FilmParams, film_frame, film_truth, write_png8
from pipeline.simulation.orbit import MAX_WOBBLE_SHIFT, CameraSpec
from pipeline.simulation.photometry import scattering_law
from pipeline.simulation.relief import ReliefParams
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scansurvey import plan_scan_survey
from pipeline.simulation.sensor import Radiometry, render_frame, render_iof
from pipeline.simulation.surface import Surface, SurfaceParams
from pipeline.simulation.survey import SurveyPlan, plan_survey
from pipeline.simulation.terrain_setup import prepare_terrain
from pipeline.simulation.truthfiles import (
    DEM_FILE,
    FILM_MASKS_FILE,
    TRUTH_DIR,
    deterministic_npz,
    option_blocks,
    photometry_truth,
    pipeline_config,
    write_dem,
    write_detector_truth,
    yaml_text,
)
from pipeline.simulation.truthfiles import rounded as _r
from pipeline.simulation.writers import LABELLED_FORMATS, FrameLabel, dump_json, write_frame, write_sidecar

log = logging.getLogger(__name__)

MANIFEST_KEY = "files"


@dataclass
class SurveyInfo:
    """What :func:`simulate_survey` wrote.

    Attributes
    ----------
    outdir : Path
    frame_ids : list of str
        Light frames, in time order.
    files : dict of str to list of str
        Files of each light frame (relative to ``outdir``), sidecar included.
    calibration_files : dict of str to list of str
        Files of each calibration frame (relative to ``outdir``).
    truth_files : list of str
    formats : dict of str to int
        Light frames per format.
    size : (lines, samples)
    gsd_m, altitude_m : float
    region_deg : (lon_min, lon_max, lat_min, lat_max)
    overlap_along, overlap_across : (min, max)
        Measured overlap between consecutive frames of a strip and between neighbouring
        strips (fraction of a frame, true cameras).
    coverage : float
        Fraction of the region seen by at least one true camera.
    seed : int
    """

    outdir: Path
    frame_ids: list[str]
    files: dict[str, list[str]]
    calibration_files: dict[str, list[str]]
    truth_files: list[str]
    formats: dict[str, int]
    size: tuple[int, int]
    gsd_m: float
    altitude_m: float
    region_deg: tuple[float, float, float, float]
    overlap_along: tuple[float, float]
    overlap_across: tuple[float, float]
    coverage: float
    seed: int
    n_strips: int = 0
    frames_per_strip: int = 0

    def __str__(self) -> str:
        fmts = ", ".join(f"{k} {v}" for k, v in self.formats.items())
        lon0, lon1, lat0, lat1 = self.region_deg
        strips = [i for i in self.frame_ids if i.startswith(("LS_", "PF_"))]
        parts = [f"{len(self.frame_ids)} light images ({fmts})"]
        if self.n_strips:
            parts.append(f"{self.n_strips} strips x {self.frames_per_strip} frames of {self.size[0]}x{self.size[1]} px "
                         f"at GSD {self.gsd_m:.0f} m, overlap along {self.overlap_along[0]:.0%}-"
                         f"{self.overlap_along[1]:.0%}, "
                         f"across {self.overlap_across[0]:.0%}-{self.overlap_across[1]:.0%}")
        if strips:
            parts.append(f"scan strips {', '.join(strips)}")
        return (f"{'; '.join(parts)}; + {len(self.calibration_files)} calibration frames, region lon {lon0:.2f}.."
                f"{lon1:.2f} E, lat {lat0:.2f}..{lat1:.2f}, seed {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serialisable values (paths as strings)."""
        d = dataclasses.asdict(self)
        d["outdir"] = str(self.outdir)
        return d


def _frame_label(plan: SurveyPlan, frame, *, frame_type="LIGHT", exposure_s=None, start_time=None,
                 byte_order=None) -> FrameLabel:
    return FrameLabel(
        stem=frame if isinstance(frame, str) else frame.id,
        frame_type=frame_type,
        exposure_s=float(frame.exposure_s if exposure_s is None else exposure_s),
        start_time=frame.start_time if start_time is None else start_time,
        instrument_id=plan.camera.instrument_id,
        byte_order=frame.byte_order if byte_order is None else byte_order,
    )


def _clean_previous(outdir: Path) -> None:
    """Remove the files a previous simulation listed in its manifest (and only those)."""
    manifest = outdir / TRUTH_DIR / "survey.json"
    if not manifest.is_file():
        return

    try:
        old = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return
    for rel in old.get(MANIFEST_KEY, []):
        path = (outdir / rel).resolve()
        if outdir.resolve() in path.parents and path.is_file():
            path.unlink()


def _option(value, cls):
    """``True`` -> ``cls()``; ``None``/``False`` -> None; an instance as is."""
    if value is None or value is False:
        return None
    if value is True:
        return cls()
    if not isinstance(value, cls):
        raise ConfigError(f"expected a {cls.__name__} (or True), got {value!r}")
    return value


def simulate_survey(
    outdir: str | Path,
    *,
    seed: int = 0,
    n_strips: int = 3,
    frames_per_strip: int = 6,
    size: tuple[int, int] = (320, 320),
    formats: tuple[str, ...] = ("pds3", "pds4", "fits", "tiff"),
    pointing_error_deg: tuple[float, float] = (0.1, 0.3),
    position_error_m: float = 500.0,
    calibration: bool = True,
    region: tuple[float, float, float, float] | None = None,
    gsd_m: float = 180.0,
    overlap_along: float = 0.40,
    overlap_across: float = 0.42,
    wobble_deg: float = 2.0,
    incidence_deg: tuple[float, float] = (35.0, 55.0),
    supersample: int = 2,
    detector_params: DetectorParams | None = None,
    radiometry: Radiometry | None = None,
    surface_params: SurfaceParams | None = None,
    camera: CameraSpec | None = None,
    workers: int | None = None,
    law=None,
    relief: ReliefParams | bool | None = None,
    film: FilmParams | bool | None = None,
    oblique_deg: tuple[float, float] | None = None,
    oblique_side: str = "alternate",
    max_wobble_shift: float = MAX_WOBBLE_SHIFT,
    linescan: LineScanParams | bool | None = None,
    pushframe: PushFrameParams | bool | None = None,
    frames: bool = True,
) -> SurveyInfo:
    """Render a synthetic far-side survey with known truth into ``outdir``.

    Parameters
    ----------
    outdir : str or Path
        Created if needed. Files of a previous simulation there (its manifest) are
        replaced; nothing else is touched.
    seed : int
        Every random choice derives from it; the same seed writes identical bytes.
    n_strips, frames_per_strip : int
        Survey layout (north-south strips side by side in longitude).
    size : (lines, samples)
        Frame size, pixels.
    formats : tuple of str
        Formats given to the light frames in turn (``pds3``, ``pds4``, ``fits``, ``tiff``);
        calibration frames take the labelled ones among them.
    pointing_error_deg : (min, max)
        Per-axis pointing error of the written ISDs, degrees (random sign).
    position_error_m : float
        Position error of the written ISDs, metres (random direction).
    calibration : bool
        Also write 5 bias, 5 dark and 5 flat frames into ``outdir/calibration``.
    region : (lon_min, lon_max, lat_min, lat_max), optional
        Degrees to cover; default: derived from ``gsd_m`` and the overlaps around (0 N, 180 E).
    gsd_m : float
        Nominal ground sample distance when ``region`` is not given, metres.
    overlap_along, overlap_across : float
        Minimum planned overlaps (fractions).
    wobble_deg : float
        Largest off-nadir wobble per axis, degrees.
    incidence_deg : (min, max)
        Solar incidence range at the region centre (one value per strip), degrees.
    supersample : int
        Rays per pixel along each axis.
    detector_params, radiometry, surface_params, camera : optional
        Override the constants (all recorded in the truth).
    workers : int, optional
        Threads rendering frames in parallel (default: up to 4); results do not depend on it.
    law : str, callable or PhotometricLaw, optional
        Scattering law of the surface (:func:`pipeline.simulation.photometry.scattering_law`);
        default: lunar-Lambert with the radiometry's constant ``L``.
    relief : ReliefParams or True, optional
        Render through a synthetic DEM (basin wall, craters; 3 km of relief by default).
    film : FilmParams or True, optional
        Film-like survey: 8-bit PNG frames, ISD sidecars only, scan borders and fiducials,
        film grain, no calibration frames (``formats`` and ``calibration`` are ignored).
    oblique_deg : (min, max), optional
        Oblique strips: emission at the frame targets, degrees (e.g. ``(30, 45)``).
    oblique_side : {"alternate", "east", "west"}
    max_wobble_shift : float
        Largest wobble shift, fraction of a frame (0.15; 0.02 keeps small frames at their
        planned overlaps).
    linescan, pushframe : LineScanParams, PushFrameParams or True, optional
        Also fly line-scan / push-frame strips (ALE ISD sidecars, jitter, truth).
    frames : bool
        Write the frame-camera frames (False: strips only; the frame plan still sets the region).

    Returns
    -------
    SurveyInfo

    Examples
    --------
    >>> info = simulate_survey("/tmp/survey", seed=1, n_strips=2, frames_per_strip=3,
    ...                        size=(96, 96))                                  # doctest: +SKIP
    >>> truth = load_truth("/tmp/survey")                                     # doctest: +SKIP
    """
    outdir = Path(outdir)
    film_p = _option(film, FilmParams)
    relief_p = _option(relief, ReliefParams)
    law_obj = None if law is None else scattering_law(law)
    formats = ("tiff",) if film_p else tuple(formats)  # film frames become PNG once planned
    calibration = calibration and not film_p
    size = (int(size[0]), int(size[1]))
    if min(size) < 16:
        raise ConfigError(f"frames must be at least 16 x 16 pixels, got {size}")
    lo, hi = pointing_error_deg
    if not 0 <= lo <= hi:
        raise ConfigError(f"pointing_error_deg must be (min, max) with 0 <= min <= max, got {pointing_error_deg}")
    rad = radiometry or Radiometry()
    dparams = detector_params or DetectorParams()
    plan = plan_survey(
        seed=seed,
        n_strips=n_strips,
        frames_per_strip=frames_per_strip,
        size=size,
        region=region,
        gsd_m=gsd_m,
        overlap_along=overlap_along,
        overlap_across=overlap_across,
        wobble_deg=wobble_deg,
        incidence_deg=incidence_deg,
        pointing_error_deg=pointing_error_deg,
        position_error_m=position_error_m,
        formats=formats,
        camera=camera,
        radiometry=rad,
        surface_params=surface_params,
        law=law_obj,
        oblique_deg=oblique_deg,
        oblique_side=oblique_side,
        max_wobble_shift=max_wobble_shift,
    )
    if film_p:
        plan.frames = [dataclasses.replace(f, format="png") for f in plan.frames]
    ls_p, pf_p = _option(linescan, LineScanParams), _option(pushframe, PushFrameParams)
    scans = None if not (ls_p or pf_p) else plan_scan_survey(
        plan, seed=seed, linescan=ls_p, pushframe=pf_p, formats=formats, incidence_deg=incidence_deg,
        radiometry=rad, surface_params=surface_params or SurfaceParams(), law=law_obj)
    plan.frames = plan.frames if frames else []
    surface = Surface(seed, plan.region_deg, surface_params)
    detector = None if film_p or not plan.frames else Detector.from_seed(seed, size, dparams)
    outdir.mkdir(parents=True, exist_ok=True)
    _clean_previous(outdir)
    truth_dir = outdir / TRUTH_DIR
    truth_dir.mkdir(exist_ok=True)

    true_cams = {f.id: plan.true_camera(f) for f in plan.frames}
    reported = {f.id: plan.reported_camera(f) for f in plan.frames}
    relief_model = terrain = None
    if relief_p:
        cams = [*true_cams.values(), *(scans.true_cameras.values() if scans else ())]
        relief_model, terrain = prepare_terrain(surface, relief_p, cams, plan.gsd_m)
        heights = tuple(round(v, 3) for v in terrain.height_range_m)
        true_cams = {k: dataclasses.replace(c, height_range_m=heights) for k, c in true_cams.items()}
        reported = {k: dataclasses.replace(c, height_range_m=heights) for k, c in reported.items()}
        if scans:
            scans.with_height_range(heights)
        if relief_p.shadows:
            for sun in sorted({tuple(c.sun_position_m.tolist()) for c in cams}):
                terrain.shadow_map(sun)  # once per Sun, before the threads
    shadows = bool(relief_p and relief_p.shadows)

    def render(i_frame):
        i, frame = i_frame
        frame_seed = int(np.random.default_rng([int(seed), 0xF4A3E, i]).integers(0, 2**31 - 1))
        if film_p:
            scene = render_iof(true_cams[frame.id], surface, supersample=supersample,
                               psf_sigma_px=dparams.psf_sigma_px, radiometry=rad, law=law_obj,
                               terrain=terrain, shadows=shadows)
            return scene, film_frame(scene.iof, film_p, np.random.default_rng([frame_seed, 0xF11A]))
        return render_frame(
            true_cams[frame.id], surface, exposure_s=frame.exposure_s, detector=detector,
            seed=frame_seed, radiometry=rad, supersample=supersample, law=law_obj, terrain=terrain, shadows=shadows,
        )

    n_workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:
        rendered = list(pool.map(render, enumerate(plan.frames)))

    files: dict[str, list[str]] = {}
    frame_truth: dict[str, Any] = {}
    written: list[str] = []
    film_doc: dict[str, Any] = {}
    masks: dict[str, np.ndarray] = {}
    for frame, out in zip(plan.frames, rendered):
        isd = reported[frame.id].to_isd()
        if film_p:
            sc, ff = out
            paths = [write_png8(outdir, frame.id, ff.data)]
            side = write_sidecar(outdir, frame.id, isd, None)
            film_doc[frame.id] = film_truth(ff)
            masks[f"{frame.id}/border"], masks[f"{frame.id}/fiducials"] = ff.border, ff.fiducials
        else:
            sc = out.scene
            label = _frame_label(plan, frame)
            paths = write_frame(outdir, out.dn, label, frame.format)
            side = write_sidecar(outdir, frame.id, isd, label if frame.format not in LABELLED_FORMATS else None)
        write_sidecar(truth_dir, frame.id, true_cams[frame.id].to_isd())
        rel = [p.relative_to(outdir).as_posix() for p in [*paths, side]]
        files[frame.id] = rel
        written += rel + [f"{TRUTH_DIR}/{frame.id}.json"]
        cl, cs = size[0] // 2, size[1] // 2
        frame_truth[frame.id] = {
            **frame.to_dict(),
            "files": rel,
            "gsd_m": _r(true_cams[frame.id].gsd_m(), 3),
            "incidence_center_deg": _r(math.degrees(sc.incidence[cl, cs]), 4),
            "emission_center_deg": _r(math.degrees(sc.emission[cl, cs]), 4),
            "phase_center_deg": _r(math.degrees(sc.phase[cl, cs]), 4),
            "iof_mean": _r(np.nanmean(sc.iof), 6),
            **({} if film_p else {"dn_median": float(np.median(out.dn)), "defects": out.exposure.defects()}),
        }
        if film_p:
            frame_truth[frame.id]["film"] = film_doc[frame.id]
        if terrain is not None and shadows:
            frame_truth[frame.id]["lit_fraction"] = _r(np.mean(sc.lit[sc.on_body]), 4) if sc.on_body.any() else 0.0

    cal_truth: dict[str, Any] = {}
    cal_files: dict[str, list[str]] = {}
    if scans:
        sc_out = scans.render_and_write(outdir, surface, radiometry=rad, detector_params=dparams, law=law_obj,
                                        frame_area=size[0] * size[1], supersample=supersample, terrain=terrain,
                                        shadows=shadows, calibration=calibration, formats=formats, workers=n_workers)
        files.update(sc_out.files), frame_truth.update(sc_out.truth)
        written += sc_out.written
    if calibration and detector is not None:
        cal_files, cal_frames = write_calibration_frames(outdir, seed=seed, formats=formats, detector=detector,
                                                        instrument_id=plan.camera.instrument_id)
        written += [rel for rels in cal_files.values() for rel in rels]
        cal_truth.update(cal_frames)
    if scans:
        cal_files.update(sc_out.calibration_files), cal_truth.update(sc_out.calibration_truth)

    along, across = measure_overlaps(plan, true_cams)
    coverage = coverage_fraction(true_cams.values(), plan.region_deg)

    # ---- truth files
    photometry = photometry_truth(rad, dparams, supersample, law_obj)
    config = pipeline_config(rad, dparams, law_obj, film=bool(film_p))
    names = []
    if detector is not None:
        names += write_detector_truth(truth_dir, seed, size, dparams, detector)
    (truth_dir / "surface.json").write_text(
        dump_json({**surface.to_dict(), "craters_ge_2km": surface.craters.rows(2.0)}), encoding="utf-8", newline="\n"
    )
    (truth_dir / "calibration_config.yaml").write_text(yaml_text(config), encoding="utf-8", newline="\n")
    names += ["surface.json", "calibration_config.yaml"]
    if terrain is not None:
        write_dem(truth_dir / DEM_FILE, terrain.dem)
        names.append(DEM_FILE)
    if film_p:
        (truth_dir / FILM_MASKS_FILE).write_bytes(deterministic_npz(masks))
        names.append(FILM_MASKS_FILE)
    truth_files = [f"{TRUTH_DIR}/{n}" for n in [*names, "survey.json"]]
    written += truth_files
    info = SurveyInfo(
        outdir=outdir,
        frame_ids=[f.id for f in plan.frames] + ([s.id for s in scans.strips] if scans else []),
        files=files,
        calibration_files=cal_files,
        truth_files=truth_files,
        formats=dict(Counter(f.format for f in [*plan.frames, *(scans.strips if scans else ())])),
        size=size,
        gsd_m=_r(plan.gsd_m, 3),
        altitude_m=_r(plan.altitude_m, 3),
        region_deg=tuple(_r(v, 6) for v in plan.region_deg),
        overlap_along=(_r(min(along), 4), _r(max(along), 4)) if along else (1.0, 1.0),
        overlap_across=(_r(min(across), 4), _r(max(across), 4)) if across else (1.0, 1.0),
        coverage=_r(coverage, 4),
        seed=int(seed),
        n_strips=n_strips if plan.frames else 0,
        frames_per_strip=frames_per_strip if plan.frames else 0,
    )
    survey = {
        "generator": f"farside {__version__} pipeline.simulation",
        "seed": int(seed),
        "conventions": {
            "image_coordinates": "(line, sample), upper-left corner (0, 0), first pixel centre (0.5, 0.5)",
            "defect_pixels": "[line, sample] zero-based array indices",
            "time_s": "ISD center_ephemeris_time: seconds after 2000-01-01T12:00:00 UTC (leap seconds ignored)",
            "pointing_error_deg": "rotation vector in the camera frame: cam_to_body_reported = "
            "cam_to_body_true @ R(error); undo with with_pointing_correction(-error) (first order)",
            "position_error_m": "added to the true position, body-fixed metres",
            "angles": "degrees in truth files, radians in the Python API",
        },
        "plan": plan.to_dict(),
        "photometry": photometry,
        "detector_params": dparams.to_dict(),
        "pipeline_config": config,
        "summary": {k: v for k, v in info.to_dict().items() if k not in ("outdir", "files", "calibration_files")},
        "frames": frame_truth,
        "calibration": cal_truth,
    }
    wobble = None if max_wobble_shift == MAX_WOBBLE_SHIFT else max_wobble_shift
    survey.update(option_blocks(plan, relief_model, terrain, film_p, wobble), **(sc_out.block if scans else {}))
    survey[MANIFEST_KEY] = sorted(written)
    (truth_dir / "survey.json").write_text(dump_json(survey), encoding="utf-8", newline="\n")
    log.info("simulated survey in %s: %s", outdir, info)
    return info

