"""Figures of the QA report, drawn with matplotlib's object API on the Agg canvas (no pyplot,
no display, no global state) and returned as base64 PNG data URIs."""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.path import Path as MPath
from matplotlib.ticker import FuncFormatter

from .data import FrameRow, rms
from .maps import Coverage, MapProj, graticule, label_anchor
from .raster import Raster


def png_uri(fig) -> str:
    """The figure as a ``data:image/png;base64,...`` URI (no ``Software`` metadata: the
    bytes depend on the figure only; zlib level 3: half the encoding time of the default 6
    for ~2 % more bytes)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def new_fig(
    w_in: float, h_in: float, dpi: int = 100, margins: tuple[float, float, float, float] | None = None
):
    """A Figure with fixed margins ``(left, bottom, right, top)`` in inches.

    Fixed margins instead of constrained layout: one draw per figure instead of two, which
    halves the plotting time of the report.
    """
    fig = Figure(figsize=(w_in, h_in), dpi=dpi)
    if margins is not None:
        left, bottom, right, top = margins
        fig.subplots_adjust(
            left=left / w_in, bottom=bottom / h_in, right=1 - right / w_in, top=1 - top / h_in
        )
    return fig


def _chart(rotate: bool = False, twin: bool = False, width: float | None = None):
    """Figure + axes of a plain chart (histogram, bars)."""
    w = width if width is not None else 6.0
    fig = new_fig(w, 3.4, margins=(0.7, 0.95 if rotate else 0.55, 0.75 if twin else 0.2, 0.15))
    return fig, fig.add_subplot(1, 1, 1)


USED_COLOUR = "#ffb000"
REJ_COLOUR = "#e0245e"


def map_axes(r: Raster, width_in: float = 10.0, colorbar: bool = True, title: bool = False):
    """Figure, map axes and colour-bar axes (or ``None``), sized so the equal-aspect map
    fills its axes: no empty bands above or beside it."""
    xmin, ymin, xmax, ymax = r.bounds
    aspect = (ymax - ymin) / max(xmax - xmin, 1e-9)
    left, bottom, top = 0.7, 0.5, (0.35 if title else 0.12)
    right = 1.05 if colorbar else 0.15
    map_w = width_in - left - right
    map_h = map_w * aspect
    if map_h > 11.0:  # tall map: cap the height, narrow the figure
        map_h = 11.0
        map_w = map_h / aspect
    map_h = max(map_h, 1.0)
    w, h = left + map_w + right, bottom + map_h + top
    fig = new_fig(w, h)
    ax = fig.add_axes((left / w, bottom / h, map_w / w, map_h / h))
    cax = None
    if colorbar:
        cax = fig.add_axes(((left + map_w + 0.12) / w, (bottom + 0.2 * map_h) / h, 0.16 / w, 0.6 * map_h / h))
    return fig, ax, cax


def finish_map(ax, r: Raster, proj: MapProj, grid_lines: bool = True) -> None:
    """Graticule with labels, the map's limits, equal aspect and km tick labels."""
    xmin, ymin, xmax, ymax = r.bounds
    if grid_lines:
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        for kind, value, label, x, y in graticule(proj):
            ax.plot(x, y, color="#2b6cb0", lw=0.7, alpha=0.75, ls=(0, (4, 3)), zorder=3)
            anchor = label_anchor(proj, kind, value, x, y)
            if anchor is None:
                continue
            ha, va = ("center", "bottom") if kind == "lon" else ("left", "center")
            ax.text(
                anchor[0],
                anchor[1],
                label,
                fontsize=8,
                color="#1a4a80",
                ha=ha,
                va=va,
                zorder=6,
                path_effects=halo,
                clip_on=True,
            )
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    km = FuncFormatter(lambda v, _p: f"{v / 1000:g}")
    ax.xaxis.set_major_formatter(km)
    ax.yaxis.set_major_formatter(km)
    ax.set_xlabel("x (km)", fontsize=8)
    ax.set_ylabel("y (km)", fontsize=8)
    ax.tick_params(labelsize=7)


def draw_footprints(ax, rings, r: Raster, labels: bool = True, lw: float = 1.2) -> None:
    """Footprint outlines (used solid amber, rejected dashed red), optionally labelled."""
    xmin, ymin, xmax, ymax = r.bounds
    halo = [patheffects.withStroke(linewidth=2.5, foreground="black")]
    for f, copies in rings:
        colour = REJ_COLOUR if f.rejected else USED_COLOUR
        ls = (0, (3, 2)) if f.rejected else "-"
        for x, y in copies:
            ax.plot(x, y, color=colour, lw=lw, ls=ls, zorder=4)
            if not labels:
                continue
            cx, cy = np.nanmean(x[:-1]), np.nanmean(y[:-1])
            if xmin <= cx <= xmax and ymin <= cy <= ymax:
                txt = f.id + (" ✗" if f.rejected else "")
                ax.text(
                    cx,
                    cy,
                    txt,
                    color=colour,
                    fontsize=7,
                    ha="center",
                    va="center",
                    zorder=7,
                    path_effects=halo,
                    clip_on=True,
                    fontweight="bold",
                )


def stretch(img: np.ndarray) -> tuple[float, float]:
    """``(lo, hi)`` of a 1-99 % percentile stretch of the finite values (``(0, 1)`` when none)."""
    v = img[np.isfinite(img)]
    if v.size == 0:
        return 0.0, 1.0
    if v.size > 200_000:
        v = v[:: v.size // 200_000 + 1]
    lo, hi = np.percentile(v, [1.0, 99.0])
    if not hi > lo:
        lo, hi = float(v.min()), float(v.max()) + 1e-6
    return float(lo), float(hi)


def onto_map(proj: MapProj, x: np.ndarray) -> np.ndarray:
    """Map x of points; for a cylindrical CRS, points that came out one period beyond the
    map's edge (near the CRS's cut) are brought onto it."""
    if proj.period is None or not np.isfinite(x).any():
        return x
    xmin, _, xmax, _ = proj.bounds
    return np.where(x < xmin, x + proj.period, np.where(x > xmax, x - proj.period, x))


def plot_mosaic(r: Raster, proj: MapProj, rings) -> str:
    """PNG data URI of the mosaic (percentile stretch) on its map axes, with the frame footprints."""
    fig, ax, cax = map_axes(r)
    xmin, ymin, xmax, ymax = r.bounds
    ax.set_facecolor("#d9dde3")
    lo, hi = stretch(r.image)
    im = ax.imshow(
        np.ma.masked_invalid(r.image),
        cmap="gray",
        vmin=lo,
        vmax=hi,
        extent=(xmin, xmax, ymin, ymax),
        origin="upper",
        interpolation="antialiased",
        zorder=1,
    )
    cb = fig.colorbar(im, cax=cax)
    cb.set_label("I/F (1–99 % stretch)", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    draw_footprints(ax, rings, r)
    finish_map(ax, r, proj)
    return png_uri(fig)


def plot_coverage(r: Raster, proj: MapProj, cov: Coverage, rings) -> str:
    """Frames per pixel on the map, gaps in red, off-disk white, footprints outlined."""
    fig, ax, cax = map_axes(r, width_in=8.0, title=True)
    xmin, ymin, xmax, ymax = r.bounds
    ax.set_facecolor("#f2f2f2")
    cmax = int(max(1, np.nanmax(cov.count) if cov.count.size else 1))
    cmax = min(cmax, 12)
    base = ["#f2f2f2"] + [
        tuple(c) for c in colormaps["viridis"](np.linspace(0.15, 0.95, cmax))
    ]
    cmap = ListedColormap(base)
    norm = BoundaryNorm(np.arange(-0.5, cmax + 1.5), cmap.N)
    im = ax.imshow(
        np.clip(cov.count, 0, cmax),
        cmap=cmap,
        norm=norm,
        extent=(xmin, xmax, ymin, ymax),
        origin="upper",
        interpolation="nearest",
        zorder=1,
    )
    if cov.holes.any():
        hol = np.ma.masked_where(~cov.holes, np.ones_like(cov.count))
        ax.imshow(
            hol,
            cmap=ListedColormap([REJ_COLOUR]),
            vmin=0,
            vmax=1,
            extent=(xmin, xmax, ymin, ymax),
            origin="upper",
            interpolation="nearest",
            zorder=2,
        )
    if isinstance(cov.on_body, np.ndarray):
        off = np.ma.masked_where(cov.on_body, np.ones_like(cov.count))
        ax.imshow(
            off,
            cmap=ListedColormap(["#ffffff"]),
            vmin=0,
            vmax=1,
            extent=(xmin, xmax, ymin, ymax),
            origin="upper",
            interpolation="nearest",
            zorder=2,
        )
    cb = fig.colorbar(im, cax=cax, ticks=range(cmax + 1))
    cb.set_label("frames per pixel" + (" (≥)" if cmax == 12 else ""), fontsize=8)
    cb.ax.tick_params(labelsize=7)
    draw_footprints(ax, rings, r, labels=False, lw=0.6)
    finish_map(ax, r, proj)
    handles = [
        Patch(facecolor="#f2f2f2", edgecolor="#888888", label="no data (outside)"),
        Patch(color=REJ_COLOUR, label="gap"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    ax.set_title(f"coverage {cov.percent:.1f} % (from {cov.source})", fontsize=9)
    return png_uri(fig)


def hist_before_after(
    before: np.ndarray | None, after: np.ndarray | None, xlabel: str, symmetric: bool
) -> str:
    """Before/after histograms on shared bins, log count axis. Values past the 99.5th
    percentile are counted in the outermost bins (the legend says how many)."""
    fig, ax = _chart()
    allv = np.concatenate([a for a in (before, after) if a is not None and a.size])
    if symmetric:
        m = float(np.percentile(np.abs(allv), 99.5)) or 1.0
        bins = np.linspace(-m, m, 61)
    else:
        m = float(np.percentile(allv, 99.5)) or 1.0
        bins = np.linspace(min(0.0, float(allv.min())), m, 61)
    top = 1.0
    for a, label, colour in ((before, "before", "#e07b39"), (after, "after", "#2b6cb0")):
        if a is None or not a.size:
            continue
        outside = int(np.count_nonzero((a < bins[0]) | (a > bins[-1])))
        counts, _ = np.histogram(np.clip(a, bins[0], bins[-1]), bins=bins)
        top = max(top, float(counts.max()))
        text = f"{label}: n={a.size}, RMS={rms(a):.3g}" + (f" ({outside} in end bins)" if outside else "")
        ax.stairs(counts, bins, fill=True, alpha=0.25, color=colour)
        ax.stairs(counts, bins, lw=1.5, color=colour, label=text)
    ax.set_yscale("log")
    ax.set_ylim(0.7, top * 2.0)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("count (log)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return png_uri(fig)


def bars_per_frame(
    frames: list[FrameRow], a_attr: str, b_attr: str, a_label: str, b_label: str, ylabel: str
) -> str | None:
    """PNG data URI of paired bars of per-frame attributes ``a_attr`` and ``b_attr``, or None if no frame has one."""
    rows = [f for f in frames if getattr(f, a_attr) is not None or getattr(f, b_attr) is not None]
    if not rows:
        return None
    n = len(rows)
    fig, ax = _chart(rotate=n > 8, width=float(np.clip(0.32 * n + 2.0, 6.0, 12.0)))
    idx = np.arange(n)
    a = np.array([np.nan if getattr(f, a_attr) is None else getattr(f, a_attr) for f in rows], float)
    b = np.array([np.nan if getattr(f, b_attr) is None else getattr(f, b_attr) for f in rows], float)
    ax.bar(idx - 0.2, a, 0.4, color="#e07b39", label=a_label)
    ax.bar(idx + 0.2, b, 0.4, color="#2b6cb0", label=b_label)
    ax.set_xticks(
        idx, [f.id for f in rows], rotation=60 if n > 8 else 0, ha="right" if n > 8 else "center", fontsize=7
    )
    for lab, f in zip(ax.get_xticklabels(), rows):
        if f.rejected:
            lab.set_color(REJ_COLOUR)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return png_uri(fig)


def plot_gain_offset(frames: list[FrameRow]) -> str | None:
    """PNG data URI of the per-frame gains (bars about 1) and offsets (points), or None if no frame has one."""
    rows = [f for f in frames if f.gain is not None or f.offset is not None]
    if not rows:
        return None
    n = len(rows)
    fig, ax = _chart(rotate=n > 8, twin=True, width=float(np.clip(0.32 * n + 2.0, 6.0, 12.0)))
    idx = np.arange(n)
    g = np.array([np.nan if f.gain is None else f.gain for f in rows], float)
    o = np.array([np.nan if f.offset is None else f.offset for f in rows], float)
    ax.bar(idx, g - 1.0, 0.6, bottom=1.0, color="#2b6cb0", label="gain")
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_ylabel("gain", fontsize=8, color="#2b6cb0")
    ax2 = ax.twinx()
    ax2.plot(idx, o, "o", color="#e07b39", label="offset")
    ax2.axhline(0.0, color="#e07b39", lw=0.6, ls=":")
    ax2.set_ylabel("offset (I/F)", fontsize=8, color="#e07b39")
    ax.set_xticks(
        idx, [f.id for f in rows], rotation=60 if n > 8 else 0, ha="right" if n > 8 else "center", fontsize=7
    )
    ax.tick_params(labelsize=7)
    ax2.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    return png_uri(fig)


def plot_tie_network(r: Raster | None, proj: MapProj | None, rings, tie_lonlat: np.ndarray) -> str:
    """PNG data URI of the tie points (lon/lat degrees) over the mosaic, or a plain lon/lat scatter without a map."""
    if r is None or proj is None:
        # no map: plain lon/lat scatter
        fig = new_fig(7.0, 5.0, margins=(0.7, 0.55, 0.2, 0.35))
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(tie_lonlat[:, 0], tie_lonlat[:, 1], ".", ms=2, color="#2b6cb0")
        ax.set_xlabel("longitude (°E)", fontsize=8)
        ax.set_ylabel("latitude (°)", fontsize=8)
        ax.set_title(f"{len(tie_lonlat)} tie points", fontsize=9)
        return png_uri(fig)
    fig, ax, _ = map_axes(r, width_in=9.0, colorbar=False)
    xmin, ymin, xmax, ymax = r.bounds
    ax.set_facecolor("#d9dde3")
    lo, hi = stretch(r.image)
    ax.imshow(
        np.ma.masked_invalid(r.image),
        cmap="gray",
        vmin=lo,
        vmax=hi,
        alpha=0.45,
        extent=(xmin, xmax, ymin, ymax),
        origin="upper",
        zorder=1,
    )
    draw_footprints(ax, rings, r, labels=True, lw=0.8)
    # overlap graph between used frames: edges between the centres of overlapping footprints
    segments = _overlap_segments([(f, c) for f, c in rings if not f.rejected], r.bounds)
    if segments:
        ax.add_collection(LineCollection(segments, colors="#ffffff", linewidths=0.9, alpha=0.85, zorder=4))
    x, y = proj.fwd(tie_lonlat[:, 0], tie_lonlat[:, 1])
    x = onto_map(proj, x)
    ax.plot(
        x, y, "o", ms=2.0, color="#00d0ff", mec="none", zorder=5, label=f"{np.isfinite(x).sum()} tie points"
    )
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    finish_map(ax, r, proj)
    return png_uri(fig)


def _overlap_segments(used, bounds) -> list:
    """Centre-to-centre segments ``[(cx, cy), (cx, cy)]`` between overlapping footprints
    (each ring's copy nearest the map centre); none for a single frame or more than 300."""
    if not 1 < len(used) <= 300:
        return []
    xmin, ymin, xmax, ymax = bounds
    mx, my = (xmin + xmax) / 2, (ymin + ymax) / 2
    centres, paths = [], []
    for _f, copies in used:
        best = None
        for x, y in copies:  # the copy nearest the map centre
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() < 3:
                continue
            c = (float(np.mean(x[ok])), float(np.mean(y[ok])))
            d = (c[0] - mx) ** 2 + (c[1] - my) ** 2
            if best is None or d < best[0]:
                best = (d, c, MPath(np.column_stack([x[ok], y[ok]])))
        if best is not None:
            centres.append(best[1])
            paths.append(best[2])
    segments = []
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            pi, pj = paths[i], paths[j]
            if pi.contains_points(pj.vertices).any() or pj.contains_points(pi.vertices).any():
                segments.append([centres[i], centres[j]])
    return segments
