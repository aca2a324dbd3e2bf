"""Relief: the synthetic DEM, rendering through it, and the per-frame geometric truth."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from affine import Affine

from pipeline.geometry.body import lonlat_to_xyz_deg, xyz_to_lonlat
from pipeline.geometry.dem import Dem
from pipeline.simulation import (
    Relief,
    ReliefParams,
    Surface,
    Terrain,
    camera_rays,
    load_truth,
    plan_survey,
    render_iof,
    simulate_survey,
    survey_preset,
)
from pipeline.simulation.terrain_setup import prepare_terrain

STRIP = {"seed": 11, "n_strips": 1, "frames_per_strip": 3, "size": (96, 96), "overlap_along": 0.75,
         "max_wobble_shift": 0.02, "relief": True, "workers": 1}
"""A 75 %-overlap strip of three nadir 96^2 frames over the default 3 km relief."""


@pytest.fixture(scope="module")
def strip(tmp_path_factory):
    out = tmp_path_factory.mktemp("relief") / "strip"
    simulate_survey(out, **STRIP)
    return out, load_truth(out)


def _grid(size: int = 96, step: int = 4):
    return np.meshgrid(np.arange(2, size, step) + 0.5, np.arange(2, size, step) + 0.5, indexing="ij")


def test_relief_has_kilometres_of_relief_and_a_basin_wall():
    surf = Surface(seed=5, region=(179.0, 181.0, -1.0, 1.0))
    p = ReliefParams()
    # the basin wall alone (no craters, no noise) passes through the region centre at mid-height
    wall = Relief(surf, ReliefParams(crater_min_km=1e9, undulation_m=0.0, roughness_m=0.0))
    mid = -p.basin_depth_m + 0.5 * (p.basin_depth_m + p.basin_rim_m)
    assert float(wall.height(np.radians(180.0), 0.0)) == pytest.approx(mid, abs=1.0)
    relief = Relief(surf, p)
    dem = relief.sample((178.0, 182.0, -2.0, 2.0), 400.0)
    assert np.ptp(dem.values) > 3000.0  # floor to rim, craters on top
    assert np.all(dem.values == dem.values.astype(np.float32))  # float32 heights, as written
    # the topographic craters are the albedo craters: a bowl under each big one
    c = surf.craters
    inside = (c.lon_deg > 178.5) & (c.lon_deg < 181.5) & (np.abs(c.lat_deg) < 1.5) & (c.diameter_km >= 4.0)
    assert inside.sum() >= 3
    for i in np.nonzero(inside)[0]:
        r_deg = math.degrees(c.diameter_km[i] * 500.0 / 1737400.0)
        lon, lat = np.radians(c.lon_deg[i]), np.radians(c.lat_deg[i])
        floor = relief.height(lon, lat)
        rim = relief.height(lon + np.radians(r_deg), lat)
        assert rim - floor > 0.4 * p.crater_depth_ratio * c.diameter_km[i] * 1000.0 * 0.5


def test_truth_dem_file_is_the_rendered_surface(strip):
    out, truth = strip
    survey = json.loads((out / "truth" / "survey.json").read_text())
    assert "truth/dem.tif" in survey["files"] and survey["relief"]["dem"] == "truth/dem.tif"
    dem = Dem.from_file(out / "truth" / "dem.tif")
    assert "Moon" in dem.crs_wkt or "MOON" in dem.crs_wkt.upper()
    assert dem.datum_radius_m == 1737400.0
    np.testing.assert_array_equal(dem.values, truth.terrain.dem.values)
    lo, hi = survey["relief"]["height_range_m"]
    assert hi - lo > 2500.0
    # every ISD (true and reported) carries the DEM's height range
    side = json.loads((out / f"{truth.frame_ids[0]}.json").read_text())
    assert side["reference_height"]["minheight"] == pytest.approx(lo, abs=1e-3)


def test_ray_hits_agree_with_the_camera_model_through_the_truth_dem(strip):
    out, truth = strip
    dem = Dem.from_file(out / "truth" / "dem.tif")
    ll, ss = _grid()
    for fid in truth.frame_ids:
        xyz, hit = truth.true_ground(fid, ll, ss)
        ref, ref_hit = truth.true_cameras[fid].image_to_ground_hit(ll, ss, dem=dem)
        assert hit.all() and ref_hit.all()
        np.testing.assert_allclose(xyz, ref, atol=2e-3)  # 2 mm
        lon, lat = xyz_to_lonlat(xyz)
        np.testing.assert_allclose(np.linalg.norm(xyz, axis=-1), dem.radius_m(lon, lat), atol=2e-4)


def test_pixels_show_the_ground_where_the_truth_dem_says(strip):
    _, truth = strip
    fid = truth.frame_ids[1]
    cam = truth.true_cameras[fid]
    scene = render_iof(cam, truth.surface, supersample=1, psf_sigma_px=0.0, terrain=truth.terrain)
    ll, ss = np.meshgrid(np.arange(96) + 0.5, np.arange(96) + 0.5, indexing="ij")
    xyz, hit = truth.true_ground(fid, ll, ss)
    assert hit.all() and scene.on_body.all()
    np.testing.assert_allclose(scene.albedo, truth.surface.albedo_xyz(xyz), rtol=1e-6)
    # through the sphere instead, a good part of the frame would show other ground
    sphere, _ = cam.image_to_ground_hit(ll, ss)
    offset_px = np.linalg.norm(sphere - xyz, axis=-1) / cam.gsd_m()
    assert np.mean(offset_px > 0.3) > 0.3
    # and the I/F is the law's, with the topographic angles
    from pipeline.simulation.photometry import lunar_lambert

    expected = lunar_lambert(scene.albedo, scene.incidence, scene.emission, 0.5) * scene.lit
    np.testing.assert_allclose(scene.iof, expected, rtol=2e-5, atol=1e-7)


def test_correspondences_and_misregistration_on_the_true_surface(strip):
    _, truth = strip
    a, b = truth.frame_ids[0], truth.frame_ids[1]
    ll, ss = _grid()
    lb, sb, ok = truth.true_correspondence(a, b, ll, ss)
    assert 0.6 < ok.mean() < 0.9  # 75 % overlap
    assert np.nanmax(truth.misregistration_px(a, ll[ok], ss[ok], b, lb[ok], sb[ok])) < 1e-3
    # the ground seen at the matched pixels is the same ground, on the DEM
    xa, _ = truth.true_ground(a, ll[ok], ss[ok])
    xb, _ = truth.true_ground(b, lb[ok], sb[ok])
    assert np.max(np.linalg.norm(xa - xb, axis=-1)) < 0.01
    # sphere-based correspondences miss by tenths of a pixel here (base/height 0.04; 1-2 px
    # in the 256^2 relief_strip preset): measurable, so the truth can tell them apart
    xyz, _ = truth.true_cameras[a].image_to_ground_hit(ll[ok], ss[ok])
    ls, ssb = truth.true_cameras[b].ground_to_image(xyz)
    mis = truth.misregistration_px(a, ll[ok], ss[ok], b, ls, ssb)
    assert np.percentile(mis, 90) > 0.2


def test_shadows_and_normals_on_a_synthetic_wall():
    # a north-south ridge 600 m high and 3 posts wide at 180 E, flat elsewhere, 100 m posts
    step = math.degrees(100.0 / 1737400.0)
    lon = 179.9 + (np.arange(120) + 0.5) * step
    values = np.where(np.abs(lon - 180.0) < 1.5 * step, 600.0, 0.0)[None, :].repeat(40, axis=0)
    dem = Dem.from_array(values, Affine(step, 0, 179.9, 0, -step, 40 * step / 2))
    terrain = Terrain(dem)
    # Sun in the east at 20 deg elevation: the ridge shadows ~600 / tan(20) = 1650 m west of it
    elev = math.radians(20.0)
    sun = (math.sin(elev) * lonlat_to_xyz_deg(180.0, 0.0) / 1737400.0
           + math.cos(elev) * np.array([0.0, -1.0, 0.0])) * 1.5e11
    lit = terrain.shadow_map(sun)[20]
    west = lon < 180.0 - 2 * step
    shadow_m = np.sum(lit[west] == 0) * 100.0
    assert shadow_m == pytest.approx(600.0 / math.tan(elev), abs=250.0)
    assert np.all(lit[lon > 180.0 + 2 * step] == 1) and np.all(lit[values[20] == 600.0] == 1)  # sunward side, top
    # a plane rising 10 deg to the east: its normal leans 10 deg to the west
    slope = np.tan(np.radians(10.0)) * (np.arange(120) * 100.0)
    tilted = Terrain(Dem.from_array(np.broadcast_to(slope, (40, 120)).copy(), dem.transform))
    n = tilted.normals(lonlat_to_xyz_deg(np.array([180.0]), np.array([0.0]), 500.0))[0]
    up = lonlat_to_xyz_deg(180.0, 0.0) / 1737400.0
    assert math.degrees(math.acos(float(n @ up))) == pytest.approx(10.0, abs=0.05)
    assert float(n @ np.array([0.0, -1.0, 0.0])) < 0  # east at 180 E is -y: leans west


def test_oblique_planner_hits_its_targets_at_the_planned_emission():
    plan = plan_survey(seed=4, n_strips=2, frames_per_strip=3, size=(96, 96), oblique_deg=(30.0, 45.0),
                       max_wobble_shift=0.0)
    info = plan.extras["oblique"]
    looks = set()
    for f in plan.frames:
        cam = plan.true_camera(f)
        xyz, hit = cam.image_to_ground_hit(np.array(48.0), np.array(48.0))
        assert bool(hit)
        target = lonlat_to_xyz_deg(info[f.id]["target_lon_deg"], info[f.id]["target_lat_deg"])
        assert np.linalg.norm(xyz - target) < 1.0  # metres
        _, emission, _ = cam.illumination_angles(xyz)
        assert math.degrees(float(emission)) == pytest.approx(info[f.id]["emission_deg"], abs=1e-3)
        assert 30.0 <= info[f.id]["emission_deg"] <= 45.0
        looks.add(info[f.id]["look"])
    assert looks == {"east", "west"}
    # the nadir plan is unchanged when the option is off
    nadir = plan_survey(seed=4, n_strips=2, frames_per_strip=3, size=(96, 96), max_wobble_shift=0.0)
    assert "oblique" not in nadir.extras
    assert [f.nadir_lat_deg for f in nadir.frames] == [info[f.id]["target_lat_deg"] for f in plan.frames]


def test_prepare_terrain_covers_every_frame():
    plan = plan_survey(seed=2, n_strips=1, frames_per_strip=2, size=(64, 64), oblique_deg=(40.0, 40.0))
    surf = Surface(2, plan.region_deg)
    cams = [plan.true_camera(f) for f in plan.frames]
    _, terrain = prepare_terrain(surf, ReliefParams(dem_spacing_m=300.0), cams, plan.gsd_m)
    for cam in cams:
        ll, ss = np.meshgrid([0.5, 63.5], [0.5, 63.5], indexing="ij")
        xyz, hit = terrain.intersect(*camera_rays(cam, ll, ss))
        assert hit.all()
        lon, lat = xyz_to_lonlat(xyz)
        assert np.all(np.isfinite(terrain.dem.height_m(lon, lat)))  # inside the DEM, not the sphere fallback


def test_relief_strip_preset_is_a_75_percent_nadir_strip():
    kw = survey_preset("relief_strip")
    plan = plan_survey(**{k: v for k, v in kw.items() if k not in ("relief",)})
    assert len({f.strip for f in plan.frames}) == 1 and len(plan.frames) == 8
    assert plan.overlap_along == pytest.approx(0.75, abs=0.01)
    assert "oblique" not in plan.extras and kw["relief"] is True


def test_relief_survey_is_deterministic(strip, tmp_path):
    out, _ = strip
    again = tmp_path / "again"
    simulate_survey(again, **{**STRIP, "workers": 2})  # thread count must not matter

    def digest(root):
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert digest(out) == digest(again)
