"""QA report: HTML structure, embedded images, robustness, speed and a real headless-browser render."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from pipeline.geometry.grid import MapGrid
from pipeline.report import SECTION_IDS, FrameRow, ReportData, default_report_path, write_report
from tests.report.helpers import (
    REJECTED_ID,
    REJECTED_REASON,
    decode_png,
    eqc_grid,
    footprints,
    parse_html,
    png_pixels,
    report_data,
    run_chromium,
    write_mosaic,
)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    fps = footprints()
    mosaic = d / "farside.tif"
    count = write_mosaic(mosaic, eqc_grid(4000.0), fps)
    data = report_data(mosaic, fps)
    out = write_report(data, default_report_path(mosaic))
    return {"dir": d, "mosaic": mosaic, "html": out, "text": out.read_text(), "data": data, "count": count}


# ---------------------------------------------------------------------------------------
# Structure and content
# ---------------------------------------------------------------------------------------
def test_default_report_path():
    assert default_report_path(Path("/o/farside_2km.tif")) == Path("/o/farside_2km.report.html")


def test_sections_in_order(survey):
    p = parse_html(survey["text"])
    assert p.sections == list(SECTION_IDS)
    assert survey["html"] == survey["mosaic"].with_name("farside.report.html")


def test_every_image_is_decodable_png(survey):
    p = parse_html(survey["text"])
    # mosaic, coverage, residual hist, residual bars, tie network, overlap hist, gain/offset
    assert len(p.imgs) == 7
    for uri in p.imgs:
        pix = png_pixels(decode_png(uri))
        assert pix.shape[0] > 100 and pix.shape[1] > 100
        assert pix.std() > 5, "blank plot"
    assert not p.scripts_src, "report must be self-contained (no external scripts/styles)"
    assert "http://" not in survey["text"] and "https://" not in survey["text"]


def test_frame_table_rows_and_rejected_reason(survey):
    text = survey["text"]
    p = parse_html(text)
    ids = [fid for fid, _ in p.rows]
    assert ids == [f.id for f in survey["data"].frames]
    classes = dict(p.rows)
    assert classes[REJECTED_ID] == "rejected"
    assert all(c == "" for fid, c in p.rows if fid != REJECTED_ID)
    # the reason is in the table row and in the prominent rejected list (summary + frames)
    row = re.search(rf'<tr class="rejected" data-frame-id="{REJECTED_ID}">(.*?)</tr>', text).group(1)
    assert REJECTED_REASON.replace(":", ":") in row.replace("&#x27;", "'")
    assert text.count("Rejected frames (1)") == 2
    assert "kept with prior pointing" in text
    assert "incl. 1 kept with prior pointing" in text


def test_summary_numbers(survey):
    text = survey["text"]
    summary = re.search(r'<section id="summary">(.*?)</section>', text, re.DOTALL).group(1)
    assert "11 <small>of 12</small>" in summary  # frames used
    d = survey["data"]
    rms_b = np.sqrt(np.mean(d.residuals_before_px**2))
    rms_a = np.sqrt(np.mean(d.residuals_after_px**2))
    assert f"{rms_b:.3f} → {rms_a:.3f}" in summary
    count = survey["count"]
    with rasterio.open(survey["mosaic"]) as ds:
        w, h = ds.width, ds.height
    assert f"{w} × {h} px" in summary
    assert "4000 m" in summary and "Equirectangular" in summary
    # coverage stated, matching the count band to within decimation error
    pct = float(re.search(r"coverage</div><div class=\"v\">([\d.]+) %", summary).group(1))
    assert abs(pct - 100.0 * (count > 0).mean()) < 1.5
    # gaps: the rejected interior frame leaves an enclosed hole
    assert "gaps" in summary
    assert "absolute position limited by priors" in summary
    assert "<script>alert" not in text  # notes are escaped


def test_graticule_and_extent_across_180(survey):
    summary = re.search(r'<section id="summary">(.*?)</section>', survey["text"], re.DOTALL).group(1)
    # the map spans 162..198 E continuously (not -180..180); grid edges snapped outward
    assert "161.9°E – 198.1°E" in summary
    assert "15.0°S – 15.0°N" in summary


def test_provenance_and_timings(survey):
    text = survey["text"]
    prov = re.search(r'<section id="provenance">(.*?)</section>', text, re.DOTALL).group(1)
    assert "<details><summary>show configuration (YAML)</summary>" in prov
    assert "detector: sift" in prov and "blend: feather" in prov
    assert "/data/raw/f01.IMG" in prov
    assert "threads" in prov and rasterio.__version__ in prov
    assert 'id="timings"' in prov and "register" in prov and "25.10 s" in prov


def test_footprints_across_180_drawn_on_the_map(survey):
    """A footprint straddling 180 E lands in the middle of the quicklook, not at its edges."""
    from pipeline.report.maps import MapProj
    from pipeline.report.raster import read_raster

    r = read_raster(survey["mosaic"])
    proj = MapProj(r.crs_wkt, r.bounds)
    assert proj.period is not None  # equirectangular: x is periodic in longitude
    x, _ = proj.ring_xy([(178.0, -4.5), (187.0, -4.5), (187.0, 4.5), (178.0, 4.5)])
    deg = np.pi / 180.0 * 1_737_400.0
    assert np.nanmin(x) == pytest.approx(-2 * deg, rel=1e-6)
    assert np.nanmax(x) == pytest.approx(7 * deg, rel=1e-6)
    # same polygon written with wrapped longitudes gives the same ring
    x2, _ = proj.ring_xy([(178.0, -4.5), (-173.0, -4.5), (-173.0, 4.5), (178.0, 4.5)])
    assert np.nanmax(x2) - np.nanmin(x2) == pytest.approx(9 * deg, rel=1e-6)


def test_footprint_across_the_cut_of_a_crs_centred_on_0(tmp_path):
    """In an equirectangular CRS centred on 0 E (IAU_2015:30110) a frame across 180 E sits on
    both edges of a global map: it must be drawn and rasterised there, not smeared across it."""
    from pipeline.report.maps import MapProj, compute_coverage, footprint_rings
    from pipeline.report.raster import read_raster

    deg = np.pi / 180.0 * 1_737_400.0
    grid = MapGrid.from_bounds("IAU_2015:30110", (-180 * deg, -30 * deg, 180 * deg, 30 * deg), 20 * deg / 10)
    mosaic = tmp_path / "global.tif"
    rows, cols = grid.shape
    with rasterio.open(
        mosaic,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=1,
        dtype="float32",
        crs=grid.crs_wkt,
        transform=grid.transform,
        nodata=np.nan,
    ) as ds:
        ds.write(np.full(grid.shape, np.nan, np.float32), 1)
    frame = FrameRow(
        id="X",
        path="x.IMG",
        format="PDS3",
        shape=(8, 8),
        exposure_s=None,
        time_utc=None,
        status="used",
        footprint_lonlat=[(176.0, -4.0), (186.0, -4.0), (186.0, 4.0), (176.0, 4.0)],
    )
    r = read_raster(mosaic)
    proj = MapProj(r.crs_wkt, r.bounds)
    rings = footprint_rings([frame], proj)
    ((_, copies),) = rings
    assert len(copies) == 2  # the ring and its copy one period away, each half on the map
    for x, _y in copies:
        assert np.nanmax(x) - np.nanmin(x) == pytest.approx(10 * deg, rel=1e-6)
    cov = compute_coverage(r, proj, rings)
    covered_cols = np.where(cov.count.any(axis=0))[0]
    c = r.image.shape[1]
    # 176..180 E on the right edge, 180..186 E (= -180..-174) on the left edge, nothing between
    assert covered_cols.min() == 0 and covered_cols.max() == c - 1
    assert set(covered_cols) <= set(range(c // 20)) | set(range(c - c // 20, c))
    assert cov.count.max() == 1
    text = write_report(ReportData(mosaic, [frame]), tmp_path / "g.html").read_text()
    assert len(parse_html(text).imgs) == 2


def test_coverage_from_footprints_without_count_band(tmp_path):
    fps = footprints()
    mosaic = tmp_path / "nocount.tif"
    count = write_mosaic(mosaic, eqc_grid(5000.0), fps, with_count=False, nodata_nan=False)
    out = write_report(report_data(mosaic, fps), tmp_path / "r.html")
    text = out.read_text()
    assert "Computed from the footprints (used frames only)" in text
    pct = float(re.search(r"<p><b>([\d.]+) %</b> of the output grid", text).group(1))
    assert abs(pct - 100.0 * (count > 0).mean()) < 2.0
    assert "gap pixels" in text


def test_missing_pieces_render_not_run(tmp_path):
    fps = footprints()
    mosaic = tmp_path / "m.tif"
    write_mosaic(mosaic, eqc_grid(8000.0), fps)
    frames = [
        FrameRow(
            id="A", path="a.png", format="PNG", shape=(10, 10), exposure_s=None, time_utc=None, status="used"
        ),
        FrameRow(
            id="B",
            path="b.png",
            format="PNG",
            shape=(10, 10),
            exposure_s=None,
            time_utc=None,
            status="rejected",
            reason="saturated",
        ),
    ]
    data = ReportData(mosaic, frames, None, None, None, None, None, {}, {}, [])
    text = write_report(data, tmp_path / "m.report.html").read_text()
    p = parse_html(text)
    assert p.sections == list(SECTION_IDS)
    assert "Registration not run" in text and "Equalisation not run" in text
    assert "No frame footprints were given." in text and "No timings were recorded." in text
    assert len(p.imgs) == 2  # quicklook + coverage only
    for uri in p.imgs:
        decode_png(uri)


def test_unreadable_mosaic_does_not_crash(tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"not a tiff")
    data = report_data(tmp_path / "missing.tif", footprints())
    for path in (bad, tmp_path / "missing.tif"):
        data.mosaic_path = path
        text = write_report(data, tmp_path / "x.html").read_text()
        assert "Mosaic not available" in text
        assert parse_html(text).sections == list(SECTION_IDS)
        assert "tie points" in text  # lon/lat scatter still drawn


def test_orthographic_mosaic(tmp_path):
    """Azimuthal CRS: off-disk corners, graticule clipped, coverage relative to the disk."""
    grid = MapGrid.from_bounds("farside_ortho", (-1_800_000, -1_800_000, 1_800_000, 1_800_000), 20_000.0)
    fps = footprints()
    mosaic = tmp_path / "ortho.tif"
    write_mosaic(mosaic, grid, fps)
    text = write_report(report_data(mosaic, fps), tmp_path / "o.html").read_text()
    assert "(on the lunar disk)" in text
    for uri in parse_html(text).imgs:
        decode_png(uri)


def test_large_mosaic_reduced_for_plots(tmp_path):
    """20 frames on a 2000x2000 mosaic: the report reads a reduced raster (speed is in make bench)."""
    fps = footprints()
    deg = np.pi / 180.0 * 1_737_400.0
    grid = eqc_grid(60 * deg / 2000, half_lon=30.0, half_lat=30.0)
    assert min(grid.shape) >= 2000
    mosaic = tmp_path / "big.tif"
    write_mosaic(mosaic, grid, fps)
    data = report_data(mosaic, fps, n_extra=8)
    assert len(data.frames) == 20
    html = write_report(data, tmp_path / "big.report.html").read_text()
    assert html.count('data-frame-id="') >= 20


# ---------------------------------------------------------------------------------------
# A real browser: headless Chromium renders the page, loads every image, screenshots it
# ---------------------------------------------------------------------------------------
def test_browser_loads_all_images(survey, chromium, tmp_path):
    res = run_chromium(chromium, tmp_path / "profile", "--dump-dom", survey["html"].as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-images-loaded="true"' in body, body
    assert 'data-image-count="7"' in body
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in dom


def test_browser_screenshot_not_blank(survey, chromium, tmp_path):
    shot = tmp_path / "report.png"
    res = run_chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        survey["html"].as_uri(),
    )
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    keep = os.environ.get("FARSIDE_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
    pix = png_pixels(shot.read_bytes())
    assert pix.shape[:2] == (4000, 1280)
    assert pix.std() > 20, "screenshot is blank"
    # the quicklook (mostly grey mid-tones) is drawn, not only text on white
    grey = (
        (np.abs(pix.astype(int) - pix.mean(axis=2, keepdims=True)).max(axis=2) < 8)
        & (pix[..., 0] > 40)
        & (pix[..., 0] < 200)
    )
    assert grey.mean() > 0.03
