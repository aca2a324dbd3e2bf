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

Example
-------
>>> from pipeline.report import FrameRow, ReportData, write_report, default_report_path
>>> rows = [FrameRow(id="f001", path="raw/f001.IMG", format="PDS3", shape=(1024, 1024),
...                  exposure_s=0.02, time_utc="2024-05-01T12:00:00Z", status="used",
...                  footprint_lonlat=[(175, -5), (185, -5), (185, 5), (175, 5)])]
>>> data = ReportData(mosaic_path=Path("out.tif"), frames=rows,
...                   residuals_before_px=None, residuals_after_px=None,
...                   tie_points_lonlat=None, overlap_diff_before=None, overlap_diff_after=None,
...                   provenance={"config": {"grid": "farside_eqc_2km"}}, timings_s={}, notes=[])
>>> write_report(data, default_report_path(Path("out.tif")))  # doctest: +SKIP
PosixPath('out.report.html')
"""

from .data import SECTION_IDS, FrameRow, ReportData, default_report_path
from .maps import MAX_PLOT_PX
from .page import write_report

__all__ = ["MAX_PLOT_PX", "SECTION_IDS", "FrameRow", "ReportData", "default_report_path", "write_report"]
