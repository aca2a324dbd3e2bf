"""Footprints in map coordinates: the bounding boxes of an image in any lunar map CRS.

Footprints are computed once per image (a few hundred camera rays) and reduced to
bounding boxes in the map CRS, so planners never touch pixels.

Map discontinuities
-------------------
A projected CRS may cut the body somewhere: the equirectangular CRS centred on 180 E cuts
at 0 E (its x jumps from -pi R to +pi R), the one centred on 0 E cuts at 180 E, a polar
stereographic CRS cannot show the opposite pole, an orthographic one only shows one
hemisphere. :func:`footprint_bbox_xy` therefore returns a *tuple of boxes*: one box for an
ordinary frame, two (one per side) for a frame straddling the cut, none for a frame the
projection cannot show. Footprints containing a pole include the pole (sampled at every
longitude, so in a cylindrical projection the box reaches the map's top or bottom edge
over its whole width).
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

from pipeline.errors import GeometryError
from pipeline.geometry.footprint import footprint_lonlat
from pipeline.geometry.grid import MOON_GEOGRAPHIC, resolve_crs

log = logging.getLogger(__name__)

__all__ = ["BBox", "footprint_bbox_xy", "world_bounds"]

BBox = tuple[float, float, float, float]
"""``(xmin, ymin, xmax, ymax)`` in map metres."""

_JUMP_FACTOR = 20.0  # a ring step this many times the median step ...
_JUMP_WORLD = 0.25  # ... and this fraction of the map's smaller extent is a map discontinuity


@lru_cache(maxsize=32)
def _to_map(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS(MOON_GEOGRAPHIC), CRS.from_wkt(crs_wkt), always_xy=True)


def _crs_wkt(crs: CRS | str) -> str:
    return resolve_crs(crs).to_wkt() if isinstance(crs, CRS) else _spec_wkt(str(crs))


@lru_cache(maxsize=32)
def _spec_wkt(spec: str) -> str:
    """WKT of a CRS given as text, parsed once (parsing took 40 % of planning 1,024 frames)."""
    return resolve_crs(spec).to_wkt()


def _box(x: np.ndarray, y: np.ndarray) -> list[float]:
    return [float(x.min()), float(y.min()), float(x.max()), float(y.max())]


def _gap(a: list[float], b: list[float]) -> float:
    """Distance between two boxes (0 when they intersect)."""
    dx = max(a[0] - b[2], b[0] - a[2], 0.0)
    dy = max(a[1] - b[3], b[1] - a[3], 0.0)
    return math.hypot(dx, dy)


def footprint_bbox_xy(
    camera, crs: CRS | str, pad_m: float = 0.0, *, n_per_edge: int = 32
) -> tuple[BBox, ...]:
    """Bounding box(es) of a frame's footprint in a map CRS.

    Parameters
    ----------
    camera : FrameCamera
    crs : CRS or str
        Output CRS (preset name, IAU code, WKT or PROJ string).
    pad_m : float
        Margin added on every side, metres (e.g. the pointing uncertainty).
    n_per_edge : int
        Border samples per image edge.

    Returns
    -------
    tuple of (xmin, ymin, xmax, ymax)
        One box normally; one per side of the map's discontinuity for a frame straddling
        it (e.g. a frame across 0 E in the 180 E-centred equirectangular CRS); empty when
        the frame sees no part of the body or the projection shows none of it.

    Examples
    --------
    >>> from pipeline.geometry import FrameCamera
    >>> down = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]  # nadir at 180 E
    >>> cam = FrameCamera.build(lines=64, samples=64, focal_length_mm=100.0, pixel_pitch_mm=0.18,
    ...                         position_m=(-1_837_400.0, 0.0, 0.0), cam_to_body=down)
    >>> boxes = footprint_bbox_xy(cam, "farside_eqc")
    >>> len(boxes)
    1
    """
    try:
        ring_lon, ring_lat, in_lon, in_lat, pole = footprint_lonlat(camera, n_per_edge)
    except GeometryError as exc:
        log.warning("frame %s has no footprint: %s", getattr(camera, "image_identifier", "") or "?", exc)
        return ()
    tr = _to_map(_crs_wkt(crs))
    rx, ry = (np.asarray(v, float) for v in tr.transform(ring_lon, ring_lat))
    if pole:
        plon = np.linspace(-180.0, 180.0, 73)
        in_lon = np.concatenate([in_lon, plon])
        in_lat = np.concatenate([in_lat, np.full(plon.shape, 90.0 * pole)])
    ix, iy = (np.asarray(v, float) for v in tr.transform(in_lon, in_lat))
    rfin = np.isfinite(rx) & np.isfinite(ry)
    ifin = np.isfinite(ix) & np.isfinite(iy)
    ix, iy = ix[ifin], iy[ifin]

    # ring steps (cyclic); discontinuities and unprojectable vertices break the ring into chains
    n = rx.size
    nxt = np.roll(np.arange(n), -1)
    with np.errstate(invalid="ignore"):
        step = np.hypot(rx[nxt] - rx, ry[nxt] - ry)
    ok_step = rfin & rfin[nxt]
    finite_steps = step[ok_step]
    typical = float(np.median(finite_steps)) if finite_steps.size else 0.0
    # a discontinuity is a jump both far larger than the ring's typical step and a sizeable
    # part of the map (perspective makes steps of oblique or wide frames very uneven)
    wx0, wy0, wx1, wy1 = _world_bounds(_crs_wkt(crs))
    jump = max(_JUMP_FACTOR * max(typical, 1e-9), _JUMP_WORLD * min(wx1 - wx0, wy1 - wy0))
    breaks = ~ok_step | (step > jump)
    regular = step[ok_step & ~breaks]
    # where the ring is cut, a chain ends up to one step short of the map edge: allow for it
    tol = 2.0 * float(regular.max()) if (breaks.any() and regular.size) else 0.0

    chains: list[list[float]] = []
    if rfin.any():
        if not breaks.any():
            chains.append(_box(rx[rfin], ry[rfin]))
        else:
            start = int(np.flatnonzero(breaks)[0]) + 1
            order = (np.arange(n) + start) % n  # begins right after a break
            current: list[int] = []
            for k in order:
                if rfin[k]:
                    current.append(k)
                if breaks[k]:
                    if current:
                        chains.append(_box(rx[current], ry[current]))
                    current = []
            if current:
                chains.append(_box(rx[current], ry[current]))
    # merge chains that touch (several crossings on the same side of the cut)
    merged = True
    while merged and len(chains) > 1:
        merged = False
        for a in range(len(chains)):
            for b in range(a + 1, len(chains)):
                if _gap(chains[a], chains[b]) <= tol:
                    A, B = chains[a], chains.pop(b)
                    chains[a] = [min(A[0], B[0]), min(A[1], B[1]), max(A[2], B[2]), max(A[3], B[3])]
                    merged = True
                    break
            if merged:
                break
    if not chains:
        if ix.size == 0:
            return ()
        chains.append(_box(ix, iy))
    # interior samples (and the pole) join the nearest box
    if len(chains) == 1 and ix.size:  # the usual case, at once (same result as the loop)
        c = chains[0]
        chains[0] = [min(c[0], float(ix.min())), min(c[1], float(iy.min())), max(c[2], float(ix.max())),
                     max(c[3], float(iy.max()))]
        ix = iy = ix[:0]
    for x, y in zip(ix, iy):
        k = min(range(len(chains)), key=lambda c: _gap(chains[c], [x, y, x, y]))
        c = chains[k]
        chains[k] = [min(c[0], x), min(c[1], y), max(c[2], x), max(c[3], y)]
    pad = float(pad_m) + tol
    return tuple((c[0] - pad, c[1] - pad, c[2] + pad, c[3] + pad) for c in chains)


def _central_meridian(crs: CRS) -> float | None:
    op = crs.coordinate_operation
    for p in getattr(op, "params", None) or ():
        if p.name.lower().startswith("longitude of") and p.unit_category == "angular":
            return float(p.value)
    return None


@lru_cache(maxsize=32)
def _world_bounds(crs_wkt: str) -> BBox:
    lon, lat = np.meshgrid(np.linspace(-180.0, 180.0, 361), np.linspace(-90.0, 90.0, 181))
    lon, lat = lon.ravel(), lat.ravel()
    lon0 = _central_meridian(CRS.from_wkt(crs_wkt))
    if lon0 is not None:  # both sides of the antimeridian of the projection, exactly
        eps = 1e-9
        cut_lat = np.linspace(-90.0, 90.0, 181)
        lon = np.concatenate([lon, np.full(181, lon0 + 180.0 - eps), np.full(181, lon0 - 180.0 + eps)])
        lat = np.concatenate([lat, cut_lat, cut_lat])
    x, y = _to_map(crs_wkt).transform(lon, lat)
    x, y = np.asarray(x), np.asarray(y)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(x[ok].min()), float(y[ok].min()), float(x[ok].max()), float(y[ok].max())


def world_bounds(crs: CRS | str) -> BBox:
    """Extent (metres) of the whole body in a map CRS, from a 1-degree graticule (finite
    points only: for a polar stereographic CRS it stops one degree short of the far pole)."""
    return _world_bounds(_crs_wkt(crs))
