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

Everything is deterministic from the seed: running twice writes identical bytes.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import __version__
from pipeline.errors import ConfigError
from pipeline.simulation.sensor import Detector, DetectorParams, Radiometry, expose, render_frame
from pipeline.simulation.surface import Surface, SurfaceParams
from pipeline.simulation.survey import (
    J2000_UTC,
    MISSION_START_UTC,
    CameraSpec,
    SurveyPlan,
    _format_time,
    coverage_fraction,
    overlap_fraction,
    plan_survey,
)
from pipeline.simulation.writers import LABELLED_FORMATS, FrameLabel, dump_json, write_frame, write_sidecar

log = logging.getLogger(__name__)

TRUTH_DIR = "truth"
CALIBRATION_DIR = "calibration"
MANIFEST_KEY = "files"

DARK_EXPOSURES_S = (0.02, 0.04, 0.06, 0.08, 0.10)
FLAT_EXPOSURE_S = 0.05
FLAT_TARGET_DN = 2200.0


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
        return (
            f"{len(self.frame_ids)} light frames ({fmts}; {self.n_strips} strips x {self.frames_per_strip}) "
            f"+ {len(self.calibration_files)} calibration frames, {self.size[0]}x{self.size[1]} px, "
            f"GSD {self.gsd_m:.0f} m, region lon {lon0:.2f}..{lon1:.2f} E, lat {lat0:.2f}..{lat1:.2f}, "
            f"overlap along {self.overlap_along[0]:.0%}-{self.overlap_along[1]:.0%}, "
            f"across {self.overlap_across[0]:.0%}-{self.overlap_across[1]:.0%}, seed {self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serialisable values (paths as strings)."""
        d = dataclasses.asdict(self)
        d["outdir"] = str(self.outdir)
        return d


def _r(x: float, nd: int = 6) -> float:
    return round(float(x), nd)


def _measure_overlaps(plan: SurveyPlan, cams: dict[str, Any]) -> tuple[list[float], list[float]]:
    strips: dict[int, list] = {}
    for f in plan.frames:
        strips.setdefault(f.strip, []).append(f)
    along, across = [], []
    for frames in strips.values():
        for a, b in itertools.pairwise(frames):
            along.append(overlap_fraction(cams[a.id], cams[b.id]))
    keys = sorted(strips)
    for j0, j1 in itertools.pairwise(keys):
        for a in strips[j0]:
            across.append(overlap_fraction(cams[a.id], [cams[b.id] for b in strips[j1]]))
    return along, across


def _calibration_plan(seed: int, formats: tuple[str, ...], size: tuple[int, int]) -> list[dict[str, Any]]:
    labelled = [f for f in formats if f in LABELLED_FORMATS] or list(formats)
    rng = np.random.default_rng([int(seed), 0xCA11B])
    t0 = MISSION_START_UTC - timedelta(days=1)
    items = []
    kinds = [("BIAS", [0.0] * 5), ("DARK", list(DARK_EXPOSURES_S)), ("FLAT", [FLAT_EXPOSURE_S] * 5)]
    n = 0
    for kind, exposures in kinds:
        for i, t in enumerate(exposures):
            start = t0 + timedelta(seconds=60 * n)
            items.append(
                {
                    "id": f"{kind}_{i:02d}",
                    "frame_type": kind,
                    "exposure_s": float(t),
                    "format": labelled[n % len(labelled)],
                    "byte_order": "MSB" if n % 2 == 0 else "LSB",
                    "start_time": _format_time((start - J2000_UTC).total_seconds()),
                    "lamp_scale": _r(rng.uniform(0.98, 1.02)) if kind == "FLAT" else None,
                }
            )
            n += 1
    return items


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
    import json

    try:
        old = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return
    for rel in old.get(MANIFEST_KEY, []):
        path = (outdir / rel).resolve()
        if outdir.resolve() in path.parents and path.is_file():
            path.unlink()


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
    formats = tuple(formats)
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
    )
    surface = Surface(seed, plan.region_deg, surface_params)
    detector = Detector.from_seed(seed, size, dparams)
    outdir.mkdir(parents=True, exist_ok=True)
    _clean_previous(outdir)
    truth_dir = outdir / TRUTH_DIR
    truth_dir.mkdir(exist_ok=True)

    true_cams = {f.id: plan.true_camera(f) for f in plan.frames}
    reported = {f.id: plan.reported_camera(f) for f in plan.frames}

    def render(i_frame):
        i, frame = i_frame
        return render_frame(
            true_cams[frame.id], surface, exposure_s=frame.exposure_s, detector=detector,
            seed=int(np.random.default_rng([int(seed), 0xF4A3E, i]).integers(0, 2**31 - 1)),
            radiometry=rad, supersample=supersample,
        )

    n_workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:
        rendered = list(pool.map(render, enumerate(plan.frames)))

    files: dict[str, list[str]] = {}
    frame_truth: dict[str, Any] = {}
    written: list[str] = []
    for frame, out in zip(plan.frames, rendered):
        label = _frame_label(plan, frame)
        paths = write_frame(outdir, out.dn, label, frame.format)
        isd = reported[frame.id].to_isd()
        side = write_sidecar(outdir, frame.id, isd, label if frame.format not in LABELLED_FORMATS else None)
        write_sidecar(truth_dir, frame.id, true_cams[frame.id].to_isd())
        rel = [p.relative_to(outdir).as_posix() for p in [*paths, side]]
        files[frame.id] = rel
        written += rel + [f"{TRUTH_DIR}/{frame.id}.json"]
        sc = out.scene
        cl, cs = size[0] // 2, size[1] // 2
        frame_truth[frame.id] = {
            **frame.to_dict(),
            "files": rel,
            "gsd_m": _r(true_cams[frame.id].gsd_m(), 3),
            "incidence_center_deg": _r(math.degrees(sc.incidence[cl, cs]), 4),
            "emission_center_deg": _r(math.degrees(sc.emission[cl, cs]), 4),
            "phase_center_deg": _r(math.degrees(sc.phase[cl, cs]), 4),
            "iof_mean": _r(np.nanmean(sc.iof), 6),
            "dn_median": float(np.median(out.dn)),
            "defects": out.exposure.defects(),
        }

    cal_truth: dict[str, Any] = {}
    cal_files: dict[str, list[str]] = {}
    if calibration:
        cal_dir = outdir / CALIBRATION_DIR
        cal_dir.mkdir(exist_ok=True)
        lamp_rate = FLAT_TARGET_DN / FLAT_EXPOSURE_S  # DN/s at flat 1
        for k, item in enumerate(_calibration_plan(seed, formats, size)):
            rng = np.random.default_rng([int(seed), 0xCA1, k])
            rate = lamp_rate * item["lamp_scale"] if item["frame_type"] == "FLAT" else 0.0
            exp = expose(rate, item["exposure_s"], detector, rng)
            label = FrameLabel(
                stem=item["id"], frame_type=item["frame_type"], exposure_s=item["exposure_s"],
                start_time=item["start_time"], instrument_id=plan.camera.instrument_id,
                byte_order=item["byte_order"],
            )
            paths = write_frame(cal_dir, exp.dn, label, item["format"])
            if item["format"] not in LABELLED_FORMATS:
                paths.append(write_sidecar(cal_dir, item["id"], None, label))
            rel = [p.relative_to(outdir).as_posix() for p in paths]
            cal_files[item["id"]] = rel
            written += rel
            cal_truth[item["id"]] = {
                **item,
                "files": rel,
                "lamp_rate_dn_s": _r(rate, 4) if rate else None,
                "defects": exp.defects(),
            }

    along, across = _measure_overlaps(plan, true_cams)
    coverage = coverage_fraction(true_cams.values(), plan.region_deg)

    # ---- truth files
    photometry = {
        "model": "lunar_lambert",
        "lunar_lambert_l": rad.lunar_lambert_l,
        "formula": "I/F = albedo * (2 L cos(i) / (cos(i) + cos(e)) + (1 - L) cos(i)), albedo = normal albedo",
        "radiance": "L = I/F * solar_irradiance / (pi * d_au**2)  [W m-2 sr-1 um-1], "
        "d_au = |sun_position - ground point| / AU",
        "dn": "DN = rint(Poisson(gain * (responsivity * L * flat + dark_rate) * t) / gain + cosmic "
        "+ bias + drift + N(0, read_noise)), clipped to 0..4095",
        "solar_irradiance_w_m2_um": rad.solar_irradiance,
        "responsivity_dn_s_per_radiance": rad.responsivity,
        "sun_distance_au": rad.sun_distance_au,
        "psf_sigma_px": dparams.psf_sigma_px,
        "supersample": supersample,
    }
    pipeline_config = {
        "calibration": {
            "responsivity": rad.responsivity,
            "solar_irradiance": rad.solar_irradiance,
            "saturation_dn": float(dparams.saturation_dn),
            "gain_e_per_dn": dparams.gain_e_per_dn,
            "photometry": {"model": "lunar_lambert", "lunar_lambert_l": rad.lunar_lambert_l},
        }
    }
    np_buf = io.BytesIO()
    np.savez_compressed(
        np_buf,
        flat=detector.flat.astype(np.float16),
        dark_rate=detector.dark_rate.astype(np.float16),
        bias=detector.bias.astype(np.float16),
    )
    (truth_dir / "detector.npz").write_bytes(_deterministic_npz(np_buf.getvalue()))
    (truth_dir / "detector.json").write_text(
        dump_json({"seed": int(seed), "shape": list(size), "params": dparams.to_dict(), **detector.defects()}),
        encoding="utf-8", newline="\n",
    )
    (truth_dir / "surface.json").write_text(
        dump_json({**surface.to_dict(), "craters_ge_2km": surface.craters.rows(2.0)}), encoding="utf-8", newline="\n"
    )
    (truth_dir / "calibration_config.yaml").write_text(_yaml(pipeline_config), encoding="utf-8", newline="\n")
    truth_files = [f"{TRUTH_DIR}/{n}" for n in ("detector.npz", "detector.json", "surface.json",
                                                "calibration_config.yaml", "survey.json")]
    written += truth_files
    info = SurveyInfo(
        outdir=outdir,
        frame_ids=[f.id for f in plan.frames],
        files=files,
        calibration_files=cal_files,
        truth_files=truth_files,
        formats=dict(Counter(f.format for f in plan.frames)),
        size=size,
        gsd_m=_r(plan.gsd_m, 3),
        altitude_m=_r(plan.altitude_m, 3),
        region_deg=tuple(_r(v, 6) for v in plan.region_deg),
        overlap_along=(_r(min(along), 4), _r(max(along), 4)) if along else (1.0, 1.0),
        overlap_across=(_r(min(across), 4), _r(max(across), 4)) if across else (1.0, 1.0),
        coverage=_r(coverage, 4),
        seed=int(seed),
        n_strips=n_strips,
        frames_per_strip=frames_per_strip,
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
        "pipeline_config": pipeline_config,
        "summary": {k: v for k, v in info.to_dict().items() if k not in ("outdir", "files", "calibration_files")},
        "frames": frame_truth,
        "calibration": cal_truth,
        MANIFEST_KEY: sorted(written),
    }
    (truth_dir / "survey.json").write_text(dump_json(survey), encoding="utf-8", newline="\n")
    log.info("simulated survey in %s: %s", outdir, info)
    return info


def _yaml(d: dict[str, Any], indent: int = 0) -> str:
    out = "" if indent else "# farside config keys matching the simulated instrument (merge into your config)\n"
    for k, v in d.items():
        if isinstance(v, dict):
            out += " " * indent + f"{k}:\n" + _yaml(v, indent + 2)
        else:
            out += " " * indent + f"{k}: {v}\n"
    return out


def _deterministic_npz(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed member timestamps (numpy stamps the wall clock)."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for item in sorted(src.infolist(), key=lambda i: i.filename):
            info = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return buf.getvalue()


def main_simulate(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m pipeline.simulation OUTDIR --seed N ...``.

    Options: ``--seed N`` (42), ``--strips N`` (3), ``--frames-per-strip N`` (6),
    ``--size N`` (320, square), ``--formats pds3,pds4,fits,tiff``, ``--no-calibration``,
    ``--region LON0 LON1 LAT0 LAT1`` (degrees), ``--gsd M`` (180), ``--force``.

    Returns
    -------
    int
        Exit status (0 on success, 2 on a usage error).
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="farside simulate", description="Render a synthetic far-side survey.")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--strips", type=int, default=3)
    ap.add_argument("--frames-per-strip", type=int, default=6)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--formats", default="pds3,pds4,fits,tiff")
    ap.add_argument("--no-calibration", action="store_true")
    ap.add_argument("--region", type=float, nargs=4, metavar=("LON0", "LON1", "LAT0", "LAT1"))
    ap.add_argument("--gsd", type=float, default=180.0)
    ap.add_argument("--force", action="store_true", help="write into a non-empty OUTDIR")
    args = ap.parse_args(argv)
    if args.outdir.exists() and any(args.outdir.iterdir()) and not args.force:
        sys.stderr.write(f"farside simulate: {args.outdir} is not empty; pass --force to write into it\n")
        return 2
    info = simulate_survey(
        args.outdir, seed=args.seed, n_strips=args.strips, frames_per_strip=args.frames_per_strip,
        size=(args.size, args.size), formats=tuple(s.strip() for s in args.formats.split(",") if s.strip()),
        calibration=not args.no_calibration, region=tuple(args.region) if args.region else None, gsd_m=args.gsd,
    )
    sys.stdout.write(f"wrote {info} to {args.outdir}\n")
    return 0
