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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestConfig(_Section):
    """Folder scan and readers."""

    recursive: bool = Field(False, description="also scan sub-folders of the frames folder")
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
    """Photometric normalisation of I/F to a standard geometry (angles in degrees)."""

    model: str = Field(
        "lunar_lambert",
        description="photometric function, a key of pipeline.calibration.PHOTOMETRIC_MODELS "
        "(lunar_lambert: McEwen lunar-Lambert with L(phase); lommel_seeliger)",
    )
    lunar_lambert_l: float | None = Field(
        None, description="constant lunar-Lambert weight L; default: McEwen's L(phase) polynomial"
    )
    incidence_max_deg: float = Field(85.0, gt=0, le=90, description="mask pixels lit more obliquely")
    emission_max_deg: float = Field(70.0, gt=0, le=90, description="mask pixels seen more obliquely")
    standard_incidence_deg: float = Field(30.0, ge=0, lt=90, description="standard incidence angle")
    standard_emission_deg: float = Field(0.0, ge=0, lt=90, description="standard emission angle")
    standard_phase_deg: float = Field(30.0, ge=0, le=180, description="standard phase angle")
    angle_grid_step: int = Field(
        8, ge=1, description="compute angles every N pixels and interpolate bilinearly (1 = every pixel)"
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        from pipeline.calibration.photometry import PHOTOMETRIC_MODELS

        if value not in PHOTOMETRIC_MODELS:
            raise ValueError(f"unknown photometric model {value!r}; choose from {sorted(PHOTOMETRIC_MODELS)}")
        return value


class CalibrateConfig(_Section):
    """Radiometric calibration: bias, dark, flat, bad pixels, cosmic rays, DN/s, radiance, I/F."""

    enabled: bool = Field(True, description="False: frames pass through uncalibrated")
    saturation_dn: float | None = Field(
        4095.0, description="raw DN at or above which pixels are masked (None: no saturation test)"
    )
    bias_dn: float | None = Field(
        None, description="constant bias (DN) used when no bias frames (and no overscan) are given"
    )
    overscan_samples: tuple[int, int] | None = Field(
        None,
        description="[start, stop) sample range of a serial overscan strip; without bias frames each "
        "frame's bias is the per-line median of this strip (the strip itself is masked)",
    )
    clip_sigma: float = Field(3.0, gt=0, description="sigma clipping (robust sigmas) when combining masters")
    hot_sigma: float = Field(
        8.0, gt=0, description="hot pixel: dark rate above its local median by this many robust sigmas"
    )
    dead_flat: float = Field(
        0.5, gt=0, lt=1, description="dead/low-response pixel: flat below this fraction of its local median"
    )
    noisy_sigma: float = Field(
        6.0, gt=0, description="noisy pixel: bias-stack scatter above the median by this many robust sigmas"
    )
    badpix_window: int = Field(
        9, ge=3, description="side (px, odd) of the local median window for hot and dead pixel tests"
    )
    mask_repaired: bool = Field(
        False, description="also flag repaired bad pixels and cosmic-ray hits as invalid in the frame mask "
        "(they are always counted in the frame's QA); true leaves holes in the mosaic and the tie points"
    )
    cosmic_rays: bool = Field(True, description="detect and repair cosmic-ray hits and single-pixel outliers")
    cosmic_sigma: float = Field(
        6.0, gt=0, description="cosmic-ray detection limit: residual over the local median, noise sigmas"
    )
    cosmic_sigfrac: float = Field(
        0.6, gt=0, le=1, description="a hit grows along its track through pixels as sharp as a hit, and "
        "takes its neighbours (charge spill), above cosmic_sigfrac * cosmic_sigma"
    )
    cosmic_objlim: float = Field(
        2.0, gt=0, description="residual / fine-structure contrast above which a sharp peak is a hit, "
        "not a blurred surface feature (L.A.Cosmic objlim)"
    )
    cosmic_psf_fwhm_px: float = Field(
        1.5, gt=0, description="narrowest optical PSF (FWHM, px): features at least this blurred are "
        "never taken for hits"
    )
    cosmic_niter: int = Field(4, ge=1, description="detection/repair iterations")
    crossframe: bool = Field(
        True, description="after registration, also flag hits that overlapping frames reveal: brighter "
        "than every other view of the same ground (drizzle's driz_cr); needs registration"
    )
    crossframe_sigma: float = Field(
        4.0, gt=0, description="cross-frame limit: excess over the other frames' prediction, noise sigmas "
        "of the difference (the pixel must also exceed cosmic_sigma over its own 3x3 median)"
    )
    crossframe_misregistration_px: float = Field(
        0.3, ge=0, description="registration error the cross-frame test allows for (px, times the "
        "prediction's local gradient)"
    )
    cold_pixels: bool | None = Field(
        None, description="also detect single-pixel negative outliers (dead pixels no flat caught); "
        "None: only when there is no master flat"
    )
    gain_e_per_dn: float | None = Field(
        None, gt=0, description="detector gain for the cosmic-ray noise model; None: noise model fitted to "
        "each frame"
    )
    read_noise_dn: float | None = Field(
        None, ge=0, description="read noise for the noise model; default: measured from the bias stack"
    )
    responsivity: float = Field(
        1.0, gt=0, description="DN/s per unit radiance (W m^-2 sr^-1 um^-1)"
    )
    solar_irradiance: float = Field(
        1.0, gt=0, description="solar spectral irradiance at 1 AU in the band (W m^-2 um^-1)"
    )
    output: Literal["dn_per_s", "radiance", "iof"] = Field(
        "iof", description="how far to calibrate: DN/s, radiance, or I/F (photometrically normalised)"
    )
    photometry: PhotometryConfig | None = Field(
        PhotometryConfig(), description="photometric normalisation of I/F; None disables it"
    )


class RegisterConfig(_Section):
    """Tie points (OpenCV, in map space) and bundle adjustment of camera pointing.

    Pixels (``_px``) are local-grid pixels for matching settings and frame pixels for
    adjustment settings; angles in degrees, lengths in metres.
    """

    enabled: bool = Field(True, description="False: frames keep their prior cameras")
    # -- overlap graph
    min_overlap_km2: float = Field(0.0, ge=0, description="ignore pairs whose footprints overlap less (km^2)")
    min_overlap_fraction: float = Field(
        0.02, ge=0, le=1, description="ignore pairs overlapping less than this fraction of the smaller footprint"
    )
    # -- matching
    detector: str = Field(
        "sift", description="feature detector, a key of pipeline.registration.DETECTORS (sift, orb, akaze)"
    )
    max_features: int = Field(4000, gt=0, description="keypoints detected per image of a pair")
    ratio: float = Field(0.8, gt=0, lt=1, description="Lowe ratio test: best/second-best descriptor distance")
    ransac_threshold_px: float = Field(1.5, gt=0, description="MAGSAC++ inlier threshold (local-grid pixels)")
    min_matches: int = Field(12, ge=4, description="fewer consistent matches than this: the pair has no tie points")
    max_matches_per_pair: int = Field(
        150, ge=4, description="most tie points kept per pair, spread evenly over the overlap"
    )
    subpixel: bool = Field(True, description="refine matches to sub-pixel by normalised cross-correlation")
    ncc_window_px: int = Field(21, ge=5, description="NCC template side (pixels, odd)")
    ncc_search_px: int = Field(3, ge=1, description="NCC search radius around the robust model's prediction (pixels)")
    min_ncc: float = Field(0.6, gt=-1, lt=1, description="weakest accepted NCC peak")
    match_resolution_factor: float = Field(
        1.0, gt=0, description="local matching grid pixel = this times the coarser frame's ground sample distance"
    )
    max_match_size_px: int = Field(
        2048, ge=64, description="coarsen the local matching grid so neither side exceeds this many pixels"
    )
    # -- tracks
    merge_radius_px: float = Field(
        1.0, ge=0, description="tie points of one frame closer than this (frame pixels) join one track"
    )
    track_tolerance_px: float = Field(
        2.0, gt=0, description="drop a track whose observations in one frame are farther apart than this"
    )
    # -- adjustment
    pointing_sigma_deg: float = Field(0.3, gt=0, description="prior sigma of each pointing angle (per axis)")
    position_sigma_m: float | None = Field(
        None, gt=0, description="solve camera positions too, with this prior sigma (m); None: positions fixed"
    )
    robust_loss: Literal["linear", "huber", "soft_l1", "cauchy", "arctan"] = Field(
        "huber", description="robust loss of the reprojection residuals (scipy least_squares names)"
    )
    tie_sigma_px: float | None = Field(
        0.5, gt=0, description="assumed precision of a tie-point measurement (frame pixels), weighting the "
        "residuals against the pointing priors; None: the robust estimate from the residuals (sharper relative "
        "fit, but then tiny systematic tie errors rather than the priors decide the network's weak common modes)"
    )
    robust_scale_px: float = Field(1.0, gt=0, description="residual (frame pixels) where the robust loss sets in")
    outlier_px: float = Field(
        3.0, gt=0, description="reject observations whose residual exceeds this (frame pixels), then solve again"
    )
    outlier_sigma: float = Field(
        10.0, gt=0, description="also reject residuals above this many robust tie sigmas (whichever threshold is lower)"
    )
    solver: Literal["schur", "scipy"] = Field(
        "schur", description="schur: Levenberg-Marquardt on the reduced camera system (exact steps); "
        "scipy: scipy.optimize.least_squares (trf, sparse Jacobian, LSMR steps)"
    )
    max_iterations: int = Field(5, ge=1, description="most solve / outlier-rejection rounds")
    max_nfev: int = Field(100, ge=1, description="most iterations (schur) or function evaluations (scipy) per solve")
    min_tie_points: int = Field(
        4, ge=1, description="a frame needs this many inlier observations to count as tied"
    )
    unmatched: Literal["keep", "exclude"] = Field(
        "keep", description="frames without tie points: keep their prior pointing, or exclude them from the mosaic"
    )
    linear_solver: Literal["auto", "cholmod", "splu", "pcg"] = Field(
        "auto", description="solver of the sparse reduced camera system (solver: schur): cholmod (sparse Cholesky, "
        "needs scikit-sparse), splu (scipy SuperLU), pcg (block-Jacobi conjugate gradients); auto: cholmod if "
        "installed, else splu"
    )
    points: Literal["surface", "free"] = Field(
        "surface", description="tie points held on the reference surface (2 unknowns each), or free 3D points "
        "(latitude, longitude, radius) with a radius prior"
    )
    point_radius_sigma_m: float = Field(
        100.0, gt=0, description="points: free with a DEM: prior sigma of each point's radius about the DEM (m), "
        "as ISIS jigsaw's POINT_RADIUS_SIGMA"
    )
    point_radius_sigma_sphere_m: float = Field(
        3000.0, gt=0, description="points: free without a DEM: prior sigma of each point's radius about the "
        "reference sphere (m)"
    )
    pointing_drift_sigma_deg: float = Field(
        0.05, gt=0, description="prior sigma of each higher pointing coefficient (deg at the image's start/end, "
        "normalised time +-1) for camera kinds whose correction varies in time (line-scan)"
    )
    position_drift_sigma_m: float | None = Field(
        None, gt=0, description="prior sigma of each higher position coefficient (m at normalised time +-1); "
        "None: position_sigma_m"
    )
    drift_sigma: float = Field(
        3.0, gt=0, description="warn of network drift when, without ground control, the corrections' RMS over the "
        "tied frames exceeds this many prior sigmas"
    )
    # -- absolute control
    reference_basemap: Path | None = Field(
        None, description="GeoTIFF basemap (any lunar CRS) to match frames against for ground control points"
    )
    basemap_band: int = Field(1, ge=1, description="band of the reference basemap (1-based)")

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str) -> str:
        from pipeline.registration.detectors import check_detector

        try:
            return check_detector(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("ncc_window_px")
    @classmethod
    def _odd_window(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"ncc_window_px must be odd, got {value}")
        return value


class MosaicConfig(_Section):
    """Output grid, orthorectification, equalisation, blending and the written products."""

    grid: str | None = Field(None, description="named grid from configs/grids.yaml")
    crs: str = Field(
        "farside_eqc",
        description="output CRS: preset (farside_eqc, farside_ortho, north_polar, south_polar), IAU code, "
        "WKT or PROJ string",
    )
    resolution_m: float | None = Field(
        None, gt=0, description="pixel size (m); default: median ground sample distance of the frames"
    )
    bounds: tuple[float, float, float, float] | None = Field(
        None, description="(xmin, ymin, xmax, ymax) in CRS metres; default: union of the frame footprints"
    )
    tile_size: int = Field(512, ge=64, description="output tile side (px): the unit of parallel work")
    halo: int | None = Field(
        None, ge=0, description="overlap (px) added around each tile; default: what the blend needs "
        "(0 for pointwise blends, the support radius for multiband)"
    )
    resampling: Literal["nearest", "bilinear", "cubic", "lanczos"] = Field(
        "bilinear", description="orthorectification kernel"
    )
    blend: str = Field(
        "feather", description="a key of pipeline.mosaicking.BLEND_METHODS: mean, feather, multiband, first"
    )
    multiband_levels: int = Field(
        5, ge=1, le=8, description="multiband: band-pass levels (coarsest Gaussian sigma 2**(levels-1) px)"
    )
    feather_max_px: float | None = Field(
        None, gt=0, description="feather: cap the edge-distance weights at this many frame pixels "
        "(default: weights grow to the frame centre)"
    )
    fill_gaps: bool = Field(
        True, description="where no frame has clean data, use a bilinear estimate renormalised over the "
        "clean pixels (the outer half of a frame's border pixels, next to masked pixels)"
    )
    priority: Literal["input", "emission", "incidence", "newest"] = Field(
        "input", description="preferred frame for blend 'first', top_index and ties: input order, "
        "smallest emission or incidence angle (per pixel), or newest"
    )
    equalize: bool = Field(True, description="fit a gain and offset per frame from the overlaps")
    equalize_adjust: Literal["gain_offset", "gain", "offset"] = Field(
        "gain_offset", description="what equalisation fits (ISIS equalizer ADJUST=BOTH/GAIN/OFFSET)"
    )
    equalize_reference: str | int = Field(
        "mean", description="'mean' (mean gain 1, mean offset 0), or the index or id of a frame kept as is"
    )
    equalize_resolution_factor: float = Field(
        4.0, ge=1, description="overlap statistics are taken on the output grid coarsened by this factor"
    )
    equalize_max_px: int = Field(
        4096, ge=64, description="coarsen further so the statistics grid is at most this many px a side"
    )
    equalize_min_pixels: int = Field(
        100, ge=1, description="ignore overlaps with fewer common valid pixels on the coarse grid"
    )
    extra_bands: list[Literal["count", "top_index", "incidence", "emission"]] = Field(
        default_factory=list, description="bands written after the mosaic: frames per pixel, index of "
        "the dominant frame, its incidence / emission angle (deg)"
    )
    dem: Path | None = Field(None, description="DEM GeoTIFF (lunar CRS) for orthorectification; default sphere")
    overviews: bool = Field(True, description="build internal overviews in the COG")
    overview_resampling: Literal["average", "nearest", "bilinear", "cubic", "mode"] = Field(
        "average", description="resampling of the COG overviews"
    )
    compress: Literal["deflate", "zstd", "lzw"] = Field(
        "deflate", description="COG compression (with the floating-point predictor)"
    )
    quicklook: bool = Field(True, description="write OUT.png beside the mosaic")
    quicklook_max_px: int = Field(1024, ge=16, description="longest side of the quicklook PNG")
    stac: bool = Field(True, description="write the STAC item OUT.stac.json beside the mosaic")

    @model_validator(mode="before")
    @classmethod
    def _default_halo(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("halo") is None:
            from pipeline.mosaicking.blend import multiband_radius

            levels = data.get("multiband_levels", 5)
            need = multiband_radius(int(levels)) if data.get("blend", "feather") == "multiband" else 0
            data = {**data, "halo": need}
        return data

    @field_validator("blend")
    @classmethod
    def _known_blend(cls, value: str) -> str:
        from pipeline.mosaicking.blend import BLEND_METHODS

        if value not in BLEND_METHODS:
            raise ValueError(f"unknown blend {value!r}; choose from {sorted(BLEND_METHODS)}")
        return value

    @model_validator(mode="after")
    def _halo_wide_enough(self) -> MosaicConfig:
        if self.blend == "multiband":
            from pipeline.mosaicking.blend import multiband_radius

            need = multiband_radius(self.multiband_levels)
            if self.halo < need:
                raise ValueError(
                    f"halo {self.halo} px is too narrow for multiband with {self.multiband_levels} levels "
                    f"(needs {need}); leave halo unset or lower multiband_levels"
                )
        return self


class SlurmConfig(_Section):
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


class RunConfig(_Section):
    """Execution: scheduler, work directory and determinism."""

    scheduler: str = Field("threads", description="synchronous, threads, processes, tcp://host:port, slurm, pbs")
    workers: int | None = Field(None, gt=0, description="threads/processes (local) or worker processes (distributed); default all cores")
    workdir: Path | None = Field(
        None, description="where stage products are cached for resume; default <output folder>/.farside-work"
    )
    seed: int = Field(0, description="seed of every random choice (feature matching, robust estimation)")
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
    """A Markdown table of every config key with its default and meaning (for the README)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, info, nested in _walk(Config):
        if nested is not None:
            continue
        default = info.get_default(call_default_factory=True)
        meaning = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{json_default(default)}` | {meaning} |")
    return "\n".join(rows)


def json_default(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "{...}"
    if isinstance(value, Path):
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


if __name__ == "__main__":  # pragma: no cover - `python -m pipeline.config` prints the reference
    import sys

    sys.stdout.write(reference_markdown() + "\n")
