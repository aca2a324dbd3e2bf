"""Synthetic overlapping observations over a realistic survey geometry, rendered with a known law.

Strips of nadir frames over a patch of the far side (centre 0 N, 180 E, sphere R = 1737.4
km) from 50 km altitude: each frame sees the cells within +-1.3 deg of its centre (emission
0 to ~40 deg), neighbouring frames overlap by half along a strip and strips overlap by a
third. Each strip is flown on a different orbit, so the Sun stands differently (incidence
at the frame centres 30 to 80 deg; azimuth varies), and phase spreads within a frame with
the viewing direction. Truth: a log-normal cell albedo (I/F at i = 30, e = 0, g = 30 deg,
median 0.12), per-frame gains and offsets (geometric-mean gain 1, mean offset 0 within the
survey), 1 % multiplicative noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

R_KM = 1737.4
ALT_KM = 50.0


@dataclass(frozen=True)
class Survey:
    iof: np.ndarray
    incidence: np.ndarray
    emission: np.ndarray
    phase: np.ndarray
    frame: np.ndarray
    cell: np.ndarray
    gains: np.ndarray
    offsets: np.ndarray
    albedo: np.ndarray


def _unit(lat, lon):
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def survey_geometry(
    n_strips: int = 4,
    frames_per_strip: int = 5,
    cell_deg: float = 0.1,
    incidence_deg: tuple[float, float] = (32.0, 76.0),
    half_width_deg: float = 1.3,
):
    """Per-observation (incidence, emission, phase, frame, cell), radians."""
    step_lon = half_width_deg  # half-frame overlap along the strip
    step_lat = 2 * half_width_deg * 2 / 3  # a third between strips
    lat_c = (np.arange(n_strips) - (n_strips - 1) / 2) * step_lat
    lon_c = 180.0 + (np.arange(frames_per_strip) - (frames_per_strip - 1) / 2) * step_lon
    lat_g = np.arange(lat_c.min() - half_width_deg, lat_c.max() + half_width_deg + 1e-9, cell_deg)
    lon_g = np.arange(lon_c.min() - half_width_deg, lon_c.max() + half_width_deg + 1e-9, cell_deg)
    glat, glon = np.meshgrid(np.radians(lat_g), np.radians(lon_g), indexing="ij")
    normal = _unit(glat, glon).reshape(-1, 3)
    cell_lat, cell_lon = glat.ravel(), glon.ravel()
    incs = np.linspace(*incidence_deg, n_strips)
    out = []
    f = 0
    for s, la in enumerate(lat_c):
        for k, lo in enumerate(lon_c):
            centre = _unit(np.radians(la), np.radians(lo))
            sc = centre * (R_KM + ALT_KM)
            # the Sun: incidence incs[s] at the frame centre, azimuth changing along the survey
            east = np.cross([0.0, 0.0, 1.0], centre)
            east /= np.linalg.norm(east)
            north = np.cross(centre, east)
            az = np.radians(70.0 + 25.0 * s + 8.0 * k)
            i0 = np.radians(incs[s] + 2.0 * (k - (frames_per_strip - 1) / 2))
            sun = np.cos(i0) * centre + np.sin(i0) * (np.cos(az) * east + np.sin(az) * north)
            inside = (np.abs(np.degrees(cell_lat) - la) <= half_width_deg) & (
                np.abs(np.degrees(cell_lon) - lo) <= half_width_deg
            )
            idx = np.flatnonzero(inside)
            p = normal[idx] * R_KM
            view = sc - p
            view /= np.linalg.norm(view, axis=1, keepdims=True)
            n = normal[idx]
            inc = np.arccos(np.clip(n @ sun, -1, 1))
            emi = np.arccos(np.clip(np.sum(n * view, axis=1), -1, 1))
            pha = np.arccos(np.clip(view @ sun, -1, 1))
            out.append((inc, emi, pha, np.full(idx.size, f), idx))
            f += 1
    inc, emi, pha, frame, cell = (np.concatenate([o[j] for o in out]) for j in range(5))
    return inc, emi, pha, frame, cell


def render(
    law, seed: int = 3, noise: float = 0.01, gain_sd: float = 0.05, offset_sd: float = 0.002, **geometry
):
    """Observations of the survey rendered with ``law(incidence, emission, phase)``."""
    inc, emi, pha, frame, cell = survey_geometry(**geometry)
    rng = np.random.default_rng(seed)
    n_frames, n_cells = frame.max() + 1, cell.max() + 1
    albedo = 0.12 * np.exp(0.25 * rng.standard_normal(n_cells))
    gains = np.exp(gain_sd * rng.standard_normal(n_frames))
    gains /= np.exp(np.mean(np.log(gains)))
    offsets = offset_sd * rng.standard_normal(n_frames)
    offsets -= offsets.mean()
    # albedo = I/F at the standard geometry (i = 30, e = 0, g = 30 deg), whatever the law
    standard = law(*np.radians([30.0, 0.0, 30.0]))
    clean = gains[frame] * albedo[cell] * law(inc, emi, pha) / standard + offsets[frame]
    iof = clean * (1.0 + noise * rng.standard_normal(clean.size))
    return Survey(iof, inc, emi, pha, frame, cell, gains, offsets, albedo)
