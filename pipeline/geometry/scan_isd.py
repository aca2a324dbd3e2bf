"""Reading line-scan and push-frame ISDs (ALE layout, and the pre-2020 usgscsm line-scan layout).

:func:`parse_scan_isd` validates an ISD dictionary and returns the constructor arguments of
:class:`~pipeline.geometry.cameras.linescan.LineScanCamera` or
:class:`~pipeline.geometry.cameras.pushframe.PushFrameCamera`. Every problem is a
:class:`~pipeline.errors.BadGeometry` naming the file, the key and the fix.

ALE layout (``USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL`` / ``USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL``)
    ``instrument_position`` / ``sun_position`` (J2000, kilometres unless ``unit`` says
    ``m``), ``instrument_pointing`` and ``body_rotation`` (quaternions ``(w, x, y, z)``
    rotating J2000 into the camera / body frame), ``line_scan_rate``
    (``[[start_line, start_time_rel, integration_time], ...]``, times relative to
    ``center_ephemeris_time``) for line scanners, ``framelet_height``,
    ``framelet_order_reversed``, ``framelets_flipped``, ``num_lines_overlap``,
    ``exposure_duration``, ``interframe_delay`` for push frames. The tables are resampled as
    usgscsm does (:mod:`pipeline.geometry.ale_tables`).
Pre-2020 usgscsm line-scan layout (e.g. the knoten Kaguya TC example)
    ``sensor_position.positions`` (body-fixed, metres) at ``t0_ephemeris + i * dt_ephemeris``,
    ``sensor_orientation.quaternions`` ``(x, y, z, w)`` camera-to-body at
    ``t0_quaternion + i * dt_quaternion`` (times relative to ``center_ephemeris_time``),
    optional ``sensor_velocity``, a body-fixed ``sun_position`` and the ``kaguyatc``
    distortion block. These tables are usgscsm's internal ones and are used directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import BadGeometry, GeometryError, UnsupportedGeometry
from pipeline.geometry.ale_tables import AleOrientations, csm_ephemeris_from_tables, matrix_to_eigen_quat
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.ephemeris import CsmEphemeris
from pipeline.geometry.isd import IsdReader

LINE_SCAN_MODEL = "USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL"
PUSH_FRAME_MODEL = "USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL"

__all__ = ["LINE_SCAN_MODEL", "PUSH_FRAME_MODEL", "parse_scan_isd"]



class _ScanReader(IsdReader):
    kind = "line-scan / push-frame"


def _records(r: _ScanReader, key: str, value_key: str, width: int, scale: float):
    values = r.array(key, value_key, shape=(None, width)) * scale
    times = r.array(key, "ephemeris_times", shape=(None,))
    if len(times) != len(values):
        raise r.fail(
            f"{key}.ephemeris_times has {len(times)} entries but {key}.{value_key} has {len(values)}"
        )
    if len(times) > 1 and np.any(np.diff(times) <= 0):
        raise r.fail(f"{key}.ephemeris_times must increase strictly")
    return times, values


def _velocities(r: _ScanReader, key: str, n: int, scale: float) -> np.ndarray | None:
    vel = r.get(key, "velocities", default=None)
    if vel is None or (isinstance(vel, list) and len(vel) == 0):
        return None
    arr = r.array(key, "velocities", shape=(None, 3)) * scale
    if len(arr) != n:
        raise r.fail(f"{key}.velocities has {len(arr)} entries, {key} has {n} positions")
    return arr


def _orientations(r: _ScanReader, key: str, read_const: bool) -> AleOrientations:
    times, quats = _records(r, key, "quaternions", 4, 1.0)
    if np.any(np.linalg.norm(quats, axis=1) < 1e-12):
        raise r.fail(f"{key}.quaternions holds a zero quaternion")
    avs = r.get(key, "angular_velocities", default=None)
    av = None
    if avs is not None and not (isinstance(avs, list) and len(avs) == 0):
        av = r.array(key, "angular_velocities", shape=(None, 3))
        if len(av) != len(times):
            raise r.fail(f"{key}.angular_velocities has {len(av)} entries, {key} has {len(times)} times")
    const = np.array([1.0, 0.0, 0.0, 0.0])
    if read_const and r.has(key, "constant_rotation"):
        m = r.array(key, "constant_rotation", shape=(9,)).reshape(3, 3)
        if not np.allclose(m @ m.T, np.eye(3), atol=1e-6):
            raise r.fail(f"{key}.constant_rotation is not a rotation matrix")
        const = matrix_to_eigen_quat(m)
    return AleOrientations(times, quats, av, const)


def _ale_ephemeris(r: _ScanReader, center: float) -> CsmEphemeris:
    pscale = r.unit_scale("instrument_position", "unit", default="km") / 1000.0
    itimes, ipos = _records(r, "instrument_position", "positions", 3, pscale)
    ivel = _velocities(r, "instrument_position", len(itimes), pscale)
    if len(itimes) < 2:
        raise r.fail(
            "instrument_position has 1 record; a scanning camera needs the spacecraft trajectory "
            "(>= 2 records; regenerate the ISD with ALE isd_generate)"
        )
    # ALE's C++ reader takes instrument_pointing.constant_rotation only with time_dependent_frames
    pointing = _orientations(r, "instrument_pointing", r.has("instrument_pointing", "time_dependent_frames"))
    if r.has("body_rotation"):
        body = _orientations(r, "body_rotation", True)
    else:
        body = AleOrientations(np.array([center]), np.array([[1.0, 0.0, 0.0, 0.0]]))
    sun = {}
    if r.has("sun_position", "positions"):
        sscale = r.unit_scale("sun_position", "unit", default="km") / 1000.0
        stimes, spos = _records(r, "sun_position", "positions", 3, sscale)
        sun = {
            "sun_times": stimes,
            "sun_positions_km": spos,
            "sun_velocities_km": _velocities(r, "sun_position", len(stimes), sscale),
        }
    return csm_ephemeris_from_tables(center, itimes, ipos, ivel, pointing, body, **sun)


def _legacy_ephemeris(r: _ScanReader, center: float) -> CsmEphemeris:
    pscale = r.unit_scale("sensor_position", "unit", default="m")
    pos = r.array("sensor_position", "positions", shape=(None, 3)) * pscale
    quat = r.array("sensor_orientation", "quaternions", shape=(None, 4))
    t0e, dte = r.number("t0_ephemeris"), r.number("dt_ephemeris", positive=True)
    t0q, dtq = r.number("t0_quaternion"), r.number("dt_quaternion", positive=True)
    if r.has("sensor_velocity"):
        vel = r.array("sensor_velocity", "velocities", shape=(len(pos), 3)) * pscale
    else:  # only informational (velocity_at): second-order differences of the table
        vel = np.gradient(pos, dte, axis=0, edge_order=2) if len(pos) > 2 else np.zeros_like(pos)
    sun_p = np.zeros((0, 3))
    sun_v = np.zeros((0, 3))
    if r.has("sun_position", "positions"):
        sscale = r.unit_scale("sun_position", "unit", default="m")
        raw = r.get("sun_position", "positions")
        sun_p = np.asarray([row[:3] for row in raw], dtype=float) * sscale
        if r.has("sun_position", "velocities"):
            sun_v = np.asarray([row[:3] for row in r.get("sun_position", "velocities")], dtype=float) * sscale
            if len(sun_v) != len(sun_p):
                sun_v = np.zeros((0, 3))
    start = center + t0e
    return CsmEphemeris(
        center_time=center,
        pos_start=start,
        pos_stop=start + (len(pos) - 1) * dte,
        positions=pos,
        velocities=vel,
        quat_start=center + t0q,
        quat_stop=center + t0q + (len(quat) - 1) * dtq,
        quaternions=quat,
        sun_positions=sun_p,
        sun_velocities=sun_v,
    )


def parse_scan_isd(isd: Any, source: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """Validate a line-scan or push-frame ISD; return ``(name_model, constructor kwargs)``.

    Raises
    ------
    BadGeometry
        Missing keys, non-finite numbers, bad units, inconsistent tables.
    UnsupportedGeometry
        Another sensor model (frame, SAR, ...).
    """
    r = _ScanReader(isd, source)
    model = r.get("name_model", default=None)
    if model not in (LINE_SCAN_MODEL, PUSH_FRAME_MODEL):
        raise UnsupportedGeometry(
            r.source,
            f"name_model {model!r} is not a line-scan ({LINE_SCAN_MODEL}) or push-frame "
            f"({PUSH_FRAME_MODEL}) model; use pipeline.geometry.load_camera for any camera kind",
        )
    r.kind = "line-scan" if model == LINE_SCAN_MODEL else "push-frame"
    lines = r.positive_int("image_lines")
    samples = r.positive_int("image_samples")
    f2l = tuple(r.array("focal2pixel_lines", shape=(3,)).tolist())
    f2s = tuple(r.array("focal2pixel_samples", shape=(3,)).tolist())
    if abs(f2l[1] * f2s[2] - f2l[2] * f2s[1]) < 1e-300:
        raise r.fail("focal2pixel_lines/focal2pixel_samples are singular (determinant 0)")
    try:
        distortion = Distortion.from_isd_block(r.get("optical_distortion", default=None))
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        raise r.fail(f"bad 'optical_distortion' block: {exc}") from None
    rscale = r.unit_scale("radii", "unit", default="km")
    a = r.number("radii", "semimajor", positive=True) * rscale
    b = r.number("radii", "semiminor", default=a / rscale, positive=True) * rscale
    hscale = r.unit_scale("reference_height", "unit", default="m") if r.has("reference_height") else 1.0
    hrange = (
        r.number("reference_height", "minheight", default=-1000.0 / hscale) * hscale,
        r.number("reference_height", "maxheight", default=1000.0 / hscale) * hscale,
    )
    center = r.number("center_ephemeris_time")
    try:
        if r.has("instrument_position"):
            for k in ("instrument_pointing", "body_rotation"):
                if k != "body_rotation" and not r.has(k):
                    raise r.fail(f"missing key {k!r} (ALE ISDs carry it beside instrument_position)")
            ephem = _ale_ephemeris(r, center)
        elif r.has("sensor_position") and model == LINE_SCAN_MODEL:
            ephem = _legacy_ephemeris(r, center)
        else:
            raise r.fail(
                "missing key 'instrument_position' (ALE) or 'sensor_position' (old usgscsm line-scan "
                "layout): the ISD has no spacecraft trajectory; regenerate it with ALE isd_generate"
            )
    except GeometryError as exc:
        raise r.fail(str(exc)) from None
    kw: dict[str, Any] = {
        "lines": lines,
        "samples": samples,
        "focal_length_mm": r.number("focal_length_model", "focal_length", positive=True),
        "focal2pixel_lines": f2l,
        "focal2pixel_samples": f2s,
        "detector_center": (r.number("detector_center", "line"), r.number("detector_center", "sample")),
        "line_summing": r.number("detector_line_summing", default=1, positive=True),
        "sample_summing": r.number("detector_sample_summing", default=1, positive=True),
        "starting_detector_line": r.number("starting_detector_line", default=0),
        "starting_detector_sample": r.number("starting_detector_sample", default=0),
        "distortion": distortion,
        "radii_m": (a, b),
        "ephemeris": ephem,
        "starting_time_s": r.number("starting_ephemeris_time", default=center),
        "name_sensor": r.text("name_sensor"),
        "name_platform": r.text("name_platform"),
        "image_identifier": r.text("image_identifier"),
        "height_range_m": hrange,
    }
    if model == LINE_SCAN_MODEL:
        rate = r.array("line_scan_rate", shape=(None, 3))
        if np.any(np.diff(rate[:, 0]) <= 0):
            raise r.fail("line_scan_rate start lines must increase")
        kw["line_scan_rate"] = tuple(tuple(float(v) for v in row) for row in rate)
    else:
        for key in ("exposure_duration", "interframe_delay"):
            kw[key] = r.number(key, positive=True)
        kw["framelet_height"] = r.positive_int("framelet_height")
        for key in ("framelet_order_reversed", "framelets_flipped"):
            v = r.get(key)
            if not isinstance(v, bool):
                raise r.fail(f"{key!r} must be true or false, got {v!r}")
            kw[key] = v
        overlap = r.get("num_lines_overlap", default=0)
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0 or overlap % 2:
            raise r.fail(
                f"'num_lines_overlap' must be an even integer >= 0 (half of it is removed at the top "
                f"and bottom of each framelet), got {overlap!r}"
            )
        if overlap >= kw["framelet_height"]:
            raise r.fail(
                f"'num_lines_overlap' {overlap} leaves nothing of a {kw['framelet_height']}-line framelet"
            )
        kw["num_lines_overlap"] = overlap
        kw["isd_lines"] = lines
        # usgscsm's image: whole framelets, each without its overlap lines (m_nReducedLines)
        kw["lines"] = (lines // kw["framelet_height"]) * (kw["framelet_height"] - overlap)
        if kw["lines"] <= 0:
            raise r.fail(f"image_lines {lines} is less than one framelet ({kw['framelet_height']} lines)")
    return model, kw


def read_isd_argument(isd: Any, what: str) -> tuple[Any, Path | None]:
    """``isd`` as a dict plus the path it came from: accepts a mapping, a path or JSON text."""
    if isinstance(isd, Mapping):
        return isd, None
    if isinstance(isd, Path) or (isinstance(isd, str) and not isd.lstrip().startswith("{")):
        path = Path(isd)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadGeometry(path, f"cannot read the ISD sidecar: {exc}") from None
        try:
            return json.loads(text), path
        except json.JSONDecodeError as exc:
            raise BadGeometry(
                path,
                f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); regenerate "
                f"the {what} sidecar with ALE isd_generate",
            ) from None
    if isinstance(isd, str):
        try:
            return json.loads(isd), None
        except json.JSONDecodeError as exc:
            raise BadGeometry("<ISD text>", f"not valid JSON ({exc.msg})") from None
    raise BadGeometry(
        "<in-memory ISD>", f"the ISD must be a mapping, a path or JSON text, got {type(isd).__name__}"
    )
