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
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import BadGeometry, GeometryError
from pipeline.geometry.body import (
    MOON_RADII_M,
    ellipsoid_normal,
    lonlat_to_xyz,
    ray_ellipsoid_intersect,
    surface_radius,
    wrap_lon_deg,
    xyz_to_lonlat,
    xyz_to_lonlat_deg,
)
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.isd import FRAME_MODEL, default_look_direction, parse_frame_isd
from pipeline.geometry.rotation import matrix_to_quat, rotvec_to_matrix

if TYPE_CHECKING:  # pragma: no cover
    from pipeline.geometry.dem import Dem
    from pipeline.geometry.grid import MapGrid

log = logging.getLogger(__name__)

__all__ = ["FrameCamera", "footprint_contains_pole", "default_look_direction"]

# ISD keys that to_isd() rewrites from the camera (everything else of a source ISD is kept).
_GEOMETRY_KEYS = (
    "name_model",
    "image_lines",
    "image_samples",
    "center_ephemeris_time",
    "focal_length_model",
    "focal2pixel_lines",
    "focal2pixel_samples",
    "detector_center",
    "detector_line_summing",
    "detector_sample_summing",
    "starting_detector_line",
    "starting_detector_sample",
    "optical_distortion",
    "radii",
    "reference_height",
    "instrument_position",
    "instrument_pointing",
    "body_rotation",
    "sun_position",
    "sensor_position",
    "sensor_location",
    "sensor_orientation",
    "sensor_velocity",
    "sun_velocity",
    "name_sensor",
    "name_platform",
    "farside",
)

_DEM_TOL_M = 1e-3
_DEM_MAX_ITER = 60


def _as_float_tuple(values, n: int | None, name: str) -> tuple[float, ...]:
    arr = np.asarray(values, dtype=float).ravel()
    if n is not None and arr.size != n:
        raise GeometryError(f"{name} must have {n} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} holds non-finite values: {arr.tolist()}")
    return tuple(float(v) for v in arr)


@dataclass(frozen=True)
class FrameCamera:
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
    position : tuple of 3 float
        Camera centre, body-fixed metres (see :attr:`position_m`).
    rotation : tuple of 9 float
        ``cam_to_body`` row-major (see :attr:`cam_to_body`).
    radii : (a, b)
        Equatorial and polar radius of the reference ellipsoid, metres.
    distortion : Distortion
        Optical distortion model.
    look_direction : {1, -1}
        The camera looks along ``look_direction * Z`` of its frame.
    line_summing, sample_summing : float
        Detector summing.
    starting_detector_line, starting_detector_sample : float
        Detector coordinate of image coordinate 0.
    sun_position : tuple of 3 float or None
        Sun, body-fixed metres.
    velocity : tuple of 3 float
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
    position: tuple[float, float, float]
    rotation: tuple[float, ...]
    radii: tuple[float, float] = MOON_RADII_M
    distortion: Distortion = Distortion()
    look_direction: int = 1
    line_summing: float = 1.0
    sample_summing: float = 1.0
    starting_detector_line: float = 0.0
    starting_detector_sample: float = 0.0
    sun_position: tuple[float, float, float] | None = None
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
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
        set_(self, "position", _as_float_tuple(self.position, 3, "position"))
        set_(self, "rotation", _as_float_tuple(self.rotation, 9, "rotation"))
        set_(self, "radii", _as_float_tuple(self.radii, 2, "radii"))
        set_(self, "velocity", _as_float_tuple(self.velocity, 3, "velocity"))
        set_(self, "height_range_m", _as_float_tuple(self.height_range_m, 2, "height_range_m"))
        if self.sun_position is not None:
            set_(self, "sun_position", _as_float_tuple(self.sun_position, 3, "sun_position"))
        if min(self.radii) <= 0:
            raise GeometryError(f"radii must be positive, got {self.radii}")
        rot = np.array(self.rotation).reshape(3, 3)
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
            position=tuple(np.asarray(position_m, dtype=float).ravel()),
            rotation=tuple(np.asarray(cam_to_body, dtype=float).ravel()),
            radii=tuple(radii_m),
            distortion=Distortion.radial(radial_k),
            look_direction=1,
            sun_position=None if sun_position_m is None else tuple(np.asarray(sun_position_m, float).ravel()),
            time_s=time_s,
            name_sensor=name_sensor,
            name_platform=name_platform,
        )

    # -- properties -----------------------------------------------------------------------
    @property
    def position_m(self) -> np.ndarray:
        """Camera centre, body-fixed metres, shape (3,)."""
        return np.array(self.position)

    @property
    def sun_position_m(self) -> np.ndarray | None:
        """Sun position, body-fixed metres, shape (3,), or None."""
        return None if self.sun_position is None else np.array(self.sun_position)

    @property
    def cam_to_body(self) -> np.ndarray:
        """Rotation (3, 3): ``v_body = cam_to_body @ v_cam``."""
        return np.array(self.rotation).reshape(3, 3)

    @property
    def radii_m(self) -> tuple[float, float]:
        """``(a, b)``: equatorial and polar radius, metres."""
        return self.radii

    @property
    def shape(self) -> tuple[int, int]:
        """``(lines, samples)``."""
        return (self.lines, self.samples)

    @property
    def image_center(self) -> tuple[float, float]:
        """``(lines / 2, samples / 2)``: image coordinate of the image centre."""
        return (self.lines / 2.0, self.samples / 2.0)

    @cached_property
    def _rot(self) -> np.ndarray:
        return np.array(self.rotation).reshape(3, 3)

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

    def image_to_ground(self, line, sample, height=0.0) -> np.ndarray:
        """Body-fixed ground point (m) of image coordinates, usgscsm ``imageToGround``.

        Intersects the ray with the ellipsoid ``(a + h, a + h, b + h)``; where the ray
        misses, returns the ray's point of closest approach to the (scaled) body centre, and
        where the body is behind the camera the intersection behind it, both exactly as
        usgscsm does. Use :meth:`image_to_ground_hit` to know which points are real.

        Parameters
        ----------
        line, sample : array_like
            Image coordinates (broadcast together).
        height : float or array_like
            Height above the reference ellipsoid, metres.

        Returns
        -------
        ndarray of shape (..., 3)
        """
        xyz, _, _ = ray_ellipsoid_intersect(
            self.position_m, self.look_vectors(line, sample), self.radii, height
        )
        return xyz

    def image_to_ground_hit(
        self, line, sample, height=0.0, dem: Dem | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ground points and whether each ray really meets the body.

        Parameters
        ----------
        line, sample : array_like
            Image coordinates.
        height : float or array_like
            Height above the reference ellipsoid (m); with a DEM, used where the DEM has no
            data.
        dem : Dem, optional
            Terrain: the ray/terrain intersection is found by iterating ray/ellipsoid
            intersections at the DEM height under the current point (converged to 1 mm;
            damped after 10 iterations). Points that do not converge get ``hit=False``.

        Returns
        -------
        xyz : ndarray of shape (..., 3)
            Body-fixed metres (as :meth:`image_to_ground` where ``hit`` is False).
        hit : ndarray of bool, shape (...)
            True where the ray meets the surface in front of the camera.
        """
        look = self.look_vectors(line, sample)
        pos = self.position_m
        shape = look.shape[:-1]
        h = np.broadcast_to(np.asarray(height, dtype=float), shape)
        xyz, hit, _ = ray_ellipsoid_intersect(pos, look, self.radii, h)
        if dem is None:
            return xyz, hit
        look = look.reshape(-1, 3)
        h = h.ravel()
        xyz = xyz.reshape(-1, 3)
        hit = hit.ravel()
        h_cur = np.array(h, dtype=float)
        active = hit.copy()
        converged = ~hit
        for it in range(_DEM_MAX_ITER):
            if not active.any():
                break
            idx = np.flatnonzero(active)
            pts = xyz[idx]
            lon, lat = xyz_to_lonlat(pts)
            h_dem = dem.radius_m(lon, lat) - surface_radius(lat, self.radii)
            h_dem = np.where(np.isfinite(h_dem), h_dem, h[idx])
            omega = 1.0 if it < 10 else 0.5
            h_new = h_cur[idx] + omega * (h_dem - h_cur[idx])
            new_xyz, new_hit, _ = ray_ellipsoid_intersect(pos, look[idx], self.radii, h_new)
            moved = np.linalg.norm(new_xyz - pts, axis=-1)
            xyz[idx] = new_xyz
            h_cur[idx] = h_new
            hit[idx] = new_hit
            done = (moved < _DEM_TOL_M) | ~new_hit
            converged[idx[done]] = True
            active[idx[done]] = False
        return xyz.reshape(shape + (3,)), (hit & converged).reshape(shape)

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
        facing = np.einsum("...i,...i->...", ellipsoid_normal(xyz, self.radii), to_cam) > 0
        depth = ((xyz - self.position_m) @ self._rot)[..., 2] * self.look_direction
        return facing & (depth > 0)

    def grid_to_image(
        self, grid: MapGrid, dem: Dem | None = None, height: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates of every pixel centre of a map grid (for orthorectification).

        Parameters
        ----------
        grid : MapGrid
            Output grid (any lunar CRS); its pixel centres are converted to planetocentric
            lon/lat with pyproj.
        dem : Dem, optional
            Terrain heights; ``height`` (m above the reference ellipsoid) where the DEM
            has no data or when there is no DEM.

        Returns
        -------
        line, sample : ndarray of shape ``grid.shape``
            NaN where the ground point is off the map projection, faces away from the
            camera (far hemisphere, see :meth:`visible`) or is behind it. Coordinates
            outside the image are returned as they are.
        """
        lon_deg, lat_deg = grid.lonlat()
        lon = np.radians(lon_deg)
        lat = np.radians(lat_deg)
        h = np.full(lon.shape, float(height))
        if dem is not None:
            h_dem = dem.radius_m(lon, lat) - surface_radius(lat, self.radii)
            h = np.where(np.isfinite(h_dem), h_dem, h)
        xyz = lonlat_to_xyz(lon, lat, h, self.radii)
        ok = np.all(np.isfinite(xyz), axis=-1)
        xyz = np.where(ok[..., None], xyz, self.radii[0])  # placeholder, masked below
        line, sample = self.ground_to_image(xyz)
        keep = ok & self.visible(xyz)
        return np.where(keep, line, np.nan), np.where(keep, sample, np.nan)

    # -- derived quantities ---------------------------------------------------------------
    def illumination_angles(self, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidence, emission and phase angles (radians) at body-fixed points.

        Angles are measured from the outward ellipsoid normal through each point (for the
        Moon sphere: the radius vector) to the directions to the Sun and to the camera;
        phase is the angle between those two directions.

        Raises
        ------
        GeometryError
            The camera has no Sun position.
        """
        if self.sun_position is None:
            raise GeometryError(
                f"camera {self.name_sensor or '(unnamed)'} has no sun_position; illumination "
                f"angles need the ISD's sun_position"
            )
        xyz = np.asarray(xyz, dtype=float)
        n = ellipsoid_normal(xyz, self.radii)
        to_sun = self.sun_position_m - xyz
        to_cam = self.position_m - xyz
        return _angle(n, to_sun), _angle(n, to_cam), _angle(to_sun, to_cam)

    def check_boresight(self) -> None:
        """Raise :class:`GeometryError` unless the ray through the image centre meets the body.

        usgscsm never checks this: a camera whose look direction is wrong (e.g. -Z
        instruments read as +Z) silently lands on the far hemisphere.
        """
        look = self.look_vectors(*self.image_center)
        _, hit, t = ray_ellipsoid_intersect(self.position_m, look, self.radii, 0.0)
        if not bool(hit):
            away = float(np.dot(look, -self.position_m)) <= 0
            raise GeometryError(
                f"camera {self.name_platform} {self.name_sensor}".rstrip()
                + f" (image {self.image_identifier or '?'}): the ray through the image centre "
                + ("points away from the body" if away else "misses the body")
                + f" (look_direction={self.look_direction:+d}); the look direction is probably "
                f"wrong: set look_direction={-self.look_direction:+d} for this instrument "
                f"(ingest.look_direction in the config)"
            )

    def gsd_m(self) -> float:
        """Ground sample distance (m/pixel) at the image centre on the reference ellipsoid:
        the mean ground length of one pixel step along lines and along samples."""
        cl, cs = self.image_center
        lines = np.array([cl - 0.5, cl + 0.5, cl, cl])
        samples = np.array([cs, cs, cs - 0.5, cs + 0.5])
        xyz, hit = self.image_to_ground_hit(lines, samples)
        if not hit.all():
            raise GeometryError("the image centre does not see the body; no ground sample distance")
        return float(0.5 * (np.linalg.norm(xyz[1] - xyz[0]) + np.linalg.norm(xyz[3] - xyz[2])))

    def sub_spacecraft_deg(self) -> tuple[float, float]:
        """Planetocentric ``(lon, lat)`` in degrees (lon -180..180) below the spacecraft."""
        lon, lat = xyz_to_lonlat_deg(self.position_m)
        return float(lon), float(lat)

    # -- footprint ------------------------------------------------------------------------
    def border_coords(self, n_per_edge: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates along the outer edges of the border pixels, clockwise from the
        upper-left corner: ``4 * n_per_edge`` points, corners once each."""
        n = int(n_per_edge)
        if n < 1:
            raise ValueError(f"n_per_edge must be >= 1, got {n}")
        u = np.arange(n) / n
        L, S = float(self.lines), float(self.samples)
        line = np.concatenate([np.zeros(n), u * L, np.full(n, L), (1 - u) * L])
        sample = np.concatenate([u * S, np.full(n, S), (1 - u) * S, np.zeros(n)])
        return line, sample

    def footprint_xyz(self, n_per_edge: int = 32, height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """On-body outline of the image (body-fixed m, shape (4 n, 3)) and which vertices are
        limb points (bool, shape (4 n,)): border rays that miss the body are replaced by the
        last on-body point on the image line from an interior point to them.

        Raises
        ------
        GeometryError
            No part of the image sees the body.
        """
        bl, bs = self.border_coords(n_per_edge)
        xyz, hit = self.image_to_ground_hit(bl, bs, height)
        limb = ~hit
        if limb.any():
            al, as_ = self._interior_anchor(height)
            ml, ms = bl[limb], bs[limb]
            lo = np.zeros(ml.shape)
            hi = np.ones(ml.shape)
            for _ in range(48):  # bisection to ~1e-14 of the segment
                mid = 0.5 * (lo + hi)
                _, h_mid = self.image_to_ground_hit(al + mid * (ml - al), as_ + mid * (ms - as_), height)
                lo = np.where(h_mid, mid, lo)
                hi = np.where(h_mid, hi, mid)
            xyz[limb] = self.image_to_ground(al + lo * (ml - al), as_ + lo * (ms - as_), height)
        return xyz, limb

    def _interior_anchor(self, height: float) -> tuple[float, float]:
        cl, cs = self.image_center
        _, hit = self.image_to_ground_hit(cl, cs, height)
        if bool(hit):
            return cl, cs
        gl, gs = np.meshgrid(np.linspace(0, self.lines, 65), np.linspace(0, self.samples, 65), indexing="ij")
        _, hits = self.image_to_ground_hit(gl, gs, height)
        if not hits.any():
            raise GeometryError(
                f"no part of image {self.image_identifier or '?'} sees the body "
                f"(look_direction={self.look_direction:+d}); no footprint"
            )
        d = (gl - cl) ** 2 + (gs - cs) ** 2
        i = int(np.argmin(np.where(hits, d, np.inf)))
        return float(gl.ravel()[i]), float(gs.ravel()[i])

    def footprint_deg(self, n_per_edge: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Footprint polygon on the reference ellipsoid: longitudes and latitudes in degrees.

        The ring follows the outer edges of the border pixels clockwise in the image
        (``4 * n_per_edge`` vertices, corners included once; the ring is *open*: the last
        vertex is not a repeat of the first). Only on-body points are used: where border
        rays miss the body (limb in view) the vertex is the limb point on the way from an
        interior point of the image.

        Longitudes are continuous (unwrapped: no jump at +-180, so they may leave
        -180..180, e.g. 175..185), with the ring's mean longitude in [-180, 180).

        A footprint containing a pole winds once around it; it is returned *closed over the
        pole*: after the ring's last vertex come the first vertex shifted by +-360 deg and
        two vertices at latitude +-90 (at that shifted and at the first longitude), so the
        polygon is valid in the plate-carree (lon, lat) plane and covers the polar cap.
        :func:`footprint_contains_pole` tells which pole (+1 north, -1 south, 0 none).
        """
        xyz, _ = self.footprint_xyz(n_per_edge)
        lon, lat = xyz_to_lonlat_deg(xyz)
        lon = np.unwrap(lon, period=360.0)
        closing = float(wrap_lon_deg(lon[0] - lon[-1]))
        winding = lon[-1] + closing - lon[0]
        if abs(winding) > 180.0:
            pole = 90.0 if lat[np.argmax(np.abs(lat))] > 0 else -90.0
            lon = lon - 360.0 * math.floor((lon[0] + 180.0) / 360.0)
            end = lon[0] + winding
            lon = np.concatenate([lon, [end, end, lon[0]]])
            lat = np.concatenate([lat, [lat[0], pole, pole]])
            return lon, lat
        lon = lon - 360.0 * math.floor((lon.mean() + 180.0) / 360.0)
        return lon, lat

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
        return dataclasses.replace(self, rotation=tuple(rot.ravel()), position=tuple(pos))

    def to_isd(self) -> dict[str, Any]:
        """ALE-format frame ISD of this camera.

        Geometry is written in the body-fixed frame at one instant: positions in metres,
        ``body_rotation`` the identity, one ephemeris entry at ``center_ephemeris_time``;
        ``instrument_pointing`` then holds the body-to-camera quaternion ``(w, x, y, z)``.
        The look direction is kept in a ``farside`` block. Fields of the source ISD that are
        not geometry (``naif_keywords``, ``image_identifier``, ...) are kept, so a real ISD
        re-exported after a correction keeps its metadata. ``from_isd(to_isd())``
        reproduces the camera (to rounding of the quaternion).
        """
        base: dict[str, Any] = {}
        if self.source_isd:
            try:
                base = {k: v for k, v in json.loads(self.source_isd).items() if k not in _GEOMETRY_KEYS}
            except (json.JSONDecodeError, AttributeError):
                base = {}
        t = float(self.time_s)
        q = matrix_to_quat(self._rot.T)  # J2000 (= body-fixed here) -> camera
        zero = [[0.0, 0.0, 0.0]]
        isd: dict[str, Any] = {
            "name_model": FRAME_MODEL,
            "name_platform": self.name_platform,
            "name_sensor": self.name_sensor,
            **base,
            "image_lines": self.lines,
            "image_samples": self.samples,
            "center_ephemeris_time": t,
            "focal_length_model": {"focal_length": self.focal_length_mm},
            "focal2pixel_lines": list(self.focal2pixel_lines),
            "focal2pixel_samples": list(self.focal2pixel_samples),
            "detector_center": {"line": self.detector_center[0], "sample": self.detector_center[1]},
            "detector_line_summing": self.line_summing,
            "detector_sample_summing": self.sample_summing,
            "starting_detector_line": self.starting_detector_line,
            "starting_detector_sample": self.starting_detector_sample,
            "optical_distortion": self.distortion.to_isd_block(),
            "radii": {"semimajor": self.radii[0], "semiminor": self.radii[1], "unit": "m"},
            "reference_height": {
                "minheight": self.height_range_m[0],
                "maxheight": self.height_range_m[1],
                "unit": "m",
            },
            "instrument_position": {
                "unit": "m",
                "positions": [list(self.position)],
                "velocities": [list(self.velocity)],
                "ephemeris_times": [t],
                "reference_frame": 1,
            },
            "instrument_pointing": {
                "quaternions": [q.tolist()],
                "angular_velocities": zero,
                "ephemeris_times": [t],
                "reference_frame": 1,
                "constant_frames": [1],
                "time_dependent_frames": [1],
            },
            "body_rotation": {
                "quaternions": [[1.0, 0.0, 0.0, 0.0]],
                "angular_velocities": zero,
                "ephemeris_times": [t],
                "reference_frame": 1,
                "constant_frames": [1],
                "time_dependent_frames": [1],
            },
            # exact copy of the rotation, used by from_isd when it agrees with the quaternion
            "farside": {"look_direction": self.look_direction, "cam_to_body": list(self.rotation)},
        }
        if self.image_identifier:
            isd["image_identifier"] = self.image_identifier
        if self.sun_position is not None:
            isd["sun_position"] = {
                "unit": "m",
                "positions": [list(self.sun_position)],
                "velocities": zero,
                "ephemeris_times": [t],
                "reference_frame": 1,
            }
        return isd


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between vectors along the last axis (stable arctan2 form)."""
    a, b = np.broadcast_arrays(a, b)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.einsum("...i,...i->...", a, b)
    return np.arctan2(cross, dot)


def footprint_contains_pole(lon_deg, lat_deg) -> int:
    """Which pole a footprint ring contains: +1 north, -1 south, 0 none.

    Accepts a ring as returned by :meth:`FrameCamera.footprint_deg` (already closed over
    the pole with vertices at latitude +-90) or any open ring of vertices, whose
    longitudes may be wrapped or continuous: a ring that winds once around the polar axis
    contains the pole on the side of its most poleward vertex.
    """
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    at_pole = np.abs(lat) >= 90.0 - 1e-9
    if at_pole.any():
        return int(np.sign(lat[at_pole][0]))
    steps = wrap_lon_deg(np.diff(np.concatenate([lon, lon[:1]])))
    if abs(float(np.sum(steps))) > 180.0:
        return 1 if lat[np.argmax(np.abs(lat))] > 0 else -1
    return 0
