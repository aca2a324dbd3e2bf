"""Relief shading taken out of a frame before it is matched across views (through a DEM).

Over relief most of a lunar frame's texture is shading: the brightness of each slope facing or
turned from the Sun. Two views from opposite sides see that shading differently, in two ways.
Each sees every wall at its own resolution (stretched in the view it faces, compressed in the
other), and the Moon's brightness depends on the emission angle too (the Lommel-Seeliger part
of the lunar-Lambert law: a wall facing a camera looks darker to it, relative to the Sun's
shading, than to a camera on the other side). Content matching of the two images is then
biased along the look direction. On ``oblique_relief`` (a basin wall and craters; strips at 30
and 33 deg emission with seed 3) cross-strip tie points through the truth DEM are 0.61 px median / 1.72 px p90
off the truth, median bias -0.7 px along the look, and Lambert renderings (no emission
dependence) are biased as much: the resolution dominates (docs/mosaic.md). Over craters alone
(``tests/registration/test_shading.py``) the law dominates: 0.22 / 0.41 px and -0.21 px along
the look with lunar-Lambert, 0.05 / 0.12 px without bias with Lambert. The albedo and cast
shadows lie on the ground and register to a few hundredths of a pixel. So, when a DEM resolves
the relief, each frame is divided by the brightness its slopes predict for a uniform albedo
(:func:`relief_shading`), integrated over each pixel like the image itself (sub-pixel rays,
then the camera's PSF), which takes out both: the same cross-strip ties are then within 0.04
px median / 0.12 px p90 (with the PSF taken as 0 or 1 px instead of the true 0.5 px: 0.13 /
0.27 and 0.34 / 0.68 px; the law as Lambert instead of lunar-Lambert: 0.07 / 0.18 px).

The predicted law matters more where the surface's differs from it. Over the craters, rendered
with LROC's Hapke (WAC 643 nm, with its roughness), the shading of lunar-Lambert ``L = 0.5``
leaves 0.18 / 0.37 px (-0.17 along the look), McEwen's lunar ``L(phase)`` 0.058 / 0.117;
rendered with ``L = 0.5``, the same two give 0.026 / 0.064 and 0.15 / 0.31 px. The default is the Moon's
``L(phase)`` (``registration.shading_lunar_lambert_l: null``); a surface known to follow a
constant ``L`` (the simulator's default, 0.5) is given it.

Pixels whose predicted shading is under ``min_fraction`` of the frame's median (slopes in
their own shadow or at grazing Sun) are masked: dividing by it would amplify noise.
Coordinates are CSM image coordinates (first pixel centre at ``(0.5, 0.5)``); angles radians.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pipeline.geometry.reflectance import lunar_lambert
from pipeline.geometry.topography import topographic_pixel_angles

__all__ = ["relief_shading", "shading_normalised"]

def relief_shading(camera, dem, *, supersample: int = 2, psf_sigma_px: float = 0.5,
                   lunar_lambert_l: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Brightness of a uniform-albedo surface on ``dem`` as ``camera`` sees it, per pixel.

    Each pixel is traced as ``supersample x supersample`` rays to the terrain, each ray's
    incidence and emission taken from the DEM's slopes over the ground one sub-sample covers
    (:func:`~pipeline.geometry.topography.topographic_pixel_angles`), the lunar-Lambert
    factor (:func:`~pipeline.geometry.reflectance.lunar_lambert`; 0 facing away from the Sun
    or the camera) averaged over the pixel and blurred by a Gaussian of ``psf_sigma_px``. Cast shadows are not modelled:
    they lie on the ground, as albedo does, and need no correction for matching.

    Parameters
    ----------
    camera : Camera
        Any camera with ``lines``, ``samples``, ``gsd_m``, ``image_to_ground_hit``,
        ``sun_position_m`` and ``observer_position``.
    dem : Dem
        Heights of the terrain (any CRS :class:`~pipeline.geometry.dem.Dem` reads).
    supersample : int
        Rays per pixel along each axis.
    psf_sigma_px : float
        Gaussian sigma (pixels) of the camera's point-spread function; 0: none.
    lunar_lambert_l : float, optional
        A constant ``L`` of the law, 0 (Lambert) to 1 (Lommel-Seeliger); default McEwen's
        lunar ``L(phase)`` (:func:`~pipeline.geometry.reflectance.lunar_lambert_l`, the
        Moon's: it also stands for Hapke surfaces; see the module docstring).

    Returns
    -------
    shading : ndarray of float32, shape (lines, samples)
        Relative brightness (1 on flat ground at zero incidence and emission).
    hit : ndarray of bool, shape (lines, samples)
        Every ray of the pixel met the terrain.

    Examples
    --------
    >>> from affine import Affine
    >>> from pipeline.geometry.cameras import FrameCamera
    >>> from pipeline.geometry.dem import Dem
    >>> down = [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]  # camera +z = body +x: nadir at 180 E
    >>> sun = 1.5e11 * np.array([-0.5, 0.0, 0.75 ** 0.5])  # over 180 E, 60 N: incidence 60 deg at 180 E, 0 N
    >>> cam = FrameCamera.build(lines=8, samples=8, focal_length_mm=100.0, pixel_pitch_mm=0.18,
    ...                         position_m=(-1_837_400.0, 0.0, 0.0), cam_to_body=down, sun_position_m=sun)
    >>> flat = Dem.from_array(np.zeros((50, 50)), Affine(0.01, 0, 179.75, 0, -0.01, 0.25), datum_radius_m=1737400.0)
    >>> shade, hit = relief_shading(cam, flat, lunar_lambert_l=0.5)
    >>> bool(hit.all()), round(float(shade.mean()), 3)  # 2 L mu0 / (mu0 + mu) + (1 - L) mu0, mu0 = 0.5, mu = 1
    (True, 0.583)
    >>> round(float(relief_shading(cam, flat)[0].mean()), 3)  # phase 60 deg: McEwen's L = 0.416
    0.569
    """
    s = int(supersample)
    lines, samples = camera.lines, camera.samples
    inc, emi, pha, hit = topographic_pixel_angles(camera, (lines, samples), dem, supersample=s)
    factor = np.zeros(hit.shape)
    factor[hit] = lunar_lambert(inc[hit], emi[hit], pha[hit], lunar_lambert_l)
    shading = factor.reshape(lines, s, samples, s).mean(axis=(1, 3))
    if psf_sigma_px > 0:
        shading = ndimage.gaussian_filter(shading, psf_sigma_px, mode="nearest")
    return shading.astype(np.float32), hit.reshape(lines, s, samples, s).all(axis=(1, 3))


def shading_normalised(frame, dem, *, psf_sigma_px: float = 0.5, min_fraction: float = 0.2,
                       supersample: int = 2, lunar_lambert_l: float | None = None):
    """``frame`` with its pixels divided by :func:`relief_shading` (a copy; the input is kept).

    Pixels the terrain does not hit, or whose shading is under ``min_fraction`` of the
    frame's median shading, are added to the mask (and set to 0).

    Parameters
    ----------
    frame : Frame
        Pixels loaded (``data``, ``mask`` True = invalid) and a camera.
    dem : Dem
    psf_sigma_px, supersample, lunar_lambert_l : see :func:`relief_shading`.
    min_fraction : float
        Weakest predicted shading kept, as a fraction of the frame's median.

    Returns
    -------
    Frame
    """
    shade, hit = relief_shading(frame.camera, dem, supersample=supersample, psf_sigma_px=psf_sigma_px,
                                lunar_lambert_l=lunar_lambert_l)
    bad = ~hit if frame.mask is None else (np.asarray(frame.mask, bool) | ~hit)
    if (~bad).any():
        bad |= shade < min_fraction * float(np.median(shade[~bad]))
    data = np.where(bad, 0.0, np.asarray(frame.data, np.float64) / np.maximum(shade, 1e-6)).astype(np.float32)
    return frame.replace(data=data, mask=bad)
