"""``python -m bench.run [--sizes small,medium,large] [--out bench/results]`` (``make bench``).

For each survey size: simulate it once (reused by seed from ``bench/data/``), then, each in
its own subprocess with the peak RSS of its process tree sampled:

1. farside end to end (``pipeline.orchestration.run``, threads scheduler, one worker per core),
   wall time per stage (dask callback, see :mod:`bench.stages`), throughput, accuracy
   against the truth (:mod:`bench.accuracy`);
2. the floor: read every frame, one ``cv2.remap`` each onto the output grid, one GeoTIFF;
3. OpenCV's ``cv2.Stitcher`` (SCANS and PANORAMA) on the pipeline's own calibrated frames
   stretched to 8 bits, same thread count, under a time limit.

Then scaling on the medium survey (1 vs 2 workers, threads and processes) and peak memory
at two output sizes (native pixel size and half of it: 4x the pixels). Writes
``<out>/latest.json`` and ``<out>/latest.md`` and prints the Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.adjust_scaling import run_scaling as run_adjust_scaling
from bench.growth import bench_growth, growth_names
from bench.machine import machine_info
from bench.memory import Measured, run_measured
from bench.page import write_page
from bench.stitchinputs import (  # stretch_to_8bit: re-exported, it used to live here
    calibrated_frames_by_api,
    calibrated_frames_from_workdir,
    stretch_to_8bit,  # noqa: F401
    write_stitch_inputs,
)
from bench.surveys import SIZES, ensure_survey, with_seed

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("bench")


def say(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# ----------------------------------------------------------------------------------------
# running children
# ----------------------------------------------------------------------------------------
def child(kind: str, spec: dict[str, Any], workdir: Path, *, timeout: float) -> tuple[Measured, dict | None]:
    """Run ``bench.child KIND`` with ``spec``; return the measurement and its result (None
    when it failed or timed out)."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = workdir / f"{kind}-spec.json", workdir / f"{kind}-result.json"
    result_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps(spec, indent=1, default=str))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    m = run_measured([sys.executable, "-m", "bench.child", kind, str(spec_path), str(result_path)],
                     timeout=timeout, env=env, cwd=ROOT, log_dir=workdir / f"{kind}-log")
    result = json.loads(result_path.read_text()) if (m.ok and result_path.is_file()) else None
    return m, result


def failure_status(m: Measured) -> str:
    if m.timed_out:
        return f"timeout after {m.wall_s:.0f} s"
    last = [ln for ln in m.stderr_tail.strip().splitlines() if ln.strip()]
    return f"failed (rc {m.returncode}): {last[-1][:160] if last else 'no message'}"


def pipeline_spec(survey: Path, out: Path, work: Path, *, scheduler: str, workers: int,
                  resolution_m: float | None = None, tile_size: int = 512, cameras_dir: Path | None = None,
                  profile: Path | None = None) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "run": {"scheduler": scheduler, "workers": workers, "workdir": str(work)},
        "mosaic": {"tile_size": tile_size},
    }
    if resolution_m:
        overrides["mosaic"]["resolution_m"] = resolution_m
    cal_cfg = survey / "truth" / "calibration_config.yaml"
    return {
        "frames_dir": str(survey),
        "calibration": str(survey / "calibration") if (survey / "calibration").is_dir() else None,
        "out": str(out),
        "config": str(cal_cfg) if cal_cfg.is_file() else None,
        "overrides": overrides,
        "cameras_dir": str(cameras_dir) if cameras_dir else None,
        "profile": str(profile) if profile else None,
    }


def run_pipeline(survey: Path, run_dir: Path, label: str, *, scheduler: str, workers: int, timeout: float,
                 resolution_m: float | None = None, keep_workdir: bool = False, cameras: bool = False,
                 profile: Path | None = None) -> dict[str, Any]:
    """One measured pipeline run in a fresh work directory."""
    d = run_dir / label
    work = d / "work"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    spec = pipeline_spec(survey, d / "mosaic.tif", work, scheduler=scheduler, workers=workers,
                         resolution_m=resolution_m, cameras_dir=d / "cameras" if cameras else None, profile=profile)
    say(f"pipeline {label}: {scheduler} x{workers}" + (f", {resolution_m:.1f} m" if resolution_m else ""))
    m, res = child("pipeline", spec, d, timeout=timeout)
    row: dict[str, Any] = {"label": label, "scheduler": scheduler, "workers": workers,
                           "process_wall_s": round(m.wall_s, 2), "peak_mb": round(m.peak_rss_mb, 1),
                           "max_processes": m.max_processes, "load_before": m.load_before,
                           "cpu_s": m.cpu_s, "cpu_util": m.cpu_util, "others_cores": m.others_cores,
                           "dir": str(d)}
    if res is None:
        row.update(status=failure_status(m), stderr_tail=m.stderr_tail[-3000:])
        say(f"  {row['status']}")
    else:
        n_in = len(res["frame_ids"]) + len(res["failures"])
        n_used = len(res["frame_ids"]) - sum(1 for f in res["failures"] if "[calibrate]" in f)
        row.update(
            status=f"ok, {n_used}/{n_in} frames",
            wall_s=round(res["call_s"], 2), input_mpx=res["input_px"] / 1e6,
            mpx_per_s=res["input_px"] / 1e6 / res["call_s"], stages=res["stages"], grid_shape=res["grid"]["shape"],
            resolution_m=res["grid"]["resolution_m"], result=res,
        )
        say(f"  {row['wall_s']:.1f} s, peak {row['peak_mb']:.0f} MB, grid {res['grid']['shape']}")
    if not keep_workdir and work.exists():
        shutil.rmtree(work, ignore_errors=True)
    return row


# ----------------------------------------------------------------------------------------
# one survey
# ----------------------------------------------------------------------------------------
def bench_survey(name: str, survey_doc: dict[str, Any], run_root: Path, args, notes: list[str]) -> dict[str, Any]:
    from bench.accuracy import mosaic_accuracy
    from pipeline.geometry import FrameCamera
    from pipeline.simulation import load_truth

    survey = Path(survey_doc["path"])
    spec = SIZES[name]
    run_dir = run_root / name
    s: dict[str, Any] = {"n_frames": survey_doc["n_frames"], "frame_px": spec.size,
                         "input_mpx": round(spec.input_mpx, 2),
                         "survey": {k: v for k, v in survey_doc.items() if k != "path"}, "methods": []}

    # 1. farside end to end
    main = run_pipeline(survey, run_dir, "farside-threads-2", scheduler="threads", workers=args.workers,
                        timeout=args.pipeline_timeout, keep_workdir=True, cameras=True)
    main["method"] = f"farside (threads ×{args.workers})"
    s["methods"].append(main)
    res = main.get("result")
    if res is not None:
        say("  accuracy against the truth")
        t0 = time.perf_counter()
        truth = load_truth(survey)
        cam_dir = Path(main["dir"]) / "cameras"
        cams = {p.stem: FrameCamera.from_file(p) for p in sorted(cam_dir.glob("*.json"))}
        try:
            main["accuracy"] = mosaic_accuracy(res["out"], truth, cams, samples=args.accuracy_samples)
        except Exception as exc:  # noqa: BLE001 - a benchmark records what broke and goes on
            main["accuracy"] = {"error": f"{type(exc).__name__}: {exc}"}
            notes.append(f"{name}: accuracy failed: {type(exc).__name__}: {exc}")
        main["accuracy_s"] = round(time.perf_counter() - t0, 1)
        acc = main["accuracy"]
        say(f"  accuracy: corr {acc.get('pearson')}, seam {acc.get('seam_ratio')}, cov {acc.get('coverage_pct')}")

    # 2. stitcher inputs from the pipeline's calibrated frames
    work = Path(main["dir"]) / "work"
    stitch_paths: list[str] = []
    if not args.no_stitch:
        t0 = time.perf_counter()
        try:
            frames = calibrated_frames_from_workdir(work) if work.is_dir() else []
            source = "pipeline work directory"
            if not frames:
                frames, source = calibrated_frames_by_api(survey), "pipeline.api.calibrate"
            stitch_paths = write_stitch_inputs(frames, run_dir / "stitch8")
            s["stitch_inputs"] = {"frames": len(stitch_paths), "source": source,
                                  "stretch": "common linear 0.5-99.5 percentile to 1..255, invalid=0, BGR",
                                  "prep_s": round(time.perf_counter() - t0, 1)}
            del frames
        except Exception as exc:  # noqa: BLE001
            notes.append(f"{name}: could not prepare stitcher inputs: {type(exc).__name__}: {exc}")
    shutil.rmtree(work, ignore_errors=True)

    # 3. the floor
    if res is not None:
        say("floor: read + remap + write")
        fd = run_dir / "floor"
        shutil.rmtree(fd, ignore_errors=True)
        cal_cfg = survey / "truth" / "calibration_config.yaml"
        m, fr = child("floor", {"frames_dir": str(survey), "grid": res["grid"], "out": str(fd / "floor.tif"),
                                "workers": args.workers, "config": str(cal_cfg) if cal_cfg.is_file() else None},
                      fd, timeout=args.pipeline_timeout)
        row = {"method": "floor (read+remap+write)", "peak_mb": round(m.peak_rss_mb, 1),
               "process_wall_s": round(m.wall_s, 2), "load_before": m.load_before,
               "cpu_util": m.cpu_util, "others_cores": m.others_cores}
        if fr is None:
            row["status"] = failure_status(m)
            row["stderr_tail"] = m.stderr_tail[-3000:]
        else:
            row.update(status="ok", wall_s=fr["floor_s"], mpx_per_s=fr["input_px"] / 1e6 / fr["floor_s"],
                       stages={"wall_s": {"plan": fr["scan_s"], "mosaic": fr["read_remap_s"],
                                          "write": fr["write_s"]}},
                       result=fr)
        say(f"  {row['status']} {row.get('wall_s')}")
        s["methods"].append(row)

    # 4. OpenCV stitchers
    if stitch_paths:
        for mode in ("scans", "panorama"):
            say(f"cv2.Stitcher {mode.upper()} on {len(stitch_paths)} frames (limit {args.stitch_timeout:.0f} s)")
            sd = run_dir / f"stitch-{mode}"
            shutil.rmtree(sd, ignore_errors=True)
            m, sr = child("stitch", {"images": stitch_paths, "mode": mode, "threads": args.workers},
                          sd, timeout=args.stitch_timeout)
            row = {"method": f"cv2.Stitcher {mode.upper()}", "peak_mb": round(m.peak_rss_mb, 1),
                   "process_wall_s": round(m.wall_s, 2), "load_before": m.load_before,
               "cpu_util": m.cpu_util, "others_cores": m.others_cores}
            if sr is None:
                row["status"] = failure_status(m)
                est = [json.loads(ln) for ln in m.stdout_tail.splitlines() if ln.startswith("{")]
                if est:  # estimateTransform finished, compose did not
                    row["result"] = est[-1]
                    row["status"] += f" (estimate {est[-1]['estimate_s']:.0f} s, " \
                                     f"kept {est[-1]['kept']}/{est[-1]['n_images']})"
            else:
                row.update(status=f"{sr['status_name']}, kept {sr['kept']}/{sr['n_images']}", result=sr,
                           wall_s=sr["stitch_s"])
                valid = (res or {}).get("valid_pixels")
                if sr.get("pano_shape") and valid:
                    h, w = sr["pano_shape"]
                    row["pano_vs_mosaic_px"] = h * w / valid
                    row["status"] += f", pano {h}×{w} = {h * w / valid:.2f}× the mosaic's valid px"
                if sr["status"] == 0:
                    row["mpx_per_s"] = s["input_mpx"] / sr["stitch_s"]
            say(f"  {row['status']} {row.get('wall_s')}")
            s["methods"].append(row)
    return s


# measured: 1.41, -, -, 1.51
SCALING_FACTORS = {"threads-1": 1.6, "processes-N": 1.1, "processes-1": 1.6, "halfpx": 1.7}


def scaling_plans(args, main: dict[str, Any]) -> list[tuple[str, int, float | None, str, float]]:
    """(scheduler, workers, resolution_m, label, expected time / main run's time)."""
    plans = [("threads", 1, None, "native", SCALING_FACTORS["threads-1"])]
    if args.scaling == "full":
        plans += [("processes", args.workers, None, "native", SCALING_FACTORS["processes-N"]),
                  ("processes", 1, None, "native", SCALING_FACTORS["processes-1"])]
    res_native = main.get("resolution_m")
    if res_native:
        plans.append(("threads", args.workers, res_native / 2.0, "half pixel (4× px)", SCALING_FACTORS["halfpx"]))
    return plans


def scaling(survey_name: str, survey_doc: dict[str, Any], main: dict[str, Any], run_root: Path, args,
            deadline: float, notes: list[str]) -> list[dict[str, Any]]:
    """1 vs N workers (threads, processes) and peak memory at 4x the output pixels."""
    survey = Path(survey_doc["path"])
    run_dir = run_root / survey_name
    rows = []
    plans = scaling_plans(args, main)
    if args.scaling_only:  # the pipeline may have changed since latest.json: measure N workers again
        plans.insert(0, ("threads", args.workers, None, "native", 1.0))
    else:
        base = {k: v for k, v in main.items() if k not in ("result", "accuracy", "stderr_tail")}
        base["label"] = "native"
        rows.append(base)
    est = main.get("wall_s") or 60.0
    for scheduler, workers, res_m, label, factor in plans:
        if time.perf_counter() + est * factor > deadline:
            notes.append(f"scaling on {survey_name}: skipped {scheduler} ×{workers} {label} "
                         f"(~{est * factor:.0f} s would pass the time budget)")
            continue
        tag = f"{scheduler}-{workers}" + ("-halfpx" if res_m else "")
        row = run_pipeline(survey, run_dir, f"farside-{tag}", scheduler=scheduler, workers=workers,
                           timeout=args.pipeline_timeout, resolution_m=res_m)
        row["label"] = label
        row.pop("result", None)
        row.pop("stderr_tail", None)
        rows.append(row)
    base_wall = {r["scheduler"]: r.get("wall_s") for r in rows if r.get("workers") == 1 and r["label"] == "native"}
    for r in rows:
        r["survey"] = survey_name
        one = base_wall.get(r["scheduler"]) or base_wall.get("threads")
        if one and r.get("wall_s") and r["label"] == "native":
            r["speedup"] = one / r["wall_s"]
    return rows


def run_scaling(doc: dict[str, Any], surveys: dict[str, Any], run_root: Path, args, deadline: float,
                notes: list[str]) -> None:
    """Scaling on ``--scaling-on`` (auto: medium when it fits in the budget, else the next
    smaller size that does)."""
    order = [n for n in ("medium", "small", "large") if n in doc["surveys"] and n in surveys]
    if args.scaling_on != "auto":
        order = [args.scaling_on] if args.scaling_on in order else []
        if not order:
            notes.append(f"scaling: survey {args.scaling_on} was not benchmarked (add it to --sizes)")
            return
    for name in order:
        main_row = next((m for m in doc["surveys"][name]["methods"] if m["method"].startswith("farside")), None)
        if not (main_row and main_row.get("wall_s")):
            continue
        need = sum(p[-1] for p in scaling_plans(args, main_row)) * main_row["wall_s"]
        if args.scaling_on == "auto" and time.perf_counter() + need > deadline and name != order[-1]:
            notes.append(f"scaling on {name} would take ~{need:.0f} s, past the --budget; ran it on a smaller survey "
                         f"(`python -m bench.run --sizes {name} --scaling-only --scaling-on {name} --budget "
                         f"{need * 1.3:.0f}` measures it, reusing latest.json)")
            continue
        rows = scaling(name, surveys[name], main_row, run_root, args, deadline, notes)
        doc["scaling"] = [r for r in doc.get("scaling", []) if r.get("survey") != name] + rows
        return


def profile_run(name: str, survey_doc: dict[str, Any], run_root: Path, out_dir: Path, args) -> dict[str, Any]:
    """A cProfile of a synchronous run (all tasks in the main thread, so the profile sees them)."""
    import pstats

    prof = out_dir / f"profile-{name}.pstats"
    row = run_pipeline(Path(survey_doc["path"]), run_root / name, "farside-profile", scheduler="synchronous",
                       workers=1, timeout=args.pipeline_timeout, profile=prof)
    doc: dict[str, Any] = {"survey": name, "status": row["status"], "stages": row.get("stages"),
                           "wall_s": row.get("wall_s"), "pstats": str(prof)}
    if prof.is_file():
        st = pstats.Stats(str(prof))
        entries = []
        for (file, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():
            entries.append({"function": f"{Path(file).name}:{line}({func})", "path": file, "calls": nc,
                            "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3)})
        doc["top_tottime"] = sorted(entries, key=lambda e: -e["tottime_s"])[:25]
        doc["top_cumtime"] = [e for e in sorted(entries, key=lambda e: -e["cumtime_s"])
                              if "/pipeline/" in e["path"]][:40]
        with (out_dir / f"profile-{name}.txt").open("w") as fh:
            st.stream = fh
            st.sort_stats("tottime").print_stats(40)
            st.sort_stats("cumulative").print_stats(60)
    return doc


# ----------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="small,medium", help="comma-separated: small, medium, large (or none)")
    ap.add_argument("--growth", default="64,256,1024",
                    help="growth surveys (128² frames, 25 %% overlap) to run end to end: comma-separated frame counts "
                         "of 64, 256, 1024, or none")
    ap.add_argument("--adjust-sizes", default="1000,10000,60000",
                    help="bundle adjustment alone on synthetic networks of these many images (bench.adjust_scaling), "
                         "or none")
    ap.add_argument("--adjust-timeout", type=float, default=7200.0, help="seconds per adjustment network")
    ap.add_argument("--page", action="store_true",
                    help="also write docs/benchmarks.md and its data docs/benchmarks.json (make bench does)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "data", help="surveys and run outputs")
    ap.add_argument("--seed", type=int, default=7, help="survey seed (surveys are reused by seed)")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                    else (os.cpu_count() or 2), help="threads/processes (default: the machine's cores)")
    ap.add_argument("--stitch-timeout", type=float, default=300.0, help="seconds per cv2.Stitcher run")
    ap.add_argument("--pipeline-timeout", type=float, default=900.0, help="seconds per pipeline run")
    ap.add_argument("--no-stitch", action="store_true", help="skip the OpenCV stitcher comparison")
    ap.add_argument("--scaling", choices=("none", "threads", "full"), default="threads",
                    help="on the medium survey: 1 vs N threads + 4x-pixel memory (threads), "
                         "also processes (full), or nothing")
    ap.add_argument("--scaling-on", choices=("auto", *SIZES), default="auto",
                    help="survey for the scaling runs (auto: medium if they fit in --budget, else smaller)")
    ap.add_argument("--scaling-only", action="store_true",
                    help="only the scaling runs, reusing the surveys' results in <out>/latest.json")
    ap.add_argument("--budget", type=float, default=840.0,
                    help="seconds (after survey generation) past which optional scaling runs are skipped")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile a synchronous run of the first size (profile-<size>.pstats/.txt)")
    ap.add_argument("--accuracy-samples", type=int, default=400_000)
    ap.add_argument("--render", action="store_true", help="only re-render <out>/latest.md from latest.json")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.render:
        md = _save(json.loads((args.out / "latest.json").read_text()), args.out)
        sys.stdout.write(md + "\n")
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip() and s.strip() != "none"]
    growth = growth_names(args.growth)
    adjust = [int(n) for n in args.adjust_sizes.split(",") if n.strip() and n.strip() != "none"]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        sys.stderr.write(f"unknown size(s) {unknown}; choose from {sorted(SIZES)}\n")
        return 2
    for k in list(SIZES):
        SIZES[k] = with_seed(SIZES[k], args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    run_root = args.data / "runs"
    notes: list[str] = []
    doc: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "settings": {"sizes": sizes, "growth": growth, "seed": args.seed, "workers": args.workers,
                     "scheduler": "threads",
                     "stitch_timeout_s": args.stitch_timeout, "pipeline_timeout_s": args.pipeline_timeout,
                     "scaling": args.scaling, "tile_size": 512},
        "surveys": {}, "scaling": [], "notes": notes,
    }
    t_start = time.perf_counter()
    if args.scaling_only:
        prev = args.out / "latest.json"
        if not prev.is_file():
            sys.stderr.write(f"--scaling-only needs a previous {prev}\n")
            return 2
        old = json.loads(prev.read_text())
        doc["surveys"] = old.get("surveys", {})
        doc["scaling"] = old.get("scaling", [])
        doc["date"] = old.get("date", doc["date"]) + f"; scaling {doc['date']}"
        notes.extend(n for n in old.get("notes", []) if not n.startswith(("benchmark ", "scaling")))
        for key in ("profile", "generation_s", "growth", "adjust_scaling"):
            if key in old:
                doc[key] = old[key]
    surveys = {}
    gen_s = 0.0
    for name in sizes:
        say(f"survey {name}: {SIZES[name]}")
        surveys[name] = ensure_survey(SIZES[name], args.data / "surveys", workers=args.workers)
        if not surveys[name]["reused"]:
            gen_s += surveys[name]["generation_s"]
            say(f"  generated in {surveys[name]['generation_s']:.0f} s")
    doc.setdefault("generation_s", round(gen_s, 1))
    t_bench = time.perf_counter()
    deadline = t_bench + args.budget
    if not args.scaling_only:
        for name in sizes:
            doc["surveys"][name] = bench_survey(name, surveys[name], run_root, args, notes)
            _save(doc, args.out)
    if growth and not args.scaling_only:
        doc["growth"] = bench_growth(growth, args.data / "surveys", run_root, args, run_pipeline, say, notes)
        _save(doc, args.out)
    if adjust and not args.scaling_only:
        say(f"bundle adjustment alone on {adjust} images")
        doc["adjust_scaling"] = run_adjust_scaling(adjust, timeout_s=args.adjust_timeout)
        _save(doc, args.out)
    if args.scaling != "none":
        run_scaling(doc, surveys, run_root, args, deadline, notes)
    if args.profile and sizes:
        say(f"profiling a synchronous run of {sizes[0]}")
        doc["profile"] = profile_run(sizes[0], surveys[sizes[0]], run_root, args.out, args)
    doc["bench_s"] = round(time.perf_counter() - t_bench, 1)
    doc["total_s"] = round(time.perf_counter() - t_start, 1)
    notes.append(
        f"benchmark {doc['bench_s']:.0f} s after {doc['generation_s']:.0f} s of survey generation. wall s = the run "
        "call (pipeline: pipeline.orchestration.run; floor: read+remap+write; "
        "stitcher: estimateTransform+composePanorama), "
        "excluding interpreter start. Stage columns split the run's wall time between stages while their tasks run "
        "(plan = ingest + grid + pairs + graph build before the first task; after = after the last task: "
        "engine shutdown and the QA report). "
        "peak MB = largest sum of RSS over the process tree, sampled every 50 ms."
    )
    md = _save(doc, args.out)
    if args.page:
        write_page(doc)
    sys.stdout.write(md + "\n")
    return 0


def _save(doc: dict[str, Any], out: Path) -> str:
    md = report.render(doc)
    (out / "latest.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / "latest.md").write_text(md + "\n")
    return md


if __name__ == "__main__":
    sys.exit(main())
