"""Absolute control from a reference basemap GeoTIFF."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine

from pipeline.api import register
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.io.grids import read_basemap_on_grid
from pipeline.registration import adjust, match_basemap
from pipeline.registration.pairs import local_grid
from pipeline.registration.params import RegistrationParams
from tests.registration.helpers import (
    misregistration_px,
    rigid_misregistration_px,
    with_common_rotation,
    write_basemap,
)


@pytest.fixture(scope="module")
def basemap(tmp_path_factory, survey):
    return write_basemap(tmp_path_factory.mktemp("basemap") / "albedo_eqc.tif", survey)


def test_basemap_removes_the_common_offset(survey, basemap, survey_matches):
    # a 0.3 deg rotation common to all frames: invisible to tie points
    shifted = with_common_rotation(survey, np.radians([0.0, 0.2, -0.2]))
    cfg = RegistrationParams(reference_basemap=basemap)
    free = adjust(shifted.reported, survey_matches[1], RegistrationParams())
    _, common_free = misregistration_px(shifted.true, free.cameras)
    assert np.hypot(*common_free) > 0.5  # priors alone cannot find it (dense tie points see a little of it)
    result = register(shifted.frames, load_config(None, {"registration": cfg.model_dump(exclude_defaults=True)}))
    st = result.stats
    assert st.absolute_control and st.n_control_points > 200
    assert not any("limited by the pointing priors" in n for n in result.notes)
    rel, common = misregistration_px(shifted.true, result.cameras)
    assert np.hypot(*common) < 0.2
    assert np.percentile(rel, 90) < 0.2
    _rigid, _, twist = rigid_misregistration_px(shifted.true, result.cameras)
    assert abs(twist) < math.radians(0.01)
    net = result.network
    assert net.control.sum() == st.n_control_points
    assert np.all(net.point_id[net.control] < 0)


def test_match_basemap_single_frame(survey, basemap, cfg):
    frame = survey.frames[4]
    gcp = match_basemap(frame, cfg.model_copy(update={"reference_basemap": basemap}))
    assert gcp is not None and len(gcp) >= cfg.min_matches
    assert gcp.frame_id == frame.id
    # true camera: the control points' ground coordinates project onto their image positions
    line, sample = survey.true[frame.id].ground_to_image(gcp.xyz)
    err = np.hypot(line - gcp.line_sample[:, 0], sample - gcp.line_sample[:, 1])
    assert np.median(err) < 0.15


def test_basemap_in_geographic_crs(tmp_path, survey, basemap):
    # the same basemap resampled to the Moon's geographic CRS (degrees) must read identically
    cam = survey.frames[4].camera
    grid = local_grid(cam, cam)
    eqc, eqc_valid = read_basemap_on_grid(basemap, grid)
    with rasterio.open(basemap) as src:
        data = src.read(1)
        lon0 = 180.0 + src.transform.c / (1737400.0 * math.pi / 180.0)
        lat0 = src.transform.f / (1737400.0 * math.pi / 180.0)
        step = src.transform.a / (1737400.0 * math.pi / 180.0)
        if lon0 > 180:
            lon0 -= 360
    geo = tmp_path / "albedo_geo.tif"
    with rasterio.open(geo, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="float32", crs="IAU_2015:30100",
                       transform=Affine(step, 0, lon0, 0, -step, lat0)) as dst:
        dst.write(data, 1)
    g, g_valid = read_basemap_on_grid(geo, grid)
    both = eqc_valid & g_valid
    assert both.mean() > 0.9
    np.testing.assert_allclose(g[both], eqc[both], atol=1e-4)


def test_basemap_errors(tmp_path, survey, cfg):
    frame = survey.frames[0]
    with pytest.raises(ConfigError, match="no reference basemap"):
        match_basemap(frame, cfg)
    earth = tmp_path / "earth.tif"
    with rasterio.open(earth, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:4326", transform=Affine(1, 0, 10, 0, -1, 10)) as dst:
        dst.write(np.zeros((4, 4), np.float32), 1)
    with pytest.raises(ConfigError, match="not on the Moon"):
        match_basemap(frame, cfg, basemap=earth)
    with pytest.raises(ConfigError, match="cannot open"):
        match_basemap(frame, cfg, basemap=tmp_path / "missing.tif")
