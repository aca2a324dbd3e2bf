"""The ``farside`` command: a thin shell over library calls (rasterio's ``rio`` style).

Every command maps onto one public function; nothing here that a Python user cannot
reach. ``-v``/``-q`` set the log level; outputs are never silently overwritten
(``--overwrite``). Every failure ends with one line ``farside: error: ...`` naming the file
or option and the fix, and a non-zero exit status (2 for bad options, 130 when interrupted,
1 otherwise); the traceback only under ``-v``. Numbers in options are checked here (finite,
positive where only that makes sense) and config values by :func:`pipeline.load_config`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import traceback
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import FarsideError, MosaicError, explain_os_error

log = logging.getLogger("pipeline")

EPILOG_MOSAIC = """\b
Examples:
  farside mosaic sample_images --out out/mosaic.tif --calibration sample_images/calibration
  farside mosaic frames/ --out map.tif --crs farside_ortho --resolution 200
  farside mosaic frames/ --out map.tif --scheduler tcp://10.0.0.5:8786 --workdir /scratch/run1
  farside mosaic frames/ --out map.tif --config configs/slurm.yaml --scheduler slurm
  farside mosaic frames/ --out map.tif --dry-run
"""


class _State:
    verbose = 0
    quiet = False


def _setup_logging(verbose: int, quiet: bool) -> None:
    from pipeline.orchestration.progress import setup_logging  # deferred: `farside --help` stays fast

    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    setup_logging(level, sys.stderr)


def _late_verbose(ctx, param, value):
    if value:
        _State.verbose = max(_State.verbose, value)
        _setup_logging(_State.verbose, _State.quiet)


def _late_quiet(ctx, param, value):
    if value:
        _State.quiet = True
        _setup_logging(_State.verbose, True)


def global_options(command):
    """``-v``/``-q`` accepted after the sub-command too (``farside mosaic ... -q``)."""
    command = click.option("-v", "--verbose", count=True, expose_value=False, callback=_late_verbose,
                           help="More log output (repeat for debug).")(command)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_late_quiet,
                        help="Only warnings and errors; no progress.")(command)


class _PositiveFloat(click.ParamType):
    """A finite number > 0 (``0``, negatives, ``nan`` and ``inf`` are usage errors)."""

    name = "number"

    def __init__(self, unit: str):
        self.unit = unit

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number ({self.unit})", param, ctx)
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a finite number > 0 ({self.unit})", param, ctx)
        return number


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _failure(exc: BaseException) -> tuple[str, int]:
    """The ``farside: error:`` line and exit status of an exception that ended a command."""
    if isinstance(exc, click.ClickException):
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if isinstance(exc, click.UsageError) and ctx else ""
        return exc.format_message() + hint, exc.exit_code
    if isinstance(exc, click.Abort):
        return "interrupted", 130
    if isinstance(exc, FarsideError):
        return str(exc), 1
    if isinstance(exc, OSError):
        return explain_os_error(exc), 1
    if isinstance(exc, MemoryError):
        return ("out of memory: choose a coarser --resolution, a smaller mosaicking.tile_size or fewer --workers",
                1)
    return f"unexpected {type(exc).__name__}: {exc} (a bug: rerun with -v for the traceback and report it)", 1


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class FarsideGroup(click.Group):
    """Ends every failed command with one ``farside: error: ...`` line and a non-zero exit."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run the group as click does, but end every failure with one ``farside: error:`` line and its exit status."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:  # plain `farside`: the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except Exception as exc:  # the CLI's single exit path: every error ends as one line
            line, status = _failure(exc)
            if _State.verbose and not isinstance(exc, click.ClickException):
                click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            click.echo(f"farside: error: {_one_line(line)}", err=True)
            if not standalone_mode:
                raise
            sys.exit(status)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


@click.group(cls=FarsideGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="farside")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress.")
def main(verbose: int, quiet: bool) -> None:
    """farside: raw lunar far-side frames to georeferenced map mosaics.

    Shell completion (bash): eval "$(_FARSIDE_COMPLETE=bash_source farside)"
    """
    _State.verbose, _State.quiet = verbose, quiet
    _setup_logging(verbose, quiet)


@main.command(epilog=EPILOG_MOSAIC)
@global_options
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output Cloud Optimized GeoTIFF.")
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of bias/dark/flat frames.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML config merged over configs/default.yaml.")
@click.option("--crs", help="Output CRS: preset (farside_eqc, farside_ortho, north_polar, south_polar), "
                            "IAU code, WKT or PROJ string.")
@click.option("--resolution", type=_PositiveFloat("metres"), help="Output pixel size in metres (default: median GSD).")
@click.option("--scheduler", help="synchronous, threads, processes, distributed, tcp://host:port, slurm, pbs.")
@click.option("--workers", type=click.IntRange(min=1), help="Threads/processes/workers for the scheduler.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where stage products are cached for resume (default: OUT's folder/.farside-work).")
@click.option("--no-register", is_flag=True, help="Place frames with their reported pointing.")
@click.option("--dry-run", is_flag=True, help="List what would be processed and the output grid; compute nothing.")
@click.option("--overwrite", is_flag=True,
              help="Replace OUT and its quicklook, STAC item, report and other outputs if they exist.")
@click.option("--grid", "grid_name", help="Named grid of configs/grids.yaml (CRS, resolution, extent).")
@click.option("--bounds", help="Extent W,S,E,N: degrees lon/lat (east may exceed 180), or CRS metres with "
                               "--bounds-units m.")
@click.option("--bounds-units", type=click.Choice(["deg", "m"]), default="deg", show_default=True,
              help="Units of --bounds.")
@click.option("--like", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Existing map: use its CRS, resolution and pixel lattice (new frames snap onto it).")
@click.option("--write-cameras", "cameras_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the adjusted cameras as ALE ISDs (<frame id>.json) into this folder.")
@click.option("--cameras-frame", type=click.Choice(["auto", "j2000", "body_fixed"]), default="auto",
              show_default=True, help="Frame of the written cameras.")
@click.option("--write-network", "network", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the control network: .net/.pvl (ISIS PVL), .csv or .parquet.")
@click.option("--format", "formats", type=click.Choice(["cog", "cub"]), multiple=True,
              help="Mosaic formats (repeatable): cog (always written), cub (ISIS3 cube OUT.cub beside it).")
def mosaic(frames_dir, out, calibration, config_path, crs, resolution, scheduler, workers, workdir,
           no_register, dry_run, overwrite, grid_name, bounds, bounds_units, like, cameras_dir, cameras_frame,
           network, formats):
    """Ingest, calibrate, register and mosaic FRAMES_DIR into OUT (a COG)."""
    from pipeline.config import load_config  # deferred: `farside --help` stays fast
    from pipeline.orchestration import plan, run  # deferred: `farside --help` stays fast
    from pipeline.orchestration.exports import check_outputs, write_outputs  # deferred: as above

    overrides: dict = {"mosaicking": {}, "run": {}}
    if crs is not None:
        overrides["mosaicking"]["crs"] = crs
    if resolution is not None:
        overrides["mosaicking"]["resolution_m"] = resolution
    if scheduler is not None:
        overrides["run"]["scheduler"] = scheduler
    if workers is not None:
        overrides["run"]["workers"] = workers
    if workdir is not None:
        overrides["run"]["workdir"] = str(workdir)
    if no_register:
        overrides["registration"] = {"enabled": False}
    if grid_name:
        overrides["mosaicking"]["grid"] = grid_name
    if bounds:
        try:
            box = [float(v) for v in bounds.replace(",", " ").split()]
        except ValueError:
            box = []
        if len(box) != 4:
            raise click.BadParameter(f"{bounds!r}: expected 4 numbers W,S,E,N", param_hint="--bounds")
        overrides["mosaicking"]["bounds" if bounds_units == "m" else "bounds_lonlat"] = box
    if like:
        overrides["mosaicking"]["like"] = str(like)
    config = load_config(config_path, overrides)
    formats = tuple(formats) or ("cog",)

    if dry_run:
        click.echo(plan(frames_dir, out, calibration=calibration, config=config).describe())
        return
    check_outputs(out, cameras_dir=cameras_dir, network=network, formats=formats, overwrite=overwrite)
    result = run(frames_dir, out, calibration=calibration, config=config,
                 progress="off" if _State.quiet else "auto", overwrite=overwrite)
    written = write_outputs(result, cameras_dir=cameras_dir, network=network, formats=formats,
                            cameras_frame=cameras_frame, overwrite=overwrite)
    click.echo(result.summary())
    for kind, paths in written.items():
        click.echo(f"{kind}: {paths[0].parent if kind == 'cameras' else paths[0]}"
                   + (f" ({len(paths)} files)" if kind == "cameras" else ""))


@main.command("ingest")
@global_options
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the inventory as JSON.")
def ingest_command(frames_dir, calibration, config_path, json_path):
    """Print an inventory of FRAMES_DIR: one row per frame, then the rejected files.

    \b
    Example:
      farside ingest sample_images --calibration sample_images/calibration --json inventory.json
    """  # noqa: D301 -- click's no-rewrap marker is a real backspace (\b); a raw docstring would break it
    from pipeline.config import load_config  # deferred: `farside --help` stays fast
    from pipeline.ingestion import format_inventory, ingest, inventory_rows  # deferred: as above

    config = load_config(config_path)
    result = ingest(frames_dir, calibration=calibration, config=config.ingestion)
    click.echo(format_inventory(result))
    if json_path:
        json_path.write_text(json.dumps(inventory_rows(result), indent=2, default=str))


@main.command()
@global_options
@click.argument("mosaic_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect(mosaic_path, as_json):
    """Summarise a mosaic: CRS, lon/lat extent, resolution, coverage, provenance.

    \b
    Example:
      farside inspect out/mosaic.tif
    """  # noqa: D301 -- click's no-rewrap marker is a real backspace (\b); a raw docstring would break it
    from rasterio.errors import RasterioError  # deferred: `farside --help` stays fast

    from pipeline.io.geotiff import describe  # deferred: as above

    try:
        info = describe(mosaic_path)
    except (RasterioError, OSError) as exc:
        raise MosaicError(f"{mosaic_path}: not a GeoTIFF farside can read ({_one_line(exc)}); pass a mosaic "
                          "written by farside mosaic") from exc
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            click.echo(f"{key:>14}: {value}")


@main.command()
@global_options
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--strips", type=click.IntRange(min=1), default=None,
              help="Number of strips [default: 3, or the preset's].")
@click.option("--frames-per-strip", type=click.IntRange(min=1), default=None,
              help="Frames per strip [default: 6, or the preset's].")
@click.option("--size", type=click.IntRange(min=16), default=None,
              help="Frame size in pixels (square) [default: 320, or the preset's].")
@click.option("--preset", default=None, help="A named survey of pipeline.simulation.PRESETS (relief_strip, "
              "oblique_relief, film, small_128, small_256, linescan_strips, pushframe_strip, scan_mix); "
              "other options override it.")
@click.option("--law", default=None, help="Scattering law of the surface (pipeline.simulation.SCATTERING_LAWS).")
@click.option("--law-param", multiple=True, metavar="KEY=VALUE", help="Parameter of --law, e.g. L=0.3 (repeatable).")
@click.option("--relief", is_flag=True, help="Render through a synthetic DEM (truth/dem.tif).")
@click.option("--oblique", type=float, nargs=2, default=None, metavar="MIN MAX", help="Oblique strips: emission, deg.")
@click.option("--film", is_flag=True, help="Film-like 8-bit PNG frames with ISD sidecars only.")
@click.option("--film-polarity", type=click.Choice(["dark", "bright"]), default=None, help="Fiducial marks.")
@click.option("--overlap", type=float, default=None, help="Planned overlap along and across track (fraction).")
@click.option("--max-wobble-shift", type=float, default=None, help="Largest wobble shift (fraction of a frame).")
@click.option("--linescan", is_flag=True, help="Add line-scan strips (ALE ISD sidecars, pointing jitter).")
@click.option("--pushframe", is_flag=True, help="Add a push-frame strip (framelets).")
@click.option("--frames/--no-frames", default=None, help="Frame-camera frames [default: yes, or the preset's].")
@click.option("--force", is_flag=True, help="Write into a non-empty OUTDIR.")
def simulate(outdir, seed, strips, frames_per_strip, size, preset, law, law_param, relief, oblique, film,
             film_polarity, overlap, max_wobble_shift, linescan, pushframe, frames, force):
    """Render a synthetic far-side survey (frames, calibration, truth) into OUTDIR.

    \b
    Example:
      farside simulate sample_images --seed 42
      farside simulate out/relief --preset relief_strip
    """  # noqa: D301 -- click's no-rewrap marker is a real backspace (\b); a raw docstring would break it
    from pipeline.simulation import simulate_survey, survey_kwargs  # deferred: `farside --help` stays fast

    if outdir.exists() and any(outdir.iterdir()) and not force:
        raise click.UsageError(f"{outdir} is not empty; pass --force to write into it")
    kw = survey_kwargs(preset=preset, strips=strips, frames_per_strip=frames_per_strip, size=size, law=law,
                       law_params=law_param, relief=relief, oblique=oblique, film=film, film_polarity=film_polarity,
                       overlap=overlap, max_wobble_shift=max_wobble_shift, linescan=linescan, pushframe=pushframe,
                       frames=frames)
    info = simulate_survey(outdir, seed=seed, **kw)
    click.echo(f"wrote {info} to {outdir}")


if __name__ == "__main__":  # pragma: no cover
    main()
