"""Reading USGS CSM frame-camera ISDs (ALE format and older usgscsm keys) into camera fields.

This module validates an ISD dictionary and reduces it to the numbers of one frame
exposure at ``center_ephemeris_time`` in the body-fixed frame; :class:`FrameCamera`
(``camera.py``) does the geometry. Every problem is a :class:`BadGeometry` naming the
source file, the offending key and, where there is one, the fix.

ALE conventions (https://github.com/DOI-USGS/ale, ``isd_generate``):

- ``instrument_position.positions`` (N, 3) are the spacecraft position relative to the
  target centre in the ``reference_frame`` (1 = J2000), in ``unit`` (``km`` when absent,
  ALE's convention); ``ephemeris_times`` (N) in seconds.
- ``instrument_pointing.quaternions`` (M, 4) are scalar first ``(w, x, y, z)`` and rotate
  J2000 into the camera frame; an optional ``constant_rotation`` (3x3 row-major) follows:
  ``J2000 -> camera = constant_rotation @ R(q)``.
- ``body_rotation`` has the same layout and takes J2000 to the body-fixed frame.
- ``sun_position`` as ``instrument_position`` (Sun relative to the target centre).
- Tables with several entries are interpolated at ``center_ephemeris_time``: Lagrange
  (up to 8 points) for positions, slerp for quaternions.

Older usgscsm keys: ``sensor_position`` (``{"positions": [[x, y, z]], "unit": "m"}``,
``{"x", "y", "z", "unit"}`` or ``[x, y, z]``; metres when no unit), ``sensor_orientation``
(``{"quaternions": [[x, y, z, w]]}`` or ``[x, y, z, w]``: scalar **last**, rotating camera
to body-fixed), ``sun_position`` body-fixed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import BadGeometry, UnsupportedGeometry
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.rotation import interpolate_quaternions, lagrange_interpolate, quat_to_matrix

FRAME_MODEL = "USGS_ASTRO_FRAME_SENSOR_MODEL"

_UNITS = {"m": 1.0, "meters": 1.0, "metres": 1.0, "km": 1000.0, "kilometers": 1000.0, "kilometres": 1000.0}

_MISSING = object()

# Instruments whose camera looks along -Z of the frame given by instrument_pointing
# (ISIS CameraDistortionMap zDirection = -1). Matched against
# "<name_platform> <name_sensor> <instrument_id>", upper case.
LOOK_MINUS_Z_RULES: tuple[tuple[str, str], ...] = (
    (r"APOLLO", r"METRIC"),
    (r"APOLLO", r"PAN"),
    (r"LUNAR[ _]?ORBITER|\bLO[1-5]?[_ ]", r"HIGH|MEDIUM|24_INCH|80_MM"),
)
"""Pairs of regular expressions; an instrument matching both of a pair looks along -Z:
Apollo Metric, Apollo Panoramic, Lunar Orbiter High and Medium resolution cameras."""


def default_look_direction(name_platform: str, name_sensor: str, instrument_id: str = "") -> int:
    """Built-in look direction (+1 or -1 along the instrument Z axis) of an instrument."""
    text = f"{name_platform} {name_sensor} {instrument_id}".upper()
    for a, b in LOOK_MINUS_Z_RULES:
        if re.search(a, text) and re.search(b, text):
            return -1
    return 1


def _norm_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().upper())


class IsdReader:
    """Validating accessors over one ISD dictionary; errors name ``source`` and ``kind``."""

    kind = "frame-camera"

    def __init__(self, isd: Any, source: str | Path | None):
        self.source = Path(source) if source is not None else Path("<in-memory ISD>")
        if not isinstance(isd, Mapping):
            raise BadGeometry(self.source, f"the ISD must be a JSON object, got {type(isd).__name__}")
        self.isd = isd

    # -- errors ---------------------------------------------------------------------------
    def fail(self, reason: str) -> BadGeometry:
        """A :class:`BadGeometry` error for this ISD with ``reason``."""
        return BadGeometry(self.source, reason)

    # -- raw access -----------------------------------------------------------------------
    def has(self, *keys: str) -> bool:
        """Whether the nested keys ``keys`` all exist in the ISD."""
        node: Any = self.isd
        for k in keys:
            if not isinstance(node, Mapping) or k not in node:
                return False
            node = node[k]
        return True

    def get(self, *keys: str, default: Any = _MISSING) -> Any:
        """The value at nested ``keys``; ``default`` when missing, else :class:`BadGeometry`."""
        node: Any = self.isd
        for i, k in enumerate(keys):
            if not isinstance(node, Mapping) or k not in node:
                if default is not _MISSING:
                    return default
                where = ".".join(keys[: i + 1])
                raise self.fail(
                    f"missing key {where!r}; a {self.kind} ISD needs it (regenerate the sidecar with ALE isd_generate)"
                )
            node = node[k]
        return node

    def number(self, *keys: str, default: Any = _MISSING, positive: bool = False) -> float:
        """The number at nested ``keys`` (finite; > 0 with ``positive``), else :class:`BadGeometry`."""
        value = self.get(*keys, default=default)
        return self._to_number(value, ".".join(keys), positive)

    def positive_int(self, *keys: str, default: Any = _MISSING) -> int:
        """The integer > 0 at nested ``keys`` (an int or an integral float, not a bool), else
        :class:`BadGeometry`."""
        v = self.get(*keys, default=default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v != int(v):
            raise self.fail(f"{'.'.join(keys)!r} must be a positive integer, got {v!r}")
        return int(v)

    def _to_number(self, value: Any, where: str, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{where!r} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(f"{where!r} is not finite ({value}); fix or regenerate the ISD")
        if positive and value <= 0:
            raise self.fail(f"{where!r} must be positive, got {value}")
        return value

    def array(self, *keys: str, shape: tuple[int | None, ...], default: Any = _MISSING) -> np.ndarray:
        """The float array at nested ``keys`` with ``shape`` (None: any length), else :class:`BadGeometry`."""
        value = self.get(*keys, default=default)
        return self._to_array(value, ".".join(keys), shape)

    def _to_array(self, value: Any, where: str, shape: tuple[int | None, ...]) -> np.ndarray:
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise self.fail(
                f"{where!r} must be an array of numbers of shape {shape}, got {value!r:.80}"
            ) from None
        ok = arr.ndim == len(shape) and all(
            s is None or s == n for s, n in zip(shape, arr.shape, strict=False)
        )
        if not ok or arr.size == 0:
            raise self.fail(f"{where!r} must have shape {shape}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise self.fail(f"{where!r} holds non-finite numbers (NaN/inf); fix or regenerate the ISD")
        return arr

    def unit_scale(self, *keys: str, default: str | None = None) -> float:
        """Metres per unit of the unit name at ``keys`` (``'m'``: 1, ``'km'``: 1000)."""
        unit = self.get(*keys, default=default if default is not None else _MISSING)
        if not isinstance(unit, str) or unit.strip().lower() not in _UNITS:
            raise self.fail(f"{'.'.join(keys)!r} is {unit!r}; use 'm' or 'km'")
        return _UNITS[unit.strip().lower()]

    def text(self, *keys: str, default: str = "") -> str:
        """The value at ``keys`` as text (``""`` for None)."""
        value = self.get(*keys, default=default)
        return "" if value is None else str(value)


def _table(reader: IsdReader, key: str, value_key: str, width: int) -> tuple[np.ndarray, np.ndarray | None]:
    values = reader.array(key, value_key, shape=(None, width))
    if reader.has(key, "ephemeris_times"):
        times = reader.array(key, "ephemeris_times", shape=(None,))
        if len(times) != len(values):
            raise reader.fail(
                f"{key}.ephemeris_times has {len(times)} entries but {key}.{value_key} has {len(values)}"
            )
        if len(times) > 1 and np.any(np.diff(times) <= 0):
            raise reader.fail(f"{key}.ephemeris_times must increase strictly")
    elif len(values) > 1:
        raise reader.fail(f"{key} has {len(values)} entries but no ephemeris_times to interpolate them")
    else:
        times = None
    return values, times


def _rotation_at(reader: IsdReader, key: str, t: float | None) -> np.ndarray:
    quats, times = _table(reader, key, "quaternions", 4)
    if np.any(np.linalg.norm(quats, axis=1) < 1e-12):
        raise reader.fail(f"{key}.quaternions holds a zero quaternion")
    q = quats[0] if times is None else interpolate_quaternions(times, quats, t if t is not None else times[0])
    rot = quat_to_matrix(q)
    if reader.has(key, "constant_rotation"):
        const = reader.array(key, "constant_rotation", shape=(9,)).reshape(3, 3)
        if not np.allclose(const @ const.T, np.eye(3), atol=1e-6):
            raise reader.fail(f"{key}.constant_rotation is not a rotation matrix")
        rot = const @ rot
    return rot


def _orthonormal(m: np.ndarray) -> np.ndarray:
    """Nearest rotation to ``m`` (SVD) when ``m`` is off by rounding in the ISD's matrices."""
    if np.allclose(m @ m.T, np.eye(3), rtol=0, atol=1e-14):
        return m
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def _position_at(reader: IsdReader, key: str, t: float | None, default_unit: str) -> np.ndarray:
    pos, times = _table(reader, key, "positions", 3)
    scale = reader.unit_scale(key, "unit", default=default_unit)
    p = pos[0] if times is None else lagrange_interpolate(times, pos, t if t is not None else times[0])
    return p * scale


def _velocity_at(reader: IsdReader, key: str, t: float | None, default_unit: str) -> np.ndarray:
    if not reader.has(key, "velocities"):
        return np.zeros(3)
    try:
        vel, times = _table(reader, key, "velocities", 3)
    except BadGeometry:
        return np.zeros(3)
    if times is None and reader.has(key, "ephemeris_times"):
        times = reader.array(key, "ephemeris_times", shape=(None,))
    scale = reader.unit_scale(key, "unit", default=default_unit)
    if times is None or len(times) != len(vel):
        return vel[0] * scale
    return lagrange_interpolate(times, vel, t if t is not None else times[0]) * scale


def _legacy_vector(reader: IsdReader, key: str, default_unit: str) -> np.ndarray:
    node = reader.get(key)
    if isinstance(node, Mapping):
        scale = reader.unit_scale(key, "unit", default=default_unit)
        if "positions" in node:
            vec = reader.array(key, "positions", shape=(None, 3))[0]
        else:
            vec = np.array([reader.number(key, c) for c in "xyz"])
        return vec * scale
    return reader._to_array(node, key, (3,)) * _UNITS[default_unit]


def _legacy_quaternion(reader: IsdReader) -> np.ndarray:
    node = reader.get("sensor_orientation")
    if isinstance(node, Mapping):
        q = reader.array("sensor_orientation", "quaternions", shape=(None, 4))[0]
    else:
        q = reader._to_array(node, "sensor_orientation", (4,))
    if np.linalg.norm(q) < 1e-12:
        raise reader.fail("'sensor_orientation' is a zero quaternion")
    x, y, z, w = q
    return quat_to_matrix([w, x, y, z])


def _exact(reader: IsdReader, key: str, value: np.ndarray) -> np.ndarray:
    if not reader.has("farside", key):
        return value
    exact = reader.array("farside", key, shape=(3,))
    return exact if np.allclose(exact, value, rtol=1e-12, atol=1e-6) else value


def body_rotation_at(isd: Mapping[str, Any], t: float | None, source: str | Path | None = None) -> np.ndarray:
    """The ISD's ``body_rotation`` (J2000 -> body-fixed, constant rotation included) at
    ephemeris time ``t`` (s), a 3x3 matrix.

    Raises
    ------
    BadGeometry
        No or malformed ``body_rotation``.
    """
    reader = IsdReader(isd, source)
    reader.get("body_rotation")
    return _rotation_at(reader, "body_rotation", t)


def _frame_state(r: IsdReader, t: float | None):
    """``(position_m, velocity_m_s, cam_to_body, sun_position_m or None)`` of a frame-camera ISD,
    body-fixed (m, m/s; 3 x 3 rotation), from ALE tables at ``t`` (s) or usgscsm's legacy keys."""
    if r.has("instrument_position"):
        frames = {
            k: r.get(k, "reference_frame", default=1)
            for k in ("instrument_position", "instrument_pointing", "body_rotation", "sun_position")
            if r.has(k)
        }
        if len({str(v) for v in frames.values()}) > 1:
            raise r.fail(
                f"reference frames disagree: {frames}; positions and pointing must be given in the "
                f"frame that body_rotation starts from (J2000 = 1)"
            )
        if not r.has("instrument_pointing"):
            raise r.fail("missing key 'instrument_pointing' (ALE ISDs carry it beside instrument_position)")
        n_entries = [
            len(r.get(k, v)) if isinstance(r.get(k, v, default=None), list) else 1
            for k, v in (
                ("instrument_position", "positions"),
                ("instrument_pointing", "quaternions"),
                ("body_rotation", "quaternions"),
                ("sun_position", "positions"),
            )
            if r.has(k, v)
        ]
        if t is None and max(n_entries, default=1) > 1:
            raise r.fail("missing key 'center_ephemeris_time', needed to interpolate the ephemeris tables")
        body = _rotation_at(r, "body_rotation", t) if r.has("body_rotation") else np.eye(3)
        j2000_to_cam = _rotation_at(r, "instrument_pointing", t)
        position = body @ _position_at(r, "instrument_position", t, "km")
        velocity = body @ _velocity_at(r, "instrument_position", t, "km")
        cam_to_body = _orthonormal(body @ j2000_to_cam.T)
        if r.has("farside", "cam_to_body"):
            # bit-exact rotation written by FrameCamera.to_isd(); ignored if the quaternion
            # was edited since (then the quaternion wins)
            exact = r.array("farside", "cam_to_body", shape=(9,)).reshape(3, 3)
            if np.allclose(exact, cam_to_body, rtol=0, atol=1e-12):
                cam_to_body = exact
        sun = body @ _position_at(r, "sun_position", t, "km") if r.has("sun_position", "positions") else None
        # bit-exact body-fixed vectors written by to_isd (the km tables round them), same rule
        position = _exact(r, "position_m", position)
        velocity = _exact(r, "velocity_m_s", velocity)
        sun = None if sun is None else _exact(r, "sun_position_m", sun)
    elif r.has("sensor_position") or r.has("sensor_location"):
        key = "sensor_position" if r.has("sensor_position") else "sensor_location"
        position = _legacy_vector(r, key, "m")
        velocity = _legacy_vector(r, "sensor_velocity", "m") if r.has("sensor_velocity") else np.zeros(3)
        if not r.has("sensor_orientation"):
            raise r.fail("missing key 'sensor_orientation' (quaternion x, y, z, w camera to body-fixed)")
        cam_to_body = _legacy_quaternion(r)
        sun = _legacy_vector(r, "sun_position", "m") if r.has("sun_position") else None
    else:
        raise r.fail(
            "missing key 'instrument_position' (ALE) or 'sensor_position' (usgscsm): the ISD has no "
            "spacecraft position; regenerate it with ALE isd_generate"
        )
    return position, velocity, cam_to_body, sun


def _frame_look(
    r: IsdReader,
    look_direction: int | Mapping[str, int] | None,
    folded_look: int | None,
    name_sensor: str,
    name_platform: str,
    instrument_id: str,
) -> int:
    """The look direction (+1 or -1) of :func:`parse_frame_isd`: a negative focal length's, else
    the caller's (or its table's entry for the instrument), the ISD's, then the default."""
    if isinstance(look_direction, Mapping):
        table = {_norm_name(k): v for k, v in look_direction.items()}
        look = None
        for cand in (name_sensor, instrument_id, f"{name_platform} {name_sensor}", name_platform):
            if cand and _norm_name(cand) in table:
                look = table[_norm_name(cand)]
                break
    else:
        look = look_direction
    if folded_look is not None:
        look = folded_look
    if look is None and r.has("farside", "look_direction"):
        look = r.get("farside", "look_direction")
    if look is None:
        look = default_look_direction(name_platform, name_sensor, instrument_id)
    if look not in (1, -1):
        raise r.fail(f"look direction must be +1 or -1, got {look!r}")
    return look


def parse_frame_isd(
    isd: Any,
    source: str | Path | None = None,
    look_direction: int | Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Validate a frame-camera ISD and return :class:`FrameCamera` constructor arguments.

    Raises
    ------
    BadGeometry
        Missing keys, non-finite numbers, unknown units, singular transforms.
    UnsupportedGeometry
        A valid ISD of another sensor model (line scan, push frame, SAR, ...).
    """
    r = IsdReader(isd, source)
    name_model = r.get("name_model", default=None)
    if name_model is None:
        raise r.fail(f'missing key \'name_model\'; a frame-camera ISD says "name_model": "{FRAME_MODEL}"')
    if name_model != FRAME_MODEL:
        raise UnsupportedGeometry(
            r.source,
            f"{str(name_model)!r} is not a frame-camera ISD ({FRAME_MODEL}); read it with "
            "pipeline.geometry.load_camera, which knows every camera kind",
        )

    lines = r.positive_int("image_lines")
    samples = r.positive_int("image_samples")

    focal = r.number("focal_length_model", "focal_length")
    if focal == 0:
        raise r.fail("'focal_length_model.focal_length' must not be 0")
    # usgscsm looks along (x, y, f): a negative focal length is a camera looking along -Z
    # (how FrameCamera.to_isd writes one), whatever the instrument tables say
    folded_look = -1 if focal < 0 else None
    focal = abs(focal)
    f2l = tuple(r.array("focal2pixel_lines", shape=(3,)).tolist())
    f2s = tuple(r.array("focal2pixel_samples", shape=(3,)).tolist())
    if abs(f2l[1] * f2s[2] - f2l[2] * f2s[1]) < 1e-300:
        raise r.fail("focal2pixel_lines/focal2pixel_samples are singular (determinant 0)")
    center = (r.number("detector_center", "line"), r.number("detector_center", "sample"))
    line_summing = r.number("detector_line_summing", default=1, positive=True)
    sample_summing = r.number("detector_sample_summing", default=1, positive=True)
    start_line = r.number("starting_detector_line", default=0)
    start_sample = r.number("starting_detector_sample", default=0)

    rscale = r.unit_scale("radii", "unit")
    a = r.number("radii", "semimajor", positive=True) * rscale
    b = r.number("radii", "semiminor", default=a / rscale, positive=True) * rscale
    if r.has("reference_height"):
        hscale = r.unit_scale("reference_height", "unit", default="m")
        hrange = (
            r.number("reference_height", "minheight", default=-1000.0 / hscale) * hscale,
            r.number("reference_height", "maxheight", default=1000.0 / hscale) * hscale,
        )
    else:
        hrange = (-1000.0, 1000.0)

    try:
        distortion = Distortion.from_isd_block(r.get("optical_distortion", default=None))
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        raise r.fail(f"bad 'optical_distortion' block: {exc}") from None
    if any(not math.isfinite(c) for c in distortion.coefficients):
        raise r.fail("'optical_distortion' holds non-finite coefficients")

    t = None if r.get("center_ephemeris_time", default=None) is None else r.number("center_ephemeris_time")

    position, velocity, cam_to_body, sun = _frame_state(r, t)

    name_sensor = r.text("name_sensor")
    name_platform = r.text("name_platform")
    instrument_id = r.text("instrument_id")
    look = _frame_look(r, look_direction, folded_look, name_sensor, name_platform, instrument_id)

    return {
        "lines": int(lines),
        "samples": int(samples),
        "focal_length_mm": focal,
        "focal2pixel_lines": f2l,
        "focal2pixel_samples": f2s,
        "detector_center": center,
        "position_m": tuple(float(v) for v in position),
        "cam_to_body": tuple(float(v) for v in np.asarray(cam_to_body).ravel()),
        "radii_m": (a, b),
        "distortion": distortion,
        "look_direction": int(look),
        "line_summing": line_summing,
        "sample_summing": sample_summing,
        "starting_detector_line": start_line,
        "starting_detector_sample": start_sample,
        "sun_position_m": None if sun is None else tuple(float(v) for v in sun),
        "velocity_m_s": tuple(float(v) for v in velocity),
        "time_s": 0.0 if t is None else float(t),
        "name_sensor": name_sensor,
        "name_platform": name_platform,
        "image_identifier": r.text("image_identifier"),
        "height_range_m": hrange,
    }
