"""How the matching passes through a DEM settle: cameras on the true surface after each pass.

    python -m bench.dem_passes SURVEY [--passes 6] [--dem DEM]

Runs what :func:`pipeline.register` runs through ``mosaicking.dem`` (the survey's truth DEM
unless ``--dem``), one pass at a time: every frame divided by the shading its camera predicts
(``steps.shade_step``, with the previous pass's cameras), every pair matched again, the
adjustment from the prior cameras; after each pass the cameras are measured on the TRUE surface
(:func:`bench.relief.camera_misregistration`, frame pixels). ``registration.dem_passes`` is the
number of passes a run makes (docs/registration.md, "Matching through a DEM").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.relief import camera_misregistration, summary
from pipeline import calibrate, ingest
from pipeline.config import load_config
from pipeline.frame import Frame
from pipeline.geometry.overlap import overlap_pairs
from pipeline.orchestration import steps
from pipeline.simulation import load_truth


def passes(survey: str | Path, n: int, dem: str | None = None):
    """Yield ``(pass, summary of px errors)`` for passes 1..``n`` over ``survey``."""
    survey = Path(survey)
    dem = dem or str(survey / "truth" / "dem.tif")
    cfg = load_config(None, {"mosaicking": {"dem": dem}})
    reg = cfg.registration
    found = ingest(survey, calibration=survey / "calibration", config=cfg)
    good = [f for f in calibrate(found.frames, found.calibration, cfg) if isinstance(f, Frame)]
    truth = load_truth(survey)
    cameras = {f.id: f.camera for f in good}
    pairs = overlap_pairs(list(cameras.values()), min_area_km2=reg.min_overlap_km2,
                          min_fraction=reg.min_overlap_fraction)
    result = None
    for k in range(1, n + 1):
        shaded = [steps.shade_step(f, reg, dem, result) for f in good]
        matches = [steps.match_step(shaded[p.i], shaded[p.j], p, reg, cfg.run.seed, dem) for p in pairs]
        result = steps.adjust_step(cameras, matches, [], reg, cfg.run.seed, dem)
        yield k, summary(camera_misregistration(truth, dict(result.cameras)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("survey")
    ap.add_argument("--passes", type=int, default=6)
    ap.add_argument("--dem", default=None)
    args = ap.parse_args(argv)
    for k, errors in passes(args.survey, args.passes, args.dem):
        print(json.dumps({"pass": k, "cameras": {key: round(float(v), 3) for key, v in errors.items()}}), flush=True)


if __name__ == "__main__":
    main()
