"""Command line of the simulator: ``python -m pipeline.simulation OUTDIR --seed N ...``.

:func:`survey_kwargs` turns command-line values into :func:`simulate_survey` keyword
arguments (a preset first, then every option given explicitly); ``farside simulate``
(:mod:`pipeline.cli`) and :func:`main_simulate` share it. With no new option the
arguments, hence the files, are exactly those of earlier versions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.simulation.film import FilmParams
from pipeline.simulation.photometry import scattering_law
from pipeline.simulation.presets import PRESETS, survey_preset
from pipeline.simulation.simulate import simulate_survey

_DEFAULTS = {"n_strips": 3, "frames_per_strip": 6, "size": 320}


def _law_params(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--law-param takes KEY=NUMBER (e.g. L=0.3), got {item!r}") from None
    return out


def survey_kwargs(
    *,
    preset: str | None = None,
    strips: int | None = None,
    frames_per_strip: int | None = None,
    size: int | None = None,
    law: str | None = None,
    law_params: Sequence[str] = (),
    relief: bool = False,
    oblique: Sequence[float] | None = None,
    film: bool = False,
    film_polarity: str | None = None,
    overlap: float | None = None,
    max_wobble_shift: float | None = None,
    linescan: bool = False,
    pushframe: bool = False,
    frames: bool | None = None,
) -> dict[str, Any]:
    """``simulate_survey`` keyword arguments from command-line values (None: not given).

    Parameters
    ----------
    preset : str, optional
        A key of :data:`pipeline.simulation.presets.PRESETS`, applied first.
    strips, frames_per_strip, size : int, optional
        Layout (default 3 x 6 frames of 320^2, or the preset's).
    law : str, optional
        Scattering law name; ``law_params`` are ``KEY=VALUE`` strings (e.g. ``L=0.3``).
    relief : bool
        Render through the synthetic relief.
    oblique : (min, max), optional
        Oblique strips, emission range in degrees.
    film, film_polarity : bool, str
        Film-like PNG survey; fiducial polarity ``dark`` or ``bright``.
    overlap : float, optional
        Planned overlap, along and across track.
    max_wobble_shift : float, optional
        Largest wobble shift, fraction of a frame.
    linescan, pushframe : bool
        Add line-scan / push-frame strips with their default parameters (unless the preset
        has some).
    frames : bool, optional
        Write the frame-camera frames (default: True, or the preset's).

    Examples
    --------
    >>> survey_kwargs()
    {'n_strips': 3, 'frames_per_strip': 6, 'size': (320, 320)}
    >>> sorted(survey_kwargs(preset="relief_strip", size=128))[:3]
    ['frames_per_strip', 'max_wobble_shift', 'n_strips']
    """
    kw: dict[str, Any] = survey_preset(preset) if preset else {}
    base = {"n_strips": strips, "frames_per_strip": frames_per_strip}
    for key, value in base.items():
        kw[key] = value if value is not None else kw.get(key, _DEFAULTS[key])
    kw["size"] = (size, size) if size is not None else kw.get("size", (_DEFAULTS["size"],) * 2)
    if law is not None:
        kw["law"] = scattering_law(law, **_law_params(law_params))
    elif law_params:
        raise ConfigError("--law-param needs --law NAME")
    if relief:
        kw["relief"] = True
    if oblique is not None:
        kw["oblique_deg"] = (float(oblique[0]), float(oblique[1]))
    if film or film_polarity is not None:
        kw["film"] = FilmParams(polarity=film_polarity or "dark")
    if overlap is not None:
        kw["overlap_along"] = kw["overlap_across"] = float(overlap)
    if max_wobble_shift is not None:
        kw["max_wobble_shift"] = float(max_wobble_shift)
    for key, flag in (("linescan", linescan), ("pushframe", pushframe)):
        if flag:
            kw.setdefault(key, True)
    if frames is not None:
        kw["frames"] = bool(frames)
    return kw


def main_simulate(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m pipeline.simulation OUTDIR --seed N ...``.

    Options: ``--seed N`` (42), ``--strips N`` (3), ``--frames-per-strip N`` (6),
    ``--size N`` (320, square), ``--formats pds3,pds4,fits,tiff``, ``--no-calibration``,
    ``--region LON0 LON1 LAT0 LAT1`` (degrees), ``--gsd M`` (180), ``--force``; and
    ``--preset NAME``, ``--law NAME`` with ``--law-param KEY=VALUE`` (repeatable),
    ``--relief``, ``--oblique MIN MAX`` (degrees), ``--film``, ``--film-polarity
    dark|bright``, ``--overlap F``, ``--max-wobble-shift F``, ``--linescan``, ``--pushframe``,
    ``--no-frames`` (see :func:`survey_kwargs`).

    Returns
    -------
    int
        Exit status (0 on success, 2 on a usage error).
    """
    ap = argparse.ArgumentParser(prog="farside simulate", description="Render a synthetic far-side survey.")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--strips", type=int, default=None, help="number of strips (3)")
    ap.add_argument("--frames-per-strip", type=int, default=None, help="frames per strip (6)")
    ap.add_argument("--size", type=int, default=None, help="frame size in pixels, square (320)")
    ap.add_argument("--formats", default=None, help="light-frame formats in turn (pds3,pds4,fits,tiff)")
    ap.add_argument("--no-calibration", action="store_true")
    ap.add_argument("--region", type=float, nargs=4, metavar=("LON0", "LON1", "LAT0", "LAT1"))
    ap.add_argument("--gsd", type=float, default=180.0)
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument(
        "--law",
        help="scattering law: lunar_lambert, lunar_lambert_mcewen, lommel_seeliger, lambert, hapke, hapke_lroc",
    )
    ap.add_argument("--law-param", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--relief", action="store_true", help="render through a synthetic DEM (truth/dem.tif)")
    ap.add_argument("--oblique", type=float, nargs=2, metavar=("MIN", "MAX"), help="emission range, degrees")
    ap.add_argument("--film", action="store_true", help="film-like 8-bit PNG frames, ISD sidecars only")
    ap.add_argument("--film-polarity", choices=("dark", "bright"))
    ap.add_argument("--overlap", type=float)
    ap.add_argument("--max-wobble-shift", type=float)
    ap.add_argument("--linescan", action="store_true", help="add line-scan strips (ALE ISD sidecars, jitter)")
    ap.add_argument("--pushframe", action="store_true", help="add a push-frame strip (framelets)")
    ap.add_argument("--frames", action=argparse.BooleanOptionalAction, default=None, help="frame-camera frames")
    ap.add_argument("--force", action="store_true", help="write into a non-empty OUTDIR")
    args = ap.parse_args(argv)
    if args.outdir.exists() and any(args.outdir.iterdir()) and not args.force:
        sys.stderr.write(f"farside simulate: {args.outdir} is not empty; pass --force to write into it\n")
        return 2
    try:
        kw = survey_kwargs(
            preset=args.preset, strips=args.strips, frames_per_strip=args.frames_per_strip, size=args.size,
            law=args.law, law_params=args.law_param, relief=args.relief, oblique=args.oblique, film=args.film,
            film_polarity=args.film_polarity, overlap=args.overlap, max_wobble_shift=args.max_wobble_shift,
            linescan=args.linescan, pushframe=args.pushframe, frames=args.frames,
        )
    except ConfigError as exc:
        sys.stderr.write(f"farside simulate: {exc}\n")
        return 2
    if args.formats is not None:
        kw["formats"] = tuple(s.strip() for s in args.formats.split(",") if s.strip())
    kw.setdefault("formats", ("pds3", "pds4", "fits", "tiff"))
    if args.no_calibration:
        kw["calibration"] = False
    kw.setdefault("calibration", True)
    info = simulate_survey(args.outdir, seed=args.seed, region=tuple(args.region) if args.region else None,
                           gsd_m=args.gsd, **kw)
    sys.stdout.write(f"wrote {info} to {args.outdir}\n")
    return 0


__all__ = ["main_simulate", "survey_kwargs"]
