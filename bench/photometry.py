"""Photometry from the data, end to end: surveys rendered with each scattering law.

    python -m bench.photometry [--laws all|NAME,...] [--seed 5] [--data bench/data/photometry] [--out FILE.json]

Every survey (:data:`SURVEY`: 4 strips x 4 frames of 256^2 at 180 m, one solar incidence
per strip from 30 to 75 deg) is rendered with one law of :data:`LAWS` and run through the
pipeline's own steps as ``farside mosaic`` runs them with the default configuration
(ingest, calibrate, register, cross-check, the photometric fit ``calibration.photometry.model:
auto``, normalisation, equalisation, mosaic), then once more normalised with the fixed
McEwen lunar-Lambert ``L(phase)`` (the previous default) from the same registered frames.
For each it measures, against the simulator's truth:

- ``pearson``: correlation of the mosaic with the true normal albedo (pixel centres);
  this includes the mosaic's absolute georeferencing error (no ground control: the
  registered network's datum follows the a priori cameras, ~100-200 m on these surveys);
- ``pearson_true_cameras``: the same normalised frames mosaicked through the simulator's
  true cameras (the photometry alone); ``geolocation_m``: the registered cameras' ground
  error against the true ones (mean and largest over the frames, m);
- ``slope_pct_per_10deg``: the brightness gradient the law leaves across the frames: the
  ratio of each normalised frame to the true normal albedo at its pixels (true cameras)
  regressed on the pixels' incidence with one free level per frame, percent per 10 deg
  (what a gain and offset per frame cannot remove); ``max_frame_slope``: the largest of the
  frames' own slopes;
- ``z``: for the fit, the largest ``|fitted - true| / uncertainty`` (``L(phase)`` over the
  observed phases for lunar-Lambert, the free Hapke parameters for Hapke).

Issue 20 asks, with ``auto``: ``pearson >= 0.97``, ``|slope| < 1`` and ``z <= 1``-ish
("within its reported uncertainty"). ``tests/calibration/test_photometry_end_to_end.py``
runs three of the laws.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from bench.accuracy import pearson
from pipeline import api
from pipeline.calibration.photometric_fit import PhotometricFit
from pipeline.config import Config, load_config
from pipeline.frame import Frame
from pipeline.geometry.body import xyz_to_lonlat_deg
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.reflectance import lunar_lambert_l
from pipeline.mosaicking.gridspec import output_grid
from pipeline.orchestration import steps
from pipeline.simulation import scattering_law, simulate_survey
from pipeline.simulation.truth import Truth, load_truth

SURVEY: dict[str, Any] = {
    "n_strips": 4, "frames_per_strip": 4, "size": (256, 256), "incidence_deg": (30.0, 75.0),
    "formats": ("tiff",), "workers": 1,
}
"""Keyword arguments of :func:`simulate_survey` for the photometry surveys. 4 x 4 frames: on
3 x 3 the fitted Hapke ``w`` scattered by 0.014 between seeds and the within-frame slope it
leaves by 0.75 % per 10 deg (docs/calibration.md), too coarse for the 1 % target."""

LAWS: dict[str, tuple[str, dict[str, float]]] = {
    "lommel_seeliger": ("lommel_seeliger", {}),
    "lunar_lambert_0.2": ("lunar_lambert", {"L": 0.2}),
    "lunar_lambert_0.5": ("lunar_lambert", {"L": 0.5}),
    "lunar_lambert_0.8": ("lunar_lambert", {"L": 0.8}),
    "mcewen": ("lunar_lambert_mcewen", {}),
    "hapke_lroc": ("hapke_lroc", {"w": 0.25, "theta_deg": 18.0}),
    "hapke_smooth": ("hapke", {"w": 0.3}),
}
"""Scattering laws of the surveys: name -> (``farside simulate --law``, ``--law-param``s)."""


@dataclass
class LawRun:
    """One normalisation of a survey: the mosaic, the normalised frames and what they measure."""

    mosaic: Path
    frames: list[Frame]
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class SurveyRun:
    """A survey through the pipeline: the fit, and the ``auto`` and ``mcewen`` normalisations."""

    fit: PhotometricFit | None
    runs: dict[str, LawRun]
    seconds: dict[str, float]
    cameras: dict[str, Any] = field(default_factory=dict)
    """The registered cameras by frame id."""


def simulate(outdir: str | Path, law: str, seed: int = 5, **overrides: Any) -> Path:
    """Render the photometry survey with ``LAWS[law]`` into ``outdir`` (returned)."""
    name, params = LAWS[law]
    outdir = Path(outdir)
    simulate_survey(outdir, seed=seed, law=scattering_law(name, **params), **{**SURVEY, **overrides})
    return outdir


def run_survey(src: str | Path, out: str | Path, config: Config | None = None) -> SurveyRun:
    """The survey at ``src`` through the default steps; mosaics ``out/auto.tif`` and ``out/mcewen.tif``."""
    cfg, src, out = config or load_config(), Path(src), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    cal_dir = src / "calibration"
    found = api.ingest(src, calibration=cal_dir if cal_dir.is_dir() else None, config=cfg)
    frames = api.calibrate(found.frames, found.calibration, cfg)
    reg = api.register(frames, cfg)
    frames = api.crosscheck(frames, reg, cfg)
    good = [f for f in frames if isinstance(f, Frame) and f.camera is not None]
    cams = steps.cameras_of(reg)
    grid = output_grid([cams.get(f.id, f.camera) for f in good], cfg.mosaicking)
    cal = steps.effective_calibration(good, cfg.calibration)
    dem = str(cfg.mosaicking.dem) if cfg.mosaicking.dem else None
    t["calibrate+register"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit = steps.photometry_step(good, reg, grid, cal, dem, cfg.run.seed) if steps.auto_photometry(cal) else None
    t["photometric fit"] = time.perf_counter() - t0
    runs = {}
    for name, f in (("auto", fit), ("mcewen", None)):
        t0 = time.perf_counter()
        normalised = [steps.normalise_step(fr, f, cal, reg, dem) for fr in good]
        path = api.mosaic(normalised, out / f"{name}.tif", registration=reg, config=cfg)
        runs[name] = LawRun(path, normalised)
        t[f"normalise+mosaic ({name})"] = time.perf_counter() - t0
    return SurveyRun(fit, runs, t, {f.id: cams.get(f.id, f.camera) for f in good})


# ------------------------------------------------------------------------------- metrics
def mosaic_pearson(path: str | Path, truth: Truth, samples: int = 200_000, seed: int = 0) -> float:
    """Correlation of band 1 of the mosaic at ``path`` with the true normal albedo."""
    with rasterio.open(path) as ds:
        img = ds.read(1).astype(np.float64)
        valid = (ds.read_masks(1) > 0) & np.isfinite(img)
        grid = MapGrid(ds.crs.to_wkt(), ds.transform, (ds.height, ds.width))
    rr, cc = np.nonzero(valid)
    if rr.size > samples:
        pick = np.random.default_rng(seed).choice(rr.size, samples, replace=False)
        rr, cc = rr[pick], cc[pick]
    x, y = grid.transform * (cc + 0.5, rr + 0.5)
    lon, lat = grid.xy_to_lonlat(x, y)
    return pearson(img[rr, cc], truth.normal_albedo(np.radians(lon), np.radians(lat)))


def true_camera_pearson(run: LawRun, truth: Truth, out: str | Path) -> float:
    """:func:`mosaic_pearson` of ``run``'s normalised frames mosaicked through the true cameras at ``out``."""
    frames = [replace(f, camera=truth.true_cameras[f.id]) for f in run.frames if f.id in truth.true_cameras]
    return mosaic_pearson(api.mosaic(frames, out, overwrite=True), truth)


def geolocation_m(cameras: dict[str, Any], truth: Truth, step: int = 32) -> dict[str, float]:
    """Ground distance between the registered and the true cameras' rays (m): mean and largest frame mean."""
    per = []
    for fid, cam in cameras.items():
        true = truth.true_cameras.get(fid)
        if true is None:
            continue
        ll, ss = np.mgrid[step // 2 : true.lines : step, step // 2 : true.samples : step].reshape(2, -1) + 0.5
        xt, hit = truth.true_ground(fid, ll, ss)
        xr = np.asarray(cam.image_to_ground(ll, ss))
        per.append(float(np.linalg.norm(xr[hit] - xt[hit], axis=-1).mean()))
    return {"mean": float(np.mean(per)), "max": float(np.max(per))} if per else {}


def frame_slopes(frames: list[Frame], truth: Truth, step: int = 4) -> dict[str, Any]:
    """Slope of normalised brightness / true normal albedo against incidence (% per 10 deg).

    Every ``step``-th pixel of each frame's valid pixels; ground points and incidence from
    the true cameras. ``slope_pct_per_10deg`` pools the frames with one free level each
    (the slope within frames), ``frame_slopes`` are the frames' own.
    """
    q_all, di_all, per = [], [], {}
    for f in frames:
        cam = truth.true_cameras.get(f.id)
        if cam is None or f.data is None:
            continue
        ll, ss = np.mgrid[0 : f.data.shape[0] : step, 0 : f.data.shape[1] : step]
        ok = ~np.asarray(f.mask)[ll, ss]
        ll, ss = ll[ok] + 0.5, ss[ok] + 0.5
        xyz, hit = truth.true_ground(f.id, ll, ss)
        lon, lat = xyz_to_lonlat_deg(xyz[hit])
        albedo = truth.normal_albedo(np.radians(lon), np.radians(lat))
        inc = cam.illumination_angles(xyz[hit])[0]
        q = np.asarray(f.data, np.float64)[(ll[hit] - 0.5).astype(int), (ss[hit] - 0.5).astype(int)] / albedo
        q = q / np.median(q)
        di = inc - inc.mean()
        if np.sum(di * di) > 0:
            per[f.id] = float(np.sum(di * (q - q.mean())) / np.sum(di * di) * np.radians(10.0) * 100.0)
            q_all.append(q - q.mean())
            di_all.append(di)
    q, di = np.concatenate(q_all), np.concatenate(di_all)
    pooled = float(np.sum(di * q) / np.sum(di * di) * np.radians(10.0) * 100.0)
    worst = max(per.values(), key=abs) if per else float("nan")
    return {"slope_pct_per_10deg": pooled, "max_frame_slope": worst, "frame_slopes": per}


def parameter_z(fit: PhotometricFit | None, law: str) -> dict[str, Any]:
    """How far the fitted law is from the rendering law, in its reported uncertainties."""
    if fit is None or not fit.constrained:
        return {"z": None, "fitted": fit.message if fit is not None else "no fit"}
    name, params = LAWS[law]
    out: dict[str, Any] = {"fitted": fit.message, "model": fit.model}
    if fit.model == "lunar_lambert" and name in ("lunar_lambert", "lommel_seeliger", "lunar_lambert_mcewen"):
        lo, hi = fit.law.nodes[0], fit.law.nodes[-1]
        g = np.linspace(lo, hi, 25)
        ell, sig = fit.lunar_lambert_l(g)
        true = (np.full_like(g, params.get("L", 1.0)) if name != "lunar_lambert_mcewen" else lunar_lambert_l(g))
        z = np.abs(ell - true) / np.maximum(sig, 1e-12)
        out.update(z=float(z.max()), max_error=float(np.abs(ell - true).max()), max_sigma=float(sig.max()))
    elif fit.model == "hapke" and name == "hapke_lroc":
        truth = {"w": params["w"], "theta": np.radians(params["theta_deg"])}
        z = [abs(v - truth[n]) / s for n, v, s in zip(fit.parameter_names, fit.parameters, fit.uncertainties,
                                                     strict=True) if n in truth]
        out.update(z=float(max(z)) if z else None,
                   parameters={n: (float(v), float(s)) for n, v, s in zip(fit.parameter_names, fit.parameters,
                                                                         fit.uncertainties, strict=True)})
    else:
        out["z"] = None  # a family the rendering law is not part of
    return out


def measure(run: SurveyRun, truth: Truth, law: str) -> dict[str, Any]:
    """The metrics of the module docstring for both normalisations of one survey."""
    for name, r in run.runs.items():
        r.metrics = {"pearson": mosaic_pearson(r.mosaic, truth),
                     "pearson_true_cameras": true_camera_pearson(r, truth, r.mosaic.with_name(f"{name}-true.tif")),
                     **frame_slopes(r.frames, truth)}
    return {"auto": run.runs["auto"].metrics, "mcewen": run.runs["mcewen"].metrics,
            "fit": parameter_z(run.fit, law), "geolocation_m": geolocation_m(run.cameras, truth),
            "seconds": run.seconds}


def main(argv: list[str] | None = None) -> int:
    """Run the laws asked for and print one line per law (JSON with ``--out``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--laws", default="all")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--data", default="bench/data/photometry")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    names = list(LAWS) if args.laws == "all" else args.laws.split(",")
    results = {}
    for law in names:
        src = Path(args.data) / f"{law}-{args.seed}"
        if not (src / "truth").is_dir():
            simulate(src, law, seed=args.seed)
        truth = load_truth(src)
        run = run_survey(src, Path(args.data) / "runs" / f"{law}-{args.seed}")
        results[law] = res = measure(run, truth, law)
        a, m, f = res["auto"], res["mcewen"], res["fit"]
        z = "-" if f["z"] is None else f"{f['z']:.2f}"
        g = res["geolocation_m"]
        line = (f"{law}: auto r {a['pearson']:.4f} (true cameras {a['pearson_true_cameras']:.4f}; geolocation "
                f"{g.get('mean', float('nan')):.0f} m, frames {g.get('max', float('nan')):.0f}) "
                f"slope {a['slope_pct_per_10deg']:+.2f} (frames {a['max_frame_slope']:+.2f}) "
                f"| McEwen r {m['pearson']:.4f} (true cameras {m['pearson_true_cameras']:.4f}) slope "
                f"{m['slope_pct_per_10deg']:+.2f} (frames {m['max_frame_slope']:+.2f}) | z {z} | {f['fitted']}")
        print(line, flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
