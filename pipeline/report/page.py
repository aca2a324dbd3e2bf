"""The QA page: one self-contained HTML file (styles, script and images inline, no network)."""

from __future__ import annotations

import datetime as _dt
import logging
import time
from functools import cache
from importlib import resources
from pathlib import Path

from .context import build_context
from .data import ReportData
from .markup import esc

log = logging.getLogger("pipeline.report")

__all__ = ["write_report"]


@cache
def static_text(name: str) -> str:
    """A file of the package data ``pipeline/report/static/`` (``report.css``, ``report.js``)."""
    return resources.files("pipeline.report").joinpath("static", name).read_text(encoding="utf-8")


def _page(title: str, subtitle: str, nav: str, body: str, elapsed_s: float) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>\n{static_text('report.css')}</style></head><body>"
        f'<header><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}'
        f"</div></header><nav>{nav}</nav><main>{body}"
        f"<footer>farside QA report · built in {elapsed_s:.2f} s</footer></main>"
        f"<script>\n{static_text('report.js')}</script></body></html>\n"
    )


def write_report(data: ReportData, out_html: Path) -> Path:
    """Write the QA report of one mosaic run as a single self-contained HTML file.

    Parameters
    ----------
    data : ReportData
        Frames, registration and equalisation statistics, provenance and timings.
        Any of the optional pieces may be ``None``/empty: its section then says "not run".
    out_html : Path
        Where to write; by convention :func:`default_report_path` of the mosaic
        (``OUT.report.html`` beside ``OUT.tif``). Parent folders are created.

    Returns
    -------
    Path
        ``out_html``.

    Notes
    -----
    The mosaic is read decimated to at most :data:`MAX_PLOT_PX` pixels a side; an
    unreadable or missing mosaic is reported in the page rather than raised.
    """
    # deferred: the sections draw with matplotlib (~0.5 s to import); load it only when a report is written
    from .sections import SECTIONS

    t0 = time.perf_counter()
    out_html = Path(out_html)
    ctx = build_context(data)
    rendered = [(s.id, s.title(data), s.render(data, ctx)) for s in SECTIONS]
    nav = "".join(f'<a href="#{sid}">{esc(title.split(" (")[0])}</a>' for sid, title, _ in rendered)
    body = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{html}</section>'
                   for sid, title, html in rendered)
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    elapsed = time.perf_counter() - t0
    title = f"farside QA report: {Path(data.mosaic_path).name}"
    page = _page(title, f"{Path(data.mosaic_path)} · generated {now}", nav, body, elapsed)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(page, encoding="utf-8")
    log.info("report written to %s in %.2f s", out_html, elapsed)
    return out_html
