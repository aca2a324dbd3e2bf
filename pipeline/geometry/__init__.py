"""Geometry: the CSM frame camera, the Moon body, DEMs and output map grids (pure numpy).

- :mod:`~pipeline.geometry.camera`: :class:`FrameCamera` (usgscsm frame sensor semantics:
  image <-> ground, footprints, illumination angles, pointing corrections, ISD export).
- :mod:`~pipeline.geometry.linescan`, :mod:`~pipeline.geometry.pushframe`:
  :class:`LineScanCamera`, :class:`PushFrameCamera` (usgscsm line-scan / push-frame semantics);
  :func:`load_camera` (:mod:`~pipeline.geometry.loader`) picks the kind from ``name_model``.
- :mod:`~pipeline.geometry.isd`: ISD validation/parsing (ALE and older usgscsm layouts).
- :mod:`~pipeline.geometry.distortion`: optical distortion models.
- :mod:`~pipeline.geometry.body`: body-fixed xyz <-> planetocentric lon/lat, ray/ellipsoid.
- :mod:`~pipeline.geometry.dem`: :class:`Dem` for ray/terrain intersection.
- :mod:`~pipeline.geometry.grid`: :class:`MapGrid`, the output grid.
- :mod:`~pipeline.geometry.rotation`: quaternions, slerp, Lagrange interpolation.

Units: metres and radians inside; functions taking or returning degrees end in ``_deg``.
"""

from pipeline.geometry.body import (
    MOON_RADII_M,
    lonlat_to_xyz,
    lonlat_to_xyz_deg,
    wrap_lon_deg,
    xyz_to_lonlat,
    xyz_to_lonlat_deg,
)
from pipeline.geometry.camera import FrameCamera, footprint_contains_pole
from pipeline.geometry.dem import Dem
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.grid import MOON_GEOGRAPHIC, MOON_RADIUS_M, MapGrid, resolve_crs
from pipeline.geometry.linescan import LineScanCamera
from pipeline.geometry.loader import load_camera
from pipeline.geometry.pushframe import PushFrameCamera

__all__ = [
    "MOON_GEOGRAPHIC",
    "MOON_RADII_M",
    "MOON_RADIUS_M",
    "Dem",
    "Distortion",
    "FrameCamera",
    "LineScanCamera",
    "MapGrid",
    "PushFrameCamera",
    "footprint_contains_pole",
    "load_camera",
    "lonlat_to_xyz",
    "lonlat_to_xyz_deg",
    "resolve_crs",
    "wrap_lon_deg",
    "xyz_to_lonlat",
    "xyz_to_lonlat_deg",
]
