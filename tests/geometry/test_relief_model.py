"""The relief model (:mod:`pipeline.geometry.relief`) on points of a known surface."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.relief import relief_model
from pipeline.geometry.warp import GroundGrid

GRID = MapGrid.from_bounds("farside_eqc", (-30e3, -20e3, 30e3, 20e3), 200.0)


def _surface(x, y):
    """A basin wall (1.5 km over 20 km) and a 8 km bowl 600 m deep, metres."""
    wall = 1500.0 * np.tanh(x / 10e3)
    bowl = -600.0 * np.exp(-((x - 8e3) ** 2 + (y + 4e3) ** 2) / (2 * 3e3**2))
    return wall + bowl


def _points(n, rng, region=(-28e3, 28e3, -18e3, 18e3), noise_m=20.0):
    x = rng.uniform(region[0], region[1], n)
    y = rng.uniform(region[2], region[3], n)
    lon, lat = (np.radians(v) for v in GRID.xy_to_lonlat(x, y))
    return x, y, lon, lat, _surface(x, y) + rng.normal(0.0, noise_m, n)


def _model_at(model, x, y):
    lon, lat = (np.radians(v) for v in GRID.xy_to_lonlat(x, y))
    return model.height_m(lon, lat)


def test_smooth_relief_is_recovered_and_outliers_are_left_out():
    rng = np.random.default_rng(1)
    _, _, lon, lat, h = _points(1500, rng)
    bad = rng.random(h.size) < 0.1
    h_obs = np.where(bad, h + rng.choice([-1, 1], h.size) * rng.uniform(1500, 4000, h.size), h)
    model = relief_model(lon, lat, h_obs, 20.0, GRID, post_m=1500.0)
    assert model.n_outliers >= 0.9 * bad.sum() and model.n_points + model.n_outliers == h.size
    xt, yt = np.meshgrid(np.linspace(-25e3, 25e3, 60), np.linspace(-15e3, 15e3, 40))
    err = _model_at(model, xt, yt) - _surface(xt, yt)
    assert np.sqrt(np.mean(err**2)) < 25.0, np.sqrt(np.mean(err**2))  # measured 11 m (relief 3 km)
    assert model.scatter_m < 25.0 and abs(model.offset_m - np.median(h)) < 100.0
    assert model.dense_fraction > 0.9
    # the same points without the robust weights and outlier rejection are far off (measured 391 m)
    plain = relief_model(lon, lat, h_obs, 20.0, GRID, post_m=1500.0, iterations=0, outlier_sigmas=1e9)
    assert np.sqrt(np.mean((_model_at(plain, xt, yt) - _surface(xt, yt)) ** 2)) > 3 * np.sqrt(np.mean(err**2))


def test_where_points_are_sparse_the_model_follows_the_base_surface():
    rng = np.random.default_rng(2)
    _, _, lon, lat, h = _points(800, rng, region=(-28e3, 0.0, -18e3, 18e3))  # the western half only
    base_grid = MapGrid.from_bounds("IAU_2015:30100", (175.0, -5.0, 185.0, 5.0), 0.02)
    blon, blat = base_grid.lonlat()
    bx, by = GRID.lonlat_to_xy(blon, blat)
    base = Dem.from_grid(_surface(bx, by), base_grid)
    with_base = relief_model(lon, lat, h, 20.0, GRID, post_m=1500.0, base=base)
    sphere = relief_model(lon, lat, h, 20.0, GRID, post_m=1500.0)
    east_x, east_y = np.meshgrid(np.linspace(15e3, 28e3, 10), np.linspace(-15e3, 15e3, 10))
    truth = _surface(east_x, east_y)
    err_base = np.abs(_model_at(with_base, east_x, east_y) - truth)
    err_sphere = np.abs(_model_at(sphere, east_x, east_y) - truth)
    # measured 49 m and 2.6 km
    assert np.median(err_base) < 100.0 and np.median(err_sphere) > 1000.0, (np.median(err_base), np.median(err_sphere))
    assert with_base.base != "sphere" and sphere.base == "sphere"
    # no points at all: the base alone (plus nothing), the sphere alone
    empty = relief_model([], [], [], 20.0, GRID, post_m=2000.0)
    assert empty.n_points == 0 and not empty.heights_m.any() and not empty.points.any()
    assert empty.dense_fraction == 0.0


def test_the_model_covers_the_mosaic_and_counts_its_points():
    rng = np.random.default_rng(3)
    _, _, lon, lat, h = _points(500, rng)
    model = relief_model(lon, lat, h, 20.0, GRID)
    # default posts: about one point per post over the mosaic (60 km x 40 km / 500 = 4.8 km^2)
    assert model.post_m == pytest.approx(np.sqrt(60e3 * 40e3 / 500), rel=1e-6)
    assert model.points.sum() == model.n_points
    # every pixel centre of the mosaic (and of a halo of 8 px) has a finite height
    halo = MapGrid(GRID.crs_wkt, GRID.transform * Affine.translation(-8, -8), (GRID.shape[0] + 16,
                                                                                GRID.shape[1] + 16))
    ground = GroundGrid.from_grid(halo, model.dem)
    assert ground.ok.all() and np.isfinite(model.height_m(ground.lon, ground.lat)).all()
    # and the Dem the steps use is the model's heights, bilinear between posts
    assert isinstance(model.dem, Dem)
    plon, plat = (np.radians(v) for v in model.grid.lonlat())
    np.testing.assert_allclose(model.dem.height_m(plon, plat), model.heights_m, atol=1e-6)


def test_points_of_nearly_parallel_rays_weigh_little():
    rng = np.random.default_rng(4)
    _, _, lon, lat, h = _points(1200, rng)
    sigma = np.full(h.size, 20.0)
    wild = rng.random(h.size) < 0.5
    h_wild = np.where(wild, h + rng.normal(0.0, 3000.0, h.size), h)
    sigma[wild] = 20e3  # their rays are nearly parallel: they fix the radius to 20 km only
    model = relief_model(lon, lat, h_wild, sigma, GRID, post_m=1500.0)
    same = relief_model(lon, lat, h_wild, 20.0, GRID, post_m=1500.0)  # every point trusted alike
    xt, yt = np.meshgrid(np.linspace(-25e3, 25e3, 40), np.linspace(-15e3, 15e3, 30))
    rms = [np.sqrt(np.mean((_model_at(m, xt, yt) - _surface(xt, yt)) ** 2)) for m in (model, same)]
    assert rms[0] < 30.0 and rms[1] > 50.0, rms  # measured 12.5 and 80 m
