"""Named survey presets: ``simulate_survey(outdir, **survey_preset(name, seed=...))``.

Each preset is a dict of :func:`pipeline.simulation.simulate_survey` keyword arguments
for one kind of survey the tests of farside's issues need; any of them can be overridden.

=============== ==============================================================================
name            survey
=============== ==============================================================================
relief_strip    one strip of 8 nadir 256^2 frames at 75 % along-track overlap over the
                synthetic relief (3 km: basin wall and craters), wobble held small
oblique_relief  two strips of 6 frames of 256^2 over the same relief, seen at 30-45 deg
                emission (alternating look sides), 60 % overlap
film            2 x 4 film-like 8-bit PNG frames of 320^2 (ISD sidecars only, scan borders,
                dark fiducials, grain, no calibration frames)
small_128       16 x 16 = 256 frames of 128^2 at 25 % overlap (TIFF only, no calibration
                frames; measured overlaps 21-29 %)
small_256       8 x 8 = 64 frames of 256^2 at 25 % overlap (TIFF only, no calibration frames)
linescan_strips 3 line-scan strips of 2000 lines x 512 samples at 50 m, 25 % side overlap,
                jitter 0.02 deg, no frames (15 calibration strips in ``calibration/linescan``)
pushframe_strip one WAC-like push-frame strip: 100 framelets of 14 x 512 at 100 m, 3 lines of
                ground overlap between framelets, no frames
scan_mix        2 x 4 frames of 320^2 + 2 line-scan strips (2000 x 512) + 1 push-frame strip
=============== ==============================================================================

Cost (measured on this project's 2-core machine): ``small_128`` takes 34 s of CPU (about
18 s wall on two lightly loaded cores), 9 s with ``supersample=1``; ``small_256`` 29 s of CPU. The
relief presets spend about 1.3 s per 256^2 frame in ray marching plus 2-4 s per Sun for
the cast-shadow map. A 2000 x 512 line-scan strip takes about 8 s of CPU; ``linescan_strips`` 25 s of CPU in all.

Examples
--------
>>> kw = survey_preset("relief_strip", seed=3)
>>> kw["n_strips"], kw["frames_per_strip"], kw["overlap_along"], kw["seed"]
(1, 8, 0.75, 3)
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import ConfigError
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams

SMALL_FRAME_WOBBLE_SHIFT = 0.02
"""Wobble limit (fraction of a frame) that keeps small frames within a few % of their planned
overlap (the default 0.15 lets 128^2 frames at 20 % overlap drift to 1-4 % overlap)."""

PRESETS: dict[str, dict[str, Any]] = {
    "relief_strip": {
        "n_strips": 1, "frames_per_strip": 8, "size": (256, 256), "overlap_along": 0.75,
        "relief": True, "max_wobble_shift": SMALL_FRAME_WOBBLE_SHIFT,
    },
    "oblique_relief": {
        "n_strips": 2, "frames_per_strip": 6, "size": (256, 256), "overlap_along": 0.6, "overlap_across": 0.6,
        "relief": True, "oblique_deg": (30.0, 45.0), "max_wobble_shift": SMALL_FRAME_WOBBLE_SHIFT,
    },
    "film": {"n_strips": 2, "frames_per_strip": 4, "size": (320, 320), "film": True},
    "small_128": {
        "n_strips": 16, "frames_per_strip": 16, "size": (128, 128), "overlap_along": 0.25, "overlap_across": 0.25,
        "max_wobble_shift": SMALL_FRAME_WOBBLE_SHIFT, "formats": ("tiff",), "calibration": False,
    },
    "small_256": {
        "n_strips": 8, "frames_per_strip": 8, "size": (256, 256), "overlap_along": 0.25, "overlap_across": 0.25,
        "max_wobble_shift": SMALL_FRAME_WOBBLE_SHIFT, "formats": ("tiff",), "calibration": False,
    },
    "linescan_strips": {"frames": False, "linescan": LineScanParams(n_strips=3, lines=2000, samples=512)},
    "pushframe_strip": {"frames": False, "pushframe": PushFrameParams(n_strips=1, n_framelets=100, samples=512)},
    "scan_mix": {
        "n_strips": 2, "frames_per_strip": 4, "size": (320, 320), "linescan": LineScanParams(n_strips=2),
        "pushframe": PushFrameParams(),
    },
}


def survey_preset(name: str, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`simulate_survey` for a named preset, with overrides.

    Raises
    ------
    ConfigError
        Unknown preset name.
    """
    try:
        base = PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown survey preset {name!r}; choose from {sorted(PRESETS)}") from None
    return {**base, **overrides}


__all__ = ["PRESETS", "SMALL_FRAME_WOBBLE_SHIFT", "survey_preset"]
