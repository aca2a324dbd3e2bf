"""STAC item (projection extension, lunar lon/lat, antimeridian, poles) and PNG quicklook."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from pipeline.geometry.grid import MapGrid
from pipeline.io.geotiff import write_cog
from pipeline.io.quicklook import quicklook_array, write_quicklook
from pipeline.io.stac import lon_extent, stac_item, write_stac_item


def test_lon_extent():
    assert lon_extent([10, 20, 15]) == (10, 20)
    assert lon_extent([178, -179, 179.5]) == (178, -179)  # across 180 E: west > east
    assert lon_extent(np.linspace(-180, 180, 1000)) == (-180, 180)


def test_stac_item_of_a_mosaic_across_180(tmp_path):
    grid = MapGrid.from_bounds("farside_eqc", (-60_000, -30_000, 60_000, 30_000), 500.0)
    arr = np.full(grid.shape, 0.12, np.float32)
    cog = write_cog(tmp_path / "m.tif", grid, {"iof": arr},
                    tags={"farside_inputs": ["/data/a.img", "/data/b.img"], "farside_version": "0.1.0"})
    write_quicklook(cog)
    path = write_stac_item(cog, datetimes=[datetime(2024, 5, 2, 3, tzinfo=UTC), "2024-05-01T00:00:00Z"])
    assert path == tmp_path / "m.stac.json"
    item = json.loads(path.read_text())
    assert item["type"] == "Feature" and item["id"] == "m" and item["stac_version"] == "1.1.0"
    assert any("projection" in e for e in item["stac_extensions"])
    p = item["properties"]
    assert p["proj:shape"] == list(grid.shape)
    assert p["proj:transform"] == [500.0, 0.0, -60_000.0, 0.0, -500.0, 30_000.0]
    assert p["proj:bbox"] == list(grid.bounds) and "PROJCRS" in p["proj:wkt2"]
    assert p["ssys:targets"] == ["Moon"] and p["farside:lonlat_crs"] == "IAU_2015:30100"
    assert p["start_datetime"] == "2024-05-01T00:00:00Z"
    assert p["datetime"] == "2024-05-01T13:30:00Z"  # the acquisition midpoint (issue 22)
    assert p["end_datetime"] == "2024-05-02T03:00:00Z"
    assert p["farside:inputs"] == ["/data/a.img", "/data/b.img"]
    west, south, east, north = item["bbox"]
    assert west > 178 and east < -178 and west > east  # crosses 180 E
    assert south == pytest.approx(-0.989, abs=0.01) and north == pytest.approx(0.989, abs=0.01)
    assert item["geometry"]["type"] == "MultiPolygon"
    assert item["assets"]["data"]["href"] == "m.tif"
    assert "cloud-optimized" in item["assets"]["data"]["type"]
    assert item["assets"]["quicklook"]["href"] == "m.png"
    assert item["links"][0]["rel"] == "self"


def test_stac_item_polar_and_orthographic(tmp_path):
    polar = MapGrid.from_bounds("north_polar", (-50_000, -50_000, 50_000, 50_000), 1000.0)
    cog = write_cog(tmp_path / "p.tif", polar, {"iof": np.ones(polar.shape, np.float32)})
    item = stac_item(cog)
    assert item["bbox"][0] == -180 and item["bbox"][2] == 180 and item["bbox"][3] == 90
    assert item["properties"]["proj:code"] == "IAU_2015:30130"
    assert item["properties"]["farside:datetime_source"] == "processing"
    # an orthographic grid bigger than the disc: off-disc corners are ignored
    ortho = MapGrid.from_bounds("farside_ortho", (-2_000_000, -2_000_000, 2_000_000, 2_000_000), 50_000.0)
    x, y = ortho.pixel_centres()
    arr = np.where(np.hypot(x, y) < 1_000_000, 0.1, np.nan).astype(np.float32)
    item = stac_item(write_cog(tmp_path / "o.tif", ortho, {"iof": arr}))
    west, south, east, north = item["bbox"]
    assert 90 < west < 180 and -180 < east < -90 and -40 < south < -30 and 30 < north < 40


def test_quicklook(tmp_path):
    grid = MapGrid.from_bounds("farside_eqc", (0, 0, 3000 * 100, 1000 * 100), 100.0)  # 1000 x 3000
    _rows, cols = np.mgrid[0:1000, 0:3000]
    arr = (cols / 3000.0).astype(np.float32)
    arr[:, :300] = np.nan
    cog = write_cog(tmp_path / "q.tif", grid, {"iof": arr})
    out = write_quicklook(cog)
    assert out == tmp_path / "q.png"
    png = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert png.shape[2] == 4 and max(png.shape[:2]) <= 1024
    alpha = png[..., 3]
    assert (alpha[:, :80] == 0).all() and (alpha[:, 120:] == 255).all()  # no data transparent
    gray = png[..., 0].astype(int)
    assert gray[alpha == 255].min() == 0 and gray[alpha == 255].max() == 255  # percentile stretch
    assert np.all(np.diff(gray[150, 120:]) >= 0)
    opaque = write_quicklook(cog, tmp_path / "black.png", transparent=False, max_px=300)
    img = cv2.imread(str(opaque), cv2.IMREAD_UNCHANGED)
    assert img.ndim == 2 and max(img.shape) <= 300 and (img[:, :20] == 0).all()
    g, v = quicklook_array(cog, max_px=100)
    assert g.dtype == np.uint8 and v.shape == g.shape and max(g.shape) <= 100
