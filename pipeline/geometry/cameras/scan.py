"""What line-scan and push-frame cameras share (usgscsm ``UsgsAstroLs``/``PushFrameSensorModel``).

:class:`ScanCamera` is the base of :class:`~pipeline.geometry.cameras.linescan.LineScanCamera` and
:class:`~pipeline.geometry.cameras.pushframe.PushFrameCamera`; only the time of an image line, the
focal-plane line of a pixel and the ground-to-image search differ between them.

Conventions
-----------
Image coordinates
    ``(line, sample)``, upper-left image corner ``(0, 0)``, centre of the first pixel
    ``(0.5, 0.5)`` (CSM / usgscsm). Arrays broadcast; there are no per-pixel Python loops.
Time
    Seconds of ephemeris time (TDB); methods take and return time **relative to**
    :attr:`ScanCamera.time_s` (the ISD's ``center_ephemeris_time``), as usgscsm does.
Pixel to focal plane (usgscsm ``computeDistortedFocalPlaneCoordinates``)
    ``detector_line = focal_line * line_summing + starting_detector_line`` (``focal_line``: 0
    for a line scanner, the line inside the framelet for a push frame),
    ``detector_sample = sample * sample_summing + starting_detector_sample``, then the inverse
    of ``focal2pixel_lines/samples`` about ``detector_center``; distorted millimetres.
Camera frame
    The look vector of undistorted focal-plane ``(x, y)`` mm is ``s * (x, y, f)`` with
    ``s = look_direction``. usgscsm's ``losToEcf`` builds ``(-x, -y, -f)``, the *negative* look
    vector (it negates it for its imaging locus), and intersects the whole line through the
    sensor (root of smaller ``|scale|``), so its ground points do not depend on the sign; ISDs
    whose instrument looks along -Z (Apollo Panoramic; usgscsm's synthetic orbital ISDs, whose
    quaternions are read as ``(w, x, y, z)``) then still land on the body. ``from_isd`` sets
    ``s`` so that the ray through the image centre points at the body's side (+1 for LRO, Kaguya,
    Chandrayaan); it orients :meth:`ScanCamera.rays` and the depth of
    :meth:`ScanCamera.detector_view` and changes no ground or image coordinate.
    ``cam_to_body(t) = R(q(t))``, ``q`` the interpolated ``(x, y, z, w)`` quaternion
    (:mod:`pipeline.geometry.ephemeris`).
Body
    Body-fixed metres; the reference surface is the ellipsoid ``radii = (a, b)``; image to
    ground intersects ``(a + h, a + h, b + h)`` and keeps the root of smaller ``|scale|``; a ray
    that misses returns the point of the ray nearest the ellipsoid (discriminant clamped to 0)
    and ``hit = False`` (usgscsm ``losEllipsoidIntersect`` and its ``NO_INTERSECTION`` warning:
    usgscsm images the whole line through the sensor, so ``hit`` does not ask which side).
Pointing corrections
    Stages ``(rot_coeffs, position_coeffs)``, each a polynomial in ``tau = t / half_duration_s``:
    ``cam_to_body'(t) = cam_to_body(t) @ R(sum_j rot_coeffs[j] tau**j)`` (rotation vector in
    the camera frame, radians), ``position'(t) = position(t) + sum_j position_coeffs[j] tau**j``
    (body-fixed metres). Later stages multiply on the right.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pipeline.errors import BadGeometry, GeometryError
from pipeline.geometry.body import ellipsoid_normal
from pipeline.geometry.cameras.base import CameraBase
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.ephemeris import CsmEphemeris, PicklesWithoutCache
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.scan_export import restore_corrections, scan_to_isd
from pipeline.geometry.scan_isd import parse_scan_isd, read_isd_argument
from pipeline.geometry.scan_math import (
    angle_between,
    as_coeff_rows,
    distorted_focal_plane,
    ellipsoid_intersect,
    ephemeris_time_to_utc,
    poly_derivative,
    poly_eval,
    rotvec_matrices,
)
from pipeline.geometry.terrain_ray import dem_intersect

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.geometry.dem import Dem

__all__ = ["ScanCamera"]

_UNIQUE_MIN = 2048


@dataclass(frozen=True, kw_only=True)
class ScanCamera(CameraBase, PicklesWithoutCache):
    """Base of the scanning cameras (not instantiated directly).

    Attributes
    ----------
    lines, samples : int
        Image size in pixels (push frame: after removing the framelet overlap).
    focal_length_mm : float
    focal2pixel_lines, focal2pixel_samples : tuple of 3 float
    detector_center : (line, sample)
    ephemeris : CsmEphemeris
        usgscsm's uniform tables (positions, velocities, quaternions, sun), body-fixed.
    radii_m : (a, b)
        Reference ellipsoid, metres.
    distortion : Distortion
    line_summing, sample_summing, starting_detector_line, starting_detector_sample : float
    starting_time_s : float
        ISD ``starting_ephemeris_time`` (absolute ET, s).
    name_sensor, name_platform, image_identifier : str
    height_range_m : (min, max)
    look_direction : {1, -1}
        The sensor looks along ``look_direction * Z`` of its frame (see the module docstring).
    corrections : tuple
        Pointing/position correction stages (see the module docstring).
    source_isd : str or None
        JSON of the source ISD (not part of equality); :meth:`to_isd` keeps its other fields.
    """

    kind: ClassVar[str] = "scan"
    name_model: ClassVar[str] = ""
    #: Rows of the correction polynomial a bundle adjustment solves for (constant + linear
    #: drift in normalised time: the pointing of a scan changes while it is taken).
    correction_degree: ClassVar[int] = 2

    lines: int
    samples: int
    focal_length_mm: float
    focal2pixel_lines: tuple[float, float, float]
    focal2pixel_samples: tuple[float, float, float]
    detector_center: tuple[float, float]
    ephemeris: CsmEphemeris
    radii_m: tuple[float, float] = (MOON_RADIUS_M, MOON_RADIUS_M)
    distortion: Distortion = field(default_factory=Distortion)
    line_summing: float = 1.0
    sample_summing: float = 1.0
    starting_detector_line: float = 0.0
    starting_detector_sample: float = 0.0
    starting_time_s: float = 0.0
    name_sensor: str = ""
    name_platform: str = ""
    image_identifier: str = ""
    height_range_m: tuple[float, float] = (-1000.0, 1000.0)
    look_direction: int = 1
    corrections: tuple = ()
    source_isd: str | None = field(default=None, compare=False, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        set_ = object.__setattr__
        for name in ("lines", "samples"):
            v = getattr(self, name)
            if int(v) != v or v <= 0:
                raise GeometryError(
                    f"image size must be positive integers, got {self.lines} x {self.samples}"
                )
            set_(self, name, int(v))
        floats = ("focal_length_mm", "line_summing", "sample_summing", "starting_detector_line",
                  "starting_detector_sample", "starting_time_s")  # fmt: skip
        for name in floats:
            v = float(getattr(self, name))
            if not math.isfinite(v):
                raise GeometryError(f"{name} is not finite")
            set_(self, name, v)
        if self.focal_length_mm <= 0 or self.line_summing <= 0 or self.sample_summing <= 0:
            raise GeometryError("focal length and detector summing must be positive")
        for name, n in (("focal2pixel_lines", 3), ("focal2pixel_samples", 3), ("detector_center", 2),
                        ("radii_m", 2), ("height_range_m", 2)):  # fmt: skip
            arr = np.asarray(getattr(self, name), dtype=float).ravel()
            if arr.size != n or not np.all(np.isfinite(arr)):
                raise GeometryError(f"{name} must be {n} finite numbers")
            set_(self, name, tuple(float(v) for v in arr))
        if self.look_direction not in (1, -1):
            raise GeometryError(f"look_direction must be +1 or -1, got {self.look_direction}")
        if min(self.radii_m) <= 0:
            raise GeometryError(f"radii must be positive, got {self.radii_m}")
        if self.focal2pixel_lines[1] * self.focal2pixel_samples[2] == (
            self.focal2pixel_lines[2] * self.focal2pixel_samples[1]
        ):
            raise GeometryError("focal2pixel transform is singular")
        set_(self, "corrections", tuple(_stage(rot, pos) for rot, pos in self.corrections))

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def from_isd(cls, isd, *, source=None, **kw: Any):
        """Camera of an ALE ISD (a mapping, a path to a JSON sidecar or JSON text).

        Raises
        ------
        BadGeometry
            Missing keys, non-finite numbers, bad units or tables.
        pipeline.errors.UnsupportedGeometry
            The ISD describes another kind of camera (see :func:`pipeline.geometry.load_camera`).
        """
        data, path = read_isd_argument(isd, cls.kind)
        src = source if source is not None else path
        model, kwargs = parse_scan_isd(data, src)
        if model != cls.name_model:
            raise BadGeometry(
                src or "<in-memory ISD>",
                f"name_model is {model!r}, not {cls.name_model!r}; use pipeline.geometry.load_camera",
            )
        kwargs.update(kw)
        try:
            text = json.dumps(data, allow_nan=True)
        except (TypeError, ValueError):
            text = None
        try:
            farside = data.get("farside") if isinstance(data.get("farside"), dict) else {}
            if "look_direction" not in kwargs and farside.get("look_direction") in (1, -1):
                kwargs["look_direction"] = farside["look_direction"]
            cam = cls(**kwargs, source_isd=text)
            if "look_direction" not in kwargs:
                cam = cam._facing_body()
            return restore_corrections(cam, data, src)
        except (GeometryError, KeyError, TypeError, ValueError) as exc:
            raise BadGeometry(src or "<in-memory ISD>", f"{type(exc).__name__}: {exc}") from None

    @classmethod
    def from_file(cls, path, **kw: Any):
        """Camera of an ISD JSON sidecar file (keywords as :meth:`from_isd`)."""
        return cls.from_isd(Path(path), **kw)

    def _facing_body(self):
        """A copy of this camera with ``look_direction`` chosen so that the image centre's ray points at
        the body's side (positive component towards the body centre)."""
        origin, d = self.rays(*self.image_center)
        return (
            self
            if float(np.dot(d, -origin)) >= 0
            else dataclasses.replace(self, look_direction=-self.look_direction)
        )

    # -- basic properties -------------------------------------------------------------------
    @property
    def time_s(self) -> float:
        """Centre ephemeris time (absolute ET, s); relative times are measured from it."""
        return self.ephemeris.center_time

    @property
    def sun_position_m(self) -> np.ndarray | None:
        """Sun, body-fixed metres, shape (3,), at the centre time (relative time 0); None without one."""
        s = self.ephemeris.sun_position(0.0)
        return None if s is None else np.asarray(s, dtype=float).reshape(3)

    @property
    def position_m(self) -> np.ndarray:
        """Sensor position (body-fixed metres, shape (3,)) at the image centre line."""
        return np.asarray(self.position_at(self.image_center[0]), dtype=float).reshape(3)

    @property
    def half_duration_s(self) -> float:  # pragma: no cover - overridden
        """Half the exposure span of the image (s) about :attr:`time_s`."""
        raise NotImplementedError

    def line_time(self, line) -> np.ndarray:  # pragma: no cover - overridden
        """Time (s, relative to :attr:`time_s`) at which image ``line`` was exposed."""
        raise NotImplementedError

    def _focal_line(self, line) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- ephemeris with corrections ---------------------------------------------------------
    def _correction(self, t) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """(camera-frame rotation or None, position offset, velocity offset) at times ``t``."""
        t = np.asarray(t, dtype=float)
        rot = None
        dp = np.zeros(t.shape + (3,))
        dv = np.zeros(t.shape + (3,))
        half = self.half_duration_s
        tau = t / half
        for rc, pc in self.corrections:
            r = rotvec_matrices(poly_eval(rc, tau))
            rot = r if rot is None else rot @ r
            if pc is not None:
                dp = dp + poly_eval(pc, tau)
                dv = dv + poly_derivative(pc, tau) / half
        return rot, dp, dv

    def _unique(self, t: np.ndarray):
        flat = t.ravel()
        if flat.size >= _UNIQUE_MIN:
            uniq, inv = np.unique(flat, return_inverse=True)
            if uniq.size * 2 <= flat.size:
                return uniq, inv
        return flat, None

    def position_at_time(self, t) -> np.ndarray:
        """Sensor position (m, body-fixed, corrections applied) at relative times ``t``."""
        t = np.asarray(t, dtype=float)
        p = self.ephemeris.position(t)
        if self.corrections:
            p = p + self._correction(t)[1]
        return p

    def velocity_at_time(self, t) -> np.ndarray:
        """Sensor velocity (m/s, body-fixed, corrections applied) at relative times ``t``."""
        t = np.asarray(t, dtype=float)
        v = self.ephemeris.velocity(t)
        if self.corrections:
            v = v + self._correction(t)[2]
        return v

    def cam_to_body_at_time(self, t) -> np.ndarray:
        """Camera-to-body rotations (corrections applied), shape ``t.shape + (3, 3)``."""
        t = np.asarray(t, dtype=float)
        r = self.ephemeris.cam_to_body(t)
        if self.corrections:
            rc = self._correction(t)[0]
            if rc is not None:
                r = r @ rc
        return r

    def _pose(self, t, share: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Position and camera-to-body rotation at relative times (with ``share``, repeated
        times, e.g. all samples of one line, are evaluated once)."""
        t = np.asarray(t, dtype=float)
        u, inv = self._unique(t) if share else (t.ravel(), None)
        p, r = self.position_at_time(u), self.cam_to_body_at_time(u)
        if inv is not None:
            p, r = p[inv], r[inv]
        return p.reshape(t.shape + (3,)), r.reshape(t.shape + (3, 3))

    def position_at(self, line) -> np.ndarray:
        """Sensor position (m, body-fixed) when image ``line`` was exposed, shape ``(..., 3)``."""
        return self.position_at_time(self.line_time(line))

    def velocity_at(self, line) -> np.ndarray:
        """Sensor velocity (m/s, body-fixed) when image ``line`` was exposed, shape ``(..., 3)``."""
        return self.velocity_at_time(self.line_time(line))

    def sun_position_at(self, line) -> np.ndarray | None:
        """Sun (m, body-fixed) when image ``line`` was exposed (usgscsm ``getSunPosition``)."""
        return self.ephemeris.sun_position(self.line_time(line))

    # -- focal plane and rays ---------------------------------------------------------------
    def image_to_focal(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """Distorted focal-plane ``(x, y)`` mm of image coordinates."""
        line, sample = np.broadcast_arrays(np.asarray(line, float), np.asarray(sample, float))
        return distorted_focal_plane(
            self._focal_line(line), sample, self.detector_center[1], self.detector_center[0],
            self.sample_summing, self.line_summing, self.starting_detector_sample,
            self.starting_detector_line, self.focal2pixel_samples, self.focal2pixel_lines,
        )  # fmt: skip

    def camera_look(self, line, sample) -> np.ndarray:
        """Unit look vectors in the camera frame, ``s * (ux, uy, f) / norm``, shape ``(..., 3)``."""
        ux, uy = self.distortion.remove(*self.image_to_focal(line, sample))
        look = np.stack([ux, uy, np.full(ux.shape, self.focal_length_mm)], axis=-1)
        look = look / np.sqrt(np.sum(look * look, axis=-1, keepdims=True))
        return look if self.look_direction == 1 else -look

    def rays(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """Ray origins (sensor position at the line's time) and unit directions, body-fixed
        metres, both of the broadcast shape of ``line`` and ``sample`` plus ``(3,)`` (the
        origins may be a read-only broadcast view)."""
        line = np.asarray(line, dtype=float)
        sample = np.asarray(sample, dtype=float)
        pos, rot = self._pose(self.line_time(line))
        look = self.camera_look(line, sample)
        d = np.einsum("...ij,...j->...i", rot, look)
        shape = np.broadcast_shapes(line.shape, sample.shape) + (3,)
        return np.broadcast_to(pos, shape), d

    def image_to_ground(self, line, sample, height=0.0) -> np.ndarray:
        """Body-fixed ground points (m), usgscsm ``imageToGround`` (misses included: the point
        of the ray nearest the ellipsoid), shape ``(..., 3)``."""
        o, d = self.rays(line, sample)
        return ellipsoid_intersect(o, d, self.radii_m, height)[0]

    def image_to_ground_hit(self, line, sample, height=0.0, dem: Dem | None = None):
        """Ground points (m) and whether each ray meets the surface in front of the sensor.

        With a :class:`~pipeline.geometry.dem.Dem`, the ray/terrain intersection is iterated
        as in :meth:`pipeline.geometry.FrameCamera.image_to_ground_hit` (ray/ellipsoid
        at the DEM height under the current point, secant steps to 1 mm,
        :func:`pipeline.geometry.terrain_ray.dem_intersect`; ``height`` where the DEM has no
        data); points that do not converge get ``hit = False``.

        Returns
        -------
        xyz : ndarray of shape (..., 3)
        hit : ndarray of bool, shape (...)
            False where the ray misses (usgscsm's ``NO_INTERSECTION``; ``xyz`` is then the
            point of the ray nearest the ellipsoid) or the DEM iteration does not converge.
        """
        o, d = self.rays(line, sample)
        h = np.broadcast_to(np.asarray(height, dtype=float), d.shape[:-1])
        if dem is None:
            return ellipsoid_intersect(o, d, self.radii_m, h)
        return dem_intersect(o, d, self.radii_m, h, dem, ellipsoid_intersect)

    def detector_view(self, t, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Port of usgscsm ``computeDetectorView``: undistorted focal-plane ``(x, y)`` mm of body-fixed
        points seen at relative times ``t``, and the camera-frame depth along the look axis
        (positive in front of the sensor)."""
        return self._project(*self._pose(t, share=False), xyz)

    def _project(self, pos, rot, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`detector_view` from the sensor position(s) and camera-to-body rotation(s)."""
        cam = np.einsum("...ji,...j->...i", rot, np.asarray(xyz, dtype=float) - pos)
        scale = self.focal_length_mm / cam[..., 2]
        return cam[..., 0] * scale, cam[..., 1] * scale, cam[..., 2] * self.look_direction

    def ground_to_image(self, xyz, precision: float = 1e-8):  # pragma: no cover - overridden
        """Image ``(line, sample)`` (px) of body-fixed points ``xyz`` (m)."""
        raise NotImplementedError

    # -- derived quantities ---------------------------------------------------------------
    def visible(self, xyz) -> np.ndarray:
        """True where a surface point faces the sensor (positive emission cosine on the
        ellipsoid normal) at the time of the line that images it (the line ground to image
        finds; False where it is not finite). No front / back test: usgscsm's scanning models
        image the whole line through the sensor (see the module docstring)."""
        xyz = np.asarray(xyz, dtype=float)
        line, _ = self.ground_to_image(xyz)
        ok = np.isfinite(line)
        pos = self.position_at_time(self.line_time(np.where(ok, line, 0.0)))
        facing = np.einsum("...i,...i->...", ellipsoid_normal(xyz, self.radii_m), pos - xyz) > 0
        return ok & facing

    def illumination_angles(self, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidence, emission and phase (radians) at body-fixed points; the observer and the
        Sun are taken at the time of the line that images each point.

        Raises
        ------
        GeometryError
            The ISD has no ``sun_position``.
        """
        self._require_sun()
        xyz = np.asarray(xyz, dtype=float)
        line, _ = self.ground_to_image(xyz)
        t = self.line_time(np.where(np.isfinite(line), line, 0.0))
        n = ellipsoid_normal(xyz, self.radii_m)
        to_sun = self.ephemeris.sun_position(t) - xyz
        to_cam = self.position_at_time(t) - xyz
        return angle_between(n, to_sun), angle_between(n, to_cam), angle_between(to_sun, to_cam)

    def illumination_direction(self, xyz) -> np.ndarray:
        """Port of usgscsm ``getIlluminationDirection``: unit vectors from the Sun to body-fixed points,
        the Sun taken at the time of the line that images each point, shape ``(..., 3)``."""
        self._require_sun()
        xyz = np.asarray(xyz, dtype=float)
        line, _ = self.ground_to_image(xyz)
        d = xyz - self.ephemeris.sun_position(self.line_time(line))
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def _require_sun(self) -> None:
        if not self.ephemeris.has_sun:
            raise GeometryError(
                f"camera {self.name_sensor or '(unnamed)'} has no sun_position; illumination "
                f"needs the ISD's sun_position (regenerate it with ALE isd_generate)"
            )

    def gsd_m(self) -> float:
        """Ground sample distance (m/pixel) at the image centre on the ellipsoid: the mean
        ground length of one pixel step along lines and along samples."""
        cl, cs = self.image_center
        xyz, hit = self.image_to_ground_hit(
            np.array([cl - 0.5, cl + 0.5, cl, cl]), np.array([cs, cs, cs - 0.5, cs + 0.5])
        )
        if not hit.all():
            raise GeometryError("the image centre does not see the body; no ground sample distance")
        return float(0.5 * (np.linalg.norm(xyz[1] - xyz[0]) + np.linalg.norm(xyz[3] - xyz[2])))

    # -- adjustment and export ------------------------------------------------------------
    def with_pointing_correction(self, rot_coeffs, position_coeffs=None):
        """Copy with a pointing (and position) correction polynomial in normalised time.

        Parameters
        ----------
        rot_coeffs : array_like of shape (k, 3)
            ``rotvec(tau) = sum_j rot_coeffs[j] * tau**j`` (radians, camera frame),
            ``tau = t / half_duration_s``; ``cam_to_body'(t) = cam_to_body(t) @ R(rotvec)``.
            A single ``(3,)`` vector is the constant (k = 1) case.
        position_coeffs : array_like of shape (k2, 3), optional
            Body-fixed offset (m) ``sum_j position_coeffs[j] * tau**j`` added to the position.

        Corrections compose: correcting a corrected camera applies the new stage after the
        earlier ones (on the right).
        """
        stage = _stage(rot_coeffs, position_coeffs)
        return dataclasses.replace(self, corrections=self.corrections + (stage,))

    def reference_date_time(self) -> str:
        """Port of usgscsm ``getReferenceDateAndTime``: UTC of the (whole-second truncated) time of the
        line that sees the image centre's ground point."""
        ref = self.image_to_ground(*self.image_center, 0.0)
        line, _ = self.ground_to_image(ref)
        return ephemeris_time_to_utc(math.trunc(self.time_s + float(self.line_time(line))))

    def to_isd(self) -> dict[str, Any]:
        """ALE-schema ISD of this camera (body-fixed, corrections baked into the tables); see
        :func:`pipeline.geometry.scan_export.scan_to_isd`. ``from_isd(to_isd())`` reproduces
        the camera (image to ground to ~1e-9 m)."""
        return scan_to_isd(self)


def _stage(rot, pos) -> tuple:
    """One correction stage as tuples: ``(rot_coeffs rows, position_coeffs rows or None)``."""
    return (as_coeff_rows(rot, "rot_coeffs"), None if pos is None else as_coeff_rows(pos, "position_coeffs"))
