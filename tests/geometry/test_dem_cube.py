"""A DEM given as an ISIS cube: the real global lunar DEM (GLD100 + LOLA, reduced) of
``../shared/reference/isis3``, read through GDAL by :meth:`Dem.from_file` and checked against
the cube read independently (its PVL label with ``pvl``, its pixels with numpy), then used to
orthorectify a frame over the far side."""

from __future__ import annotations

import math

import numpy as np
import pvl
import pytest
from affine import Affine

from pipeline.geometry.body import lonlat_to_xyz
from pipeline.geometry.dem import Dem
from pipeline.geometry.demread import isis_special
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.warp import orthorectify
from tests.geometry.helpers import REFERENCE, make_camera, require

GLD100 = REFERENCE / "isis3" / "WAC_GLD100_V1.0_GLOBAL_with_LOLA_30M_POLE.16bit.reduced.cub"
_TYPES = {"SignedWord": "<i2", "UnsignedByte": "u1", "UnsignedWord": "<u2", "Real": "<f4"}


@pytest.fixture(scope="module")
def cube():
    """The cube read without GDAL: label (pvl), raw DNs (numpy, tile layout), radii."""
    path = require(GLD100)
    raw = path.read_bytes()
    label = pvl.loads(raw[: raw.index(b"\nEnd\n") + 5].decode("latin-1"))
    core = label["IsisCube"]["Core"]
    dims, pixels = core["Dimensions"], core["Pixels"]
    samples, lines = int(dims["Samples"]), int(dims["Lines"])
    assert pixels["ByteOrder"] == "Lsb" and core["Format"] == "Tile" and int(dims["Bands"]) == 1
    ts, tl = int(core["TileSamples"]), int(core["TileLines"])
    nts, ntl = math.ceil(samples / ts), math.ceil(lines / tl)
    dn = np.frombuffer(raw, _TYPES[pixels["Type"]], count=nts * ntl * ts * tl, offset=int(core["StartByte"]) - 1)
    dn = dn.reshape(ntl, nts, tl, ts).transpose(0, 2, 1, 3).reshape(ntl * tl, nts * ts)[:lines, :samples]
    mapping = label["IsisCube"]["Mapping"]
    radius = float(pixels["Base"]) + float(pixels["Multiplier"]) * dn.astype(float)
    return {"dn": dn, "radius": radius, "mapping": mapping, "path": path}


def _independent_radius(cube, lon_deg, lat_deg):
    """Bilinear radius between the cube's pixel centres at lon (0..360 E) / lat, degrees:
    equirectangular on the sphere, x = R lon, y = R lat (centre longitude 0)."""
    m = cube["mapping"]
    r_eq = float(m["EquatorialRadius"].value)
    res = float(m["PixelResolution"].value)
    x0, y0 = float(m["UpperLeftCornerX"].value), float(m["UpperLeftCornerY"].value)
    col = (r_eq * np.radians(np.mod(lon_deg, 360.0)) - x0) / res - 0.5
    row = (y0 - r_eq * np.radians(lat_deg)) / res - 0.5
    c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
    fc, fr = col - c0, row - r0
    z = cube["radius"]
    return ((1 - fr) * (1 - fc) * z[r0, c0] + (1 - fr) * fc * z[r0, c0 + 1]
            + fr * (1 - fc) * z[r0 + 1, c0] + fr * fc * z[r0 + 1, c0 + 1])


def test_isis_cube_dem_reads_as_its_label_says(cube):
    dem = Dem.from_file(cube["path"])
    assert cube["mapping"]["ProjectionName"] == "Equirectangular"
    assert dem.datum_radius_m == 1737400.0 and dem.values.shape == cube["dn"].shape
    assert not isis_special(cube["dn"]).any()  # the reduced cube has no special pixels
    # Base + Multiplier * DN, given back as heights above the 1737.4 km sphere, exactly
    np.testing.assert_array_equal(dem.values + dem.datum_radius_m, cube["radius"])
    assert -9000.0 < np.nanmin(dem.values) < -8000.0 and 9500.0 < np.nanmax(dem.values) < 10500.0
    # the map spans 0..360 E: far-side longitudes given as -180..180 answer too
    lon = np.array([150.0, 179.0, 181.0, 200.0, 250.0, 10.0])
    lat = np.array([10.0, -5.0, 5.0, 10.0, -40.0, 60.0])
    got = dem.radius_m(np.radians(np.where(lon > 180.0, lon - 360.0, lon)), np.radians(lat))
    np.testing.assert_allclose(got, _independent_radius(cube, lon, lat), atol=1e-6)


def test_isis_special_pixels_become_nodata(tmp_path):
    import rasterio

    path = tmp_path / "specials.cub"
    dn = np.arange(-32768, -32768 + 64, dtype=np.int16).reshape(8, 8)
    dn[4:] = 100
    profile = {"driver": "ISIS3", "width": 8, "height": 8, "count": 1, "dtype": "int16",
               "crs": "IAU_2015:30100", "transform": Affine(0.1, 0, 180.0, 0, -0.1, 0.4)}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(dn, 1)
    dem = Dem.from_file(path, is_radius=False)
    assert np.isnan(dem.values.ravel()[:5]).all()  # NULL, LRS, LIS, HIS, HRS (-32768 .. -32764)
    assert np.isfinite(dem.values.ravel()[5:32]).all() and (dem.values[4:] == 100.0).all()


def test_orthorectify_a_far_side_frame_through_the_isis_dem(cube):
    """A frame at 1 km/pixel over 200 E, 10 N, whose pixels hold their own line (sample)
    coordinate: orthorectified through the cube, every map pixel shows the image point of the
    map pixel's ground at the DEM's height, as read independently."""
    dem = Dem.from_file(cube["path"])
    cam = make_camera(lon_deg=200.0, lat_deg=10.0, altitude_m=100e3, lines=64, samples=64, focal_mm=1.0,
                      pitch_mm=0.01)
    grid = MapGrid.from_bounds("farside_eqc", (560e3, 250e3, 650e3, 340e3), 1500.0)
    ll, ss = np.meshgrid(np.arange(64) + 0.5, np.arange(64) + 0.5, indexing="ij")
    lines, valid = orthorectify(ll.astype(np.float32), None, cam, grid, dem=dem)
    samples, valid_s = orthorectify(ss.astype(np.float32), None, cam, grid, dem=dem)
    inner = valid & valid_s
    assert inner.mean() > 0.3
    lon, lat = grid.lonlat()
    radius = _independent_radius(cube, lon, lat)
    assert np.ptp(radius[inner]) > 500.0  # the frame sees half a kilometre of relief or more
    xyz = lonlat_to_xyz(np.radians(lon), np.radians(lat), radius - 1737400.0)
    el, es = cam.ground_to_image(xyz)
    np.testing.assert_allclose(lines[inner], el[inner], atol=2e-3)
    np.testing.assert_allclose(samples[inner], es[inner], atol=2e-3)
    # onto the sphere the same map pixels would show other image points (the relief matters)
    flat, flat_ok = orthorectify(ll.astype(np.float32), None, cam, grid)
    both = inner & flat_ok
    assert np.percentile(np.abs(flat[both] - lines[both]), 90) > 0.3
