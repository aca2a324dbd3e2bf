"""What a run did: :class:`RunResult` (the output, rejected frames, stage statistics, timings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.frame import FrameFailure
from pipeline.orchestration.plan import Plan
from pipeline.orchestration.runlines import adjustment_lines, relief_line
from pipeline.orchestration.steps import excluded_ids

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """What a run did: the output, rejected frames, stage statistics, timings.

    Attributes
    ----------
    out : Path
        The GeoTIFF written.
    plan : Plan
    product : dict
        The writer's result: ``valid_pixels``, ``side_files``, ``summaries`` (per frame QA or
        failure), ``registration``, ``equalization`` and ``relief`` (the
        :class:`~pipeline.geometry.relief.ReliefModel` the mosaic went through, or None).
    seconds : float
        Wall time of the run.
    reused : dict of str to int
        Cached products reused per stage.
    stage_seconds : dict of str to float
        Task time per stage (summed over workers).
    report : Path or None
        The QA report, once written.
    """

    out: Path
    plan: Plan
    product: dict[str, Any]
    seconds: float
    reused: dict[str, int]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    report: Path | None = None

    @property
    def registration(self):
        """The ``RegistrationResult`` (None when registration was off)."""
        return self.product["registration"] if self.plan.config.registration.enabled else None

    @property
    def failures(self) -> list[FrameFailure]:
        """Every rejected file: at ingest, for geometry, calibration frames left out of the
        masters, light frames in calibration or registration."""
        late = [*self.product.get("calibration_rejected", ()),
                *(s["failure"] for s in self.product["summaries"] if "failure" in s)]
        reg = self.registration
        dropped = [] if reg is None else [
            FrameFailure(f.meta.path, "register", reg.status[f.id].reason)
            for f in self.plan.frames if f.id in excluded_ids(reg)
        ]
        return [*self.plan.failures, *late, *dropped]

    def summary(self) -> str:
        """A few lines for the terminal: output, frames, registration, reuse, rejections."""
        lost = {str(x.path) for x in self.failures}
        n_used = sum(str(f.meta.path) not in lost for f in self.plan.frames)
        grid = self.plan.grid
        lines = [(f"wrote {self.out}: {grid.shape[1]} x {grid.shape[0]} px (width x height) at "
                  f"{grid.resolution:g} m, {n_used} frames, in {self.seconds:.1f} s")]
        reg = self.registration
        if reg is not None:
            st = reg.stats
            lines.append(f"registration: {st.n_tied}/{st.n_frames} frames tied, {st.n_tracks} tie points, "
                         f"residual RMS {st.rms_before_px:.2f} -> {st.rms_after_px:.3f} px")
            lines += adjustment_lines(reg, self.plan.config.mosaicking.dem is not None)
        relief = self.product.get("relief")
        if relief is not None:
            lines.append(relief_line(relief.summary(), self.product.get("side_files", {}).get("relief")))
        if self.report is not None:
            lines.append(f"QA report: {self.report}")
        if self.reused:
            lines.append("reused from the work directory: " + ", ".join(f"{v} {k}" for k, v in self.reused.items()))
        if self.failures:
            lines.append(f"rejected {len(self.failures)} file(s):")
            lines += [f"  {x}" for x in self.failures]
        return "\n".join(lines)
