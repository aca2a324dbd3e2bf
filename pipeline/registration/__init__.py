"""Registration: overlap graph, tie points in map space, bundle adjustment of camera pointing.

Three pure functions make the stage; the orchestrator runs one task per pair::

    pairs = overlap_pairs([f.camera for f in frames])            # cheap, no pixels
    matches = [match_pair(frames[p.i], frames[p.j], p, cfg, seed) for p in pairs]
    result = adjust({f.id: f.camera for f in frames}, matches, cfg)

:func:`register` does all three in one call (plus optional ground control from a
reference basemap). ``result.cameras`` holds the adjusted cameras, ``result.status``
says for every frame whether it was tied, kept with its prior pointing or excluded (and
why), ``result.network`` is the control network (``write_control_network``), and
``write_adjusted_isds`` writes the adjusted ISD sidecars.

Example
-------
>>> from pipeline.config import RegisterConfig
>>> from pipeline.registration import register, write_adjusted_isds
>>> result = register(frames, RegisterConfig(), seed=0)  # doctest: +SKIP
>>> result.stats.rms_before_px, result.stats.rms_after_px  # doctest: +SKIP
(3.9, 0.05)
>>> write_adjusted_isds(result.cameras, "out/isd")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.registration.adjust import (
    ROBUST_LOSSES,
    ControlNetwork,
    FrameCorrection,
    FrameStatus,
    GroundControl,
    RegistrationResult,
    RegistrationStats,
    adjust,
    write_adjusted_isds,
    write_control_network,
)
from pipeline.registration.control import match_basemap
from pipeline.registration.detectors import DETECTORS, available_detectors
from pipeline.registration.imagematch import ImageMatches, MatchParams, match_images
from pipeline.registration.matching import PairMatches, match_pair
from pipeline.registration.overlap import Pair, overlap_pairs
from pipeline.registration.tracks import Tracks, build_tracks

log = logging.getLogger(__name__)

__all__ = [
    "DETECTORS",
    "ROBUST_LOSSES",
    "ControlNetwork",
    "FrameCorrection",
    "FrameStatus",
    "GroundControl",
    "ImageMatches",
    "MatchParams",
    "Pair",
    "PairMatches",
    "RegistrationResult",
    "RegistrationStats",
    "Tracks",
    "adjust",
    "available_detectors",
    "build_tracks",
    "match_basemap",
    "match_images",
    "match_pair",
    "overlap_pairs",
    "register",
    "write_adjusted_isds",
    "write_control_network",
]


def register(frames: Sequence, cfg, *, seed: int = 0, dem=None) -> RegistrationResult:
    """Register frames to each other (and to a reference basemap when configured).

    Parameters
    ----------
    frames : sequence of Frame
        Frames with pixels loaded (``data`` float32 ``(lines, samples)``, ``mask`` True =
        invalid) and cameras. Frames without a camera or pixels are reported as excluded.
    cfg : RegisterConfig
        The ``registration`` section of the configuration.
    seed : int
        The run seed (``run.seed``); per-pair seeds derive from it.
    dem : Dem, optional
        Terrain for the radius prior of free tie points (``cfg.points == "free"``).

    Returns
    -------
    RegistrationResult
        Adjusted cameras by frame id, per-frame status, control network, statistics
        (residual RMS before/after in pixels, tie points per frame) and notes.

    Raises
    ------
    RegistrationError
        The adjustment failed for the whole network.
    """
    frames = list(frames)
    excluded: dict[str, str] = {}
    usable = []
    for f in frames:
        if f.camera is None:
            excluded[f.id] = "no camera geometry (no ISD sidecar)"
        elif f.data is None:
            excluded[f.id] = "pixels not loaded"
        else:
            usable.append(f)
    cameras = {f.id: f.camera for f in frames}
    if not cfg.enabled:
        result = adjust({f.id: f.camera for f in usable}, [], cfg, excluded=excluded)
        result.notes.append("registration disabled: every frame keeps its prior pointing")
        return result
    pairs = overlap_pairs(
        [f.camera for f in usable], min_area_km2=cfg.min_overlap_km2, min_fraction=cfg.min_overlap_fraction
    )
    matches = [match_pair(usable[p.i], usable[p.j], p, cfg, seed=seed) for p in pairs]
    control = []
    if cfg.reference_basemap is not None:
        control = [c for c in (match_basemap(f, cfg, seed=seed) for f in usable) if c is not None and len(c)]
        log.info("reference basemap %s: control points in %d of %d frames",
                 cfg.reference_basemap, len(control), len(usable))
    return adjust(
        {k: v for k, v in cameras.items() if k not in excluded}, matches, cfg,
        control=control, seed=seed, excluded=excluded, dem=dem,
    )
