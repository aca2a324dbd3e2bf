"""The report package's layout: sections as functions, styles and script as package data,
the mosaic's geometry as a MapGrid."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

import numpy as np
import rasterio

from pipeline.geometry.grid import MapGrid
from pipeline.report import SECTION_IDS, FrameRow, ReportData, write_report
from pipeline.report.page import static_text
from pipeline.report.raster import MAX_PLOT_PX, read_raster
from pipeline.report.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "pipeline" / "report"


def test_sections_registry_matches_section_ids():
    assert tuple(s.id for s in SECTIONS) == SECTION_IDS


def test_static_files_are_declared_package_data():
    """A wheel / ``pip install .`` carries the styles and the script: every file under
    static/ matches a package-data glob of pipeline.report in pyproject.toml."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = cfg["tool"]["setuptools"]["package-data"]["pipeline.report"]
    files = sorted(p.relative_to(REPORT).as_posix() for p in (REPORT / "static").iterdir())
    assert {"static/report.css", "static/report.js"} <= set(files)
    for f in files:
        assert any(fnmatch.fnmatch(f, g) for g in globs), (f, globs)


def test_page_inlines_the_package_css_and_js(tmp_path):
    text = write_report(ReportData(tmp_path / "none.tif", []), tmp_path / "r.html").read_text()
    css, js = static_text("report.css"), static_text("report.js")
    assert ":root{--fg:" in css and "imagesLoaded" in js
    assert f"<style>\n{css}</style>" in text and f"<script>\n{js}</script>" in text


def test_no_long_functions_or_files_in_the_report_package():
    for path in REPORT.rglob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 500, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno + 1 <= 60, f"{path.name}:{node.name}"


def test_raster_geometry_is_a_mapgrid(tmp_path):
    """The report's raster carries the file's MapGrid and the MapGrid of its decimated view."""
    deg = np.pi / 180.0 * 1_737_400.0
    grid = MapGrid.from_bounds("farside_eqc", (-10 * deg, -6 * deg, 10 * deg, 6 * deg), 20 * deg / 2500)
    path = tmp_path / "m.tif"
    rows, cols = grid.shape
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
                       crs=grid.crs_wkt, transform=grid.transform, nodata=np.nan) as ds:
        ds.write(np.ones(grid.shape, np.float32), 1)
    r = read_raster(path)
    assert isinstance(r.grid, MapGrid) and isinstance(r.view, MapGrid)
    assert r.grid.shape == grid.shape and r.grid.transform.almost_equals(grid.transform)
    assert r.grid.crs == grid.crs
    assert max(r.view.shape) <= MAX_PLOT_PX and r.view.shape == r.image.shape
    np.testing.assert_allclose(r.view.bounds, grid.bounds, rtol=0, atol=1e-6)
    assert (r.width, r.height) == (cols, rows) and r.bounds == r.grid.bounds
    assert r.resolution == (grid.resolution, grid.resolution)


def test_frame_row_keeps_its_positional_fields():
    row = FrameRow("a", "a.img", "PDS3", (2, 2), 0.1, None, "used")
    assert (row.id, row.status, row.rejected) == ("a", "used", False)
