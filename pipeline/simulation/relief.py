"""Synthetic lunar relief: a basin wall, craters and rolling terrain, kilometres deep, with truth.

:class:`Relief` is an analytic height field (metres above the 1 737 400 m sphere) built
from :class:`ReliefParams` and the crater catalogue of a :class:`Surface`, so the
topographic craters are the albedo craters (dark floors in the bowls, bright rims on the
crests). It is the sum of

- **a basin wall**: a large basin (rim radius ``basin_radius_km``) whose centre is placed
  so that its inner wall (``basin_wall_km`` wide) crosses the survey region through its
  centre (by default): floor ``-basin_depth_m``, rim crest ``+basin_rim_m`` (3 km of
  relief by default), the wall a smooth cubic step, the rim decaying outside as
  ``rim / (1 + (x/w)^2)``;
- **craters** (every catalogue crater at least ``crater_min_km`` wide): a parabolic bowl
  ``h = H_r - d (1 - rho^2)`` inside the rim (``rho`` = distance / crater radius), a flat
  floor for craters above ``complex_km`` (Pike's depth ``1.044 D^0.301`` km) with a
  central peak where the albedo crater has one, and an ejecta rim ``H_r rho^-3`` fading to
  0 at ``rho = 3``. Depth ``d = crater_depth_ratio * D`` and rim height ``H_r =
  crater_rim_ratio * D`` for a fresh crater, both scaled by ``degraded_fraction + (1 -
  degraded_fraction) * freshness``;
- **undulations** and **roughness**: value noise on the sphere (``undulation_m`` at
  ``undulation_cell_m``, ``roughness_m`` at ``roughness_cell_m``).

The renderer does not use the analytic field directly: :meth:`Relief.sample` samples it
onto a geographic raster (the **truth DEM**, written as ``truth/dem.tif``), and the frames
are rendered through that raster (:mod:`pipeline.simulation.terrain`), so the truth DEM
*is* the surface the frames saw, to float32 rounding of the heights.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from scipy.spatial import cKDTree

from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MOON_GEOGRAPHIC, MOON_RADIUS_M
from pipeline.simulation.noise import Octave, SphereNoise, lonlat_to_unit, smoothstep
from pipeline.simulation.params import JsonParams

log = logging.getLogger(__name__)

_CHUNK = 262_144  # points per block of crater evaluation


@dataclass(frozen=True)
class ReliefParams(JsonParams):
    """Every constant of the synthetic relief (metres unless the name says km; degrees).

    Attributes
    ----------
    basin_depth_m, basin_rim_m : float
        Basin floor below and rim crest above the surroundings (3 km of relief by default).
    basin_radius_km, basin_wall_km : float
        Rim radius and horizontal width of the inner wall.
    basin_azimuth_deg : float or None
        Direction (clockwise from north) from the region centre to the basin centre; None:
        drawn from the seed.
    basin_offset_km : float
        Distance of the middle of the wall from the region centre, towards the basin.
    crater_depth_ratio, crater_rim_ratio : float
        Depth (rim crest to floor) and rim height over diameter of a fresh simple crater.
    degraded_fraction : float
        Depth and rim of a fully degraded crater (freshness 0) relative to a fresh one.
    crater_min_km, complex_km : float
        Smallest crater given relief; diameter above which craters have flat floors.
    undulation_m, undulation_cell_m, roughness_m, roughness_cell_m : float
        Amplitudes and cell sizes of the noise terms.
    dem_spacing_m : float or None
        Post spacing of the truth DEM; None: half the survey's ground sample distance.
    shadows : bool
        Render cast shadows (points that face the Sun but are hidden from it by terrain).
    """

    basin_depth_m: float = 2000.0
    basin_rim_m: float = 1000.0
    basin_radius_km: float = 160.0
    basin_wall_km: float = 30.0
    basin_azimuth_deg: float | None = None
    basin_offset_km: float = 0.0
    crater_depth_ratio: float = 0.18
    crater_rim_ratio: float = 0.035
    degraded_fraction: float = 0.4
    crater_min_km: float = 0.6
    complex_km: float = 15.0
    undulation_m: float = 150.0
    undulation_cell_m: float = 20_000.0
    roughness_m: float = 20.0
    roughness_cell_m: float = 1_500.0
    dem_spacing_m: float | None = None
    shadows: bool = True


def _destination(lon_rad: float, lat_rad: float, azimuth_rad: float, angle_rad: float) -> tuple[float, float]:
    """Point at great-circle ``angle_rad`` from ``(lon, lat)`` along ``azimuth`` (from north)."""
    s_lat = math.sin(lat_rad) * math.cos(angle_rad) + math.cos(lat_rad) * math.sin(angle_rad) * math.cos(azimuth_rad)
    lat2 = math.asin(max(-1.0, min(1.0, s_lat)))
    lon2 = lon_rad + math.atan2(
        math.sin(azimuth_rad) * math.sin(angle_rad) * math.cos(lat_rad),
        math.cos(angle_rad) - math.sin(lat_rad) * s_lat,
    )
    return lon2, lat2


class Relief:
    """Analytic height field (m above the sphere) over a region, from a surface's craters.

    Parameters
    ----------
    surface : Surface
        Its seed, region and crater catalogue are used.
    params : ReliefParams, optional

    Examples
    --------
    >>> from pipeline.simulation import Surface
    >>> relief = Relief(Surface(seed=1, region=(179.5, 180.5, -0.5, 0.5)))
    >>> h = relief.height(np.radians([180.0, 180.2]), np.radians([0.0, 0.1]))
    >>> h.shape, bool(np.all(np.abs(h) < 5000))
    ((2,), True)
    """

    def __init__(self, surface, params: ReliefParams | None = None):
        self.params = params or ReliefParams()
        self.radius_m = float(surface.params.radius_m)
        self.seed = int(surface.params.seed)
        self.region_deg = tuple(float(v) for v in surface.params.region_deg)
        p = self.params
        rng = np.random.default_rng([self.seed, 0x2E11EF])
        lon0, lon1, lat0, lat1 = self.region_deg
        lon_c, lat_c = math.radians(0.5 * (lon0 + lon1)), math.radians(0.5 * (lat0 + lat1))
        az = math.radians(p.basin_azimuth_deg) if p.basin_azimuth_deg is not None else float(rng.uniform(0, 2 * np.pi))
        wall_mid_km = p.basin_radius_km - 0.5 * p.basin_wall_km
        blon, blat = _destination(lon_c, lat_c, az, (wall_mid_km + p.basin_offset_km) * 1000.0 / self.radius_m)
        self.basin_lonlat_deg = (math.degrees(blon) % 360.0, math.degrees(blat))
        self._basin_u = lonlat_to_unit(np.array(blon), np.array(blat)).reshape(3)
        self._noise = SphereNoise(
            [Octave(p.undulation_cell_m, p.undulation_m), Octave(p.undulation_cell_m / 2.3, 0.4 * p.undulation_m),
             Octave(p.roughness_cell_m, p.roughness_m), Octave(p.roughness_cell_m / 2.1, 0.5 * p.roughness_m)],
            self.radius_m, seed=int(rng.integers(0, 2**31 - 1)),
        )
        c = surface.craters
        keep = np.nonzero(c.diameter_km >= p.crater_min_km)[0]
        d_km = c.diameter_km[keep].astype(np.float64)
        scale = p.degraded_fraction + (1.0 - p.degraded_fraction) * c.freshness[keep].astype(np.float64)
        depth_km = np.where(d_km < p.complex_km, p.crater_depth_ratio * d_km, 1.044 * d_km**0.301)
        self._c_u = lonlat_to_unit(np.radians(c.lon_deg[keep]), np.radians(c.lat_deg[keep])).reshape(-1, 3)
        self._c_rad = d_km * 500.0 / self.radius_m  # crater radius, radians
        self._c_depth = depth_km * 1000.0 * scale
        self._c_rim = p.crater_rim_ratio * d_km * 1000.0 * scale
        self._c_complex = d_km >= p.complex_km
        self._c_peak = d_km >= surface.params.central_peak_dmin_km
        self._c_reach_chord = 2 * np.sin(np.minimum(3.0 * self._c_rad, np.pi) / 2)
        self.n_craters = len(keep)

    # ------------------------------------------------------------------ evaluation
    def height(self, lon_rad, lat_rad) -> np.ndarray:
        """Height (m) above the sphere at planetocentric lon/lat (radians), float64."""
        lon, lat = np.broadcast_arrays(np.asarray(lon_rad, dtype=np.float64), np.asarray(lat_rad, dtype=np.float64))
        return self.height_unit(lonlat_to_unit(lon, lat).reshape(-1, 3)).reshape(lon.shape)

    def height_unit(self, u: np.ndarray) -> np.ndarray:
        """Height (m) at body-fixed unit vectors, shape (N, 3) -> (N,)."""
        u = np.asarray(u, dtype=np.float64).reshape(-1, 3)
        out = self._basin(u) + self._noise(u).astype(np.float64)
        for start in range(0, len(u), _CHUNK):
            out[start : start + _CHUNK] += self._craters(u[start : start + _CHUNK])
        return out

    def _basin(self, u: np.ndarray) -> np.ndarray:
        p = self.params
        x_km = np.arccos(np.clip(u @ self._basin_u, -1.0, 1.0)) * self.radius_m / 1000.0
        inner = p.basin_radius_km - p.basin_wall_km
        t = smoothstep(inner, p.basin_radius_km, x_km).astype(np.float64)
        wall = -p.basin_depth_m + (p.basin_depth_m + p.basin_rim_m) * t
        out = p.basin_rim_m / (1.0 + ((x_km - p.basin_radius_km) / (0.5 * p.basin_wall_km)) ** 2)
        return np.where(x_km <= p.basin_radius_km, wall, out)

    def _craters(self, u: np.ndarray) -> np.ndarray:
        n = len(u)
        out = np.zeros(n)
        if self.n_craters == 0 or n == 0:
            return out
        centre = u.mean(axis=0)
        centre /= np.linalg.norm(centre)
        spread = float(np.max(np.linalg.norm(u - centre, axis=1)))
        near = np.nonzero(np.linalg.norm(self._c_u - centre, axis=1) <= spread + self._c_reach_chord)[0]
        if len(near) == 0:
            return out
        tree = cKDTree(u, balanced_tree=False, compact_nodes=False)
        hits = tree.query_ball_point(self._c_u[near], self._c_reach_chord[near], return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if counts.sum() == 0:
            return out
        pj = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64, count=int(counts.sum()))
        ci = np.repeat(near, counts)
        d = u[pj] - self._c_u[ci]
        ang = 2 * np.arcsin(np.minimum(np.sqrt(np.einsum("ij,ij->i", d, d)) / 2, 1.0))
        rho = ang / self._c_rad[ci]
        depth, rim = self._c_depth[ci], self._c_rim[ci]
        floor_r = np.where(self._c_complex[ci], 0.45, 0.0)
        t = np.clip((rho - floor_r) / (1.0 - floor_r), 0.0, 1.0)
        inside = rim - depth * (1.0 - t * t)
        inside += np.where(self._c_peak[ci], 0.25 * depth * np.exp(-((rho / 0.15) ** 2)), 0.0)
        taper = 1.0 - smoothstep(2.2, 3.0, rho).astype(np.float64)
        outside = rim * np.clip(rho, 1.0, 3.0) ** -3.0 * taper
        contrib = np.where(rho <= 1.0, inside, np.where(rho < 3.0, outside, 0.0))
        return np.bincount(pj, weights=contrib, minlength=n)

    # ------------------------------------------------------------------ the truth raster
    def sample(self, bounds_deg: tuple[float, float, float, float], spacing_m: float) -> Dem:
        """Sample the field onto a geographic raster: the truth DEM.

        Parameters
        ----------
        bounds_deg : (lon_min, lon_max, lat_min, lat_max)
            Degrees (longitudes continuous, may exceed 180); snapped outward to the posts.
        spacing_m : float
            Post spacing in metres along a meridian (the same in degrees along longitude).

        Returns
        -------
        Dem
            Heights (float32 values held as float64) above the 1 737 400 m sphere in
            ``IAU_2015:30100`` (planetocentric lon/lat degrees), pixel-is-area with post
            centres at +0.5.
        """
        lon0, lon1, lat0, lat1 = (float(v) for v in bounds_deg)
        step = math.degrees(spacing_m / self.radius_m)
        x0 = math.floor(lon0 / step) * step
        y1 = math.ceil(lat1 / step) * step
        cols = max(2, math.ceil((lon1 - x0) / step))
        rows = max(2, math.ceil((y1 - lat0) / step))
        lon = x0 + (np.arange(cols) + 0.5) * step
        lat = y1 - (np.arange(rows) + 0.5) * step
        lo, la = np.meshgrid(np.radians(lon), np.radians(lat))
        values = self.height(lo, la).astype(np.float32)
        log.info("relief: DEM of %d x %d posts at %.0f m, heights %.0f..%.0f m", rows, cols, spacing_m,
                 float(values.min()), float(values.max()))
        return Dem.from_array(values.astype(np.float64), Affine(step, 0.0, x0, 0.0, -step, y1), MOON_GEOGRAPHIC,
                              datum_radius_m=MOON_RADIUS_M)

    def to_dict(self) -> dict[str, Any]:
        """Parameters and derived placement (JSON types) for the truth files."""
        return {
            **dataclasses.asdict(self.params),
            "basin_center_lonlat_deg": [round(v, 6) for v in self.basin_lonlat_deg],
            "n_relief_craters": self.n_craters,
        }


__all__ = ["Relief", "ReliefParams"]
