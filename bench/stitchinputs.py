"""The OpenCV stitcher's inputs: the pipeline's calibrated frames, stretched to 8 bits as a user would.

``bench.run`` re-exports the names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

__all__ = ["calibrated_frames_by_api", "calibrated_frames_from_workdir", "stretch_to_8bit", "write_stitch_inputs"]


def stretch_to_8bit(frames: list[tuple[str, np.ndarray, np.ndarray | None]], lo_pct: float = 0.5,
                    hi_pct: float = 99.5) -> dict[str, np.ndarray]:
    """One common linear stretch of calibrated frames to uint8 (1..255; invalid -> 0), from
    the ``lo_pct``/``hi_pct`` percentiles of a sample of all valid pixels."""
    rng = np.random.default_rng(0)
    pool = []
    for _, data, mask in frames:
        ok = np.isfinite(data) if mask is None else (np.isfinite(data) & ~mask)
        vals = data[ok]
        if vals.size:
            pool.append(rng.choice(vals, size=min(vals.size, 20000), replace=False))
    if not pool:
        raise ValueError("no valid pixels to stretch")
    allv = np.concatenate(pool)
    lo, hi = np.percentile(allv, [lo_pct, hi_pct])
    scale = 254.0 / max(hi - lo, 1e-12)
    out = {}
    for fid, data, mask in frames:
        bad = ~np.isfinite(data) if mask is None else (~np.isfinite(data) | mask)
        v = np.clip((np.nan_to_num(data, nan=lo) - lo) * scale + 1.0, 1, 255)
        v[bad] = 0
        out[fid] = v.astype(np.uint8)
    return out


def calibrated_frames_from_workdir(work: Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """The calibrated frames the pipeline cached in its work directory (``calibrated/``)."""
    from pipeline.frame import Frame
    from pipeline.orchestration.workdir import WorkDir

    frames = []
    for _key, f in WorkDir(work).products("calibrated"):  # verified products, never unpickled
        if isinstance(f, Frame) and f.data is not None:
            frames.append((f.id, np.asarray(f.data, np.float32), None if f.mask is None else np.asarray(f.mask, bool)))
    return sorted(frames, key=lambda t: t[0])


def calibrated_frames_by_api(survey: Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """Fallback: calibrate with the public API (serially)."""
    from pipeline import api
    from pipeline.config import load_config
    from pipeline.frame import Frame

    cal_cfg = survey / "truth" / "calibration_config.yaml"
    cfg = load_config(cal_cfg if cal_cfg.is_file() else None)
    found = api.ingest(survey, calibration=survey / "calibration", config=cfg)
    out = api.calibrate(found.frames, found.calibration, cfg)
    return sorted([(f.id, f.data, f.mask) for f in out if isinstance(f, Frame)], key=lambda t: t[0])


def write_stitch_inputs(frames, folder: Path) -> list[str]:
    import cv2

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths = []
    for fid, img in stretch_to_8bit(frames).items():
        p = folder / f"{fid}.png"
        cv2.imwrite(str(p), img)
        paths.append(str(p))
    return sorted(paths)
