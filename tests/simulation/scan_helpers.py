"""Helpers of the scanning-camera simulation tests: a surface of known spots, strip planning."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from pipeline.simulation.scanplan import plan_strips
from pipeline.simulation.sensor import Radiometry
from pipeline.simulation.surface import SurfaceParams

R_MOON = 1_737_400.0


class SpotSurface:
    """Albedo ``base + peak * sum_k exp(-d_k^2 / (2 sigma^2))`` (``d_k``: ground distance, m, to
    spot ``k``) plus an optional smooth ripple ``ripple * sin(x / wave) sin(y / wave)`` of the
    body-fixed coordinates; the ``albedo_xyz`` interface of :class:`pipeline.simulation.Surface`."""

    def __init__(self, centres_xyz, sigma_m: float, base: float = 0.10, peak: float = 0.25, ripple: float = 0.0,
                 wave_m: float = 1000.0):  # fmt: skip
        c = np.asarray(centres_xyz, dtype=float).reshape(-1, 3)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        self.sigma_m, self.base, self.peak, self.ripple, self.wave_m = sigma_m, base, peak, ripple, wave_m

    def albedo_xyz(self, xyz) -> np.ndarray:
        xyz = np.asarray(xyz, dtype=float)
        u = xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)
        d2 = np.zeros(u.shape[:-1] + (len(self.centres),))
        for k, c in enumerate(self.centres):  # a handful of spots; each is vectorised over points
            d2[..., k] = np.sum((u - c) ** 2, axis=-1) * R_MOON**2
        a = self.base + self.peak * np.exp(-0.5 * d2 / self.sigma_m**2).sum(axis=-1)
        if self.ripple:
            a = a + self.ripple * np.sin(xyz[..., 1] / self.wave_m) * np.sin(xyz[..., 2] / self.wave_m)
        return a.astype(np.float32)


def one_strip(params, seed: int = 3):
    """The first strip of ``params`` over (0 N, 180 E)."""
    return plan_strips(params, seed=seed, center_deg=(180.0, 0.0), start_time_s=9.9e8, formats=("pds3",),
                       incidence_deg=(35.0, 55.0), radiometry=Radiometry(),
                       surface_params=SurfaceParams())[0]  # fmt: skip


def centroids(image: np.ndarray, predicted_line, predicted_sample, half: int = 5) -> np.ndarray:
    """Background-subtracted intensity centroids ``(K, 2)`` (image coordinates, pixel centres at
    +0.5) of the spots near each predicted position."""
    out = []
    for pl, ps in zip(predicted_line, predicted_sample):
        r0, c0 = int(np.floor(pl)) - half, int(np.floor(ps)) - half
        win = image[r0 : r0 + 2 * half + 1, c0 : c0 + 2 * half + 1].astype(np.float64)
        border = np.concatenate([win[0], win[-1], win[:, 0], win[:, -1]])
        w = np.clip(win - np.median(border), 0.0, None)
        cl, cs = ndimage.center_of_mass(w)
        out.append((r0 + cl + 0.5, c0 + cs + 0.5))
    return np.array(out)
