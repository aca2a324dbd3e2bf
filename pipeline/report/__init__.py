"""QA report: one self-contained HTML page beside every mosaic (``OUT.report.html``).

The report takes plain data (:class:`ReportData`, :class:`FrameRow`) so it does not depend
on the internals of the other stages, and reads the mosaic GeoTIFF itself with rasterio:

* band 1 is I/F (float32); nodata is NaN, the file's nodata value or its mask;
* an optional band whose description is ``count`` holds the number of frames per pixel.

Plots are drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no
global state) and embedded as base64 PNG data URIs, so the page opens in a browser from
disk with no server and no network. The raster is read decimated (through the file's
overviews when it has them) so a report takes about a second even for large mosaics.

Map coordinates stay in the mosaic's own lunar CRS: graticule lines, footprints and tie
points go lon/lat -> x/y with pyproj from the CRS's own geodetic CRS; nothing is ever
converted to an Earth CRS. Longitudes are planetocentric, east-positive, degrees, and may
be continuous across 180 E (e.g. 175 .. 185).

Layout: :mod:`.data` (the input), :mod:`.raster` (the mosaic read decimated, on a
:class:`~pipeline.geometry.grid.MapGrid`), :mod:`.maps` (projection, graticule, coverage),
:mod:`.plots` (figures), :mod:`.markup` (HTML pieces), :mod:`.sections` (one function per
section), :mod:`.page` (the page; styles and script are the package data ``static/``).

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from pipeline.report import FrameRow, ReportData, write_report, default_report_path
>>> rows = [FrameRow(id="f001", path="raw/f001.IMG", format="PDS3", shape=(1024, 1024),
...                  exposure_s=0.02, time_utc="2024-05-01T12:00:00Z", status="used",
...                  footprint_lonlat=[(175, -5), (185, -5), (185, 5), (175, 5)])]
>>> out = Path(tempfile.mkdtemp()) / "out.tif"   # no mosaic there: the page says so
>>> data = ReportData(mosaic_path=out, frames=rows, provenance={"config": {"grid": "farside_eqc_2km"}})
>>> page = write_report(data, default_report_path(out))
>>> page.name, "Mosaic not available" in page.read_text()
('out.report.html', True)
"""

from .data import SECTION_IDS, FrameRow, ReportData, default_report_path
from .page import write_report
from .raster import MAX_PLOT_PX

__all__ = ["MAX_PLOT_PX", "SECTION_IDS", "FrameRow", "ReportData", "default_report_path", "write_report"]
