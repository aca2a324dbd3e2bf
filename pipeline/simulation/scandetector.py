"""Detectors of the simulated scanning cameras, their exposure and calibration strips.

Line scan
    One detector line of ``samples`` pixels images every image line, so the fixed pattern is
    per detector **column**: :meth:`Detector.from_seed` on a ``(1, samples)`` detector gives
    the flat (vignetting across the line, PRNU, dust dips), dark rate, hot and dead pixels and
    per-column bias, repeated on every line; the bias also ramps by ``bias_line_ramp_dn`` from
    the first to the last line (a slow drift over the strip). A dead or hot detector pixel is
    a dead or hot image column. Each line is one exposure of the line exposure; cosmic rays
    hit single pixels or short streaks *along* one line (the detector row), at the density of
    the frame camera: ``(cosmic_mean + cosmic_per_s * exposure) / frame_area`` per pixel and
    exposure.
Push frame
    The detector is a ``(framelet_height, samples)`` frame; every framelet is an exposure of
    it (rows ``num_lines_overlap / 2 ..`` in the image), with its own noise, bias drift and
    cosmic rays (frame-like streaks inside the framelet, same density).

Calibration strips (``calibration/<kind>/``, ids ``LS_BIAS_00`` ...): 5 bias, 5 dark and 5 flat
exposures of the whole strip shape, like :mod:`pipeline.simulation.calibration_frames`, darks
at 0.2-1.0 and flats at 0.5 of the longest exposure the strip allows (line period or
interframe delay), the flat lamp giving :data:`FLAT_TARGET_DN` at flat 1.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.simulation.calibration_frames import FLAT_TARGET_DN
from pipeline.simulation.detector import Detector, DetectorParams, Exposure, expose
from pipeline.simulation.orbit import J2000_UTC, MISSION_START_UTC, _format_time
from pipeline.simulation.truthfiles import rounded as _r
from pipeline.simulation.writers import LABELLED_FORMATS, FrameLabel, write_frame, write_sidecar

__all__ = ["SCAN_CALIBRATION_DIRS", "expose_scan", "scan_detector", "scan_detector_truth", "write_scan_calibration"]

SCAN_CALIBRATION_DIRS = {"line-scan": "calibration/linescan", "push-frame": "calibration/pushframe"}
"""Where each kind's calibration strips go (inside ``calibration/``, which ingestion skips)."""


def _seed(seed: int, kind: str) -> int:
    return int(np.random.default_rng([int(seed), 0xDE7, 1 if kind == "line-scan" else 2]).integers(0, 2**31 - 1))


def scan_detector(kind: str, seed: int, shape: tuple[int, int], params: DetectorParams | None = None, *,
                  framelet_height: int = 0, num_lines_overlap: int = 0, frame_area: float = 320 * 320) -> Detector:
    """The detector of a scanning camera as image-shaped maps (see the module docstring).

    Parameters
    ----------
    kind : {"line-scan", "push-frame"}
    seed : int
        Survey seed (each kind draws its own detector from it).
    shape : (lines, samples)
        Image shape.
    params : DetectorParams, optional
        ``dead_pixels`` is scaled by the detector's area over ``frame_area`` (at least 1), and
        a line detector has at least one hot pixel, so defects are as dense as on the frames.
    framelet_height, num_lines_overlap : int
        Push frame only.
    frame_area : float
        Pixels of the survey's frame detector.

    Returns
    -------
    Detector
        ``flat``, ``dark_rate`` and ``bias`` of shape ``shape``; ``hot`` / ``dead`` list every
        image pixel the defect touches.
    """
    p = params or DetectorParams()
    m, n = int(shape[0]), int(shape[1])
    if kind not in ("line-scan", "push-frame"):
        raise ValueError(f"kind must be 'line-scan' or 'push-frame', got {kind!r}")
    rows = 1 if kind == "line-scan" else int(framelet_height)
    dp = dataclasses.replace(p, dead_pixels=min(p.dead_pixels, max(1, round(p.dead_pixels * rows * n / frame_area))))
    if kind == "line-scan":
        dp = dataclasses.replace(dp, hot_fraction=max(p.hot_fraction, 1.0 / n) if p.hot_fraction > 0 else 0.0)
        row = Detector.from_seed(_seed(seed, kind), (1, n), dp)
        ramp = p.bias_line_ramp_dn * ((np.arange(m) + 0.5) / m - 0.5)  # from_seed put 0.5 ramp on its one row
        lines = np.arange(m)

        def full(a):
            return np.ascontiguousarray(np.broadcast_to(a, (m, n)))

        def cols(idx):
            return np.column_stack([np.repeat(lines, len(idx)), np.tile(idx[:, 1], m)]).astype(int)

        return Detector(params=p, flat=full(row.flat), dark_rate=full(row.dark_rate),
                        bias=(row.bias + ramp[:, None]).astype(np.float32), hot=cols(row.hot), dead=cols(row.dead),
                        dust=row.dust, seed=row.seed)  # fmt: skip
    det = Detector.from_seed(_seed(seed, kind), (rows, n), dp)
    top, h = num_lines_overlap // 2, framelet_height - num_lines_overlap
    k = m // h

    def tile(a):
        return np.tile(a[top : top + h], (k, 1))

    def defects(idx):
        idx = idx[(idx[:, 0] >= top) & (idx[:, 0] < top + h)]
        rr = (np.arange(k)[:, None] * h + (idx[:, 0] - top)[None, :]).ravel()
        return np.column_stack([rr, np.tile(idx[:, 1], k)]).astype(int)

    return Detector(params=p, flat=tile(det.flat), dark_rate=tile(det.dark_rate), bias=tile(det.bias),
                    hot=defects(det.hot), dead=defects(det.dead), dust=det.dust, seed=det.seed)  # fmt: skip


def scan_detector_truth(kind: str, seed: int, shape, params: DetectorParams, detector: Detector, **kw) -> dict:
    """JSON truth of a scan detector: seed, shapes, constants and its defects per detector
    pixel (``[sample]`` columns of a line scanner, ``[detector_row, sample]`` of a push frame)."""
    if kind == "line-scan":
        hot = sorted({int(s) for s in detector.hot[:, 1]})
        dead = sorted({int(s) for s in detector.dead[:, 1]})
        where = "image columns (every line)"
    else:
        top = kw.get("num_lines_overlap", 0) // 2
        h = kw["framelet_height"] - 2 * top
        hot = sorted({(int(r) % h + top, int(s)) for r, s in detector.hot})
        dead = sorted({(int(r) % h + top, int(s)) for r, s in detector.dead})
        where = "[detector_row, sample] of every framelet"
    return {"kind": kind, "seed": int(seed), "detector_seed": detector.seed, "shape": list(shape),
            "params": params.to_dict(), "hot": [list(v) if isinstance(v, tuple) else v for v in hot],
            "dead": [list(v) if isinstance(v, tuple) else v for v in dead], "defects_are": where,
            "dust_donuts": detector.dust, **kw}  # fmt: skip


def _line_cosmics(rng, shape, n_hits: int, dn_range) -> list[dict[str, Any]]:
    """Cosmic rays of a line scanner: one pixel or a streak of 2-8 samples along one line."""
    m, k = shape
    hits = []
    for _ in range(n_hits):
        l0, s0 = int(rng.integers(0, m)), int(rng.integers(0, k))
        length = 1 if rng.random() < 0.5 else int(rng.integers(2, 9))
        step = 1 if rng.random() < 0.5 else -1
        pix = [[l0, s] for s in range(s0, s0 + step * length, step) if 0 <= s < k]
        dn = rng.uniform(*dn_range) * rng.uniform(0.6, 1.0, len(pix))
        hits.append({"pixels": pix, "dn": [round(float(v), 2) for v in dn]})
    return hits


def _scaled(params: DetectorParams, area: float, frame_area: float) -> DetectorParams:
    f = area / frame_area
    return dataclasses.replace(params, cosmic_mean=params.cosmic_mean * f, cosmic_per_s=params.cosmic_per_s * f)


def expose_scan(kind: str, rate_dn_s: np.ndarray, exposure_s: float, detector: Detector, rng: np.random.Generator,
                *, framelet_lines: int = 0, frame_area: float = 320 * 320, noise: bool = True,
                cosmic_rays: bool = True) -> tuple[Exposure, list[float]]:
    """Expose a scan image (see the module docstring).

    Parameters
    ----------
    kind : {"line-scan", "push-frame"}
    rate_dn_s : ndarray of shape (M, N)
        Light rate for a pixel of flat 1, DN/s.
    exposure_s : float
        Line or framelet exposure, seconds.
    detector : Detector
        Image-shaped (:func:`scan_detector`).
    rng : numpy.random.Generator
    framelet_lines : int
        Push frame: image lines per framelet.
    frame_area : float
        Pixels of the survey's frame detector (sets the cosmic-ray density).
    noise, cosmic_rays : bool

    Returns
    -------
    Exposure
        ``bias_drift_dn`` is the strip's drift (line scan) or the mean framelet drift.
    drifts : list of float
        Per framelet bias drift (push frame), empty for a line scan.
    """
    p = detector.params
    if kind == "line-scan":
        exp = expose(rate_dn_s, exposure_s, detector, rng, noise=noise, cosmic_rays=False)
        if not cosmic_rays:
            return exp, []
        m, n = detector.shape
        mean = (p.cosmic_mean + p.cosmic_per_s * exposure_s) * m * n / frame_area
        hits = _line_cosmics(rng, (m, n), int(rng.poisson(mean)), p.cosmic_dn)
        dn = exp.dn.astype(np.float64)
        for hit in hits:
            for (a, b), v in zip(hit["pixels"], hit["dn"]):
                dn[a, b] += v
        dn = np.rint(dn)
        saturated = np.argwhere(dn >= p.saturation_dn)
        return dataclasses.replace(exp, dn=np.clip(dn, 0, p.saturation_dn).astype(np.uint16), cosmic_rays=hits,
                                   saturated=saturated), []  # fmt: skip
    h = int(framelet_lines)
    m, n = detector.shape
    sub_p = _scaled(p, h * n, frame_area)
    dn = np.empty((m, n), np.uint16)
    hits, drifts, sats = [], [], []
    for k in range(m // h):
        rows = slice(k * h, (k + 1) * h)
        sub = Detector(params=sub_p, flat=detector.flat[rows], dark_rate=detector.dark_rate[rows],
                       bias=detector.bias[rows], hot=np.zeros((0, 2), int), dead=np.zeros((0, 2), int))  # fmt: skip
        e = expose(rate_dn_s[rows], exposure_s, sub, rng, noise=noise, cosmic_rays=cosmic_rays)
        dn[rows] = e.dn
        hits += [{"pixels": [[a + k * h, b] for a, b in hit["pixels"]], "dn": hit["dn"]} for hit in e.cosmic_rays]
        drifts.append(round(e.bias_drift_dn, 4))
        sats.append(e.saturated + [k * h, 0])
    exp = Exposure(dn=dn, exposure_s=float(exposure_s), cosmic_rays=hits, saturated=np.concatenate(sats),
                   bias_drift_dn=float(np.mean(drifts)))  # fmt: skip
    return exp, drifts


def write_scan_calibration(outdir: Path, kind: str, *, seed: int, formats: tuple[str, ...], detector: Detector,
                           max_exposure_s: float, instrument_id: str) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Expose and write a kind's 15 calibration strips into ``outdir/calibration/<kind>/``.

    Returns
    -------
    files : dict of str to list of str
        Files of each calibration strip, relative to ``outdir``.
    truth : dict of str to dict
        Per strip: type, exposure, format, files, lamp rate (flats) and defects.
    """
    cal_dir = Path(outdir) / SCAN_CALIBRATION_DIRS[kind]
    cal_dir.mkdir(parents=True, exist_ok=True)
    labelled = [f for f in formats if f in LABELLED_FORMATS] or list(formats)
    prefix = "LS" if kind == "line-scan" else "PF"
    rng0 = np.random.default_rng([int(seed), 0xCA15, 1 if kind == "line-scan" else 2])
    t0 = MISSION_START_UTC - timedelta(days=1)
    t_max = max(1e-4, round(max_exposure_s * 1e4) / 1e4)
    kinds = [("BIAS", [0.0] * 5), ("DARK", [round(t_max * f, 4) for f in (0.2, 0.4, 0.6, 0.8, 1.0)]),
             ("FLAT", [round(0.5 * t_max, 4)] * 5)]  # fmt: skip
    files, truth = {}, {}
    n = 0
    for ftype, exposures in kinds:
        for i, t in enumerate(exposures):
            sid = f"{prefix}_{ftype}_{i:02d}"
            lamp = _r(rng0.uniform(0.98, 1.02)) if ftype == "FLAT" else None
            rate = FLAT_TARGET_DN / max(t, 1e-9) * lamp if lamp else 0.0
            exp = expose(rate, t, detector, np.random.default_rng([int(seed), 0xCA2, n, len(prefix)]))
            label = FrameLabel(stem=sid, frame_type=ftype, exposure_s=t, instrument_id=instrument_id,
                               start_time=_format_time((t0 + timedelta(seconds=60 * n) - J2000_UTC).total_seconds()),
                               byte_order="MSB" if n % 2 == 0 else "LSB")  # fmt: skip
            fmt = labelled[n % len(labelled)]
            paths = write_frame(cal_dir, exp.dn, label, fmt)
            if fmt not in LABELLED_FORMATS:
                paths.append(write_sidecar(cal_dir, sid, None, label))
            rel = [pth.relative_to(outdir).as_posix() for pth in paths]
            files[sid] = rel
            truth[sid] = {"id": sid, "kind": kind, "frame_type": ftype, "exposure_s": t, "format": fmt,
                          "byte_order": label.byte_order, "start_time": label.start_time, "lamp_scale": lamp,
                          "files": rel, "lamp_rate_dn_s": _r(rate, 4) if rate else None, "defects": exp.defects(),
                          "shape": list(detector.shape)}  # fmt: skip
            n += 1
    return files, truth
