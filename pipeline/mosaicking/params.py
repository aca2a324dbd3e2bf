"""Parameters of the mosaicking stage: the ``mosaicking`` section of the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.io.grids import named_grid
from pipeline.mosaicking.blend import BLEND_METHODS, required_halo
from pipeline.parameters import Section, check_choice

__all__ = ["MosaickingParams"]


class MosaickingParams(Section):
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
    bounds_lonlat: tuple[float, float, float, float] | None = Field(
        None, description="(west, south, east, north) in degrees, east-positive (east may exceed 180); "
        "instead of bounds"
    )
    like: Path | None = Field(
        None, description="existing map (GeoTIFF, cube) whose CRS, resolution and pixel lattice the mosaic "
        "snaps to"
    )
    tile_size: int = Field(512, ge=64, le=8192, description="output tile side (px): the unit of parallel work")
    max_output_pixels: int = Field(
        2_000_000_000, gt=0, description="refuse (before any work) an output grid of more pixels than this: "
        "the default, the far-side hemisphere at 100 m, is about 2 hours of mosaicking and 10 GB of "
        "temporary disk per band on 2 cores"
    )
    halo: int | None = Field(
        None, ge=0, description="overlap (px) added around each tile; default: what the blend needs "
        "(0 for pointwise blends, the support radius for multiband)"
    )
    resampling: Literal["nearest", "bilinear", "cubic", "lanczos"] = Field(
        "bilinear", description="orthorectification kernel"
    )
    coordinate_step: int = Field(
        8, ge=1, le=64, description="on the sphere, project each frame's image coordinates every this many "
        "output pixels and interpolate in between (at 8: 0.001 px off at nadir, 0.026 px at 43 deg off nadir; "
        "1: every pixel exactly); through a DEM every pixel is projected"
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
    dem: Path | None = Field(
        None, description="DEM for orthorectification (and the free tie points' radius prior): a GeoTIFF in any "
        "lunar CRS or an ISIS cube (radii or heights); given, it wins over the relief model"
    )
    relief: Literal["auto", "model", "sphere"] = Field(
        "auto", description="without a dem: orthorectify through a relief model built from the adjusted 3-D tie "
        "points (written as OUT.relief.tif), or onto the sphere; auto: the relief model when the adjustment kept free "
        "points (registration.points: auto found relief), else the sphere (OUT.relief.tif then holds the base surface)"
    )
    relief_post_m: float | None = Field(
        None, gt=0, description="relief model post spacing (m); default about one tie point per post over the "
        "mosaic, at least two output pixels"
    )
    relief_slope_change_deg: float = Field(
        5.0, gt=0, lt=90, description="relief model smoothness: sigma of the change of slope from one post to the next "
        "(deg)"
    )
    relief_prior_sigma_m: float = Field(
        3000.0, gt=0, description="relief model: sigma of every post about the base surface (plus the tie points' "
        "median offset from it), which decides where there are no tie points (m)"
    )
    relief_base: Path | None = Field(
        None, description="coarse DEM (GeoTIFF or ISIS cube, e.g. a global one) the relief model tends to where tie "
        "points are sparse; without a dem the free tie points' common level also follows it (to "
        "registration.point_radius_sigma_m), which a strip's own geometry fixes only weakly; default the sphere"
    )
    relief_min_points: int = Field(
        3, ge=1, description="tie points in a 3 x 3 block of relief posts that count as dense (the report's coverage)"
    )
    overviews: bool = Field(True, description="build internal overviews in the COG")
    overview_resampling: Literal["average", "nearest", "bilinear", "cubic", "mode"] = Field(
        "average", description="resampling of the COG overviews"
    )
    compress: Literal["deflate", "zstd", "lzw"] = Field(
        "deflate",
        description="COG compression (floating-point predictor; deflate and zstd at level 1: half the time of "
        "level 6 for ~2 % more bytes)",
    )
    quicklook: bool = Field(True, description="write OUT.png beside the mosaic")
    quicklook_max_px: int = Field(1024, ge=16, description="longest side of the quicklook PNG")
    stac: bool = Field(True, description="write the STAC item OUT.stac.json beside the mosaic")

    @model_validator(mode="before")
    @classmethod
    def _default_halo(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("halo") is None:
            need = required_halo(data.get("blend", "feather"), data.get("multiband_levels", 5))
            data = {**data, "halo": need}
        return data

    @field_validator("grid")
    @classmethod
    def _known_grid(cls, value: str | None) -> str | None:
        if value is not None:
            named_grid(value)  # ConfigError (a ValueError) listing the known grids
        return value

    @model_validator(mode="after")
    def _one_extent(self) -> MosaickingParams:
        if self.bounds is not None and self.bounds_lonlat is not None:
            raise ValueError("give bounds (CRS metres) or bounds_lonlat (degrees), not both")
        return self
    @field_validator("max_output_pixels", mode="before")
    @classmethod
    def _count_from_text(cls, value: Any) -> Any:
        # YAML reads 2e9 as a string: accept a whole number written that way
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return value
            if number.is_integer():
                return int(number)
        return value

    @field_validator("bounds")
    @classmethod
    def _ordered_bounds(cls, value: tuple[float, float, float, float] | None):
        if value is not None and not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError(f"bounds {list(value)} must be (xmin, ymin, xmax, ymax) with xmin < xmax and ymin < ymax")
        return value

    @field_validator("blend")
    @classmethod
    def _known_blend(cls, value: str) -> str:
        return check_choice(value, BLEND_METHODS, "blend")

    @model_validator(mode="after")
    def _halo_wide_enough(self) -> MosaickingParams:
        need = required_halo(self.blend, self.multiband_levels)
        if self.halo < need:
            raise ValueError(
                f"halo {self.halo} px is too narrow for multiband with {self.multiband_levels} levels "
                f"(needs {need}); leave halo unset or lower multiband_levels"
            )
        return self
