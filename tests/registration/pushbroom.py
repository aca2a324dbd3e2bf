"""A simple push-broom line-scan camera for the adjustment tests (a stand-in for the real
``LineScanCamera``, with the same correction interface).

One detector line along the camera x axis (samples), the camera moving along its +y axis
(lines) at one line's ground size per line time; the camera z axis is the boresight.
Normalised time ``tau = (line - lines / 2) / (lines / 2)``. Its pointing at ``tau`` is
``base @ R(own(tau)) @ R(corr(tau))`` with ``own`` and ``corr`` polynomials of rotation
vectors (rows ``c_j``, ``sum_j c_j tau^j``); ``with_pointing_correction(rot_coeffs (k, 3),
position_coeffs (k, 3) | None)`` returns the camera with ``corr`` (and a position
polynomial) set, as the adjustment expects of a kind with ``correction_degree = k``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pipeline.geometry.body import MOON_RADII_M
from pipeline.registration.bundle.cameras import rotvecs_to_matrices

R = MOON_RADII_M[0]


def _poly(coeffs: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``sum_j c_j tau^j`` for each tau: (n, 3)."""
    powers = tau[:, None] ** np.arange(len(coeffs))[None, :]
    return powers @ coeffs


@dataclasses.dataclass(frozen=True, eq=False)
class Pushbroom:
    lines: int
    samples: int
    focal_px: float
    centre_m: np.ndarray  # body-fixed position at the middle line
    base: np.ndarray  # cam_to_body at the middle line (columns: camera axes)
    line_step_m: float  # platform motion per line, along the camera +y axis
    own: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((1, 3)))
    corr: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((1, 3)))
    pos_corr: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((1, 3)))
    radii_m: tuple = MOON_RADII_M

    correction_degree = 2

    def tau(self, line) -> np.ndarray:
        return (np.asarray(line, float) - self.lines / 2) / (self.lines / 2)

    def _state(self, line):
        t = self.tau(line)
        pos = (self.centre_m + (np.asarray(line, float) - self.lines / 2)[:, None] * self.line_step_m * self.base[:, 1]
               + _poly(self.pos_corr, t))
        rot = self.base @ rotvecs_to_matrices(_poly(self.own, t)) @ rotvecs_to_matrices(_poly(self.corr, t))
        return pos, rot

    def with_pointing_correction(self, rot_coeffs, position_coeffs=None) -> Pushbroom:
        rot_coeffs = np.asarray(rot_coeffs, float).reshape(-1, 3)
        pos = np.zeros((1, 3)) if position_coeffs is None else np.asarray(position_coeffs, float).reshape(-1, 3)
        return dataclasses.replace(self, corr=rot_coeffs, pos_corr=pos)

    def image_to_ground(self, line, sample, height=0.0) -> np.ndarray:
        line = np.atleast_1d(np.asarray(line, float))
        sample = np.atleast_1d(np.asarray(sample, float))
        pos, rot = self._state(line)
        ray = np.stack([sample - self.samples / 2, np.zeros_like(sample), np.full(len(sample), self.focal_px)], 1)
        d = np.einsum("nij,nj->ni", rot, ray)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        r = R + np.broadcast_to(np.asarray(height, float), line.shape)
        b = np.sum(pos * d, axis=1)
        disc = b**2 - (np.sum(pos**2, axis=1) - r**2)
        return pos + (-b - np.sqrt(disc))[:, None] * d

    def ground_to_image(self, xyz) -> tuple[np.ndarray, np.ndarray]:
        xyz = np.asarray(xyz, float).reshape(-1, 3)
        line = np.full(len(xyz), self.lines / 2.0)
        for _ in range(30):  # the line whose sensor plane holds the point (Newton on y = 0)
            pos, rot = self._state(line)
            q = np.einsum("nji,nj->ni", rot, xyz - pos)
            step = self.focal_px * q[:, 1] / q[:, 2]
            line = line + step
            if np.max(np.abs(step)) < 1e-9:
                break
        pos, rot = self._state(line)
        q = np.einsum("nji,nj->ni", rot, xyz - pos)
        return line, self.focal_px * q[:, 0] / q[:, 2] + self.samples / 2

    def gsd_m(self) -> float:
        return float(np.linalg.norm(self.centre_m) - R) / self.focal_px


def north_south_strip(lon_deg: float, lat_deg: float, *, lines=600, samples=300, gsd_m=20.0,
                      altitude_m=60_000.0, own=None) -> Pushbroom:
    lon, lat = math.radians(lon_deg), math.radians(lat_deg)
    up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    east = np.array([-math.sin(lon), math.cos(lon), 0.0])
    north = np.cross(up, east)
    base = np.stack([east, -north, -up], axis=1)  # x east (samples), y south (lines), z down
    cam = Pushbroom(lines, samples, altitude_m / gsd_m, up * (R + altitude_m), base, gsd_m)
    return cam if own is None else dataclasses.replace(cam, own=np.asarray(own, float))
