"""What the sections of one page share, computed once: the mosaic read decimated, its map
projection, footprint rings, coverage, the residual / overlap statistics, the seams of the
``top_index`` band and the misregistration per seam and per frame."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj.exceptions import ProjError

from .data import FrameRow, ReportData, as_1d, rms
from .maps import Coverage, MapProj, compute_coverage, footprint_rings
from .misregistration import Misregistration, misregistration
from .raster import Raster, read_raster
from .seammap import SeamMap, seam_map

log = logging.getLogger("pipeline.report")

__all__ = ["PageContext", "build_context"]


@dataclass(frozen=True, eq=False)  # holds arrays
class PageContext:
    """The derived state every section may use.

    Attributes
    ----------
    frames : list of FrameRow
        ``data.frames``.
    n_used, n_rejected : int
        Frames in / not in the mosaic.
    raster, proj : Raster, MapProj or None
        The mosaic read decimated and its projection; ``None`` when it cannot be read
        (``raster_error`` says why).
    rings, rings_used : list of (FrameRow, list of (x, y))
        Footprint rings in map metres (all frames / used frames).
    coverage : Coverage or None
    res_before, res_after : ndarray or None
        Residual lengths (px) before / after adjustment, finite only.
    rms_before, rms_after : float or None
        Their RMS, or the RMS of the per-frame residuals when no per-observation residuals
        were given.
    ovl_before, ovl_after : ndarray or None
        Overlap differences (I/F) before / after equalisation.
    total_s : float
        The run's total time: ``timings_s["total"]``, else the sum of the stages.
    seams : SeamMap or None
        Seams of the mosaic's ``top_index`` band (on ``raster.view``); ``None`` without it.
    index_to_id : dict of int to str
        ``top_index`` value -> frame id (from ``FrameRow.mosaic_index``).
    pixel_size_m : float or None
        Metres per map pixel of the misregistration numbers (``data.pixel_size_m``, else the
        mosaic's pixel size).
    misregistration : Misregistration or None
        Per seam and per frame offsets with ASP's verdict; ``None`` without tie observations
        or pixel size.
    """

    frames: list[FrameRow]
    n_used: int
    n_rejected: int
    raster: Raster | None
    proj: MapProj | None
    raster_error: str
    rings: list
    rings_used: list
    coverage: Coverage | None
    res_before: np.ndarray | None
    res_after: np.ndarray | None
    rms_before: float | None
    rms_after: float | None
    ovl_before: np.ndarray | None
    ovl_after: np.ndarray | None
    total_s: float
    seams: SeamMap | None = None
    index_to_id: dict[int, str] | None = None
    pixel_size_m: float | None = None
    misregistration: Misregistration | None = None

    @property
    def has_map(self) -> bool:
        """The mosaic was read and projected."""
        return self.raster is not None and self.proj is not None


def _open_mosaic(path: Path) -> tuple[Raster | None, MapProj | None, str]:
    """The mosaic and its projection, or ``(None, None, why)``: an unreadable or missing
    mosaic is reported in the page, not raised."""
    try:
        raster = read_raster(Path(path))
        return raster, MapProj(raster.crs_wkt, raster.bounds), ""
    except (OSError, ValueError, ProjError) as exc:  # rasterio IO errors are OSErrors; no CRS: ValueError
        log.warning("report: cannot read mosaic %s: %s", path, exc)
        return None, None, f"{type(exc).__name__}: {exc}"


def _residual_rms(data: ReportData, res_b, res_a) -> tuple[float | None, float | None]:
    """RMS before/after of the observations, else of the per-frame residuals."""
    if res_b is not None or res_a is not None:
        return rms(res_b), rms(res_a)
    pb = [f.residual_before_px for f in data.frames if f.residual_before_px is not None]
    pa = [f.residual_after_px for f in data.frames if f.residual_after_px is not None]
    return (rms(np.asarray(pb, float)) if pb else None, rms(np.asarray(pa, float)) if pa else None)


def build_context(data: ReportData) -> PageContext:
    """Read the mosaic named by ``data`` and compute what the sections share."""
    frames = list(data.frames)
    n_rej = sum(f.rejected for f in frames)
    raster, proj, error = _open_mosaic(data.mosaic_file or data.mosaic_path)
    rings = footprint_rings(frames, proj) if proj is not None else []
    rings_used = [(f, c) for f, c in rings if not f.rejected]
    cov = compute_coverage(raster, proj, rings_used) if raster is not None and proj is not None else None
    res_b, res_a = as_1d(data.residuals_before_px), as_1d(data.residuals_after_px)
    rms_b, rms_a = _residual_rms(data, res_b, res_a)
    total = data.timings_s.get("total", sum(float(v) for v in data.timings_s.values()))
    pixel = data.pixel_size_m or (raster.resolution[0] if raster is not None else None)
    obs = data.tie_observations
    return PageContext(
        frames=frames, n_used=len(frames) - n_rej, n_rejected=n_rej, raster=raster, proj=proj,
        raster_error=error, rings=rings, rings_used=rings_used, coverage=cov,
        res_before=res_b, res_after=res_a, rms_before=rms_b, rms_after=rms_a,
        ovl_before=as_1d(data.overlap_diff_before), ovl_after=as_1d(data.overlap_diff_after), total_s=total,
        seams=seam_map(raster.top_index) if raster is not None and raster.top_index is not None else None,
        index_to_id={int(f.mosaic_index): f.id for f in frames if f.mosaic_index is not None},
        pixel_size_m=pixel,
        misregistration=misregistration(obs, pixel) if obs is not None and len(obs) and pixel else None,
    )
