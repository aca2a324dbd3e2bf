"""Oblique views for the survey planner: the same ground targets, seen at 30-45 deg emission.

:func:`tilt_frames` takes planned nadir frames and, strip by strip, moves the spacecraft
across track and rolls the camera so that the boresight still meets the sphere at the
frame's planned ground point, at an emission angle ``e`` drawn per strip from a range.
On the sphere (radius ``R``, altitude ``h``) the off-nadir angle is ``eta = asin(R sin e /
(R + h))`` and the spacecraft's nadir point lies ``phi = e - eta`` (central angle) from the
target, on the side opposite to the look direction. The roll is the exact rotation
taking the camera's +Z onto the direction to the target (so the frame centre hits it),
applied before the frame's wobble; the result is stored as the frame's ``wobble_deg``
rotation vector, so ``SurveyPlan.true_camera`` needs no change.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pipeline.errors import ConfigError
from pipeline.geometry.body import lonlat_to_xyz_deg, xyz_to_lonlat_deg
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.rotation import matrix_to_quat, rotvec_to_matrix
from pipeline.simulation.orbit import nadir_attitude

SIDES = ("east", "west", "alternate")


def matrix_to_rotvec(m: np.ndarray) -> np.ndarray:
    """Rotation vector (axis * angle, radians) of a rotation matrix (angle in [0, pi])."""
    w, x, y, z = matrix_to_quat(m)
    v = np.array([x, y, z])
    s = float(np.linalg.norm(v))
    if s < 1e-15:
        return 2.0 * v  # first order
    return v / s * 2.0 * math.atan2(s, w)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` onto unit vector ``b``, as a rotation vector."""
    axis = np.cross(a, b)
    s = float(np.linalg.norm(axis))
    angle = math.atan2(s, float(np.dot(a, b)))
    return np.zeros(3) if s < 1e-15 else axis / s * angle


def tilt_frames(frames, *, emission_deg: tuple[float, float], side: str, seed: int,
                radius_m: float = MOON_RADIUS_M) -> tuple[list, dict[str, dict[str, float | str]]]:
    """Turn planned nadir frames into oblique ones (see the module docstring).

    Parameters
    ----------
    frames : list of FramePlan
        Nadir frames from the planner (their ``nadir_lon_deg``/``nadir_lat_deg`` become the
        ground targets).
    emission_deg : (min, max)
        Emission at the target, degrees, drawn uniformly once per strip (0 <= min <= max < 80).
    side : {"east", "west", "alternate"}
        Look direction at the target: towards the east, the west, or alternating by strip
        (even strips east).
    seed : int
        Seed of the per-strip emissions.

    Returns
    -------
    frames : list of FramePlan
        With the spacecraft moved (``nadir_lon_deg``, ``nadir_lat_deg``) and the roll folded
        into ``wobble_deg``.
    info : dict of str to dict
        Per frame id: ``target_lon_deg``, ``target_lat_deg``, ``emission_deg`` (planned, on
        the sphere), ``off_nadir_deg`` and ``look`` (``east``/``west``).

    Raises
    ------
    ConfigError
        A bad range or side.
    """
    lo, hi = (float(v) for v in emission_deg)
    if not 0.0 <= lo <= hi < 80.0:
        raise ConfigError(f"oblique emission range must satisfy 0 <= min <= max < 80 deg, got {emission_deg}")
    if side not in SIDES:
        raise ConfigError(f"oblique side must be one of {SIDES}, got {side!r}")
    rng = np.random.default_rng([int(seed), 0x0B119E])
    strips = sorted({f.strip for f in frames})
    strip_e = {j: lo + (hi - lo) * float(rng.random()) for j in strips}
    out, info = [], {}
    for f in frames:
        e = math.radians(strip_e[f.strip])
        look = side if side != "alternate" else ("east" if f.strip % 2 == 0 else "west")
        eta = math.asin(radius_m * math.sin(e) / (radius_m + f.altitude_m))
        phi = e - eta
        target = lonlat_to_xyz_deg(f.nadir_lon_deg, f.nadir_lat_deg, radii=(radius_m, radius_m))
        up = target / np.linalg.norm(target)
        east = np.array([-up[1], up[0], 0.0]) / math.hypot(up[0], up[1])
        away = -east if look == "east" else east  # the spacecraft sits opposite the look
        nadir = math.cos(phi) * up + math.sin(phi) * away
        lon_deg, lat_deg = xyz_to_lonlat_deg(nadir)
        lon_deg = f.nadir_lon_deg + ((float(lon_deg) - f.nadir_lon_deg + 180.0) % 360.0 - 180.0)
        lat_deg = float(lat_deg)
        position = nadir * (radius_m + f.altitude_m)
        base = nadir_attitude(math.radians(lon_deg), math.radians(lat_deg), f.heading)
        to_target = target - position
        v_cam = base.T @ (to_target / np.linalg.norm(to_target))
        tilt = rotvec_to_matrix(_rotation_between(np.array([0.0, 0.0, 1.0]), v_cam))
        combined = matrix_to_rotvec(tilt @ rotvec_to_matrix(np.radians(f.wobble_deg)))
        out.append(dataclasses.replace(
            f, nadir_lon_deg=round(lon_deg, 9), nadir_lat_deg=round(lat_deg, 9),
            wobble_deg=tuple(round(float(v), 6) for v in np.degrees(combined)),
        ))
        info[f.id] = {
            "target_lon_deg": f.nadir_lon_deg,
            "target_lat_deg": f.nadir_lat_deg,
            "emission_deg": round(math.degrees(e), 6),
            "off_nadir_deg": round(math.degrees(eta), 6),
            "look": look,
        }
    return out, info


__all__ = ["SIDES", "matrix_to_rotvec", "tilt_frames"]
