"""The USGS CSM frame camera (usgscsm ``UsgsAstroFrameSensorModel`` semantics), vectorised.

Conventions
-----------
Image coordinates
    ``(line, sample)``; the upper-left corner of the image is ``(0, 0)`` and the centre of
    the first pixel is ``(0.5, 0.5)``, so array index ``i`` sits at coordinate ``i + 0.5``.
Pixel -> focal plane (usgscsm ``computeDistortedFocalPlaneCoordinates``)
    ``detector_line = line * line_summing + starting_detector_line`` (same for samples);
    ``detector_line - detector_center.line = L0 + L1 x + L2 y`` and
    ``detector_sample - detector_center.sample = S0 + S1 x + S2 y`` with
    ``focal2pixel_lines = (L0, L1, L2)``, ``focal2pixel_samples = (S0, S1, S2)``;
    ``(x, y)`` are distorted focal-plane millimetres.
Camera frame
    The look vector of undistorted focal-plane ``(x, y)`` is ``(x, y, s * f)`` with ``f``
    the focal length (mm) and ``s = look_direction`` (+1: the camera looks along +Z, as
    usgscsm always assumes; -1: along -Z, ISIS's convention for Apollo Metric/Panoramic and
    Lunar Orbiter High/Medium).
Rotation
    ``cam_to_body`` (3x3) takes camera-frame vectors to body-fixed ones:
    ``v_body = cam_to_body @ v_cam``. From an ALE ISD,
    ``cam_to_body = body_rotation(t) @ instrument_pointing(t).T`` where both rotate J2000
    into their frame (quaternions ``(w, x, y, z)``, ``constant_rotation @ R(q)``).
Body
    Body-fixed metres; the reference surface is the ellipsoid ``radii = (a, b)`` (the Moon:
    a 1 737 400 m sphere). Image -> ground intersects ``(a + h, a + h, b + h)``.

All methods broadcast over arrays of any shape and contain no per-pixel Python loops.
Footprints, illumination angles, ground sample distance and the boresight check come from
:class:`~pipeline.geometry.cameras.base.CameraBase`, shared by every camera kind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import BadGeometry, GeometryError
from pipeline.geometry.body import MOON_RADII_M, ellipsoid_normal
from pipeline.geometry.cameras.base import CameraBase
from pipeline.geometry.cameras.frame_isd import frame_isd
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.isd import parse_frame_isd
from pipeline.geometry.rotation import rotvec_to_matrix

log = logging.getLogger(__name__)

__all__ = ["FrameCamera"]

def _as_float_tuple(values, n: int | None, name: str) -> tuple[float, ...]:
    arr = np.asarray(values, dtype=float).ravel()
    if n is not None and arr.size != n:
        raise GeometryError(f"{name} must have {n} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} holds non-finite values: {arr.tolist()}")
    return tuple(float(v) for v in arr)


_ARRAY_FIELDS = ("position_m", "cam_to_body", "sun_position_m", "velocity_m_s")


def _frozen_array(values, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.array(values, dtype=float).reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} holds non-finite values: {arr.ravel().tolist()}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)  # holds arrays: equality and hash from _key()
class FrameCamera(CameraBase):
    """A frame camera at one instant, in the body-fixed frame.

    Construct it with :meth:`from_isd` / :meth:`from_file` (an ALE or usgscsm ISD) or
    :meth:`build` (a simple synthetic camera). Instances are immutable, hashable and cheap
    to pickle; :meth:`with_pointing_correction` returns an adjusted copy.

    Attributes
    ----------
    lines, samples : int
        Image size in pixels.
    focal_length_mm : float
        Focal length, millimetres.
    focal2pixel_lines, focal2pixel_samples : tuple of 3 float
        Focal plane (mm) to detector lines / samples, ``(c0, c_x, c_y)`` (ISD keys).
    detector_center : (line, sample)
        Detector coordinates of the focal-plane origin (ISD ``detector_center``).
    position_m : ndarray of shape (3,)
        Camera centre, body-fixed metres (read-only).
    cam_to_body : ndarray of shape (3, 3)
        Rotation taking camera-frame vectors to body-fixed ones, ``v_body = cam_to_body @ v_cam``
        (read-only).
    radii_m : (a, b)
        Equatorial and polar radius of the reference ellipsoid, metres.
    distortion : Distortion
        Optical distortion model.
    look_direction : {1, -1}
        The camera looks along ``look_direction * Z`` of its frame.
    line_summing, sample_summing : float
        Detector summing.
    starting_detector_line, starting_detector_sample : float
        Detector coordinate of image coordinate 0.
    sun_position_m : ndarray of shape (3,) or None
        Sun, body-fixed metres.
    velocity_m_s : ndarray of shape (3,)
        Spacecraft velocity, body-fixed m/s (informational; frames have no motion model).
    time_s : float
        Ephemeris time of the exposure (ISD ``center_ephemeris_time``), seconds.
    name_sensor, name_platform, image_identifier : str
    height_range_m : (min, max)
        ISD ``reference_height`` in metres.
    source_isd : str or None
        JSON of the ISD this camera came from; :meth:`to_isd` keeps its non-geometry
        fields (``naif_keywords``, ids, ...). Not part of equality.
    """

    lines: int
    samples: int
    focal_length_mm: float
    focal2pixel_lines: tuple[float, float, float]
    focal2pixel_samples: tuple[float, float, float]
    detector_center: tuple[float, float]
    position_m: np.ndarray
    cam_to_body: np.ndarray
    radii_m: tuple[float, float] = MOON_RADII_M
    distortion: Distortion = Distortion()
    look_direction: int = 1
    line_summing: float = 1.0
    sample_summing: float = 1.0
    starting_detector_line: float = 0.0
    starting_detector_sample: float = 0.0
    sun_position_m: np.ndarray | None = None
    velocity_m_s: np.ndarray = (0.0, 0.0, 0.0)
    time_s: float = 0.0
    name_sensor: str = ""
    name_platform: str = ""
    image_identifier: str = ""
    height_range_m: tuple[float, float] = (-1000.0, 1000.0)
    source_isd: str | None = field(default=None, compare=False, repr=False)

    # -- validation -----------------------------------------------------------------------
    def __post_init__(self):
        set_ = object.__setattr__
        if (
            int(self.lines) != self.lines
            or self.lines <= 0
            or int(self.samples) != self.samples
            or self.samples <= 0
        ):
            raise GeometryError(f"image size must be positive integers, got {self.lines} x {self.samples}")
        set_(self, "lines", int(self.lines))
        set_(self, "samples", int(self.samples))
        if not (math.isfinite(self.focal_length_mm) and self.focal_length_mm > 0):
            raise GeometryError(f"focal length must be positive, got {self.focal_length_mm} mm")
        set_(self, "focal_length_mm", float(self.focal_length_mm))
        set_(self, "focal2pixel_lines", _as_float_tuple(self.focal2pixel_lines, 3, "focal2pixel_lines"))
        set_(self, "focal2pixel_samples", _as_float_tuple(self.focal2pixel_samples, 3, "focal2pixel_samples"))
        set_(self, "detector_center", _as_float_tuple(self.detector_center, 2, "detector_center"))
        set_(self, "position_m", _frozen_array(self.position_m, (3,), "position_m"))
        set_(self, "cam_to_body", _frozen_array(self.cam_to_body, (3, 3), "cam_to_body"))
        set_(self, "radii_m", _as_float_tuple(self.radii_m, 2, "radii_m"))
        set_(self, "velocity_m_s", _frozen_array(self.velocity_m_s, (3,), "velocity_m_s"))
        set_(self, "height_range_m", _as_float_tuple(self.height_range_m, 2, "height_range_m"))
        if self.sun_position_m is not None:
            set_(self, "sun_position_m", _frozen_array(self.sun_position_m, (3,), "sun_position_m"))
        if min(self.radii_m) <= 0:
            raise GeometryError(f"radii must be positive, got {self.radii_m}")
        rot = self.cam_to_body
        if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-9) or np.linalg.det(rot) < 0:
            raise GeometryError("cam_to_body is not a proper rotation matrix (orthonormal, det +1)")
        if self.look_direction not in (1, -1):
            raise GeometryError(f"look_direction must be +1 or -1, got {self.look_direction}")
        l1, l2 = self.focal2pixel_lines[1:]
        s1, s2 = self.focal2pixel_samples[1:]
        if l1 * s2 - l2 * s1 == 0:
            raise GeometryError("focal2pixel transform is singular")
        if self.line_summing <= 0 or self.sample_summing <= 0:
            raise GeometryError("detector summing must be positive")

    # -- identity (arrays compare by value; the source ISD text is not part of it) ------------
    def _key(self) -> tuple:
        out = []
        for f in fields(self):
            if not f.compare:
                continue
            v = getattr(self, f.name)
            out.append(tuple(v.ravel().tolist()) if isinstance(v, np.ndarray) else v)
        return tuple(out)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __dask_tokenize__(self) -> tuple:
        return (type(self).__name__, self._key())

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in _ARRAY_FIELDS:
            value = state.get(name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def from_isd(
        cls,
        isd: Mapping[str, Any],
        *,
        look_direction: int | Mapping[str, int] | None = None,
        source: str | Path | None = None,
    ) -> FrameCamera:
        """Camera of a USGS CSM frame ISD (ALE format, or older usgscsm keys).

        Parameters
        ----------
        isd : dict
            The parsed ISD (see :mod:`pipeline.geometry.isd` for the accepted layouts).
        look_direction : {1, -1}, dict or None
            +1: the camera looks along +Z of the instrument frame, -1: along -Z. A dict maps
            instrument names (``name_sensor``, ``instrument_id`` or ``name_platform``; case
            and spaces/hyphens ignored) to +1/-1 and overrides the built-in table
            (:data:`pipeline.geometry.isd.LOOK_MINUS_Z_RULES`) for those instruments.
            ``None``: a ``farside.look_direction`` key written by :meth:`to_isd`, else the
            built-in table (Apollo Metric/Panoramic and Lunar Orbiter High/Medium: -1;
            others +1).
        source : str or Path, optional
            File the ISD came from, named in error messages.

        Raises
        ------
        BadGeometry
            Missing keys, non-finite numbers, bad units, singular transforms.
        pipeline.errors.UnsupportedGeometry
            The ISD is not a frame camera (e.g. "not supported: line-scan ...").
        """
        kwargs = parse_frame_isd(isd, source, look_direction)
        try:
            text = json.dumps(isd, allow_nan=True)
        except (TypeError, ValueError):
            text = None
        try:
            return cls(**kwargs, source_isd=text)
        except GeometryError as exc:
            raise BadGeometry(source or "<in-memory ISD>", str(exc)) from None

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> FrameCamera:
        """Camera of an ISD JSON sidecar file (keyword arguments as :meth:`from_isd`).

        Raises
        ------
        BadGeometry
            The file cannot be read, is not JSON, or is not a valid frame ISD.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadGeometry(path, f"cannot read the ISD sidecar: {exc}") from None
        try:
            isd = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadGeometry(
                path,
                f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                f"regenerate the sidecar with ALE isd_generate",
            ) from None
        kw.setdefault("source", path)
        return cls.from_isd(isd, **kw)

    @classmethod
    def build(
        cls,
        *,
        lines: int,
        samples: int,
        focal_length_mm: float,
        pixel_pitch_mm: float,
        position_m,
        cam_to_body,
        radii_m: tuple[float, float] = MOON_RADII_M,
        radial_k=(0.0, 0.0, 0.0),
        sun_position_m=None,
        time_s: float = 0.0,
        name_sensor: str = "FARSIDE_SIM",
        name_platform: str = "FARSIDE_SIM",
    ) -> FrameCamera:
        """A simple frame camera (used by the sample generator and tests).

        The detector centre is the image centre ``(lines / 2, samples / 2)``; pixels are
        square with pitch ``p`` mm and the focal plane maps as
        ``focal2pixel_samples = (0, 1/p, 0)`` (focal x -> samples) and
        ``focal2pixel_lines = (0, 0, 1/p)`` (focal y -> lines), i.e.
        ``sample = samples/2 + x/p``, ``line = lines/2 + y/p``. The camera looks along +Z;
        camera x points along increasing samples, y along increasing lines (right-handed).

        Parameters
        ----------
        position_m : array_like (3,)
            Camera centre, body-fixed metres.
        cam_to_body : array_like (3, 3)
            Rotation taking camera-frame vectors to body-fixed ones.
        radial_k : (k0, k1, k2)
            usgscsm radial distortion coefficients (mm-based, ``k1`` in mm^-2, ...).
        sun_position_m : array_like (3,), optional
            Sun, body-fixed metres.
        """
        if not pixel_pitch_mm > 0:
            raise GeometryError(f"pixel pitch must be positive, got {pixel_pitch_mm} mm")
        k = 1.0 / float(pixel_pitch_mm)
        return cls(
            lines=lines,
            samples=samples,
            focal_length_mm=focal_length_mm,
            focal2pixel_lines=(0.0, 0.0, k),
            focal2pixel_samples=(0.0, k, 0.0),
            detector_center=(lines / 2.0, samples / 2.0),
            position_m=position_m,
            cam_to_body=cam_to_body,
            radii_m=tuple(radii_m),
            distortion=Distortion.radial(radial_k),
            look_direction=1,
            sun_position_m=sun_position_m,
            time_s=time_s,
            name_sensor=name_sensor,
            name_platform=name_platform,
        )

    # -- sensor model -----------------------------------------------------------------------
    @property
    def _rot(self) -> np.ndarray:
        return self.cam_to_body

    @cached_property
    def _pix_to_focal(self) -> np.ndarray:
        l1, l2 = self.focal2pixel_lines[1:]
        s1, s2 = self.focal2pixel_samples[1:]
        return np.linalg.inv(np.array([[l1, l2], [s1, s2]]))

    # -- focal plane ----------------------------------------------------------------------
    def image_to_focal(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """Distorted focal-plane ``(x, y)`` (mm) of image coordinates ``(line, sample)``."""
        line, sample = np.broadcast_arrays(np.asarray(line, float), np.asarray(sample, float))
        det_l = line * self.line_summing + self.starting_detector_line
        det_s = sample * self.sample_summing + self.starting_detector_sample
        t1 = det_l - self.detector_center[0] - self.focal2pixel_lines[0]
        t2 = det_s - self.detector_center[1] - self.focal2pixel_samples[0]
        p = self._pix_to_focal
        return p[0, 0] * t1 + p[0, 1] * t2, p[1, 0] * t1 + p[1, 1] * t2

    def focal_to_image(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(line, sample)`` of distorted focal-plane ``(x, y)`` (mm)."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        fl, fs = self.focal2pixel_lines, self.focal2pixel_samples
        det_l = fl[0] + fl[1] * x + fl[2] * y + self.detector_center[0]
        det_s = fs[0] + fs[1] * x + fs[2] * y + self.detector_center[1]
        return (
            (det_l - self.starting_detector_line) / self.line_summing,
            (det_s - self.starting_detector_sample) / self.sample_summing,
        )

    # -- rays -----------------------------------------------------------------------------
    def _camera_rays(self, line, sample) -> np.ndarray:
        x, y = self.image_to_focal(line, sample)
        ux, uy = self.distortion.remove(x, y)
        return np.stack([ux, uy, np.full(ux.shape, self.look_direction * self.focal_length_mm)], axis=-1)

    def look_vectors(self, line, sample) -> np.ndarray:
        """Unit look directions (body-fixed) of image coordinates, shape ``(..., 3)``."""
        rays = self._camera_rays(line, sample) @ self._rot.T
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)

    def rays(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """Ray origin (the camera centre, shape (3,)) and unit look directions ``(..., 3)``
        of image coordinates, body-fixed."""
        return self.position_m, self.look_vectors(line, sample)

    def position_at(self, line) -> np.ndarray:
        """Camera centre (body-fixed m, shape (3,)): a frame has one position for all lines."""
        return self.position_m

    def observer_position(self, xyz) -> np.ndarray:
        """The camera centre, shape (3,), for every ground point."""
        return self.position_m

    def ground_to_image(self, xyz) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates of body-fixed points, usgscsm ``groundToImage``.

        Parameters
        ----------
        xyz : array_like of shape (..., 3)
            Body-fixed metres.

        Returns
        -------
        line, sample : ndarray of shape (...)
            NaN for points behind the camera (or at its centre). Points outside the image
            get coordinates outside ``[0, lines] x [0, samples]``. No occlusion test: see
            :meth:`visible`.
        """
        xyz = np.asarray(xyz, dtype=float)
        cam = (xyz - self.position_m) @ self._rot  # = cam_to_body.T @ d
        depth = cam[..., 2] * self.look_direction
        front = depth > 0
        safe = np.where(front, depth, 1.0)
        f = self.focal_length_mm
        ux = np.where(front, f * cam[..., 0] / safe, np.nan)
        uy = np.where(front, f * cam[..., 1] / safe, np.nan)
        dx, dy = self.distortion.apply(ux, uy)
        return self.focal_to_image(dx, dy)

    def visible(self, xyz) -> np.ndarray:
        """True where a surface point faces the camera (emission < 90 deg on the ellipsoid
        normal) and lies in front of it; bool array of shape (...)."""
        xyz = np.asarray(xyz, dtype=float)
        to_cam = self.position_m - xyz
        facing = np.einsum("...i,...i->...", ellipsoid_normal(xyz, self.radii_m), to_cam) > 0
        depth = ((xyz - self.position_m) @ self._rot)[..., 2] * self.look_direction
        return facing & (depth > 0)

    # -- adjustment and export ------------------------------------------------------------
    def with_pointing_correction(self, rotvec_rad, position_offset_m=None) -> FrameCamera:
        """Copy with a small pointing (and position) correction.

        Parameters
        ----------
        rotvec_rad : array_like (3,)
            Rotation vector (axis * angle, radians) in the **camera** frame:
            ``cam_to_body' = cam_to_body @ R(rotvec)``.
        position_offset_m : array_like (3,), optional
            Added to the position (body-fixed metres).
        """
        rot = self._rot @ rotvec_to_matrix(rotvec_rad)
        if not np.allclose(rot @ rot.T, np.eye(3), rtol=0, atol=1e-14):
            # re-orthonormalise (SVD) so many successive corrections do not drift
            u, _, vt = np.linalg.svd(rot)
            rot = u @ vt
        pos = self.position_m
        if position_offset_m is not None:
            pos = pos + np.asarray(position_offset_m, dtype=float).reshape(3)
        return dataclasses.replace(self, cam_to_body=rot, position_m=pos)

    def to_isd(self, *, frame: str = "auto", provenance: str | None = None) -> dict[str, Any]:
        """ALE-format frame ISD of this camera (:func:`~pipeline.geometry.cameras.frame_isd.frame_isd`).

        Positions in km, one ephemeris entry at ``center_ephemeris_time``; ``frame="auto"``
        writes J2000 geometry when the source ISD has a J2000 ``body_rotation`` and body-fixed
        geometry (labelled with the body frame's NAIF code, identity ``body_rotation``)
        otherwise; a -Z look direction is written as a negative focal length, as usgscsm
        expects. Non-geometry fields of the source ISD (``naif_keywords``, ids, ...) are
        kept; ``_provenance`` is rewritten. ``from_isd(to_isd())`` reproduces the camera
        bit for bit.
        """
        return frame_isd(self, frame=frame, provenance=provenance)
