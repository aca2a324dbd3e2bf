"""Speed of the scanning cameras: image -> ground and ground -> image of large pixel blocks.

    python -m bench.linescan_speed [--nac ISD] [--wac ISD] [--lines 1000] [--repeat 1]

Two workloads, each timed for ``image_to_ground`` (all pixel centres, height 0) and
``ground_to_image`` of the resulting points (usgscsm's search, vectorised):

- **nac_block**: a ``lines x 5064`` block (default 1000 lines) at the centre of a real
  far-side LRO NAC-L strip (``lidarObservationImage1.isd``, 52224 x 5064 lines x samples);
  line and sample axes are passed as broadcasting ``(L, 1)`` / ``(1, S)`` arrays, the usual
  way to ask for a block. ``round_trip_px`` is the worst image -> ground -> image error.
- **wac_strip**: every pixel of the real LRO WAC VIS push-frame strip of usgscsm's tests
  (``lroWacPushFrame.json``, 364 framelets of 14 x 1024); ``inverted_fraction`` is the share
  of pixels whose back-projection lands within 1e-6 px of the input (usgscsm's framelet
  search answers with a neighbour framelet near framelet edges: its known issue).

Times are wall-clock seconds of the best of ``repeat`` runs (single process; numpy may use
more than one core), with the process CPU seconds beside them (``*_cpu_s``) because wall
times on a shared machine say more about the neighbours than about the code.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from pipeline.geometry import load_camera

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
NAC_ISD = REFERENCE / "linescan" / "isds" / "isis3" / "lidarObservationImage1.isd"
WAC_ISD = REFERENCE / "usgscsm" / "lroWacPushFrame.json"


def best_of(fn, repeat: int):
    """(wall s, process CPU s) of the fastest of ``repeat`` runs, and the result."""
    best, out = (float("inf"), float("inf")), None
    for _ in range(max(1, repeat)):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, (time.perf_counter() - t, time.process_time() - c))
    return best, out


def _workload(cam, lines: np.ndarray, samples: np.ndarray, repeat: int) -> dict:
    n = lines.size * samples.size
    (t_i2g, c_i2g), xyz = best_of(lambda: cam.image_to_ground(lines[:, None], samples[None, :]), repeat)
    (t_g2i, c_g2i), (back_l, back_s) = best_of(lambda: cam.ground_to_image(xyz), repeat)
    err = np.hypot(back_l - lines[:, None], back_s - samples[None, :])
    return {
        "isd": cam.image_identifier or cam.name_sensor,
        "pixels": int(n),
        "image_to_ground_s": round(t_i2g, 3),
        "ground_to_image_s": round(t_g2i, 3),
        "image_to_ground_cpu_s": round(c_i2g, 3),
        "ground_to_image_cpu_s": round(c_g2i, 3),
        "image_to_ground_us_per_px": round(1e6 * t_i2g / n, 3),
        "ground_to_image_us_per_px": round(1e6 * t_g2i / n, 3),
        "round_trip_px": float(err.max()),
        "inverted_fraction": float(np.mean(err < 1e-6)),
    }


def linescan_speed(nac_isd: str | Path = NAC_ISD, wac_isd: str | Path = WAC_ISD, lines: int = 1000,
                   repeat: int = 1) -> dict:  # fmt: skip
    """Timings (s) and accuracy of the two workloads (see the module docstring).

    Returns
    -------
    dict
        ``{"nac_block": {...}, "wac_strip": {...}, "cpus": int}``; each workload reports
        ``pixels``, ``image_to_ground_s``, ``ground_to_image_s``, the same per pixel (µs),
        ``round_trip_px`` and ``inverted_fraction``.
    """
    nac = load_camera(nac_isd)
    first = max(0, nac.lines // 2 - lines // 2)
    nac_lines = first + np.arange(min(lines, nac.lines)) + 0.5
    result = {"cpus": os.cpu_count()}
    result["nac_block"] = _workload(nac, nac_lines, np.arange(nac.samples) + 0.5, repeat)
    result["nac_block"]["lines"] = [float(nac_lines[0]), float(nac_lines[-1])]
    wac = load_camera(wac_isd)
    result["wac_strip"] = _workload(wac, np.arange(wac.lines) + 0.5, np.arange(wac.samples) + 0.5, repeat)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nac", default=str(NAC_ISD), help="line-scan ISD (default: the far-side NAC-L)")
    parser.add_argument("--wac", default=str(WAC_ISD), help="push-frame ISD (default: usgscsm's WAC VIS)")
    parser.add_argument("--lines", type=int, default=1000, help="lines of the NAC block")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best is kept)")
    args = parser.parse_args(argv)
    print(json.dumps(linescan_speed(args.nac, args.wac, args.lines, args.repeat), indent=2))


if __name__ == "__main__":
    main()
