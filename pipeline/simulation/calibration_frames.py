"""Calibration frames of a simulated survey: 5 bias, 5 dark and 5 flat frames.

They go into ``OUTDIR/calibration`` in the labelled formats of the survey (in turn), with
alternating byte orders, a day before the first light frame. Darks have exposures of
:data:`DARK_EXPOSURES_S`; flats see a lamp giving :data:`FLAT_TARGET_DN` at flat 1 in
:data:`FLAT_EXPOSURE_S` seconds, scaled per frame by ``lamp_scale`` (0.98..1.02).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.simulation.detector import Detector, expose
from pipeline.simulation.orbit import J2000_UTC, MISSION_START_UTC, _format_time
from pipeline.simulation.truthfiles import rounded as _r
from pipeline.simulation.writers import LABELLED_FORMATS, FrameLabel, write_frame, write_sidecar

CALIBRATION_DIR = "calibration"

DARK_EXPOSURES_S = (0.02, 0.04, 0.06, 0.08, 0.10)
FLAT_EXPOSURE_S = 0.05
FLAT_TARGET_DN = 2200.0


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


def write_calibration_frames(
    outdir: Path, *, seed: int, formats: tuple[str, ...], detector: Detector, instrument_id: str
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Expose and write the 15 calibration frames into ``outdir/calibration``.

    Parameters
    ----------
    outdir : Path
        The survey folder.
    seed : int
        Seed of the frame plan (formats, lamp scales) and of each frame's noise.
    formats : tuple of str
        The survey's formats; the labelled ones among them are used in turn.
    detector : Detector
        The survey's detector.
    instrument_id : str
        Written into the labels.

    Returns
    -------
    files : dict of str to list of str
        Files of each calibration frame, relative to ``outdir``.
    truth : dict of str to dict
        Per frame: its plan item, files, lamp rate (DN/s at flat 1, flats only) and defects.
    """
    cal_truth: dict[str, Any] = {}
    cal_files: dict[str, list[str]] = {}
    cal_dir = outdir / CALIBRATION_DIR
    cal_dir.mkdir(exist_ok=True)
    lamp_rate = FLAT_TARGET_DN / FLAT_EXPOSURE_S  # DN/s at flat 1
    for k, item in enumerate(_calibration_plan(seed, formats, detector.shape)):
        rng = np.random.default_rng([int(seed), 0xCA1, k])
        rate = lamp_rate * item["lamp_scale"] if item["frame_type"] == "FLAT" else 0.0
        exp = expose(rate, item["exposure_s"], detector, rng)
        label = FrameLabel(
            stem=item["id"], frame_type=item["frame_type"], exposure_s=item["exposure_s"],
            start_time=item["start_time"], instrument_id=instrument_id,
            byte_order=item["byte_order"],
        )
        paths = write_frame(cal_dir, exp.dn, label, item["format"])
        if item["format"] not in LABELLED_FORMATS:
            paths.append(write_sidecar(cal_dir, item["id"], None, label))
        rel = [p.relative_to(outdir).as_posix() for p in paths]
        cal_files[item["id"]] = rel
        cal_truth[item["id"]] = {
            **item,
            "files": rel,
            "lamp_rate_dn_s": _r(rate, 4) if rate else None,
            "defects": exp.defects(),
        }
    return cal_files, cal_truth


__all__ = ["CALIBRATION_DIR", "DARK_EXPOSURES_S", "FLAT_EXPOSURE_S", "FLAT_TARGET_DN", "write_calibration_frames"]
