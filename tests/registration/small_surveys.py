"""Small-frame surveys for the matcher tests: the simulator's small-frame presets, fewer frames.

``small_survey("small_128", n_strips=6, frames_per_strip=6, overlap=0.2)`` plans the survey
with the preset's frame size and wobble limit (:func:`pipeline.simulation.survey_preset`,
``max_wobble_shift``) and renders it in memory like :func:`tests.registration.helpers.make_survey`:
ideal I/F through the true cameras (``render_iof``, one ray per pixel by default) plus Gaussian noise;
the reported cameras carry per-axis pointing errors of 0.1-0.3 deg. Everything is seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.frame import Frame, FrameMeta
from pipeline.simulation import Surface, plan_survey, render_iof
from pipeline.simulation.presets import survey_preset
from tests.registration.helpers import Survey

PLAN_KEYS = ("size", "max_wobble_shift")


def small_survey(preset: str, *, n_strips: int, frames_per_strip: int, overlap: float, seed: int = 0,
                 noise: float = 0.002, error_deg=(0.1, 0.3), supersample: int = 1) -> Survey:
    """A survey of ``n_strips x frames_per_strip`` frames of the preset's size at ``overlap``
    (along and across track), rendered in memory."""
    kw = {k: v for k, v in survey_preset(preset).items() if k in PLAN_KEYS}
    plan = plan_survey(seed=seed, n_strips=n_strips, frames_per_strip=frames_per_strip, overlap_along=overlap,
                       overlap_across=overlap, pointing_error_deg=error_deg, position_error_m=0.0, **kw)
    surf = Surface(seed=seed, region=plan.region_deg)
    rng = np.random.default_rng([seed, 7])
    frames, true, reported, errors = [], {}, {}, {}
    for fp in plan.frames:
        cam, rep = plan.true_camera(fp), plan.reported_camera(fp)
        scene = render_iof(cam, surf, supersample=supersample)
        data = (scene.iof + rng.normal(0, noise, scene.iof.shape)).astype(np.float32)
        meta = FrameMeta(id=fp.id, path=Path(f"/synthetic/{fp.id}.tif"), format="tiff", shape=data.shape,
                         dtype="float32")
        frames.append(Frame(meta=meta, camera=rep, data=data, mask=~scene.on_body))
        true[fp.id], reported[fp.id] = cam, rep
        errors[fp.id] = np.radians(fp.pointing_error_deg)
    return Survey(frames, true, reported, errors, plan)
