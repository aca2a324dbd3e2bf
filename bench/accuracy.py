"""Accuracy of a mosaic against the simulation truth.

Pure array metrics (tested on synthetic arrays) and :func:`mosaic_accuracy`, which applies
them to a written mosaic:

- geolocation offset: a grid of points of each frame projected to the output grid through
  the adjusted and the true camera; the displacement (output pixels) splits into the
  ``common`` offset (mean over all points of all frames: the network's absolute shift) and
  the ``frame_to_frame`` RMS (per-frame mean displacement minus the common one: what makes
  seams), plus the RMS/max over all points (incl. rotation/scale within frames);
- Pearson correlation of the mosaic with the true albedo sampled at the output pixel centres;
- seam ratio: RMS of the residual (mosaic minus a linear fit of the true albedo) within
  ``±band_px`` of the frames' edges over the RMS in the interiors (1 = invisible seams);
- coverage: percentage of the union of the true footprints that holds valid mosaic pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


# ----------------------------------------------------------------------------------------
# pure metrics
# ----------------------------------------------------------------------------------------
def offset_stats(displacement: np.ndarray) -> dict[str, float]:
    """Summarise point displacements.

    Parameters
    ----------
    displacement : ndarray of shape (F, P, 2)
        (row, col) displacement in output pixels of P points in each of F frames (NaN for
        points that could not be projected).

    Returns
    -------
    dict
        ``common_px`` (norm of the mean displacement), ``common_row_px``/``common_col_px``,
        ``frame_to_frame_rms_px`` (RMS norm of per-frame means minus the common mean),
        ``frame_to_frame_max_px``, ``relative_p90_px`` (90th percentile of the point
        displacements once the common mean is removed: the issue's "frame-to-frame
        misregistration"), ``rms_px`` and ``max_px`` over all points.
    """
    d = np.asarray(displacement, float)
    if d.ndim != 3 or d.shape[-1] != 2:
        raise ValueError(f"displacement must have shape (F, P, 2), got {d.shape}")
    common = np.nanmean(d.reshape(-1, 2), axis=0)
    per_frame = np.nanmean(d, axis=1)
    rel = np.linalg.norm(per_frame - common, axis=-1)
    norms = np.linalg.norm(d, axis=-1)
    return {
        "common_px": float(np.linalg.norm(common)),
        "common_row_px": float(common[0]),
        "common_col_px": float(common[1]),
        "frame_to_frame_rms_px": float(np.sqrt(np.nanmean(rel**2))),
        "frame_to_frame_max_px": float(np.nanmax(rel)),
        "relative_p90_px": float(np.nanpercentile(np.linalg.norm(d - common, axis=-1), 90)),
        "rms_px": float(np.sqrt(np.nanmean(norms**2))),
        "max_px": float(np.nanmax(norms)),
    }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two same-shaped arrays over the pixels finite in both."""
    a = np.asarray(a, float).ravel()
    b = np.asarray(b, float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def linear_residual(values: np.ndarray, reference: np.ndarray, fit_mask: np.ndarray | None = None) -> np.ndarray:
    """``values - (gain * reference + offset)``, gain and offset least-squares fitted over
    ``fit_mask`` (all finite pairs by default). Removes the photometric scale between a
    mosaic (I/F) and the true albedo."""
    v = np.asarray(values, float)
    r = np.asarray(reference, float)
    ok = np.isfinite(v) & np.isfinite(r)
    if fit_mask is not None:
        ok &= np.asarray(fit_mask, bool)
    if ok.sum() < 2:
        return np.full(v.shape, np.nan)
    gain, offset = np.polyfit(r[ok], v[ok], 1)
    return v - (gain * r + offset)


def seam_ratio(residual: np.ndarray, band: np.ndarray, interior: np.ndarray) -> float:
    """RMS of ``residual`` inside ``band`` over its RMS inside ``interior`` (NaN-aware)."""
    res = np.asarray(residual, float)
    b = res[np.asarray(band, bool) & np.isfinite(res)]
    i = res[np.asarray(interior, bool) & np.isfinite(res)]
    if b.size == 0 or i.size == 0:
        return float("nan")
    rms_i = np.sqrt(np.mean(i * i))
    return float(np.sqrt(np.mean(b * b)) / rms_i) if rms_i > 0 else float("nan")


def _cv_points(rows: np.ndarray, cols: np.ndarray, shift: int = 4) -> np.ndarray:
    """(row, col) pixel-corner coordinates to cv2 fixed-point (x, y) pixel-centre points."""
    pts = np.stack([np.asarray(cols) - 0.5, np.asarray(rows) - 0.5], axis=-1) * (1 << shift)
    return np.round(pts).astype(np.int32).reshape(-1, 1, 2)


def polygon_union(shape: tuple[int, int], polygons: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Bool mask of the pixels inside any polygon; each polygon is ``(rows, cols)`` of its
    vertices in (fractional, corner-origin) pixel coordinates."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    for rows, cols in polygons:
        cv2.fillPoly(mask, [_cv_points(rows, cols)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def edge_band(shape: tuple[int, int], polygons: list[tuple[np.ndarray, np.ndarray]], half_width: int = 3) -> np.ndarray:
    """Bool mask of the pixels within ``half_width`` pixels of any polygon's outline."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    for rows, cols in polygons:
        cv2.polylines(mask, [_cv_points(rows, cols)], True, 1, thickness=1, lineType=cv2.LINE_8, shift=4)
    if half_width > 0:
        k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half_width + 1, 2 * half_width + 1))
        mask = cv2.dilate(mask, k)
    return mask.astype(bool)


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    """Shrink a bool mask by ``px`` pixels (square structuring element)."""
    import cv2

    if px <= 0:
        return np.asarray(mask, bool)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * px + 1, 2 * px + 1))
    return cv2.erode(np.asarray(mask, np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def coverage_percent(valid: np.ndarray, footprint_union: np.ndarray) -> float:
    """Percentage of ``footprint_union`` pixels that are ``valid``."""
    u = np.asarray(footprint_union, bool)
    n = int(u.sum())
    return float(100.0 * (np.asarray(valid, bool) & u).sum() / n) if n else float("nan")


# ----------------------------------------------------------------------------------------
# geometry helpers
# ----------------------------------------------------------------------------------------
def project_frame_points(camera, grid, n: int = 9) -> np.ndarray:
    """(row, col) output-grid pixel coordinates, shape (n*n, 2), of an n x n grid of image
    points of a frame (pixel centres from the first to the last); NaN where off-body."""
    from pipeline.geometry.body import xyz_to_lonlat_deg

    lines, samples = camera.shape
    gl, gs = np.meshgrid(np.linspace(0.5, lines - 0.5, n), np.linspace(0.5, samples - 0.5, n), indexing="ij")
    xyz, hit = camera.image_to_ground_hit(gl.ravel(), gs.ravel())
    lon, lat = xyz_to_lonlat_deg(xyz)
    row, col = grid.xy_to_rowcol(*grid.lonlat_to_xy(lon, lat))
    out = np.stack([row, col], axis=-1).astype(float)
    out[~np.asarray(hit, bool)] = np.nan
    return out


def footprint_rowcol(camera, grid, n_per_edge: int = 32) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = camera.footprint_deg(n_per_edge)
    return grid.xy_to_rowcol(*grid.lonlat_to_xy(lon, lat))


def geolocation(cameras: dict[str, Any], true_cameras: dict[str, Any], grid, n: int = 9) -> dict[str, float]:
    """:func:`offset_stats` of ``cameras`` against ``true_cameras`` (common frame ids)."""
    ids = [k for k in cameras if k in true_cameras]
    if not ids:
        return {}
    disp = np.stack([project_frame_points(cameras[k], grid, n) - project_frame_points(true_cameras[k], grid, n)
                     for k in ids])
    return {**offset_stats(disp), "frames": len(ids)}


def _sample(mask: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    rr, cc = np.nonzero(mask)
    if rr.size > k:
        pick = rng.choice(rr.size, size=k, replace=False)
        rr, cc = rr[pick], cc[pick]
    return rr, cc


def mosaic_accuracy(mosaic_path: str | Path, truth, cameras: dict[str, Any], *, band_px: int = 3,
                    samples: int = 400_000, seed: int = 0) -> dict[str, Any]:
    """All metrics of the module docstring for one written mosaic.

    Parameters
    ----------
    mosaic_path : path
        The pipeline's GeoTIFF (band 1 = I/F; nodata/mask marks invalid pixels).
    truth : pipeline.simulation.Truth
    cameras : dict of frame id to FrameCamera
        The cameras the pipeline used (adjusted).
    samples : int
        Pixels at which the true albedo is evaluated per metric (it costs ~3 s per million).
    """
    import rasterio

    from pipeline.geometry.grid import MapGrid

    with rasterio.open(mosaic_path) as ds:
        img = ds.read(1).astype(np.float32)
        valid = ds.read_masks(1) > 0
        grid = MapGrid(ds.crs.to_wkt(), ds.transform, (ds.height, ds.width))
    valid &= np.isfinite(img)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"grid_shape": list(grid.shape), "resolution_m": grid.resolution,
                           "valid_pixels": int(valid.sum())}
    out["geolocation_adjusted"] = geolocation(cameras, truth.true_cameras, grid)
    out["geolocation_reported"] = geolocation(
        {k: v for k, v in truth.reported_cameras.items() if k in cameras}, truth.true_cameras, grid)

    def albedo_at(rr, cc):
        x, y = grid.transform * (cc + 0.5, rr + 0.5)
        lon, lat = grid.xy_to_lonlat(x, y)
        return truth.surface.albedo(np.radians(lon), np.radians(lat)).astype(float)

    rr, cc = _sample(valid, samples, rng)
    alb = albedo_at(rr, cc)
    out["pearson"] = pearson(img[rr, cc], alb)

    ids = [k for k in cameras if k in truth.true_cameras]
    adj_polys = [footprint_rowcol(cameras[k], grid) for k in ids]
    true_polys = [footprint_rowcol(truth.true_cameras[k], grid) for k in ids]
    inner = erode(valid, band_px + 1)  # keep the mosaic's own outer border out of both sets
    band = edge_band(grid.shape, adj_polys, band_px) & inner
    interior = inner & ~band
    br, bc = _sample(band, samples // 2, rng)
    ir, ic = _sample(interior, samples // 2, rng)
    b_alb, i_alb = albedo_at(br, bc), albedo_at(ir, ic)
    vals = np.concatenate([img[br, bc], img[ir, ic]]).astype(float)
    refs = np.concatenate([b_alb, i_alb])
    is_band = np.concatenate([np.ones(br.size, bool), np.zeros(ir.size, bool)])
    res = linear_residual(vals, refs, fit_mask=~is_band)
    out["seam_ratio"] = seam_ratio(res, is_band, ~is_band)
    out["residual_rms_interior"] = float(np.sqrt(np.nanmean(res[~is_band] ** 2))) if ir.size else float("nan")
    out["band_px"] = band_px
    union = polygon_union(grid.shape, true_polys)
    out["coverage_pct"] = coverage_percent(valid, union)
    out["footprint_union_pixels"] = int(union.sum())
    return out
