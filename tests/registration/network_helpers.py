"""Synthetic tie-point networks with known truth, without images (fast).

True nadir frame cameras in north-south strips; ground points seeded at random image
positions of every frame and put on the *true* surface (the reference sphere plus a
relief function), observed by every frame that sees them through its true camera, with
Gaussian noise; the reported cameras carry pointing errors. Observations become pairwise
matches (consecutive observations of each track), as ``adjust`` takes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from pipeline.geometry.body import MOON_RADII_M, xyz_to_lonlat
from pipeline.geometry.cameras import FrameCamera
from pipeline.geometry.dem import Dem
from pipeline.registration.pairs import PairMatches

R = MOON_RADII_M[0]


def relief_m(lon_rad, lat_rad, *, amplitude_m: float = 1500.0, lon0_deg: float = 150.0) -> np.ndarray:
    """A smooth relief (m above the sphere): a basin wall and two bumps, +-``amplitude_m``."""
    x = (np.asarray(lon_rad) - math.radians(lon0_deg)) * R / 10_000.0  # 10 km units
    y = np.asarray(lat_rad) * R / 10_000.0
    return amplitude_m * (np.tanh(x - 0.5) * 0.6 + 0.5 * np.exp(-((x + 1) ** 2 + (y - 1) ** 2))
                          - 0.6 * np.exp(-((x - 1.5) ** 2 + (y + 1) ** 2) / 0.5))


def relief_dem(step_deg: float, lon_deg: tuple[float, float], lat_deg: tuple[float, float]) -> Dem:
    """:func:`relief_m` as a :class:`~pipeline.geometry.dem.Dem` every ``step_deg`` over
    ``lon_deg`` x ``lat_deg`` (west, east), (south, north), degrees."""
    lon = np.arange(lon_deg[0], lon_deg[1], step_deg) + step_deg / 2
    lat = np.arange(lat_deg[1], lat_deg[0], -step_deg) - step_deg / 2
    lo, la = np.meshgrid(np.radians(lon), np.radians(lat))
    return Dem.from_array(relief_m(lo, la), Affine(step_deg, 0, lon_deg[0], 0, -step_deg, lat_deg[1]),
                          datum_radius_m=R)


def nadir(lon_rad: float, lat_rad: float, *, size: int, gsd_m: float, altitude_m: float) -> FrameCamera:
    up = np.array([math.cos(lat_rad) * math.cos(lon_rad), math.cos(lat_rad) * math.sin(lon_rad), math.sin(lat_rad)])
    east = np.array([-math.sin(lon_rad), math.cos(lon_rad), 0.0])
    north = np.cross(up, east)
    return FrameCamera.build(lines=size, samples=size, focal_length_mm=altitude_m / gsd_m * 0.01, pixel_pitch_mm=0.01,
                             position_m=up * (R + altitude_m), cam_to_body=np.stack([east, -north, -up], axis=1))


@dataclass
class Network:
    ids: list
    true: dict
    reported: dict
    errors: np.ndarray  # (n, 3) injected pointing errors, camera frame, rad
    matches: list
    track_xyz: np.ndarray  # true ground point per seeded track
    gsd_m: float
    altitude_m: float


def strip_network(*, n_strips: int = 3, per_strip: int = 6, size: int = 400, gsd_m: float = 20.0,
                  altitude_m: float = 60_000.0, along: float = 0.6, across: float = 0.3, seeds: int = 40,
                  noise_px: float = 0.1, error_deg: float = 0.05, relief=None, lon0_deg: float = 150.0,
                  seed: int = 0) -> Network:
    """A network of ``n_strips x per_strip`` nadir frames (see the module docstring).

    ``relief(lon_rad, lat_rad) -> m`` is the true surface's height above the sphere (None: 0).
    """
    rng = np.random.default_rng(seed)
    foot = size * gsd_m
    lat = (np.arange(per_strip) - (per_strip - 1) / 2) * foot * (1 - along) / R
    lon = math.radians(lon0_deg) + (np.arange(n_strips) - (n_strips - 1) / 2) * foot * (1 - across) / R
    ids, true, reported, errors = [], {}, {}, []
    for s in range(n_strips):
        for i in range(per_strip):
            fid = f"S{s}_F{i}"
            cam = nadir(lon[s], lat[i], size=size, gsd_m=gsd_m, altitude_m=altitude_m)
            err = rng.normal(0.0, math.radians(error_deg), 3)
            ids.append(fid)
            true[fid], reported[fid] = cam, cam.with_pointing_correction(err)
            errors.append(err)
    # seeds on the true surface
    pts = []
    for fid in ids:
        ls = rng.uniform(0.05 * size, 0.95 * size, (seeds, 2))
        h = np.zeros(seeds)
        for _ in range(6):  # ray / relief intersection by fixed-point iterations
            xyz = true[fid].image_to_ground(ls[:, 0], ls[:, 1], h)
            if relief is None:
                break
            h = relief(*xyz_to_lonlat(xyz))
        pts.append(xyz)
    track_xyz = np.concatenate(pts)
    obs = []  # (track, frame, line, sample)
    for k, fid in enumerate(ids):
        line, sample = true[fid].ground_to_image(track_xyz)
        inside = (line > 1) & (line < size - 1) & (sample > 1) & (sample < size - 1)
        t = np.flatnonzero(inside)
        obs.append(np.stack([t, np.full(len(t), k), line[t], sample[t]], axis=1))
    obs = np.concatenate(obs)
    obs[:, 2:] += rng.normal(0.0, noise_px, (len(obs), 2))
    obs = obs[np.lexsort((obs[:, 1], obs[:, 0]))]
    t = obs[:, 0].astype(int)
    same = np.flatnonzero(t[1:] == t[:-1])
    pairs: dict = {}
    for a in same:
        fi, fj = int(obs[a, 1]), int(obs[a + 1, 1])
        pairs.setdefault((fi, fj), []).append((obs[a, 2:], obs[a + 1, 2:]))
    matches = [PairMatches(fi, fj, np.array([p[0] for p in v]), np.array([p[1] for p in v]), 1.0, ids[fi], ids[fj])
               for (fi, fj), v in sorted(pairs.items())]
    return Network(ids, true, reported, np.array(errors), matches, track_xyz, gsd_m, altitude_m)


def pointing_error_left_px(net: Network, result) -> np.ndarray:
    """Per frame, the pointing error left after adjustment (px at nadir), the network's
    common rotation (fixed only by the priors) removed."""
    corr = np.array([result.corrections[k].rotvec_rad for k in net.ids])
    left = corr + net.errors
    return np.linalg.norm(left - left.mean(axis=0), axis=1) * net.altitude_m / net.gsd_m


def point_radius_error_m(net: Network, result) -> np.ndarray:
    """For every adjusted track, |adjusted point| - |nearest true seeded point| (m)."""
    from scipy.spatial import cKDTree

    pts = result.points_xyz[np.all(np.isfinite(result.points_xyz), axis=1)]
    _, nearest = cKDTree(net.track_xyz).query(pts)
    return np.linalg.norm(pts, axis=1) - np.linalg.norm(net.track_xyz[nearest], axis=1)
