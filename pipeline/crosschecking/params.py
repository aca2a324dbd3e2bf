"""Parameters of the cross-frame check: the ``crosschecking`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from pipeline.parameters import Section

__all__ = ["CrosscheckingParams"]


class CrosscheckingParams(Section):
    """The cross-frame check after registration: cosmic-ray hits the overlaps reveal (drizzle's
    ``driz_cr``), and frames that agree with none of their overlaps."""

    enabled: bool = Field(
        True, description="after registration, check each frame against its overlapping frames: flag "
        "cosmic-ray hits they reveal (brighter than every other view of the same ground; with "
        "calibration.cosmic_rays) and reject a frame that agrees with none of them; needs registration"
    )
    sigma: float = Field(
        4.0, gt=0, description="limit: excess over the other frames' prediction, noise sigmas of the "
        "difference (the pixel must also exceed calibration.cosmic_sigma over its own 3x3 median)"
    )
    min_agreement: float = Field(
        0.2, ge=-1, le=1, description="after registration, reject a frame whose correlation with every "
        "overlapping frame (4 px block means) is below this: its pixels are not the surface its camera sees"
    )
    misregistration_px: float = Field(
        0.3, ge=0, description="registration error the check allows for (px, times the prediction's "
        "local gradient)"
    )
