"""The sections of the QA page, in page order: one function per section.

Every section is a :class:`Section`: its ``id`` (the ``<section id>``, see
:data:`pipeline.report.SECTION_IDS`), its title (a function of the data, e.g. the frame
count) and ``render(data, ctx) -> html``, a function of the report's plain data and of the
:class:`~pipeline.report.context.PageContext` computed once per page. A section with
nothing to show says so in the page ("not run"/"not available") rather than disappearing.
"""

from pipeline.report.sections.table import SECTIONS, Section

__all__ = ["SECTIONS", "Section"]
