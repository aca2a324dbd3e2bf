"""docs/benchmarks.md, rendered from the committed results file docs/benchmarks.json.

``python -m bench.page [--results docs/benchmarks.json] [--page docs/benchmarks.md] [--check]``
re-renders the page (``--check``: exit 1 when the committed page differs). ``make bench``
(``python -m bench.run --page``) writes both files at the end of a run; a fast test checks
that the committed page is what :func:`render_page` makes of the committed results.

The page is a pure function of the results document: the tables of :mod:`bench.report`
(surveys with x stitcher / x floor, growth, 1 vs N workers), the bundle adjustment on its
own (:mod:`bench.adjust_scaling`), where each farside run spends its time (stage wall
seconds and shares), the targets of issue 21 against the measured numbers, and the notes
the run recorded (``doc["notes"]``, ``doc["commentary"]``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.report import DASH, fmt, markdown_table, reference_walls, render

__all__ = ["PAGE", "RESULTS", "adjust_rows", "render_page", "stage_rows", "target_rows", "write_page"]

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "docs" / "benchmarks.json"

INTRO = """\
`make bench` (`python -m bench.run --page`) generates (or reuses, by seed) the surveys, runs
farside, OpenCV's `cv2.Stitcher` and the I/O floor on them, the growth surveys, 1 vs N
workers and the bundle adjustment alone on synthetic networks, and writes this page and
its data, `docs/benchmarks.json` (`bench/README.md` explains every column;
`python -m bench.page` re-renders the page from the data; a test checks they agree).
On 2 quiet cores a full run takes about 14 min for the small and medium surveys and their
scaling rows, 10 min for the growth surveys (64/256/1,024 frames) and about 45 min for the
adjustment networks (1,000/10,000/60,000 images, the 60,000 alone ~40 min); the largest
rows are skipped with `--growth 64,256` and `--adjust-sizes 1000,10000` (`none` skips a
group, `--sizes small` leaves out the medium survey). Rows not measured in the run below
are absent, not carried over."""

ADJUST_HEADERS = ["images", "strips × frames", "observations", "outliers flagged", "linear solver", "adjust s",
                  "adjust CPU s", "peak MB", "rounds", "iterations", "converged", "rms after px",
                  "pointing left p90 px", "frame-to-frame p90 px"]

STAGES = ("plan", "calibrate", "register", "equalize", "mosaic", "write", "after")
STAGE_HEADERS = ["survey", "run", "wall s", *STAGES, "largest stage"]


def adjust_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """One row per network of ``doc["adjust_scaling"]`` (see :data:`ADJUST_HEADERS`)."""
    rows = []
    for r in doc.get("adjust_scaling", []):
        if r.get("error"):
            rows.append([fmt(r.get("images")), DASH, DASH, DASH, r["error"], *([DASH] * 9)])
            continue
        grid = r.get("grid_strips_x_frames")
        rows.append([
            fmt(r.get("images")), f"{grid[0]}×{grid[1]}" if grid else DASH, fmt(r.get("observations")),
            fmt(r.get("n_outliers")), fmt(r.get("linear_solver")), fmt(r.get("adjust_s")), fmt(r.get("adjust_cpu_s")),
            fmt(r.get("peak_rss_mb"), 0), fmt(r.get("rounds")), fmt(r.get("iterations")), fmt(r.get("converged")),
            fmt(r.get("rms_after_px"), 3), fmt(r.get("pointing_error_left_p90_px"), 3),
            fmt(r.get("frame_to_frame_p90_px"), 3),
        ])
    return rows


def _stage_cells(name: str, run: str, row: dict[str, Any]) -> list[Any] | None:
    wall = (row.get("stages") or {}).get("wall_s") or {}
    total = row.get("wall_s")
    if not wall or not total:
        return None
    cells = [f"{fmt(wall.get(k))} ({100 * wall[k] / total:.0f} %)" if wall.get(k) is not None else DASH for k in STAGES]
    top = max((k for k in STAGES if wall.get(k) is not None), key=lambda k: wall[k])
    return [name, run, fmt(total), *cells, top]


def stage_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """Where farside's wall time goes: per survey's farside run (and the profiled synchronous
    run, ``doc["profile"]``), each stage's wall seconds and share of the run."""
    rows = []
    for name, s in doc.get("surveys", {}).items():
        for m in s.get("methods", []):
            if m["method"].startswith("farside") and (cells := _stage_cells(name, m["method"], m)):
                rows.append(cells)
    prof = doc.get("profile")
    if prof and (cells := _stage_cells(prof.get("survey", "?"), "farside (synchronous, cProfile)", prof)):
        rows.append(cells)
    return rows


def _verdict(value: float | None, limit: float, *, at_least: bool = False) -> str:
    if value is None:
        return "not measured"
    return "met" if (value >= limit if at_least else value <= limit) else "missed"


def _network(doc: dict[str, Any], n: int) -> dict[str, Any] | None:
    """The adjustment network asked for with ``n`` images (the strips hold a few less: within 5 %)."""
    return next((r for r in doc.get("adjust_scaling", []) if abs(r.get("images", 0) - n) <= 0.05 * n), None)


def target_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """Issue 21's targets against this document's numbers (``not measured`` where a row is absent)."""
    rows = []
    for name, s in doc.get("surveys", {}).items():
        stitcher, floor = reference_walls(s)
        mine = next((m.get("wall_s") for m in s.get("methods", []) if m["method"].startswith("farside")), None)
        xs = mine / stitcher if mine and stitcher else None
        xf = mine / floor if mine and floor else None
        rows.append([f"{name}: end to end ≤ 1.0× cv2.Stitcher's fastest", "≤ 1.0×", fmt(xs, 2), _verdict(xs, 1.0)])
        rows.append([f"{name}: end to end ≤ 20× the I/O floor", "≤ 20×", fmt(xf, 1), _verdict(xf, 20.0)])
    growth = [g for g in doc.get("growth", []) if g.get("ms_per_frame")]
    last = growth[-1] if len(growth) > 1 else None
    rows.append(["growth: ms/frame at the largest survey vs 64 frames", "≤ 1.15×",
                 fmt(last.get("per_frame_vs_first") if last else None, 2),
                 _verdict(last.get("per_frame_vs_first") if last else None, 1.15)])
    cpu = [g["ms_per_frame"] * g["cpu_util"] for g in growth if g.get("cpu_util")] if last else []
    ratio = cpu[-1] / cpu[0] if cpu and len(cpu) == len(growth) and cpu[0] else None
    rows.append(["growth: CPU ms/frame at the largest survey vs 64 frames", "≤ 1.15×", fmt(ratio, 2),
                 _verdict(ratio, 1.15)])
    big = next((g for g in doc.get("growth", []) if g.get("n_frames") == 1024), None)
    rows.append(["growth: peak memory at 1,024 frames", "≤ 2048 MB", fmt(big.get("peak_mb") if big else None, 0),
                 _verdict(big.get("peak_mb") if big else None, 2048)])
    ten = _network(doc, 10_000)
    ten = None if ten and ten.get("error") else ten
    rows.append(["adjustment: 10,000 images, wall (CPU) s", "≤ 120 s",
                 f"{fmt(ten['adjust_s'])} ({fmt(ten.get('adjust_cpu_s'))})" if ten else DASH,
                 _verdict(ten.get("adjust_s") if ten else None, 120)])
    rows.append(["adjustment: 10,000 images, peak memory", "≤ 4096 MB", fmt(ten.get("peak_rss_mb") if ten else None, 0),
                 _verdict(ten.get("peak_rss_mb") if ten else None, 4096)])
    sixty = _network(doc, 60_000)
    rows.append(["adjustment: 60,000 images completes", "completes",
                 (sixty["error"] if sixty.get("error") else
                  f"{fmt(sixty.get('adjust_s'))} s, {fmt(sixty.get('peak_rss_mb'), 0)} MB") if sixty else DASH,
                 ("missed" if sixty.get("error") else "met") if sixty else "not measured"])
    speed = [r.get("speedup") for r in doc.get("scaling", []) if r.get("survey") == "medium"
             and r.get("label") == "native" and r.get("workers", 1) > 1 and r.get("speedup")]
    best = max(speed) if speed else None
    rows.append(["medium: 2 workers vs 1", "≥ 1.8×", fmt(best, 2), _verdict(best, 1.8, at_least=True)])
    return rows


def render_page(doc: dict[str, Any]) -> str:
    """The whole of docs/benchmarks.md (ends with a newline) from one results document."""
    body = render(doc).splitlines()[2:]  # bench.report's page without its title and the blank line after it
    parts = ["# Benchmarks", "", INTRO, "", *body]
    if doc.get("adjust_scaling"):
        parts += ["## Bundle adjustment alone (bench/adjust_scaling.py)", "",
                  markdown_table(ADJUST_HEADERS, adjust_rows(doc), "ll" + "r" * 2 + "l" + "r" * 9), ""]
    if stage_rows(doc):
        parts += ["## Where the time goes (stage wall seconds, share of the run)", "",
                  markdown_table(STAGE_HEADERS, stage_rows(doc), "ll" + "r" * (len(STAGE_HEADERS) - 3) + "l"), ""]
    parts += ["## Targets (issue 21)", "",
              markdown_table(["target", "limit", "measured", "verdict"], target_rows(doc), "llrl"), ""]
    if doc.get("commentary"):
        parts += ["## Commentary", "", *(p + "\n" for p in doc["commentary"])]
    return "\n".join(parts).rstrip("\n") + "\n"


def write_page(doc: dict[str, Any], page: Path = PAGE, results: Path = RESULTS) -> str:
    """Write the results document and the page rendered from it; returns the page."""
    text = render_page(doc)
    results.write_text(json.dumps(doc, indent=1, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    page.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--page", type=Path, default=PAGE)
    ap.add_argument("--check", action="store_true", help="exit 1 when the page differs from the rendered results")
    args = ap.parse_args(argv)
    text = render_page(json.loads(args.results.read_text(encoding="utf-8")))
    if args.check:
        same = args.page.is_file() and args.page.read_text(encoding="utf-8") == text
        if not same:
            sys.stderr.write(f"{args.page} is not what {args.results} renders: run python -m bench.page\n")
        return 0 if same else 1
    args.page.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
