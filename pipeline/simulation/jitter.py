"""Pointing jitter of a scanning camera along its strip: low-frequency sinusoids + a slow drift.

The jitter is a rotation vector in the camera frame (radians inside, degrees in the truth
files) applied on the right of the smooth nadir attitude,
``cam_to_body_true(t) = cam_to_body_nadir(t) @ R(jitter(t))``, with, per axis ``a``,

``jitter_a(t) = sum_i A_ia sin(2 pi t / P_i + phi_ia) + D_a * tau**2``,  ``tau = t / half_duration_s``

(``t`` relative to the strip's centre time, so ``tau`` runs from -1 at the first line to +1
at the last). The quadratic drift is not in the span of the constant + linear pointing
corrections a bundle adjustment with ``CKDEGREE = 1`` fits, nor are the sinusoids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PointingJitter"]


@dataclass(frozen=True)
class PointingJitter:
    """Jitter of one strip (angles in degrees, times in seconds).

    Attributes
    ----------
    amplitude_deg : tuple of k (3,) tuples
        Amplitude of sinusoid ``i`` on each camera axis.
    period_s : tuple of k float
        Period of sinusoid ``i`` (shared by the three axes).
    phase_rad : tuple of k (3,) tuples
    drift_deg : (3,)
        Quadratic drift per axis at ``tau = +-1``.
    half_duration_s : float
        Half the strip's duration (normalises ``tau``).

    Examples
    --------
    >>> j = PointingJitter.from_seed(np.random.default_rng(1), amplitude_deg=0.02, drift_deg=0.01,
    ...                              duration_s=60.0)
    >>> j.rotvec_rad(np.array([0.0, 10.0])).shape
    (2, 3)
    >>> float(np.abs(np.degrees(j.rotvec_rad(np.linspace(-30, 30, 601)))).max()) <= 0.03
    True
    """

    amplitude_deg: tuple[tuple[float, float, float], ...]
    period_s: tuple[float, ...]
    phase_rad: tuple[tuple[float, float, float], ...]
    drift_deg: tuple[float, float, float]
    half_duration_s: float

    @classmethod
    def none(cls, half_duration_s: float = 1.0) -> PointingJitter:
        """No jitter."""
        return cls(((0.0, 0.0, 0.0),), (1.0,), ((0.0, 0.0, 0.0),), (0.0, 0.0, 0.0), float(half_duration_s))

    @classmethod
    def from_seed(
        cls,
        rng: np.random.Generator,
        *,
        amplitude_deg: float,
        drift_deg: float,
        duration_s: float,
        n_terms: int = 3,
        period_fraction: tuple[float, float] = (0.08, 0.5),
    ) -> PointingJitter:
        """Random jitter whose sinusoid amplitudes sum to ``amplitude_deg`` on each axis.

        Parameters
        ----------
        rng : numpy.random.Generator
        amplitude_deg : float
            Sum of the sinusoid amplitudes per axis (the largest possible sinusoidal excursion).
        drift_deg : float
            Drift per axis drawn uniformly in ``[-drift_deg, drift_deg]``.
        duration_s : float
            Strip duration (first to last line).
        n_terms : int
        period_fraction : (min, max)
            Periods, fractions of ``duration_s``, log-uniform.
        """
        w = rng.uniform(0.2, 1.0, (n_terms, 3))
        amp = amplitude_deg * w / w.sum(axis=0, keepdims=True)
        lo, hi = period_fraction
        period = duration_s * np.exp(rng.uniform(math.log(lo), math.log(hi), n_terms))
        phase = rng.uniform(0.0, 2.0 * math.pi, (n_terms, 3))
        drift = rng.uniform(-drift_deg, drift_deg, 3)
        return cls(
            amplitude_deg=tuple(tuple(round(float(v), 9) for v in row) for row in amp),
            period_s=tuple(round(float(v), 6) for v in period),
            phase_rad=tuple(tuple(round(float(v), 9) for v in row) for row in phase),
            drift_deg=tuple(round(float(v), 9) for v in drift),
            half_duration_s=float(0.5 * duration_s),
        )

    @property
    def min_period_s(self) -> float:
        """Shortest period (s); infinite without jitter."""
        amp = np.abs(np.asarray(self.amplitude_deg))
        live = amp.max(axis=1) > 0
        return float(np.min(np.asarray(self.period_s)[live])) if live.any() else math.inf

    def rotvec_rad(self, t_rel) -> np.ndarray:
        """Jitter rotation vectors (camera frame, radians) at times ``t_rel`` (s, relative to
        the strip centre), shape ``t.shape + (3,)``."""
        t = np.asarray(t_rel, dtype=float)[..., None, None]  # (..., 1, 1)
        amp = np.radians(np.asarray(self.amplitude_deg))  # (k, 3)
        period = np.asarray(self.period_s)[:, None]
        phase = np.asarray(self.phase_rad)
        sines = (amp * np.sin(2.0 * math.pi * t / period + phase)).sum(axis=-2)
        tau = np.asarray(t_rel, dtype=float)[..., None] / self.half_duration_s
        return sines + np.radians(np.asarray(self.drift_deg)) * tau**2

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields (degrees, seconds, radians for the phases) + the formula."""
        return {
            "amplitude_deg": [list(r) for r in self.amplitude_deg],
            "period_s": list(self.period_s),
            "phase_rad": [list(r) for r in self.phase_rad],
            "drift_deg": list(self.drift_deg),
            "half_duration_s": self.half_duration_s,
            "formula": "rotvec_a(t) = sum_i amplitude[i][a] sin(2 pi t / period[i] + phase[i][a]) + drift[a] tau^2, "
            "tau = t / half_duration_s, t relative to the strip centre time; camera frame; "
            "cam_to_body_true = cam_to_body_nadir @ R(rotvec)",
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PointingJitter:
        """Inverse of :meth:`to_dict`."""
        return cls(
            amplitude_deg=tuple(tuple(float(v) for v in r) for r in d["amplitude_deg"]),
            period_s=tuple(float(v) for v in d["period_s"]),
            phase_rad=tuple(tuple(float(v) for v in r) for r in d["phase_rad"]),
            drift_deg=tuple(float(v) for v in d["drift_deg"]),
            half_duration_s=float(d["half_duration_s"]),
        )
