"""Cosmic-ray and bad-pixel flagging rates of the calibrate stage against a survey's truth.

    python -m bench.cosmic_rates SURVEY [SURVEY ...]      # folders written by `farside simulate`
    python -m bench.cosmic_rates --simulate OUT --seed 21 --size 512 --hits 60 [--supersample 2]

Each survey is ingested, calibrated, registered and cross-checked exactly as `farside
mosaic` does (configs/default.yaml, masters from its `calibration/` folder); a pixel counts
as flagged when it is masked or repaired. Printed per survey, after calibration alone
("single_frame") and after the cross-frame check of the registered overlaps
("with_overlaps"): cosmic-ray hits with at least one pixel flagged, their unsaturated
pixels flagged, hot/dead pixels flagged, and the other pixels flagged (neither hit, bad
nor saturated), the README's table in "What calibration can and cannot correct".
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import api
from pipeline.config import load_config
from pipeline.frame import Frame
from pipeline.simulation import simulate_survey
from pipeline.simulation.sensor import DetectorParams
from pipeline.simulation.truth import load_truth


@dataclass
class FlagTally:
    """Counts of flagged pixels against the truth, summed over frames (the README's table).

    A pixel is flagged when it is masked or repaired; saturated pixels count as found for
    a hit and are left out of the hit pixels and the other pixels.
    """

    frames: int = 0
    hits: int = 0
    hits_found: int = 0
    hit_pixels: int = 0
    hit_pixels_flagged: int = 0
    bad: int = 0
    bad_flagged: int = 0
    others: int = 0
    others_flagged: int = 0

    def add(self, flagged: np.ndarray, hits: list[dict], saturated: np.ndarray, bad: np.ndarray) -> None:
        """One frame: ``flagged`` (mask | repaired), the simulator's ``cosmic_rays`` list of
        the frame, its saturated pixels and the detector's hot/dead pixels (bool maps)."""
        cosmic = np.zeros(flagged.shape, bool)
        for hit in hits:
            px = np.asarray(hit["pixels"], dtype=int).reshape(-1, 2)
            cosmic[px[:, 0], px[:, 1]] = True
            self.hits_found += bool((flagged | saturated)[px[:, 0], px[:, 1]].any())
        rest = ~(cosmic | bad | saturated)
        self.frames += 1
        self.hits += len(hits)
        self.hit_pixels += int((cosmic & ~saturated).sum())
        self.hit_pixels_flagged += int((flagged & cosmic & ~saturated).sum())
        self.bad += int(bad.sum())
        self.bad_flagged += int(flagged[bad].sum())
        self.others += int(rest.sum())
        self.others_flagged += int((flagged & rest).sum())

    def rates(self) -> dict[str, float]:
        """Fractions: ``hits_found``, ``hit_pixels_flagged``, ``bad_flagged``, ``others_flagged``
        (plus the ``frames`` and ``hits`` counts)."""
        return {
            "frames": self.frames,
            "hits": self.hits,
            "hits_found": self.hits_found / max(self.hits, 1),
            "hit_pixels_flagged": self.hit_pixels_flagged / max(self.hit_pixels, 1),
            "bad_flagged": self.bad_flagged / max(self.bad, 1),
            "others_flagged": self.others_flagged / max(self.others, 1),
        }


def _rates(frames: list[Frame], truth) -> dict[str, float]:
    bad = truth.bad_pixel_mask()
    tally = FlagTally()
    for frame in frames:
        defects = truth.frames[frame.id]["defects"]
        saturated = np.zeros(bad.shape, bool)
        sat = np.asarray(defects["saturated"], dtype=int).reshape(-1, 2)
        saturated[sat[:, 0], sat[:, 1]] = True
        tally.add(frame.mask | frame.repaired, defects["cosmic_rays"], saturated, bad)
    return tally.rates()


def flagging_rates(survey: str | Path, config_path: str | Path = "configs/default.yaml") -> dict[str, dict[str, float]]:
    """Rates (fractions) for one simulated survey folder, ``{"single_frame": ...,
    "with_overlaps": ...}``: after calibration alone, and after registration and the
    cross-frame check (as `farside mosaic` flags them); see the module docstring."""
    survey = Path(survey)
    config = load_config(config_path)
    found = api.ingest(survey, calibration=survey / "calibration", config=config)
    frames = [f for f in api.calibrate(found.frames, found.calibration, config=config) if isinstance(f, Frame)]
    truth = load_truth(survey)
    checked = api.crosscheck(frames, api.register(frames, config), config)
    return {"single_frame": _rates(frames, truth), "with_overlaps": _rates(checked, truth)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("surveys", nargs="*", type=Path)
    parser.add_argument("--simulate", type=Path, help="render a 3 x 4 survey here first")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--supersample", type=int, default=2)
    parser.add_argument("--hits", type=float, default=60.0, help="mean cosmic-ray hits per frame")
    args = parser.parse_args(argv)
    surveys = list(args.surveys)
    if args.simulate:
        simulate_survey(args.simulate, seed=args.seed, n_strips=3, frames_per_strip=4,
                        size=(args.size, args.size), supersample=args.supersample,
                        detector_params=DetectorParams(cosmic_mean=args.hits))
        surveys.append(args.simulate)
    for survey in surveys:
        print(f"{survey}:")
        for stage, r in flagging_rates(survey).items():
            print(f"  {stage:13s} {r['frames']} frames, {r['hits']} hits: found {r['hits_found']:.2%}, "
                  f"hit pixels {r['hit_pixels_flagged']:.2%}, hot/dead {r['bad_flagged']:.2%}, "
                  f"other pixels {r['others_flagged']:.3%}")


if __name__ == "__main__":
    main()
