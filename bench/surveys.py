"""The benchmark surveys: simulated once per (size, seed) under ``bench/data/`` and reused."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKER = "bench_survey.json"


@dataclass(frozen=True)
class SurveySpec:
    """One benchmark survey: ``n_strips`` x ``frames_per_strip`` frames of ``size``² pixels.

    Every survey has the generator's default pointing errors (0.1-0.3 deg per axis),
    position errors (500 m) and sensor effects (bias, dark, flat, defects, noise, cosmic
    rays), and bias/dark/flat calibration frames. ``supersample=1`` (one ray per pixel,
    the PSF blur is still applied) keeps generation of the larger surveys to minutes.

    The growth surveys (:data:`GROWTH`) set the rest like the simulator's ``small_128``
    preset: ``overlap`` along and across track, ``max_wobble_shift`` to hold small frames at
    that overlap, TIFF frames only and no calibration frames (``formats``, ``calibration``).
    ``None`` keeps the generator's default.
    """

    name: str
    n_strips: int
    frames_per_strip: int
    size: int
    seed: int = 7
    supersample: int = 1
    overlap: float | None = None
    max_wobble_shift: float | None = None
    formats: tuple[str, ...] | None = None
    calibration: bool = True

    @property
    def n_frames(self) -> int:
        return self.n_strips * self.frames_per_strip

    @property
    def input_mpx(self) -> float:
        return self.n_frames * self.size * self.size / 1e6

    def simulate_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "seed": self.seed,
            "n_strips": self.n_strips,
            "frames_per_strip": self.frames_per_strip,
            "size": (self.size, self.size),
            "supersample": self.supersample,
            "calibration": self.calibration,
        }
        if self.overlap is not None:
            kw["overlap_along"] = kw["overlap_across"] = self.overlap
        if self.max_wobble_shift is not None:
            kw["max_wobble_shift"] = self.max_wobble_shift
        if self.formats is not None:
            kw["formats"] = tuple(self.formats)
        return kw

    def marker_params(self) -> dict[str, Any]:
        """The parameters a generated survey's marker records: the fields that differ from
        their defaults beyond the original six (so surveys generated before those fields
        existed are still reused)."""
        d = asdict(self)
        for name, default in _LATER_DEFAULTS.items():
            if d.get(name) == default:
                d.pop(name)
        if d.get("formats") is not None:
            d["formats"] = list(d["formats"])
        return d

    def dirname(self) -> str:
        base = f"{self.name}-{self.n_strips}x{self.frames_per_strip}-{self.size}px-seed{self.seed}-ss{self.supersample}"
        if self.overlap is not None:
            base += f"-ov{round(100 * self.overlap)}"
        return base


_LATER_DEFAULTS = {"overlap": None, "max_wobble_shift": None, "formats": None, "calibration": True}

SIZES: dict[str, SurveySpec] = {
    "small": SurveySpec("small", 4, 5, 512),      # 20 frames of 512²  (5.2 Mpx)
    "medium": SurveySpec("medium", 6, 8, 1024),   # 48 frames of 1024² (50 Mpx)
    "large": SurveySpec("large", 10, 20, 1024),   # 200 frames of 1024² (210 Mpx)
}


GROWTH: dict[str, SurveySpec] = {
    f"growth-{n * n}": SurveySpec(f"growth-{n * n}", n, n, 128, overlap=0.25, max_wobble_shift=0.02,
                                  formats=("tiff",), calibration=False)
    for n in (8, 16, 32)
}
"""Surveys of 64, 256 and 1,024 frames of 128² at 25 % overlap (constant overlap density): the
simulator's ``small_128`` preset (256 frames) at three sizes, for the per-frame cost."""


def with_seed(spec: SurveySpec, seed: int) -> SurveySpec:
    return dataclasses.replace(spec, seed=seed)


def ensure_survey(spec: SurveySpec, data_dir: str | Path, *, workers: int | None = None) -> dict[str, Any]:
    """Return the survey folder's marker (parameters, generator summary, generation time),
    simulating it first unless a complete survey with the same parameters is there.

    The marker is written last, so an interrupted generation is redone."""
    from pipeline.simulation import simulate_survey

    folder = Path(data_dir) / spec.dirname()
    marker = folder / MARKER
    params = spec.marker_params()
    if marker.is_file():
        try:
            doc = json.loads(marker.read_text())
            if doc.get("params") == params:
                doc["reused"] = True
                doc["path"] = str(folder)
                return doc
        except ValueError:
            pass
    if folder.exists():
        shutil.rmtree(folder)
    log.info("simulating %s survey into %s", spec.name, folder)
    t0 = time.perf_counter()
    info = simulate_survey(folder, workers=workers, **spec.simulate_kwargs())
    seconds = time.perf_counter() - t0
    doc = {
        "params": params,
        "summary": str(info),
        "n_frames": len(info.frame_ids),
        "gsd_m": info.gsd_m,
        "coverage": info.coverage,
        "overlap_along": list(info.overlap_along),
        "overlap_across": list(info.overlap_across),
        "generation_s": round(seconds, 2),
    }
    marker.write_text(json.dumps(doc, indent=1))
    doc["reused"] = False
    doc["path"] = str(folder)
    return doc
