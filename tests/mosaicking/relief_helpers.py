"""Run the pipeline over a simulated survey (Python API, one stage at a time) and measure it
against the truth with :mod:`bench.relief`: the issue-19 targets' measurements in one place.

``python -m tests.mosaicking.relief_helpers SURVEY OUTDIR [--sphere] [--truth-dem]`` prints them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.relief import (
    camera_misregistration,
    mosaic_misregistration,
    overlap_sharpness,
    pointing_errors_deg,
    relief_error,
    summary,
)
from pipeline import calibrate, crosscheck, ingest, mosaic, register
from pipeline.config import load_config
from pipeline.frame import Frame
from pipeline.geometry.warp import orthorectify
from pipeline.io.grids import read_grid
from pipeline.io.reliefmap import default_relief_path, read_relief
from pipeline.orchestration import steps
from pipeline.simulation import load_truth


@dataclass
class ReliefRun:
    """One pipeline run over a survey and what the truth says of it."""

    config: object
    frames: list
    registration: object
    out: Path
    relief: object = None
    truth: object = None
    numbers: dict = field(default_factory=dict)

    @property
    def cameras(self) -> dict:
        return dict(self.registration.cameras)

    @property
    def surface(self):
        """The surface the mosaic went through (relief model, DEM or None: the sphere)."""
        mos = self.config.mosaicking
        return steps.terrain(str(mos.dem) if mos.dem else None, self.relief)


def register_survey(survey: Path, overrides: dict | None = None):
    """Ingest, calibrate and register ``survey`` with the default configuration plus ``overrides``:
    the ``RegistrationResult`` alone (no mosaic)."""
    cfg = load_config(None, overrides or {})
    found = ingest(survey, calibration=survey / "calibration", config=cfg)
    return register(calibrate(found.frames, found.calibration, cfg), cfg)


def run_survey(survey: Path, out: Path, overrides: dict | None = None, registration=None) -> ReliefRun:
    """Ingest, calibrate, register (unless ``registration`` is given), cross-check and mosaic
    ``survey`` into ``out`` with the default configuration plus ``overrides``."""
    cfg = load_config(None, overrides or {})
    found = ingest(survey, calibration=survey / "calibration", config=cfg)
    frames = calibrate(found.frames, found.calibration, cfg)
    reg = registration if registration is not None else register(frames, cfg)
    frames = crosscheck(frames, reg, cfg)
    mosaic(frames, out, registration=reg, config=cfg, overwrite=True)
    rel = default_relief_path(out)
    return ReliefRun(cfg, frames, reg, out, read_relief(rel) if rel.exists() else None, load_truth(survey))


def coarse_dem(src: Path, dst: Path, factor: int) -> Path:
    """``src`` (a GeoTIFF DEM) averaged over ``factor x factor`` posts into ``dst``: a coarse
    global-like DEM (GLD100's role) from the simulator's truth."""
    import rasterio

    with rasterio.open(src) as ds:
        a, prof, t = ds.read(1).astype(float), ds.profile, ds.transform
    r, c = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    b = a[:r, :c].reshape(r // factor, factor, c // factor, factor).mean(axis=(1, 3)).astype("float32")
    prof.update(width=b.shape[1], height=b.shape[0], transform=t * t.scale(factor, factor), dtype="float32",
                tiled=False)
    prof.pop("blockxsize", None)
    prof.pop("blockysize", None)
    with rasterio.open(dst, "w", **prof) as ds:
        ds.write(b, 1)
    return dst


def single_frame_orthos(run: ReliefRun) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every frame orthorectified alone onto the mosaic's grid through the run's surface, with
    the photometric normalisation and the equalisation gain and offset the mosaic applied."""
    cfg, reg = run.config, run.registration
    grid = read_grid(run.out)
    good = [f for f in run.frames if isinstance(f, Frame)]
    cal = steps.effective_calibration(good, cfg.calibration)
    if steps.auto_photometry(cal):
        fit = steps.photometry_step(good, reg, grid, cal, str(cfg.mosaicking.dem) if cfg.mosaicking.dem else None,
                                    cfg.run.seed, run.relief)
        good = [steps.normalise_step(f, fit, cal) for f in good]
    eq = steps.equalize_step(good, reg, grid, cfg.mosaicking)
    out = []
    for f in good:
        values, valid = orthorectify(f.data, f.mask, run.cameras[f.id], grid, dem=run.surface)
        gain, offset = eq.correction(f.id)
        out.append((values * gain + offset, valid))
    return out


def measure(run: ReliefRun, *, sharpness: bool = True) -> dict:
    """The targets' numbers of one run (misregistration in frame pixels, heights in metres)."""
    import rasterio

    truth = run.truth
    n = {"cameras_on_true_surface": summary(camera_misregistration(truth, run.cameras)),
         "mosaic_pairs": summary(mosaic_misregistration(truth, run.cameras, read_grid(run.out), run.surface))}
    if run.relief is not None and truth.terrain is not None:
        n["relief"] = relief_error(run.relief, truth.terrain.dem)
    err = pointing_errors_deg(truth, run.registration.corrections)
    n["pointing_error_deg"] = {"max_abs": np.abs(err).max(axis=0).round(4).tolist(),
                               "mean": err.mean(axis=0).round(4).tolist()}
    conv = run.registration.convergence
    n["convergence"] = {"converged": conv.converged, "drift": conv.drift,
                        "rms_rotation_sigmas": round(conv.rms_rotation_sigmas, 3)}
    if sharpness:
        with rasterio.open(run.out) as ds:
            band = ds.read(1)
        n["sharpness"] = overlap_sharpness(band, single_frame_orthos(run))
    run.numbers = n
    return n


def main(argv: list[str]) -> None:
    survey, outdir = Path(argv[0]), Path(argv[1])
    over: dict = {}
    if "--sphere" in argv:
        over = {"registration": {"points": "surface"}, "mosaicking": {"relief": "sphere"}}
    if "--truth-dem" in argv:
        over = {"mosaicking": {"dem": str(survey / "truth" / "dem.tif")}}
    outdir.mkdir(parents=True, exist_ok=True)
    run = run_survey(survey, outdir / "m.tif", over)
    print(json.dumps(measure(run), indent=1, default=float))


if __name__ == "__main__":
    main(sys.argv[1:])
