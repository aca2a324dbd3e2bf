"""Rendering through a DEM: first ray/terrain hits, topographic normals and cast shadows.

A :class:`Terrain` wraps a :class:`pipeline.geometry.dem.Dem` (heights above a sphere,
bilinear between posts) and answers, vectorised over rays and points:

- :meth:`Terrain.intersect`: the **first** point where each ray meets the terrain
  (occlusion handled): the ray is marched from the top of the relief in steps of at most
  half a DEM post horizontally, the first sign change of ``|p| - (R + H(p))`` is
  bracketed and refined by regula falsi (Illinois) to better than 0.1 mm;
- :meth:`Terrain.normals`: the outward topographic normal ``normalise(up - gx east -
  gy north)``, with ``gx = dH/dx`` and ``gy = dH/dy`` (metres per metre, distances on the
  datum sphere) the central-difference gradients of the DEM at its posts, interpolated
  bilinearly like the heights;
- :meth:`Terrain.lit`: 1 where the Sun is visible from a point, 0 in a cast shadow (a
  per-Sun map on the DEM posts, marched towards the Sun, interpolated bilinearly so shadow
  edges are soft at the post scale).

Outside the DEM the terrain is the datum sphere. ``Terrain`` also has ``radius_m(lon,
lat)``, so it can stand in for a ``Dem`` in ``FrameCamera.image_to_ground_hit(...,
dem=...)``.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from pyproj import CRS

from pipeline.geometry.body import xyz_to_lonlat
from pipeline.geometry.dem import Dem
from pipeline.geometry.illumination import angle_between as _angle  # the stable arctan2 angle

log = logging.getLogger(__name__)

_REFINE_ITER = 40
_TOL_M = 1e-4
_MAX_SHADOW_STEPS = 4000


def _local_frame(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East, north, up unit vectors (..., 3) at lon/lat radians."""
    cl, sl, co, so = np.cos(lat), np.sin(lat), np.cos(lon), np.sin(lon)
    east = np.stack([-so, co, np.zeros_like(co)], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return east, north, up


@dataclass(eq=False)
class Terrain:
    """A DEM prepared for rendering (see the module docstring).

    Attributes
    ----------
    dem : Dem
        Heights (m) above ``dem.datum_radius_m`` on a geographic lunar CRS (lon/lat
        degrees; projected DEMs are not supported here).

    Examples
    --------
    >>> from affine import Affine
    >>> dem = Dem.from_array(np.zeros((4, 4)), Affine(0.01, 0, 179.98, 0, -0.01, 0.02))
    >>> t = Terrain(dem)
    >>> xyz, hit = t.intersect(np.array([1.8e6 * -1, 0, 0]), np.array([[1.0, 0, 0]]))
    >>> bool(hit[0]), round(float(-xyz[0, 0]))
    (True, 1737400)
    """

    dem: Dem
    _shadow_maps: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self):
        if not CRS.from_wkt(self.dem.crs_wkt).is_geographic:
            raise ValueError("Terrain needs a DEM on a geographic (lon/lat) lunar CRS")

    # ------------------------------------------------------------------ properties
    @property
    def datum_m(self) -> float:
        """Radius of the height datum, metres."""
        return float(self.dem.datum_radius_m)

    @cached_property
    def height_range_m(self) -> tuple[float, float]:
        """Lowest and highest post, metres."""
        v = self.dem.values
        return float(np.nanmin(v)), float(np.nanmax(v))

    @cached_property
    def spacing_m(self) -> float:
        """Post spacing along a meridian, metres."""
        return abs(self.dem.transform.e) * math.pi / 180.0 * self.datum_m

    @cached_property
    def _post_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = self.dem.values.shape
        t = self.dem.transform
        lon = np.radians(t.c + (np.arange(cols) + 0.5) * t.a)
        lat = np.radians(t.f + (np.arange(rows) + 0.5) * t.e)
        return lon, lat

    @cached_property
    def _gradients(self) -> tuple[np.ndarray, np.ndarray]:
        v = self._values
        lon, lat = self._post_lonlat
        dlon = abs(lon[1] - lon[0])
        dlat = abs(lat[1] - lat[0])
        gx = np.gradient(v, axis=1) / (dlon * self.datum_m * np.cos(lat)[:, None])
        gy = -np.gradient(v, axis=0) / (dlat * self.datum_m)  # rows run southwards
        return gx, gy

    @cached_property
    def _values(self) -> np.ndarray:
        return np.nan_to_num(np.asarray(self.dem.values, dtype=np.float64))

    def _bilinear(self, grid: np.ndarray, lon_rad, lat_rad) -> tuple[np.ndarray, np.ndarray]:
        """Bilinear value of a post grid (the DEM's layout) at lon/lat, and inside flags.

        The same interpolation as :meth:`Dem.height_m` (between post centres, clamped within
        half a post of the edge), written for the geographic north-up raster alone.
        """
        t = self.dem.transform
        rows, cols = grid.shape
        x_min = min(t.c, t.c + t.a * cols)
        lon = np.mod(np.degrees(lon_rad) - x_min, 360.0) + x_min
        col = (lon - t.c) / t.a - 0.5
        row = (np.degrees(lat_rad) - t.f) / t.e - 0.5
        inside = (row >= -0.5) & (row <= rows - 0.5) & (col >= -0.5) & (col <= cols - 0.5)
        row = np.clip(row, 0.0, rows - 1.0)
        col = np.clip(col, 0.0, cols - 1.0)
        r0 = np.minimum(row.astype(np.intp), max(rows - 2, 0))
        c0 = np.minimum(col.astype(np.intp), max(cols - 2, 0))
        fr = row - r0
        fc = col - c0
        flat = grid.ravel()
        i00 = r0 * cols + c0
        v00, v01 = flat[i00], flat[i00 + 1]
        v10, v11 = flat[i00 + cols], flat[i00 + cols + 1]
        top = v00 + (v01 - v00) * fc
        bottom = v10 + (v11 - v10) * fc
        return top + (bottom - top) * fr, inside

    # ------------------------------------------------------------------ heights
    def height_at(self, lon_rad, lat_rad) -> np.ndarray:
        """Terrain height (m) above the datum; 0 outside the DEM."""
        h, inside = self._bilinear(self._values, lon_rad, lat_rad)
        return np.where(inside, h, 0.0)

    def radius_m(self, lon_rad, lat_rad) -> np.ndarray:
        """Distance (m) from the body centre to the terrain (a ``Dem`` stand-in)."""
        return self.datum_m + self.height_at(lon_rad, lat_rad)

    def _above(self, p: np.ndarray) -> np.ndarray:
        lon, lat = xyz_to_lonlat(p)
        return np.linalg.norm(p, axis=-1) - self.datum_m - self.height_at(lon, lat)

    # ------------------------------------------------------------------ rays
    def intersect(self, origin, direction) -> tuple[np.ndarray, np.ndarray]:
        """First intersection of rays with the terrain.

        Parameters
        ----------
        origin : array_like of shape (3,) or (N, 3)
            Ray origins, body-fixed metres (above the terrain).
        direction : array_like of shape (N, 3)
            Ray directions (normalised here).

        Returns
        -------
        xyz : ndarray of shape (N, 3)
            Body-fixed metres (NaN where ``hit`` is False).
        hit : ndarray of bool, shape (N,)
        """
        d = np.asarray(direction, dtype=np.float64).reshape(-1, 3)
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
        p0 = np.broadcast_to(np.asarray(origin, dtype=np.float64), d.shape)
        n = len(d)
        hmin, hmax = self.height_range_m
        r_top, r_bot = self.datum_m + max(hmax, 0.0) + 1.0, self.datum_m + min(hmin, 0.0) - 1.0
        b = np.einsum("ij,ij->i", p0, d)
        c0 = np.einsum("ij,ij->i", p0, p0)
        disc_top = b * b - (c0 - r_top**2)
        disc_bot = b * b - (c0 - r_bot**2)
        enters = disc_top >= 0
        t_in = np.where(c0 > r_top**2, -b - np.sqrt(np.maximum(disc_top, 0.0)), 0.0)
        t_out = np.where(disc_bot >= 0, -b - np.sqrt(np.maximum(disc_bot, 0.0)),
                         -b + np.sqrt(np.maximum(disc_top, 0.0)))
        enters &= t_out > np.maximum(t_in, 0.0)
        t_in = np.maximum(t_in, 0.0)
        length = np.where(enters, t_out - t_in, 0.0)
        r_in = np.sqrt(np.maximum(c0 + 2 * b * t_in + t_in**2, 0.0))
        r_out = np.sqrt(np.maximum(c0 + 2 * b * t_out + t_out**2, 0.0))
        horizontal = np.sqrt(np.maximum(length**2 - (r_in - r_out) ** 2, 0.0))
        n_steps = int(np.clip(np.ceil(np.max(horizontal, initial=0.0) / (0.5 * self.spacing_m)), 4, 100_000))
        lo = np.full(n, np.nan)
        hi = np.full(n, np.nan)
        active = np.nonzero(enters)[0]
        t_prev = t_in[active]
        for k in range(1, n_steps + 1):
            if len(active) == 0:
                break
            t_k = t_in[active] + length[active] * (k / n_steps)
            g = self._above(p0[active] + t_k[:, None] * d[active])
            below = g <= 0
            lo[active[below]] = t_prev[below]
            hi[active[below]] = t_k[below]
            active, t_prev = active[~below], t_k[~below]
        hit = np.isfinite(hi)
        idx = np.nonzero(hit)[0]
        t_hit = self._refine(p0[idx], d[idx], lo[idx], hi[idx])
        xyz = np.full((n, 3), np.nan)
        xyz[idx] = p0[idx] + t_hit[:, None] * d[idx]
        return xyz, hit

    def _refine(self, p0: np.ndarray, d: np.ndarray, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Root of ``_above`` in brackets ``[a, z]`` (above at ``a``, at or below at ``z``):
        regula falsi with the Illinois modification, vectorised; ray parameters (m)."""
        ga = self._above(p0 + a[:, None] * d)
        gz = self._above(p0 + z[:, None] * d)
        t = z.copy()
        side = np.zeros(len(a), dtype=np.int8)
        todo = np.arange(len(a))
        for _ in range(_REFINE_ITER):
            if len(todo) == 0:
                break
            a_, z_, ga_, gz_ = a[todo], z[todo], ga[todo], gz[todo]
            denom = ga_ - gz_  # > 0: above at a, at or below at z
            m = a_ + ga_ * (z_ - a_) / np.where(denom > 0, denom, 1.0)
            m = np.where(denom > 0, np.clip(m, a_, z_), 0.5 * (a_ + z_))
            gm = self._above(p0[todo] + m[:, None] * d[todo])
            t[todo] = m
            below = gm <= 0
            # the bracket end that moved; Illinois: halve the value kept at the other end
            # when the same end moves twice in a row
            new_a = np.where(below, a_, m)
            new_z = np.where(below, m, z_)
            new_ga = np.where(below, np.where(side[todo] == -1, 0.5 * ga_, ga_), gm)
            new_gz = np.where(below, gm, np.where(side[todo] == 1, 0.5 * gz_, gz_))
            a[todo], z[todo], ga[todo], gz[todo] = new_a, new_z, new_ga, new_gz
            side[todo] = np.where(below, -1, 1)
            done = (np.abs(gm) < _TOL_M) | (new_z - new_a < _TOL_M)
            todo = todo[~done]
        return t

    # ------------------------------------------------------------------ shading
    def normals(self, xyz) -> np.ndarray:
        """Outward topographic unit normals at body-fixed points, shape (..., 3)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        lon, lat = xyz_to_lonlat(xyz)
        gxg, gyg = self._gradients
        gx, inside = self._bilinear(gxg, lon, lat)
        gy, _ = self._bilinear(gyg, lon, lat)
        gx, gy = np.where(inside, gx, 0.0), np.where(inside, gy, 0.0)
        east, north, up = _local_frame(lon, lat)
        nrm = up - gx[..., None] * east - gy[..., None] * north
        return nrm / np.linalg.norm(nrm, axis=-1, keepdims=True)

    def shadow_map(self, sun_position_m) -> np.ndarray:
        """Per-post lit flags as floats (1 lit, 0 in a cast shadow or the Sun below the local
        horizon of the sphere) for one Sun position (body-fixed metres), cached; an array
        of the DEM's shape."""
        key = tuple(round(float(v), 3) for v in np.asarray(sun_position_m).ravel())
        with self._lock:
            if key not in self._shadow_maps:
                self._shadow_maps[key] = self._compute_shadow_map(np.asarray(sun_position_m, dtype=np.float64))
            return self._shadow_maps[key]

    def _compute_shadow_map(self, sun: np.ndarray) -> np.ndarray:
        lon1, lat1 = self._post_lonlat
        lon, lat = np.meshgrid(lon1, lat1)
        h = self._values
        east, north, up = _local_frame(lon, lat)
        p = up * (self.datum_m + h)[..., None]
        s = sun - p
        s /= np.linalg.norm(s, axis=-1, keepdims=True)
        se, sn, su = (np.einsum("...i,...i->...", s, v) for v in (east, north, up))
        sh = np.hypot(se, sn)
        lit = su > 0
        tan_b = np.where(lit, su / np.maximum(sh, 1e-12), np.inf)
        ae, an = se / np.maximum(sh, 1e-12), sn / np.maximum(sh, 1e-12)
        hmin, hmax = self.height_range_m
        step = 0.75 * self.spacing_m
        tan_min = float(np.min(tan_b[lit])) if lit.any() else np.inf
        if not np.isfinite(tan_min):
            n_steps = 0
        else:
            n_steps = int(min(_MAX_SHADOW_STEPS, math.ceil((hmax - hmin) / (step * tan_min)) + 1))
        cand = np.nonzero(lit.ravel())[0]
        flat = {k: v.ravel() for k, v in {"lon": lon, "lat": lat, "h": h, "tan": tan_b, "ae": ae, "an": an}.items()}
        shadowed = np.zeros(lon.size, dtype=bool)
        for k in range(1, n_steps + 1):
            if len(cand) == 0:
                break
            dist = k * step
            ray_h = flat["h"][cand] + dist * flat["tan"][cand] + dist**2 / (2 * self.datum_m)
            done = ray_h > hmax
            qlon = flat["lon"][cand] + dist * flat["ae"][cand] / (self.datum_m * np.cos(flat["lat"][cand]))
            qlat = flat["lat"][cand] + dist * flat["an"][cand] / self.datum_m
            hq, inside = self._bilinear(h, qlon, qlat)
            blocked = inside & (hq > ray_h)
            shadowed[cand[blocked]] = True
            cand = cand[~(blocked | done)]
        out = (lit.ravel() & ~shadowed).astype(np.float64).reshape(lon.shape)
        log.debug("terrain: shadow map for the Sun at %s: %.1f %% of posts in shadow", sun, 100 * (1 - out.mean()))
        return out

    def lit(self, xyz, sun_position_m) -> np.ndarray:
        """Lit fraction in [0, 1] at body-fixed points (1 outside the DEM)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        lon, lat = xyz_to_lonlat(xyz)
        v, inside = self._bilinear(self.shadow_map(sun_position_m), lon, lat)
        return np.where(inside, v, 1.0)

    def shade_angles(self, xyz, eye_m, sun_position_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidence and emission from the topographic normal, and phase (radians).

        Parameters
        ----------
        xyz : ndarray of shape (N, 3)
            Ground points, body-fixed metres.
        eye_m : array_like of shape (3,) or (N, 3)
            Where the surface is seen from (camera centre), metres.
        sun_position_m : array_like of shape (3,)
        """
        nrm = self.normals(xyz)
        to_sun = np.asarray(sun_position_m, dtype=np.float64) - xyz
        to_eye = np.asarray(eye_m, dtype=np.float64) - xyz
        return _angle(nrm, to_sun), _angle(nrm, to_eye), _angle(to_sun, to_eye)


__all__ = ["Terrain"]
