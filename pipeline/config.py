"""Configuration: ``configs/*.yaml`` validated once at the edge into one :class:`Config`.

Each stage defines its own section (its ``params.py``); this module only composes them.
``load_config(path, overrides)`` returns a validated :class:`Config`; every stage then receives
its own section as its parameter object. Unknown keys are errors, so a typo in a YAML file is
reported instead of silently ignored; keys of earlier releases (:data:`RENAMED_KEYS`) are
read with a warning.

Units at this edge are the user's: degrees for angles, metres, seconds. Stages convert to
radians inside.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from pipeline.calibration.params import CalibrationParams
from pipeline.crosschecking.params import CrosscheckingParams
from pipeline.errors import ConfigError
from pipeline.ingestion.params import IngestionParams
from pipeline.mosaicking.params import MosaickingParams
from pipeline.parameters import Section
from pipeline.registration.params import RegistrationParams

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_DASHBOARD",
    "RENAMED_KEYS",
    "SCHEDULERS",
    "Config",
    "RunParams",
    "SlurmParams",
    "check_scheduler",
    "load_config",
    "reference_markdown",
    "reference_page",
]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class SlurmParams(Section):
    """dask-jobqueue settings for ``slurm`` and ``pbs`` schedulers."""

    queue: str | None = Field(None, description="partition (SLURM) or queue (PBS) of the worker jobs")
    account: str | None = Field(None, description="account charged for the worker jobs")
    cores: int = Field(1, gt=0, description="cores per worker job")
    processes: int = Field(1, gt=0, description="dask worker processes per job (cores are shared among them)")
    memory: str = Field("2GB", description="memory per worker job, e.g. 4GB")
    walltime: str = Field("00:30:00", description="wall-clock limit per worker job, HH:MM:SS")
    jobs: int = Field(2, gt=0, description="worker jobs to submit")
    local_directory: str | None = Field(None, description="node-local scratch folder for dask workers")
    job_extra_directives: list[str] = Field(
        default_factory=list, description="extra #SBATCH/#PBS lines, e.g. ['--output=logs/%j.out']"
    )


SCHEDULERS = ("synchronous", "threads", "processes", "distributed", "slurm", "pbs")
DEFAULT_DASHBOARD = "127.0.0.1:0"
"""Where the dask dashboard listens by default: this machine only, a free port."""
"""Engines ``run.scheduler`` names, besides ``tcp://host:port`` / ``tls://host:port`` addresses."""


def check_scheduler(spec: str) -> str:
    """``spec`` if it names an engine farside knows, else a ValueError naming them.

    >>> check_scheduler("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    if spec in SCHEDULERS or spec.startswith(("tcp://", "tls://")):
        return spec
    raise ValueError(f"unknown scheduler {spec!r}: use one of {', '.join(SCHEDULERS)} or a tcp://host:port address")


class RunParams(Section):
    """Execution: scheduler, work directory and determinism."""

    scheduler: str = Field("threads", description="synchronous, threads, processes, tcp://host:port, slurm, pbs")
    workers: int | None = Field(
        None, gt=0, description="threads/processes (local) or worker processes (distributed); default all cores"
    )
    workdir: Path | None = Field(
        None, description="where stage products are cached for resume; default <output folder>/.farside-work"
    )
    seed: int = Field(0, description="seed of every random choice (feature matching, robust estimation)")
    dashboard_address: str = Field(
        DEFAULT_DASHBOARD, description="distributed/slurm/pbs: host:port of the dask dashboard; the default serves "
        "this machine only (a free port), ':8787' every network interface"
    )
    slurm: SlurmParams = SlurmParams()

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        return check_scheduler(value)


class Config(Section):
    """The whole configuration: one section per stage, each that stage's own parameters."""

    ingestion: IngestionParams = IngestionParams()
    calibration: CalibrationParams = CalibrationParams()
    crosschecking: CrosscheckingParams = CrosscheckingParams()
    registration: RegistrationParams = RegistrationParams()
    mosaicking: MosaickingParams = MosaickingParams()
    run: RunParams = RunParams()


RENAMED_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("ingest",): ("ingestion",),
    ("mosaic",): ("mosaicking",),
    ("calibration", "crossframe"): ("crosschecking", "enabled"),
    ("calibration", "crossframe_sigma"): ("crosschecking", "sigma"),
    ("calibration", "crossframe_misregistration_px"): ("crosschecking", "misregistration_px"),
}
"""Keys of earlier releases and their names now: still read, with a warning naming the new key."""


def _rename_old_keys(data: dict[str, Any], source: str) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for old, new in RENAMED_KEYS.items():
        holder = out
        for part in old[:-1]:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or old[-1] not in holder:
            continue
        value = holder.pop(old[-1])
        log.warning("%s: config key %s is now %s; please rename it", source, ".".join(old), ".".join(new))
        target = out
        for part in new[:-1]:
            target = target.setdefault(part, {})
        if isinstance(value, dict) and isinstance(target.get(new[-1]), dict):
            value = _merge(target[new[-1]], value)
        target[new[-1]] = value
    return out


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
        ``{"mosaicking": {"crs": "IAU_2015:30170"}}``.

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
            loaded = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read config ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                              f"{exc.start}); save the config as UTF-8 YAML") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: a config must be a mapping of sections")
        data = _merge(data, _rename_old_keys(loaded, str(source)))
    data = _merge(data, _rename_old_keys(overrides or {}, "option"))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [_validation_line(e) for e in exc.errors()]
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}invalid config: " + "; ".join(lines)) from exc


def _validation_line(error: dict[str, Any]) -> str:
    """``key = value: what is wrong`` for one pydantic error (the value only when it is a scalar)."""
    key = ".".join(map(str, error["loc"]))
    msg = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, (int, float, str)) and not isinstance(value, bool) and len(str(value)) <= 40:
        return f"{key} = {value!r}: {msg}"
    return f"{key}: {msg}"


def _walk(model: type[BaseModel], prefix: str = ""):
    """Yield (dotted key, field info, nested model or None) for every field, depth first."""
    for name, info in model.model_fields.items():
        nested = None
        ann = info.annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                nested = cand
        yield f"{prefix}{name}", info, nested
        if nested is not None:
            yield from _walk(nested, f"{prefix}{name}.")


def reference_markdown() -> str:
    """A Markdown table of every config key with its default and meaning."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, info, nested in _walk(Config):
        if nested is not None:
            continue
        default = info.get_default(call_default_factory=True)
        meaning = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{json_default(default)}` | {meaning} |")
    return "\n".join(rows)


def reference_page() -> str:
    """``docs/configuration.md``: how a config is read, then :func:`reference_markdown`."""
    return "\n".join([
        "# Configuration",
        "",
        "<!-- generated by `make docs` (python -m pipeline.config docs/configuration.md); do not edit -->",
        "",
        "`configs/default.yaml` is validated once at the edge (pydantic); `--config FILE` is merged over",
        "it, command-line options over both. Each stage defines its own section (its `params.py`);",
        "unknown keys and bad values are errors naming the key; keys of earlier releases",
        f"({', '.join('`' + '.'.join(old) + '`' for old in RENAMED_KEYS)}) are read with a warning",
        "naming the new key. `configs/slurm.yaml` is a cluster example. Units: degrees, metres, seconds.",
        "",
        reference_markdown(),
        "",
    ])


def json_default(value: Any) -> str:
    """A default value as it reads in YAML (flow style)."""
    if isinstance(value, BaseModel):
        return "{...}"
    if isinstance(value, Path):
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.config [PAGE]``: print the reference, or write the whole page."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        Path(args[0]).write_text(reference_page())
    else:
        sys.stdout.write(reference_markdown() + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
