"""Speed of tracing a real frame to a real DEM: ray / terrain intersection and relief shading.

    python -m bench.terrain_speed [--isd ISD] [--dem DEM] [--supersample 2] [--repeat 1]

The workload is every pixel of the real LRO WAC VIS push-frame strip of usgscsm's tests
(``lroWacPushFrame.json``, 5096 x 1024 at 105 m) through the real GLD100 + LOLA ISIS cube
(``../shared/reference/isis3``, reduced), as ``registration.relief_shading`` pays it for every
frame in every pass through a DEM:

- ``intersect``: ``image_to_ground_hit(..., dem=dem)`` of every pixel centre, with the ray /
  ellipsoid intersections it took per ray (``evaluations_per_ray``, the first included);
- ``shading``: :func:`pipeline.registration.shading.relief_shading` at ``supersample`` rays
  per pixel along each axis (the default 2: 4 rays per pixel).

Times are the best of ``repeat`` runs, wall and process CPU seconds (single process).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import pipeline.geometry.cameras.scan as scan_module
from bench.linescan_speed import best_of
from pipeline.geometry import load_camera
from pipeline.geometry.dem import Dem
from pipeline.registration.shading import relief_shading

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
WAC_ISD = REFERENCE / "usgscsm" / "lroWacPushFrame.json"
GLD100 = REFERENCE / "isis3" / "WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub"


def terrain_speed(isd: str | Path = WAC_ISD, dem_path: str | Path = GLD100, supersample: int = 2,
                  repeat: int = 1) -> dict:
    """Timings (s) of the two workloads (see the module docstring)."""
    cam = load_camera(isd)
    dem = Dem.from_file(dem_path)
    lines, samples = np.meshgrid(np.arange(cam.lines) + 0.5, np.arange(cam.samples) + 0.5, indexing="ij")
    calls: list[int] = []
    plain = scan_module.ellipsoid_intersect

    def counted(o, d, radii, h=0.0):
        calls.append(len(d))
        return plain(o, d, radii, h)

    scan_module.ellipsoid_intersect = counted
    try:
        (t_int, c_int), (_, hit) = best_of(lambda: cam.image_to_ground_hit(lines, samples, dem=dem), 1)
    finally:
        scan_module.ellipsoid_intersect = plain
    (t_sh, c_sh), (shade, _) = best_of(lambda: relief_shading(cam, dem, supersample=supersample), repeat)
    return {
        "pixels": int(lines.size),
        "intersect_s": round(t_int, 2), "intersect_cpu_s": round(c_int, 2),
        "evaluations_per_ray": round(sum(calls) / lines.size, 2),
        "hit_fraction": float(np.mean(hit)),
        "shading_s": round(t_sh, 2), "shading_cpu_s": round(c_sh, 2), "supersample": supersample,
        "shading_p5_p50_p95": [round(float(v), 3) for v in np.nanpercentile(shade, [5, 50, 95])],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--isd", default=str(WAC_ISD))
    ap.add_argument("--dem", default=str(GLD100))
    ap.add_argument("--supersample", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    print(json.dumps(terrain_speed(args.isd, args.dem, args.supersample, args.repeat), indent=2))


if __name__ == "__main__":
    main()
