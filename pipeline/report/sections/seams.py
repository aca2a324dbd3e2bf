"""The seams section: the seam map (which frame each pixel came from), the misregistration
per seam in pixels and metres, ASP's criterion per frame and the frames that fail it."""

from __future__ import annotations

from ..context import PageContext
from ..data import ReportData
from ..markup import esc, figure, metres, not_run, num, table
from ..misregistration import PERCENTILES, FrameMisregistration, Misregistration, SeamMisregistration
from ..plots_seams import SEAM_COLOURS, plot_seam_map

__all__ = ["seams_section"]

_NO_TOP_INDEX = ("No seam map: the mosaic has no top_index band. Add top_index to mosaicking.extra_bands "
                 "(e.g. extra_bands: [count, top_index]) to record which frame each pixel came from.")


def _intro(m: Misregistration) -> str:
    return (
        "<p>Misregistration is measured as the Ames Stereo Pipeline does (<code>bundle_adjust "
        "--mapproj-dem</code>): for every tie point seen by two frames, both observations are traced "
        "through the adjusted cameras to the surface the mosaic was orthorectified on, and the distance "
        "between the two ground points is the offset a seam between these frames shows. Pixels are "
        f"metres / {m.pixel_size_m:g} m (the map's pixel size). A frame is badly registered when the "
        f"{m.percentile:g}th percentile of its offsets against all other frames exceeds "
        f"<b>{m.threshold_px:g} px</b>; tie points anywhere in an overlap count, not only those on the "
        "seam line.</p>"
    )


def _failing_block(m: Misregistration) -> str:
    bad = [f for f in m.frames if f.bad]
    if not bad:
        return (f'<p class="ok-note" id="misregistered-frames">All {len(m.frames)} frame(s) with common tie '
                f"points pass ASP's criterion ({m.percentile:g}th percentile ≤ {m.threshold_px:g} px).</p>")
    items = "".join(
        f"<li><b>{esc(f.frame_id)}</b>: {m.percentile:g}th percentile "
        f"{num(m.px(f.offsets.at(m.percentile)), '.2f')} px ({metres(f.offsets.at(m.percentile))} m) "
        f"over {f.offsets.n} tie-point pair(s)</li>" for f in bad
    )
    return (f'<div class="rejected-list" id="misregistered-frames"><h3>Badly registered frames ({len(bad)}) '
            f"— {m.percentile:g}th percentile &gt; {m.threshold_px:g} px</h3><ul>{items}</ul></div>")


def _id_pair(ctx: PageContext, a: int, b: int) -> tuple[str, str]:
    """The sorted frame ids of two ``top_index`` values (``#k`` for an index without a row)."""
    ids = ctx.index_to_id or {}
    return tuple(sorted((ids.get(a, f"#{a}"), ids.get(b, f"#{b}"))))


def _seam_state(ctx: PageContext) -> dict[tuple[int, int], str]:
    """``ok``/``bad``/``unmeasured`` per seam of the map (frame-index pairs)."""
    m = ctx.misregistration
    by_ids = {(s.frame_a, s.frame_b): s for s in m.seams} if m is not None else {}
    out = {}
    for a, b in ctx.seams.edges:
        seam = by_ids.get(_id_pair(ctx, a, b))
        out[(a, b)] = "unmeasured" if seam is None else ("bad" if m.seam_bad(seam) else "ok")
    return out


def _seam_figure(ctx: PageContext) -> str:
    if not ctx.has_map or ctx.seams is None:
        return not_run(_NO_TOP_INDEX) if ctx.has_map else ""
    failing = set(ctx.misregistration.failing) if ctx.misregistration is not None else set()
    uri = plot_seam_map(ctx.raster, ctx.proj, ctx.seams, ctx.index_to_id or {}, _seam_state(ctx), failing)
    caption = (
        "Seam map: the frame each pixel of the mosaic came from (its <code>top_index</code> band; one pastel "
        "colour per frame, neighbours differ), with the seam lines between frames "
        f"(<span style='color:{SEAM_COLOURS['ok']}'>■</span> within ASP's criterion, "
        f"<span style='color:{SEAM_COLOURS['bad']}'>■</span> beyond it, "
        f"<span style='color:{SEAM_COLOURS['unmeasured']}'>■</span> no common tie points); "
        "badly registered frames are marked ✗."
    )
    return figure(uri, "seam map", caption)


def _seam_km(ctx: PageContext) -> dict[tuple[str, str], float]:
    """Seam length on the (decimated) map per pair of frame ids, km, counted along rows and columns."""
    if ctx.seams is None:
        return {}
    t = ctx.raster.view.transform
    edge_km = 0.5 * (abs(t.a) + abs(t.e)) / 1000.0
    return {_id_pair(ctx, a, b): n * edge_km for (a, b), n in ctx.seams.edges.items()}


def _seam_row(m: Misregistration | None, pair: tuple[str, str], seam: SeamMisregistration | None,
              km: float | None) -> str:
    if seam is None:
        cells = '<td class="num">0</td>' + '<td class="num">–</td>' * 5 + "<td>no common tie points</td>"
        cls = ""
    else:
        o, bad = seam.offsets, m.seam_bad(seam)
        cells = (f'<td class="num">{o.n}</td><td class="num">{num(m.px(o.at(50)), ".2f")}</td>'
                 f'<td class="num">{num(m.px(o.at(m.percentile)), ".2f")}</td>'
                 f'<td class="num">{num(m.px(o.max_m), ".2f")}</td><td class="num">{metres(o.at(50))}</td>'
                 f'<td class="num">{metres(o.at(m.percentile))}</td>'
                 f"<td>{'beyond the criterion' if bad else 'ok'}</td>")
        cls = ' class="bad"' if bad else ""
    key = esc("|".join(pair))
    return (f'<tr{cls} data-seam="{key}"><td><b>{esc(pair[0])}</b> – <b>{esc(pair[1])}</b></td>'
            f'<td class="num">{num(km, ".3g")}</td>{cells}</tr>')


def _seam_table(ctx: PageContext) -> str:
    m = ctx.misregistration
    measured = {(s.frame_a, s.frame_b): s for s in m.seams} if m is not None else {}
    km = _seam_km(ctx)
    pairs = list(measured) + sorted(p for p in km if p not in measured)
    if not pairs:
        return ""
    pct = f"{m.percentile:g}th pct." if m is not None else "85th pct."
    head = ("frames", "seam on the map (km)", "tie-point pairs", "median (px)", f"{pct} (px)", "max (px)",
            "median (m)", f"{pct} (m)", "verdict")
    rows = "".join(_seam_row(m, p, measured.get(p), km.get(p)) for p in pairs)
    return "<h3>Per seam</h3>" + table("seam-table", head, rows)


def _frame_row(m: Misregistration, f: FrameMisregistration) -> str:
    cells = "".join(f'<td class="num">{metres(f.offsets.at(q))}</td>' for q in PERCENTILES)
    verdict = "badly registered" if f.bad else "ok"
    cls = ' class="bad"' if f.bad else ""
    return (f'<tr{cls} data-misreg-frame="{esc(f.frame_id)}">'
            f"<td><b>{esc(f.frame_id)}</b></td><td class=\"num\">{f.offsets.n}</td>{cells}"
            f'<td class="num">{num(m.px(f.offsets.at(m.percentile)), ".2f")}</td><td>{verdict}</td></tr>')


def _frame_table(m: Misregistration) -> str:
    head = ("frame", "tie-point pairs", *(f"{q:g} % (m)" for q in PERCENTILES),
            f"{m.percentile:g}th pct. (px)", "verdict")
    rows = "".join(_frame_row(m, f) for f in m.frames)
    return ("<h3>Per frame, against all other frames (ASP's <code>mapproj_match_offset_stats</code>)</h3>"
            + table("misregistration-table", head, rows))


def seams_section(data: ReportData, ctx: PageContext) -> str:
    """Seam map, per-seam and per-frame misregistration and the failing frames, or why not."""
    m = ctx.misregistration
    if m is None and ctx.seams is None:
        why = "no tie-point observations were given" if data.tie_observations is None else (
            "no pixel size is known" if not ctx.pixel_size_m else "no tie point is seen by two frames")
        note = not_run(_NO_TOP_INDEX) if ctx.has_map else ""
        return not_run(f"Misregistration not measured: {why}.") + note
    if m is None:
        out = not_run("Misregistration not measured: no tie-point observations were given.")
    elif not m.frames:
        out = not_run("Misregistration not measured: no tie point is seen by two frames.")
    else:
        out = _intro(m) + _failing_block(m)
    out += _seam_figure(ctx) + _seam_table(ctx)
    if m is not None and m.frames:
        out += _frame_table(m)
    return out
