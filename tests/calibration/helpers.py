"""Synthetic detector and scene with known truth for the calibration tests.

A :class:`Sensor` holds the true bias (with a column pattern), dark-current rate (with hot
pixels), flat field (vignetting, pixel response, dead pixels) and noisy pixels; it
exposes a scene (true signal rate, DN/s) into raw DN with Poisson and read noise. The
scene is smooth plus PSF-blurred texture plus small PSF-blurred craters (dips and peaks),
like an albedo-only lunar frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from pipeline.frame import Frame, FrameMeta, FrameType

SHAPE = (192, 224)
GAIN = 2.0  # e-/DN
READ_NOISE = 4.0  # DN
PSF_SIGMA = 1.5 / 2.3548  # px: FWHM 1.5 px


def psf_blur(image: np.ndarray, sigma: float = PSF_SIGMA) -> np.ndarray:
    """Gaussian PSF blur (the sharpest the optics can make)."""
    return ndimage.gaussian_filter(image, sigma, mode="reflect")


@dataclass
class Sensor:
    bias: np.ndarray
    dark_rate: np.ndarray
    flat: np.ndarray
    hot: np.ndarray
    dead: np.ndarray
    noisy: np.ndarray
    read_noise: np.ndarray

    def expose(
        self, rate: np.ndarray | float, t: float, rng: np.random.Generator, noise: bool = True
    ) -> np.ndarray:
        """Raw DN of a scene with true signal ``rate`` (DN/s) exposed for ``t`` seconds."""
        electrons = (self.flat * rate + self.dark_rate) * t * GAIN
        if not noise:
            return (self.bias + electrons / GAIN).astype(np.float32)
        signal = rng.poisson(np.maximum(electrons, 0.0)) / GAIN
        return (self.bias + signal + rng.normal(0.0, 1.0, self.bias.shape) * self.read_noise).astype(
            np.float32
        )


def make_sensor(rng: np.random.Generator, shape=SHAPE, n_hot=40, n_dead=40, n_noisy=20) -> Sensor:
    lines, samples = shape
    yy, xx = np.mgrid[0:lines, 0:samples]
    bias = 200.0 + 6.0 * np.sin(xx / 7.0)[0:1].repeat(lines, 0) + rng.normal(0, 3.0, samples)[None, :]
    dark = 2.0 + 0.5 * xx / samples + rng.normal(0, 0.05, shape)
    r2 = ((yy - lines / 2) / lines) ** 2 + ((xx - samples / 2) / samples) ** 2
    flat = (1.0 - 0.6 * r2) * (1.0 + rng.normal(0, 0.01, shape))
    idx = rng.choice(lines * samples, n_hot + n_dead + n_noisy, replace=False)
    hot = np.zeros(shape, bool)
    dead = np.zeros(shape, bool)
    noisy = np.zeros(shape, bool)
    hot.flat[idx[:n_hot]] = True
    dead.flat[idx[n_hot : n_hot + n_dead]] = True
    noisy.flat[idx[n_hot + n_dead :]] = True
    dark[hot] = rng.uniform(20.0, 500.0, n_hot)
    flat[dead] *= rng.uniform(0.0, 0.3, n_dead)
    read_noise = np.full(shape, READ_NOISE)
    read_noise[noisy] = rng.uniform(10.0, 20.0, n_noisy) * READ_NOISE  # clearly noisy with 9 biases
    return Sensor(bias, dark, flat, hot, dead, noisy, read_noise)


def make_scene(
    rng: np.random.Generator, shape=SHAPE, level=1500.0, n_craters=60, texture=0.05
) -> tuple[np.ndarray, np.ndarray]:
    """True signal rate (DN/s, PSF-blurred) and the crater centres, shape (K, 2)."""
    lines, samples = shape
    yy, xx = np.mgrid[0:lines, 0:samples]
    smooth = 1.0 + 0.25 * np.sin(xx / 40.0) * np.cos(yy / 31.0) + 0.15 * (xx / samples)
    noise = ndimage.gaussian_filter(rng.normal(0, 1, shape), 2.0)
    albedo = smooth * (1.0 + texture * noise / noise.std())
    centres = np.column_stack(
        [rng.integers(6, lines - 6, n_craters), rng.integers(6, samples - 6, n_craters)]
    )
    spikes = np.zeros(shape)
    spikes[centres[:, 0], centres[:, 1]] = rng.choice([-1.0, 1.0], n_craters) * rng.uniform(
        0.5, 1.2, n_craters
    )
    albedo = np.maximum(albedo + spikes, 0.05)
    return level * psf_blur(albedo), centres


def add_cosmics(
    raw: np.ndarray, rng: np.random.Generator, n: int = 150, amp=(300.0, 3000.0), margin: int = 3
):
    """Add single-pixel, 2-pixel and diagonal hits, 3 px apart at least; return (raw, truth mask)."""
    out = raw.copy()
    truth = np.zeros(raw.shape, bool)
    lines, samples = raw.shape
    for _ in range(n):
        r = int(rng.integers(margin, lines - margin))
        c = int(rng.integers(margin, samples - margin))
        if truth[r - 3 : r + 4, c - 3 : c + 4].any():
            continue
        a = rng.uniform(*amp)
        kind = int(rng.integers(0, 3))
        pixels = [(r, c)] + ([(r, c + 1)] if kind == 1 else []) + ([(r + 1, c + 1)] if kind == 2 else [])
        for k, (i, j) in enumerate(pixels):
            out[i, j] += a * (1.0 if k == 0 else rng.uniform(0.5, 1.0))
            truth[i, j] = True
    return out, truth


def make_frame(
    data: np.ndarray, exposure_s: float | None, frame_type=FrameType.LIGHT, name="f", camera=None
) -> Frame:
    meta = FrameMeta(
        id=name,
        path=Path(f"/data/{name}.fits"),
        format="fits",
        shape=data.shape,
        dtype="uint16",
        frame_type=frame_type,
        exposure_s=exposure_s,
    )
    return Frame(meta=meta, camera=camera, data=np.asarray(data, np.float32))


MOON_R = 1_737_400.0
AU = 149_597_870_700.0


def look_at_camera(
    lines, samples, target_xyz, distance_m, focal_mm=50.0, pitch_mm=0.01, sun_dir=(1.0, 0.0, 0.0), sun_au=1.0
):
    """A FrameCamera ``distance_m`` above ``target_xyz`` (body-fixed m) looking straight down at it.

    The Sun is ``sun_au`` AU from the body centre along ``sun_dir``.
    """
    from pipeline.geometry import FrameCamera

    target = np.asarray(target_xyz, float)
    up = target / np.linalg.norm(target)
    position = target + distance_m * up
    z = -up
    helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    sun = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir) * sun_au * AU
    return FrameCamera.build(
        lines=lines,
        samples=samples,
        focal_length_mm=focal_mm,
        pixel_pitch_mm=pitch_mm,
        position_m=position,
        cam_to_body=np.column_stack([x, y, z]),
        sun_position_m=sun,
    )
