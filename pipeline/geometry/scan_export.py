"""ALE-schema ISD of a line-scan or push-frame camera (``ScanCamera.to_isd``).

The ISD is written in the body-fixed frame: ``body_rotation`` is the identity and the
tables are usgscsm's own uniform tables (positions, velocities, sun in kilometres as ALE
writes them; ``instrument_pointing`` the body-to-camera quaternions ``(w, x, y, z)``), with
every pointing / position correction of the camera evaluated at the table nodes ("baked").

A camera with corrections also gets a ``farside.scan_corrections`` block (the correction
polynomials and a digest of the tables they were baked into). farside's reader
(:func:`unbake_corrections`) then restores the uncorrected tables and the exact polynomials;
other readers (usgscsm) see the baked nodes, i.e. the correction interpolated between table
nodes, which is close only where the nodes are dense compared with the image duration.

Reading the ISD back (``from_isd(to_isd())``) rebuilds the same tables: the node times are
written so that ALE's resampling (``start + i * (stop - start) / (n - 1)``) lands on them
again, and where the last resampled node falls an ulp short of the last record time the last
record is moved along the trajectory (or the rotation arc) by that ulp, so that ALE's
Hermite / slerp interpolation there returns the node again. An uncorrected camera is then
reproduced to rounding (~1e-9 m); a corrected one to the interpolation of its baked nodes.
Fields of the source ISD that are not geometry (``naif_keywords``, ids, ...) are kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.geometry.ale_tables import eigen_slerp, quat_mul
from pipeline.geometry.scan_math import poly_eval, rotvec_quaternions

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.cameras.protocol import Camera as ScanCamera  # a ScanCamera, by its protocol

__all__ = ["restore_corrections", "scan_to_isd", "tables_digest", "unbake_corrections"]

log = logging.getLogger(__name__)

_GEOMETRY_KEYS = {
    "name_model", "image_lines", "image_samples", "center_ephemeris_time", "starting_ephemeris_time",
    "focal_length_model", "focal2pixel_lines", "focal2pixel_samples", "detector_center",
    "detector_line_summing", "detector_sample_summing", "starting_detector_line",
    "starting_detector_sample", "optical_distortion", "radii", "reference_height",
    "instrument_position", "instrument_pointing", "body_rotation", "sun_position",
    "line_scan_rate", "exposure_duration", "interframe_delay", "framelet_height",
    "framelet_order_reversed", "framelets_flipped", "num_lines_overlap", "name_sensor",
    "name_platform", "image_identifier", "sensor_position", "sensor_orientation", "sensor_velocity",
    "t0_ephemeris", "dt_ephemeris", "t0_quaternion", "dt_quaternion", "number_of_ephemerides",
    "number_of_quaternions", "sensor_location", "farside",
}  # fmt: skip


def _record_times(start: float, stop: float, n: int) -> tuple[np.ndarray, float]:
    """Record times that ALE resamples onto the same nodes, and the gap ``stop - last node``."""
    step = (stop - start) / (n - 1)
    nodes = start + np.arange(n) * step
    times = nodes.copy()
    times[-1] = stop
    return times, float(stop - nodes[-1])


def _baked(cam: ScanCamera):
    eph = cam.ephemeris
    n = eph.n_positions
    t_pos = eph.t0_ephem + np.arange(n) * eph.dt_ephem
    pos = np.array(eph.position_table)
    vel = np.array(eph.velocity_table)
    m = eph.n_quaternions
    t_q = eph.t0_quat + eph.dt_quat * np.arange(m)
    q = np.array(eph.quaternion_table)[:, [3, 0, 1, 2]]  # cam->body (w, x, y, z)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    if cam.corrections:
        tau = t_q / cam.half_duration_s
        for rot_coeffs, _ in cam.corrections:  # stages multiply on the right
            q = quat_mul(q, rotvec_quaternions(poly_eval(rot_coeffs, tau)))
        _, dp, dv = cam._correction(t_pos)
        pos, vel = pos + dp, vel + dv
    return t_pos, pos, vel, t_q, q


def tables_digest(isd: Mapping[str, Any]) -> str:
    """SHA-256 of an ISD's position and pointing tables (their float64 values), used to tell
    whether the tables are still those a ``farside.scan_corrections`` block was baked into."""
    h = hashlib.sha256()
    for key, sub in (("instrument_position", "positions"), ("instrument_position", "ephemeris_times"),
                     ("instrument_pointing", "quaternions"), ("instrument_pointing", "ephemeris_times")):  # fmt: skip
        h.update(np.asarray(isd[key][sub], dtype=np.float64).tobytes())
    return h.hexdigest()


def unbake_corrections(cam: ScanCamera, stages) -> ScanCamera:
    """Inverse of the baking in :func:`scan_to_isd`: the camera whose tables are ``cam``'s
    minus the correction ``stages`` at the nodes, carrying ``stages`` as its corrections."""
    probe = dataclasses.replace(cam, corrections=tuple(stages))
    eph = cam.ephemeris
    t_pos = eph.t0_ephem + np.arange(eph.n_positions) * eph.dt_ephem
    _, dp, dv = probe._correction(t_pos)
    t_q = eph.t0_quat + eph.dt_quat * np.arange(eph.n_quaternions)
    q = np.array(eph.quaternion_table)[:, [3, 0, 1, 2]]
    tau = t_q / probe.half_duration_s
    for rot_coeffs, _ in reversed(probe.corrections):
        qc = rotvec_quaternions(poly_eval(rot_coeffs, tau))
        q = quat_mul(q, qc * np.array([1.0, -1.0, -1.0, -1.0]))
    base = dataclasses.replace(
        eph,
        positions=np.array(eph.position_table) - dp,
        velocities=np.array(eph.velocity_table) - dv,
        quaternions=q[:, [1, 2, 3, 0]],
    )
    return dataclasses.replace(probe, ephemeris=base)


def restore_corrections(cam: ScanCamera, data: Mapping[str, Any], source=None) -> ScanCamera:
    """``cam`` read from ``data``, with a ``farside.scan_corrections`` block (written by
    :func:`scan_to_isd`) un-baked when the tables are still the ones it was baked into; else
    (no block, or tables edited since: logged) ``cam`` as it is."""
    block = data.get("farside")
    if not isinstance(block, Mapping) or not block.get("scan_corrections"):
        return cam
    if block.get("tables_digest") != tables_digest(data):
        log.warning(
            "%s: the ISD's tables changed since farside wrote its correction block; using the "
            "tables as they are (corrections baked at the table nodes)",
            source or "<in-memory ISD>",
        )
        return cam
    stages = [(st["rot_coeffs"], st.get("position_coeffs")) for st in block["scan_corrections"]]
    return unbake_corrections(cam, stages)


def scan_to_isd(cam: ScanCamera) -> dict[str, Any]:
    """The ALE-format ISD of a scanning camera (see the module docstring)."""
    eph = cam.ephemeris
    base: dict[str, Any] = {}
    if cam.source_isd:
        try:
            base = {k: v for k, v in json.loads(cam.source_isd).items() if k not in _GEOMETRY_KEYS}
        except (json.JSONDecodeError, AttributeError):
            base = {}
    _, pos, vel, _, q = _baked(cam)
    ptimes, gap = _record_times(eph.pos_start, eph.pos_stop, eph.n_positions)
    pos[-1] = pos[-1] + vel[-1] * gap
    qtimes, qgap = _record_times(eph.quat_start, eph.quat_stop, eph.n_quaternions)
    if qgap != 0.0:
        span = eph.quat_stop - qtimes[-2]
        q[-1] = eigen_slerp(q[-2], q[-1], span / (span - qgap))
    body_to_cam = q * np.array([1.0, -1.0, -1.0, -1.0])
    zeros = np.zeros((eph.n_quaternions, 3)).tolist()
    isd: dict[str, Any] = {
        "name_model": cam.name_model,
        "name_platform": cam.name_platform,
        "name_sensor": cam.name_sensor,
        **base,
        "image_identifier": cam.image_identifier,
        "image_lines": getattr(cam, "isd_lines", cam.lines),
        "image_samples": cam.samples,
        "center_ephemeris_time": eph.center_time,
        "starting_ephemeris_time": cam.starting_time_s,
        "focal_length_model": {"focal_length": cam.focal_length_mm},
        "focal2pixel_lines": list(cam.focal2pixel_lines),
        "focal2pixel_samples": list(cam.focal2pixel_samples),
        "detector_center": {"line": cam.detector_center[0], "sample": cam.detector_center[1]},
        "detector_line_summing": cam.line_summing,
        "detector_sample_summing": cam.sample_summing,
        "starting_detector_line": cam.starting_detector_line,
        "starting_detector_sample": cam.starting_detector_sample,
        "optical_distortion": cam.distortion.to_isd_block(),
        "radii": {"semimajor": cam.radii_m[0] / 1000.0, "semiminor": cam.radii_m[1] / 1000.0, "unit": "km"},
        "reference_height": {
            "minheight": cam.height_range_m[0],
            "maxheight": cam.height_range_m[1],
            "unit": "m",
        },
        "instrument_position": {
            "unit": "km",
            "positions": (pos / 1000.0).tolist(),
            "velocities": (vel / 1000.0).tolist(),
            "ephemeris_times": ptimes.tolist(),
            "reference_frame": 1,
        },
        "instrument_pointing": {
            "quaternions": body_to_cam.tolist(),
            "ephemeris_times": qtimes.tolist(),
            "angular_velocities": zeros,
            "reference_frame": 1,
            "constant_frames": [1],
            "time_dependent_frames": [1],
            "constant_rotation": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        },
        "body_rotation": {
            "quaternions": [[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
            "ephemeris_times": [float(qtimes[0]), float(qtimes[-1])],
            "angular_velocities": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
            "reference_frame": 1,
            "constant_frames": [1],
            "time_dependent_frames": [1],
        },
    }
    if eph.has_sun:
        sun = np.array(eph.sun_positions).reshape(-1, 3)
        if sun.shape[0] == eph.n_positions:
            sv = np.array(eph.sun_velocities).reshape(-1, 3)
            if sv.shape != sun.shape:
                sv = np.zeros_like(sun)
            sun = sun.copy()
            sun[-1] = sun[-1] + sv[-1] * gap
            block = {"positions": sun, "velocities": sv, "ephemeris_times": ptimes}
        else:  # one position (and velocity) moved linearly from the centre time
            sv = np.array(eph.sun_velocities).reshape(-1, 3) if eph.sun_velocities else np.zeros((1, 3))
            block = {
                "positions": sun[:1],
                "velocities": sv[:1],
                "ephemeris_times": np.array([eph.center_time]),
            }
        isd["sun_position"] = {
            "unit": "km",
            "positions": (block["positions"] / 1000.0).tolist(),
            "velocities": (block["velocities"] / 1000.0).tolist(),
            "ephemeris_times": block["ephemeris_times"].tolist(),
            "reference_frame": 1,
        }
    isd["farside"] = {"look_direction": cam.look_direction}
    if cam.corrections:
        isd["farside"] |= {
            "scan_corrections": [
                {"rot_coeffs": [list(r) for r in rc], "position_coeffs": None if pc is None else [list(r) for r in pc]}
                for rc, pc in cam.corrections
            ],
            "half_duration_s": cam.half_duration_s,
            "tables_digest": tables_digest(isd),
        }  # fmt: skip
    if cam.kind == "line-scan":
        isd["line_scan_rate"] = [list(row) for row in cam.line_scan_rate]
    else:
        for key in ("exposure_duration", "interframe_delay", "framelet_height", "framelet_order_reversed",
                    "framelets_flipped", "num_lines_overlap"):  # fmt: skip
            isd[key] = getattr(cam, key)
    return isd
