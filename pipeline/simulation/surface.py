"""A lunar-like albedo map defined analytically on the sphere: truth at any resolution.

The surface is *albedo only* (normal albedo, i.e. I/F at incidence = emission = 0): no
topography, so no shading that calibration could not remove without a DEM. It is built
from

- **maria and highlands**: a low-frequency noise field on the sphere plus a few
  mare-filled "basins" inside the region, thresholded softly into a mare weight that
  mixes a dark mare albedo with a brighter highland albedo;
- **texture**: multi-octave value noise (log-albedo), from ~16 km down to
  ``min_feature_m`` (the band limit, about one frame pixel), weaker in the maria;
- **craters** with a power-law cumulative size-frequency distribution
  ``N(>D) = density_1km * D**-slope`` per km^2: darker floors, bright rims, bright ejecta
  halos fading with degradation, central peaks for large craters, bright rays for a few
  fresh ones, and a handful of very bright fresh spots (these saturate long exposures).

All fields are evaluated at body-fixed unit vectors, so there is no seam at +-180 deg
longitude and no pole singularity. Noise exists everywhere on the sphere; craters are
generated (deterministically from the seed) only inside ``region`` widened by a margin.
Everything is deterministic from the seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.simulation.noise import Octave, SphereNoise, lonlat_to_unit, smoothstep
from pipeline.simulation.params import JsonParams

log = logging.getLogger(__name__)

DEFAULT_REGION_DEG = (177.8, 182.2, -3.8, 3.8)
"""Default survey region: (lon_min, lon_max, lat_min, lat_max) in degrees, longitudes
continuous (may exceed 180), straddling 180 deg E."""


@dataclass(frozen=True)
class SurfaceParams(JsonParams):
    """Every constant of the synthetic surface (JSON-serialisable with ``dataclasses.asdict``).

    Albedos are normal albedos (I/F at i = e = 0); lengths in metres unless the name says
    km; angles in degrees; densities per km^2.
    """

    seed: int = 0
    region_deg: tuple[float, float, float, float] = DEFAULT_REGION_DEG
    radius_m: float = MOON_RADIUS_M
    highland_albedo: float = 0.16
    mare_albedo: float = 0.075
    mare_cell_m: float = 80_000.0
    mare_octaves: int = 5
    mare_threshold: float = 0.12
    mare_edge: float = 0.07
    n_basins: int = 2
    basin_radius_km: tuple[float, float] = (25.0, 50.0)
    texture_coarse_cell_m: float = 16_000.0
    texture_lacunarity: float = 2.1
    texture_amplitudes: tuple[float, ...] = (0.10, 0.08, 0.07, 0.07, 0.08, 0.08, 0.08)
    mare_texture_damping: float = 0.35
    min_feature_m: float = 180.0
    crater_density_1km: float = 0.02
    crater_slope: float = 2.0
    crater_dmin_km: float = 0.6
    crater_dmax_km: float = 40.0
    crater_margin_deg: float = 2.5
    central_peak_dmin_km: float = 12.0
    rayed_fraction: float = 0.04
    rayed_dmin_km: float = 2.0
    rayed_dmax_km: float = 15.0
    bright_spot_density: float = 1.5e-4
    bright_spot_d_km: tuple[float, float] = (0.8, 2.0)
    albedo_min: float = 0.02
    albedo_max: float = 0.9

KIND_SIMPLE, KIND_RAYED, KIND_BRIGHT = 0, 1, 2
KIND_NAMES = {KIND_SIMPLE: "simple", KIND_RAYED: "rayed", KIND_BRIGHT: "bright"}


@dataclass
class CraterCatalogue:
    """Craters of a :class:`Surface` (one row each).

    Attributes
    ----------
    lon_deg, lat_deg : ndarray of shape (N,)
        Centre, degrees (longitude in [0, 360)).
    diameter_km : ndarray of shape (N,)
    freshness : ndarray of shape (N,)
        0 (degraded) .. 1 (fresh): scales rim, ejecta and ray brightness.
    kind : ndarray of shape (N,), int
        0 simple, 1 rayed, 2 bright fresh spot.
    rays : dict[int, ndarray of shape (K, 6)]
        For rayed craters: per ray (azimuth rad, half-width rad, length in radii,
        amplitude, streak wavenumber, streak phase).
    """

    lon_deg: np.ndarray
    lat_deg: np.ndarray
    diameter_km: np.ndarray
    freshness: np.ndarray
    kind: np.ndarray
    rays: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.diameter_km)

    def rows(self, min_diameter_km: float = 0.0) -> list[dict[str, Any]]:
        """Rows (dicts) of craters at least ``min_diameter_km`` wide, for truth files."""
        keep = np.nonzero(self.diameter_km >= min_diameter_km)[0]
        return [
            {
                "lon_deg": round(float(self.lon_deg[i]), 6),
                "lat_deg": round(float(self.lat_deg[i]), 6),
                "diameter_km": round(float(self.diameter_km[i]), 4),
                "freshness": round(float(self.freshness[i]), 3),
                "kind": KIND_NAMES[int(self.kind[i])],
            }
            for i in keep
        ]


class Surface:
    """Analytic lunar-like albedo on the sphere.

    Parameters
    ----------
    seed : int
        Seed of every random choice (noise lattices, basins, craters).
    region : tuple of float, optional
        ``(lon_min, lon_max, lat_min, lat_max)`` in degrees where craters are generated
        (widened by ``crater_margin_deg``); longitudes continuous, e.g. ``(176, 184, -4, 4)``.
    params : SurfaceParams, optional
        All constants; ``seed`` and ``region`` override its fields when given.

    Examples
    --------
    >>> s = Surface(seed=1, region=(179, 181, -1, 1))
    >>> a = s.albedo(np.radians([179.5, 180.5]), np.radians([0.0, 0.2]))
    >>> a.dtype, a.shape
    (dtype('float32'), (2,))
    """

    def __init__(
        self,
        seed: int = 0,
        region: tuple[float, float, float, float] | None = None,
        params: SurfaceParams | None = None,
    ):
        params = params or SurfaceParams()
        changes: dict[str, Any] = {"seed": int(seed)}
        if region is not None:
            changes["region_deg"] = tuple(float(v) for v in region)
        self.params = dataclasses.replace(params, **changes)
        p = self.params
        lon0, lon1, lat0, lat1 = p.region_deg
        if not (lon1 > lon0 and lat1 > lat0 and -90 <= lat0 and lat1 <= 90):
            raise ValueError(f"bad region {p.region_deg}: need lon_min < lon_max, -90 <= lat_min < lat_max <= 90")
        self._mare_noise = SphereNoise(
            [Octave(p.mare_cell_m / 2**k, 0.5**k) for k in range(p.mare_octaves)],
            p.radius_m,
            seed=self._subseed(1),
        )
        octaves = []
        cell = p.texture_coarse_cell_m
        for amp in p.texture_amplitudes:
            if cell < p.min_feature_m * 0.999:
                break
            octaves.append(Octave(cell, amp))
            cell /= p.texture_lacunarity
        self._texture = SphereNoise(octaves, p.radius_m, seed=self._subseed(2))
        self._make_basins()
        self.craters = self._make_craters()
        self._prepare_crater_index()
        log.debug("surface seed=%d: %d craters, %d texture octaves", p.seed, len(self.craters), len(octaves))

    # ------------------------------------------------------------------ construction
    def _subseed(self, stream: int) -> int:
        return int(np.random.default_rng([self.params.seed, 0xA1BED0, stream]).integers(0, 2**31 - 1))

    def _rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.params.seed, 0xA1BED0, stream])

    def _box(self, margin_deg: float) -> tuple[float, float, float, float]:
        """The region widened by ``margin_deg`` (longitude span at most 360 deg)."""
        lon0, lon1, lat0, lat1 = self.params.region_deg
        lat0m, lat1m = max(-90.0, lat0 - margin_deg), min(90.0, lat1 + margin_deg)
        coslat = max(math.cos(math.radians(max(abs(lat0m), abs(lat1m)))), 0.05)
        dlon = margin_deg / coslat
        lon_a, lon_b = lon0 - dlon, lon1 + dlon
        if lon_b - lon_a >= 360.0:
            lon_a, lon_b = 0.0, 360.0
        return lon_a, lon_b, lat0m, lat1m

    def _region_sample(self, rng: np.random.Generator, n: int, margin_deg: float) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform on the sphere inside the widened region: (lon, lat) degrees."""
        lon_a, lon_b, lat_a, lat_b = self._box(margin_deg)
        lon = rng.uniform(lon_a, lon_b, n)
        s0, s1 = math.sin(math.radians(lat_a)), math.sin(math.radians(lat_b))
        lat = np.degrees(np.arcsin(rng.uniform(s0, s1, n)))
        return np.mod(lon, 360.0), lat

    def _region_area_km2(self, margin_deg: float) -> float:
        lon_a, lon_b, lat_a, lat_b = self._box(margin_deg)
        r_km = self.params.radius_m / 1000.0
        return r_km**2 * math.radians(lon_b - lon_a) * (math.sin(math.radians(lat_b)) - math.sin(math.radians(lat_a)))

    def _make_basins(self) -> None:
        p = self.params
        rng = self._rng(3)
        lon, lat = self._region_sample(rng, p.n_basins, margin_deg=0.0)
        self._basin_xyz = lonlat_to_unit(np.radians(lon), np.radians(lat)).reshape(-1, 3)
        self._basin_rad = rng.uniform(*p.basin_radius_km, p.n_basins) * 1000.0 / p.radius_m
        self._basin_amp = rng.uniform(0.45, 0.7, p.n_basins)

    def _make_craters(self) -> CraterCatalogue:
        p = self.params
        rng = self._rng(4)
        area = self._region_area_km2(p.crater_margin_deg)
        mean_n = p.crater_density_1km * p.crater_dmin_km ** (-p.crater_slope) * area
        n = int(rng.poisson(mean_n))
        # truncated Pareto by inverse CDF
        a, b, k = p.crater_dmin_km, p.crater_dmax_km, p.crater_slope
        u = rng.random(n)
        d = (a**-k - u * (a**-k - b**-k)) ** (-1.0 / k)
        lon, lat = self._region_sample(rng, n, p.crater_margin_deg)
        fresh = rng.random(n) ** 2.5
        kind = np.zeros(n, dtype=np.int8)
        rayable = (d >= p.rayed_dmin_km) & (d <= p.rayed_dmax_km)
        rayed = rayable & (rng.random(n) < p.rayed_fraction)
        # at least one rayed crater centred inside the region itself
        lon0, lon1, lat0, lat1 = p.region_deg
        inside = rayable & (((lon - lon0) % 360.0) <= (lon1 - lon0)) & (lat >= lat0) & (lat <= lat1)
        if not (rayed & inside).any() and inside.any():
            rayed[rng.choice(np.nonzero(inside)[0])] = True
        kind[rayed] = KIND_RAYED
        fresh[rayed] = np.maximum(fresh[rayed], 0.85 + 0.15 * rng.random(int(rayed.sum())))
        # bright fresh spots
        nb = int(rng.poisson(p.bright_spot_density * area))
        bd = rng.uniform(*p.bright_spot_d_km, nb)
        blon, blat = self._region_sample(rng, nb, p.crater_margin_deg)
        lon = np.concatenate([lon, blon])
        lat = np.concatenate([lat, blat])
        d = np.concatenate([d, bd])
        fresh = np.concatenate([fresh, np.ones(nb)])
        kind = np.concatenate([kind, np.full(nb, KIND_BRIGHT, dtype=np.int8)])
        rays = {}
        for i in np.nonzero(kind == KIND_RAYED)[0]:
            m = int(rng.integers(7, 16))
            radius_m = d[i] * 500.0
            min_w = p.min_feature_m / radius_m  # ray at least one feature wide at the rim
            rays[int(i)] = np.column_stack(
                [
                    rng.uniform(0, 2 * np.pi, m),
                    np.maximum(rng.uniform(0.02, 0.07, m), min_w),
                    rng.uniform(3.0, 8.0, m),
                    rng.uniform(0.5, 1.0, m),
                    rng.uniform(1.0, 3.0, m),
                    rng.uniform(0, 2 * np.pi, m),
                ]
            )
        return CraterCatalogue(lon, lat, d, fresh, kind, rays)

    def _prepare_crater_index(self) -> None:
        c = self.craters
        p = self.params
        self._c_xyz = lonlat_to_unit(np.radians(c.lon_deg), np.radians(c.lat_deg)).reshape(-1, 3)
        self._c_rad = c.diameter_km * 500.0 / p.radius_m  # crater radius, radians
        reach = np.full(len(c), 3.0)
        for i, r in c.rays.items():
            reach[i] = r[:, 2].max()
        self._c_reach = reach * self._c_rad  # influence radius, radians
        self._c_reach_chord = 2 * np.sin(np.minimum(self._c_reach, np.pi) / 2)
        self._rayed = np.nonzero(c.kind == KIND_RAYED)[0]
        # local east/north basis at each rayed crater (for ray azimuths)
        self._ray_basis = {}
        for i in self._rayed:
            cz = self._c_xyz[i]
            ref = np.array([0.0, 0.0, 1.0]) if abs(cz[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
            e = np.cross(ref, cz)
            e /= np.linalg.norm(e)
            self._ray_basis[int(i)] = (e, np.cross(cz, e))

    # ------------------------------------------------------------------ evaluation
    def albedo(self, lon_rad: np.ndarray, lat_rad: np.ndarray) -> np.ndarray:
        """Normal albedo at planetocentric longitude/latitude.

        Parameters
        ----------
        lon_rad, lat_rad : array_like
            Longitude (east, any range) and latitude in **radians**; broadcast together.
            Non-finite inputs give NaN.

        Returns
        -------
        ndarray, float32
            Albedo (dimensionless, in ``[albedo_min, albedo_max]``), the broadcast shape.
        """
        lon, lat = np.broadcast_arrays(np.asarray(lon_rad, dtype=np.float64), np.asarray(lat_rad, dtype=np.float64))
        return self.albedo_xyz(lonlat_to_unit(lon, lat))

    def albedo_xyz(self, xyz: np.ndarray) -> np.ndarray:
        """Normal albedo at body-fixed points (any length: only the direction is used).

        Parameters
        ----------
        xyz : ndarray of shape (..., 3)
            Body-fixed cartesian coordinates (m or unit vectors).

        Returns
        -------
        ndarray of shape (...), float32
        """
        xyz = np.asarray(xyz, dtype=np.float64)
        shape = xyz.shape[:-1]
        flat = xyz.reshape(-1, 3)
        out = np.full(flat.shape[0], np.nan, dtype=np.float32)
        norm = np.sqrt(np.einsum("ij,ij->i", flat, flat))
        ok = np.isfinite(norm) & (norm > 0)
        if ok.all():
            out[:] = self._albedo_unit(flat / norm[:, None])
        elif ok.any():
            out[ok] = self._albedo_unit(flat[ok] / norm[ok, None])
        return out.reshape(shape)

    def _mare_weight(self, u: np.ndarray) -> np.ndarray:
        p = self.params
        m = self._mare_noise(u).astype(np.float64)
        for c, rad, amp in zip(self._basin_xyz, self._basin_rad, self._basin_amp):
            ang2 = np.sum((u - c) ** 2, axis=1)  # chord^2 ~ angle^2 (small angles)
            m += amp * np.exp(-ang2 / rad**2)
        return smoothstep(p.mare_threshold - p.mare_edge, p.mare_threshold + p.mare_edge, m)

    def _albedo_unit(self, u: np.ndarray) -> np.ndarray:
        p = self.params
        w = self._mare_weight(u)
        base = np.float32(p.highland_albedo) + (np.float32(p.mare_albedo) - np.float32(p.highland_albedo)) * w
        log_a = np.log(base)
        log_a += self._texture(u) * (np.float32(1.0) - np.float32(p.mare_texture_damping) * w)
        log_a += self._crater_log_albedo(u)
        return np.clip(np.exp(log_a), p.albedo_min, p.albedo_max).astype(np.float32)

    def mare_weight(self, lon_rad: np.ndarray, lat_rad: np.ndarray) -> np.ndarray:
        """Mare fraction (0 highland .. 1 mare) at longitude/latitude in radians, float32."""
        lon, lat = np.broadcast_arrays(np.asarray(lon_rad, dtype=np.float64), np.asarray(lat_rad, dtype=np.float64))
        u = lonlat_to_unit(lon, lat).reshape(-1, 3)
        return self._mare_weight(u).reshape(lon.shape)

    # ------------------------------------------------------------------ craters
    def _profile(self, rho: np.ndarray, ci: np.ndarray) -> np.ndarray:
        """Log-albedo contribution of craters ``ci`` at normalised distance ``rho``."""
        c = self.craters
        p = self.params
        rho = rho.astype(np.float32)
        f = c.freshness[ci].astype(np.float32)
        radius_m = (c.diameter_km[ci] * 500.0).astype(np.float32)
        s = np.maximum(np.float32(0.06), np.float32(p.min_feature_m) / radius_m)
        bright = c.kind[ci] == KIND_BRIGHT
        floor_amp = np.where(bright, np.float32(1.15), -(np.float32(0.12) + np.float32(0.18) * f))
        floor_edge = np.float32(0.7)
        t = np.clip((rho - (floor_edge - s)) / (2 * s), 0, 1)
        inside = 1 - t * t * (3 - 2 * t)
        out = floor_amp * inside
        rim_w = np.float32(0.08) + s
        out += (np.float32(0.06) + np.float32(0.36) * f) * np.exp(-(((rho - np.float32(0.95)) / rim_w) ** 2))
        ej_amp = np.where(bright, np.float32(0.6), np.float32(0.25) * f)
        t = np.clip((rho - np.float32(0.85)) / np.float32(0.15), 0, 1)
        out += ej_amp * np.exp(-np.maximum(rho - 1, 0) / np.float32(0.5)) * (t * t * (3 - 2 * t))
        peak = c.diameter_km[ci] >= p.central_peak_dmin_km
        if peak.any():
            pw = np.maximum(np.float32(0.12), s)
            out += np.where(peak, (np.float32(0.3) + np.float32(0.3) * f) * np.exp(-((rho / pw) ** 2)), 0)
        t = np.clip((rho - np.float32(2.4)) / np.float32(0.6), 0, 1)
        return out * (1 - t * t * (3 - 2 * t))

    def _crater_log_albedo(self, u: np.ndarray) -> np.ndarray:
        n = u.shape[0]
        if len(self.craters) == 0 or n == 0:
            return np.zeros(n, dtype=np.float32)
        # craters that can reach the cap holding the points
        centre = u.mean(axis=0)
        centre /= np.linalg.norm(centre)
        spread = float(np.max(np.linalg.norm(u - centre, axis=1)))
        near = np.nonzero(np.linalg.norm(self._c_xyz - centre, axis=1) <= spread + self._c_reach_chord)[0]
        if len(near) == 0:
            return np.zeros(n, dtype=np.float32)
        ptree = cKDTree(u, balanced_tree=False, compact_nodes=False)
        hits = ptree.query_ball_point(self._c_xyz[near], self._c_reach_chord[near], return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if counts.sum() == 0:
            return np.zeros(n, dtype=np.float32)
        pj = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64, count=int(counts.sum()))
        ci = np.repeat(near, counts)
        d = np.take(u, pj, axis=0)
        d -= np.take(self._c_xyz, ci, axis=0)
        ang = 2 * np.arcsin(np.minimum(np.sqrt(np.einsum("ij,ij->i", d, d)) / 2, 1.0))
        rho = ang / self._c_rad[ci]
        contrib = self._profile(np.minimum(rho, 3.0), ci) * (rho < 3.0)
        contrib = contrib.astype(np.float64)
        rayed = self.craters.kind[ci] == KIND_RAYED
        if rayed.any():
            for i in np.unique(ci[rayed]):
                sel = ci == i
                contrib[sel] += self._rays(int(i), d[sel], rho[sel])
        return np.bincount(pj, weights=contrib, minlength=n).astype(np.float32)

    def _rays(self, i: int, d: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """Log-albedo of the rays of crater ``i`` at offsets ``d`` (N, 3), distances ``rho``."""
        out = np.zeros(len(rho))
        cand = np.nonzero(rho > 0.9)[0]
        if len(cand) == 0:
            return out
        e, nvec = self._ray_basis[i]
        dc = d[cand]
        theta = np.arctan2(dc @ nvec, dc @ e)
        order = np.argsort(theta, kind="stable")
        ts = theta[order]
        f = float(self.craters.freshness[i])
        for az, hw, length, amp, k, ph in self.craters.rays[i]:
            # pairs within 4 half-widths of the ray's azimuth (three windows cover the wrap)
            parts = []
            for shift in (-2 * np.pi, 0.0, 2 * np.pi):
                lo, hi = np.searchsorted(ts, [az + shift - 4 * hw, az + shift + 4 * hw])
                if hi > lo:
                    parts.append(order[lo:hi])
            if not parts:
                continue
            sel = np.concatenate(parts)
            r = rho[cand[sel]]
            keep = r < length
            sel, r = sel[keep], r[keep]
            t = np.mod(theta[sel] - az + np.pi, 2 * np.pi) - np.pi
            streak = 0.6 + 0.4 * np.cos(r * k * 2 * np.pi / 3 + ph)
            fade = np.exp(-(r - 1) / (length / 2)) * (1 - smoothstep(0.8 * length, length, r))
            np.add.at(
                out, cand[sel], 0.4 * f * amp * np.exp(-((t / hw) ** 2)) * streak * fade * smoothstep(0.9, 1.3, r)
            )
        return out

    # ------------------------------------------------------------------ description
    def to_dict(self) -> dict[str, Any]:
        """Parameters (JSON-serialisable) from which :meth:`from_dict` rebuilds the surface."""
        d = self.params.to_dict()
        d["n_craters"] = len(self.craters)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Surface:
        """Rebuild the surface written by :meth:`to_dict` (identical albedo)."""
        params = SurfaceParams.from_dict(data)
        return cls(params.seed, params.region_deg, params)

    @cached_property
    def description(self) -> str:
        """One-line summary: seed, region and crater counts."""
        c = self.craters
        return (
            f"Surface(seed={self.params.seed}, region={self.params.region_deg}, craters={len(c)}, "
            f"rayed={int((c.kind == KIND_RAYED).sum())}, bright={int((c.kind == KIND_BRIGHT).sum())})"
        )

    def __repr__(self) -> str:
        return self.description


__all__ = ["DEFAULT_REGION_DEG", "CraterCatalogue", "Surface", "SurfaceParams"]
