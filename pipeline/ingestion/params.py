"""Parameters of the ingestion stage: the ``ingestion`` section of the configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.parameters import Section

__all__ = ["IngestionParams"]


class IngestionParams(Section):
    """Ingestion: folder scan and readers (config section ``ingestion``)."""

    recursive: bool = Field(False, description="also scan sub-folders of the frames folder")
    band: int = Field(0, ge=0, description="zero-based band kept from multi-band products")
    max_frame_bytes: int = Field(
        2 * 1024**3, gt=0, description="refuse a frame whose label declares more bytes than this"
    )
    look_direction: dict[str, Literal[1, -1]] = Field(
        default_factory=dict,
        description="per-instrument camera look direction along the instrument Z axis "
        "(+1 or -1), overriding the built-in table",
    )
    film: bool | None = Field(
        None, description="every light frame is a film scan (true: fiducials removed, no cosmic-ray repair, "
        "no saturation test) or none is (false); null: per frame, from the sidecar's film key, then "
        "film_instruments, then automatically (an 8-bit PNG/JPEG/TIFF without exposure duration)"
    )
    film_instruments: dict[str, bool] = Field(
        default_factory=dict,
        description="per-instrument film flag (FrameMeta.instrument: true or false), overriding ingestion.film "
        "and the automatic guess; a sidecar's own film key overrides it",
    )
