"""Uncertainty of a fitted law from the frames themselves: a delete-a-group jackknife.

The statistical covariance of a fit assumes every observation's error independent. The
errors that matter are not: a frame's bias drift, its flat-field residual or its pointing
error reach all of its views alike (on the simulated surveys a drift of ~1 DN in dim frames
moves the Hapke ``w`` by 4 statistical sigmas). Refitting the law with one group of frames
left out at a time and taking the spread of the answers (Quenouille-Tukey jackknife, frames
as the independent units) measures the uncertainty those errors leave, whatever they are.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.calibration.photometric_candidates import Candidate, fit_candidate
from pipeline.calibration.photometric_observations import Observations

__all__ = ["MAX_GROUPS", "frame_jackknife"]

MAX_GROUPS = 8
"""At most this many refits: frames are dealt into this many groups when there are more."""


def _without(obs: Observations, drop: np.ndarray) -> Observations:
    """The observations of the frames not in ``drop``, frames and cells renumbered."""
    keep = ~np.isin(obs.frame, drop)
    frames, frame = np.unique(obs.frame[keep], return_inverse=True)
    _, cell = np.unique(obs.cell[keep], return_inverse=True)
    user = None if obs.user_weight is None else obs.user_weight[keep]
    return Observations(obs.iof[keep], obs.incidence[keep], obs.emission[keep], obs.phase[keep],
                        frame.astype(np.int64), cell.astype(np.int64), obs.weight[keep], int(frames.size), user)


def frame_jackknife(
    obs: Observations,
    candidate: Candidate,
    standard: tuple[float, float, float],
    *,
    groups: int = MAX_GROUPS,
    **fit_kw,
) -> np.ndarray | None:
    """Jackknife covariance of ``candidate``'s parameters, frames left out a group at a time.

    Frames (those with observations) are dealt round-robin into ``min(groups, n_frames)``
    groups; the law is refitted without each group (:func:`fit_candidate`, starting from
    ``candidate``'s parameters) and the covariance is ``(G - 1) / G sum (theta_g - mean)^T
    (theta_g - mean)``.

    Returns
    -------
    ndarray of shape (p, p) or None
        ``None`` with fewer than 3 groups or when a refit leaves no shared cell.

    Examples
    --------
    >>> from pipeline.calibration.photometric_laws import lunar_lambert_law
    >>> from pipeline.calibration.photometric_observations import prepare_observations
    >>> from pipeline.calibration.photometry import lunar_lambert
    >>> rng = np.random.default_rng(0)
    >>> cell = np.repeat(np.arange(400), 3)
    >>> frame = rng.integers(0, 8, cell.size)
    >>> inc = rng.uniform(np.radians(30), np.radians(80), cell.size)
    >>> emi = rng.uniform(0.0, np.radians(40), cell.size)
    >>> pha = np.clip(inc + rng.normal(0, 0.2, cell.size), np.abs(inc - emi), inc + emi)
    >>> truth = rng.uniform(0.05, 0.2, 400)[cell] * lunar_lambert(inc, emi, pha, weight=0.7)
    >>> iof = truth * (1 + 0.01 * rng.standard_normal(cell.size))
    >>> obs = prepare_observations(iof, inc, emi, pha, frame, cell)
    >>> std = tuple(np.radians([30.0, 0.0, 30.0]))
    >>> c = fit_candidate(obs, lunar_lambert_law(0), std)
    >>> cov = frame_jackknife(obs, c, std)
    >>> bool(0.2 < np.sqrt(cov[0, 0]) / np.sqrt(c.cov[0, 0]) < 5)  # independent errors: about the same
    True
    """
    present = np.unique(obs.frame)
    g = min(int(groups), present.size)
    if g < 3 or candidate.n_params == 0:
        return None
    law = candidate.law
    start = tuple(float(np.clip(v, lo, hi)) for v, lo, hi in zip(candidate.theta, law.lower, law.upper, strict=True))
    law = dataclasses.replace(law, initial=start)
    thetas = []
    for k in range(g):
        sub = _without(obs, present[k::g])
        if np.count_nonzero(np.bincount(sub.cell) >= 2) == 0:
            return None
        thetas.append(fit_candidate(sub, law, standard, **fit_kw).theta)
    t = np.asarray(thetas)
    d = t - t.mean(axis=0)
    return (g - 1) / g * d.T @ d
