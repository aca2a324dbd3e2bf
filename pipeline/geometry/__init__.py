"""Geometry shared by every stage (pure numpy; no stage imports another, they meet here).

- :mod:`~pipeline.geometry.cameras`: the camera kinds behind one :class:`Camera` protocol —
  :class:`FrameCamera`, :class:`LineScanCamera`, :class:`PushFrameCamera` (usgscsm semantics);
  :func:`load_camera` picks the kind from an ISD's ``name_model``.
- :mod:`~pipeline.geometry.isd` (frame), :mod:`~pipeline.geometry.scan_isd` (line-scan and
  push-frame): ISD validation/parsing (ALE and older usgscsm layouts); ephemeris tables as
  usgscsm and ALE interpolate them (:mod:`~pipeline.geometry.ephemeris`,
  :mod:`~pipeline.geometry.ale_tables`).
- :mod:`~pipeline.geometry.footprint`: footprints of any camera; :mod:`~pipeline.geometry.overlap`:
  the overlap graph of images.
- :mod:`~pipeline.geometry.illumination`: incidence, emission, phase (one implementation).
- :mod:`~pipeline.geometry.warp`: frame -> map grid resampling (``cam2map``).
- :mod:`~pipeline.geometry.grid`: :class:`MapGrid`, the output grid; :mod:`~pipeline.geometry.dem`:
  :class:`Dem` for ray/terrain intersection.
- :mod:`~pipeline.geometry.body`, :mod:`~pipeline.geometry.rotation`,
  :mod:`~pipeline.geometry.distortion`, :mod:`~pipeline.geometry.interpolate`: the small pieces.

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
from pipeline.geometry.cameras import (
    Camera,
    CameraBase,
    FrameCamera,
    LineScanCamera,
    PushFrameCamera,
    load_camera,
)
from pipeline.geometry.dem import Dem
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.footprint import footprint_contains_pole
from pipeline.geometry.grid import MOON_GEOGRAPHIC, MOON_RADIUS_M, MapGrid, resolve_crs

__all__ = [
    "MOON_GEOGRAPHIC",
    "MOON_RADII_M",
    "MOON_RADIUS_M",
    "Camera",
    "CameraBase",
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
