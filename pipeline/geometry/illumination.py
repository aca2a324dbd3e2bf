"""Illumination and viewing angles: incidence, emission and phase, one implementation.

Angles are measured at a surface point from the outward ellipsoid normal through it (for the
Moon sphere: the radius vector) to the directions to the Sun and to the observer; phase is the
angle between those two directions. Radians throughout; body-fixed metres.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from pipeline.geometry.body import ellipsoid_normal
from pipeline.geometry.interpolate import interp_grid

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.cameras.protocol import Camera

log = logging.getLogger(__name__)

__all__ = ["ANGLE_COS_TOLERANCE", "angle_between", "illumination_angles", "pixel_angles"]

ANGLE_COS_TOLERANCE = 2e-5
"""Largest error allowed on an interpolated angle cosine before a grid cell is computed
pixel by pixel (about 0.002 deg at 30 deg)."""


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between vectors along the last axis (stable arctan2 form).

    >>> float(angle_between(np.array([1.0, 0, 0]), np.array([0, 2.0, 0])))  # doctest: +ELLIPSIS
    1.5707963...
    """
    a, b = np.broadcast_arrays(a, b)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.einsum("...i,...i->...", a, b)
    return np.arctan2(cross, dot)


def illumination_angles(
    xyz, observer_m, sun_m, radii: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase (radians) at body-fixed points ``xyz`` (..., 3).

    Parameters
    ----------
    xyz : array_like of shape (..., 3)
        Surface points, body-fixed metres.
    observer_m, sun_m : array_like broadcastable to (..., 3)
        Observer and Sun positions, body-fixed metres.
    radii : (a, b)
        Reference ellipsoid (m): the normal is the ellipsoid's through each point.
    """
    xyz = np.asarray(xyz, dtype=float)
    n = ellipsoid_normal(xyz, radii)
    to_sun = np.asarray(sun_m, dtype=float) - xyz
    to_obs = np.asarray(observer_m, dtype=float) - xyz
    return angle_between(n, to_sun), angle_between(n, to_obs), angle_between(to_sun, to_obs)


def _exact_cosines(camera: Camera, lines: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of (incidence, emission, phase), shape (3, ...), NaN off body, and hit flags."""
    xyz, hit = camera.image_to_ground_hit(lines, samples)
    hit = np.asarray(hit, dtype=bool)
    cosines = np.full((3,) + hit.shape, np.nan)
    if hit.any():
        angles = camera.illumination_angles(np.asarray(xyz)[hit])
        cosines[:, hit] = np.cos(np.asarray(angles, dtype=np.float64))
    return cosines, hit


def pixel_angles(
    camera: Camera, shape: tuple[int, int], step: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase angles at every pixel centre.

    Exact values come from ``camera.image_to_ground_hit`` at ``(i + 0.5, j + 0.5)`` then
    ``camera.illumination_angles``. For speed they are computed on a grid of every
    ``step``-th pixel (plus the last line and sample) and the angle *cosines*, smooth
    functions of the ground point, are interpolated bilinearly in between. Each grid cell
    is checked at its centre: a cell where the interpolated cosines miss the exact ones by
    more than :data:`ANGLE_COS_TOLERANCE` (2e-5), or that the limb crosses, is computed
    pixel by pixel; when the cells the cosines curve too much in (wide or oblique views)
    hold more pixels than a grid at half the step, the grid is halved instead, down to 2 px. The
    cosines are then within ~5e-5 of the exact ones and the angles within ~0.01 deg,
    except within a few pixels of an angle of exactly 0 (emission at the nadir point, phase
    at opposition) where ``arccos`` is steep and the angle, not its cosine, may be off by
    up to ~0.3 deg (the tests bound both on a nadir frame, on wide frames and on
    a view of the whole disk).

    Parameters
    ----------
    camera : object
        Anything with ``image_to_ground_hit(line, sample) -> (xyz, hit)`` and
        ``illumination_angles(xyz) -> (incidence, emission, phase)`` (radians), such as
        any :class:`~pipeline.geometry.cameras.Camera`.
    shape : (int, int)
        ``(lines, samples)`` of the frame.
    step : int
        Grid spacing in pixels; 1 computes every pixel exactly.

    Returns
    -------
    incidence, emission, phase : ndarray of shape (lines, samples), float64
        Radians; NaN off the body.
    hit : ndarray of bool, shape (lines, samples)
        True where the pixel's line of sight meets the body.
    """
    lines, samples = shape
    if step <= 1 or min(lines, samples) <= 2 * step:
        ll, ss = np.meshgrid(np.arange(lines) + 0.5, np.arange(samples) + 0.5, indexing="ij")
        cosines, hit = _exact_cosines(camera, ll, ss)
        return (*np.arccos(np.clip(cosines, -1.0, 1.0)), hit)
    gl = np.unique(np.append(np.arange(0, lines, step), lines - 1))
    gs = np.unique(np.append(np.arange(0, samples, step), samples - 1))
    ll, ss = np.meshgrid(gl + 0.5, gs + 0.5, indexing="ij")
    grid, grid_hit = _exact_cosines(camera, ll, ss)
    # check every cell at its centre
    cl, cs = np.meshgrid(0.5 * (gl[:-1] + gl[1:]) + 0.5, 0.5 * (gs[:-1] + gs[1:]) + 0.5, indexing="ij")
    centre, centre_hit = _exact_cosines(camera, cl, cs)
    corners_hit = grid_hit[:-1, :-1] & grid_hit[1:, :-1] & grid_hit[:-1, 1:] & grid_hit[1:, 1:]
    mean = 0.25 * (grid[:, :-1, :-1] + grid[:, 1:, :-1] + grid[:, :-1, 1:] + grid[:, 1:, 1:])
    with np.errstate(invalid="ignore"):
        smooth = np.all(np.abs(mean - centre) <= ANGLE_COS_TOLERANCE, axis=0)
    cell_ok = corners_hit & centre_hit & smooth
    rough = np.count_nonzero(corners_hit & centre_hit & ~smooth)  # on the body, too curved for this step
    if step > 2 and rough > 8.0 / step**2 * smooth.size:
        # wide or oblique views: the grid at half the step (~8 / step^2 of the pixels, its
        # interpolation error ~ step^2 / 4) costs less than these cells' pixels exactly
        return pixel_angles(camera, shape, step // 2)
    rows, cols = np.arange(lines), np.arange(samples)
    out = np.stack([interp_grid(np.nan_to_num(g), gl, gs, rows, cols) for g in grid])
    row_cell = np.clip(np.searchsorted(gl, rows, side="right") - 1, 0, gl.size - 2)
    col_cell = np.clip(np.searchsorted(gs, cols, side="right") - 1, 0, gs.size - 2)
    exact = ~cell_ok[row_cell[:, None], col_cell[None, :]]
    hit = np.ones(shape, dtype=bool)
    if exact.any():
        el, es = np.nonzero(exact)
        values, ehit = _exact_cosines(camera, el + 0.5, es + 0.5)
        out[:, el, es] = values
        hit[el, es] = ehit
    log.debug("pixel_angles: %d of %d pixels computed exactly", int(exact.sum()), lines * samples)
    return (*np.arccos(np.clip(out, -1.0, 1.0)), hit)
