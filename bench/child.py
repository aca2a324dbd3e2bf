"""The measured jobs, each run alone in a subprocess so that its peak memory (process tree)
and wall time are its own: ``python -m bench.child KIND SPEC.json RESULT.json``.

KIND is ``pipeline`` (``pipeline.orchestration.run`` with a :class:`bench.stages.StageTimer`),
``floor`` (read every frame, one ``cv2.remap`` each onto the output grid, write one
GeoTIFF) or ``stitch`` (OpenCV's ``cv2.Stitcher``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _jsonable(x: Any) -> Any:
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x


def grid_to_dict(grid) -> dict[str, Any]:
    t = grid.transform
    return {"crs_wkt": grid.crs_wkt, "transform": [t.a, t.b, t.c, t.d, t.e, t.f], "shape": list(grid.shape),
            "resolution_m": grid.resolution}


def grid_from_dict(d: dict[str, Any]):
    from affine import Affine

    from pipeline.geometry.grid import MapGrid

    return MapGrid(d["crs_wkt"], Affine(*d["transform"]), tuple(d["shape"]))


# ----------------------------------------------------------------------------------------
# pipeline
# ----------------------------------------------------------------------------------------
def _registration_summary(reg) -> dict[str, Any]:
    out: dict[str, Any] = {}
    stats = getattr(reg, "stats", None)
    for name in ("rms_before_px", "rms_after_px", "n_tie_points", "n_observations", "n_tied", "n_components",
                 "n_pairs", "n_pairs_matched"):
        if stats is not None and hasattr(stats, name):
            out[name] = getattr(stats, name)
    status = getattr(reg, "status", None)
    if isinstance(status, dict):
        counts: dict[str, int] = {}
        for s in status.values():
            k = str(getattr(s, "state", getattr(s, "status", s)))
            counts[k] = counts.get(k, 0) + 1
        out["status_counts"] = counts
    return out


def run_pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.stages import StageTimer
    from pipeline.config import load_config
    from pipeline.orchestration import run

    cfg = load_config(spec.get("config"), spec.get("overrides") or {})
    timer = StageTimer()
    kwargs = {"calibration": spec.get("calibration"), "config": cfg}
    t_call = time.perf_counter()
    if spec.get("profile"):
        import cProfile

        prof = cProfile.Profile()
        with timer:
            result = prof.runcall(run, spec["frames_dir"], spec["out"], **kwargs)
        t_ret = time.perf_counter()
        prof.dump_stats(spec["profile"])
    else:
        with timer:
            result = run(spec["frames_dir"], spec["out"], **kwargs)
        t_ret = time.perf_counter()
    plan = result.plan
    frames = plan.frames
    input_px = sum(int(f.meta.shape[0]) * int(f.meta.shape[1]) for f in frames)
    reg = result.product["registration"]
    cams = dict(reg.cameras)
    cam_dir = spec.get("cameras_dir")
    if cam_dir:
        cam_dir = Path(cam_dir)
        cam_dir.mkdir(parents=True, exist_ok=True)
        for fid, cam in cams.items():
            (cam_dir / f"{fid}.json").write_text(json.dumps(_jsonable(cam.to_isd())))
    return {
        "call_s": t_ret - t_call,
        "run_seconds": result.seconds,
        "stages": timer.summary(t_call, t_ret),
        "n_frames": len(frames),
        "frame_ids": [f.id for f in frames],
        "input_px": input_px,
        "grid": grid_to_dict(plan.grid),
        "tiles": len(plan.tiles),
        "pairs": len(plan.pairs),
        "failures": [str(x) for x in result.failures],
        "valid_pixels": result.product.get("valid_pixels"),
        "registration": _jsonable(_registration_summary(reg)),
        "adjusted_cameras": sorted(cams),
        "workdir": str(plan.workdir.root),
        "out": str(result.out),
    }


# ----------------------------------------------------------------------------------------
# floor: the least work any pipeline must do
# ----------------------------------------------------------------------------------------
def _frame_window_maps(camera, grid, n: int = 7):
    """Output-grid window covering the frame and float32 remap maps (sample, line) for it,
    from a homography fitted to an n x n grid of image points projected to the map."""
    import cv2
    import numpy as np

    from pipeline.geometry.body import xyz_to_lonlat_deg

    lines, samples = camera.shape
    gl, gs = np.meshgrid(np.linspace(0, lines, n), np.linspace(0, samples, n), indexing="ij")
    xyz, hit = camera.image_to_ground_hit(gl.ravel(), gs.ravel())
    lon, lat = xyz_to_lonlat_deg(xyz[hit])
    row, col = grid.xy_to_rowcol(*grid.lonlat_to_xy(lon, lat))
    src = np.stack([col, row], axis=-1).astype(np.float64)          # map (x=col, y=row)
    dst = np.stack([gs.ravel()[hit], gl.ravel()[hit]], axis=-1)      # image (x=sample, y=line)
    h, _ = cv2.findHomography(src, dst)
    r0 = max(0, int(np.floor(row.min())))
    r1 = min(grid.shape[0], int(np.ceil(row.max())))
    c0 = max(0, int(np.floor(col.min())))
    c1 = min(grid.shape[1], int(np.ceil(col.max())))
    if r1 <= r0 or c1 <= c0:
        return None
    cc, rr = np.meshgrid(np.arange(c0, c1, dtype=np.float64) + 0.5, np.arange(r0, r1, dtype=np.float64) + 0.5)
    w = h[2, 0] * cc + h[2, 1] * rr + h[2, 2]
    mx = ((h[0, 0] * cc + h[0, 1] * rr + h[0, 2]) / w - 0.5).astype(np.float32)  # pixel-centre convention
    my = ((h[1, 0] * cc + h[1, 1] * rr + h[1, 2]) / w - 0.5).astype(np.float32)
    return (slice(r0, r1), slice(c0, c1)), mx, my


def run_floor(spec: dict[str, Any]) -> dict[str, Any]:
    """Read every frame with the project's readers, remap each once onto the output grid
    (bilinear, last frame wins), write the grid once as a tiled, compressed GeoTIFF."""
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    import numpy as np
    import rasterio

    from pipeline.config import load_config
    from pipeline.io import read_pixels

    workers = int(spec.get("workers", 2))
    cv2.setNumThreads(1)  # parallel over frames instead
    grid = grid_from_dict(spec["grid"])
    t = {}
    t0 = time.perf_counter()
    from pipeline.ingestion import ingest

    cfg = load_config(spec.get("config"))
    found = ingest(spec["frames_dir"], calibration=None, config=cfg.ingestion)
    frames = [f for f in found.frames if f.camera is not None]
    t["scan_s"] = time.perf_counter() - t0

    out = np.full(grid.shape, np.nan, np.float32)
    timing = {"read_s": 0.0, "maps_s": 0.0, "remap_s": 0.0}

    def one(f):
        a = time.perf_counter()
        data, _mask = read_pixels(f.meta)
        b = time.perf_counter()
        win = _frame_window_maps(f.camera, grid)
        c = time.perf_counter()
        if win is None:
            return None, (b - a, c - b, 0.0)
        roi, mx, my = win
        warped = cv2.remap(np.asarray(data, np.float32), mx, my, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
        d = time.perf_counter()
        return (roi, warped), (b - a, c - b, d - c)

    t1 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for res, (tr, tm, tw) in pool.map(one, frames):
            timing["read_s"] += tr
            timing["maps_s"] += tm
            timing["remap_s"] += tw
            if res is not None:
                roi, warped = res
                view = out[roi]
                ok = np.isfinite(warped)
                view[ok] = warped[ok]
    t["read_remap_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    profile = spec.get("profile") or {}
    with rasterio.open(
        spec["out"], "w", driver=profile.get("driver", "COG"), width=grid.shape[1], height=grid.shape[0],
        count=1, dtype="float32", crs=rasterio.crs.CRS.from_wkt(grid.crs_wkt), transform=grid.transform,
        nodata=float("nan"), COMPRESS=profile.get("compress", "DEFLATE"), PREDICTOR="FLOATING_POINT",
        BLOCKSIZE=str(int(profile.get("blocksize", 512))), BIGTIFF="IF_SAFER", NUM_THREADS=str(workers),
    ) as dst:
        dst.write(out, 1)
    t["write_s"] = time.perf_counter() - t2
    t["floor_s"] = t["read_remap_s"] + t["write_s"]
    return {**{k: round(v, 4) for k, v in t.items()},
            "task_s": {k: round(v, 4) for k, v in timing.items()},
            "n_frames": len(frames), "input_px": sum(int(np.prod(f.meta.shape)) for f in frames),
            "valid_pixels": int(np.isfinite(out).sum()), "grid_shape": list(grid.shape), "out": spec["out"]}


# ----------------------------------------------------------------------------------------
# OpenCV stitcher
# ----------------------------------------------------------------------------------------
SETTERS = {
    "registration_resol": "setRegistrationResol",
    "seam_estimation_resol": "setSeamEstimationResol",
    "compositing_resol": "setCompositingResol",
    "pano_confidence_thresh": "setPanoConfidenceThresh",
}
STATUS_NAMES = {0: "OK", 1: "ERR_NEED_MORE_IMGS", 2: "ERR_HOMOGRAPHY_EST_FAIL", 3: "ERR_CAMERA_PARAMS_ADJUST_FAIL"}


def run_stitch(spec: dict[str, Any]) -> dict[str, Any]:
    """``cv2.Stitcher`` (SCANS or PANORAMA) on 8-bit images: estimateTransform, then
    composePanorama (the two halves of ``stitch``), timed separately."""
    import cv2

    threads = int(spec.get("threads", 2))
    cv2.setNumThreads(threads)
    mode = {"scans": cv2.Stitcher_SCANS, "panorama": cv2.Stitcher_PANORAMA}[spec["mode"]]
    t0 = time.perf_counter()
    imgs = [cv2.imread(p, cv2.IMREAD_COLOR) for p in spec["images"]]
    t_read = time.perf_counter() - t0
    st = cv2.Stitcher.create(mode)
    for name, setter in SETTERS.items():
        if spec.get(name) is not None:
            getattr(st, setter)(float(spec[name]))
    settings = {
        "mode": spec["mode"],
        "threads": cv2.getNumThreads(),
        "registration_resol_mpx": st.registrationResol(),
        "seam_estimation_resol_mpx": st.seamEstimationResol(),
        "compositing_resol_mpx": st.compositingResol(),
        "pano_confidence_thresh": st.panoConfidenceThresh(),
        "wave_correction": bool(st.waveCorrection()),
    }
    t1 = time.perf_counter()
    error = None
    try:
        status = int(st.estimateTransform(imgs))
    except cv2.error as exc:
        status, error = -1, f"estimateTransform: {str(exc).strip().splitlines()[-1][:200]}"
    t_est = time.perf_counter() - t1
    try:
        kept = len(st.component())
    except cv2.error:
        kept = 0
    result = {"status": status, "status_name": STATUS_NAMES.get(status, "cv2.error"), "n_images": len(imgs),
              "kept": kept, "read_s": round(t_read, 3), "estimate_s": round(t_est, 3), "compose_s": None,
              "pano_shape": None, "settings": settings, "error": error}
    if status == 0:
        result["camera_scale_range"] = _camera_scales(st)
    print(json.dumps({"phase": "estimated", **result}), flush=True)  # survives a timeout in compose
    if status == 0:
        t2 = time.perf_counter()
        try:
            cstatus, pano = st.composePanorama()
        except cv2.error as exc:  # e.g. a runaway transform asks for a giant canvas
            cstatus, pano = -1, None
            result["error"] = f"composePanorama: {str(exc).strip().splitlines()[-1][:200]}"
        result["compose_s"] = round(time.perf_counter() - t2, 3)
        result["compose_status"] = int(cstatus)
        if int(cstatus) != 0:
            result["status"] = int(cstatus)
            result["status_name"] = STATUS_NAMES.get(int(cstatus), "cv2.error in compose")
        if pano is not None:
            result["pano_shape"] = list(pano.shape[:2])
            if spec.get("save"):
                cv2.imwrite(spec["save"], pano)
    result["stitch_s"] = round(t_est + (result["compose_s"] or 0.0), 3)
    return result


def _camera_scales(stitcher) -> list[float] | None:
    """Smallest and largest linear scale (sqrt |det| of the 2x2 part, focal for rotation
    models) among the estimated per-image transforms: far from 1 means a runaway estimate."""
    import numpy as np

    try:
        scales = []
        for cam in stitcher.cameras():
            r = np.asarray(cam.R, float)
            scales.append(float(np.sqrt(abs(np.linalg.det(r[:2, :2]))) * cam.focal))
        return [min(scales), max(scales)] if scales else None
    except Exception:  # noqa: BLE001 - diagnostics only
        return None


JOBS = {"pipeline": run_pipeline, "floor": run_floor, "stitch": run_stitch}


def main(argv: list[str] | None = None) -> int:
    import logging

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in JOBS:
        sys.stderr.write(f"usage: python -m bench.child {{{','.join(JOBS)}}} SPEC.json RESULT.json\n")
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    kind, spec_path, result_path = argv
    spec = json.loads(Path(spec_path).read_text())
    result = JOBS[kind](spec)
    Path(result_path).write_text(json.dumps(_jsonable(result), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
