"""The relief step: after the adjustment, the relief model the frames are orthorectified through.

Without ``mosaicking.dem`` and with ``mosaicking.relief: auto`` (the default) or ``model``, one task
(:func:`relief_step`) turns the adjusted free 3-D tie points into a
:class:`~pipeline.geometry.relief.ReliefModel`; the photometric fit, the cross-frame check
and every mosaic tile then use its heights (:func:`pipeline.orchestration.steps.terrain`),
and the writer puts it beside the mosaic as ``OUT.relief.tif``. A given ``mosaicking.dem``
wins; ``relief: sphere`` keeps the reference sphere.
"""

from __future__ import annotations

import dataclasses
import logging

from pipeline.geometry.grid import MapGrid
from pipeline.geometry.relief import ReliefModel, relief_model
from pipeline.mosaicking.params import MosaickingParams
from pipeline.orchestration.steps import load_dem
from pipeline.registration.points3d import tie_point_heights

log = logging.getLogger(__name__)

__all__ = ["relief_active", "relief_step"]


def relief_active(mosaicking: MosaickingParams, registration_enabled: bool) -> bool:
    """Whether the run builds a relief model: ``relief: model`` or ``auto``, no ``dem``
    given, and a registration to take the tie points from."""
    return mosaicking.relief != "sphere" and mosaicking.dem is None and registration_enabled


def relief_step(registration, grid: MapGrid, params: MosaickingParams) -> ReliefModel:
    """The relief model of the adjusted tie points over ``grid``
    (:func:`~pipeline.geometry.relief.relief_model` with the ``mosaicking.relief_*`` settings).

    Points the adjustment held on the reference surface (``registration.points: surface``,
    or what ``auto`` chose where it found no relief) carry no relief: the model is then the
    base surface alone (with a warning for ``relief: model``), and over the sphere the
    frames are orthorectified onto the sphere itself (``ReliefModel.is_sphere``). The model
    carries the adjustment's level sigma (``ReliefModel.level_sigma_m``).
    """
    free = registration.points == "free"
    points = tie_point_heights(registration, free=free)
    if not free and params.relief == "model":
        log.warning("mosaicking.relief: model needs free tie points (registration.points: free or auto over "
                    "relief); these are surface-bound and carry no relief: the relief model is the base surface alone")
    base = load_dem(str(params.relief_base)) if params.relief_base else None
    model = relief_model(points.lon_rad, points.lat_rad, points.height_m, points.sigma_m, grid,
                        post_m=params.relief_post_m, slope_change_deg=params.relief_slope_change_deg,
                        prior_sigma_m=params.relief_prior_sigma_m, base=base, datum_radius_m=points.datum_radius_m,
                        min_points=params.relief_min_points)
    return dataclasses.replace(model, level_sigma_m=registration.level_sigma_m)

