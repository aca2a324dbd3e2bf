"""farside among the planetary tools (issue 22), end to end through the ``farside`` command.

One small simulated survey is mosaicked once with ``--write-cameras``, ``--write-network`` and
``--format cub``; the tests then read every product back with the tools users have: rasterio
and GDAL (CRS authority codes), ``gdalsrsinfo -e`` where installed, pystac, pvl, the ISIS3
driver, and farside's own readers.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.geometry import FrameCamera
from pipeline.geometry.grid import MapGrid
from pipeline.io.cnet import read_network
from pipeline.io.geotiff import write_cog
from pipeline.io.stac import stac_item

ROOT = Path(__file__).resolve().parents[1]
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """``farside mosaic`` of a 2 x 3 frame survey with every toolchain output (about 10 s)."""
    from pipeline.simulation import simulate_survey

    root = tmp_path_factory.mktemp("toolchain")
    simulate_survey(root / "frames", seed=7, n_strips=2, frames_per_strip=3, size=(96, 96), workers=1)
    out = root / "out"
    result = CliRunner().invoke(main, [
        "mosaic", str(root / "frames"), "--out", str(out / "m.tif"),
        "--calibration", str(root / "frames" / "calibration"),
        "--write-cameras", str(out / "cams"), "--write-network", str(out / "net.net"), "--format", "cub",
        "--workers", "2", "--workdir", str(root / "work"),
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result


def test_progress_lines_and_timestamps_in_a_pipe(run):
    _, result = run
    err = result.stderr
    for stage in ("frames ingested", "frames calibrated", "pairs matched", "tiles mosaicked", "mosaic written"):
        assert re.search(rf"^{STAMP} progress {stage}: (\d+)/\1 \(100%\)", err, re.MULTILINE), stage
    log_lines = [ln for ln in err.splitlines() if " INFO " in ln]
    assert log_lines and all(re.match(rf"{STAMP} INFO pipeline\.", ln) for ln in log_lines)
    assert re.search(r"wrote .*m\.tif: \d+ x \d+ px \(width x height\)", result.stdout)


def test_mosaic_crs_code_is_read_back_by_rasterio_gdal_and_stac(run):
    out, _ = run
    with rasterio.open(out / "m.tif") as ds:
        assert ds.crs.to_authority() == ("IAU_2015", "30115")
        assert ds.tags()["farside_crs_code"] == "IAU_2015:30115"
    item = json.loads((out / "m.stac.json").read_text())
    props = item["properties"]
    assert props["proj:code"] == "IAU_2015:30115"
    start, end = (datetime.fromisoformat(props[k].replace("Z", "+00:00")) for k in ("start_datetime", "end_datetime"))
    mid = datetime.fromisoformat(props["datetime"].replace("Z", "+00:00"))
    assert start < end and abs(((mid - start) - (end - mid)).total_seconds()) <= 1e-3


def test_stac_item_loads_in_pystac_and_has_the_schema_fields(run):
    """pystac's ``validate()`` needs jsonschema and fetches the JSON schemas over the network, so
    the item is loaded with pystac and the required fields are checked here instead."""
    pystac = pytest.importorskip("pystac")
    out, _ = run
    data = json.loads((out / "m.stac.json").read_text())
    item = pystac.Item.from_dict(data)
    assert item.datetime is not None and item.common_metadata.start_datetime < item.common_metadata.end_datetime
    assert item.bbox == data["bbox"] and item.geometry["type"] in ("Polygon", "MultiPolygon")
    for key in ("type", "stac_version", "id", "geometry", "bbox", "properties", "links", "assets"):
        assert key in data, key  # STAC 1.1 item core
    p = data["properties"]
    assert "https://stac-extensions.github.io/projection/v2.0.0/schema.json" in data["stac_extensions"]
    assert re.fullmatch(r"[A-Z0-9_]+:\d+", p["proj:code"])
    assert len(p["proj:shape"]) == 2 and len(p["proj:transform"]) == 6 and len(p["proj:bbox"]) == 4
    assert all(isinstance(a["href"], str) and a.get("roles") for a in data["assets"].values())


def test_gdalsrsinfo_reads_the_code(run):
    gdalsrsinfo = shutil.which("gdalsrsinfo")
    if gdalsrsinfo is None:
        pytest.skip("gdalsrsinfo not installed (apt-get install gdal-bin); rasterio's GDAL is checked above")
    out, _ = run
    printed = subprocess.run([gdalsrsinfo, "-e", str(out / "m.tif")], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    # GDAL >= 3.7 prints IAU_2015:30115; 3.6 prefixes every code with "EPSG:" (GDAL issue 7833)
    assert re.search(r"^(IAU_2015|EPSG):30115$", printed, re.MULTILINE), printed


def test_inspect_works_where_rio_info_needs_help(run):
    out, _ = run
    result = CliRunner().invoke(main, ["inspect", str(out / "m.tif"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    info = json.loads(result.output)
    west, east = info["lon_range_deg"]
    assert 170 < west < 180 and -180 < east < -170  # across 180 E
    assert re.fullmatch(r"\d+ x \d+ \(width x height\)", info["size"])
    assert info["tags"]["farside_crs_code"] == "IAU_2015:30115"


def test_adjusted_cameras_are_written_and_read_back(run):
    out, _ = run
    paths = sorted((out / "cams").glob("*.json"))
    assert len(paths) == 6
    tied = 0
    for path in paths:
        isd = json.loads(path.read_text())
        assert isd["farside"]["frame"] in ("j2000", "body_fixed")
        refs = {isd[k]["reference_frame"] for k in ("instrument_position", "instrument_pointing", "body_rotation")}
        assert len(refs) == 1 and (refs == {1}) == (isd["farside"]["frame"] == "j2000")
        assert "look_direction" not in isd["farside"]
        assert isd["instrument_position"]["unit"] == "km"
        tied += isd["_provenance"].startswith("adjusted by farside's bundle adjustment")
        cam = FrameCamera.from_file(path)
        xyz = cam.image_to_ground(np.array([48.0]), np.array([48.0]))
        assert np.isfinite(xyz).all()
    assert tied >= 2  # registration tied some frames (the others say "prior pointing")


def test_control_network_parses_with_pvl(run):
    pvl = pytest.importorskip("pvl")
    out, _ = run
    net = pvl.load(str(out / "net.net"))["ControlNetwork"]
    points = net.getall("ControlPoint")
    assert net["Version"] == 5 and len(points) > 5
    back = read_network(out / "net.net")
    assert len(back["line"]) == sum(len(p.getall("ControlMeasure")) for p in points)
    assert (back["sample"] >= 0).all() and (back["sample"] <= 96).all()
    m = points[0].getall("ControlMeasure")[0]
    assert math.isclose(m["Sample"] - 0.5, back["sample"][np.flatnonzero(back["point_id"] == back["point_id"][0])[0]])


def test_isis3_cube_beside_the_cog(run):
    out, _ = run
    with rasterio.open(out / "m.cub") as cub, rasterio.open(out / "m.tif") as cog:
        assert cub.driver == "ISIS3" and (cub.width, cub.height, cub.count) == (cog.width, cog.height, cog.count)
        a, b = cub.read(1, masked=True), cog.read(1, masked=True)
        assert (a.mask == b.mask).all() and np.array_equal(a.compressed(), b.compressed())
    label = (out / "m.cub").read_bytes()[:4096].decode("latin-1")
    assert re.search(r"ProjectionName\s+= Equirectangular", label) and re.search(r"LongitudeDomain\s+= 360", label)


def test_global_options_after_the_subcommand_and_dry_run_longitudes(tmp_path):
    sample = ROOT / "sample_images"
    if not (sample / "truth").is_dir():
        pytest.skip("sample_images/ not generated")
    result = CliRunner().invoke(main, ["mosaic", str(sample), "--out", str(tmp_path / "m.tif"), "--dry-run",
                                       "--workdir", str(tmp_path / "w"), "-q", "-v"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (lon,) = re.findall(r"lon (-?[\d.]+)\.\.(-?[\d.]+)", result.output)
    west, east = map(float, lon)
    assert 177.7 < west < 178.0 and 182.0 < east < 182.4  # the sample spans 177.8-182.2 E
    assert re.search(r"output grid: \d+ x \d+ px \(width x height\)", result.output)
    assert "(IAU_2015:30115)" in result.output
    bad = CliRunner().invoke(main, ["mosaic", str(sample), "--out", str(tmp_path / "m.tif"), "--grid", "nope",
                                    "--dry-run"])
    assert bad.exit_code == 1 and "farside_eqc_2km" in bad.output


@pytest.mark.parametrize(("preset", "code", "rasterio_reads_it"), [
    ("farside_eqc", "30115", True), ("farside_ortho", "30170", True),
    ("north_polar", "30130", False), ("south_polar", "30135", False),
])
def test_every_preset_writes_its_code(tmp_path, preset, code, rasterio_reads_it):
    """GeoTIFF keys hold only EPSG codes: GDAL re-identifies the IAU code from the keys for the
    equirectangular and orthographic presets, not for polar stereographic (GDAL reads the keys
    back with south/south axes and matches IAU_2015:30130 with confidence 25 < rasterio's 70).
    The tags and the STAC item carry the code for all four."""
    grid = MapGrid.from_bounds(preset, (-50_000, -50_000, 50_000, 50_000), 1000.0)
    cog = write_cog(tmp_path / "m.tif", grid, {"iof": np.ones(grid.shape, np.float32)})
    with rasterio.open(cog) as ds:
        assert ds.tags()["farside_crs_code"] == f"IAU_2015:{code}"
        assert (ds.crs.to_authority() == ("IAU_2015", code)) is rasterio_reads_it
        if not rasterio_reads_it:
            assert ds.crs.to_authority(confidence_threshold=25) == ("IAU_2015", code)
    assert stac_item(cog)["properties"]["proj:code"] == f"IAU_2015:{code}"
