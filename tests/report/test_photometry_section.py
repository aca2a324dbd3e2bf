"""The report's photometry section: the fitted law, its parameters, residuals and the incidence plot.

Truth: a fit on synthetic overlapping observations rendered with lunar-Lambert L = 0.7 (the
section must show the fitted L, the before/after residuals of the fit object and one
decodable PNG of brightness against incidence), and a run without a fit ("not run").
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from pipeline.calibration.photometric_fit import fit_photometry
from pipeline.calibration.photometric_summary import photometry_report
from pipeline.calibration.photometry import lunar_lambert
from pipeline.report import SECTION_IDS, write_report
from tests.report.helpers import (
    decode_png,
    eqc_grid,
    footprints,
    parse_html,
    png_pixels,
    report_data,
    write_mosaic,
)


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(3)
    cell = np.repeat(np.arange(600), 3)
    frame = rng.integers(0, 8, cell.size)
    inc = rng.uniform(np.radians(30), np.radians(80), cell.size)
    emi = rng.uniform(0.0, np.radians(40), cell.size)
    pha = np.clip(inc + rng.normal(0, 0.2, cell.size), np.abs(inc - emi), inc + emi)
    gains = rng.uniform(0.9, 1.1, 8)
    iof = rng.uniform(0.05, 0.2, 600)[cell] * lunar_lambert(inc, emi, pha, weight=0.7) * gains[frame]
    iof *= 1.0 + 0.003 * rng.standard_normal(iof.size)
    return fit_photometry(iof, inc, emi, pha, frame, cell, model="lunar_lambert_constant")


def _page(tmp_path, summary):
    fps = footprints()
    mosaic = tmp_path / "m.tif"
    write_mosaic(mosaic, eqc_grid(8000.0), fps)
    data = dataclasses.replace(report_data(mosaic, fps), photometry=summary)
    return write_report(data, tmp_path / "m.report.html").read_text()


def _section(text: str) -> str:
    return re.search(r'<section id="photometry".*?</section>', text, re.DOTALL).group(0)


def test_section_shows_the_fit_its_residuals_and_the_incidence_plot(tmp_path, fit):
    summary = photometry_report(fit)
    text = _page(tmp_path, summary)
    assert parse_html(text).sections == list(SECTION_IDS)
    sec = _section(text)
    value, sigma, _ = summary["parameters"]["L (constant)"]
    assert abs(value - 0.7) < 3 * sigma + 0.01  # the fit recovers the rendering L
    assert f"{value:.4f}" in sec and "L (constant)" in sec
    b, a = 100 * fit.overlap_rms_before, 100 * fit.overlap_rms_after
    assert a < b  # the fitted law and gains reduce the overlap residual
    assert f"{b:.2f} % → {a:.2f} %" in sec
    imgs = parse_html(sec).imgs
    assert len(imgs) == 1
    pix = png_pixels(decode_png(imgs[0]))
    assert pix.shape[0] > 100 and pix.shape[1] > 100 and pix.std() > 0


def test_section_without_a_fit_says_not_run(tmp_path):
    sec = _section(_page(tmp_path, None))
    assert "Photometric fit not run" in sec and "<img" not in sec
