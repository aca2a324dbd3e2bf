"""Frame-to-frame misregistration on the ground, with the Ames Stereo Pipeline's criterion.

What is measured
----------------
For every tie point seen by two frames A and B, the ray of A's observation and the ray of
B's observation, each through its *adjusted* camera, are intersected with the surface (the
DEM the mosaic was orthorectified on, else the reference sphere). Where the two frames are
perfectly registered the two ground points coincide; their distance (metres) is how far
apart the same feature lands in A's and in B's part of the mosaic, i.e. the offset a seam
between A and B shows. This is ASP's ``bundle_adjust --mapproj-dem`` measure
(``*-mapproj_match_offset_stats.txt``: percentiles 25, 50, 75, 85, 95 of these distances,
per image against all other images, and per pair of images).

Pixels are metres divided by the output grid's pixel size (``pixel_size_m``). ASP's rule of
thumb: an image whose 85th percentile exceeds 1.5 pixels of the map (1.5 m at 1 m ground
resolution) likely registered badly. A tie point seen by k frames gives k (k - 1) / 2 pairs;
each distance counts for both of its frames. Tie points are measured wherever two frames
overlap, not only on the seam line itself.

Example
-------
Frames A and B agree on 40 tie points; frame C sees 4 of them 3 m (3 px of a 1 m map) away.
C fails; A and B, whose 85th percentiles are set by their 40 good matches, pass:

>>> import numpy as np
>>> from pipeline.report.data import TieObservations
>>> R = 1_737_400.0
>>> pts = np.arange(40)
>>> xyz = np.stack([np.full(40, R), pts * 10.0, np.zeros(40)], axis=1)
>>> obs = TieObservations(
...     frame_id=np.array(["A"] * 40 + ["B"] * 40 + ["C"] * 4), point_id=np.r_[pts, pts, pts[:4]],
...     ground_xyz_m=np.vstack([xyz, xyz, xyz[:4] + [0, 3.0, 0]]),
...     residual_px=np.zeros((84, 2)), residual_ground_m=np.zeros((84, 3)))
>>> m = misregistration(obs, pixel_size_m=1.0)
>>> [(s.frame_a, s.frame_b, s.offsets.n, round(s.offsets.at(85), 3)) for s in m.seams]
[('A', 'C', 4, 3.0), ('B', 'C', 4, 3.0), ('A', 'B', 40, 0.0)]
>>> m.failing
('C',)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import TieObservations

__all__ = [
    "ASP_PERCENTILE",
    "ASP_THRESHOLD_PX",
    "PERCENTILES",
    "FrameMisregistration",
    "Misregistration",
    "Offsets",
    "SeamMisregistration",
    "match_offsets",
    "misregistration",
]

PERCENTILES = (25.0, 50.0, 75.0, 85.0, 95.0)
"""The percentiles ASP writes in ``mapproj_match_offset_stats.txt``."""

ASP_PERCENTILE = 85.0
"""The percentile of a frame's offsets that ASP's rule looks at."""

ASP_THRESHOLD_PX = 1.5
"""A frame is badly registered when that percentile exceeds this many map pixels."""


@dataclass(frozen=True)
class Offsets:
    """Percentiles of a set of ground offsets.

    Attributes
    ----------
    n : int
        Number of offsets (tie-point pairs).
    percentiles_m : dict of float to float
        Percentile (0..100) -> offset in metres (numpy's linear interpolation).
    max_m : float
        Largest offset, metres.
    """

    n: int
    percentiles_m: dict[float, float]
    max_m: float

    def at(self, q: float) -> float:
        """The ``q``-th percentile, metres."""
        return self.percentiles_m[float(q)]

    @classmethod
    def of(cls, offsets_m: np.ndarray, qs: tuple[float, ...]) -> Offsets:
        """Percentiles ``qs`` of ``offsets_m`` (metres, non-empty)."""
        values = np.percentile(offsets_m, qs)
        pct = {float(q): float(v) for q, v in zip(qs, values)}
        return cls(int(offsets_m.size), pct, float(offsets_m.max()))


@dataclass(frozen=True)
class SeamMisregistration:
    """The offsets between two frames (``frame_a < frame_b``) over their common tie points."""

    frame_a: str
    frame_b: str
    offsets: Offsets


@dataclass(frozen=True)
class FrameMisregistration:
    """A frame's offsets against all the frames it shares tie points with, and ASP's verdict."""

    frame_id: str
    offsets: Offsets
    bad: bool


@dataclass(frozen=True)
class Misregistration:
    """Per seam and per frame offsets, and the frames that fail ASP's criterion.

    Attributes
    ----------
    pixel_size_m : float
        Metres per map pixel of the "px" numbers.
    percentile, threshold_px : float
        The criterion: ``offsets.at(percentile) / pixel_size_m > threshold_px`` is bad.
    seams : tuple of SeamMisregistration
        Every pair of frames with common tie points, worst first (by ``percentile``).
    frames : tuple of FrameMisregistration
        Every frame with at least one offset, worst first.
    """

    pixel_size_m: float
    percentile: float
    threshold_px: float
    seams: tuple[SeamMisregistration, ...]
    frames: tuple[FrameMisregistration, ...]

    @property
    def failing(self) -> tuple[str, ...]:
        """Ids of the badly registered frames, worst first."""
        return tuple(f.frame_id for f in self.frames if f.bad)

    def px(self, metres: float) -> float:
        """Metres on the ground -> map pixels."""
        return metres / self.pixel_size_m

    def seam_bad(self, seam: SeamMisregistration) -> bool:
        """The criterion applied to one seam's offsets."""
        return self.px(seam.offsets.at(self.percentile)) > self.threshold_px


def match_offsets(obs: TieObservations) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of observations of one tie point in two different frames.

    Returns
    -------
    frame_a, frame_b : ndarray of str, shape (m,)
        The two frames, ``frame_a < frame_b``.
    point_id : ndarray of int, shape (m,)
    offset_m : ndarray of float, shape (m,)
        Distance between the two observations' ground points, metres (finite only).
    """
    fid = np.asarray(obs.frame_id).astype(str)
    pid = np.asarray(obs.point_id)
    xyz = np.asarray(obs.ground_xyz_m, float)
    order = np.lexsort((fid, pid))
    fid, pid, xyz = fid[order], pid[order], xyz[order]
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    longest = int(np.diff(np.r_[starts, pid.size]).max()) if pid.size else 0
    ia, ib = [], []
    for d in range(1, longest):  # pairs (k, k + d) within a track, for every gap d
        k = np.flatnonzero(pid[: pid.size - d] == pid[d:])
        ia.append(k)
        ib.append(k + d)
    ia = np.concatenate(ia) if ia else np.zeros(0, int)
    ib = np.concatenate(ib) if ib else np.zeros(0, int)
    dist = np.linalg.norm(xyz[ia] - xyz[ib], axis=1)
    keep = (fid[ia] != fid[ib]) & np.isfinite(dist)
    ia, ib, dist = ia[keep], ib[keep], dist[keep]
    fa, fb = fid[ia], fid[ib]
    swap = fb < fa
    return np.where(swap, fb, fa), np.where(swap, fa, fb), pid[ia], dist


def _grouped(keys: np.ndarray, values: np.ndarray, qs: tuple[float, ...]) -> dict:
    """Offsets per distinct key (keys as Python scalars)."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    uniq, starts = np.unique(keys, return_index=True)
    return {k.item(): Offsets.of(v, qs) for k, v in zip(uniq, np.split(values, starts[1:]))}


def misregistration(obs: TieObservations, pixel_size_m: float, *, percentile: float = ASP_PERCENTILE,
                    threshold_px: float = ASP_THRESHOLD_PX) -> Misregistration:
    """Per-seam and per-frame ground offsets of ``obs`` and ASP's verdict per frame.

    Parameters
    ----------
    obs : TieObservations
        Observations after adjustment, traced to the ground.
    pixel_size_m : float
        Metres per map pixel (the output grid's resolution).
    percentile : float
        Which percentile of a frame's offsets the criterion uses (ASP: 85).
    threshold_px : float
        The largest acceptable value of that percentile, map pixels (ASP: 1.5).

    Returns
    -------
    Misregistration
        Empty ``seams``/``frames`` when no tie point is seen by two frames.
    """
    if not pixel_size_m > 0:
        raise ValueError(f"pixel_size_m must be positive, got {pixel_size_m}")
    qs = tuple(sorted({*PERCENTILES, float(percentile)}))
    a, b, _pid, dist = match_offsets(obs)
    names, code = np.unique(np.concatenate([a, b]), return_inverse=True)
    pair_key = code[: a.size] * len(names) + code[a.size:]
    seams = [SeamMisregistration(str(names[k // len(names)]), str(names[k % len(names)]), off)
             for k, off in _grouped(pair_key, dist, qs).items()]
    seams.sort(key=lambda s: (-s.offsets.at(percentile), s.frame_a, s.frame_b))
    per_frame = _grouped(np.concatenate([a, b]), np.concatenate([dist, dist]), qs)
    frames = [FrameMisregistration(f, off, off.at(percentile) / pixel_size_m > threshold_px)
              for f, off in per_frame.items()]
    frames.sort(key=lambda f: (-f.offsets.at(percentile), f.frame_id))
    return Misregistration(float(pixel_size_m), float(percentile), float(threshold_px), tuple(seams),
                           tuple(frames))
