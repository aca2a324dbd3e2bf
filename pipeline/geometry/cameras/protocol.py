"""The :class:`Camera` protocol: what the pipeline asks of a camera, whatever its sensor model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.dem import Dem

__all__ = ["Camera"]


@runtime_checkable
class Camera(Protocol):
    """The camera interface the pipeline uses, whatever the sensor model.

    Attributes: ``lines``, ``samples`` (int), ``shape``, ``image_center``, ``radii_m``
    ``(a, b)``, ``position_m`` (sensor at the image centre, body-fixed m, shape (3,)),
    ``sun_position_m`` (or None), ``time_s`` (ephemeris time of the image centre, s),
    ``name_sensor``, ``name_platform``, ``image_identifier``.
    """

    lines: int
    samples: int

    def rays(self, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """Ray origins and unit directions (body-fixed) of image coordinates."""

    def image_to_ground(self, line, sample, height=0.0) -> np.ndarray:
        """Body-fixed ground points (m) of image coordinates on the ellipsoid + height."""

    def image_to_ground_hit(self, line, sample, height=0.0, dem: Dem | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ground points and whether each ray really meets the surface."""

    def ground_to_image(self, xyz) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(line, sample)`` of body-fixed points."""

    def visible(self, xyz) -> np.ndarray:
        """True where a surface point faces the sensor and lies in front of it."""

    def illumination_angles(self, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidence, emission and phase (radians) at body-fixed points."""

    def with_pointing_correction(self, rotvec_rad, position_offset_m=None) -> Camera:
        """A corrected copy (rotation in the camera frame, offset body-fixed)."""

    def to_isd(self) -> dict[str, Any]:
        """ALE-format ISD of this camera."""
