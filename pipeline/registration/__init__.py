"""Registration: overlap graph, tie points in map space, bundle adjustment of camera pointing.

Three pure functions make the stage; the orchestrator runs one task per pair::

    pairs = overlap_pairs([f.camera for f in frames])            # cheap, no pixels
    matches = [match_pair(frames[p.i], frames[p.j], p, cfg, seed) for p in pairs]
    result = adjust({f.id: f.camera for f in frames}, matches, cfg)

(:func:`pipeline.api.register` does all three in one call, plus optional ground control from
a reference basemap, :func:`match_basemap`). ``result.cameras`` holds the adjusted cameras, ``result.status``
says for every frame whether it was tied, kept with its prior pointing or excluded (and
why), ``result.network`` is the control network (``write_control_network``), and
``write_adjusted_isds`` writes the adjusted ISD sidecars.

Example
-------
>>> from pipeline import load_config, register
>>> from pipeline.registration import write_adjusted_isds
>>> result = register(frames, load_config())  # doctest: +SKIP
>>> result.stats.rms_before_px, result.stats.rms_after_px  # doctest: +SKIP
(3.9, 0.05)
>>> write_adjusted_isds(result.cameras, "out/isd")  # doctest: +SKIP
"""

from pipeline.registration.basemap import match_basemap
from pipeline.registration.bundle import (
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
from pipeline.registration.detectors import DETECTORS, available_detectors
from pipeline.registration.features import ImageMatches, match_images
from pipeline.registration.pairs import PairMatches, match_pair
from pipeline.registration.params import RegistrationParams
from pipeline.registration.shading import relief_shading, shading_normalised
from pipeline.registration.tracks import Tracks, build_tracks

__all__ = [
    "DETECTORS",
    "ROBUST_LOSSES",
    "ControlNetwork",
    "FrameCorrection",
    "FrameStatus",
    "GroundControl",
    "ImageMatches",
    "PairMatches",
    "RegistrationParams",
    "RegistrationResult",
    "RegistrationStats",
    "Tracks",
    "adjust",
    "available_detectors",
    "build_tracks",
    "match_basemap",
    "match_images",
    "match_pair",
    "relief_shading",
    "shading_normalised",
    "write_adjusted_isds",
    "write_control_network",
]
