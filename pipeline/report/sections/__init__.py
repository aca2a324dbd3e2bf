"""The sections of the QA page, in page order: one function per section.

Every section is a :class:`Section`: its ``id`` (the ``<section id>``, see
:data:`pipeline.report.SECTION_IDS`), its title (a function of the data, e.g. the frame
count) and ``render(data, ctx) -> html``, a function of the report's plain data and of the
:class:`~pipeline.report.context.PageContext` computed once per page. A section with
nothing to show says so in the page ("not run"/"not available") rather than disappearing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..context import PageContext
from ..data import ReportData
from .equalisation import equalisation_section
from .frames import frames_section
from .overview import coverage_section, mosaic_section, summary_section
from .provenance import provenance_section
from .registration import registration_section
from .seams import seams_section

__all__ = ["SECTIONS", "Section"]


@dataclass(frozen=True)
class Section:
    """One ``<section>`` of the page."""

    id: str
    title: Callable[[ReportData], str]
    render: Callable[[ReportData, PageContext], str]


def _fixed(text: str) -> Callable[[ReportData], str]:
    return lambda _data: text


SECTIONS: tuple[Section, ...] = (
    Section("summary", _fixed("Summary"), summary_section),
    Section("mosaic", _fixed("Mosaic"), mosaic_section),
    Section("coverage", _fixed("Coverage"), coverage_section),
    Section("frames", lambda data: f"Frames ({len(data.frames)})", frames_section),
    Section("registration", _fixed("Registration"), registration_section),
    Section("seams", _fixed("Seams and misregistration"), seams_section),
    Section("equalisation", _fixed("Equalisation"), equalisation_section),
    Section("provenance", _fixed("Provenance and timings"), provenance_section),
)
"""The page's sections in order; their ids are :data:`pipeline.report.SECTION_IDS` (a test
keeps the two equal)."""
