"""COG writer: validity, tags, overviews, band layout, window-by-window writing, atomicity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from pipeline.errors import MosaicError
from pipeline.geometry.grid import MapGrid
from pipeline.io.geotiff import CogWriter, describe, write_cog


@pytest.fixture(scope="module")
def grid():
    return MapGrid.from_bounds("farside_eqc", (-60_000, -40_000, 60_000, 40_000), 200.0)  # 400 x 600


def _tile_arrays(grid, tile):
    rows, cols = np.mgrid[tile.core[0], tile.core[1]]
    iof = (0.1 + 1e-4 * rows + 1e-5 * cols).astype(np.float32)
    valid = (rows + cols) % 97 != 0
    return {"mosaic": iof, "valid": valid, "count": np.full(iof.shape, 2, np.uint16),
            "top_index": (rows // 100).astype(np.int32)}


def test_tiles_written_window_by_window_make_a_valid_cog(tmp_path, grid):
    out = tmp_path / "mosaic.tif"
    tags = {"farside_inputs": ["a.img", "b.img"], "farside_config": {"mosaic": {"blend": "feather"}},
            "farside_version": "0.1.0"}
    with CogWriter(out, grid, ["iof", "count", "top_index"], tags, blocksize=256) as w:
        for tile in grid.tiles(128):
            if tile.index == (0, 0):
                continue  # an empty tile is never written: it must read back as no data
            w.write_tile(tile.core, _tile_arrays(grid, tile))
    valid, errors, _warnings = cog_validate(str(out))
    assert valid, errors
    with rasterio.open(out) as ds:
        assert ds.count == 3 and ds.dtypes == ("float32",) * 3
        assert (ds.height, ds.width) == grid.shape and ds.transform == grid.transform
        assert math.isnan(ds.nodata)
        assert ds.descriptions == ("iof", "count", "top_index")
        assert ds.overviews(1) and ds.overviews(3)
        assert ds.compression.name == "deflate" and ds.block_shapes[0] == (256, 256)
        assert "Moon" in ds.crs.to_wkt() and "180" in ds.crs.to_wkt()
        t = ds.tags()
        assert json.loads(t["farside_inputs"]) == ["a.img", "b.img"]
        assert json.loads(t["farside_config"])["mosaic"]["blend"] == "feather"
        assert json.loads(t["farside_software"])["gdal"] == rasterio.__gdal_version__
        assert t["farside_nodata"] == "NaN" and t["farside_bands"] == "iof,count,top_index"
        assert ds.tags(1)["unit"] == "I/F"
        data = ds.read()
    for tile in grid.tiles(128):
        got = data[:, tile.core[0], tile.core[1]]
        if tile.index == (0, 0):
            assert np.isnan(got).all()
            continue
        exp = _tile_arrays(grid, tile)
        v = exp["valid"]
        assert np.array_equal(got[0][v], exp["mosaic"][v])
        assert np.isnan(got[:, ~v]).all()  # every band is NaN where the mosaic has no data
        assert (got[1][v] == 2).all() and np.array_equal(got[2][v], exp["top_index"][v])


def test_product_dicts_and_whole_arrays(tmp_path, grid):
    out = tmp_path / "p.tif"
    with CogWriter(out, grid, ["iof", "count"], overviews=False, compress="zstd") as w:
        tile = grid.tiles(200)[0]
        prod = {"core": tile.core, "bands": {"iof": np.ones((200, 200), np.float32),
                                             "count": np.ones((200, 200))}}
        w.write_tile(prod)
    with rasterio.open(out) as ds:
        assert not ds.overviews(1) and ds.compression.name == "zstd"
        assert ds.read(1)[:200, :200].min() == 1.0
    small = MapGrid.from_bounds("north_polar", (-1000, -1000, 1000, 1000), 100.0)
    path = write_cog(tmp_path / "small.tif", small, {"iof": np.zeros((20, 20), np.float32)})
    assert cog_validate(str(path))[0]
    with rasterio.open(path) as ds:
        assert ds.overviews(1)  # even a tiny mosaic has an overview level


def test_shape_and_window_errors_leave_nothing(tmp_path, grid):
    out = tmp_path / "bad.tif"
    with pytest.raises(MosaicError, match="shape"), CogWriter(out, grid, ["iof"]) as w:
        w.write_tile((slice(0, 10), slice(0, 10)), {"iof": np.zeros((10, 11), np.float32)})
    with pytest.raises(MosaicError, match="outside"), CogWriter(out, grid, ["iof"]) as w:
        w.write_tile((slice(390, 410), slice(0, 10)), {"iof": np.zeros((20, 10), np.float32)})
    with pytest.raises(MosaicError, match="band"), CogWriter(out, grid, ["iof", "count"]) as w:
        w.write_tile((slice(0, 10), slice(0, 10)), {"iof": np.zeros((10, 10), np.float32)})
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_on_any_exception(tmp_path, grid):
    out = tmp_path / "mosaic.tif"
    # a previous good file stays untouched when a later run fails midway
    write_cog(out, grid, {"iof": np.full(grid.shape, 7.0, np.float32)})
    before = out.read_bytes()

    class Boom(RuntimeError):
        pass

    with pytest.raises(Boom), CogWriter(out, grid, ["iof"]) as w:
        tile = grid.tiles(128)[0]
        w.write_tile(tile.core, {"iof": np.zeros((128, 128), np.float32)})
        raise Boom("worker died")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mosaic.tif"]
    # a fresh name: nothing at all is left
    fresh = tmp_path / "new.tif"
    with pytest.raises(KeyboardInterrupt), CogWriter(fresh, grid, ["iof"]):
        raise KeyboardInterrupt
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["mosaic.tif"]
    with pytest.raises(MosaicError, match="exists"), CogWriter(out, grid, ["iof"], overwrite=False):
        pass


def test_describe(tmp_path, grid):
    out = tmp_path / "d.tif"
    arr = np.full(grid.shape, 0.1, np.float32)
    arr[:, :100] = np.nan
    write_cog(out, grid, {"iof": arr}, tags={"farside_inputs": ["x"]})
    info = describe(out)
    assert info["cog"] is True and info["bands"] == ["iof"] and info["resolution_m"] == 200.0
    west, east = info["lon_range_deg"]
    assert west > east  # the extent crosses 180 E
    assert 0.8 < info["valid_fraction"] < 0.85
    assert info["tags"]["farside_inputs"] == '["x"]'
