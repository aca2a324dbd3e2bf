"""Map geometry of the report in the mosaic's own lunar CRS: projection, graticule, coverage.

lon/lat here are planetocentric, east-positive degrees; x/y are metres of the mosaic's CRS.
Nothing is ever converted to an Earth CRS. Footprint longitudes may be continuous across
180 E (175 .. 185); for cylindrical CRSs, rings are unwrapped across the CRS's cut and
repeated one period either side so they are drawn and rasterised whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Transformer
from rasterio.features import MergeAlg, rasterize
from scipy import ndimage

from .data import FrameRow
from .raster import Raster


def fmt_lon(lon: float, decimals: int | None = None) -> str:
    """East longitude in 0..360, e.g. ``185°E``; ``decimals=None`` gives the shortest form."""
    lon = lon % 360.0
    if decimals is not None:
        lon = round(lon, decimals) % 360.0
        return f"{lon:.{decimals}f}°E"
    return f"{lon:g}°E"


def fmt_lat(lat: float, decimals: int | None = None) -> str:
    """``12°N``/``3.5°S``/``0°``."""
    if decimals is not None:
        lat = round(lat, decimals)
    if abs(lat) < 1e-9:
        return "0°"
    v = f"{abs(lat):.{decimals}f}" if decimals is not None else f"{abs(lat):g}"
    return f"{v}°{'N' if lat > 0 else 'S'}"


def decimals_for(span_deg: float) -> int:
    """Decimals that show a lon/lat extent of ``span_deg`` to about 1 %."""
    if not span_deg > 0:
        return 3
    return int(np.clip(2 - math.floor(math.log10(span_deg)), 0, 5))


class MapProj:
    """lon/lat (degrees, planetocentric east) <-> x/y (m) of the mosaic's own CRS."""

    def __init__(self, crs_wkt: str, bounds: tuple[float, float, float, float]):
        crs = CRS.from_wkt(crs_wkt)
        geo = crs.geodetic_crs if crs.is_projected or crs.is_derived else crs
        if geo is None:
            geo = crs
        lon_axis = [a for a in geo.axis_info if a.direction in ("east", "west")]
        self._west = bool(lon_axis) and lon_axis[0].direction == "west"
        self._fwd = Transformer.from_crs(geo, crs, always_xy=True)
        self.bounds = bounds
        self._lon_lat_extent()
        self.period = self._x_period()

    def fwd(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Map ``(x, y)`` (m) of lon/lat (degrees); NaN where the projection fails."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if self._west:
            lon = -lon
        with np.errstate(all="ignore"):
            x, y = self._fwd.transform(lon, lat)
        x, y = np.asarray(x, float), np.asarray(y, float)
        bad = ~(np.isfinite(x) & np.isfinite(y)) | (np.abs(x) > 1e15) | (np.abs(y) > 1e15)
        x[bad] = np.nan
        y[bad] = np.nan
        return x, y

    def inv(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat (degrees) of map ``(x, y)`` (m); NaN where the inverse fails."""
        with np.errstate(all="ignore"):
            lon, lat = self._fwd.transform(np.asarray(x, float), np.asarray(y, float), direction="INVERSE")
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if self._west:
            lon = -lon
        bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 1e6)
        lon[bad] = np.nan
        lat[bad] = np.nan
        return lon, lat

    def _lon_lat_extent(self) -> None:
        xmin, ymin, xmax, ymax = self.bounds
        n = 41
        xs, ys = np.meshgrid(np.linspace(xmin, xmax, n), np.linspace(ymin, ymax, n))
        lon, lat = self.inv(xs.ravel(), ys.ravel())
        ok = np.isfinite(lon)
        self.all_on_body = bool(ok.all())
        lon, lat = lon[ok], lat[ok]
        if lon.size == 0:
            self.lon_ref, self.lat_ref, self.pole_xy = 0.0, 0.0, None
            self.lon_range, self.lat_range = (-180.0, 180.0), (-90.0, 90.0)
            return
        # centre lon/lat: inverse of the map centre when it is on the body
        clon, clat = self.inv([(xmin + xmax) / 2], [(ymin + ymax) / 2])
        if np.isfinite(clon[0]):
            ref = float(clon[0])
        else:
            r = np.radians(lon)
            ref = float(np.degrees(np.arctan2(np.sin(r).mean(), np.cos(r).mean())))
        lon = (lon - ref + 180.0) % 360.0 - 180.0 + ref
        lat_lo, lat_hi = float(lat.min()), float(lat.max())
        lon_lo, lon_hi = float(lon.min()), float(lon.max())
        self.pole_xy: tuple[float, float] | None = None
        for pole in (90.0, -90.0):
            px, py = self.fwd([ref], [pole])
            if np.isfinite(px[0]) and xmin <= px[0] <= xmax and ymin <= py[0] <= ymax:
                lat_lo, lat_hi = min(lat_lo, pole), max(lat_hi, pole)
                # a pole *inside* the map (polar projections) brings every longitude in;
                # one on a limb (orthographic) does not
                ring_lon = np.arange(0.0, 360.0, 30.0)
                rx, ry = self.fwd(ring_lon, np.full_like(ring_lon, pole - math.copysign(1.0, pole)))
                if np.all(np.isfinite(rx)) and np.all(
                    (rx >= xmin) & (rx <= xmax) & (ry >= ymin) & (ry <= ymax)
                ):
                    self.pole_xy = (float(px[0]), float(py[0]))
                    lon_lo, lon_hi = ref - 180.0, ref + 180.0
        if lon_hi - lon_lo > 340.0:
            lon_lo, lon_hi = ref - 180.0, ref + 180.0
        self.lon_ref = ref
        self.lat_ref = float(np.clip(clat[0] if np.isfinite(clat[0]) else np.median(lat), -89.0, 89.0))
        self.lon_range = (lon_lo, lon_hi)
        self.lat_range = (max(-90.0, lat_lo), min(90.0, lat_hi))

    def _x_period(self) -> float | None:
        """Width in x of 360 deg of longitude for a cylindrical CRS (x linear in lon,
        independent of lat, y independent of lon); ``None`` otherwise."""
        lon0, lat0 = self.lon_ref, self.lat_ref
        lat1 = lat0 + (20.0 if lat0 < 0 else -20.0)
        for sign in (1.0, -1.0):
            lons = np.array([lon0, lon0 + sign * 0.5, lon0 + sign * 10.0, lon0 + sign * 0.5, lon0])
            lats = np.array([lat0, lat0, lat0, lat1, lat1])
            x, y = self.fwd(lons, lats)
            if not np.all(np.isfinite(x)):
                continue
            k = (x[1] - x[0]) / (sign * 0.5)
            if k == 0:
                continue
            linear = math.isclose(x[2] - x[0], k * sign * 10.0, rel_tol=1e-6, abs_tol=1e-3)
            lat_free = math.isclose(x[3] - x[4], x[1] - x[0], rel_tol=1e-6, abs_tol=1e-3)
            y_free = math.isclose(y[1], y[0], abs_tol=1e-3) and math.isclose(y[2], y[0], abs_tol=1e-3)
            if linear and lat_free and y_free:
                return abs(k) * 360.0
            return None
        return None

    # -- polygons in map space ----------------------------------------------------------
    def ring_xy(self, lonlat) -> tuple[np.ndarray, np.ndarray]:
        """Closed, densified ring of a lon/lat polygon in x/y (m), unwrapped across the
        CRS's cut for cylindrical CRSs; off-body vertices are NaN."""
        pts = np.asarray(lonlat, dtype=float).reshape(-1, 2).copy()
        if len(pts) and not np.allclose(pts[0], pts[-1]):
            pts = np.vstack([pts, pts[:1]])
        # tolerate wrapped longitudes (178, -177): no polygon edge spans more than 180 deg
        pts[:, 0] = np.unwrap(pts[:, 0], period=360.0)
        lon, lat = _densify(pts[:, 0], pts[:, 1], step_deg=0.5)
        x, y = self.fwd(lon, lat)
        if self.period and x.size > 1:
            ok = np.isfinite(x)
            xv = x[ok]
            jumps = np.round(np.diff(xv) / self.period)
            xv[1:] -= np.cumsum(jumps) * self.period
            x[ok] = xv
        return x, y

    def copies(self, x: np.ndarray) -> list[float]:
        """The x shifts (0 and +-period) under which a ring may fall on the map."""
        if not self.period:
            return [0.0]
        xmin, _, xmax, _ = self.bounds
        out = []
        for k in (-1, 0, 1):
            s = k * self.period
            if np.nanmax(x) + s >= xmin and np.nanmin(x) + s <= xmax:
                out.append(s)
        return out or [0.0]

    def line_xy(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Polyline in x/y with NaN breaks where it jumps (CRS cut, off-body)."""
        x, y = self.fwd(lon, lat)
        if x.size > 2:
            step = np.hypot(np.diff(x), np.diff(y))
            fin = step[np.isfinite(step)]
            if fin.size:
                med = float(np.median(fin))
                brk = np.where(step > max(20.0 * med, 1e-6))[0]
                if brk.size:
                    x = np.insert(x, brk + 1, np.nan)
                    y = np.insert(y, brk + 1, np.nan)
        return x, y


def _densify(lon: np.ndarray, lat: np.ndarray, step_deg: float) -> tuple[np.ndarray, np.ndarray]:
    if lon.size < 2:
        return lon, lat
    out_lon, out_lat = [], []
    for i in range(lon.size - 1):
        d = max(abs(lon[i + 1] - lon[i]), abs(lat[i + 1] - lat[i]))
        n = max(1, min(200, math.ceil(d / step_deg)))
        t = np.arange(n) / n
        out_lon.append(lon[i] + t * (lon[i + 1] - lon[i]))
        out_lat.append(lat[i] + t * (lat[i + 1] - lat[i]))
    out_lon.append(lon[-1:])
    out_lat.append(lat[-1:])
    return np.concatenate(out_lon), np.concatenate(out_lat)


def _nice_step(span: float) -> float:
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 45, 90):
        if span / s <= 7:
            return float(s)
    return 90.0


def graticule(proj: MapProj) -> list[tuple[str, float, str, np.ndarray, np.ndarray]]:
    """Lines ``(kind, value_deg, label, x, y)`` of a lon/lat graticule over the map;
    ``kind`` is ``"lon"`` (meridian) or ``"lat"`` (parallel); ``x``/``y`` have NaN breaks."""
    lon_lo, lon_hi = proj.lon_range
    lat_lo, lat_hi = proj.lat_range
    full_circle = lon_hi - lon_lo >= 359.0
    dlon = 30.0 if full_circle else _nice_step(lon_hi - lon_lo)
    dlat = _nice_step(lat_hi - lat_lo)
    lines = []
    lat_s = np.linspace(max(-90.0, lat_lo - dlat), min(90.0, lat_hi + dlat), 240)
    lon_s = np.linspace(lon_lo - dlon, lon_hi + dlon, 480)
    if full_circle:
        lon_s = np.linspace(lon_lo, lon_hi, 721)
    start = math.floor(lon_lo / dlon) * dlon
    stop = lon_hi - 1e-6 if full_circle else lon_hi + dlon + 1e-9
    for lon in np.arange(start, stop, dlon)[:200]:
        x, y = proj.line_xy(np.full_like(lat_s, lon), lat_s)
        lines.append(("lon", float(lon), fmt_lon(lon), x, y))
    for lat in np.arange(math.floor(lat_lo / dlat) * dlat, lat_hi + dlat + 1e-9, dlat)[:200]:
        if abs(lat) >= 90.0:
            continue
        x, y = proj.line_xy(lon_s, np.full_like(lon_s, lat))
        lines.append(("lat", float(lat), fmt_lat(lat), x, y))
    return lines


def label_anchor(
    proj: MapProj, kind: str, value: float, x: np.ndarray, y: np.ndarray, margin: float = 0.03
) -> tuple[float, float] | None:
    """Where to write a graticule line's label, or ``None`` when it is off the map.

    Parallels: their leftmost point on the map. Meridians: the bottom edge for cylindrical
    CRSs; the outer end for maps holding a pole (meridians radiate from it); elsewhere
    (orthographic, ...) where they cross the map's central parallel, since they converge
    towards the edges.
    """
    xmin, ymin, xmax, ymax = proj.bounds
    mx, my = margin * (xmax - xmin), margin * (ymax - ymin)

    def inside(px, py):
        return np.isfinite(px) & (px >= xmin + mx) & (px <= xmax - mx) & (py >= ymin + my) & (py <= ymax - my)

    ok = inside(x, y)
    if not ok.any():
        return None
    xi, yi = x[ok], y[ok]
    if kind == "lat":
        j = int(np.argmin(xi))
    elif proj.period is not None:
        j = int(np.argmin(yi))
    elif proj.pole_xy is not None:
        j = int(np.argmax(np.hypot(xi - proj.pole_xy[0], yi - proj.pole_xy[1])))
    else:
        ax_, ay_ = proj.fwd([value], [proj.lat_ref])
        if bool(inside(ax_, ay_)[0]):
            return float(ax_[0]), float(ay_[0])
        j = int(np.argmin(yi))
    return float(xi[j]), float(yi[j])


# ---------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------
@dataclass
class Coverage:
    """Frames per pixel on the decimated grid, its holes and the covered percentages (%)."""

    count: np.ndarray  # frames per pixel on the decimated grid
    source: str  # "count band", "footprints", "valid data"
    on_body: np.ndarray | bool
    holes: np.ndarray  # no coverage, enclosed by coverage
    percent: float
    holes_percent: float


def footprint_rings(frames: list[FrameRow], proj: MapProj):
    """``[(frame, [(x, y), ...copies])]`` for frames with a footprint."""
    out = []
    for f in frames:
        if not f.footprint_lonlat or len(f.footprint_lonlat) < 3:
            continue
        x, y = proj.ring_xy(f.footprint_lonlat)
        if not np.isfinite(x).any():
            continue
        out.append((f, [(x + s, y) for s in proj.copies(x)]))
    return out


def _rasterise_rings(rings, transform, shape) -> np.ndarray:
    shapes = []
    for _, copies in rings:
        for x, y in copies:
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() < 3:
                continue
            coords = np.column_stack([x[ok], y[ok]])
            coords = np.vstack([coords, coords[:1]])
            shapes.append(({"type": "Polygon", "coordinates": [coords.tolist()]}, 1))
    if not shapes:
        return np.zeros(shape, np.float32)
    return rasterize(
        shapes, out_shape=shape, transform=transform, fill=0, dtype="uint16", merge_alg=MergeAlg.add
    ).astype(np.float32)


def compute_coverage(r: Raster, proj: MapProj, rings_used) -> Coverage:
    """The :class:`Coverage` of raster ``r`` from its count band, else the footprint rings, else its valid pixels."""
    shape = r.image.shape
    if r.count is not None:
        count, source = r.count, "count band"
    elif rings_used:
        count, source = _rasterise_rings(rings_used, r.view.transform, shape), "footprints"
    else:
        count, source = np.isfinite(r.image).astype(np.float32), "valid data"
    if proj.all_on_body:
        on_body: np.ndarray | bool = True
    else:
        xs, ys = r.view.pixel_centres()
        lon, _ = proj.inv(xs.ravel(), ys.ravel())
        on_body = np.isfinite(lon).reshape(shape)
    covered = count > 0
    holes = ndimage.binary_fill_holes(covered) & ~covered
    denom = int(np.count_nonzero(on_body)) if isinstance(on_body, np.ndarray) else count.size
    pct = 100.0 * np.count_nonzero(covered & on_body) / max(1, denom)
    hpct = 100.0 * np.count_nonzero(holes) / max(1, denom)
    return Coverage(count, source, on_body, holes, pct, hpct)
