"""Writing a frame camera as an ALE-format ISD that usgscsm-based tools read as farside does.

Conventions of the written ISD (those of ALE's ``isd_generate`` and of usgscsm's
``UsgsAstroFrameSensorModel::constructStateFromIsd``, which ignores ``unit`` keys):

- ``instrument_position`` and ``sun_position`` in **kilometres** (km/s for velocities), one
  entry at ``center_ephemeris_time``; ``radii`` in km; ``reference_height`` in metres.
- Quaternions scalar first ``(w, x, y, z)``; ``instrument_pointing`` rotates the
  ``reference_frame`` into the camera frame, ``body_rotation`` rotates it into the body-fixed
  frame (usgscsm: camera -> body = body_rotation x pointing^-1).
- **Frames labelled as they are.** ``frame="j2000"``: positions and pointing in J2000
  (``reference_frame`` 1) and ``body_rotation`` the source ISD's J2000 -> body rotation at
  the exposure (one entry, its constant rotation folded in), so the file is an ordinary ALE
  ISD. ``frame="body_fixed"``: everything in the body-fixed frame (``reference_frame`` the
  body frame's NAIF code: the source's ``naif_keywords.BODY_FRAME_CODE``, else 31001,
  MOON_ME) and ``body_rotation`` the identity. ``"auto"``: J2000 when the source ISD has a
  J2000 ``body_rotation`` to convert with, else body-fixed.
- **Look direction in the focal length's sign.** usgscsm forms the look vector
  ``(x, y, f)`` and projects with ``f * x / z``, so a camera looking along -Z of its frame
  (ISIS's convention for Apollo Metric/Panoramic, Lunar Orbiter High/Medium) is written with
  ``focal_length = -f``: usgscsm then computes exactly farside's geometry, and
  :func:`pipeline.geometry.isd.parse_frame_isd` reads the negative focal length back as
  ``look_direction = -1``.
- ``_provenance`` says what wrote the file (the source's text is kept under
  ``farside.source_provenance``); ``farside`` also keeps bit-exact copies of the body-fixed
  rotation and vectors, used on reading only while they agree with the standard keys.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from pipeline import __version__
from pipeline.geometry.isd import FRAME_MODEL, body_rotation_at
from pipeline.geometry.rotation import matrix_to_quat

__all__ = ["GEOMETRY_KEYS", "J2000", "MOON_ME", "frame_isd"]

J2000 = 1
"""NAIF frame code of J2000."""

MOON_ME = 31001
"""NAIF frame code of the Moon's mean-Earth/polar-axis body-fixed frame (default body frame)."""

FRAMES = ("auto", "j2000", "body_fixed")

GEOMETRY_KEYS = (
    "name_model", "image_lines", "image_samples", "center_ephemeris_time", "focal_length_model",
    "focal2pixel_lines", "focal2pixel_samples", "detector_center", "detector_line_summing",
    "detector_sample_summing", "starting_detector_line", "starting_detector_sample", "optical_distortion",
    "radii", "reference_height", "instrument_position", "instrument_pointing", "body_rotation",
    "sun_position", "sensor_position", "sensor_location", "sensor_orientation", "sensor_velocity",
    "sun_velocity", "name_sensor", "name_platform", "farside", "_provenance",
)
"""ISD keys rewritten from the camera; every other key of a source ISD is kept."""


def _source(camera) -> dict[str, Any]:
    if not camera.source_isd:
        return {}
    try:
        src = json.loads(camera.source_isd)
    except json.JSONDecodeError:
        return {}
    return src if isinstance(src, dict) else {}


def _body_frame_code(src: dict[str, Any]) -> int:
    code = (src.get("naif_keywords") or {}).get("BODY_FRAME_CODE")
    return int(code) if isinstance(code, (int, float)) and not isinstance(code, bool) else MOON_ME


def _sensor_frame_code(src: dict[str, Any]) -> int | None:
    pointing = src.get("instrument_pointing") or {}
    for key in ("constant_frames", "time_dependent_frames"):
        codes = pointing.get(key)
        if isinstance(codes, list) and codes and isinstance(codes[0], int):
            return codes[0]
    return None


def _rotation_block(quat: np.ndarray, t: float, reference: int, destination: int | None) -> dict[str, Any]:
    """One rotation at ``t`` (``reference`` -> ``destination`` frame). ALE's parser needs a
    ``constant_rotation`` wherever ``time_dependent_frames`` is given: the identity here."""
    frames = [reference] if destination is None or destination == reference else [destination, reference]
    return {
        "quaternions": [quat.tolist()],
        "angular_velocities": [[0.0, 0.0, 0.0]],
        "ephemeris_times": [t],
        "reference_frame": reference,
        "time_dependent_frames": frames,
        "constant_frames": frames[:1],
        "constant_rotation": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    }


def _vector_block(pos_m: np.ndarray, vel_m_s: np.ndarray, t: float, reference: int) -> dict[str, Any]:
    return {
        "unit": "km",
        "positions": [(pos_m / 1000.0).tolist()],
        "velocities": [(vel_m_s / 1000.0).tolist()],
        "ephemeris_times": [t],
        "reference_frame": reference,
    }


def frame_isd(camera, *, frame: str = "auto", provenance: str | None = None) -> dict[str, Any]:
    """ALE-format frame ISD of a :class:`~pipeline.geometry.cameras.frame.FrameCamera`.

    Parameters
    ----------
    camera : FrameCamera
    frame : {"auto", "j2000", "body_fixed"}
        Frame of the positions and pointing (see the module docstring). ``"j2000"`` needs a
        source ISD with a J2000 ``body_rotation``.
    provenance : str, optional
        The ``_provenance`` text (default: "written by farside <version> from <image>").

    Returns
    -------
    dict
        JSON-ready; ``FrameCamera.from_isd`` of it reproduces the camera bit for bit, and
        usgscsm computes the same image <-> ground mapping from it.

    Raises
    ------
    ValueError
        Unknown ``frame``, or ``"j2000"`` without a source body rotation.

    Examples
    --------
    >>> from pipeline.geometry import FrameCamera
    >>> down = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    >>> cam = FrameCamera.build(lines=8, samples=8, focal_length_mm=100.0, pixel_pitch_mm=0.18,
    ...                         position_m=(-1_837_400.0, 0.0, 0.0), cam_to_body=down)
    >>> isd = frame_isd(cam)
    >>> isd["instrument_position"]["positions"], isd["instrument_position"]["reference_frame"]
    ([[-1837.4, 0.0, 0.0]], 31001)
    >>> FrameCamera.from_isd(isd) == cam
    True
    """
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {', '.join(FRAMES)}, got {frame!r}")
    src = _source(camera)
    t = float(camera.time_s)
    body = None
    if frame != "body_fixed" and src.get("body_rotation") is not None:
        frames = {str(src.get(k, {}).get("reference_frame", J2000)) for k in ("instrument_position", "body_rotation")
                  if isinstance(src.get(k), dict)}
        if frames == {str(J2000)}:
            body = body_rotation_at(src, t)
    if frame == "j2000" and body is None:
        raise ValueError(
            f"{camera.image_identifier or 'camera'}: cannot write J2000 geometry without the source ISD's "
            "J2000 body_rotation; write it body-fixed (frame='body_fixed')"
        )
    if body is None:  # body-fixed: the reference frame is the body's, body_rotation the identity
        ref = _body_frame_code(src)
        body = np.eye(3)
        label = f"body-fixed (NAIF frame {ref})"
    else:
        ref = J2000
        label = "J2000 (reference_frame 1), body_rotation J2000 -> body-fixed"
    rot = camera.cam_to_body
    j2000_to_cam = rot.T @ body  # cam_to_body = body @ j2000_to_cam.T
    base = {k: v for k, v in src.items() if k not in GEOMETRY_KEYS}
    what = camera.image_identifier or "a farside FrameCamera"
    text = provenance or f"written by farside {__version__} from {what}"
    isd: dict[str, Any] = {
        "name_model": FRAME_MODEL,
        "name_platform": camera.name_platform,
        "name_sensor": camera.name_sensor,
        **base,
        "_provenance": f"{text}; geometry {label}",  # no clock time: same camera, same bytes
        "image_lines": camera.lines,
        "image_samples": camera.samples,
        "center_ephemeris_time": t,
        # usgscsm looks along (x, y, f): a -Z camera is a negative focal length
        "focal_length_model": {"focal_length": camera.look_direction * camera.focal_length_mm},
        "focal2pixel_lines": list(camera.focal2pixel_lines),
        "focal2pixel_samples": list(camera.focal2pixel_samples),
        "detector_center": {"line": camera.detector_center[0], "sample": camera.detector_center[1]},
        "detector_line_summing": camera.line_summing,
        "detector_sample_summing": camera.sample_summing,
        "starting_detector_line": camera.starting_detector_line,
        "starting_detector_sample": camera.starting_detector_sample,
        "optical_distortion": camera.distortion.to_isd_block(),
        "radii": {"semimajor": camera.radii_m[0] / 1000.0, "semiminor": camera.radii_m[1] / 1000.0, "unit": "km"},
        "reference_height": {"minheight": camera.height_range_m[0], "maxheight": camera.height_range_m[1],
                             "unit": "m"},
        "instrument_position": _vector_block(body.T @ camera.position_m, body.T @ camera.velocity_m_s, t, ref),
        "instrument_pointing": _rotation_block(matrix_to_quat(j2000_to_cam), t, ref, _sensor_frame_code(src)),
        "body_rotation": _rotation_block(matrix_to_quat(body), t, ref, _body_frame_code(src)),
        "farside": {
            "frame": "j2000" if ref == J2000 else "body_fixed",
            # bit-exact body-fixed copies; from_isd uses them only while they agree with the keys above
            "cam_to_body": rot.ravel().tolist(),
            "position_m": camera.position_m.tolist(),
            "velocity_m_s": camera.velocity_m_s.tolist(),
        },
    }
    if src.get("_provenance"):
        isd["farside"]["source_provenance"] = src["_provenance"]
    if camera.image_identifier:
        isd["image_identifier"] = camera.image_identifier
    if camera.sun_position_m is not None:
        isd["sun_position"] = _vector_block(body.T @ camera.sun_position_m, np.zeros(3), t, ref)
        isd["farside"]["sun_position_m"] = camera.sun_position_m.tolist()
    return isd
