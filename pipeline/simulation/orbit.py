"""The simulated spacecraft and camera: time origin, camera constants, nadir attitudes, the Sun.

Geometry of the camera: +Z looks down, +X along increasing samples, +Y along increasing
lines (``FrameCamera.build``); the altitude follows from the requested ground sample
distance: ``altitude = gsd * focal_length / pixel_pitch``. Angles are degrees at this edge
(arguments) and radians inside.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from pipeline.calibration.radiometry import AU_M
from pipeline.geometry import FrameCamera
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.rotation import rotvec_to_matrix

J2000_UTC = datetime(2000, 1, 1, 12, 0, 0, tzinfo=UTC)
"""Origin of the ISD ephemeris times (``center_ephemeris_time``), taken as UTC (leap
seconds ignored): ``time = J2000_UTC + timedelta(seconds=time_s)``."""

MISSION_START_UTC = datetime(2031, 3, 14, 6, 0, 0, tzinfo=UTC)
"""Time of the first simulated frame."""

SUN_RATE_DEG_PER_DAY = 360.0 / 29.530589
"""Westward drift of the sub-solar longitude on the Moon (synodic month)."""

ORBIT_SPEED_M_S = 1600.0
"""Ground speed used to space the frames of a strip in time (m/s)."""

MAX_WOBBLE_SHIFT = 0.15
"""Largest shift of a frame by the off-nadir wobble, as a fraction of the frame."""


@dataclass(frozen=True)
class CameraSpec:
    """The simulated framing camera.

    Attributes
    ----------
    focal_length_mm, pixel_pitch_mm : float
        Optics (IFOV = pitch / focal length, radians).
    radial_k : (k0, k1, k2)
        usgscsm radial distortion (mm-based; ``k1`` in mm^-2): ~1.4 px at the corners of a
        320 x 320 frame.
    name_sensor, name_platform : str
        Written into the ISDs (and ``INSTRUMENT_ID`` is ``instrument_id``).
    """

    focal_length_mm: float = 8.0
    pixel_pitch_mm: float = 0.014
    radial_k: tuple[float, float, float] = (0.0, 6.0e-4, 0.0)
    name_sensor: str = "FARSIDE_SIM_CAMERA"
    name_platform: str = "FARSIDE_SIM_ORBITER"
    instrument_id: str = "FSC"

    @property
    def ifov_rad(self) -> float:
        """Instantaneous field of view of one pixel, radians."""
        return self.pixel_pitch_mm / self.focal_length_mm

    def to_dict(self) -> dict[str, Any]:
        """The constants as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


def enu(lon_rad: float, lat_rad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local east, north and up unit vectors (body-fixed) at a longitude/latitude."""
    cl, sl = math.cos(lat_rad), math.sin(lat_rad)
    co, so = math.cos(lon_rad), math.sin(lon_rad)
    up = np.array([cl * co, cl * so, sl])
    east = np.array([-so, co, 0.0])
    north = np.array([-sl * co, -sl * so, cl])
    return east, north, up


def nadir_attitude(lon_rad: float, lat_rad: float, heading: str = "north") -> np.ndarray:
    """``cam_to_body`` of a camera looking straight down.

    ``heading="north"``: image top towards north (samples increase eastward, lines
    southward); ``"south"``: rotated by 180 deg (samples westward, lines northward).
    """
    e, n, u = enu(lon_rad, lat_rad)
    if heading == "north":
        cols = (e, -n, -u)
    elif heading == "south":
        cols = (-e, n, -u)
    else:
        raise ValueError(f"heading must be 'north' or 'south', got {heading!r}")
    return np.column_stack(cols)


def sun_position(lon_deg: float, lat_deg: float, distance_au: float = 1.0) -> np.ndarray:
    """Body-fixed Sun position (m) with the sub-solar point at ``(lon_deg, lat_deg)``."""
    _, _, u = enu(math.radians(lon_deg), math.radians(lat_deg))
    return u * distance_au * AU_M


def nadir_camera(
    lon_deg: float,
    lat_deg: float,
    *,
    lines: int = 64,
    samples: int = 64,
    gsd_m: float = 180.0,
    heading: str = "north",
    rotvec_rad=(0.0, 0.0, 0.0),
    sun_incidence_deg: float = 45.0,
    sun_azimuth_deg: float = 90.0,
    spec: CameraSpec | None = None,
    time_s: float = 0.0,
) -> FrameCamera:
    """A quick synthetic camera over ``(lon_deg, lat_deg)`` for tests and examples.

    Parameters
    ----------
    lon_deg, lat_deg : float
        Ground point under the spacecraft, degrees.
    lines, samples : int
        Image size.
    gsd_m : float
        Nadir ground sample distance, metres (sets the altitude).
    heading : {"north", "south"}
        Image orientation (see :func:`nadir_attitude`).
    rotvec_rad : (3,)
        Extra rotation in the camera frame (off-nadir pointing), radians.
    sun_incidence_deg, sun_azimuth_deg : float
        Sun direction at the nadir point: incidence from the vertical and azimuth
        clockwise from north (90: Sun in the east, i.e. morning).
    spec : CameraSpec, optional
    time_s : float
        Ephemeris time (seconds after J2000).

    Examples
    --------
    >>> cam = nadir_camera(180.0, 0.0)
    >>> round(cam.gsd_m())
    180
    """
    spec = spec or CameraSpec()
    lon, lat = math.radians(lon_deg), math.radians(lat_deg)
    altitude = gsd_m / spec.ifov_rad
    e, n, u = enu(lon, lat)
    inc, az = math.radians(sun_incidence_deg), math.radians(sun_azimuth_deg)
    sun_dir = math.cos(inc) * u + math.sin(inc) * (math.sin(az) * e + math.cos(az) * n)
    rot = nadir_attitude(lon, lat, heading) @ rotvec_to_matrix(np.asarray(rotvec_rad, float))
    return FrameCamera.build(
        lines=lines,
        samples=samples,
        focal_length_mm=spec.focal_length_mm,
        pixel_pitch_mm=spec.pixel_pitch_mm,
        position_m=(MOON_RADIUS_M + altitude) * u,
        cam_to_body=rot,
        radial_k=spec.radial_k,
        sun_position_m=sun_dir * AU_M,
        time_s=time_s,
        name_sensor=spec.name_sensor,
        name_platform=spec.name_platform,
    )


def _format_time(time_s: float) -> str:
    t = J2000_UTC + timedelta(seconds=time_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


__all__ = [
    "J2000_UTC",
    "MAX_WOBBLE_SHIFT",
    "MISSION_START_UTC",
    "ORBIT_SPEED_M_S",
    "SUN_RATE_DEG_PER_DAY",
    "CameraSpec",
    "enu",
    "nadir_attitude",
    "nadir_camera",
    "sun_position",
]
