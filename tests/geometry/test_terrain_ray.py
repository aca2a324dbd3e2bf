"""Ray / terrain intersection (pipeline.geometry.terrain_ray) against an independent root finder."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from pipeline.geometry.body import ray_ellipsoid_intersect, xyz_to_lonlat
from pipeline.geometry.terrain_ray import dem_intersect

R = 1737400.0
RADII = (R, R)


class Ramp:
    """Terrain rising ``slope`` m per m towards the east (linear in longitude near lon 0)."""

    def __init__(self, slope: float):
        self.slope = slope

    def radius_m(self, lon, lat):
        return R + self.slope * R * np.asarray(lon)


def on_ellipsoid(calls: list):
    def intersect(o, d, radii, h):
        calls.append(len(d))
        return ray_ellipsoid_intersect(o, d, radii, h)[:2]
    return intersect


def rays(emission_deg: float, n: int = 50):
    """Rays from 100 km up, looking east-down at ``emission_deg`` from the vertical, spread
    over a few km north-south and east-west around lon 0, lat 0."""
    e = np.radians(emission_deg)
    rng = np.random.default_rng(1)
    y = rng.uniform(-3000, 3000, n)
    z = rng.uniform(-3000, 3000, n)
    origin = np.stack([np.full(n, R + 100e3), y - 100e3 * np.tan(e), z], -1)
    look = np.broadcast_to([-np.cos(e), np.sin(e), 0.0], (n, 3))
    return origin, np.array(look)


def oracle(origin, look, dem) -> np.ndarray:
    """The terrain point of each ray by bracketing the sign change of (radius - terrain) along it."""
    out = []
    for o, d in zip(origin, look):
        def f(t, o=o, d=d):
            p = o + t * d
            lon, lat = xyz_to_lonlat(p[None])
            return np.linalg.norm(p) - dem.radius_m(lon, lat)[0]
        t = brentq(f, 50e3, 200e3, xtol=1e-7)
        out.append(o + t * d)
    return np.array(out)


@pytest.mark.parametrize("slope, emission", [(0.2, 45.0), (0.9, 45.0), (1.5, 45.0), (-0.5, 30.0)])
def test_meets_the_terrain_where_an_independent_root_finder_does(slope, emission):
    # slope x tan(emission) >= 1 (0.9 and 1.5 at 45 deg, facing the camera) makes the plain
    # fixed point h <- dem(P(h)) converge slowly or not at all; the secant steps converge
    dem = Ramp(slope)
    origin, look = rays(emission)
    calls: list = []
    xyz, hit = dem_intersect(origin, look, RADII, np.zeros(len(look)), dem, on_ellipsoid(calls))
    assert hit.all()
    assert np.abs(np.linalg.norm(xyz - oracle(origin, look, dem), axis=-1)).max() < 2e-3  # m
    assert sum(calls) / len(look) <= 8  # intersections per ray, the first included


def test_mild_slopes_take_few_steps():
    # at 0.2 x tan 45 deg the plain fixed point shrinks the error 5 x per step (about 9 steps
    # from 1 km off to 1 mm); the secant takes 3 after the start
    calls: list = []
    origin, look = rays(45.0, n=200)
    dem_intersect(origin, look, RADII, np.zeros(len(look)), Ramp(0.2), on_ellipsoid(calls))
    assert sum(calls) / len(look) <= 4.0


def test_rays_that_miss_and_terrain_without_data():
    class Holes(Ramp):
        def radius_m(self, lon, lat):
            r = super().radius_m(lon, lat)
            return np.where(np.asarray(lat) > 0, np.nan, r)  # no data north of the equator

    origin, look = rays(30.0)
    look[:5] = [0.0, 1.0, 0.0]  # parallel to the surface, 100 km up: miss
    xyz, hit = dem_intersect(origin, look, RADII, np.full(len(look), 500.0), Holes(0.1), on_ellipsoid([]))
    assert not hit[:5].any() and hit[5:].all()
    north = xyz_to_lonlat(xyz[5:])[1] > 0
    # where the DEM has no data the given height holds
    assert np.allclose(np.linalg.norm(xyz[5:][north], axis=-1), R + 500.0, atol=1e-3)
