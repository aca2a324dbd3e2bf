"""Figures of the seams and of the residuals after adjustment: the seam map (which frame each
pixel came from, seam lines coloured by ASP's verdict) and residual vectors on the quicklook."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.patches import Patch
from scipy import ndimage

from pipeline.geometry.body import xyz_to_lonlat_deg

from .data import TieObservations
from .maps import MapProj
from .plots import REJ_COLOUR, finish_map, map_axes, onto_map, png_uri, stretch
from .raster import Raster
from .seammap import SeamMap, colour_frames

__all__ = ["SEAM_COLOURS", "plot_residual_vectors", "plot_seam_map"]

SEAM_COLOURS = {"ok": "#1d2430", "bad": REJ_COLOUR, "unmeasured": "#8a94a6"}
"""Seam line colours: within ASP's criterion, beyond it, no common tie points."""

# the light tab20 colours, less red, pink and grey (the colours of bad and unmeasured seams)
_PASTEL = [colormaps["tab20"](k) for k in (1, 3, 5, 9, 11, 17, 19)]
_MAX_LABELS = 80
_MAX_ARROWS = 4000


def _frame_rgb(top: np.ndarray, seams: SeamMap) -> np.ndarray:
    """RGBA image of ``top`` with a pastel colour per frame, neighbours differing."""
    present = np.unique(top[top >= 0])
    colour = colour_frames(present, seams.edges, len(_PASTEL))
    lut = np.zeros((max(int(top.max()), 0) + 1 if top.size else 1, 4))
    for i, c in colour.items():
        lut[i] = _PASTEL[c]
    return np.where((top >= 0)[..., None], lut[np.clip(top, 0, None)], 0.0)


def _seam_rgba(seams: SeamMap, state: dict[tuple[int, int], str], widen: int) -> np.ndarray:
    """RGBA overlay of the seam lines, ``widen`` pixels wide, by state (bad drawn on top)."""
    order = ("ok", "unmeasured", "bad")
    codes, inverse = np.unique(seams.pair, return_inverse=True)
    rank_of = np.array([order.index(state.get((int(c) // seams.n, int(c) % seams.n), "unmeasured")) + 1
                        if c >= 0 else 0 for c in codes], np.int8)
    rank = rank_of[inverse.reshape(seams.pair.shape)]
    if widen > 1:
        rank = ndimage.maximum_filter(rank, size=widen)
    lut = np.zeros((4, 4))
    for k, st in enumerate(order, start=1):
        lut[k, :3] = [int(SEAM_COLOURS[st][i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lut[k, 3] = 1.0
    return lut[rank]


def _label_frames(ax, r: Raster, top: np.ndarray, labels: dict[int, str], failing: set[str]) -> None:
    """Frame ids at the centre of the pixels each frame won (failing ones in red, with ✗)."""
    ok = top >= 0
    if not ok.any():
        return
    rows, cols = np.nonzero(ok)
    idx = top[ok]
    n = np.bincount(idx)
    present = np.flatnonzero(n)
    if present.size > _MAX_LABELS:
        return
    cr = np.bincount(idx, weights=rows)[present] / n[present]
    cc = np.bincount(idx, weights=cols)[present] / n[present]
    x, y = r.view.transform * (cc + 0.5, cr + 0.5)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for i, px, py in zip(present, x, y):
        fid = labels.get(int(i), f"#{int(i)}")
        bad = fid in failing
        ax.text(px, py, fid + (" ✗" if bad else ""), fontsize=7, ha="center", va="center", zorder=7,
                color=REJ_COLOUR if bad else "#1d2430", fontweight="bold", path_effects=halo, clip_on=True)


def plot_seam_map(r: Raster, proj: MapProj, seams: SeamMap, labels: dict[int, str],
                  state: dict[tuple[int, int], str], failing: set[str]) -> str:
    """The frame each pixel came from (``r.top_index``), seam lines by ``state`` (``ok``,
    ``bad``, ``unmeasured`` per frame-index pair) and frame labels."""
    fig, ax, _ = map_axes(r, width_in=10.0, colorbar=False)
    xmin, ymin, xmax, ymax = r.bounds
    extent = (xmin, xmax, ymin, ymax)
    ax.set_facecolor("#eef1f5")
    ax.imshow(_frame_rgb(r.top_index, seams), extent=extent, origin="upper", interpolation="nearest",
              zorder=1)
    axes_px = ax.get_position().width * fig.get_figwidth() * fig.dpi
    widen = max(1, round(1.5 * r.top_index.shape[1] / max(axes_px, 1.0)))  # lines >= ~1.5 screen px
    ax.imshow(_seam_rgba(seams, state, widen), extent=extent, origin="upper", interpolation="nearest",
              zorder=2)
    _label_frames(ax, r, r.top_index, labels, failing)
    finish_map(ax, r, proj)
    handles = [Patch(color=SEAM_COLOURS["ok"], label="seam within ASP's criterion"),
               Patch(color=SEAM_COLOURS["bad"], label="seam beyond it (85th pct. > threshold)"),
               Patch(color=SEAM_COLOURS["unmeasured"], label="seam without common tie points")]
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    return png_uri(fig)


def _vectors(proj: MapProj, obs: TieObservations) -> tuple[np.ndarray, ...]:
    """Map ``x, y`` of each observation's ground point and its residual ``dx, dy`` (m)."""
    lon0, lat0 = xyz_to_lonlat_deg(obs.ground_xyz_m)
    lon1, lat1 = xyz_to_lonlat_deg(np.asarray(obs.ground_xyz_m) + np.asarray(obs.residual_ground_m))
    x0, y0 = proj.fwd(lon0, lat0)
    x1, y1 = proj.fwd(lon1, lat1)
    dx, dy = x1 - x0, y1 - y0
    if proj.period is not None:  # an arrow across the CRS's cut
        dx = dx - np.round(dx / proj.period) * proj.period
    return onto_map(proj, x0), y0, dx, dy


def _nice(v: float) -> float:
    """``v`` rounded down to 1, 2 or 5 times a power of ten."""
    if not v > 0:
        return 1.0
    e = 10.0 ** math.floor(math.log10(v))
    return max(m * e for m in (1.0, 2.0, 5.0) if m * e <= v)


def plot_residual_vectors(r: Raster, proj: MapProj, obs: TieObservations, pixel_size_m: float,
                          failing: set[str]) -> tuple[str, float] | None:
    """Residual arrows on the quicklook, one per observation (at most 4000, evenly taken)
    coloured per frame, and each frame's mean residual as a thick arrow.

    Returns the PNG URI and the exaggeration of the arrows, or ``None`` when no residual
    is finite.
    """
    x, y, dx, dy = _vectors(proj, obs)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(dx) & np.isfinite(dy)
    if not ok.any():
        return None
    names, code = np.unique(np.asarray(obs.frame_id).astype(str)[ok], return_inverse=True)
    x, y, dx, dy = x[ok], y[ok], dx[ok], dy[ok]
    xmin, ymin, xmax, ymax = r.bounds
    p95 = float(np.percentile(np.hypot(dx, dy), 95))
    k = 0.04 * (xmax - xmin) / p95 if p95 > 0 else 1.0
    fig, ax, _ = map_axes(r, width_in=10.0, colorbar=False, title=True)
    lo, hi = stretch(r.image)
    ax.set_facecolor("#d9dde3")
    ax.imshow(np.ma.masked_invalid(r.image), cmap="gray", vmin=lo, vmax=hi, alpha=0.6,
              extent=(xmin, xmax, ymin, ymax), origin="upper", zorder=1)
    palette = np.array([colormaps["tab10"](i) for i in range(10)])
    s = slice(None, None, max(1, math.ceil(x.size / _MAX_ARROWS)))
    ax.quiver(x[s], y[s], k * dx[s], k * dy[s], color=palette[code[s] % 10], angles="xy", scale_units="xy",
              scale=1.0, width=0.0015, headwidth=3.5, zorder=4)
    n = np.bincount(code)
    mean = [np.bincount(code, weights=v) / n for v in (x, y, dx, dy)]
    q = ax.quiver(*mean[:2], k * mean[2], k * mean[3], color=palette[np.arange(names.size) % 10],
                  angles="xy", scale_units="xy", scale=1.0, width=0.005, edgecolor="k", linewidth=0.6,
                  zorder=5)
    for fid, mx, my in zip(names, mean[0], mean[1]):
        if fid in failing:
            ax.text(mx, my, f"{fid} ✗", color=REJ_COLOUR, fontsize=7, fontweight="bold", zorder=6,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")], clip_on=True)
    key_m = _nice(p95)
    ax.quiverkey(q, 0.62, 1.025, k * key_m, f"{key_m:g} m on the ground = {key_m / pixel_size_m:.3g} map px "
                 f"(arrows ×{k:.3g})", labelpos="E", coordinates="axes", fontproperties={"size": 7})
    finish_map(ax, r, proj)
    return png_uri(fig), k
