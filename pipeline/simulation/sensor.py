"""The simulated camera's optics and detector: albedo -> I/F -> radiance -> raw 12-bit DN.

The forward model of one light frame, every constant in :class:`Radiometry` and
:class:`DetectorParams` (both written to the truth files):

1. **Scene** (:func:`render_iof`): each pixel is supersampled ``s x s`` (default 2x2);
   every sub-sample ray is intersected with the Moon sphere by the (true) camera,
   ``albedo = surface.albedo_xyz(xyz)`` and
   ``I/F = albedo * lunar_lambert(i, e)`` (:func:`lunar_lambert`, constant ``L = 0.5``),
   then the sub-samples are averaged and blurred by a Gaussian PSF
   (``psf_sigma_px``). Rays that miss the body see black sky. Options: another
   scattering law (``law``: ``I/F = albedo * law(i, e, g)``, see
   :mod:`pipeline.simulation.photometry`), and relief (``terrain``: each ray meets the DEM
   at its first hit, ``i`` and ``e`` are measured from the local topographic normal and
   cast shadows are dark, see :mod:`pipeline.simulation.terrain`).
2. **Radiance**: ``L = I/F * F_sun / (pi * d**2)`` (W m^-2 sr^-1 um^-1) with ``F_sun``
   the solar spectral irradiance at 1 AU and ``d`` the Sun-to-surface distance in AU.
3. **Detector**: ``rate = responsivity * L * flat`` (DN/s), with the flat field
   (vignetting x PRNU x dust donuts, dead pixels 0, median 1 over live pixels);
   electrons ``Poisson(gain * (rate + dark_rate) * t)``; plus cosmic-ray deposits (DN);
   plus bias (level + fixed column pattern + line ramp + per-frame drift) and Gaussian
   read noise; rounded and clipped to 12 bits (0..4095).

The calibration pipeline inverts steps 3 and 2. The detector lives in
:mod:`pipeline.simulation.detector` and the photometric functions in
:mod:`pipeline.simulation.photometry`; their names are importable from here too.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from pipeline.calibration.radiometry import AU_M
from pipeline.simulation.detector import Detector, DetectorParams, Exposure, expose
from pipeline.simulation.photometry import LUNAR_LAMBERT_L, lunar_lambert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Radiometry:
    """Radiometric constants linking I/F to DN/s (all written to the truth).

    Attributes
    ----------
    lunar_lambert_l : float
        Constant lunar-Lambert weight ``L`` of the surface.
    solar_irradiance : float
        Solar spectral irradiance at 1 AU in the band, W m^-2 um^-1 (about 750 nm).
    responsivity : float
        DN/s per unit radiance (W m^-2 sr^-1 um^-1) for a pixel of flat 1.
    sun_distance_au : float
        Sun to Moon-centre distance used by the survey, AU (per-pixel distance is
        ``|sun - ground point|``).
    target_dn : float
        Signal (DN above bias) that the auto-exposure aims at for highland albedo at the
        frame's central incidence.
    """

    lunar_lambert_l: float = LUNAR_LAMBERT_L
    solar_irradiance: float = 1500.0
    responsivity: float = 2500.0
    sun_distance_au: float = 1.0
    target_dn: float = 1700.0

    def to_dict(self) -> dict[str, Any]:
        """The constants as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- the scene
@dataclass
class Scene:
    """Ideal (noise-free, detector-free) view of the surface by one camera.

    Attributes
    ----------
    iof : ndarray of shape (M, N), float32
        Pixel-averaged, PSF-blurred I/F (0 on sky).
    radiance : ndarray of shape (M, N), float32
        W m^-2 sr^-1 um^-1 (``iof * F_sun / (pi d^2)``).
    on_body : ndarray of shape (M, N), bool
        All sub-samples of the pixel hit the Moon.
    incidence, emission, phase : ndarray of shape (M, N), float32
        Angles at the pixel centres, radians (NaN off body): the mean of the sub-sample
        angles, from the local topographic normal when rendered through a terrain.
    albedo : ndarray of shape (M, N), float32
        Pixel-averaged albedo ``A`` of the ground seen (before the PSF; 0 on sky).
    lit : ndarray of shape (M, N), float32 or None
        Pixel-averaged fraction of the ground outside cast shadows (terrain only).
    """

    iof: np.ndarray
    radiance: np.ndarray
    on_body: np.ndarray
    incidence: np.ndarray
    emission: np.ndarray
    phase: np.ndarray
    albedo: np.ndarray | None = None
    lit: np.ndarray | None = None


def camera_rays(camera, line, sample) -> tuple[np.ndarray, np.ndarray]:
    """Ray origins and unit directions (body-fixed) of image coordinates, for terrain rendering.

    The hook for other camera models: a camera with a ``rays(line, sample) -> (origins,
    directions)`` method (a line-scan model, whose origin moves from line to line) is used
    through it; a frame camera has one origin, ``position_m``, and ``look_vectors``.

    Returns
    -------
    origins : ndarray of shape (3,) or (N, 3)
    directions : ndarray of shape (N, 3)
    """
    rays = getattr(camera, "rays", None)
    if callable(rays):
        origins, directions = rays(line, sample)
        origins = np.asarray(origins, dtype=np.float64)
        return (origins.reshape(-1, 3) if origins.ndim > 1 else origins,
                np.asarray(directions, dtype=np.float64).reshape(-1, 3))  # fmt: skip
    return camera.position_m, camera.look_vectors(line, sample).reshape(-1, 3)


def render_iof(
    camera,
    surface,
    *,
    supersample: int = 2,
    psf_sigma_px: float = DetectorParams.psf_sigma_px,
    radiometry: Radiometry | None = None,
    law=None,
    terrain=None,
    shadows: bool = True,
) -> Scene:
    """Render what ``camera`` sees of ``surface``: I/F and radiance, no detector effects.

    Parameters
    ----------
    camera : pipeline.geometry.FrameCamera
        Must have a Sun position.
    surface : Surface
        Anything with ``albedo_xyz(xyz) -> float32``.
    supersample : int
        Sub-samples per pixel along each axis (2: 2x2 rays per pixel, averaged).
    psf_sigma_px : float
        Gaussian blur (pixels) applied after pixel averaging; 0 disables it.
    radiometry : Radiometry, optional
    law : PhotometricLaw or callable, optional
        Scattering law ``f(i, e, g)`` (radians): ``I/F = albedo * f``. Default: lunar-Lambert
        with the radiometry's constant ``L`` (exactly the default output of earlier versions).
    terrain : Terrain, optional
        Relief to render through (first ray hit, topographic normals); default: the sphere.
    shadows : bool
        With a terrain: cast shadows are black (the lit fraction multiplies the I/F).

    Returns
    -------
    Scene
    """
    rad = radiometry or Radiometry()
    m, n = camera.lines, camera.samples
    s = int(supersample)
    if s < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    offs = (np.arange(s) + 0.5) / s
    lines = (np.arange(m)[:, None] + offs[None, :]).ravel()
    samples = (np.arange(n)[:, None] + offs[None, :]).ravel()
    ll, ss = np.meshgrid(lines, samples, indexing="ij")
    if terrain is None:
        xyz, hit = camera.image_to_ground_hit(ll, ss)
    else:
        origins, directions = camera_rays(camera, ll, ss)
        xyz, hit = terrain.intersect(origins, directions)
        xyz, hit = xyz.reshape(ll.shape + (3,)), hit.reshape(ll.shape)
    albedo = np.zeros(hit.shape, dtype=np.float32)
    albedo[hit] = surface.albedo_xyz(xyz[hit])
    inc = np.full(hit.shape, np.nan)
    emi = np.full(hit.shape, np.nan)
    pha = np.full(hit.shape, np.nan)
    lit = None
    if terrain is None:
        i_, e_, g_ = camera.illumination_angles(xyz[hit])
    else:
        eye = origins.reshape(ll.shape + (3,))[hit] if np.ndim(origins) > 1 else origins
        i_, e_, g_ = terrain.shade_angles(xyz[hit], eye, camera.sun_position_m)
    inc[hit], emi[hit], pha[hit] = i_, e_, g_
    iof = np.zeros(hit.shape)
    if law is None:
        iof[hit] = lunar_lambert(albedo[hit], i_, e_, rad.lunar_lambert_l)
    else:
        iof[hit] = albedo[hit].astype(np.float64) * law(i_, e_, g_)
    if terrain is not None and shadows:
        lit = np.zeros(hit.shape)
        lit[hit] = terrain.lit(xyz[hit], camera.sun_position_m)
        iof *= lit
    # Sun-to-surface distance per sub-sample, AU
    d_au = np.ones(hit.shape)
    d_au[hit] = np.linalg.norm(camera.sun_position_m - xyz[hit], axis=-1) / AU_M
    radiance = iof * rad.solar_irradiance / (np.pi * d_au**2)

    def pixel_mean(a):
        return a.reshape(m, s, n, s).mean(axis=(1, 3))

    iof_px = pixel_mean(iof)
    rad_px = pixel_mean(radiance)
    on_body = hit.reshape(m, s, n, s).all(axis=(1, 3))
    if psf_sigma_px > 0:
        iof_px = ndimage.gaussian_filter(iof_px, psf_sigma_px, mode="nearest")
        rad_px = ndimage.gaussian_filter(rad_px, psf_sigma_px, mode="nearest")
    # angles at the pixel centres: mean of the sub-sample angles (smooth over a pixel)
    angles = []
    for sub in (inc, emi, pha):
        arr = sub.reshape(m, s, n, s).mean(axis=(1, 3))
        angles.append(np.where(on_body, arr, np.nan).astype(np.float32))
    return Scene(
        iof=iof_px.astype(np.float32),
        radiance=rad_px.astype(np.float32),
        on_body=on_body,
        incidence=angles[0],
        emission=angles[1],
        phase=angles[2],
        albedo=pixel_mean(albedo).astype(np.float32),
        lit=None if lit is None else pixel_mean(lit).astype(np.float32),
    )


@dataclass
class RenderedFrame:
    """A simulated light frame: raw DN plus the ideal scene and injected defects.

    Attributes
    ----------
    dn : ndarray of shape (M, N), uint16
        Raw frame (what the files hold).
    scene : Scene
        The ideal I/F and radiance.
    exposure : Exposure
        Exposure duration, cosmic rays, saturated pixels, bias drift.
    detector : Detector
    """

    dn: np.ndarray
    scene: Scene
    exposure: Exposure
    detector: Detector

    @property
    def iof(self) -> np.ndarray:
        """Ideal I/F, float32 (M, N)."""
        return self.scene.iof


def render_frame(
    camera,
    surface,
    *,
    exposure_s: float = 0.012,
    detector: Detector | None = None,
    seed: int = 0,
    radiometry: Radiometry | None = None,
    supersample: int = 2,
    noise: bool = True,
    cosmic_rays: bool = True,
    law=None,
    terrain=None,
    shadows: bool = True,
) -> RenderedFrame:
    """Render one raw light frame in memory (no files): the simulator's forward model.

    Parameters
    ----------
    camera : pipeline.geometry.FrameCamera
        The *true* camera (with a Sun position).
    surface : Surface
    exposure_s : float
        Exposure duration, seconds.
    detector : Detector, optional
        Default: ``Detector.from_seed(seed, camera.shape)`` (bias, dark, flat, defects).
        ``Detector.ideal(shape)`` gives a perfect detector.
    seed : int
        Seed of the noise and cosmic rays (and of the default detector).
    radiometry : Radiometry, optional
    supersample : int
        Sub-samples per pixel along each axis.
    noise, cosmic_rays : bool
        Switch shot/read noise and cosmic rays off for exact tests.
    law, terrain, shadows : optional
        Scattering law and relief, as :func:`render_iof`.

    Returns
    -------
    RenderedFrame

    Examples
    --------
    >>> from pipeline.simulation import Surface, render_frame, nadir_camera
    >>> cam = nadir_camera(180.0, 0.0, lines=64, samples=64)
    >>> frame = render_frame(cam, Surface(seed=1, region=(179, 181, -1, 1)), seed=1)
    >>> frame.dn.dtype, frame.dn.shape
    (dtype('uint16'), (64, 64))
    """
    rad = radiometry or Radiometry()
    det = detector if detector is not None else Detector.from_seed(seed, (camera.lines, camera.samples))
    if det.shape != (camera.lines, camera.samples):
        raise ValueError(f"detector shape {det.shape} differs from the camera's {(camera.lines, camera.samples)}")
    scene = render_iof(camera, surface, supersample=supersample, psf_sigma_px=det.params.psf_sigma_px, radiometry=rad,
                       law=law, terrain=terrain, shadows=shadows)
    rng = np.random.default_rng([int(seed), 0x11647])
    exp = expose(scene.radiance.astype(np.float64) * rad.responsivity, exposure_s, det, rng,
                 noise=noise, cosmic_rays=cosmic_rays)
    return RenderedFrame(dn=exp.dn, scene=scene, exposure=exp, detector=det)


__all__ = [
    "LUNAR_LAMBERT_L",
    "Detector",
    "DetectorParams",
    "Exposure",
    "Radiometry",
    "RenderedFrame",
    "Scene",
    "camera_rays",
    "expose",
    "lunar_lambert",
    "render_frame",
    "render_iof",
]
