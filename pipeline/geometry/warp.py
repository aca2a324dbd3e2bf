"""Frame <-> map grid: resample an image onto a map grid through its camera (ISIS ``cam2map``).

For every pixel centre of the output grid::

    (x, y) --pyproj--> planetocentric (lon, lat) --sphere or DEM--> body-fixed xyz
           --camera.ground_to_image--> image (line, sample) --cv2.remap--> value

Conventions
-----------
- Image coordinates follow the CSM convention: the upper-left image corner is ``(0, 0)``
  and the centre of the first pixel is ``(0.5, 0.5)``, so the array index used by
  ``cv2.remap`` is ``coordinate - 0.5``.
- ``mask`` is ``True`` where a source pixel is *invalid* (numpy.ma convention); the
  returned ``valid`` is ``True`` where an output pixel holds data.
- An output pixel is valid only where (a) its map position is on the body (azimuthal
  projections such as the far-side orthographic CRS have off-disc corners: NaN lon/lat),
  (b) the ground point faces the camera (emission < 90 deg) and is in front of it,
  (c) the whole resampling kernel lies inside the image and (d) no source pixel with a
  non-zero kernel weight is masked (or NaN). The mask is resampled *conservatively*: it
  is dilated by the kernel's extra radius (cubic: 1 px, Lanczos: 3 px beyond bilinear)
  and then interpolated bilinearly, so any invalid pixel in the footprint invalidates the
  output pixel.
- Terrain occlusion by a DEM is not modelled (orthographic lunar frames are near-nadir).

Accuracy: ``cv2.remap`` quantises the fractional source position to 1/32 pixel
(``INTER_BITS = 5``), so bilinear values are exact to within 1/64 pixel of position.

Everything here is pure numpy/OpenCV and tile-invariant: an output pixel's value depends
only on its own map position and the source frame, never on the tile it is computed in.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy.ndimage import map_coordinates

from pipeline.errors import ConfigError, GeometryError
from pipeline.geometry.body import MOON_RADII_M, lonlat_to_xyz, surface_radius
from pipeline.geometry.mapbox import footprint_bbox_xy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pipeline.geometry.cameras.protocol import Camera
    from pipeline.geometry.dem import Dem
    from pipeline.geometry.grid import MapGrid

log = logging.getLogger(__name__)

__all__ = ["RESAMPLING", "GroundGrid", "Ortho", "image_coordinates", "orthorectify", "orthorectify_coarse", "prefilter",
           "warp_frame"]

RESAMPLING: dict[str, int] = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
"""Resampling kernels by name (the ``mosaicking.resampling`` config values)."""

# Extra kernel radius (pixels) beyond the bilinear 2 x 2 footprint.
_EXTRA_RADIUS = {"nearest": 0, "bilinear": 0, "cubic": 1, "lanczos": 3}
# cv2.remap stores integer source positions as int16.
_REMAP_LIMIT = 32000
_MARGIN = 8  # source pixels kept around the needed window when cropping


def _check_resampling(resampling: str) -> int:
    try:
        return RESAMPLING[resampling]
    except KeyError:
        raise ConfigError(f"unknown resampling {resampling!r}; choose from {sorted(RESAMPLING)}") from None


@dataclass(frozen=True, eq=False)
class GroundGrid:
    """Body-fixed ground points of every pixel centre of a map grid.

    Computed once per output tile and shared by all frames touching it.

    Attributes
    ----------
    lon, lat : ndarray of shape (rows, cols)
        Planetocentric east longitude and latitude, radians (NaN off the projection).
    xyz : ndarray of shape (rows, cols, 3)
        Body-fixed metres on the reference sphere or the DEM surface; finite everywhere
        (a placeholder where ``ok`` is False).
    ok : ndarray of bool, shape (rows, cols)
        True where the map position is a point of the body.
    """

    lon: np.ndarray
    lat: np.ndarray
    xyz: np.ndarray
    ok: np.ndarray

    @classmethod
    def from_grid(
        cls,
        grid: MapGrid,
        dem: Dem | None = None,
        *,
        radii: tuple[float, float] = MOON_RADII_M,
        height_m: float = 0.0,
    ) -> GroundGrid:
        """Ground points of ``grid``'s pixel centres.

        Parameters
        ----------
        grid : MapGrid
            Output grid in any lunar CRS.
        dem : Dem, optional
            Terrain; heights are taken from it (``height_m`` where it has no data).
        radii : (a, b)
            Reference ellipsoid, metres.
        height_m : float
            Height above the reference ellipsoid without a DEM, metres.
        """
        return cls.from_lonlat(*grid.lonlat(), dem, radii=radii, height_m=height_m)

    @classmethod
    def from_lonlat(
        cls,
        lon_deg: np.ndarray,
        lat_deg: np.ndarray,
        dem: Dem | None = None,
        *,
        radii: tuple[float, float] = MOON_RADII_M,
        height_m: float = 0.0,
    ) -> GroundGrid:
        """Ground points of planetocentric ``lon_deg``, ``lat_deg`` (degrees, any shape;
        non-finite where off the projection), as :meth:`from_grid`."""
        lon_deg, lat_deg = np.asarray(lon_deg, float), np.asarray(lat_deg, float)
        ok = np.isfinite(lon_deg) & np.isfinite(lat_deg) & (np.abs(lat_deg) <= 90.0)
        lon = np.where(ok, np.radians(lon_deg), np.nan)
        lat = np.where(ok, np.radians(lat_deg), np.nan)
        h = np.full(lon.shape, float(height_m))
        if dem is not None:
            safe_lon = np.where(ok, lon, 0.0)
            safe_lat = np.where(ok, lat, 0.0)
            h_dem = dem.radius_m(safe_lon, safe_lat) - surface_radius(safe_lat, radii)
            h = np.where(np.isfinite(h_dem), h_dem, h)
        xyz = lonlat_to_xyz(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0), h, radii)
        ok &= np.all(np.isfinite(xyz), axis=-1)
        xyz[~ok] = (radii[0], 0.0, 0.0)
        return cls(lon=lon, lat=lat, xyz=xyz, ok=ok)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape ``(rows, cols)`` of the ground grid."""
        return self.ok.shape


def image_coordinates(camera: Camera, ground: GroundGrid) -> tuple[np.ndarray, np.ndarray]:
    """Image ``(line, sample)`` of every ground point (CSM coordinates, pixel centres at +0.5).

    NaN where the point is off the body, faces away from the camera (emission >= 90 deg)
    or is behind it. Coordinates outside the image are returned as they are.
    """
    line, sample = camera.ground_to_image(ground.xyz)
    keep = ground.ok & camera.visible(ground.xyz) & np.isfinite(line) & np.isfinite(sample)
    return np.where(keep, line, np.nan), np.where(keep, sample, np.nan)


@dataclass(frozen=True, eq=False)
class Ortho:
    """One frame resampled onto a map grid.

    Attributes
    ----------
    values : ndarray of float32, shape (rows, cols)
        Resampled data; 0 where neither ``valid`` nor ``fallback``.
    valid : ndarray of bool, shape (rows, cols)
        Strictly valid: the whole kernel inside the image and clear of masked pixels.
    extras : list of ndarray of float32
        The extra frame-space arrays (e.g. feather weights), resampled bilinearly; 0 where
        neither ``valid`` nor ``fallback``.
    line, sample : ndarray of float64, shape (rows, cols)
        Image coordinates of each output pixel (NaN where not visible).
    fallback : ndarray of bool, shape (rows, cols)
        Pixels that are not ``valid`` but inside the image grown by ``fringe_px``
        (``-fringe_px <= line <= lines + fringe_px``, same for samples: the outer half of the
        border pixels and partly covered output pixels count) with at least half of the
        bilinear weight on clean pixels; ``values`` there hold the bilinear estimate
        renormalised over the clean pixels (edge pixels replicated outwards). Only computed
        with ``fallback=True``; a mosaic uses them only where no frame is strictly valid.
    """

    values: np.ndarray
    valid: np.ndarray
    extras: list[np.ndarray]
    line: np.ndarray
    sample: np.ndarray
    fallback: np.ndarray | None = None


def _source_window(coord: np.ndarray, size: int, pad: int) -> tuple[int, int]:
    """Source index range ``[a, b)`` (clipped to ``[0, size)``) covering finite ``coord``."""
    lo = math.floor(float(np.min(coord))) - pad
    hi = math.ceil(float(np.max(coord))) + pad + 1
    return max(lo, 0), min(hi, size)


def _remap(src: np.ndarray, mx: np.ndarray, my: np.ndarray, interp: int, border: float | None) -> np.ndarray:
    """cv2.remap with a constant ``border`` (None: replicate the edge pixels)."""
    mode = cv2.BORDER_REPLICATE if border is None else cv2.BORDER_CONSTANT
    value = 0.0 if border is None else border
    if max(src.shape) >= _REMAP_LIMIT:
        # very large source window (a heavily downsampled output): scipy, no int16 limit

        order = {cv2.INTER_NEAREST: 0, cv2.INTER_LINEAR: 1}.get(interp, 3)
        out = map_coordinates(
            src, [my.astype(np.float64), mx.astype(np.float64)], order=order,
            mode="nearest" if border is None else "constant", cval=value, prefilter=order > 1,
        )
        return out.astype(np.float32)
    rows, cols = mx.shape
    if rows < _REMAP_LIMIT and cols < _REMAP_LIMIT:
        return cv2.remap(src, mx, my, interp, borderMode=mode, borderValue=value)
    # destination too large for one cv2.remap call: blocks (results are per pixel)
    out = np.empty(mx.shape, np.float32)
    step = _REMAP_LIMIT // 2
    for r in range(0, rows, step):
        for c in range(0, cols, step):
            blk = np.s_[r : r + step, c : c + step]
            out[blk] = cv2.remap(src, mx[blk], my[blk], interp, borderMode=mode, borderValue=value)
    return out


def prefilter(image: np.ndarray, mask: np.ndarray | None, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Anti-alias an image before resampling it onto a much coarser grid: a normalised Gaussian
    blur of ``sigma_px`` image pixels; pixels whose neighbourhood is not fully valid become
    invalid. Returns ``(values float32, bad bool)``."""
    bad = ~np.isfinite(image)
    if mask is not None:
        bad |= np.asarray(mask, bool)
    if sigma_px < 0.5:
        return image, bad
    r = math.ceil(2.5 * sigma_px)
    k = 2 * r + 1
    m = (~bad).astype(np.float32)
    v = np.where(bad, 0.0, image).astype(np.float32)
    bm = cv2.GaussianBlur(m, (k, k), sigma_px, borderType=cv2.BORDER_CONSTANT)
    bv = cv2.GaussianBlur(v, (k, k), sigma_px, borderType=cv2.BORDER_CONSTANT)
    ok = bm > 0.98
    return np.where(ok, bv / np.maximum(bm, 1e-6), 0.0).astype(np.float32), ~ok


def warp_frame(
    image: np.ndarray,
    mask: np.ndarray | None,
    camera: Camera,
    grid: MapGrid | None = None,
    *,
    resampling: str = "bilinear",
    dem: Dem | None = None,
    ground: GroundGrid | None = None,
    extras: list[np.ndarray] | tuple[np.ndarray, ...] = (),
    fallback: bool = False,
    fringe_px: float = 0.0,
    coords: tuple[np.ndarray, np.ndarray] | None = None,
) -> Ortho:
    """Resample a frame (and optional frame-space companions) onto a map grid.

    Parameters
    ----------
    image : ndarray of shape (lines, samples)
        Frame data (any real dtype; computed in float32). NaN counts as invalid.
    mask : ndarray of bool, shape (lines, samples), or None
        True where a source pixel is invalid.
    camera : Camera
        The image's camera, any kind (``ground_to_image``, ``visible``).
    grid : MapGrid, optional
        Output grid; not needed when ``ground`` is given.
    resampling : {"nearest", "bilinear", "cubic", "lanczos"}
        Kernel for ``image``; ``extras`` are always bilinear.
    dem : Dem, optional
        Terrain for the ground points (ignored when ``ground`` is given).
    ground : GroundGrid, optional
        Precomputed ground points of the output grid (shared between frames of a tile).
    extras : sequence of ndarray of shape (lines, samples)
        Extra frame-space arrays resampled with the same geometry (e.g. feather weights).
    fallback : bool
        Also compute the second-tier ``Ortho.fallback`` pixels (frame edges and next to
        masked pixels) for gap filling.
    fringe_px : float
        Second tier only: output pixel centres up to this far (frame pixels) outside the
        image also take the edge pixels' values (e.g. 0.5 fills output pixels that the frame
        covers only partly). Default 0: an output pixel needs its centre inside the image,
        as GDAL's warper does.
    coords : (line, sample), optional
        The frame's image coordinates of every output pixel, already computed (NaN where
        not seen), instead of ``grid`` or ``ground``: e.g. another frame's pixel centres
        (:func:`pipeline.crosschecking.frame_coordinates`).

    Returns
    -------
    Ortho
    """
    interp = _check_resampling(resampling)
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (lines, samples), got shape {image.shape}")
    if (camera.lines, camera.samples) != image.shape:
        raise ValueError(f"image shape {image.shape} does not match the camera's {(camera.lines, camera.samples)}")
    if coords is not None:
        line, sample = (np.asarray(c, dtype=np.float64) for c in coords)
    else:
        if ground is None:
            if grid is None:
                raise ValueError("give the output grid, its precomputed ground points or the coordinates")
            ground = GroundGrid.from_grid(grid, dem, radii=camera.radii_m)
        line, sample = image_coordinates(camera, ground)
    rows, cols = line.shape
    lines, samples = image.shape
    r = _EXTRA_RADIUS[resampling]
    # output pixels whose bilinear footprint can touch the image at all
    near = np.isfinite(line) & (line > -r - 1) & (line < lines + r + 1) & (sample > -r - 1) & (sample < samples + r + 1)
    values = np.zeros((rows, cols), np.float32)
    valid = np.zeros((rows, cols), bool)
    out_extras = [np.zeros((rows, cols), np.float32) for _ in extras]
    if not near.any():
        return Ortho(values, valid, out_extras, line, sample, np.zeros((rows, cols), bool) if fallback else None)

    # source window needed (kernel + dilation margin), so huge frames stay cheap
    iy = line[near] - 0.5
    ix = sample[near] - 0.5
    pad = 2 * r + _MARGIN
    r0, r1 = _source_window(iy, lines, pad)
    c0, c1 = _source_window(ix, samples, pad)

    bad = ~np.isfinite(image[r0:r1, c0:c1])
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != image.shape:
            raise ValueError(f"mask shape {mask.shape} differs from image shape {image.shape}")
        bad |= mask[r0:r1, c0:c1]
    src = np.where(bad, 0.0, image[r0:r1, c0:c1]).astype(np.float32)
    # conservative mask: invalid pixels, and everything outside the image, dilated by the
    # kernel's extra radius, then interpolated bilinearly (any weight > 0 -> invalid)
    if r > 0:
        padded = np.pad(bad.astype(np.uint8), r, constant_values=1)
        padded = cv2.dilate(padded, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
        bad_src = padded[r:-r, r:-r]
    else:
        bad_src = bad.astype(np.uint8)
    bad_src = bad_src.astype(np.float32)

    # maps: float32(coord - 0.5) first, then the integer window offset subtracted in float32
    # (exact), so results do not depend on the window (i.e. on the tile)
    mx = np.where(near, sample - 0.5, -10.0 * (r + 2)).astype(np.float32)
    my = np.where(near, line - 0.5, -10.0 * (r + 2)).astype(np.float32)
    mx -= np.float32(c0)
    my -= np.float32(r0)
    # keep far-away coordinates finite and small (int16 inside cv2.remap)
    np.clip(mx, -4.0 * (r + 2), (c1 - c0) + 4.0 * (r + 2), out=mx)
    np.clip(my, -4.0 * (r + 2), (r1 - r0) + 4.0 * (r + 2), out=my)

    mask_interp = cv2.INTER_NEAREST if interp == cv2.INTER_NEAREST else cv2.INTER_LINEAR
    bad_out = _remap(bad_src, mx, my, mask_interp, 1.0)
    valid = near & (bad_out <= 1e-6)
    vals = _remap(src, mx, my, interp, 0.0)
    values = np.where(valid, vals, 0.0).astype(np.float32)
    fb = None
    if fallback:
        # second tier: bilinear renormalised over clean pixels, image edges replicated
        # (the crop keeps a margin, so replication only ever acts at the image's own edges)
        e = float(fringe_px)
        inside = near & (line >= -e) & (line <= lines + e) & (sample >= -e) & (sample <= samples + e)
        clean = (~bad).astype(np.float32)
        num = _remap(src, mx, my, cv2.INTER_LINEAR, None)
        den = _remap(clean, mx, my, cv2.INTER_LINEAR, None)
        fb = inside & ~valid & (den >= 0.5)
        values[fb] = (num[fb] / den[fb]).astype(np.float32)
    used = valid if fb is None else (valid | fb)
    for k, extra in enumerate(extras):
        extra = np.asarray(extra)
        if extra.shape != image.shape:
            raise ValueError(f"extra array {k} has shape {extra.shape}, image {image.shape}")
        e = np.nan_to_num(extra[r0:r1, c0:c1].astype(np.float32), nan=0.0)
        out_extras[k] = np.where(used, _remap(e, mx, my, cv2.INTER_LINEAR, None), 0.0).astype(np.float32)
    return Ortho(values, valid, out_extras, line, sample, fb)


def orthorectify(
    image: np.ndarray,
    mask: np.ndarray | None,
    camera: Camera,
    grid: MapGrid,
    *,
    resampling: str = "bilinear",
    dem: Dem | None = None,
    ground: GroundGrid | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample one frame onto a map grid through its camera.

    Parameters
    ----------
    image : ndarray of shape (lines, samples)
        Frame data, e.g. calibrated I/F (float32 recommended). NaN counts as invalid.
    mask : ndarray of bool, shape (lines, samples), or None
        True where a source pixel is invalid (saturated, bad, cosmic ray, ...).
    camera : Camera
        Camera of the image, any kind (body-fixed metres).
    grid : MapGrid
        Output grid, any lunar CRS (may extend off the body: those pixels are invalid).
    resampling : {"nearest", "bilinear", "cubic", "lanczos"}
        Interpolation kernel (OpenCV ``INTER_NEAREST/LINEAR/CUBIC/LANCZOS4``).
    dem : Dem, optional
        Terrain heights; default the reference sphere of the camera.
    ground : GroundGrid, optional
        Precomputed ground points of ``grid`` (to share them between frames).

    Returns
    -------
    values : ndarray of float32, shape ``grid.shape``
        Resampled data in the image's units; 0 where not valid.
    valid : ndarray of bool, shape ``grid.shape``
        True where the pixel is on the body, seen by the camera (emission < 90 deg, in
        front of it), inside the image and clear of masked pixels within the kernel.

    Raises
    ------
    ConfigError
        Unknown ``resampling``.
    ValueError
        ``image`` is not 2-D or disagrees with the camera's or mask's shape.

    Examples
    --------
    >>> from pipeline.geometry.grid import MapGrid
    >>> from pipeline.geometry.cameras import FrameCamera
    >>> down = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]  # camera +z = body +x: nadir at 180 E
    >>> cam = FrameCamera.build(lines=64, samples=64, focal_length_mm=100.0, pixel_pitch_mm=0.18,
    ...                         position_m=(-1_837_400.0, 0.0, 0.0), cam_to_body=down)
    >>> grid = MapGrid.from_bounds("farside_eqc", (-6000, -6000, 6000, 6000), 200.0)
    >>> values, valid = orthorectify(np.ones((64, 64), np.float32), None, cam, grid)
    >>> bool(valid[30, 30]), float(values[30, 30])
    (True, 1.0)
    """
    ortho = warp_frame(image, mask, camera, grid, resampling=resampling, dem=dem, ground=ground)
    return ortho.values, ortho.valid


def orthorectify_coarse(
    image: np.ndarray, mask: np.ndarray | None, camera: Camera, coarse: MapGrid, fallback_gsd_m: float,
    *, dem: Dem | None = None,
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """One frame on the part of a coarse grid its footprint covers (equalisation, the photometric fit).

    The image is first blurred to the grid's resolution (:func:`prefilter`, sigma half a coarse
    pixel in image pixels, from the camera's GSD or ``fallback_gsd_m`` metres when it has none),
    then resampled bilinearly (:func:`orthorectify`) onto ``coarse[window]``, the window of its
    footprint's boxes padded by one coarse pixel. Returns ``(window, values, valid)``, or None
    when the footprint misses the grid.
    """
    boxes = footprint_bbox_xy(camera, coarse.crs, pad_m=coarse.resolution)
    window = coarse.window(boxes) if boxes else None
    if window is None:
        return None
    try:
        gsd = camera.gsd_m()
    except GeometryError:
        gsd = fallback_gsd_m
    blurred, bad = prefilter(np.asarray(image, np.float32), mask, 0.5 * coarse.resolution / gsd)
    values, valid = orthorectify(blurred, bad, camera, coarse[window], resampling="bilinear", dem=dem)
    return window, values, valid
