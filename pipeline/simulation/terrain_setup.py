"""Relief for a planned survey: the truth DEM covering every frame, ready to render through."""

from __future__ import annotations

import math

import numpy as np

from pipeline.geometry.body import xyz_to_lonlat_deg
from pipeline.simulation.relief import Relief, ReliefParams
from pipeline.simulation.terrain import Terrain

MARGIN_M = 3000.0
"""Extra DEM border beyond the frames' footprints, metres."""


def dem_bounds(cameras, params: ReliefParams, lon_centre_deg: float, radius_m: float) -> tuple[float, float, float,
                                                                                                 float]:
    """Lon/lat box (degrees, longitudes continuous around ``lon_centre_deg``) holding every
    camera's footprint at the lowest and highest possible relief, plus :data:`MARGIN_M`."""
    reach = params.basin_depth_m + params.basin_rim_m + 2000.0
    lons, lats = [], []
    for cam in cameras:
        for h in (-reach, reach):
            xyz, _ = cam.footprint_xyz(16, height=h)
            lon, lat = xyz_to_lonlat_deg(xyz)
            lons.append(lon_centre_deg + ((lon - lon_centre_deg + 180.0) % 360.0 - 180.0))
            lats.append(lat)
    lon = np.concatenate(lons)
    lat = np.concatenate(lats)
    m_deg = math.degrees(MARGIN_M / radius_m)
    coslat = max(math.cos(math.radians(float(np.max(np.abs(lat))) + m_deg)), 0.05)
    return (float(lon.min()) - m_deg / coslat, float(lon.max()) + m_deg / coslat,
            float(lat.min()) - m_deg, float(lat.max()) + m_deg)


def prepare_terrain(surface, params: ReliefParams, cameras, gsd_m: float) -> tuple[Relief, Terrain]:
    """Sample the relief of ``surface`` into a truth DEM covering ``cameras``.

    Parameters
    ----------
    surface : Surface
    params : ReliefParams
    cameras : iterable of FrameCamera
        The true cameras (their footprints set the DEM's extent).
    gsd_m : float
        The survey's ground sample distance; the DEM post spacing is
        ``params.dem_spacing_m`` or half of it.

    Returns
    -------
    relief : Relief
        The analytic field.
    terrain : Terrain
        The truth DEM, ready to render through.
    """
    relief = Relief(surface, params)
    lon0, lon1 = surface.params.region_deg[:2]
    bounds = dem_bounds(list(cameras), params, 0.5 * (lon0 + lon1), surface.params.radius_m)
    spacing = params.dem_spacing_m or 0.5 * gsd_m
    return relief, Terrain(relief.sample(bounds, spacing))


__all__ = ["MARGIN_M", "dem_bounds", "prepare_terrain"]
