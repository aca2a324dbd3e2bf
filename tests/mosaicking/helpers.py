"""Synthetic frames with known truth for the mosaicking tests.

The "Moon" here has a smooth analytic albedo defined on body-fixed coordinates (so it is
continuous everywhere: across 180 E and over the poles). Frames are rendered by casting
each pixel centre's ray through the true camera onto the sphere and evaluating the
albedo there.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pipeline.geometry.body import MOON_RADII_M, lonlat_to_xyz_deg
from pipeline.geometry.grid import MapGrid
from pipeline.simulation.survey import nadir_camera

R = MOON_RADII_M[0]

__all__ = ["R", "albedo_on_grid", "albedo_xyz", "assemble", "camera", "render", "sub_camera", "truth_on_grid"]


def albedo_xyz(xyz: np.ndarray, scale_m: float = 6000.0) -> np.ndarray:
    """Smooth albedo (I/F-like, ~0.05..0.2) of body-fixed points (m), features ~``scale_m``."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    k = 2 * math.pi / scale_m
    return (
        0.12
        + 0.03 * np.sin(k * x + 0.3) * np.cos(0.8 * k * y)
        + 0.025 * np.cos(0.7 * k * z + 1.1) * np.sin(0.9 * k * (x - y))
        + 0.015 * np.sin(1.3 * k * (y + z))
    )


def camera(lon: float, lat: float, *, size=(96, 96), gsd_m: float = 200.0, heading="north",
           rotvec=(0.0, 0.0, 0.0), time_s: float = 0.0, sun_incidence_deg: float = 45.0):
    """A nadir(ish) synthetic camera (the simulation package's ``nadir_camera``)."""
    return nadir_camera(lon, lat, lines=size[0], samples=size[1], gsd_m=gsd_m, heading=heading,
                        rotvec_rad=rotvec, time_s=time_s, sun_incidence_deg=sun_incidence_deg)


def render(cam, fn=albedo_xyz, gain: float = 1.0, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Render ``(fn(ground) - offset) / gain`` at every pixel centre; returns (image float32,
    mask) with ``mask`` True where the ray misses the body.

    The frame's *equalisation* correction is then ``(gain, offset)``:
    ``gain * image + offset == fn(ground)``.
    """
    line, sample = np.meshgrid(np.arange(cam.lines) + 0.5, np.arange(cam.samples) + 0.5, indexing="ij")
    xyz, hit = cam.image_to_ground_hit(line, sample)
    img = np.where(hit, (fn(xyz) - offset) / gain, 0.0).astype(np.float32)
    return img, ~hit


def truth_on_grid(grid: MapGrid, fn=albedo_xyz) -> np.ndarray:
    """``fn`` at every grid pixel centre (NaN off the body)."""
    lon, lat = grid.lonlat()
    ok = np.isfinite(lon) & np.isfinite(lat)
    xyz = lonlat_to_xyz_deg(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    return np.where(ok, fn(xyz), np.nan)


albedo_on_grid = truth_on_grid


def sub_camera(cam, r0: int, c0: int, lines: int, samples: int):
    """The camera of the sub-image ``[r0:r0+lines, c0:c0+samples]`` (CSM starting detector
    line/sample), so a cut-out of a frame is a frame of its own."""
    return dataclasses.replace(
        cam, lines=lines, samples=samples,
        starting_detector_line=cam.starting_detector_line + r0 * cam.line_summing,
        starting_detector_sample=cam.starting_detector_sample + c0 * cam.sample_summing,
    )


def assemble(grid: MapGrid, tile_size: int, halo: int, compute) -> dict[str, np.ndarray]:
    """Run ``compute(outer_grid, halo) -> dict of core arrays`` over every tile and paste."""
    out: dict[str, np.ndarray] = {}
    for tile in grid.tiles(tile_size, halo):
        prod = compute(grid[tile.outer], halo)
        for key, arr in prod.items():
            if key not in out:
                fill = np.nan if arr.dtype.kind == "f" else 0
                out[key] = np.full(grid.shape, fill, arr.dtype)
            out[key][tile.core] = arr
    return out
