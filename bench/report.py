"""Markdown tables of a benchmark document (the JSON that ``bench.run`` writes)."""

from __future__ import annotations

import math
from typing import Any

from bench.growth import GROWTH_HEADERS, growth_rows

DASH = "–"


def fmt(value: Any, digits: int = 1) -> str:
    """Table cell: ``None``/NaN -> a dash, floats rounded, everything else ``str``."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return DASH
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    """A GitHub Markdown table. ``align`` is one character per column, ``l``/``r``/``c``
    (default: first column left, the rest right). Cells go through :func:`fmt` unless they
    are already strings; ``|`` in a cell is escaped."""
    n = len(headers)
    align = align or ("l" + "r" * (n - 1))
    if len(align) != n:
        raise ValueError(f"align has {len(align)} columns, headers {n}")
    for r in rows:
        if len(r) != n:
            raise ValueError(f"row {r!r} has {len(r)} cells, expected {n}")
    cells = [[c if isinstance(c, str) else fmt(c) for c in r] for r in rows]
    cells = [[c.replace("|", "\\|") for c in r] for r in cells]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    rule = {"l": lambda w: ":" + "-" * (w - 1), "r": lambda w: "-" * (w - 1) + ":",
            "c": lambda w: ":" + "-" * max(1, w - 2) + ":"}

    def line(items, pads):
        return "| " + " | ".join(p(s, w) for s, w, p in zip(items, widths, pads)) + " |"

    pads = [(str.ljust if a == "l" else str.rjust if a == "r" else str.center) for a in align]
    out = [line(headers, [str.ljust] * n), "|" + "|".join(rule[a](w + 2) for a, w in zip(align, widths)) + "|"]
    out += [line(r, pads) for r in cells]
    return "\n".join(out)


MAIN_HEADERS = [
    "survey", "method", "status", "wall s", "× stitcher", "× floor", "Mpx/s", "peak MB",
    "plan", "calibrate", "register", "equalize", "mosaic", "write", "after",
    "geoloc common px", "geoloc f2f px", "corr", "seam ratio", "coverage %", "busy cores", "others' cores",
]


def _stage(stages: dict[str, Any] | None, name: str) -> Any:
    if not stages:
        return None
    return stages.get("wall_s", {}).get(name)


def main_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """One row per (survey, method) of ``doc["surveys"]``."""
    rows = []
    for name, s in doc.get("surveys", {}).items():
        label = f"{name} ({s.get('n_frames', '?')}×{s.get('frame_px', '?')}², {fmt(s.get('input_mpx'))} Mpx)"
        stitcher, floor = reference_walls(s)
        for m in s.get("methods", []):
            acc = m.get("accuracy") or {}
            geo = acc.get("geolocation_adjusted") or {}
            st = m.get("stages")
            mine = m.get("wall_s") if m["method"].startswith("farside") else None
            rows.append([
                label, m["method"], m.get("status", DASH), fmt(m.get("wall_s")),
                fmt(mine / stitcher if mine and stitcher else None, 2),
                fmt(mine / floor if mine and floor else None, 1),
                fmt(m.get("mpx_per_s"), 2),
                fmt(m.get("peak_mb"), 0),
                *(fmt(_stage(st, k))
                  for k in ("plan", "calibrate", "register", "equalize", "mosaic", "write", "after")),
                fmt(geo.get("common_px"), 2), fmt(geo.get("frame_to_frame_rms_px"), 2),
                fmt(acc.get("pearson"), 3), fmt(acc.get("seam_ratio"), 2), fmt(acc.get("coverage_pct"), 1),
                fmt(m.get("cpu_util"), 2), fmt(m.get("others_cores"), 2),
            ])
    return rows


def reference_walls(survey: dict[str, Any]) -> tuple[float | None, float | None]:
    """``(fastest successful cv2.Stitcher wall s, floor wall s)`` of one survey's methods, the
    denominators of the table's ``× stitcher`` and ``× floor`` columns (None when missing)."""
    stitch = [m["wall_s"] for m in survey.get("methods", []) if m["method"].startswith("cv2.Stitcher")
              and m.get("wall_s") and str(m.get("status", "")).startswith("OK")]
    floor = [m["wall_s"] for m in survey.get("methods", []) if m["method"].startswith("floor") and m.get("wall_s")]
    return (min(stitch) if stitch else None), (floor[0] if floor else None)


SCALING_HEADERS = ["survey", "run", "scheduler", "workers", "output px", "wall s", "Mpx/s", "speed-up", "peak MB",
                   "busy cores", "others' cores"]


def scaling_rows(doc: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for r in doc.get("scaling", []):
        shape = r.get("grid_shape")
        rows.append([
            r.get("survey"), r.get("label"), r.get("scheduler"), r.get("workers"),
            f"{shape[0]}×{shape[1]}" if shape else DASH, fmt(r.get("wall_s")), fmt(r.get("mpx_per_s"), 2),
            fmt(r.get("speedup"), 2), fmt(r.get("peak_mb"), 0), fmt(r.get("cpu_util"), 2),
            fmt(r.get("others_cores"), 2),
        ])
    return rows


def render(doc: dict[str, Any]) -> str:
    """The whole Markdown report: machine line, main table, scaling/memory table, notes."""
    m = doc.get("machine", {})
    parts = [
        "# farside benchmark",
        "",
        (f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('ram_gb', '?')} GB RAM; python "
        f"{m.get('python', '?')}, numpy {m.get('numpy', '?')}, OpenCV {m.get('opencv', '?')}, dask "
        f"{m.get('dask', '?')}, GDAL {m.get('gdal', '?')}. {doc.get('date', '')}"),
        "",
        markdown_table(MAIN_HEADERS, main_rows(doc), "ll" + "l" + "r" * (len(MAIN_HEADERS) - 3)),
        "",
    ]
    if doc.get("growth"):
        parts += ["## Growth: the same survey at 64, 256 and 1,024 frames", "",
                  markdown_table(GROWTH_HEADERS, growth_rows(doc, fmt), "lrrl" + "r" * (len(GROWTH_HEADERS) - 4)), ""]
    if doc.get("scaling"):
        parts += ["## Scaling and memory", "", markdown_table(SCALING_HEADERS, scaling_rows(doc), "lll" + "r" * 8), ""]
    if doc.get("notes"):
        parts += ["## Notes", "", *(f"- {n}" for n in doc["notes"]), ""]
    return "\n".join(parts)
