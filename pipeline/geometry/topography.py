"""Topographic photometric angles: incidence and emission from the local surface normal.

On a flat sphere the normal at a ground point is its radius vector (what
:meth:`pipeline.geometry.camera.FrameCamera.illumination_angles` uses). With a relief model
the facet normal tilts by the local slopes: in the point's east-north-up frame
``n = (-dz/de, -dz/dn, 1) / |...|``. Incidence and emission are measured from that normal;
phase does not depend on it. Pure numpy; metres and radians.
"""

from __future__ import annotations

import numpy as np

from pipeline.geometry.body import xyz_to_lonlat


def enu_basis(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit east, north and up vectors at body-fixed points (planetocentric, sphere).

    Parameters
    ----------
    xyz : ndarray of shape (..., 3)
        Body-fixed positions, metres (not at a pole).

    Returns
    -------
    east, north, up : ndarray of shape (..., 3)

    Examples
    --------
    >>> e, n, u = enu_basis(np.array([1737400.0, 0.0, 0.0]))
    >>> [(v.round(12) + 0.0).tolist() for v in (e, n, u)]
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    up = xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)
    east = np.stack([-up[..., 1], up[..., 0], np.zeros_like(up[..., 0])], axis=-1)
    east /= np.linalg.norm(east, axis=-1, keepdims=True)
    north = np.cross(up, east)
    return east, north, up


def surface_normal(xyz: np.ndarray, dz_de: np.ndarray, dz_dn: np.ndarray) -> np.ndarray:
    """Outward unit normal of the terrain facet at ``xyz`` with slopes ``dz/de``, ``dz/dn``.

    Parameters
    ----------
    xyz : ndarray of shape (..., 3)
        Body-fixed ground points, metres.
    dz_de, dz_dn : ndarray of shape (...)
        Height gradient towards east and towards north (m/m; e.g. from :func:`grid_slopes`).

    Returns
    -------
    ndarray of shape (..., 3)
    """
    east, north, up = enu_basis(xyz)
    sx = np.asarray(dz_de, dtype=np.float64)[..., None]
    sy = np.asarray(dz_dn, dtype=np.float64)[..., None]
    n = up - sx * east - sy * north
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def topographic_angles(
    xyz: np.ndarray,
    sun_position_m: np.ndarray,
    camera_position_m: np.ndarray,
    dz_de: np.ndarray,
    dz_dn: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase (radians) at ground points from the local terrain normal.

    Parameters
    ----------
    xyz : ndarray of shape (..., 3)
        Body-fixed ground points (on the DEM surface), metres.
    sun_position_m, camera_position_m : ndarray of shape (3,) or (..., 3)
        Body-fixed Sun and camera positions, metres.
    dz_de, dz_dn : ndarray of shape (...)
        Terrain slopes towards east and north (m/m); zeros give the sphere's angles.

    Returns
    -------
    incidence, emission, phase : ndarray of shape (...)
        Incidence and emission from the facet normal; incidence > 90 deg on a facet
        turned away from the Sun (self-shadowed; cast shadows are not modelled).

    Examples
    --------
    >>> p = np.array([1737400.0, 0.0, 0.0])
    >>> sun = p + 1.5e11 * np.array([np.cos(np.radians(60)), np.sin(np.radians(60)), 0.0])
    >>> cam = p * 1.05
    >>> i, e, g = topographic_angles(p, sun, cam, -np.tan(np.radians(20.0)), 0.0)
    >>> [round(float(np.degrees(a)), 3) for a in (i, e, g)]  # a 20 deg east-facing slope
    [40.0, 20.0, 60.0]
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    n = surface_normal(xyz, dz_de, dz_dn)
    to_sun = np.asarray(sun_position_m, dtype=np.float64) - xyz
    to_cam = np.asarray(camera_position_m, dtype=np.float64) - xyz
    return _angle(n, to_sun), _angle(n, to_cam), _angle(to_sun, to_cam)


def grid_slopes(height_m: np.ndarray, pixel_x_m: float, pixel_y_m: float) -> tuple[np.ndarray, np.ndarray]:
    """``dz/de`` and ``dz/dn`` of a height grid whose columns run east and rows run south.

    Central differences inside, one-sided at the edges (``numpy.gradient``). For a map
    projection whose x axis is not east (polar stereographic away from its meridian)
    rotate the two slopes by the grid convergence first; in equirectangular the east
    pixel size shrinks with ``cos(latitude)`` (pass the local one).

    Parameters
    ----------
    height_m : ndarray of shape (rows, cols)
    pixel_x_m, pixel_y_m : float
        Pixel width (east) and height (north), metres, both positive.

    Examples
    --------
    >>> rows, cols = np.mgrid[0:4, 0:5]
    >>> z = 2.0 * (10.0 * cols) - 3.0 * (-10.0 * rows)  # z = 2 x - 3 y, x east, y north
    >>> de, dn = grid_slopes(z, 10.0, 10.0)
    >>> float(de.mean()), float(dn.mean())
    (2.0, -3.0)
    """
    z = np.asarray(height_m, dtype=np.float64)
    d_row, d_col = np.gradient(z)
    return d_col / pixel_x_m, -d_row / pixel_y_m


# --------------------------------------------------------------------------- from a DEM
def dem_slopes(dem, lon_rad: np.ndarray, lat_rad: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """``dz/de`` and ``dz/dn`` (m/m) of a DEM at planetocentric points, by central differences.

    Any CRS the DEM has: the heights are looked up ``step_m`` east, west, north and south of
    each point along the sphere (``dem.height_m``), so no grid convergence or
    ``cos(latitude)`` needs handling. A point whose neighbours fall off the DEM gets NaN.

    Parameters
    ----------
    dem : Dem-like
        Anything with ``height_m(lon_rad, lat_rad)`` (metres above ``datum_radius_m``) and
        ``datum_radius_m``, e.g. :class:`~pipeline.geometry.dem.Dem`.
    lon_rad, lat_rad : ndarray
        Points, radians (not at a pole).
    step_m : float
        Half the baseline of the differences, metres: the scale of the slope (about the
        DEM's pixel, or the size of the ground a brightness value averages).

    Examples
    --------
    >>> class Ramp:  # heights rising 0.1 m per m towards the east
    ...     datum_radius_m = 1737400.0
    ...     def height_m(self, lon, lat):
    ...         return 0.1 * self.datum_radius_m * np.cos(lat) * lon
    >>> de, dn = dem_slopes(Ramp(), np.array([0.01]), np.array([0.0]), 50.0)
    >>> round(float(de[0]), 6), round(float(dn[0]), 6)
    (0.1, 0.0)
    """
    lon = np.asarray(lon_rad, dtype=np.float64)
    lat = np.asarray(lat_rad, dtype=np.float64)
    r = float(dem.datum_radius_m)
    dlat = step_m / r
    dlon = step_m / (r * np.maximum(np.cos(lat), 1e-6))
    de = (dem.height_m(lon + dlon, lat) - dem.height_m(lon - dlon, lat)) / (2.0 * step_m)
    dn = (dem.height_m(lon, lat + dlat) - dem.height_m(lon, lat - dlat)) / (2.0 * step_m)
    return de, dn


def camera_topographic_angles(camera, xyz: np.ndarray, dem, step_m: float, observer=None) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase (radians) at ground points ``xyz`` seen by ``camera``,
    from the DEM's local surface normal (:func:`dem_slopes`, :func:`topographic_angles`).

    The observer is where the camera was when it imaged each point: ``observer`` (body-fixed
    m, ``(..., 3)`` or ``(3,)``) when the caller knows it, else ``camera.observer_position``
    (which projects every point back into the image to find its line). The Sun is
    ``camera.sun_position_m`` (for a line-scan camera, where it stood at the image centre: it
    moves by well under 0.01 deg over a strip). Where the DEM has no slope (off its grid),
    the sphere's angles (``camera.illumination_angles``).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    lon, lat = xyz_to_lonlat(xyz)
    de, dn = dem_slopes(dem, lon, lat, step_m)
    flat = ~(np.isfinite(de) & np.isfinite(dn))
    if observer is None:
        observer = camera.observer_position(xyz)
    inc, emi, pha = topographic_angles(xyz, camera.sun_position_m, observer,
                                       np.where(flat, 0.0, de), np.where(flat, 0.0, dn))
    if flat.any():
        i0, e0, _ = camera.illumination_angles(xyz[flat])
        inc[flat], emi[flat] = i0, e0
    return inc, emi, pha


def topographic_pixel_angles(camera, shape: tuple[int, int], dem, step_m: float | None = None, *,
                             supersample: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase at every pixel centre from the DEM's surface normal.

    Each pixel centre ``(i + 0.5, j + 0.5)`` (with ``supersample`` ``s > 1``: each of its
    ``s x s`` sub-sample centres ``(i + (k + 0.5) / s, j + (m + 0.5) / s)``) is traced to the terrain
    (``camera.image_to_ground_hit(..., dem=dem)``) and its angles measured from the local
    facet normal (:func:`camera_topographic_angles`; the observer where the camera stood when
    it exposed the traced line, ``camera.position_at``), at every pixel: the normal changes at
    the DEM's own scale, so the sphere's interpolated angle grid
    (:func:`pipeline.geometry.illumination.pixel_angles`) does not apply.

    Parameters
    ----------
    camera : Camera
    shape : (int, int)
        ``(lines, samples)`` of the frame.
    dem : Dem-like
        ``height_m(lon_rad, lat_rad)``, ``datum_radius_m``, and what the camera's ray/terrain
        intersection needs (a :class:`~pipeline.geometry.dem.Dem`).
    step_m : float, optional
        Scale of the slopes (half the difference baseline), metres; default the camera's
        ground sample distance over ``supersample`` (the ground one sub-sample covers).
    supersample : int
        Rays per pixel along each axis.

    Returns
    -------
    incidence, emission, phase : ndarray of shape (lines * s, samples * s), float64
        Radians; NaN where the ray misses. Sub-sample ``(k, m)`` of pixel ``(i, j)`` is at
        ``(i * s + k, j * s + m)``.
    hit : ndarray of bool, shape (lines * s, samples * s)
    """
    s = int(supersample)
    off = (np.arange(s) + 0.5) / s
    ll, ss = np.meshgrid((np.arange(shape[0])[:, None] + off).ravel(), (np.arange(shape[1])[:, None] + off).ravel(),
                         indexing="ij")
    xyz, hit = camera.image_to_ground_hit(ll, ss, dem=dem)
    hit = np.asarray(hit, dtype=bool)
    out = np.full((3,) + hit.shape, np.nan)
    if hit.any():
        step = float(step_m) if step_m else float(camera.gsd_m()) / s
        out[:, hit] = camera_topographic_angles(camera, np.asarray(xyz)[hit], dem, step,
                                                observer=camera.position_at(ll[hit]))
    return out[0], out[1], out[2], hit
