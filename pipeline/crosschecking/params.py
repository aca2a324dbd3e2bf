"""Parameters of the cross-frame check: the ``crosschecking`` section of the configuration."""

from __future__ import annotations

from pydantic import Field

from pipeline.parameters import Section

__all__ = ["CrosscheckingParams"]


class CrosscheckingParams(Section):
    """The cross-frame cosmic-ray check after registration (drizzle's ``driz_cr``)."""

    enabled: bool = Field(
        True, description="after registration, also flag hits that overlapping frames reveal: brighter "
        "than every other view of the same ground; needs registration and calibration.cosmic_rays"
    )
    sigma: float = Field(
        4.0, gt=0, description="limit: excess over the other frames' prediction, noise sigmas of the "
        "difference (the pixel must also exceed calibration.cosmic_sigma over its own 3x3 median)"
    )
    misregistration_px: float = Field(
        0.3, ge=0, description="registration error the check allows for (px, times the prediction's "
        "local gradient)"
    )
