"""Mosaicking: equalise and blend calibrated frames onto a map grid, tile by tile.

Every piece is a pure function on numpy arrays (no dask here); the orchestrator lays out the
grid and tiles with :func:`grid_for_frames`, :func:`footprint_bbox_xy` and
:func:`frames_touching`, equalises once with :func:`equalize_frames`, then runs
:func:`mosaic_tile_frames` (a thin wrapper of :func:`mosaic_tile`) once per tile. The
frame -> map resampling itself is :mod:`pipeline.geometry.warp` (shared with the other stages).

Example (``frames``: calibrated :class:`~pipeline.frame.Frame` objects with cameras)::

    from pipeline.mosaicking import MosaickingParams, TileInput, grid_for_frames, mosaic_tile

    grid = grid_for_frames([f.camera for f in frames], "farside_eqc")
    cfg = MosaickingParams(blend="feather")
    for tile in grid.tiles(cfg.tile_size, cfg.halo):
        out = mosaic_tile([TileInput(f.data, f.mask, f.camera) for f in frames], grid[tile.outer], cfg)
        # out["mosaic"], out["valid"], out["count"], out["top_index"]: the tile's core
"""

from pipeline.geometry.mapbox import footprint_bbox_xy, world_bounds
from pipeline.mosaicking.blend import BLEND_METHODS, feather_weights, multiband_radius, required_halo
from pipeline.mosaicking.equalize import (
    Equalization,
    OverlapStats,
    equalize_frames,
    overlap_stats,
    solve_equalization,
)
from pipeline.mosaicking.layout import frames_touching, grid_for_frames
from pipeline.mosaicking.params import MosaickingParams
from pipeline.mosaicking.tile import EXTRA_BANDS, TileInput, mosaic_tile, mosaic_tile_frames

__all__ = [
    "BLEND_METHODS",
    "EXTRA_BANDS",
    "Equalization",
    "MosaickingParams",
    "OverlapStats",
    "TileInput",
    "equalize_frames",
    "feather_weights",
    "footprint_bbox_xy",
    "frames_touching",
    "grid_for_frames",
    "mosaic_tile",
    "mosaic_tile_frames",
    "multiband_radius",
    "overlap_stats",
    "required_halo",
    "solve_equalization",
    "world_bounds",
]
