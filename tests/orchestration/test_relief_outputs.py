"""The relief model in a run: its graph task, its cached product, OUT.relief.tif in the output
set, the summary's and the report's lines about it and about the adjustment's convergence."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio

from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.relief import ReliefModel, relief_model
from pipeline.io.reliefmap import RELIEF_BANDS, default_relief_path, read_relief, write_relief
from pipeline.orchestration import build_graph, plan, run
from pipeline.orchestration.codecs import dumps, loads
from pipeline.orchestration.outputs import OutputSet
from pipeline.orchestration.runlines import adjustment_lines
from pipeline.registration import adjust
from pipeline.registration.params import RegistrationParams
from tests.conftest import small_config
from tests.registration.network_helpers import relief_m, strip_network


def _model() -> ReliefModel:
    grid = MapGrid.from_bounds("farside_eqc", (-10e3, -10e3, 10e3, 10e3), 500.0)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-9e3, 9e3, (2, 300))
    lon, lat = (np.radians(v) for v in grid.xy_to_lonlat(x, y))
    return relief_model(lon, lat, 300.0 * np.sin(x / 4e3), 15.0, grid, post_m=1000.0)


def test_relief_model_round_trips_through_the_work_directory_and_its_geotiff(tmp_path):
    model = dataclasses.replace(_model(), level_sigma_m=123.5)
    back = loads(dumps(model))
    np.testing.assert_array_equal(back.heights_m, model.heights_m)
    np.testing.assert_array_equal(back.points, model.points)
    assert back.summary() == model.summary() and back.transform == model.transform
    path = write_relief(tmp_path / "m.relief.tif", model)
    with rasterio.open(path) as ds:
        assert ds.descriptions == RELIEF_BANDS and ds.count == 2
        assert ds.tags(1)["unit"] == "m"
    again = read_relief(path)
    np.testing.assert_allclose(again.heights_m, model.heights_m, atol=1e-3)  # float32 on disk
    assert again.summary()["points"] == model.n_points and again.points.sum() == model.n_points
    assert again.level_sigma_m == 123.5
    dem = Dem.from_file(path)  # and it is a DEM any step can take
    lon, lat = (np.radians(v) for v in model.grid.lonlat())
    np.testing.assert_allclose(dem.height_m(lon, lat), model.heights_m, atol=1e-3)


def test_the_output_set_lists_the_relief_model():
    s = OutputSet.for_run(Path("out/m.tif"), quicklook=True, stac=True, report=True, request="r", relief=True)
    assert [p.name for p in s.products.values()] == ["m.tif", "m.png", "m.stac.json", "m.relief.tif",
                                                     "m.report.html"]


def _flat_dem(tmp_path) -> str:
    """A DEM GeoTIFF 250 m above the datum over 170-190 E, 10 S-10 N."""
    flat = tmp_path / "flat.tif"
    grid = MapGrid.from_bounds("IAU_2015:30100", (170.0, -10.0, 190.0, 10.0), 0.5)
    with rasterio.open(flat, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1,
                       dtype="float32", crs="IAU_2015:30100", transform=grid.transform) as ds:
        ds.write(np.full((1, *grid.shape), 250.0, np.float32))
    return str(flat)


@pytest.mark.parametrize(("mosaicking", "has_relief"), [({"relief": "model"}, True), ({}, True),
                                                         ({"relief": "sphere"}, False),
                                                         ({"relief": "model", "dem": "DEM"}, False)])
def test_the_graph_has_a_relief_task_only_without_a_dem(survey, tmp_path, mosaicking, has_relief):
    if mosaicking.get("dem") == "DEM":
        mosaicking = {"relief": "model", "dem": _flat_dem(tmp_path)}
    cfg = small_config(tmp_path, mosaicking=mosaicking)
    g = build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=cfg))
    stages = [stage for stage, _ in g.products]
    assert ("relief" in stages) is has_relief
    keys = [str(k) for k in g.result.dask]
    assert any(k.startswith("relief-") for k in keys) is has_relief


@pytest.mark.parametrize(("registration", "passes", "shaded"), [({}, 5, True), ({"relief_shading": False}, 5, False),
                                                             ({"dem_passes": 1}, 1, True),
                                                             ({"dem_passes": 1, "relief_shading": False}, 1, False)])
def test_matching_through_a_dem_runs_its_passes_on_shaded_frames(survey, tmp_path, registration, passes, shaded):
    """Through a DEM every pass matches every pair again, on frames carrying the previous
    pass's cameras (and, with relief_shading, divided by the shading those cameras predict:
    cached ``shade-`` tasks; without it, uncached ``guide-`` tasks); without a DEM one pass on
    the calibrated frames."""
    cfg = small_config(tmp_path, mosaicking={"dem": _flat_dem(tmp_path)}, registration=registration)
    keys = [str(k) for k in build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration",
                                             config=cfg)).result.dask]
    plain = [str(k) for k in build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration",
                                              config=small_config(tmp_path))).result.dask]
    n_pairs = sum(k.startswith("match-") for k in plain)
    assert n_pairs > 0 and not any(k.startswith("shade-") for k in plain)
    assert sum(k.startswith("match-") for k in keys) == passes * n_pairs
    assert sum(k.startswith("adjust-") for k in keys) == passes
    assert sum(k.startswith("shade-") for k in keys) == (6 * passes if shaded else 0)
    # without shading, later passes only swap the cameras in: no cached copy of every frame
    assert sum(k.startswith("guide-") for k in keys) == (0 if shaded else 6 * (passes - 1))
    off = small_config(tmp_path, mosaicking={"dem": _flat_dem(tmp_path)}, registration={"enabled": False})
    keys = [str(k) for k in build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration",
                                             config=off)).result.dask]
    assert sum(k.startswith("adjust-") for k in keys) == 1 and not any(k.startswith(("match-", "shade-"))
                                                                       for k in keys)


@pytest.mark.slow
def test_a_run_writes_the_relief_model_with_the_rest_of_its_outputs(survey, tmp_path):
    out = tmp_path / "m.tif"
    cfg = small_config(tmp_path, registration={"points": "free"}, mosaicking={"relief": "model"})
    result = run(survey, out, calibration=survey / "calibration", config=cfg)
    relief_path = default_relief_path(out)
    assert relief_path.exists() and result.product["side_files"]["relief"] == str(relief_path)
    assert not list(tmp_path.glob(".m.tif.farside-tmp*"))  # staged and renamed with the rest
    model = read_relief(relief_path)
    reg = result.registration
    assert model.n_points > 0.9 * reg.stats.n_tracks and model.dense_fraction > 0.3
    # the file carries the adjustment's level sigma: every height may be off together by that much
    assert model.level_sigma_m == pytest.approx(reg.level_sigma_m) and model.level_sigma_m > 100.0
    # the survey's world is flat: the free points' network bends a little in this weak nadir
    # geometry (measured: scatter 12 m, dense heights spanning 494 m; 3 km relief would be far more)
    assert model.scatter_m < 30.0 and np.ptp(model.heights_m[model.dense]) < 600.0
    text = result.summary()
    assert "adjustment: converged in" in text and "camera motion: rotation up to" in text
    assert f"relief model: {model.n_points} tie points" in text and "(common level to" in text
    # free points forced on a flat world: only the priors fix their level (measured 1360 m at 1 sigma;
    # the model's heights came out 856-1350 m below the sphere), and the summary says so
    warnings = [line for line in text.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "common level is known only to" in warnings[0], warnings
    html = result.report.read_text()
    assert 'id="relief"' in html and f"built from <b>{model.n_points}</b>" in html
    assert 'id="convergence"' in html and 'id="camera-motion"' in html and "common level is known to" in html
    # a rerun reuses the cached relief model and writes the same file
    again = run(survey, out, calibration=survey / "calibration", config=cfg, report=False, overwrite=True)
    assert again.reused.get("relief") == 1
    np.testing.assert_array_equal(read_relief(relief_path).heights_m, model.heights_m)


def test_an_adjustment_that_did_not_converge_says_so_in_the_summary():
    net = strip_network(relief=relief_m)
    cut = adjust(net.reported, net.matches, RegistrationParams(pointing_sigma_deg=0.1, max_nfev=1))
    lines = adjustment_lines(cut)
    assert lines[0].startswith("adjustment: did NOT converge in") and "max_nfev" in lines[0]
    assert any(line.startswith("WARNING: the bundle adjustment did not converge") for line in lines)
    wild = strip_network(error_deg=0.5, seed=3)
    drift = adjust(wild.reported, wild.matches, RegistrationParams(pointing_sigma_deg=0.1, points="surface"))
    assert any(line.startswith("WARNING: network drift") for line in adjustment_lines(drift))
    ok = adjust(net.reported, net.matches, RegistrationParams(pointing_sigma_deg=0.1))
    # converged, no drift: the one warning is the level's, which only the 0.1 deg pointing priors
    # fix in this nadir block (measured 200 m at 1 sigma, 1.5 px between views at 20 m GSD)
    warnings = [line for line in adjustment_lines(ok) if "WARNING" in line]
    assert len(warnings) == 1 and "common level is known only to 200 m" in warnings[0], warnings
    assert math.isfinite(ok.convergence.final_cost)


def test_the_relief_model_serves_as_a_dem_where_the_steps_take_one():
    from pipeline.orchestration.steps import terrain

    model = _model()
    assert terrain(None, model) is model.dem and terrain(None, None) is None
