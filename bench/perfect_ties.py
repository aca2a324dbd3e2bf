"""What the bundle adjustment makes of perfect tie points: the floor that matching cannot lower.

    python -m bench.perfect_ties SURVEY [--per-pair 50,150,300] [--dem DEM]

Tie points are drawn uniformly in every overlapping pair of a simulated survey and placed
exactly by the truth (``Truth.true_correspondence``: the true cameras through the true
surface, no noise, no bias); the adjustment starts from the reported cameras, as a run does.
The cameras are then measured on the TRUE surface (:func:`bench.relief.camera_misregistration`).
Without a DEM the free tie points carry no height reference, and on ``oblique_relief`` (two
strips looking from opposite sides) the strips' relative roll trades against the points'
common height: only the pointing priors and the ties' leverage decide it, so the result
depends on the number of ties per pair (docs/registration.md, "Limits").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.relief import camera_misregistration, summary
from pipeline.config import load_config
from pipeline.geometry.overlap import overlap_pairs
from pipeline.orchestration import steps
from pipeline.registration.pairs import PairMatches
from pipeline.simulation import load_truth

_MARGIN_PX = 5.0


def perfect_ties(truth, cameras: dict, per_pair: int, seed: int = 0) -> list[PairMatches]:
    """``per_pair`` uniformly drawn tie points (fewer where the pair's overlap is smaller) of every
    pair of ``cameras`` overlapping by 10 % or more, placed by the truth (image coordinates)."""
    ids = sorted(cameras)
    rng = np.random.default_rng(seed)
    out = []
    for p in overlap_pairs([cameras[k] for k in ids], min_fraction=0.1):
        a, b = ids[p.i], ids[p.j]
        lines, samples = cameras[a].lines, cameras[a].samples
        la = rng.uniform(_MARGIN_PX, lines - _MARGIN_PX, per_pair)
        sa = rng.uniform(_MARGIN_PX, samples - _MARGIN_PX, per_pair)
        lb, sb, seen = truth.true_correspondence(a, b, la, sa)
        ok = seen & (lb > _MARGIN_PX) & (lb < cameras[b].lines - _MARGIN_PX)
        ok &= (sb > _MARGIN_PX) & (sb < cameras[b].samples - _MARGIN_PX)
        if ok.sum() < 12:
            continue
        out.append(PairMatches(i=p.i, j=p.j, img_i=np.stack([la[ok], sa[ok]], 1),
                               img_j=np.stack([lb[ok], sb[ok]], 1), score=1.0, id_i=a, id_j=b,
                               ncc=np.ones(int(ok.sum()))))
    return out


def floor(survey: str | Path, per_pair: int, dem: str | None = None) -> dict:
    """Cameras on the true surface after adjusting perfect ties (``summary`` of px errors)."""
    truth = load_truth(survey)
    cams = {k: truth.reported_cameras[k] for k in sorted(truth.reported_cameras)}
    cfg = load_config(None, {"mosaicking": {"dem": dem}} if dem else {})
    ties = perfect_ties(truth, cams, per_pair)
    res = steps.adjust_step(cams, ties, [], cfg.registration, 0, dem)
    out = {k: round(float(v), 3) for k, v in summary(camera_misregistration(truth, dict(res.cameras))).items()}
    return {"per_pair": per_pair, "ties": int(sum(len(m.img_i) for m in ties)), "dem": dem, "cameras": out}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("survey")
    ap.add_argument("--per-pair", default="50,150,300")
    ap.add_argument("--dem", default=None)
    args = ap.parse_args(argv)
    for n in (int(v) for v in args.per_pair.split(",")):
        print(json.dumps(floor(args.survey, n, args.dem)), flush=True)


if __name__ == "__main__":
    main()
