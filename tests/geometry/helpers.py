"""Helpers of the geometry tests: the embedded usgscsm ISD and synthetic cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.geometry import FrameCamera
from pipeline.geometry.body import lonlat_to_xyz_deg

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"

# The frame-camera test ISD of usgscsm: DOI-USGS/usgscsm, tests/data/simpleFramerISD.json at
# commit ba32d13bc560b0a22395b07419c494190715288f (public domain): a 15x15 frame camera 1 km
# from a 10 m sphere. Embedded so the usgscsm checks run without ../shared.
SIMPLE_FRAMER_ISD = {
    "name_model": "USGS_ASTRO_FRAME_SENSOR_MODEL",
    "name_sensor": "SENSOR",
    "name_platform": "CarryMe",
    "image_identifier": "TEST_IMAGE",
    "center_ephemeris_time": 50,
    "dt_ephemeris": 100,
    "focal2pixel_lines": [0.0, 0.0, 10.0],
    "focal2pixel_samples": [0.0, 10.0, 0.0],
    "focal_length_model": {"focal_length": 50, "focal_epsilon": 1.0},
    "image_lines": 15,
    "image_samples": 15,
    "detector_center": {"line": 7.5, "sample": 7.5},
    "interpolation_method": "lagrange",
    "number_of_ephemerides": 1,
    "optical_distortion": {
        "transverse": {
            "x": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "y": [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        }
    },
    "radii": {"semimajor": 0.01, "semiminor": 0.01, "unit": "km"},
    "reference_height": {"maxheight": 1, "minheight": -1, "unit": "km"},
    "instrument_position": {
        "unit": "km",
        "positions": [[1.0, 0.0, 0.0]],
        "velocities": [[0.0, 0.0, 0.0]],
        "ephemeris_times": [50],
        "reference_frame": 1,
    },
    "instrument_pointing": {
        "quaternions": [[0.0, -0.707106781186547, 0.0, 0.707106781186547]],
        "angular_velocities": [[0, 0, 0]],
        "ephemeris_times": [50],
        "reference_frame": 1,
    },
    "body_rotation": {
        "quaternions": [[1, 0, 0, 0]],
        "ephemeris_times": [50],
        "angular_velocities": [[0.0, 0.0, 0.0]],
        "reference_frame": 1,
        "constant_frames": [1, 2, 3],
        "time_dependent_frames": [4, 5, 6],
    },
    "starting_detector_line": 0,
    "starting_detector_sample": 0,
    "detector_sample_summing": 1.0,
    "detector_line_summing": 1.0,
    "starting_ephemeris_time": 0,
    "sun_position": {
        "unit": "km",
        "positions": [[0.1, 0.1, 0.0]],
        "velocities": [[0.0, 0.0, 0.0]],
        "ephemeris_times": [50],
        "reference_frame": 1,
    },
}


def require(path: Path) -> Path:
    """``path`` if it exists, else skip the test with a clear message."""
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (clone the project next to shared/)")
    return path


def nadir_rotation(position) -> np.ndarray:
    """cam_to_body of a camera at ``position`` looking at the body centre, camera x east
    (samples increase eastward) and y south (lines increase southward)."""
    p = np.asarray(position, dtype=float)
    z = -p / np.linalg.norm(p)
    east = np.cross([0.0, 0.0, 1.0], p)
    if np.linalg.norm(east) < 1e-9 * np.linalg.norm(p):  # above a pole
        east = np.array([0.0, 1.0, 0.0])
    x = east / np.linalg.norm(east)
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def make_camera(
    lon_deg=180.0,
    lat_deg=0.0,
    altitude_m=100e3,
    *,
    lines=64,
    samples=96,
    focal_mm=50.0,
    pitch_mm=0.01,
    radial_k=(0.0, 0.0, 0.0),
    sun_lonlat_deg=None,
    tilt=None,
) -> FrameCamera:
    """A synthetic nadir (optionally tilted) camera over the Moon sphere."""
    pos = lonlat_to_xyz_deg(lon_deg, lat_deg, altitude_m)
    rot = nadir_rotation(pos)
    if tilt is not None:
        from pipeline.geometry.rotation import rotvec_to_matrix

        rot = rot @ rotvec_to_matrix(tilt)
    sun = None
    if sun_lonlat_deg is not None:
        sun = lonlat_to_xyz_deg(sun_lonlat_deg[0], sun_lonlat_deg[1], 1.496e11)
    return FrameCamera.build(
        lines=lines,
        samples=samples,
        focal_length_mm=focal_mm,
        pixel_pitch_mm=pitch_mm,
        position_m=pos,
        cam_to_body=rot,
        radial_k=radial_k,
        sun_position_m=sun,
    )
