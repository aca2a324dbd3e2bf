"""The simulated detector: fixed pattern (bias, dark current, flat field, defects) and read-out.

:class:`DetectorParams` holds every constant, :meth:`Detector.from_seed` builds the fixed
pattern of one detector deterministically, and :func:`expose` integrates a light rate on it
and reads it out: electrons ``Poisson(gain * (rate * flat + dark_rate) * t)``, plus
cosmic-ray deposits (DN), plus bias (level + fixed column pattern + line ramp + per-frame
drift) and Gaussian read noise, rounded and clipped to 12 bits (0..4095). See
:mod:`pipeline.simulation.sensor` for the whole forward model of a light frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.simulation.params import JsonParams


@dataclass(frozen=True)
class DetectorParams(JsonParams):
    """Constants of the simulated detector (DN are 12-bit data numbers).

    Attributes
    ----------
    gain_e_per_dn : float
        Electrons per DN (shot noise is Poisson in electrons).
    read_noise_dn : float
        Gaussian read noise, DN (1 sigma).
    bias_dn : float
        Mean bias level, DN.
    bias_column_sigma_dn : float
        Fixed per-column bias offsets, DN (1 sigma), plus a few ``bias_bright_columns``.
    bias_line_ramp_dn : float
        Bias change from the first to the last line, DN.
    bias_drift_dn : float
        Per-frame bias offset, DN (1 sigma).
    dark_rate_dn_s : float
        Mean dark current, DN/s (with a corner "amplifier glow" of ``dark_glow``).
    hot_fraction : float
        Fraction of pixels that are hot, dark rate log-uniform in ``hot_rate_dn_s``.
    dead_pixels : int
        Number of dead pixels (no response to light, no dark current: read the bias).
    prnu : float
        Pixel response non-uniformity, relative (1 sigma).
    vignetting : float
        Flat-field loss at the image corners (0.22: corners at 78 % of the centre).
    dust_donuts : int
        Number of out-of-focus dust shadows (rings) in the flat.
    psf_sigma_px : float
        Gaussian optical blur of the scene, pixels.
    cosmic_mean : float
        Mean number of cosmic-ray hits per frame (plus ``cosmic_per_s`` times exposure).
    saturation_dn : int
        Largest raw value (12 bits).
    """

    gain_e_per_dn: float = 6.0
    read_noise_dn: float = 2.0
    bias_dn: float = 180.0
    bias_column_sigma_dn: float = 3.0
    bias_bright_columns: int = 3
    bias_line_ramp_dn: float = 1.5
    bias_drift_dn: float = 0.5
    dark_rate_dn_s: float = 30.0
    dark_glow: float = 0.5
    hot_fraction: float = 5e-4
    hot_rate_dn_s: tuple[float, float] = (1000.0, 20000.0)
    dead_pixels: int = 25
    prnu: float = 0.01
    vignetting: float = 0.22
    dust_donuts: int = 3
    psf_sigma_px: float = 0.5
    cosmic_mean: float = 5.0
    cosmic_per_s: float = 20.0
    cosmic_dn: tuple[float, float] = (300.0, 2500.0)
    saturation_dn: int = 4095


@dataclass
class Detector:
    """The fixed-pattern signature of one simulated detector.

    Attributes
    ----------
    params : DetectorParams
    flat : ndarray of shape (M, N), float32
        Relative response (median 1 over live pixels; 0 at dead pixels).
    dark_rate : ndarray of shape (M, N), float32
        Dark current, DN/s (hot pixels included; 0 at dead pixels).
    bias : ndarray of shape (M, N), float32
        Bias level without the per-frame drift, DN.
    hot : ndarray of shape (K, 2), int
        ``(line, sample)`` of hot pixels.
    dead : ndarray of shape (J, 2), int
        ``(line, sample)`` of dead pixels.
    dust : list of dict
        Dust donuts: centre ``line``, ``sample``, ``radius_px``, ``depth``.
    seed : int
    """

    params: DetectorParams
    flat: np.ndarray
    dark_rate: np.ndarray
    bias: np.ndarray
    hot: np.ndarray
    dead: np.ndarray
    dust: list[dict[str, float]] = field(default_factory=list)
    seed: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(lines, samples)`` of the detector."""
        return self.flat.shape  # type: ignore[return-value]

    @classmethod
    def from_seed(cls, seed: int, shape: tuple[int, int], params: DetectorParams | None = None) -> Detector:
        """Build a detector deterministically from ``seed``.

        Parameters
        ----------
        seed : int
        shape : (lines, samples)
        params : DetectorParams, optional
        """
        p = params or DetectorParams()
        rng = np.random.default_rng([int(seed), 0xDE7EC7])
        m, n = int(shape[0]), int(shape[1])
        ll, ss = np.meshgrid(np.arange(m) + 0.5, np.arange(n) + 0.5, indexing="ij")
        # vignetting: smooth radial falloff, 1 at the centre, 1 - vignetting at the corners
        r2 = ((ll - m / 2) ** 2 + (ss - n / 2) ** 2) / ((m / 2) ** 2 + (n / 2) ** 2)
        vig = 1.0 - p.vignetting * (0.6 * r2 + 0.4 * r2**2)
        prnu = 1.0 + p.prnu * rng.standard_normal((m, n))
        dust_map = np.ones((m, n))
        dust = []
        for _ in range(p.dust_donuts):
            radius = rng.uniform(0.02, 0.045) * min(m, n) + 2.0
            cl, cs = rng.uniform(0.15 * m, 0.85 * m), rng.uniform(0.15 * n, 0.85 * n)
            depth = rng.uniform(0.04, 0.10)
            width = max(1.0, 0.25 * radius)
            rr = np.hypot(ll - cl, ss - cs)
            ring = np.exp(-(((rr - radius) / width) ** 2)) + 0.35 * (rr < radius)
            dust_map *= 1.0 - depth * ring / 1.35
            dust.append({"line": round(cl, 3), "sample": round(cs, 3), "radius_px": round(radius, 3),
                         "depth": round(depth, 4)})
        flat = vig * prnu * dust_map
        npix = m * n
        dead_idx = rng.choice(npix, size=min(p.dead_pixels, npix // 10), replace=False)
        remaining = np.setdiff1d(np.arange(npix), dead_idx)
        n_hot = round(p.hot_fraction * npix)
        hot_idx = rng.choice(remaining, size=min(n_hot, len(remaining)), replace=False)
        dark = p.dark_rate_dn_s * (1.0 + p.dark_glow * np.exp(-np.hypot(ll, ss) / (0.15 * max(m, n))))
        dark *= 1.0 + 0.1 * rng.standard_normal((m, n))
        dark = np.maximum(dark, 0.0)
        lo, hi = p.hot_rate_dn_s
        dark.ravel()[hot_idx] = np.exp(rng.uniform(math.log(lo), math.log(hi), len(hot_idx)))
        flat.ravel()[dead_idx] = 0.0
        dark.ravel()[dead_idx] = 0.0
        live = flat > 0
        flat = flat / np.median(flat[live])
        cols = p.bias_column_sigma_dn * rng.standard_normal(n)
        bright_cols = rng.choice(n, size=min(p.bias_bright_columns, n), replace=False)
        cols[bright_cols] += rng.uniform(8.0, 15.0, len(bright_cols))
        ramp = p.bias_line_ramp_dn * (np.arange(m) + 0.5) / m
        bias = p.bias_dn + cols[None, :] + ramp[:, None]
        to_lc = lambda idx: np.column_stack(np.unravel_index(np.sort(idx), (m, n))).astype(int)
        return cls(
            params=p,
            flat=flat.astype(np.float32),
            dark_rate=dark.astype(np.float32),
            bias=bias.astype(np.float32),
            hot=to_lc(hot_idx),
            dead=to_lc(dead_idx),
            dust=dust,
            seed=int(seed),
        )

    @classmethod
    def ideal(cls, shape: tuple[int, int], params: DetectorParams | None = None) -> Detector:
        """A perfect detector: flat 1, no dark current, zero bias, no defects (noise and
        cosmic rays are switched off in :func:`expose` separately)."""
        return cls(
            params=params or DetectorParams(bias_dn=0.0),
            flat=np.ones(shape, np.float32),
            dark_rate=np.zeros(shape, np.float32),
            bias=np.zeros(shape, np.float32),
            hot=np.zeros((0, 2), int),
            dead=np.zeros((0, 2), int),
        )

    def defects(self) -> dict[str, Any]:
        """Hot and dead pixels and dust donuts as JSON-serialisable lists."""
        return {
            "hot": [[int(r), int(c), round(float(self.dark_rate[r, c]), 2)] for r, c in self.hot],
            "dead": [[int(r), int(c)] for r, c in self.dead],
            "dust_donuts": self.dust,
        }


@dataclass
class Exposure:
    """One raw frame and what was injected into it.

    Attributes
    ----------
    dn : ndarray of shape (M, N), uint16
        Raw data numbers (0..saturation).
    exposure_s : float
    cosmic_rays : list of dict
        Each hit: ``pixels`` (list of ``[line, sample]``) and ``dn`` (deposit per pixel).
    saturated : ndarray of shape (K, 2), int
        ``(line, sample)`` of pixels at the saturation value.
    bias_drift_dn : float
        Per-frame bias offset added to the detector bias, DN.
    """

    dn: np.ndarray
    exposure_s: float
    cosmic_rays: list[dict[str, Any]]
    saturated: np.ndarray
    bias_drift_dn: float

    def defects(self) -> dict[str, Any]:
        """Cosmic rays, saturated pixels and bias drift as JSON-serialisable values."""
        return {
            "cosmic_rays": self.cosmic_rays,
            "saturated": [[int(r), int(c)] for r, c in self.saturated],
            "bias_drift_dn": round(self.bias_drift_dn, 4),
        }


def _cosmic_rays(rng: np.random.Generator, shape: tuple[int, int], n: int, dn_range) -> list[dict[str, Any]]:
    m, k = shape
    hits = []
    for _ in range(n):
        l0, s0 = int(rng.integers(0, m)), int(rng.integers(0, k))
        if rng.random() < 0.5:
            pix = [(l0, s0)]
        else:  # a short straight streak
            length = int(rng.integers(2, 9))
            ang = rng.uniform(0, np.pi)
            t = np.arange(length)
            ls = np.rint(l0 + t * np.sin(ang)).astype(int)
            ss = np.rint(s0 + t * np.cos(ang)).astype(int)
            pix = []
            for a, b in zip(ls, ss):
                if 0 <= a < m and 0 <= b < k and (a, b) not in pix:
                    pix.append((int(a), int(b)))
        dn = rng.uniform(*dn_range) * rng.uniform(0.6, 1.0, len(pix))
        hits.append({"pixels": [[a, b] for a, b in pix], "dn": [round(float(v), 2) for v in dn]})
    return hits


def expose(
    rate_dn_s: np.ndarray | float,
    exposure_s: float,
    detector: Detector,
    rng: np.random.Generator,
    *,
    noise: bool = True,
    cosmic_rays: bool = True,
) -> Exposure:
    """Integrate a light rate on the detector and read it out.

    Parameters
    ----------
    rate_dn_s : ndarray of shape (M, N) or float
        Light signal rate for a pixel of flat 1, DN/s (``responsivity * radiance``); the
        detector's flat multiplies it.
    exposure_s : float
        Exposure duration, seconds (0 for a bias frame).
    detector : Detector
    rng : numpy.random.Generator
        Source of the shot/read noise, the bias drift and cosmic rays.
    noise : bool
        False: no shot noise, no read noise and no bias drift (values are rounded only).
    cosmic_rays : bool
        Inject cosmic-ray hits.

    Returns
    -------
    Exposure
    """
    p = detector.params
    shape = detector.shape
    light = np.asarray(rate_dn_s, dtype=np.float64) * detector.flat * exposure_s
    dark = detector.dark_rate.astype(np.float64) * exposure_s
    electrons = np.broadcast_to((light + dark) * p.gain_e_per_dn, shape)
    if noise:
        signal = rng.poisson(np.maximum(electrons, 0.0)).astype(np.float64) / p.gain_e_per_dn
        drift = float(rng.normal(0.0, p.bias_drift_dn))
        read = rng.normal(0.0, p.read_noise_dn, shape)
    else:
        signal = electrons / p.gain_e_per_dn
        drift = 0.0
        read = 0.0
    hits: list[dict[str, Any]] = []
    if cosmic_rays:
        n_hits = int(rng.poisson(p.cosmic_mean + p.cosmic_per_s * exposure_s))
        hits = _cosmic_rays(rng, shape, n_hits, p.cosmic_dn)
        for hit in hits:
            for (a, b), v in zip(hit["pixels"], hit["dn"]):
                signal[a, b] += v
    dn = np.rint(signal + detector.bias + drift + read)
    sat_value = p.saturation_dn
    saturated = np.argwhere(dn >= sat_value)
    dn = np.clip(dn, 0, sat_value).astype(np.uint16)
    return Exposure(dn=dn, exposure_s=float(exposure_s), cosmic_rays=hits, saturated=saturated, bias_drift_dn=drift)


__all__ = ["Detector", "DetectorParams", "Exposure", "expose"]
