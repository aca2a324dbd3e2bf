"""Parameters of the registration stage: the ``registration`` section of the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from pipeline.errors import ConfigError
from pipeline.parameters import Section
from pipeline.registration.detectors import check_detector

__all__ = ["RegistrationParams"]


class RegistrationParams(Section):
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
    matcher: Literal["area", "features"] = Field(
        "area", description="pair matcher, a key of pipeline.registration.pairs.MATCHERS: area (camera-guided "
        "area correlation in the frames' own pixels) or features (local ortho grid, detector + descriptors)"
    )
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
    relief_shading: bool = Field(
        True, description="area matcher through a DEM (mosaicking.dem): divide each frame by the shading the DEM's "
        "slopes predict (uniform albedo) before matching; shading seen from opposite sides biases tie points along "
        "the look direction (pipeline.registration.shading)"
    )
    dem_passes: int = Field(
        5, ge=1, description="area matcher through a DEM (mosaicking.dem): matching passes; each pass after the "
        "first predicts the pair maps and the shading with the cameras the previous pass adjusted (relief parallax "
        "and shading predicted at the right ground), and the adjustment starts again from the prior cameras; "
        "oblique views from opposite sides need 4-6 to settle (docs/registration.md); without a DEM one pass"
    )
    shading_lunar_lambert_l: float | None = Field(
        None, ge=0, le=1, description="relief_shading: the predicted shading's lunar-Lambert weight L; null: "
        "McEwen's lunar L(phase), which also stands for Hapke surfaces; a surface known to follow a constant L "
        "(e.g. the simulator's default 0.5): that L"
    )
    shading_psf_px: float = Field(
        0.5, ge=0, description="relief_shading: Gaussian PSF sigma (frame pixels) of the cameras, blurring the "
        "predicted shading as the optics blur the image"
    )
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
    linear_solver: Literal["auto", "cholmod", "splu", "pcg"] = Field(
        "auto", description="solver of the sparse reduced camera system (solver: schur): cholmod (sparse Cholesky, "
        "needs scikit-sparse), splu (scipy SuperLU), pcg (block-Jacobi conjugate gradients); auto: cholmod if "
        "installed, else splu"
    )
    points: Literal["auto", "surface", "free"] = Field(
        "auto", description="free 3D tie points (latitude, longitude, radius) with a radius prior, or points held on "
        "the reference surface (2 unknowns each; biased over relief); auto: free with a DEM, else free where the "
        "relief they find displaces them between views by more than relief_parallax_px, surface otherwise (which fixes "
        "the datum of a weak flat network)"
    )
    relief_parallax_px: float = Field(
        0.5, gt=0, description="points: auto without a DEM: keep free points when the relief they find moves them "
        "by more than this between views (p90, frame pixels)"
    )
    point_radius_sigma_m: float = Field(
        100.0, gt=0, description="points: free with a DEM: prior sigma of each point's radius about the DEM (m), "
        "as ISIS jigsaw's POINT_RADIUS_SIGMA; with only mosaicking.relief_base: of the network's mean radius about it"
    )
    point_radius_sigma_sphere_m: float = Field(
        3000.0, gt=0, description="points: free without a DEM: prior sigma (m) about the reference sphere of the "
        "radius of each point whose rays fix it worse than this (nearly parallel views), and of the network's mean "
        "radius"
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
    max_iterations: int = Field(5, ge=1, description="most solve / outlier-rejection rounds")
    max_nfev: int = Field(100, ge=1, description="most iterations (schur) or function evaluations (scipy) per solve")
    min_tie_points: int = Field(
        4, ge=1, description="a frame needs this many inlier observations to count as tied"
    )
    unmatched: Literal["keep", "exclude"] = Field(
        "keep", description="frames without tie points: keep their prior pointing, or exclude them from the mosaic"
    )
    # -- absolute control
    reference_basemap: Path | None = Field(
        None, description="GeoTIFF basemap (any lunar CRS) to match frames against for ground control points"
    )
    basemap_band: int = Field(1, ge=1, description="band of the reference basemap (1-based)")

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str) -> str:
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
