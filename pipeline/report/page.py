"""HTML page of the QA report: one self-contained file, images as data URIs, no network."""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from pyproj.exceptions import ProjError

from .data import FrameRow, ReportData, as_1d, rms
from .maps import (
    MapProj,
    Raster,
    compute_coverage,
    decimals_for,
    fmt_lat,
    fmt_lon,
    footprint_rings,
    read_raster,
)
from .plots import (
    REJ_COLOUR,
    USED_COLOUR,
    bars_per_frame,
    hist_before_after,
    plot_coverage,
    plot_gain_offset,
    plot_mosaic,
    plot_tie_network,
)

log = logging.getLogger("pipeline.report")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(v: float | None, spec: str = ".3g") -> str:
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return _esc(v)
    if not math.isfinite(f):
        return "–" if math.isnan(f) else _esc(f)
    if spec.endswith("d"):
        return format(round(f), spec)
    return format(f, spec)


def _tuple(v, spec: str = ".3g") -> str:
    if v is None:
        return "–"
    return ", ".join(_num(x, spec) for x in v)


def _range(v, spec: str = ".1f") -> str:
    if v is None:
        return "–"
    lo, hi = v
    return f"{_num(lo, spec)}–{_num(hi, spec)}"


def _img(uri: str, alt: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} src="{uri}" alt="{_esc(alt)}">'


def _not_run(what: str) -> str:
    return f'<p class="notrun">{_esc(what)}</p>'


_CSS = """
:root{--fg:#1d2430;--muted:#5b6575;--line:#dde2ea;--bg:#f5f7fa;--card:#fff;--bad:#c0143c;
--badbg:#fdecef;--ok:#1f7a4d;--accent:#2b6cb0}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--fg);background:var(--bg)}
header{background:#1d2430;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#b8c2d3;font-size:12px;margin-top:2px;word-break:break-all}
nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);
padding:6px 24px;display:flex;gap:18px;flex-wrap:wrap}
nav a{color:var(--accent);text-decoration:none;font-size:13px}
main{max-width:1240px;margin:0 auto;padding:16px 24px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 20px;
margin:16px 0}
h2{font-size:17px;margin:0 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:14px 0 6px;color:var(--muted)}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.stat{border:1px solid var(--line);border-radius:6px;padding:8px 10px;background:#fbfcfd}
.stat .k{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.stat .v{font-size:18px;font-weight:600;word-break:break-word;line-height:1.3}
.stat .v small{font-size:12px;font-weight:400;color:var(--muted)}
.stat.bad .v{color:var(--bad)}
figure{margin:8px 0;text-align:center}
figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:12px;color:var(--muted);margin-top:4px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px;align-items:start}
.notrun{color:var(--muted);font-style:italic;background:#f3f4f6;border-left:3px solid #b0b7c3;
padding:6px 10px;margin:6px 0}
.notes{margin:10px 0;padding:8px 12px 8px 28px;background:#fff8e6;border:1px solid #f3d58a;
border-radius:6px}
.rejected-list{background:var(--badbg);border:1px solid #f2b8c6;border-radius:6px;padding:8px 12px;
margin:0 0 10px}
.rejected-list h3{color:var(--bad);margin:0 0 4px}
.rejected-list li{margin:2px 0}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:12px;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 5px;text-align:left;vertical-align:top;
white-space:nowrap}
th{background:#eef1f5;font-weight:600;white-space:normal;vertical-align:bottom;line-height:1.2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.rejected td{background:var(--badbg)}
td.reason{white-space:normal;min-width:160px;max-width:280px}
tr.rejected td.reason{color:var(--bad);font-weight:600}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:600;
background:#e3f2ea;color:var(--ok)}
.badge.rejected{background:var(--bad);color:#fff}
.badge.other{background:#fff1d6;color:#8a5a00}
table.kv{width:auto;min-width:50%}
table.kv th{background:none;position:static;color:var(--muted);font-weight:500;width:1%}
table.kv th,table.kv td{vertical-align:top}
table.kv td{white-space:normal;word-break:break-word}
table.timings{width:auto;min-width:60%}
table.timings th{background:none;color:var(--muted);font-weight:500;vertical-align:middle;width:1%}
table.timings td{vertical-align:middle}
td.barcell{width:70%;min-width:200px}
details{margin:8px 0}
summary{cursor:pointer;color:var(--accent);font-weight:600}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;
max-height:480px;font-size:12px}
.bar{height:10px;background:var(--accent);border-radius:2px;min-width:1px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
"""

_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.dataset.imagesLoaded = String(ok);
  document.body.dataset.imageCount = String(imgs.length);
});
"""


def _stat(key: str, value: str, bad: bool = False) -> str:
    return f'<div class="stat{" bad" if bad else ""}"><div class="k">{_esc(key)}</div><div class="v">{value}</div></div>'


def _kv_table(d: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_short(v))}</td></tr>" for k, v in d.items())
    return f'<table class="kv">{rows}</table>'


def _short(v: Any) -> str:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(_plain(v), default=str)
    return str(v)


def _plain(v: Any) -> Any:
    """Recursively turn Paths, numpy scalars/arrays, tuples and dataclasses into YAML-able data."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "model_dump"):
        return _plain(v.model_dump())
    return str(v)


def _dump_config(cfg: Any) -> tuple[str, str]:
    data = _plain(cfg)
    try:
        import yaml

        return "YAML", yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    except ImportError:
        return "JSON", json.dumps(data, indent=2)


def _status_badge(f: FrameRow) -> str:
    cls = "rejected" if f.rejected else ("" if f.status.strip().lower() == "used" else "other")
    return f'<span class="badge {cls}">{_esc(f.status)}</span>'


def _centre(f: FrameRow) -> str:
    if not f.footprint_lonlat:
        return "–"
    a = np.asarray(f.footprint_lonlat, float).reshape(-1, 2)
    lon = np.unwrap(a[:, 0], period=360.0)
    return f"{float(np.mean(lon)) % 360:.2f}, {float(np.mean(a[:, 1])):.2f}"


def _table(table_id: str, head: tuple[str, ...], frames: list[FrameRow], cells, mark_rows: bool) -> str:
    out = [f'<div class="scroll"><table id="{table_id}"><thead><tr>']
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for f in frames:
        cls = ' class="rejected"' if f.rejected else ""
        attr = f' data-frame-id="{_esc(f.id)}"' if mark_rows else ""
        out.append(f"<tr{cls}{attr}>{''.join(cells(f))}</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _frame_tables(frames: list[FrameRow]) -> str:
    """Two tables, so each fits a page width: acquisition + calibration (one row per frame,
    rows carry ``data-frame-id``) and geometry + registration + equalisation."""
    if not frames:
        return _not_run("No frames were given to the report.")

    def id_cell(f: FrameRow) -> str:
        return f"<td><b>{_esc(f.id)}</b></td>"

    def acq(f: FrameRow) -> list[str]:
        masked = None if f.masked_fraction is None else 100.0 * f.masked_fraction
        shape = "×".join(str(int(v)) for v in f.shape) if f.shape else "–"
        return [
            id_cell(f),
            f'<td class="file" title="{_esc(f.path)}">{_esc(Path(f.path).name)}</td>',
            f"<td>{_esc(f.format)}</td>",
            f"<td>{_esc(shape)}</td>",
            f'<td class="num">{_num(f.exposure_s, ".4g")}</td>',
            f"<td>{_esc(f.time_utc or '–')}</td>",
            f"<td>{_status_badge(f)}</td>",
            f'<td class="reason">{_esc(f.reason) if f.reason else "–"}</td>',
            f'<td class="num">{_num(f.level, ".4g")}</td>',
            f'<td class="num">{_num(f.noise, ".3g")}</td>',
            f'<td class="num">{_num(masked, ".2f")}</td>',
            f'<td class="num">{_num(f.cosmic_rays, "d")}</td>',
        ]

    def geo(f: FrameRow) -> list[str]:
        return [
            id_cell(f),
            f"<td>{_status_badge(f)}</td>",
            f'<td class="num">{_centre(f)}</td>',
            f'<td class="num">{_range(f.incidence_deg)}</td>',
            f'<td class="num">{_range(f.emission_deg)}</td>',
            f'<td class="num">{_num(f.tie_points, "d")}</td>',
            f'<td class="num">{_tuple(f.correction_deg, ".4f")}</td>',
            f'<td class="num">{_num(f.residual_before_px, ".3f")}</td>',
            f'<td class="num">{_num(f.residual_after_px, ".3f")}</td>',
            f'<td class="num">{_num(f.gain, ".4f")}</td>',
            f'<td class="num">{_num(f.offset, ".4g")}</td>',
        ]

    acq_head = (
        "id",
        "file",
        "format",
        "shape",
        "exposure (s)",
        "time (UTC)",
        "status",
        "reason",
        "level",
        "noise",
        "masked %",
        "cosmic rays",
    )
    geo_head = (
        "id",
        "status",
        "centre lon, lat (°)",
        "incidence (°)",
        "emission (°)",
        "tie points",
        "pointing correction (°)",
        "residual before (px)",
        "residual after (px)",
        "gain",
        "offset",
    )
    return (
        "<h3>Acquisition and calibration</h3>"
        + _table("frame-table", tuple(_esc(h) for h in acq_head), frames, acq, mark_rows=True)
        + "<h3>Geometry, registration and equalisation</h3>"
        + _table("frame-geometry-table", tuple(_esc(h) for h in geo_head), frames, geo, mark_rows=False)
    )


def _other_statuses(frames: list[FrameRow]) -> dict[str, int]:
    """Counts of the statuses of used frames other than plain "used"."""
    out: dict[str, int] = {}
    for f in frames:
        st = f.status.strip()
        if not f.rejected and st.lower() != "used":
            out[st] = out.get(st, 0) + 1
    return out


def _rejected_block(frames: list[FrameRow]) -> str:
    rej = [f for f in frames if f.rejected]
    if not rej:
        return ""
    items = "".join(
        f'<li><b>{_esc(f.id)}</b> <span class="muted">({_esc(Path(f.path).name)})</span>: '
        f"{_esc(f.reason or f.status)}</li>"
        for f in rej
    )
    return f'<div class="rejected-list"><h3>Rejected frames ({len(rej)})</h3><ul>{items}</ul></div>'


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return str(n)


def _figure(uri: str, alt: str, caption: str) -> str:
    return f"<figure>{_img(uri, alt)}<figcaption>{caption}</figcaption></figure>"


def write_report(data: ReportData, out_html: Path) -> Path:
    """Write the QA report of one mosaic run as a single self-contained HTML file.

    Parameters
    ----------
    data : ReportData
        Frames, registration and equalisation statistics, provenance and timings.
        Any of the optional pieces may be ``None``/empty: its section then says "not run".
    out_html : Path
        Where to write; by convention :func:`default_report_path` of the mosaic
        (``OUT.report.html`` beside ``OUT.tif``). Parent folders are created.

    Returns
    -------
    Path
        ``out_html``.

    Notes
    -----
    The mosaic is read decimated to at most :data:`MAX_PLOT_PX` pixels a side; an
    unreadable or missing mosaic is reported in the page rather than raised.
    """
    t0 = time.perf_counter()
    out_html = Path(out_html)
    frames = list(data.frames)
    n_rej = sum(f.rejected for f in frames)
    n_used = len(frames) - n_rej

    # -- mosaic -------------------------------------------------------------------------
    raster: Raster | None = None
    proj: MapProj | None = None
    raster_error = ""
    try:
        raster = read_raster(Path(data.mosaic_path))
        proj = MapProj(raster.crs_wkt, raster.bounds)
    except (OSError, ValueError, ProjError) as exc:  # rasterio IO errors are OSErrors; no CRS: ValueError
        raster_error = f"{type(exc).__name__}: {exc}"
        log.warning("report: cannot read mosaic %s: %s", data.mosaic_path, exc)
        raster, proj = None, None

    rings = footprint_rings(frames, proj) if proj is not None else []
    rings_used = [(f, c) for f, c in rings if not f.rejected]
    cov = compute_coverage(raster, proj, rings_used) if raster is not None and proj is not None else None

    res_b = as_1d(data.residuals_before_px)
    res_a = as_1d(data.residuals_after_px)
    if res_b is None and res_a is None:
        # fall back on per-frame residuals
        pb = [f.residual_before_px for f in frames if f.residual_before_px is not None]
        pa = [f.residual_after_px for f in frames if f.residual_after_px is not None]
        rms_b = rms(np.asarray(pb, float)) if pb else None
        rms_a = rms(np.asarray(pa, float)) if pa else None
    else:
        rms_b, rms_a = rms(res_b), rms(res_a)
    ovl_b = as_1d(data.overlap_diff_before)
    ovl_a = as_1d(data.overlap_diff_after)

    # -- summary ------------------------------------------------------------------------
    stats = [
        _stat(
            "frames used",
            f"{n_used} <small>of {len(frames)}</small>"
            + "".join(
                f"<br><small>incl. {n} {_esc(st)}</small>" for st, n in _other_statuses(frames).items()
            ),
        ),
        _stat("frames rejected", str(n_rej), bad=n_rej > 0),
        _stat(
            "coverage",
            "–"
            if cov is None
            else f"{cov.percent:.1f} %"
            + (f" <small>{cov.holes_percent:.2f} % gaps</small>" if cov.holes.any() else ""),
            bad=cov is not None and bool(cov.holes.any()),
        ),
        _stat(
            "residual RMS (px)",
            f"{_num(rms_b, '.3f')} → {_num(rms_a, '.3f')}"
            if (rms_b is not None or rms_a is not None)
            else "not run",
        ),
    ]
    if raster is not None:
        rx, ry = raster.resolution
        res_txt = f"{rx:g} m" if math.isclose(rx, ry) else f"{rx:g} × {ry:g} m"
        stats += [
            _stat(
                "output size",
                f"{raster.width} × {raster.height} px <small>{_human_bytes(raster.file_bytes)}"
                f", {_esc(raster.dtype)}, {len(raster.band_names)} band(s)</small>",
            ),
            _stat("resolution", res_txt + " <small>per pixel</small>"),
            _stat("CRS", f"<small>{_esc(raster.crs_name)}</small>"),
        ]
        if proj is not None:
            lo, hi = proj.lon_range
            la, lb = proj.lat_range
            nd = decimals_for(max(min(hi - lo, 360.0), lb - la))
            lon_txt = "all longitudes" if hi - lo >= 359.0 else f"{fmt_lon(lo, nd)} – {fmt_lon(hi, nd)}"
            stats.append(
                _stat("extent", f"<small>{lon_txt}<br>{fmt_lat(la, nd)} – {fmt_lat(lb, nd)}</small>")
            )
    total_t = data.timings_s.get("total", sum(float(v) for v in data.timings_s.values()))
    if data.timings_s:
        stats.append(_stat("run time", f"{total_t:.1f} s"))
    notes = list(data.notes)
    if raster_error:
        notes.insert(0, f"mosaic could not be read: {raster_error}")
    summary = f'<div class="stats">{"".join(stats)}</div>'
    if notes:
        summary += '<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>"
    summary += _rejected_block(frames)

    # -- mosaic section -----------------------------------------------------------------
    if raster is not None and proj is not None:
        mosaic_html = _figure(
            plot_mosaic(raster, proj, rings),
            "mosaic quicklook",
            f"Quicklook of <code>{_esc(raster.path.name)}</code> (decimated to "
            f"{raster.image.shape[1]} × {raster.image.shape[0]} px) with frame footprints "
            f"(<span style='color:{USED_COLOUR}'>■</span> used, "
            f"<span style='color:{REJ_COLOUR}'>■</span> rejected, dashed) and a lon/lat graticule "
            f"(planetocentric, east-positive). Bands: {_esc(', '.join(raster.band_names))}.",
        )
        if not rings:
            mosaic_html += _not_run("No frame footprints were given.")
    else:
        mosaic_html = _not_run(f"Mosaic not available: {raster_error or 'not written'}.")

    # -- coverage -----------------------------------------------------------------------
    if cov is not None and raster is not None and proj is not None:
        gaps = (
            f"<b style='color:var(--bad)'>{int(cov.holes.sum())} gap pixels</b> "
            f"({cov.holes_percent:.2f} % of the map) enclosed by coverage, shown in red"
            if cov.holes.any()
            else "no gaps enclosed by coverage"
        )
        cmax = int(cov.count.max()) if cov.count.size else 0
        mean_c = float(cov.count[cov.count > 0].mean()) if (cov.count > 0).any() else 0.0
        coverage_html = (
            f"<p><b>{cov.percent:.1f} %</b> of the output grid"
            + ("" if proj.all_on_body else " (on the lunar disk)")
            + f" is covered by at least one frame; {gaps}. Frames per covered pixel: mean "
            f"{mean_c:.2f}, max {cmax}. Computed from the {cov.source}"
            + (" (used frames only)" if cov.source == "footprints" else "")
            + " on the decimated grid.</p>"
            + _figure(
                plot_coverage(raster, proj, cov, rings_used),
                "coverage map",
                "Frames per pixel; gaps (no frame, enclosed by covered area) in red.",
            )
        )
    else:
        coverage_html = _not_run("Coverage not available: the mosaic could not be read.")

    # -- frames -------------------------------------------------------------------------
    frames_html = _rejected_block(frames) + _frame_tables(frames)

    # -- registration -------------------------------------------------------------------
    reg_parts = []
    if (res_b is not None and res_b.size) or (res_a is not None and res_a.size):
        reg_parts.append(
            _figure(
                hist_before_after(res_b, res_a, "reprojection residual (px)", symmetric=False),
                "residual histogram",
                "Tie-point reprojection residuals before and after bundle adjustment.",
            )
        )
    bars = bars_per_frame(
        frames, "residual_before_px", "residual_after_px", "before", "after", "RMS residual (px)"
    )
    if bars:
        reg_parts.append(
            _figure(
                bars, "per-frame residuals", "Per-frame residual before / after (rejected frames in red)."
            )
        )
    tie = None if data.tie_points_lonlat is None else np.asarray(data.tie_points_lonlat, float).reshape(-1, 2)
    if tie is not None and tie.size:
        tie = tie[np.all(np.isfinite(tie), axis=1)]
    if tie is not None and tie.size:
        net_html = _figure(
            plot_tie_network(raster, proj, rings, tie),
            "tie-point network",
            "Tie points (cyan) and the overlap graph between used frames (white lines "
            "between the centres of overlapping footprints).",
        )
    else:
        net_html = ""
    corr = [f for f in frames if f.correction_deg is not None]
    if reg_parts or corr or net_html:
        head = ""
        if rms_b is not None or rms_a is not None:
            head = (
                f"<p>Residual RMS <b>{_num(rms_b, '.3f')} px → {_num(rms_a, '.3f')} px</b>"
                + (f" over {res_a.size} observations" if res_a is not None and res_a.size else "")
                + (f"; {tie.shape[0]} tie points" if tie is not None and tie.size else "")
                + ".</p>"
            )
        if corr:
            mags = [float(np.linalg.norm(f.correction_deg)) for f in corr]
            head += (
                f"<p>Pointing corrections applied to {len(corr)} frame(s); largest "
                f"{max(mags):.4f}° ({_esc(corr[int(np.argmax(mags))].id)}).</p>"
            )
        registration_html = head + '<div class="grid2">' + "".join(reg_parts) + "</div>" + net_html
    else:
        registration_html = _not_run("Registration not run: no residuals or tie points were recorded.")

    # -- equalisation -------------------------------------------------------------------
    eq_parts = []
    if (ovl_b is not None and ovl_b.size) or (ovl_a is not None and ovl_a.size):
        eq_parts.append(
            _figure(
                hist_before_after(ovl_b, ovl_a, "overlap difference (I/F)", symmetric=True),
                "overlap differences",
                "Differences between overlapping frames before and after equalisation.",
            )
        )
    go = plot_gain_offset(frames)
    if go:
        eq_parts.append(
            _figure(go, "gain and offset", "Per-frame equalisation gain (bars) and offset (dots).")
        )
    if eq_parts:
        head = ""
        if ovl_b is not None or ovl_a is not None:
            head = (
                f"<p>Overlap difference RMS <b>{_num(rms(ovl_b), '.4g')} → {_num(rms(ovl_a), '.4g')}"
                f"</b> (I/F).</p>"
            )
        equalisation_html = head + '<div class="grid2">' + "".join(eq_parts) + "</div>"
    else:
        equalisation_html = _not_run("Equalisation not run: no overlap differences or gains were recorded.")

    # -- provenance ---------------------------------------------------------------------
    prov = dict(data.provenance or {})
    p_parts = []
    inputs = prov.pop("inputs", None)
    if inputs:
        items = inputs.items() if isinstance(inputs, dict) else enumerate(inputs, start=1)
        rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(_short(v))}</td></tr>" for k, v in items)
        n_in = len(inputs)
        tag = "details open" if n_in <= 12 else "details"
        p_parts.append(
            f"<h3>Inputs</h3><{tag}><summary>{n_in} input(s)</summary>"
            f'<table class="kv">{rows}</table></details>'
        )
    cfg = prov.pop("config", None)
    if cfg is not None:
        kind, text = _dump_config(cfg)
        p_parts.append(
            f"<h3>Configuration</h3><details><summary>show configuration ({kind})</summary>"
            f"<pre>{_esc(text)}</pre></details>"
        )
    versions = prov.pop("versions", None)
    if versions:
        p_parts.append(
            "<h3>Versions</h3>"
            + (_kv_table(versions) if isinstance(versions, dict) else f"<p>{_esc(_short(versions))}</p>")
        )
    sched = prov.pop("scheduler", None)
    if sched is not None:
        p_parts.append(
            "<h3>Scheduler</h3>" + (_kv_table(sched) if isinstance(sched, dict) else f"<p>{_esc(sched)}</p>")
        )
    if prov:
        p_parts.append("<h3>Other</h3>" + _kv_table(prov))
    if not p_parts:
        p_parts.append(_not_run("No provenance was recorded."))
    if data.timings_s:
        stages = {k: float(v) for k, v in data.timings_s.items() if k != "total"}
        tmax = max([*stages.values(), 1e-9])
        rows = "".join(
            f"<tr><th>{_esc(k)}</th><td class='num'>{v:.2f} s</td>"
            f"<td class='num'>{100.0 * v / total_t if total_t > 0 else 0.0:.0f} %</td>"
            f"<td class='barcell'><div class='bar' style='width:{100.0 * v / tmax:.1f}%'></div></td></tr>"
            for k, v in stages.items()
        )
        rows += f"<tr><th>total</th><td class='num'><b>{total_t:.2f} s</b></td><td></td><td></td></tr>"
        p_parts.append(f'<h3>Timings per stage</h3><table class="timings" id="timings">{rows}</table>')
    else:
        p_parts.append("<h3>Timings per stage</h3>" + _not_run("No timings were recorded."))
    provenance_html = "".join(p_parts)

    # -- page ---------------------------------------------------------------------------
    sections = {
        "summary": ("Summary", summary),
        "mosaic": ("Mosaic", mosaic_html),
        "coverage": ("Coverage", coverage_html),
        "frames": (f"Frames ({len(frames)})", frames_html),
        "registration": ("Registration", registration_html),
        "equalisation": ("Equalisation and seams", equalisation_html),
        "provenance": ("Provenance and timings", provenance_html),
    }
    nav = "".join(
        f'<a href="#{sid}">{_esc(title.split(" (")[0])}</a>' for sid, (title, _) in sections.items()
    )
    body = "".join(
        f'<section id="{sid}"><h2>{_esc(title)}</h2>{content}</section>'
        for sid, (title, content) in sections.items()
    )
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    elapsed = time.perf_counter() - t0
    title = f"farside QA report: {Path(data.mosaic_path).name}"
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_esc(title)}</h1><div class="sub">{_esc(Path(data.mosaic_path))} · generated {now}'
        f"</div></header><nav>{nav}</nav><main>{body}"
        f"<footer>farside QA report · built in {elapsed:.2f} s</footer></main>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(page, encoding="utf-8")
    log.info("report written to %s in %.2f s", out_html, elapsed)
    return out_html
