"""Accuracy over relief against the simulation truth (issue 19's targets).

- :func:`camera_misregistration`: pixel pairs that the *adjusted* cameras say show the same
  point of the TRUE surface, and how far apart they really are (the cameras alone, as if
  orthorectified through the truth DEM);
- :func:`mosaic_misregistration`: the pixel pairs the mosaic actually blends: every map
  pixel's ground on a given surface (the relief model, the sphere, a DEM) projected into each
  frame that sees it, measured on the true surface;
- :func:`relief_error`: the relief model against the truth DEM where tie points are dense
  (RMS, the common offset, the RMS once the offset is removed);
- :func:`overlap_sharpness`: local gradient energy of the mosaic in overlaps over that of
  the single frames it blends there (1: as sharp as one frame; misregistration blurs);
- :func:`pointing_errors_deg`: applied rotation correction plus the simulated pointing error,
  per frame and axis (zero for a perfect correction).

All distances are in frame pixels (misregistration) or metres (heights).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.ndimage import binary_erosion, gaussian_filter

from pipeline.geometry.warp import GroundGrid

__all__ = ["camera_misregistration", "mosaic_misregistration", "overlap_sharpness", "pointing_errors_deg",
           "relief_error", "summary"]


def summary(values: np.ndarray) -> dict[str, float]:
    """p50, p90 and max of the finite values (``n``: how many)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "max": float("nan")}
    return {"n": int(v.size), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
            "max": float(v.max())}


def camera_misregistration(truth, cameras, ids=None, n: int = 24) -> np.ndarray:
    """For every ordered pair of frames: an ``n x n`` lattice of A's pixels, their TRUE ground
    points (true camera, truth DEM), projected through the adjusted cameras of A and B; the
    returned values are how far apart those two pixels really are (A pixels,
    ``Truth.misregistration_px``), where B really sees the point."""
    ids = sorted(cameras) if ids is None else list(ids)
    out = []
    for a, b in itertools.permutations(ids, 2):
        cam = truth.true_cameras[a]
        ll, ss = np.meshgrid((np.arange(n) + 0.5) * cam.lines / n, (np.arange(n) + 0.5) * cam.samples / n,
                             indexing="ij")
        xyz, _ = truth.true_ground(a, ll, ss)
        _, _, seen = truth.true_correspondence(a, b, ll, ss)
        if seen.sum() < 10:
            continue
        la, sa = cameras[a].ground_to_image(xyz[seen])
        lb, sb = cameras[b].ground_to_image(xyz[seen])
        out.append(truth.misregistration_px(a, la, sa, b, lb, sb))
    return np.concatenate(out) if out else np.zeros(0)


def mosaic_misregistration(truth, cameras, grid, dem=None, factor: float = 4.0) -> np.ndarray:
    """For every pair of frames: the map pixels (``grid`` coarsened by ``factor``) both see,
    their ground on ``dem`` (None: the sphere) projected into both frames through the adjusted
    ``cameras``, and how far apart those pixels really are (first frame's pixels)."""
    ground = GroundGrid.from_grid(grid.coarsened(factor), dem)
    xyz = ground.xyz[ground.ok]
    proj = {}
    for fid, cam in cameras.items():
        line, sample = cam.ground_to_image(xyz)
        inside = (line > 0) & (line < cam.lines) & (sample > 0) & (sample < cam.samples) & cam.visible(xyz)
        proj[fid] = (line, sample, inside)
    out = []
    for a, b in itertools.combinations(sorted(cameras), 2):
        la, sa, ia = proj[a]
        lb, sb, ib = proj[b]
        both = ia & ib
        if both.sum() >= 10:
            out.append(truth.misregistration_px(a, la[both], sa[both], b, lb[both], sb[both]))
    return np.concatenate(out) if out else np.zeros(0)


def relief_error(model, truth_dem) -> dict[str, float]:
    """The model's posts against the truth DEM: over the dense posts (``model.dense``) the RMS
    error, the mean error (the network's vertical offset) and the RMS once it is removed;
    ``rms_all_m`` over every post the truth covers. Metres."""
    lon, lat = (np.radians(v) for v in model.grid.lonlat())
    err = model.heights_m - truth_dem.height_m(lon, lat)
    dense = model.dense & np.isfinite(err)
    e = err[dense]
    return {"posts": int(dense.sum()), "rms_m": float(np.sqrt(np.mean(e**2))), "offset_m": float(np.mean(e)),
            "relative_rms_m": float(np.std(e)), "rms_all_m": float(np.sqrt(np.nanmean(err**2)))}


def gradient_energy(image: np.ndarray, sigma_px: float = 1.0) -> np.ndarray:
    """``|grad I|^2`` of the image smoothed by a Gaussian of ``sigma_px`` (NaN stays NaN)."""
    img = gaussian_filter(np.nan_to_num(np.asarray(image, float)), sigma_px)
    gy, gx = np.gradient(img)
    out = gy**2 + gx**2
    out[~np.isfinite(image)] = np.nan
    return out


def overlap_sharpness(mosaic: np.ndarray, orthos, sigma_px: float = 1.0, edge_px: int = 4) -> dict[str, float]:
    """Local gradient energy of ``mosaic`` in the overlaps over the mean energy of the single
    frames there.

    Parameters
    ----------
    mosaic : ndarray (rows, cols)
        The mosaic's first band (NaN: no data).
    orthos : sequence of (values, valid)
        Each frame orthorectified alone onto the mosaic's grid (through the same surface, with
        its equalisation gain and offset).
    sigma_px, edge_px : float, int
        Smoothing of the gradient; pixels within ``edge_px`` of a frame's edge are left out.

    Returns
    -------
    dict
        ``ratio`` (1: the overlaps are as sharp as single frames) and ``pixels`` used.
    """
    energies, valids = [], []
    for values, valid in orthos:
        v = np.where(valid, values, np.nan)
        energies.append(np.where(valid, gradient_energy(v, sigma_px), 0.0))
        valids.append(binary_erosion(valid, iterations=edge_px))
    count = np.sum(valids, axis=0)
    single = np.sum(energies * np.asarray(valids, float), axis=0) / np.maximum(count, 1)
    em = gradient_energy(mosaic, sigma_px)
    overlap = (count >= 2) & np.isfinite(em)
    return {"ratio": float(np.sum(em[overlap]) / np.sum(single[overlap])), "pixels": int(overlap.sum())}


def pointing_errors_deg(truth, corrections) -> np.ndarray:
    """``(n_frames, 3)``: each tied frame's rotation correction plus its simulated pointing
    error (degrees, camera frame; zero when the correction undoes the error)."""
    return np.array([np.asarray(corrections[f].rotvec_deg) + np.asarray(truth.frames[f]["pointing_error_deg"])
                     for f in sorted(corrections)])
