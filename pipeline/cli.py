"""The ``farside`` command: a thin shell over library calls (rasterio's ``rio`` style).

Every command maps onto one public function; nothing here that a Python user cannot
reach. ``-v``/``-q`` set the log level; errors are one line (with the traceback under
``-v``); outputs are never silently overwritten (``--overwrite``).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import FarsideError

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


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("distributed", "bokeh", "tornado", "rasterio", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class FarsideGroup(click.Group):
    """Turns :class:`FarsideError` into one clear line and a non-zero exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FarsideError as exc:
            if _State.verbose:
                log.exception("failed")
            click.echo(f"farside: error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=FarsideGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="farside")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def main(verbose: int, quiet: bool) -> None:
    """farside: raw lunar far-side frames to georeferenced map mosaics.

    Shell completion (bash): eval "$(_FARSIDE_COMPLETE=bash_source farside)"
    """
    _State.verbose = verbose
    _setup_logging(verbose, quiet)


@main.command(epilog=EPILOG_MOSAIC)
@click.argument("frames_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output Cloud Optimized GeoTIFF.")
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of bias/dark/flat frames.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML config merged over configs/default.yaml.")
@click.option("--crs", help="Output CRS: preset (farside_eqc, farside_ortho, north_polar, south_polar), "
                            "IAU code, WKT or PROJ string.")
@click.option("--resolution", type=float, help="Output pixel size in metres (default: median GSD).")
@click.option("--scheduler", help="synchronous, threads, processes, distributed, tcp://host:port, slurm, pbs.")
@click.option("--workers", type=int, help="Threads/processes/workers for the scheduler.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where stage products are cached for resume (default: OUT's folder/.farside-work).")
@click.option("--no-register", is_flag=True, help="Place frames with their reported pointing.")
@click.option("--dry-run", is_flag=True, help="List what would be processed and the output grid; compute nothing.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def mosaic(frames_dir, out, calibration, config_path, crs, resolution, scheduler, workers, workdir,
           no_register, dry_run, overwrite):
    """Ingest, calibrate, register and mosaic FRAMES_DIR into OUT (a COG)."""
    from pipeline.config import load_config  # deferred: `farside --help` stays fast
    from pipeline.orchestration import plan, run  # deferred: `farside --help` stays fast

    overrides: dict = {"mosaicking": {}, "run": {}}
    if crs:
        overrides["mosaicking"]["crs"] = crs
    if resolution:
        overrides["mosaicking"]["resolution_m"] = resolution
    if scheduler:
        overrides["run"]["scheduler"] = scheduler
    if workers:
        overrides["run"]["workers"] = workers
    if workdir:
        overrides["run"]["workdir"] = str(workdir)
    if no_register:
        overrides["registration"] = {"enabled": False}
    config = load_config(config_path, overrides)

    if dry_run:
        click.echo(plan(frames_dir, out, calibration=calibration, config=config).describe())
        return
    if out.exists() and not overwrite:
        raise click.UsageError(f"{out} exists; pass --overwrite to replace it")
    result = run(frames_dir, out, calibration=calibration, config=config, progress=sys.stderr.isatty())
    click.echo(result.summary())


@main.command("ingest")
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
    """
    from pipeline.config import load_config  # deferred: `farside --help` stays fast
    from pipeline.ingestion import format_inventory, ingest, inventory_rows  # deferred: as above

    config = load_config(config_path)
    result = ingest(frames_dir, calibration=calibration, config=config.ingestion)
    click.echo(format_inventory(result))
    if json_path:
        json_path.write_text(json.dumps(inventory_rows(result), indent=2, default=str))


@main.command()
@click.argument("mosaic_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect(mosaic_path, as_json):
    """Summarise a mosaic: CRS, lon/lat extent, resolution, coverage, provenance.

    \b
    Example:
      farside inspect out/mosaic.tif
    """
    from pipeline.io.geotiff import describe  # deferred: `farside --help` stays fast

    info = describe(mosaic_path)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            click.echo(f"{key:>14}: {value}")


@main.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--strips", type=int, default=None, help="Number of strips [default: 3, or the preset's].")
@click.option("--frames-per-strip", type=int, default=None, help="Frames per strip [default: 6, or the preset's].")
@click.option("--size", type=int, default=None, help="Frame size in pixels (square) [default: 320, or the preset's].")
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
    """
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
