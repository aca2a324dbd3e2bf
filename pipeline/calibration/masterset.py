"""Calibration masters per detector: one survey, several cameras.

A survey can mix instruments (a framing camera, a line scanner, a push-frame camera), each
with its own bias, dark and flat frames (usually one calibration sub-folder per detector).
:func:`build_master_set` groups the calibration frames by instrument (the label's
``INSTRUMENT_ID``; frames without one form their own group) and builds one :class:`Masters`
per group; :meth:`MasterSet.for_frame` gives each light frame the masters of its detector.

Which masters serve a light frame (``lines x samples``):

1. those of its instrument when the calibration frames have it, else any detector's;
2. among them, masters of exactly the frame's shape;
3. a line-scan frame (one detector line images every image line, so the fixed pattern is per
   column): masters with the same samples, collapsed to their per-column median and repeated
   on every line, whatever the strips' lengths;
4. a push-frame frame (every framelet is an exposure of the same detector frame): masters with
   the same samples whose lines are whole framelets, their first framelet repeated.

No detector fits: with a single detector its masters are returned (the calibration then
fails with both shapes in the message), with several a :class:`CalibrationError` lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.calibration.masters import Masters, build_masters_from_frames
from pipeline.calibration.params import CalibrationParams
from pipeline.errors import CalibrationError
from pipeline.frame import Frame, FrameFailure

__all__ = ["DetectorMasters", "MasterSet", "build_master_set"]


@dataclass(frozen=True)
class DetectorMasters:
    """The masters of one detector: ``instrument`` (``""`` when the labels give none)."""

    instrument: str
    masters: Masters

    @property
    def label(self) -> str:
        """Display name: the instrument (or "unnamed instrument") and the masters' size (px)."""
        shape = self.masters.shape
        size = "constant masters" if shape is None else f"{shape[0]} x {shape[1]} px"
        return f"{self.instrument or 'unnamed instrument'} ({size})"


@dataclass(frozen=True)
class MasterSet:
    """Calibration masters of every detector of a survey, and the calibration frames left out.

    Attributes
    ----------
    detectors : tuple of DetectorMasters
        In the order of the instruments' names (deterministic).
    rejected : tuple of FrameFailure
        Calibration frames left out, each with its reason (over all detectors).
    """

    detectors: tuple[DetectorMasters, ...] = ()
    rejected: tuple[FrameFailure, ...] = ()

    def for_frame(self, frame: Frame) -> Masters:
        """The masters that calibrate ``frame`` (see the module docstring; shapes from
        ``frame.meta.shape``, the camera kind from ``frame.camera``). Default masters (bias 0,
        no dark, flat 1) when there are no calibration frames at all."""
        if not self.detectors:
            return Masters()
        own = [d for d in self.detectors if d.instrument and d.instrument == (frame.meta.instrument or "")]
        candidates = own or list(self.detectors)
        shape = tuple(frame.meta.shape)
        kind = getattr(frame.camera, "kind", "frame")
        for d in candidates:
            if d.masters.shape is None or d.masters.shape == shape:
                return d.masters
        for d in candidates:
            adapted = _adapt(d.masters, shape, kind, frame.camera)
            if adapted is not None:
                return adapted
        if len(self.detectors) == 1:
            return self.detectors[0].masters
        have = ", ".join(d.label for d in self.detectors)
        raise CalibrationError(
            f"{frame.meta.path}: no calibration masters for this {shape[0]} x {shape[1]} px "
            f"{frame.meta.instrument or 'frame'}: the calibration frames are of {have}; add bias/dark/flat frames "
            "of this detector to the calibration folder (a sub-folder per detector is fine)"
        )


def build_master_set(frames: Sequence[Frame], cfg: CalibrationParams) -> MasterSet:
    """One :class:`Masters` per instrument of the (loaded) calibration frames.

    Within an instrument :func:`build_masters_from_frames` applies (frames of a minority
    shape are left out with the reason, and so on).

    Examples
    --------
    >>> build_master_set([], CalibrationParams()).detectors
    ()
    """
    groups: dict[str, list[Frame]] = {}
    for f in frames:
        groups.setdefault(f.meta.instrument or "", []).append(f)
    detectors, rejected = [], []
    for instrument in sorted(groups):
        masters = build_masters_from_frames(groups[instrument], cfg)
        rejected.extend(masters.rejected)
        detectors.append(DetectorMasters(instrument, dataclasses.replace(masters, rejected=())))
    return MasterSet(tuple(detectors), tuple(rejected))


def _adapt(masters: Masters, shape: tuple[int, int], kind: str, camera) -> Masters | None:
    """``masters`` reshaped for a scanning camera's frame of ``shape``, or None if they do not fit."""
    have = masters.shape
    if have is None or have[1] != shape[1]:
        return None
    if kind == "line-scan":
        def fit(a):
            return np.ascontiguousarray(np.broadcast_to(np.median(a, axis=0, keepdims=True), shape))

        def fit_bad(a):
            return np.ascontiguousarray(np.broadcast_to(np.max(a, axis=0, keepdims=True), shape))
    elif kind == "push-frame":
        period = int((camera.framelet_height - camera.num_lines_overlap) / camera.line_summing)
        if period <= 0 or have[0] % period or shape[0] % period:
            return None

        def fit(a):
            return np.ascontiguousarray(np.tile(a[:period], (shape[0] // period, 1)))

        fit_bad = fit
    else:
        return None

    def each(value, f):
        return f(value) if isinstance(value, np.ndarray) else value

    return dataclasses.replace(
        masters, bias=each(masters.bias, fit), dark_rate=each(masters.dark_rate, fit), flat=each(masters.flat, fit),
        bad=each(masters.bad, fit_bad),
        provenance={**masters.provenance, "adapted": f"{kind}: {have[0]} x {have[1]} -> {shape[0]} x {shape[1]}"},
    )
