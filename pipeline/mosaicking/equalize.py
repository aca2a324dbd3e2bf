"""Radiometric equalisation: one gain and offset per frame from their pairwise overlaps.

As ISIS ``equalizer`` and Montage's background matching: every overlapping pair is
compared on a coarse common grid, robust statistics of both frames over their common
valid pixels are collected (:func:`overlap_stats`), and a least-squares solve finds the
corrections ``corrected_i = gain_i * value_i + offset_i`` that make every pair agree
(:func:`solve_equalization`):

- gains (``adjust="gain_offset"``): ``gain_i * scale_i = gain_j * scale_j`` for every
  pair, solved for ``log gain`` (scale = normalised inter-quartile range);
- offsets: ``gain_i * loc_i + offset_i = gain_j * loc_j + offset_j`` (loc = median).

Equations are weighted by the number of common pixels. The system is only defined up to a
common gain and offset, fixed by a constraint: ``reference="mean"`` (the mean gain is 1 and
the mean offset 0 over each connected group of overlapping frames) or a frame index whose
correction is the identity. Frames overlapping nothing keep gain 1, offset 0.

:func:`equalize_frames` does the whole stage for the run (one task: it resamples every
frame onto the coarse grid, one frame at a time, so memory stays at one frame plus the
coarse images).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, MosaicError
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.overlap import connected_components
from pipeline.geometry.warp import orthorectify_coarse
from pipeline.mosaicking.params import MosaickingParams

log = logging.getLogger(__name__)

__all__ = [
    "Equalization",
    "OverlapStats",
    "equalize_frames",
    "overlap_stats",
    "robust_location_scale",
    "solve_equalization",
]

_IQR_TO_SIGMA = 1.0 / 1.3489795  # IQR of a unit normal


def robust_location_scale(x: np.ndarray) -> tuple[float, float]:
    """Median and normalised inter-quartile range (a robust standard deviation) of ``x``."""
    q25, q50, q75 = np.percentile(np.asarray(x, np.float64), [25.0, 50.0, 75.0])
    return float(q50), float((q75 - q25) * _IQR_TO_SIGMA)


@dataclass(frozen=True)
class OverlapStats:
    """Statistics of two frames over their common valid pixels.

    Attributes
    ----------
    i, j : int
        Frame indices (``i < j``).
    n : int
        Number of common pixels (on the coarse grid).
    loc_i, loc_j : float
        Medians, in the frames' units.
    scale_i, scale_j : float
        Normalised inter-quartile ranges (robust standard deviations).
    """

    i: int
    j: int
    n: int
    loc_i: float
    loc_j: float
    scale_i: float
    scale_j: float


def overlap_stats(
    values: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    origins: Sequence[tuple[int, int]] | None = None,
    *,
    min_pixels: int = 100,
) -> list[OverlapStats]:
    """Robust statistics of every overlapping pair of frames on a common grid.

    Parameters
    ----------
    values : list of ndarray of shape (h_k, w_k)
        Frames resampled onto windows of one common (coarse) grid.
    valid : list of ndarray of bool, shapes as ``values``
    origins : list of (row, col), optional
        Position of each window's first pixel in the common grid; default all ``(0, 0)``
        (full-size arrays).
    min_pixels : int
        Pairs with fewer common valid pixels are skipped.

    Returns
    -------
    list of OverlapStats
        One per overlapping pair ``i < j``, in order.
    """
    n = len(values)
    if len(valid) != n:
        raise ValueError("need one valid mask per value array")
    origins = list(origins) if origins is not None else [(0, 0)] * n
    boxes = []
    for k in range(n):
        if values[k].shape != valid[k].shape:
            raise ValueError(f"frame {k}: values {values[k].shape} and valid {valid[k].shape} differ")
        r0, c0 = origins[k]
        boxes.append((r0, c0, r0 + values[k].shape[0], c0 + values[k].shape[1]))
    out = []
    for i in range(n):
        if not valid[i].any():
            continue
        for j in range(i + 1, n):
            r0 = max(boxes[i][0], boxes[j][0])
            c0 = max(boxes[i][1], boxes[j][1])
            r1 = min(boxes[i][2], boxes[j][2])
            c1 = min(boxes[i][3], boxes[j][3])
            if r1 <= r0 or c1 <= c0:
                continue
            si = np.s_[r0 - boxes[i][0] : r1 - boxes[i][0], c0 - boxes[i][1] : c1 - boxes[i][1]]
            sj = np.s_[r0 - boxes[j][0] : r1 - boxes[j][0], c0 - boxes[j][1] : c1 - boxes[j][1]]
            common = valid[i][si] & valid[j][sj]
            count = int(common.sum())
            if count < min_pixels:
                continue
            li, sci = robust_location_scale(values[i][si][common])
            lj, scj = robust_location_scale(values[j][sj][common])
            out.append(OverlapStats(i, j, count, li, lj, sci, scj))
    return out


def _components(n: int, pairs: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Groups of frame indices connected by overlaps, each sorted, ordered by first member."""
    labels = connected_components(n, pairs)
    return [np.flatnonzero(labels == k).tolist() for k in range(int(labels.max()) + 1 if n else 0)]


def _solve_differences(
    members: list[int], eqs: list[tuple[int, int, float, float]], fixed: int | None
) -> dict[int, float]:
    """Least squares for ``x_i - x_j = d`` (weight ``w``) over one connected group, with
    ``x_fixed = 0`` or, without a fixed member, ``sum(x) = 0``."""
    pos = {k: p for p, k in enumerate(members)}
    m = len(members)
    a = np.zeros((len(eqs) + 1, m))
    b = np.zeros(len(eqs) + 1)
    for row, (i, j, d, w) in enumerate(eqs):
        sw = math.sqrt(w)
        a[row, pos[i]] = sw
        a[row, pos[j]] = -sw
        b[row] = sw * d
    # the constraint is orthogonal to every difference row: it holds exactly
    if fixed is None:
        a[-1, :] = 1.0
    else:
        a[-1, pos[fixed]] = 1.0
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    return {k: float(x[pos[k]]) for k in members}


def solve_equalization(
    stats: Sequence[OverlapStats],
    n_frames: int,
    reference: str | int = "mean",
    *,
    adjust: str = "gain_offset",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame gain and offset from pairwise overlap statistics (least squares).

    Parameters
    ----------
    stats : sequence of OverlapStats
    n_frames : int
        Number of frames (indices in ``stats`` are below it).
    reference : "mean" or int
        ``"mean"``: within each group of connected frames the mean gain is 1 and the mean
        offset 0. An int: that frame keeps gain 1 and offset 0 (other groups: "mean").
    adjust : {"gain_offset", "gain", "offset"}
        Which corrections to fit (ISIS equalizer's ``ADJUST=BOTH|GAIN|OFFSET``): gain from
        the ratio of scales (``gain_offset``) or of locations (``gain``, offsets 0), or
        offsets only (gains 1).

    Returns
    -------
    gain, offset : ndarray of float64, shape (n_frames,)
        Corrections to apply as ``gain * value + offset``.

    Raises
    ------
    ConfigError
        Unknown ``adjust`` or ``reference`` out of range.

    Examples
    --------
    >>> s = [OverlapStats(0, 1, 500, loc_i=1.0, loc_j=2.0, scale_i=0.1, scale_j=0.2)]
    >>> g, o = solve_equalization(s, 2, reference=0)
    >>> g.round(6).tolist(), (o.round(6) + 0.0).tolist()
    ([1.0, 0.5], [0.0, 0.0])
    """
    if adjust not in ("gain_offset", "gain", "offset"):
        raise ConfigError(f"unknown equalisation adjust {adjust!r}; use gain_offset, gain or offset")
    if not (reference == "mean" or (isinstance(reference, (int, np.integer)) and 0 <= reference < n_frames)):
        raise ConfigError(f"equalisation reference must be 'mean' or a frame index 0..{n_frames - 1}, "
                          f"got {reference!r}")
    gain = np.ones(n_frames)
    offset = np.zeros(n_frames)
    stats = [s for s in stats if s.n > 0 and s.i != s.j]
    for s in stats:
        if not (0 <= s.i < n_frames and 0 <= s.j < n_frames):
            raise ValueError(f"overlap ({s.i}, {s.j}) refers to a frame outside 0..{n_frames - 1}")
    groups = _components(n_frames, [(s.i, s.j) for s in stats])
    for members in groups:
        if len(members) < 2:
            continue
        inside = set(members)
        fixed = int(reference) if reference != "mean" and int(reference) in inside else None
        eqs = [s for s in stats if s.i in inside]
        # gains
        if adjust != "offset":
            geq = []
            for s in eqs:
                if adjust == "gain_offset":
                    a, b = s.scale_i, s.scale_j
                else:
                    a, b = s.loc_i, s.loc_j
                if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b):
                    geq.append((s.i, s.j, math.log(b) - math.log(a), float(s.n)))
            sub = _components(n_frames, [(i, j) for i, j, _, _ in geq])
            for part in sub:
                if len(part) < 2 or not set(part) <= inside:
                    continue
                pfix = fixed if fixed in part else None
                logg = _solve_differences(part, [e for e in geq if e[0] in part], pfix)
                g = np.exp([logg[k] for k in part])
                if pfix is None:
                    g /= g.mean()
                gain[part] = g
        # offsets
        if adjust != "gain":
            oeq = [(s.i, s.j, gain[s.j] * s.loc_j - gain[s.i] * s.loc_i, float(s.n)) for s in eqs]
            off = _solve_differences(members, oeq, fixed)
            offset[members] = [off[k] for k in members]
    return gain, offset


@dataclass(frozen=True)
class Equalization:
    """Fitted per-frame corrections, keyed by frame id.

    Attributes
    ----------
    ids : tuple of str
        Frame ids, in the order of ``gain`` and ``offset``.
    gain, offset : ndarray of shape (n,)
        ``corrected = gain * value + offset``.
    pairs : tuple of OverlapStats
        The overlaps used (indices into ``ids``).
    reference, adjust : str or int
        As given to :func:`solve_equalization`.
    resolution_m : float
        Pixel size of the coarse grid the statistics were taken on.
    """

    ids: tuple[str, ...]
    gain: np.ndarray
    offset: np.ndarray
    pairs: tuple[OverlapStats, ...] = ()
    reference: str | int = "mean"
    adjust: str = "gain_offset"
    resolution_m: float = float("nan")
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_index", {fid: k for k, fid in enumerate(self.ids)})

    def correction(self, frame_id: str) -> tuple[float, float]:
        """``(gain, offset)`` of a frame; ``(1, 0)`` for a frame that was not equalised."""
        k = self._index.get(frame_id)
        if k is None:
            return 1.0, 0.0
        return float(self.gain[k]), float(self.offset[k])

    def differences(self, corrected: bool = True) -> np.ndarray:
        """Median difference ``j - i`` over each overlap, before or after correction
        (frame units), shape ``(len(pairs),)``."""
        out = []
        for s in self.pairs:
            if corrected:
                vi = self.gain[s.i] * s.loc_i + self.offset[s.i]
                vj = self.gain[s.j] * s.loc_j + self.offset[s.j]
            else:
                vi, vj = s.loc_i, s.loc_j
            out.append(vj - vi)
        return np.asarray(out, float)

    def rms(self, corrected: bool = True) -> float:
        """Pixel-count-weighted RMS of :meth:`differences` (NaN without overlaps)."""
        if not self.pairs:
            return float("nan")
        d = self.differences(corrected)
        w = np.array([s.n for s in self.pairs], float)
        return float(np.sqrt(np.sum(w * d * d) / np.sum(w)))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON summary: per-frame corrections and the overlap RMS before/after."""
        return {
            "reference": self.reference,
            "adjust": self.adjust,
            "resolution_m": self.resolution_m,
            "frames": {fid: {"gain": float(g), "offset": float(o)}
                       for fid, g, o in zip(self.ids, self.gain, self.offset)},
            "pairs": len(self.pairs),
            "rms_before": self.rms(False),
            "rms_after": self.rms(True),
        }

    def summary(self) -> str:
        """One line per frame plus the overlap RMS before and after."""
        lines = [(f"equalisation ({self.adjust}, reference {self.reference}): {len(self.pairs)} overlaps, "
                 f"RMS difference {self.rms(False):.4g} -> {self.rms(True):.4g}")]
        lines += [f"  {fid:<28} gain {g:8.5f}  offset {o:+.5g}" for fid, g, o in zip(self.ids, self.gain, self.offset)]
        return "\n".join(lines)


def equalize_frames(
    frames: Mapping[str, Any] | Sequence[Any],
    cameras: Mapping[str, Any] | None,
    grid: MapGrid,
    cfg: MosaickingParams,
) -> Equalization:
    """Equalise a set of calibrated frames for a mosaic on ``grid``.

    Parameters
    ----------
    frames : mapping of id to Frame, or sequence of Frame
        Frames with pixels (``data``, ``mask``) loaded.
    cameras : mapping of id to FrameCamera, optional
        Cameras to use (e.g. bundle-adjusted); default each frame's own.
    grid : MapGrid
        The output grid; statistics are taken on it coarsened by
        ``cfg.equalize_resolution_factor`` (and further when the coarse grid would exceed
        ``cfg.equalize_max_px`` pixels a side).
    cfg : MosaickingParams
        ``resampling`` is not used (bilinear after an anti-alias blur);
        ``equalize_adjust``, ``equalize_reference``, ``equalize_min_pixels``.

    Returns
    -------
    Equalization
        Keyed by frame id; ``equalization.correction(frame_id)`` gives ``(gain, offset)``.

    Raises
    ------
    MosaicError
        A frame has no pixels loaded.
    """
    items = list(frames.items()) if isinstance(frames, Mapping) else [(f.id, f) for f in frames]
    cameras = cameras or {}
    factor = max(cfg.equalize_resolution_factor, max(grid.shape) / cfg.equalize_max_px, 1.0)
    coarse = grid.coarsened(factor)
    ids, values, valid, origins = [], [], [], []
    for fid, frame in items:
        cam = cameras.get(fid) or frame.camera
        if cam is None:
            continue
        if frame.data is None:
            raise MosaicError(f"frame {fid}: pixels not loaded; equalisation needs calibrated data")
        view = orthorectify_coarse(frame.data, frame.mask, cam, coarse, grid.resolution)
        if view is None:
            continue
        win, v, ok = view
        ids.append(fid)
        values.append(v)
        valid.append(ok)
        origins.append((win[0].start, win[1].start))
    stats = overlap_stats(values, valid, origins, min_pixels=cfg.equalize_min_pixels)
    reference = cfg.equalize_reference
    if isinstance(reference, str) and reference != "mean":
        if reference not in ids:
            raise ConfigError(f"equalize_reference {reference!r} is not a frame of this mosaic")
        reference = ids.index(reference)
    adjust = cfg.equalize_adjust
    gain, offset = solve_equalization(stats, len(ids), reference, adjust=adjust)
    eq = Equalization(tuple(ids), gain, offset, tuple(stats), reference, adjust, coarse.resolution)
    log.info("%s", eq.summary())
    return eq
