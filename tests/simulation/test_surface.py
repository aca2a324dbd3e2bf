"""The synthetic albedo surface: determinism, continuity (no seam, no pole singularity),
range, band limit, crater statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.simulation import Surface
from pipeline.simulation.noise import Octave, SphereNoise, lonlat_to_unit, value_noise3
from pipeline.simulation.surface import KIND_BRIGHT, KIND_RAYED

R = 1_737_400.0


def test_albedo_dtype_shape_and_range(surface):
    lon = np.radians(np.linspace(178, 182, 50))[None, :]
    lat = np.radians(np.linspace(-2, 2, 40))[:, None]
    a = surface.albedo(lon, lat)
    assert a.dtype == np.float32 and a.shape == (40, 50)
    p = surface.params
    assert np.all((a >= p.albedo_min) & (a <= p.albedo_max))
    # maria and highlands both present: a wide spread of albedo
    assert a.max() / a.min() > 2.0


def test_scalar_and_nan_inputs(surface):
    assert surface.albedo(math.pi, 0.0).shape == ()
    out = surface.albedo(np.array([math.pi, np.nan]), np.array([0.0, 0.0]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_deterministic_from_seed():
    lon = np.radians(np.linspace(179, 181, 300))
    lat = np.zeros_like(lon)
    a1 = Surface(11, (178, 182, -2, 2)).albedo(lon, lat)
    a2 = Surface(11, (178, 182, -2, 2)).albedo(lon, lat)
    a3 = Surface(12, (178, 182, -2, 2)).albedo(lon, lat)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, a3)


def test_chunking_does_not_change_values(surface):
    """Points are processed in blocks; a point's value must not depend on its neighbours."""
    rng = np.random.default_rng(0)
    lon = np.radians(rng.uniform(178, 182, 70_000))
    lat = np.radians(rng.uniform(-2, 2, 70_000))
    whole = surface.albedo(lon, lat)
    parts = np.concatenate([surface.albedo(lon[i : i + 999], lat[i : i + 999]) for i in range(0, 70_000, 999)])
    np.testing.assert_allclose(whole, parts, rtol=1e-6)


def test_no_seam_at_180(surface):
    """Longitude 180 E is -180 E; a profile crossing it is as smooth as one elsewhere."""
    eps = 1e-9
    lat = np.radians(np.linspace(-1.5, 1.5, 200))
    east = surface.albedo(np.full_like(lat, math.pi - eps), lat)
    west = surface.albedo(np.full_like(lat, -math.pi + eps), lat)
    np.testing.assert_allclose(east, west, rtol=1e-4)
    # same point written as 180 and -180 and 540 degrees
    for alt in (-math.pi, 3 * math.pi):
        np.testing.assert_allclose(surface.albedo(np.full_like(lat, math.pi), lat),
                                   surface.albedo(np.full_like(lat, alt), lat), rtol=1e-4)
    # finely sampled profile across the seam: no jump larger than elsewhere on it
    step_m = 20.0
    dlon = step_m / R
    lon = math.pi + dlon * np.arange(-2000, 2001)
    prof = surface.albedo(np.mod(lon + math.pi, 2 * math.pi) - math.pi, np.full(lon.shape, 0.3e-2))
    jumps = np.abs(np.diff(prof.astype(float)))
    seam = jumps[1998:2002].max()
    assert seam <= np.percentile(jumps, 99.5) + 1e-6


def test_no_pole_singularity():
    s = Surface(5, region=(0, 360, 80, 90))
    lon = np.radians(np.linspace(0, 360, 73))
    near = s.albedo(lon, np.full(lon.shape, math.radians(90 - 1e-7)))
    assert np.all(np.isfinite(near))
    assert np.ptp(near) < 1e-3  # all longitudes meet at the pole
    a = s.albedo(lon, np.full(lon.shape, math.radians(89.0)))
    assert np.all(np.isfinite(a))


def test_band_limited_below_min_feature(surface):
    """Neighbouring samples 10 m apart differ far less than samples a feature apart."""
    n = 4000
    rng = np.random.default_rng(1)
    lon0 = np.radians(rng.uniform(178.5, 181.5, n))
    lat0 = np.radians(rng.uniform(-1.5, 1.5, n))
    a0 = surface.albedo(lon0, lat0).astype(float)
    d_small = np.abs(surface.albedo(lon0 + 10.0 / R, lat0) - a0)
    d_feat = np.abs(surface.albedo(lon0 + surface.params.min_feature_m / R, lat0) - a0)
    assert np.median(d_small) < 0.25 * np.median(d_feat)


def test_crater_size_frequency_follows_power_law(surface):
    c = surface.craters
    simple = c.diameter_km[(c.kind != KIND_BRIGHT)]
    p = surface.params
    d = np.sort(simple)
    # cumulative N(>D) ~ D**-slope between 2 Dmin and 10 Dmin
    d1, d2 = 2 * p.crater_dmin_km, 10 * p.crater_dmin_km
    n1, n2 = (d >= d1).sum(), (d >= d2).sum()
    slope = math.log(n1 / n2) / math.log(d2 / d1)
    assert abs(slope - p.crater_slope) < 0.35
    assert (c.kind == KIND_RAYED).sum() >= 1
    assert c.diameter_km.max() <= p.crater_dmax_km


def test_surface_round_trip(surface):
    again = Surface.from_dict(surface.to_dict())
    lon = np.radians(np.linspace(178, 182, 500))
    lat = np.radians(np.linspace(-2, 2, 500))
    assert np.array_equal(again.albedo(lon, lat), surface.albedo(lon, lat))


def test_value_noise_is_continuous_and_bounded():
    q = np.stack([np.linspace(-3, 3, 20001), np.full(20001, 0.37), np.full(20001, -5.2)]).astype(np.float32)
    v = value_noise3(q, 9)
    assert v.dtype == np.float32
    assert np.all(np.abs(v) <= 1.0)
    assert np.abs(np.diff(v)).max() < 0.01
    noise = SphereNoise([Octave(10_000.0, 1.0)], R, seed=2)
    u = lonlat_to_unit(np.radians([10.0, 10.0 + 360.0]), np.radians([5.0, 5.0]))
    out = noise(u)
    assert abs(out[0] - out[1]) < 1e-4


@pytest.mark.parametrize("region", [(170, 190, -5, 5), (-10, 10, 40, 50)])
def test_regions_anywhere(region):
    s = Surface(1, region)
    lon0, lon1, lat0, lat1 = region
    a = s.albedo(np.radians(np.linspace(lon0, lon1, 100)), np.radians(np.linspace(lat0, lat1, 100)))
    assert np.all(np.isfinite(a))
