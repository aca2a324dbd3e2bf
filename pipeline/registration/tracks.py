"""Multi-image tracks from pairwise tie points.

A tie point of pair (A, B) and one of pair (B, C) that fall on the same spot of frame B
are the same ground feature: they join one **track** observed in A, B and C. Tracks are
the connected components of a union-find over observations, where two observations are
linked when

- they are the two ends of one pairwise match, or
- they lie in the same frame within ``merge_radius_px`` of each other (found with a k-d
  tree per frame: the "quantised image point" of the classic approach without its cell
  boundaries).

A track is **inconsistent** when two of its observations in one frame are farther apart
than ``tolerance_px``: a wrong match chained two features together. Such tracks are
dropped. Observations of one track in one frame that agree are averaged into one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

__all__ = ["Tracks", "build_tracks"]


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class Tracks:
    """Observations of tie-point tracks (one row per observation).

    Attributes
    ----------
    frame : ndarray of int, shape (m,)
        Index into ``frame_ids``.
    track : ndarray of int, shape (m,)
        Track index 0..n_tracks-1; rows are sorted by track, then frame.
    line_sample : ndarray of float64, shape (m, 2)
        Observed ``(line, sample)`` (CSM image coordinates).
    frame_ids : tuple of str
    n_tracks : int
    n_inconsistent : int
        Tracks dropped because two of their observations in one frame disagree.
    """

    frame: np.ndarray
    track: np.ndarray
    line_sample: np.ndarray
    frame_ids: tuple[str, ...]
    n_tracks: int
    n_inconsistent: int = 0

    def __len__(self) -> int:
        return len(self.frame)

    def track_lengths(self) -> np.ndarray:
        """Observations per track, ndarray of int of shape (n_tracks,)."""
        return np.bincount(self.track, minlength=self.n_tracks)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find_all(self) -> np.ndarray:
        p = self.parent
        while True:
            q = p[p]
            if np.array_equal(q, p):
                return p
            p = q

    def union_many(self, a: np.ndarray, b: np.ndarray) -> None:
        # vectorised rounds of hooking the larger root under the smaller until stable
        a = np.asarray(a, int)
        b = np.asarray(b, int)
        while a.size:
            roots = self.find_all()
            self.parent = roots
            ra, rb = roots[a], roots[b]
            diff = ra != rb
            if not diff.any():
                return
            ra, rb = ra[diff], rb[diff]
            lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
            # several hi may map to different lo in one round; minimum.at keeps the smallest
            np.minimum.at(self.parent, hi, lo)
            a, b = a[diff], b[diff]


def build_tracks(
    matches: Sequence,
    frame_ids: Sequence[str],
    *,
    merge_radius_px: float = 1.0,
    tolerance_px: float = 2.0,
) -> Tracks:
    """Merge pairwise tie points into tracks.

    Parameters
    ----------
    matches : sequence of PairMatches
        Each with ``id_i``/``id_j`` (frame ids) and ``img_i``/``img_j`` (line, sample).
        Pairs whose ids are not in ``frame_ids`` are ignored (logged).
    frame_ids : sequence of str
        The frames of the network, in a fixed order.
    merge_radius_px : float
        Observations of one frame closer than this (pixels) are the same point.
    tolerance_px : float
        A track with two observations in one frame farther apart than this is dropped.

    Returns
    -------
    Tracks
    """
    index = {fid: k for k, fid in enumerate(frame_ids)}
    frames, points, partner = [], [], []
    n = 0
    for m in matches:
        if not len(m):
            continue
        if m.id_i not in index or m.id_j not in index:
            log.warning("tie points of unknown frames %s/%s ignored", m.id_i, m.id_j)
            continue
        k = len(m)
        frames += [np.full(k, index[m.id_i]), np.full(k, index[m.id_j])]
        points += [np.asarray(m.img_i, float), np.asarray(m.img_j, float)]
        partner.append(np.stack([np.arange(n, n + k), np.arange(n + k, n + 2 * k)], axis=1))
        n += 2 * k
    if n == 0:
        z = np.zeros(0, int)
        return Tracks(z, z.copy(), np.zeros((0, 2)), tuple(frame_ids), 0, 0)
    frame = np.concatenate(frames)
    pts = np.concatenate(points)
    links = [np.concatenate(partner)]
    by_frame = np.argsort(frame, kind="stable")  # one sort, not one scan of all rows per frame
    bounds = np.searchsorted(frame[by_frame], np.arange(len(frame_ids) + 1))
    for f in np.unique(frame):
        idx = by_frame[bounds[f]:bounds[f + 1]]
        if merge_radius_px > 0 and len(idx) > 1:
            close = cKDTree(pts[idx]).query_pairs(merge_radius_px, output_type="ndarray")
            if len(close):
                links.append(idx[close])
    links = np.concatenate(links)
    uf = _UnionFind(n)
    uf.union_many(links[:, 0], links[:, 1])
    roots = uf.find_all()

    # consistency: spread of each (track, frame) group
    _, group = np.unique(np.stack([roots, frame], axis=1), axis=0, return_inverse=True)
    group = group.ravel()
    g_count = np.bincount(group)
    g_mean = np.stack([np.bincount(group, pts[:, c]) for c in range(2)], axis=1) / g_count[:, None]
    dev = np.linalg.norm(pts - g_mean[group], axis=1)
    bad_roots = np.unique(roots[dev > tolerance_px / 2.0])
    # (dev > tol/2 from the mean <=> some pair is > ~tol apart; exact enough for the purpose)
    keep = ~np.isin(roots, bad_roots)
    n_bad = len(bad_roots)

    # one observation per (track, frame): the mean
    g_root = np.zeros(len(g_count), int)
    g_frame = np.zeros(len(g_count), int)
    g_root[group] = roots
    g_frame[group] = frame
    g_keep = np.zeros(len(g_count), bool)
    g_keep[group[keep]] = True
    # tracks need two frames
    r_unique, r_inv = np.unique(g_root[g_keep], return_inverse=True)
    per_track = np.bincount(r_inv.ravel(), minlength=len(r_unique))
    good_track = per_track >= 2
    sel = np.flatnonzero(g_keep)[good_track[r_inv.ravel()]]
    track_ids = np.unique(g_root[sel], return_inverse=True)[1].ravel()
    order = np.lexsort((g_frame[sel], track_ids))
    tracks = Tracks(
        frame=g_frame[sel][order],
        track=track_ids[order],
        line_sample=g_mean[sel][order],
        frame_ids=tuple(frame_ids),
        n_tracks=int(track_ids.max() + 1) if len(track_ids) else 0,
        n_inconsistent=n_bad,
    )
    log.info(
        "tracks: %d from %d pairwise observations (%d inconsistent dropped); lengths %s",
        tracks.n_tracks, n, n_bad, np.bincount(tracks.track_lengths())[2:].tolist() if tracks.n_tracks else [],
    )
    return tracks
