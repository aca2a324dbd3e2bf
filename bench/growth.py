"""Growth rows: the pipeline end to end on surveys of 64, 256 and 1,024 frames.

The surveys (:data:`bench.surveys.GROWTH`) are the simulator's ``small_128`` preset at three
sizes: 128² frames at 25 % overlap along and across track, so the overlap density, and the
work per frame, is the same in all three. A pipeline whose cost is linear in the frames shows
the same time per frame at every size; the target (issue 21) is within 15 % of the 64-frame
survey's at 1,024 frames, and peak memory at 1,024 frames <= 2 GB.

Each run is one measured subprocess (:func:`bench.run.run_pipeline`: threads scheduler, one
worker per core, peak RSS of the process tree sampled every 50 ms). Besides wall time, peak
memory and the stages, a row records how many frames the registration tied and into how many
networks (every frame of these surveys overlaps its neighbours: all should tie, in one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.surveys import GROWTH, ensure_survey, with_seed

__all__ = ["GROWTH_HEADERS", "bench_growth", "growth_names", "growth_rows"]

GROWTH_HEADERS = [
    "survey", "frames", "pairs", "status", "wall s", "ms/frame", "× 64's", "peak MB", "plan", "calibrate",
    "register", "equalize", "mosaic", "write", "tied", "networks", "busy cores", "others' cores", "CPU ms/frame",
]


def growth_names(option: str) -> list[str]:
    """``"64,256,1024"`` (or ``"growth-64,..."``, ``"none"``) -> growth survey names."""
    if option.strip().lower() in ("", "none"):
        return []
    names = []
    for item in option.split(","):
        item = item.strip()
        name = item if item.startswith("growth-") else f"growth-{item}"
        if name not in GROWTH:
            raise ValueError(f"unknown growth survey {item!r}; choose from {sorted(GROWTH)} (or none)")
        names.append(name)
    return names


def bench_growth(names: list[str], data_dir: Path, run_root: Path, args, run_pipeline: Callable[..., dict],
                 say: Callable[[str], None], notes: list[str]) -> list[dict[str, Any]]:
    """Generate (or reuse) each growth survey and run the pipeline on it once; one row each."""
    rows = []
    for name in names:
        spec = with_seed(GROWTH[name], args.seed)
        say(f"growth survey {name}: {spec}")
        doc = ensure_survey(spec, data_dir, workers=args.workers)
        if not doc["reused"]:
            say(f"  generated in {doc['generation_s']:.0f} s")
        row = run_pipeline(Path(doc["path"]), run_root / name, "farside", scheduler="threads", workers=args.workers,
                           timeout=args.pipeline_timeout)
        res = row.pop("result", None) or {}
        row.pop("stderr_tail", None)
        reg = res.get("registration", {})
        row.update(survey=name, n_frames=spec.n_frames, frame_px=spec.size, generation_s=doc.get("generation_s"),
                   pairs=res.get("pairs"), n_tied=reg.get("n_tied"), n_components=reg.get("n_components"))
        if row.get("wall_s"):
            row["ms_per_frame"] = 1000.0 * row["wall_s"] / spec.n_frames
        rows.append(row)
    base = next((r.get("ms_per_frame") for r in rows if r.get("ms_per_frame")), None)
    for r in rows:
        if base and r.get("ms_per_frame"):
            r["per_frame_vs_first"] = r["ms_per_frame"] / base
    if len(rows) > 1 and rows[0].get("ms_per_frame") and rows[-1].get("ms_per_frame"):
        first, last = rows[0], rows[-1]
        verdict = "meets" if last["per_frame_vs_first"] <= 1.15 else "misses"
        notes.append(f"growth: {last['n_frames']} frames take {last['ms_per_frame']:.0f} ms per frame, "
                     f"{last['per_frame_vs_first']:.2f}x the {first['n_frames']}-frame survey's "
                     f"{first['ms_per_frame']:.0f} ms ({verdict} the 1.15x target); peak memory "
                     f"{last.get('peak_mb', float('nan')):.0f} MB (target <= 2048 MB)")
    return rows


def _stage(row: dict[str, Any], name: str) -> Any:
    return (row.get("stages") or {}).get("wall_s", {}).get(name)


def _cpu_ms_per_frame(row: dict[str, Any]) -> float | None:
    """CPU milliseconds per frame (wall ms/frame x busy cores): comparable across runs on a
    machine shared with others, where wall time is not."""
    ms, util = row.get("ms_per_frame"), row.get("cpu_util")
    return ms * util if ms and util else None


def growth_rows(doc: dict[str, Any], fmt: Callable[..., str]) -> list[list[Any]]:
    """Table rows of ``doc["growth"]`` (see :data:`GROWTH_HEADERS`)."""
    out = []
    for r in doc.get("growth", []):
        out.append([
            f"{r.get('survey')} ({r.get('n_frames')}×{r.get('frame_px')}²)",
            fmt(r.get("n_frames")), fmt(r.get("pairs")),
            r.get("status", "–"), fmt(r.get("wall_s")), fmt(r.get("ms_per_frame"), 0),
            fmt(r.get("per_frame_vs_first"), 2), fmt(r.get("peak_mb"), 0),
            *(fmt(_stage(r, k)) for k in ("plan", "calibrate", "register", "equalize", "mosaic", "write")),
            f"{r.get('n_tied')}/{r.get('n_frames')}" if r.get("n_tied") is not None else "–",
            fmt(r.get("n_components")), fmt(r.get("cpu_util"), 2), fmt(r.get("others_cores"), 2),
            fmt(_cpu_ms_per_frame(r), 0),
        ])
    return out
