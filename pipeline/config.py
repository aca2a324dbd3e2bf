"""Configuration: pydantic models of ``configs/*.yaml``, validated once at the edge.

``load_config(path, **overrides)`` returns a validated :class:`Config`; every stage then
receives plain values (its own section) as explicit arguments. Unknown keys are errors,
so a typo in a YAML file is reported instead of silently ignored.

Units at this edge are the user's: degrees for angles, metres, seconds. Stages convert to
radians inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestConfig(_Section):
    """Folder scan and readers."""

    recursive: bool = False
    band: int = Field(0, ge=0, description="zero-based band kept from multi-band products")
    max_frame_bytes: int = Field(
        2 * 1024**3, gt=0, description="refuse a frame whose label declares more bytes than this"
    )
    look_direction: dict[str, Literal[1, -1]] = Field(
        default_factory=dict,
        description="per-instrument camera look direction along the instrument Z axis "
        "(+1 or -1), overriding the built-in table",
    )


class PhotometryConfig(_Section):
    """Photometric normalisation to a standard geometry."""

    model: str = "lunar_lambert"
    incidence_max_deg: float = Field(85.0, gt=0, le=90)
    emission_max_deg: float = Field(70.0, gt=0, le=90)
    standard_incidence_deg: float = 30.0
    standard_emission_deg: float = 0.0
    standard_phase_deg: float = 30.0


class CalibrateConfig(_Section):
    """Radiometric calibration (bias, dark, flat, bad pixels, cosmic rays, I/F)."""

    enabled: bool = True
    saturation_dn: float | None = Field(4095.0, description="raw DN at or above which pixels are masked")
    bias_dn: float | None = Field(None, description="constant bias used when no bias frames are given")
    clip_sigma: float = Field(3.0, gt=0)
    hot_sigma: float = Field(8.0, gt=0)
    dead_flat: float = Field(0.5, gt=0, lt=1)
    noisy_sigma: float = Field(6.0, gt=0)
    cosmic_rays: bool = True
    cosmic_sigma: float = Field(5.0, gt=0)
    responsivity: float = Field(
        1.0, gt=0, description="DN/s per unit radiance (W m^-2 sr^-1 um^-1)"
    )
    solar_irradiance: float = Field(
        1.0, gt=0, description="solar spectral irradiance at 1 AU in the band (W m^-2 um^-1)"
    )
    output: Literal["dn_per_s", "radiance", "iof"] = "iof"
    photometry: PhotometryConfig | None = PhotometryConfig()


class RegisterConfig(_Section):
    """Tie points and bundle adjustment."""

    enabled: bool = True
    detector: str = "sift"
    max_features: int = Field(4000, gt=0)
    ratio: float = Field(0.8, gt=0, lt=1)
    ransac_threshold_px: float = Field(1.5, gt=0)
    min_matches: int = Field(12, ge=4)
    subpixel: bool = True
    pointing_sigma_deg: float = Field(0.3, gt=0)
    position_sigma_m: float | None = Field(None, description="solve position too, with this prior sigma")
    robust_loss: str = "huber"
    outlier_px: float = Field(3.0, gt=0)
    unmatched: Literal["keep", "exclude"] = "keep"
    reference_basemap: Path | None = None


class MosaicConfig(_Section):
    """Output grid, orthorectification, equalisation and blending."""

    grid: str | None = Field(None, description="named grid from configs/grids.yaml")
    crs: str = Field("farside_eqc", description="preset name, IAU code, WKT or PROJ string")
    resolution_m: float | None = Field(None, gt=0, description="pixel size; default: median GSD")
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="(xmin, ymin, xmax, ymax) in CRS metres; default: union of footprints"
    )
    tile_size: int = Field(512, ge=64)
    halo: int = Field(16, ge=0)
    resampling: Literal["nearest", "bilinear", "cubic", "lanczos"] = "bilinear"
    blend: str = "feather"
    equalize: bool = True
    priority: Literal["input", "emission", "incidence", "newest"] = "input"
    extra_bands: list[Literal["count", "top_index", "incidence"]] = Field(default_factory=list)
    dem: Path | None = None
    overviews: bool = True
    quicklook: bool = True
    stac: bool = True


class SlurmConfig(_Section):
    """dask-jobqueue settings for ``slurm`` and ``pbs`` schedulers."""

    queue: str | None = None
    account: str | None = None
    cores: int = Field(1, gt=0)
    processes: int = Field(1, gt=0)
    memory: str = "2GB"
    walltime: str = "00:30:00"
    jobs: int = Field(2, gt=0)
    local_directory: str | None = None
    job_extra_directives: list[str] = Field(default_factory=list)


class RunConfig(_Section):
    """Execution: scheduler, work directory and determinism."""

    scheduler: str = Field("threads", description="synchronous, threads, processes, tcp://host:port, slurm, pbs")
    workers: int | None = Field(None, gt=0)
    workdir: Path | None = None
    seed: int = 0
    slurm: SlurmConfig = SlurmConfig()


class Config(_Section):
    """The whole configuration."""

    ingest: IngestConfig = IngestConfig()
    calibration: CalibrateConfig = CalibrateConfig()
    registration: RegisterConfig = RegisterConfig()
    mosaic: MosaicConfig = MosaicConfig()
    run: RunConfig = RunConfig()


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read, merge and validate a configuration.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file. Its keys override ``configs/default.yaml``'s (nested merge).
    overrides : dict, optional
        Nested values that win over the file (e.g. from CLI options),
        ``{"mosaic": {"crs": "IAU_2015:30170"}}``.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or a value is invalid (the message names the key).
    """
    data: dict[str, Any] = {}
    for source in (DEFAULT_CONFIG, path):
        if source is None:
            continue
        source = Path(source)
        try:
            loaded = yaml.safe_load(source.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read config ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: a config must be a mapping of sections")
        data = _merge(data, loaded)
    data = _merge(data, overrides or {})
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}invalid config: " + "; ".join(lines)) from exc
