"""The page's section table: :class:`Section` and :data:`SECTIONS` in page order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.report.context import PageContext
from pipeline.report.data import ReportData
from pipeline.report.sections.equalisation import equalisation_section
from pipeline.report.sections.frames import frames_section
from pipeline.report.sections.overview import coverage_section, mosaic_section, summary_section
from pipeline.report.sections.photometry import photometry_section
from pipeline.report.sections.provenance import provenance_section
from pipeline.report.sections.registration import registration_section
from pipeline.report.sections.relief import relief_section
from pipeline.report.sections.seams import seams_section

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
    Section("relief", _fixed("Relief model"), relief_section),
    Section("seams", _fixed("Seams and misregistration"), seams_section),
    Section("photometry", _fixed("Photometry"), photometry_section),
    Section("equalisation", _fixed("Equalisation"), equalisation_section),
    Section("provenance", _fixed("Provenance and timings"), provenance_section),
)
"""The page's sections in order; their ids are :data:`pipeline.report.SECTION_IDS` (a test
keeps the two equal)."""
