"""Rendering through scanning cameras: a line-scan strip line by line, a push frame framelet by framelet.

The physics is that of :func:`pipeline.simulation.sensor.render_iof` (albedo x scattering
law, radiance, pixel averaging, Gaussian PSF); what differs is where each ray starts and
points, which is always the camera's own model:

Line scan (:class:`~pipeline.geometry.cameras.linescan.LineScanCamera`)
    every sub-sample ray is ``camera.rays(line, sample)``: the sensor position and attitude at
    the time of that (continuous) line, so the jitter, the orbit motion and the motion during
    a line exposure are all in it. With an exposure shorter than the line period (an electronic
    shutter) the ``s`` sub-lines of a pixel are spread over ``exposure / period`` of it,
    centred on the line's time (usgscsm's ``line + 0.5``). The PSF blurs the whole strip.
Push frame (:class:`~pipeline.geometry.cameras.pushframe.PushFrameCamera`)
    each framelet is a short frame exposure at usgscsm's framelet time
    (``starting_ephemeris_time + exposure_duration / 2 + k * interframe_delay``): its rays
    start at the sensor position at that time (plus ``smear_samples`` sub-exposures spread
    over ``exposure_duration``, the motion smear) and look through the detector line of the
    pixel inside the framelet (:meth:`ScanCamera.image_to_focal`'s focal line). A margin of
    detector lines beyond the framelet is rendered, blurred with it and cut off, so every
    framelet is a complete frame exposure and consecutive framelets agree where they overlap
    on the ground.

Surfaces: the sphere (:class:`SphereBody`, the camera's radius) or a
:class:`~pipeline.simulation.terrain.Terrain` (first hit, topographic normals, cast shadows).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from pipeline.calibration.radiometry import AU_M
from pipeline.geometry.body import ray_ellipsoid_intersect
from pipeline.geometry.illumination import illumination_angles
from pipeline.geometry.scan_math import distorted_focal_plane
from pipeline.simulation.detector import DetectorParams
from pipeline.simulation.photometry import lunar_lambert
from pipeline.simulation.sensor import Radiometry, Scene

__all__ = ["SphereBody", "focal_rays", "render_scan_iof"]

_CHUNK_RAYS = 1 << 19


class SphereBody:
    """The reference sphere/ellipsoid as a render surface (the :class:`Terrain` interface).

    Parameters
    ----------
    radii_m : (a, b)
        Equatorial and polar radius, metres.
    """

    def __init__(self, radii_m: tuple[float, float]):
        self.radii_m = (float(radii_m[0]), float(radii_m[1]))

    def intersect(self, origin, direction) -> tuple[np.ndarray, np.ndarray]:
        """Near intersection in front of each ray origin: ``(xyz (N, 3), hit (N,))``, NaN off body."""
        d = np.asarray(direction, dtype=float).reshape(-1, 3)
        o = np.broadcast_to(np.asarray(origin, dtype=float), d.shape)
        xyz, hit, _ = ray_ellipsoid_intersect(o, d, self.radii_m)
        return np.where(hit[:, None], xyz, np.nan), hit

    def shade_angles(self, xyz, eye_m, sun_position_m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Incidence, emission, phase (radians) from the ellipsoid normal."""
        return illumination_angles(xyz, eye_m, sun_position_m, self.radii_m)


def _shade(origins, dirs, surface, body, sun, law, rad: Radiometry, shadows: bool):
    """Per-ray albedo, I/F, radiance, hit, angles and lit fraction (1-D arrays)."""
    xyz, hit = body.intersect(origins, dirs)
    n = hit.shape[0]
    albedo = np.zeros(n, dtype=np.float32)
    albedo[hit] = surface.albedo_xyz(xyz[hit])
    eye = np.broadcast_to(origins, (n, 3))[hit]
    i_, e_, g_ = body.shade_angles(xyz[hit], eye, sun)
    angles = [np.full(n, np.nan) for _ in range(3)]
    angles[0][hit], angles[1][hit], angles[2][hit] = i_, e_, g_
    iof = np.zeros(n)
    iof[hit] = (lunar_lambert(albedo[hit], i_, e_, rad.lunar_lambert_l) if law is None
                else albedo[hit].astype(np.float64) * law(i_, e_, g_))  # fmt: skip
    lit = None
    if shadows and not isinstance(body, SphereBody):
        lit = np.zeros(n)
        lit[hit] = body.lit(xyz[hit], sun)
        iof *= lit
    d_au = np.ones(n)
    d_au[hit] = np.linalg.norm(sun - xyz[hit], axis=-1) / AU_M
    radiance = iof * rad.solar_irradiance / (np.pi * d_au**2)
    return {"albedo": albedo, "iof": iof, "radiance": radiance, "hit": hit, "inc": angles[0],
            "emi": angles[1], "pha": angles[2], "lit": lit}  # fmt: skip


def _subpixel(n: int, s: int, spread: float = 1.0) -> np.ndarray:
    """Sub-sample coordinates of pixels ``0..n-1``: ``k + 0.5 + ((j + 0.5) / s - 0.5) * spread``."""
    offs = 0.5 + ((np.arange(s) + 0.5) / s - 0.5) * spread
    return (np.arange(n)[:, None] + offs[None, :]).ravel()


def focal_rays(camera, focal_line, sample, t_rel) -> tuple[np.ndarray, np.ndarray]:
    """Rays of focal-plane lines seen at given times (push-frame framelets and their margins).

    Parameters
    ----------
    camera : ScanCamera
    focal_line, sample : array_like, broadcast together to shape ``S``
        Detector line (the framelet's focal line, ``focal_line * line_summing +
        starting_detector_line`` on the detector) and image sample, pixels (centres at +0.5).
    t_rel : array_like of shape (T,)
        Times relative to ``camera.time_s`` (s).

    Returns
    -------
    origins : ndarray of shape (T, 1, ..., 3)
    directions : ndarray of shape (T,) + S + (3,)
        Unit vectors, body-fixed.
    """
    c = camera
    fl, ss = np.broadcast_arrays(np.asarray(focal_line, float), np.asarray(sample, float))
    x, y = distorted_focal_plane(fl, ss, c.detector_center[1], c.detector_center[0], c.sample_summing,
                                 c.line_summing, c.starting_detector_sample, c.starting_detector_line,
                                 c.focal2pixel_samples, c.focal2pixel_lines)  # fmt: skip
    ux, uy = c.distortion.remove(x, y)
    look = np.stack([ux, uy, np.full(ux.shape, c.focal_length_mm)], axis=-1)
    look = look / np.linalg.norm(look, axis=-1, keepdims=True) * c.look_direction
    t = np.asarray(t_rel, dtype=float).ravel()
    rot = c.cam_to_body_at_time(t)  # (T, 3, 3)
    pos = c.position_at_time(t)  # (T, 3)
    dirs = np.einsum("tij,...j->t...i", rot, look)
    return pos.reshape((t.size,) + (1,) * fl.ndim + (3,)), dirs


def _scene(px: dict, on_body, psf_sigma_px: float, blur=None) -> Scene:
    """A Scene from pixel means (``blur``: function applied to I/F and radiance; default Gaussian)."""
    if blur is None:
        def blur(a):
            return ndimage.gaussian_filter(a, psf_sigma_px, mode="nearest") if psf_sigma_px > 0 else a
    angles = [np.where(on_body, px[k], np.nan).astype(np.float32) for k in ("inc", "emi", "pha")]
    return Scene(
        iof=blur(px["iof"]).astype(np.float32), radiance=blur(px["radiance"]).astype(np.float32), on_body=on_body,
        incidence=angles[0], emission=angles[1], phase=angles[2], albedo=px["albedo"].astype(np.float32),
        lit=None if px["lit"] is None else px["lit"].astype(np.float32),
    )  # fmt: skip


def _render_linescan(camera, shade, s: int, spread: float, psf: float) -> Scene:
    m, n = camera.lines, camera.samples
    sub_s = _subpixel(n, s)
    sub_l = _subpixel(m, s, spread)
    rows_per = max(1, _CHUNK_RAYS // (n * s * s))
    sums: dict[str, list] = {}
    on_body = []
    for r0 in range(0, m, rows_per):
        r1 = min(m, r0 + rows_per)
        ll, ss = np.meshgrid(sub_l[r0 * s : r1 * s], sub_s, indexing="ij")
        o, d = camera.rays(ll, ss)
        res = shade(o.reshape(-1, 3), d.reshape(-1, 3))
        k = r1 - r0
        for key in ("albedo", "iof", "radiance", "inc", "emi", "pha", "lit"):
            if res[key] is not None:
                sums.setdefault(key, []).append(res[key].reshape(k, s, n, s).mean(axis=(1, 3)))
        on_body.append(res["hit"].reshape(k, s, n, s).all(axis=(1, 3)))
    px = {k: np.concatenate(v) for k, v in sums.items()}
    px.setdefault("lit", None)
    return _scene(px, np.concatenate(on_body), psf)


def _render_pushframe(camera, shade, s: int, smear: int, exposure_s: float, psf: float) -> Scene:
    c = camera
    h = c.summed_framelet_height
    top = c.num_lines_overlap // 2
    margin = math.ceil(3.0 * psf) + 1 if psf > 0 else 0
    rows = np.arange(-margin, h + margin)  # framelet rows incl. margins
    focal = _subpixel(rows.size, s) + (top - margin)
    samp = _subpixel(c.samples, s)
    toffs = ((np.arange(smear) + 0.5) / smear - 0.5) * exposure_s
    nr, n = rows.size, c.samples
    out = {k: np.zeros((c.lines, n)) for k in ("albedo", "iof", "radiance", "inc", "emi", "pha", "lit")}
    on_body = np.zeros((c.lines, n), bool)
    has_lit = False
    ff, ss = np.meshgrid(focal, samp, indexing="ij")
    for k in range(c.n_framelets):
        t_k = float(c.line_time(k * h + 0.5))
        o, d = focal_rays(c, ff, ss, t_k + toffs)
        o = np.broadcast_to(o, d.shape).reshape(-1, 3)
        res = shade(o, d.reshape(-1, 3))
        blk = slice(k * h, (k + 1) * h)
        for key, arr in out.items():
            if res[key] is None:
                continue
            has_lit |= key == "lit"
            mean = res[key].reshape(smear, nr, s, n, s).mean(axis=(0, 2, 4))
            if key in ("iof", "radiance") and psf > 0:
                mean = ndimage.gaussian_filter(mean, psf, mode="nearest")
            arr[blk] = mean[margin : margin + h]
        on_body[blk] = res["hit"].reshape(smear, nr, s, n, s).all(axis=(0, 2, 4))[margin : margin + h]
    if not has_lit:
        out["lit"] = None
    return _scene(out, on_body, psf, blur=lambda a: a)


def render_scan_iof(
    camera,
    surface,
    *,
    supersample: int = 2,
    psf_sigma_px: float = DetectorParams.psf_sigma_px,
    radiometry: Radiometry | None = None,
    law=None,
    terrain=None,
    shadows: bool = True,
    exposure_s: float | None = None,
    line_period_s: float | None = None,
    smear_samples: int = 1,
) -> Scene:
    """Render what a scanning camera sees of ``surface``: I/F, radiance and angles, no detector.

    Parameters
    ----------
    camera : LineScanCamera or PushFrameCamera
        The *true* camera, with a Sun (its centre-time position is used for every line).
    surface : Surface
        Anything with ``albedo_xyz(xyz) -> float32``.
    supersample : int
        Sub-samples per pixel along each axis.
    psf_sigma_px : float
        Gaussian blur, pixels (per framelet for a push frame).
    radiometry : Radiometry, optional
    law : callable, optional
        Scattering law ``f(i, e, g)`` (default lunar-Lambert with the radiometry's ``L``).
    terrain : Terrain, optional
        Relief (default: the camera's sphere).
    shadows : bool
        With a terrain: cast shadows.
    exposure_s : float, optional
        Line exposure (line scan: the sub-lines cover ``exposure_s / line_period_s`` of each
        line) or framelet exposure (push frame: smear over it). Default: the line period /
        the camera's ``exposure_duration``.
    line_period_s : float, optional
        Line scan: the line period (default: from ``line_scan_rate``).
    smear_samples : int
        Push frame: sub-exposures per framelet spread over ``exposure_s``.

    Returns
    -------
    Scene
        ``(lines, samples)`` arrays; angles are the means of the sub-sample angles.
    """
    rad = radiometry or Radiometry()
    s = int(supersample)
    if s < 1 or smear_samples < 1:
        raise ValueError(f"supersample and smear_samples must be >= 1, got {supersample}, {smear_samples}")
    body = terrain if terrain is not None else SphereBody(camera.radii_m)
    sun = np.asarray(camera.sun_position_m, dtype=float)

    def shade(o, d):
        return _shade(o, d, surface, body, sun, law, rad, shadows)

    if camera.kind == "line-scan":
        period = line_period_s or abs(camera.line_scan_rate[0][2])
        spread = 1.0 if exposure_s is None else min(1.0, float(exposure_s) / period)
        return _render_linescan(camera, shade, s, spread, psf_sigma_px)
    if camera.kind == "push-frame":
        exp = camera.exposure_duration if exposure_s is None else float(exposure_s)
        return _render_pushframe(camera, shade, s, int(smear_samples), exp, psf_sigma_px)
    raise ValueError(f"render_scan_iof renders line-scan and push-frame cameras, not {camera.kind!r}")
