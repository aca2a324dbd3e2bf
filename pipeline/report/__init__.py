"""QA report: one self-contained HTML page beside every mosaic (``OUT.report.html``).

The report takes plain data (:class:`ReportData`, :class:`FrameRow`) so it does not depend
on the internals of the other stages, and reads the mosaic GeoTIFF itself with rasterio:

* band 1 is I/F (float32); nodata is NaN, the file's nodata value or its mask;
* an optional band whose description is ``count`` holds the number of frames per pixel;
* an optional band whose description is ``top_index`` holds the index of the frame each
  pixel came from (``FrameRow.mosaic_index``): the seam map is drawn from it. The default
  bands (``mosaicking.extra_bands: [count]``) have none; the page then says how to add it.

The misregistration per seam and per frame (ASP's criterion: a frame whose 85th percentile
of ground offsets against the other frames exceeds 1.5 map pixels is badly registered,
:mod:`.misregistration`) and the residual vectors come from :class:`TieObservations`, the
adjusted control network traced to the ground (``pipeline.orchestration.qa.tie_observations``).

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
:mod:`.seammap` and :mod:`.misregistration` (seams and offsets, numbers only),
:mod:`.plots` / :mod:`.plots_seams` (figures), :mod:`.markup` (HTML pieces),
:mod:`.context` (what the sections share, computed once), :mod:`.sections` (one function
per section), :mod:`.page` (the page; styles and script are the package data ``static/``).

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

from .data import SECTION_IDS, FrameRow, ReportData, ReportDataError, TieObservations, default_report_path
from .misregistration import ASP_PERCENTILE, ASP_THRESHOLD_PX, Misregistration, misregistration
from .page import write_report
from .raster import MAX_PLOT_PX

__all__ = [
    "ASP_PERCENTILE",
    "ASP_THRESHOLD_PX",
    "MAX_PLOT_PX",
    "SECTION_IDS",
    "FrameRow",
    "Misregistration",
    "ReportData",
    "ReportDataError",
    "TieObservations",
    "default_report_path",
    "misregistration",
    "write_report",
]
