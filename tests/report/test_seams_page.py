"""The seam map, residual vectors and per-seam misregistration on the page, for a mosaic with
a top_index band and a frame misregistered by a known 3 map pixels; rendered in Chromium."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import numpy as np
import pytest

from pipeline.report import SECTION_IDS, write_report
from tests.report.helpers import (
    decode_png,
    eqc_grid,
    footprints,
    parse_html,
    png_pixels,
    report_data,
    run_chromium,
    tie_observations,
    write_mosaic,
)

PIXEL_M = 4000.0
SHIFTED = "F03"  # sees the ground 3 map px east
RED = np.array([0xE0, 0x24, 0x5E])  # the report's red (REJ_COLOUR): seams beyond the criterion


def _data(tmp, *, top_index=True, shift_px=3.0, observations=True):
    fps = footprints()
    mosaic = tmp / "seams.tif"
    written = write_mosaic(mosaic, eqc_grid(PIXEL_M), fps, with_top_index=top_index)
    data = report_data(mosaic, fps)
    for k, f in enumerate(data.frames):  # top_index holds the position in the list
        f.mosaic_index = k
    obs = tie_observations(fps, {SHIFTED: (shift_px * PIXEL_M, 0.0), "F10": (0.0, 0.5 * PIXEL_M)})
    data = dataclasses.replace(data, tie_observations=obs if observations else None, pixel_size_m=PIXEL_M)
    return data, written


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seams")
    data, (_count, top) = _data(tmp)
    out = write_report(data, tmp / "seams.report.html")
    return {"html": out, "text": out.read_text(), "top": top, "data": data}


def _section(text: str, sid: str) -> str:
    return re.search(rf'<section id="{sid}">(.*?)</section>', text, re.DOTALL).group(1)


def _imgs_alt(text: str) -> dict[str, str]:
    return {alt: src for src, alt in re.findall(r'<img src="([^"]+)" alt="([^"]+)">', text)}


def _red_share(uri: str) -> float:
    pix = png_pixels(decode_png(uri)).astype(int)
    return float((np.abs(pix - RED).max(axis=2) < 40).mean())


def test_sections_and_images(page):
    p = parse_html(page["text"])
    assert p.sections == list(SECTION_IDS)
    # the 7 of the base page + residual vectors (registration) + seam map (seams)
    assert len(p.imgs) == 9
    for uri in p.imgs:
        assert png_pixels(decode_png(uri)).std() > 5
    assert {"seam map", "residual vectors"} <= set(_imgs_alt(page["text"]))


def test_failing_frames_listed_with_their_numbers(page):
    seams = _section(page["text"], "seams")
    block = re.search(r'id="misregistered-frames"><h3>(.*?)</div>', seams, re.DOTALL).group(1)
    assert "Badly registered frames (1)" in block
    assert re.findall(r"<li><b>([^<]+)</b>", block) == [SHIFTED]
    assert "85th percentile 3.00 px (12000 m)" in block
    summary = _section(page["text"], "summary")
    assert 'badly registered (&gt; 1.5 px)</div><div class="v">1 <small>of 11</small>' in summary


def test_per_seam_rows(page):
    """Seams with F03 are 3.00 px off (12000 m) and beyond the criterion; the others are not;
    every seam of the written top_index band (frames that touch on the map) has a row with a
    length on the map."""
    seams = _section(page["text"], "seams")
    rows = {pair: cls for cls, pair in re.findall(r'<tr( class="bad")? data-seam="([^"]+)">', seams)}
    assert rows
    for pair, cls in rows.items():
        assert (cls == ' class="bad"') == (SHIFTED in pair.split("|")), pair
    row = re.search(rf'data-seam="F02\|{SHIFTED}">(.*?)</tr>', seams).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    # seam length, pairs, median, 85th, max (px), median, 85th (m)
    assert cells[2:] == ["3.00", "3.00", "3.00", "12000", "12000"]
    # the seams of the band as written (full resolution) all have a row, with a length on the map
    t = page["top"]
    ids = [f.id for f in page["data"].frames]
    pairs = set()
    for a, b in ((t[:, :-1], t[:, 1:]), (t[:-1, :], t[1:, :])):
        m = (a >= 0) & (b >= 0) & (a != b)
        pairs |= {tuple(sorted((ids[i], ids[j]))) for i, j in zip(a[m], b[m])}
    for fa, fb in pairs:
        row = re.search(rf'data-seam="{fa}\|{fb}">(.*?)</tr>', seams).group(1)
        km = float(re.findall(r'<td class="num">([^<]*)</td>', row)[0])
        assert km > 0


def test_per_frame_table(page):
    seams = _section(page["text"], "seams")
    rows = re.findall(r'<tr( class="bad")? data-misreg-frame="([^"]+)">', seams)
    assert {k for c, k in rows if c} == {SHIFTED}
    assert len(rows) == 11  # every used frame shares tie points


LEGEND_RED = 2e-4  # share of red pixels of the seam map's legend entry alone


def test_seam_map_draws_failing_seams_red(page, tmp_path):
    assert _red_share(_imgs_alt(page["text"])["seam map"]) > 5 * LEGEND_RED
    data, _ = _data(tmp_path, shift_px=0.0)
    text = write_report(data, tmp_path / "ok.html").read_text()
    assert 0 < _red_share(_imgs_alt(text)["seam map"]) < LEGEND_RED
    assert 'id="misregistered-frames">All 11 frame(s)' in text


def test_without_top_index_band(tmp_path):
    """The default bands (iof, count): no seam map, a note saying how to get one, the numbers
    all the same."""
    data, _ = _data(tmp_path, top_index=False)
    text = write_report(data, tmp_path / "r.html").read_text()
    seams = _section(text, "seams")
    assert "the mosaic has no top_index band" in seams and "extra_bands" in seams
    assert "seam map" not in _imgs_alt(text) and len(parse_html(text).imgs) == 8
    assert 'data-seam="F02|F03"' in seams and 'id="misregistered-frames"' in seams


def test_without_observations(tmp_path):
    """A seam map without tie points: every seam drawn as unmeasured, no numbers."""
    data, _ = _data(tmp_path, observations=False)
    text = write_report(data, tmp_path / "r.html").read_text()
    seams = _section(text, "seams")
    assert "Misregistration not measured: no tie-point observations were given." in seams
    assert "seam map" in _imgs_alt(text) and "residual vectors" not in _imgs_alt(text)
    assert _red_share(_imgs_alt(text)["seam map"]) < LEGEND_RED
    assert "no common tie points" in seams and 'class="bad"' not in seams


def test_nothing_to_show(tmp_path):
    data, _ = _data(tmp_path, top_index=False, observations=False)
    seams = _section(write_report(data, tmp_path / "r.html").read_text(), "seams")
    assert "Misregistration not measured: no tie-point observations were given." in seams
    assert "no top_index band" in seams


# ---------------------------------------------------------------------------------------
# In a real browser: every image loads and is laid out; the new sections are on screen
# ---------------------------------------------------------------------------------------
def _body_data(dom: str) -> dict[str, str]:
    body = re.search(r"<body[^>]*>", dom).group(0)
    return {k: html.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', body)}


def test_browser_shows_the_new_sections(page, chromium, tmp_path):
    res = run_chromium(chromium, tmp_path / "profile", "--window-size=1280,2000", "--dump-dom",
                        page["html"].as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    body = _body_data(res.stdout)
    assert body["images-loaded"] == "true" and body["image-count"] == "9" and body["images-visible"] == "9"
    boxes = json.loads(body["section-boxes"])
    assert list(boxes) == list(SECTION_IDS)
    assert boxes["seams"][1] > 800  # the seam map and both tables
    top, height = boxes["seams"]
    shot = tmp_path / "shot.png"
    res = run_chromium(chromium, tmp_path / "profile", f"--screenshot={shot}",
                        f"--window-size=1280,{top + height + 50}", page["html"].as_uri())
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    pix = png_pixels(shot.read_bytes())[top: top + height].astype(int)
    red = (np.abs(pix - RED).max(axis=2) < 40).mean()
    colourful = (pix.max(axis=2) - pix.min(axis=2) > 60).mean()
    assert red > 1e-3, "no failing seam or failing-frame list drawn in red"
    assert colourful > 0.05, "the pastel seam map is not on screen"
