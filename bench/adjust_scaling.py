"""The bundle adjustment alone on synthetic tie-point networks of 1,000 to 60,000 images.

``python -m bench.adjust_scaling [--sizes 1000,10000,60000] [--out bench/results/adjust_scaling.json]``

Each network (:func:`make_network`) is a block of north-south strips of nadir frame
cameras (1000 x 1000 px, 10 m pixels from 100 km) near the equator of the far side:
60 % overlap along the strips, 25 % across them. Tie points are seeded in every frame
(``seeds_per_image`` per frame, at random image positions), put on the ground by the
*true* camera and observed by every neighbouring frame that sees them (tracks of 2 to ~6
frames), with Gaussian noise (0.2 px) and 5 % outliers (3-20 px); the *reported*
cameras carry pointing errors of 0.05 deg per axis (prior sigma 0.1 deg). Observations
become the pairwise matches :func:`pipeline.registration.adjust` takes (consecutive
observations of each track), so the run includes building the tracks.

Each size runs in its own subprocess (``--one N``) so that its peak memory is its own;
memory is the process's resident set sampled every 50 ms during :func:`adjust` (the
network's generation is excluded from the time, not from the peak). Reported per size:
images, observations, wall time (s) of ``adjust`` and of its solves, the process's CPU
time during ``adjust`` (what the wall time is on an otherwise idle machine, the work being
single-threaded numpy except CHOLMOD's BLAS), peak RSS (MB), rounds,
solver iterations, convergence, residual RMS, the pointing error left after removing
the network's common rotation (the low-frequency modes of a block this size are fixed only
by the priors, so it stays near a pixel), and the frame-to-frame misregistration p90: where
two frames overlap, the distance between the ground points the two adjusted cameras give
for the same true ground point (what a seam shows; :func:`_frame_to_frame_px`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

R_M = 1737400.0
SIZE_PX = 1000
GSD_M = 10.0
ALT_M = 100_000.0


def _grid(n_images: int) -> tuple[int, int]:
    """Strips and frames per strip for about ``n_images`` frames in a roughly square block."""
    strips = max(2, round(math.sqrt(n_images * 4.0 / 7.5)))
    return strips, max(2, round(n_images / strips))


def _cameras(strips: int, per_strip: int, rng, error_deg: float):
    from pipeline.geometry.cameras import FrameCamera

    dlat = 4000.0 / R_M  # 60 % along-track overlap of 10 km frames
    dlon = 7500.0 / R_M  # 25 % across
    lat = (np.arange(per_strip) - (per_strip - 1) / 2) * dlat
    lon = math.pi + (np.arange(strips) - (strips - 1) / 2) * dlon
    true, reported, errors = [], [], []
    for s in range(strips):
        for i in range(per_strip):
            lo, la = lon[s], lat[i]
            up = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
            east = np.array([-math.sin(lo), math.cos(lo), 0.0])
            north = np.cross(up, east)
            cam = FrameCamera.build(lines=SIZE_PX, samples=SIZE_PX, focal_length_mm=ALT_M / GSD_M * 0.01,
                                    pixel_pitch_mm=0.01, position_m=up * (R_M + ALT_M),
                                    cam_to_body=np.stack([east, -north, -up], axis=1))
            err = rng.normal(0.0, math.radians(error_deg), 3)
            true.append(cam)
            reported.append(cam.with_pointing_correction(err))
            errors.append(err)
    return true, reported, np.array(errors)


def make_network(n_images: int, *, seeds_per_image: int = 25, noise_px: float = 0.2, outliers: float = 0.05,
                 error_deg: float = 0.05, seed: int = 0) -> dict:
    """A synthetic network: ``{"true", "reported", "errors" (N, 3) rad, "matches", "n_obs"}``."""
    from pipeline.registration.bundle.cameras import FrameKind
    from pipeline.registration.pairs import PairMatches

    rng = np.random.default_rng(seed)
    strips, per = _grid(n_images)
    true, reported, errors = _cameras(strips, per, rng, error_deg)
    n = len(true)
    # seed points: random image positions of every frame, on the ground through the true camera
    src = np.repeat(np.arange(n), seeds_per_image)
    ls = rng.uniform(0.0, SIZE_PX, (len(src), 2))
    xyz = np.empty((len(src), 3))
    for f in range(n):
        sl = slice(f * seeds_per_image, (f + 1) * seeds_per_image)
        xyz[sl] = true[f].image_to_ground(ls[sl, 0], ls[sl, 1])
    # candidate frames: the same strip +-2 frames, the neighbouring strips +-2 frames
    s_of, i_of = src // per, src % per
    obs_t, obs_f, obs_xy = [np.arange(len(src))], [src], [ls]
    kind = FrameKind()
    for ds in (-1, 0, 1):
        for di in (-2, -1, 0, 1, 2):
            if ds == 0 and di == 0:
                continue
            s2, i2 = s_of + ds, i_of + di
            ok = (s2 >= 0) & (s2 < strips) & (i2 >= 0) & (i2 < per)
            idx = np.flatnonzero(ok)
            f2 = s2[idx] * per + i2[idx]
            zeros = np.zeros((n, 1, 3))
            img = kind.project(true, f2, zeros, None, xyz[idx])
            inside = np.all((img > 0.5) & (img < SIZE_PX - 0.5), axis=1)
            obs_t.append(idx[inside])
            obs_f.append(f2[inside])
            obs_xy.append(img[inside])
    t, f, xy = np.concatenate(obs_t), np.concatenate(obs_f), np.concatenate(obs_xy)
    seen = np.bincount(t, minlength=len(src))
    keep = seen[t] >= 2
    t, f, xy = t[keep], f[keep], xy[keep]
    xy = xy + rng.normal(0.0, noise_px, xy.shape)
    bad = rng.random(len(t)) < outliers
    xy[bad] += rng.uniform(3.0, 20.0, (int(bad.sum()), 2)) * rng.choice([-1.0, 1.0], (int(bad.sum()), 2))
    # consecutive observations of each track -> pairwise matches, grouped by frame pair
    order = np.lexsort((f, t))
    t, f, xy = t[order], f[order], xy[order]
    nxt = np.flatnonzero(t[1:] == t[:-1])
    a, b = nxt, nxt + 1
    key = f[a].astype(np.int64) * n + f[b]
    korder = np.argsort(key, kind="stable")
    a, b, key = a[korder], b[korder], key[korder]
    cuts = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True])
    ids = [f"S{k // per:03d}_F{k % per:04d}" for k in range(n)]
    matches = []
    for c0, c1 in itertools.pairwise(cuts):
        fi, fj = f[a[c0]].item(), f[b[c0]].item()
        matches.append(PairMatches(fi, fj, xy[a[c0:c1]], xy[b[c0:c1]], 1.0, ids[fi], ids[fj]))
    return {"ids": ids, "true": dict(zip(ids, true)), "reported": dict(zip(ids, reported)), "errors": errors,
            "matches": matches, "n_obs": len(t), "n_tracks": len(np.unique(t)), "grid": (strips, per)}


class _PeakRSS:
    """Peak resident set size (bytes) of this process, sampled every 50 ms in a thread."""

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def _ground_by_frame(cams: dict, ids: list, frame: np.ndarray, line_sample: np.ndarray) -> np.ndarray:
    """``image_to_ground`` of each row's image point in its frame (one call per frame)."""
    out = np.full((len(frame), 3), np.nan)
    order = np.argsort(frame, kind="stable")
    bounds = np.searchsorted(frame[order], np.arange(len(ids) + 1))
    for f, fid in enumerate(ids):
        idx = order[bounds[f]:bounds[f + 1]]
        if len(idx) and fid in cams:
            out[idx] = cams[fid].image_to_ground(line_sample[idx, 0], line_sample[idx, 1])
    return out


def _frame_to_frame_px(net: dict, adjusted: dict, per_pair: int = 4) -> np.ndarray:
    """Misregistration (px) where frames overlap: ground points under ``per_pair`` tie points of
    every matched pair (true cameras), seen through the two *adjusted* cameras at their true image
    positions; the distance between the two ground points in pixels. Free of any common motion."""
    ids, true = net["ids"], net["true"]
    index = {k: i for i, k in enumerate(ids)}
    fi, fj, pts = [], [], []
    for m in net["matches"]:
        k = min(per_pair, len(m))
        fi.append(np.full(k, index[m.id_i]))
        fj.append(np.full(k, index[m.id_j]))
        pts.append(m.img_i[:k])
    fi, fj, pts = np.concatenate(fi), np.concatenate(fj), np.concatenate(pts)
    ground = _ground_by_frame(true, ids, fi, pts)
    pts_j = np.full_like(pts, np.nan)
    order = np.argsort(fj, kind="stable")
    bounds = np.searchsorted(fj[order], np.arange(len(ids) + 1))
    for f, fid in enumerate(ids):
        idx = order[bounds[f]:bounds[f + 1]]
        if len(idx):
            pts_j[idx] = np.stack(true[fid].ground_to_image(ground[idx]), axis=1)
    a = _ground_by_frame(adjusted, ids, fi, pts)
    b = _ground_by_frame(adjusted, ids, fj, pts_j)
    d = np.linalg.norm(a - b, axis=1) / GSD_M
    return d[np.isfinite(d)]


def run_one(n_images: int, *, linear_solver: str = "auto", seed: int = 0) -> dict:
    """Generate one network and adjust it; returns the measured numbers (see the module docstring)."""
    from pipeline.registration import adjust
    from pipeline.registration.params import RegistrationParams

    t0 = time.perf_counter()
    net = make_network(n_images, seed=seed)
    t_gen = time.perf_counter() - t0
    cfg = RegistrationParams(pointing_sigma_deg=0.1, linear_solver=linear_solver)
    with _PeakRSS() as mem:
        t1, c1 = time.perf_counter(), time.process_time()
        result = adjust(net["reported"], net["matches"], cfg)
        t_adj, c_adj = time.perf_counter() - t1, time.process_time() - c1
    ids = net["ids"]
    corr = np.array([result.corrections[k].rotvec_rad if k in result.corrections else (np.nan,) * 3 for k in ids])
    left = corr + net["errors"]  # camera-frame rotation left (nadir cameras: same axes for all)
    f2f_px = _frame_to_frame_px(net, result.cameras)
    left = left[np.all(np.isfinite(left), axis=1)]
    common = left.mean(axis=0)
    rel_px = np.linalg.norm(left - common, axis=1) * ALT_M / GSD_M  # radians -> pixels at nadir
    conv = result.convergence
    return {
        "images": len(ids), "grid_strips_x_frames": list(net["grid"]), "observations": net["n_obs"],
        "tracks": net["n_tracks"], "pair_matches": len(net["matches"]), "generate_s": round(t_gen, 1),
        "adjust_s": round(t_adj, 1), "adjust_cpu_s": round(c_adj, 1), "solve_s": round(conv.seconds, 1),
        "peak_rss_mb": round(mem.peak / 2**20),
        "rounds": conv.rounds, "iterations": conv.iterations, "converged": conv.converged, "reason": conv.reason,
        "linear_solver": conv.linear_solver, "n_tied": result.stats.n_tied, "n_outliers": result.stats.n_outliers,
        "rms_before_px": round(result.stats.rms_before_px, 3), "rms_after_px": round(result.stats.rms_after_px, 3),
        "pointing_error_left_p90_px": round(float(np.percentile(rel_px, 90)), 3),
        "frame_to_frame_p90_px": round(float(np.percentile(f2f_px, 90)), 3),
        "common_rotation_deg": [round(math.degrees(v), 4) for v in common],
    }


def run_scaling(sizes=(1000, 10_000, 60_000), *, linear_solver: str = "auto", timeout_s: float = 7200) -> list[dict]:
    """Each size in its own subprocess; a failed or timed-out size is reported, not raised."""
    rows = []
    for n in sizes:
        cmd = [sys.executable, "-m", "bench.adjust_scaling", "--one", str(n), "--linear-solver", linear_solver]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            rows.append({"images": n, "error": f"timed out after {timeout_s:.0f} s"})
            continue
        if out.returncode != 0:
            rows.append({"images": n, "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"})
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        log.info("adjust scaling: %s", rows[-1])
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,60000")
    ap.add_argument("--one", type=int, help="run one size in this process and print its JSON")
    ap.add_argument("--linear-solver", default="auto")
    ap.add_argument("--out", type=Path, default=Path("bench/results/adjust_scaling.json"))
    args = ap.parse_args(argv)
    if args.one:
        sys.stdout.write(json.dumps(run_one(args.one, linear_solver=args.linear_solver)) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = run_scaling([int(s) for s in args.sizes.split(",")], linear_solver=args.linear_solver)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    for r in rows:
        sys.stdout.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
