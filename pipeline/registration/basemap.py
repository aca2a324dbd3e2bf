"""Absolute control: ground control points from a reference basemap.

Tie points only fix frames relative to each other; the network's common rotation is
known only as well as the pointing priors (``s / sqrt(N)``). Matching each frame against
a georeferenced basemap (e.g. an LROC WAC global mosaic; any GeoTIFF in a lunar CRS:
geographic, equirectangular, polar stereographic, ...) gives **ground control points**
whose ground coordinates are fixed in the adjustment.

For one frame:

1. a local Lambert azimuthal equal-area grid over the frame's footprint (plus a margin
   for the pointing uncertainty) at the frame's ground sample distance (or the basemap's
   pixel size, whichever is coarser);
2. the basemap window covering it is read with rasterio and warped onto that grid
   (``rasterio.warp.reproject``; Moon to Moon, never through an Earth CRS); the frame is
   orthorectified onto the same grid with its current camera;
3. the two images are matched like a frame pair (:func:`match_images`);
4. a match ``(frame-ortho position a, basemap position b)`` becomes a control point: the
   frame's image coordinates of the ground under ``a`` (camera ``ground_to_image``) and
   the fixed ground coordinates under ``b``.
"""

from __future__ import annotations

import logging
import math
import zlib
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError, GeometryError, RegistrationError
from pipeline.io.grids import read_basemap_on_grid
from pipeline.registration.bundle import GroundControl
from pipeline.registration.features import match_images
from pipeline.registration.pairs import (
    _orthorectify,
    _usable,
    grid_to_ground,
    local_grid,
    pair_seed,
)

log = logging.getLogger(__name__)

__all__ = ["match_basemap"]


def match_basemap(frame, cfg, seed: int = 0, basemap: str | Path | None = None) -> GroundControl | None:
    """Ground control points of one frame from the reference basemap.

    Parameters
    ----------
    frame : Frame
        Pixels loaded and a camera.
    cfg : RegistrationParams
        Matching settings, ``reference_basemap`` and ``basemap_band``.
    seed : int
        Run seed (a per-frame seed is derived from it).
    basemap : str or Path, optional
        Overrides ``cfg.reference_basemap``.

    Returns
    -------
    GroundControl or None
        None when the frame does not match the basemap (logged with the reason).

    Raises
    ------
    ConfigError
        No basemap configured, or it cannot be used (not lunar, unreadable).
    """
    path = basemap if basemap is not None else cfg.reference_basemap
    if path is None:
        raise ConfigError("no reference basemap configured (registration.reference_basemap)")
    cam = frame.camera
    if cam is None or frame.data is None:
        return None
    try:
        return _match_basemap(frame, cfg, seed, path)
    except GeometryError as exc:
        log.warning("frame %s: no basemap control (%s)", frame.id, exc)
        return None


def _match_basemap(frame, cfg, seed: int, path) -> GroundControl | None:
    cam = frame.camera
    alt = float(np.linalg.norm(cam.position_m)) - cam.radii_m[0]
    gsd = cam.gsd_m()
    margin = alt * math.tan(math.radians(3 * cfg.pointing_sigma_deg)) + gsd * (cfg.ncc_window_px + cfg.ncc_search_px)
    grid = local_grid(cam, cam, resolution_factor=cfg.match_resolution_factor, margin_m=margin,
                      max_size_px=cfg.max_match_size_px)
    if grid is None:
        return None
    ref, ref_valid = read_basemap_on_grid(path, grid, cfg.basemap_band)
    if ref_valid.sum() < cfg.ncc_window_px**2 * 4:
        log.info("frame %s: outside the reference basemap", frame.id)
        return None
    ortho, valid = _orthorectify(frame, cam, grid)
    seed_f = pair_seed(seed, zlib.crc32(str(frame.id).encode()) & 0x7FFFFFFF, 0x7FFFFFFF)
    m = match_images(ortho, ref, valid, ref_valid, cfg, seed=seed_f)
    if not len(m):
        log.info("frame %s: no control from the basemap (%s)", frame.id, m.reason)
        return None
    xyz_img = grid_to_ground(grid, m.pts_a, cam.radii_m)
    xyz_ref = grid_to_ground(grid, m.pts_b, cam.radii_m)
    line, sample = cam.ground_to_image(xyz_img)
    ok = _usable(frame, line, sample)
    if ok.sum() < cfg.min_matches:
        return None
    if not np.all(np.isfinite(xyz_ref[ok])):
        raise RegistrationError(f"frame {frame.id}: non-finite basemap ground coordinates")
    log.info("frame %s: %d control points from %s", frame.id, int(ok.sum()), Path(path).name)
    return GroundControl(frame.id, np.stack([line[ok], sample[ok]], 1), xyz_ref[ok], str(path))
