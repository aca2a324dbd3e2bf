"""The mosaic as an ISIS3 map-projected cube through GDAL's ISIS3 driver (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pipeline.errors import MosaicError
from pipeline.geometry.grid import MapGrid
from pipeline.io.cube import ISIS_NULL, write_cube
from pipeline.io.geotiff import write_cog
from pipeline.io.odl import parse_label


def _mapping(path):
    text = path.read_bytes()[:65536].decode("latin-1")
    return parse_label(text[: text.index("\nEnd\n") + 5] if "\nEnd\n" in text else text)["ISISCUBE"]


@pytest.mark.parametrize(("preset", "projection", "centre_lon"), [
    ("farside_eqc", "Equirectangular", 180.0),
    ("farside_ortho", "Orthographic", 180.0),
    ("south_polar", "PolarStereographic", 0.0),
])
def test_cube_opens_in_gdal_with_the_mapping_group(tmp_path, preset, projection, centre_lon):
    grid = MapGrid.from_bounds(preset, (-60_000, -30_000, 60_000, 30_000), 1000.0)
    rows, cols = np.mgrid[0:grid.shape[0], 0:grid.shape[1]]
    iof = (0.01 * rows + 0.001 * cols).astype(np.float32)
    iof[:5, :7] = np.nan
    cog = write_cog(tmp_path / "m.tif", grid, {"iof": iof, "count": np.ones(grid.shape, np.float32)},
                    bands=["iof", "count"])
    cube = write_cube(cog)
    assert cube == tmp_path / "m.cub"
    with rasterio.open(cube) as ds:
        assert ds.driver == "ISIS3" and ds.count == 2 and (ds.height, ds.width) == grid.shape
        assert ds.transform.almost_equals(grid.transform)
        assert ds.nodata == pytest.approx(ISIS_NULL)
        band = ds.read(1, masked=True)
    assert band.mask[:5, :7].all() and not band.mask[5:, :].any()
    np.testing.assert_array_equal(band.data[5:], iof[5:])
    mapping = _mapping(cube)["MAPPING"]
    assert mapping["TARGETNAME"].upper() == "MOON"
    assert mapping["PROJECTIONNAME"] == projection
    assert float(mapping["CENTERLONGITUDE"]) == centre_lon
    assert mapping["LONGITUDEDOMAIN"] == 360 and mapping["LONGITUDEDIRECTION"] == "PositiveEast"
    assert mapping["LATITUDETYPE"] == "Planetocentric"
    assert mapping["PIXELRESOLUTION"].value == 1000.0
    assert mapping["EQUATORIALRADIUS"].value == 1737400.0


def test_cube_options_and_errors(tmp_path):
    grid = MapGrid.from_bounds("farside_eqc", (-20_000, -10_000, 20_000, 10_000), 1000.0)
    cog = write_cog(tmp_path / "m.tif", grid, {"iof": np.ones(grid.shape, np.float32)})
    cube = write_cube(cog, tmp_path / "other.cub", longitude_domain=180)
    mapping = _mapping(cube)["MAPPING"]
    assert mapping["LONGITUDEDOMAIN"] == 180
    assert all(-180 <= float(mapping[k]) <= 180 for k in ("MINIMUMLONGITUDE", "MAXIMUMLONGITUDE"))
    with pytest.raises(MosaicError, match="exists"):
        write_cube(cog, cube)
    with pytest.raises(MosaicError, match="180 or 360"):
        write_cube(cog, tmp_path / "x.cub", longitude_domain=90)
    assert not list(tmp_path.glob(".*partial*"))
