"""What every camera kind shares: :class:`CameraBase`, built on the kind's sensor model.

A camera kind (frame, line-scan, push-frame) implements the sensor model itself:
``rays`` (image -> body-fixed rays), ``ground_to_image``, ``position_at`` (where the sensor
was when it took an image line), ``visible``, ``with_pointing_correction`` and ``to_isd``.
:class:`CameraBase` builds everything else on those, once for all kinds: ray/ellipsoid and
ray/DEM intersection, illumination angles, ground sample distance, the boresight check and
footprints (:mod:`pipeline.geometry.footprint`).

Conventions (all kinds): image coordinates ``(line, sample)``, the upper-left image corner
is ``(0, 0)`` and the centre of the first pixel ``(0.5, 0.5)``; body-fixed metres; radians.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import GeometryError
from pipeline.geometry import footprint as _footprint
from pipeline.geometry.body import ray_ellipsoid_intersect, xyz_to_lonlat_deg
from pipeline.geometry.illumination import illumination_angles
from pipeline.geometry.terrain_ray import dem_intersect

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.dem import Dem

__all__ = ["CameraBase"]

class CameraBase:
    """Methods shared by every camera kind, built on the kind's sensor model.

    Subclasses provide ``lines``, ``samples``, ``radii_m``, ``sun_position_m``,
    ``image_identifier``, :meth:`rays`, :meth:`ground_to_image`, :meth:`position_at` and
    :meth:`visible`; they may override any method here with an exact equivalent.
    """

    # -- sizes ----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(lines, samples)``."""
        return (self.lines, self.samples)

    @property
    def image_center(self) -> tuple[float, float]:
        """``(lines / 2, samples / 2)``: image coordinate of the image centre."""
        return (self.lines / 2.0, self.samples / 2.0)

    # -- image -> ground ------------------------------------------------------------------
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
        origin, look = self.rays(line, sample)
        xyz, _, _ = ray_ellipsoid_intersect(origin, look, self.radii_m, height)
        return xyz

    def image_to_ground_hit(self, line, sample, height=0.0, dem: Dem | None = None) -> tuple[np.ndarray, np.ndarray]:
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
            intersections at the DEM height under the current point (secant steps, to 1 mm:
            :func:`pipeline.geometry.terrain_ray.dem_intersect`). Points that do not converge
            get ``hit=False``.

        Returns
        -------
        xyz : ndarray of shape (..., 3)
            Body-fixed metres (as :meth:`image_to_ground` where ``hit`` is False).
        hit : ndarray of bool, shape (...)
            True where the ray meets the surface in front of the camera.
        """
        origin, look = self.rays(line, sample)
        shape = look.shape[:-1]
        h = np.broadcast_to(np.asarray(height, dtype=float), shape)
        if dem is None:
            return _on_ellipsoid(origin, look, self.radii_m, h)
        return dem_intersect(origin, look, self.radii_m, h, dem, _on_ellipsoid)

    # -- derived quantities ---------------------------------------------------------------
    def illumination_angles(self, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidence, emission and phase angles (radians) at body-fixed points, from the
        ellipsoid normal (:func:`pipeline.geometry.illumination.illumination_angles`); the
        observer is the sensor where it saw each point.

        Raises
        ------
        GeometryError
            The camera has no Sun position.
        """
        if self.sun_position_m is None:
            raise GeometryError(
                f"camera {self.name_sensor or '(unnamed)'} has no sun_position; illumination "
                f"angles need the ISD's sun_position"
            )
        xyz = np.asarray(xyz, dtype=float)
        return illumination_angles(xyz, self.observer_position(xyz), self.sun_position_m, self.radii_m)

    def observer_position(self, xyz) -> np.ndarray:
        """Sensor position (body-fixed m) when it imaged each ground point: ``(..., 3)``
        (or ``(3,)`` for a camera with one position)."""
        line, _ = self.ground_to_image(xyz)
        return self.position_at(line)

    def check_boresight(self) -> None:
        """Raise :class:`GeometryError` unless the ray through the image centre meets the body.

        usgscsm never checks this: a camera whose look direction is wrong (e.g. -Z
        instruments read as +Z) silently lands on the far hemisphere.
        """
        origin, look = self.rays(*self.image_center)
        _, hit, _ = ray_ellipsoid_intersect(origin, look, self.radii_m, 0.0)
        if not bool(hit):
            away = float(np.dot(look, -np.asarray(origin))) <= 0
            flip = getattr(self, "look_direction", 1)
            raise GeometryError(
                f"camera {self.name_platform} {self.name_sensor}".rstrip()
                + f" (image {self.image_identifier or '?'}): the ray through the image centre "
                + ("points away from the body" if away else "misses the body")
                + f" (look_direction={flip:+d}); the look direction is probably "
                f"wrong: set look_direction={-flip:+d} for this instrument "
                f"(ingestion.look_direction in the config)"
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
        """Planetocentric ``(lon, lat)`` in degrees (lon -180..180) below the spacecraft at
        the image centre."""
        lon, lat = xyz_to_lonlat_deg(self.position_m)
        return float(lon), float(lat)

    # -- footprint ------------------------------------------------------------------------
    def footprint_xyz(self, n_per_edge: int = 32, height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """:func:`pipeline.geometry.footprint.footprint_xyz` of this camera."""
        return _footprint.footprint_xyz(self, n_per_edge, height)

    def footprint_deg(self, n_per_edge: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """:func:`pipeline.geometry.footprint.footprint_deg` of this camera."""
        return _footprint.footprint_deg(self, n_per_edge)


def _on_ellipsoid(origin, direction, radii, height) -> tuple[np.ndarray, np.ndarray]:
    """The frame model's ray / ellipsoid intersection as :func:`dem_intersect` takes it."""
    return ray_ellipsoid_intersect(origin, direction, radii, height)[:2]
