"""One output tile: orthorectify the frames touching it, equalise, blend, crop the halo.

:func:`mosaic_tile` is the pure function the dask graph runs once per tile (the graph,
in ``pipeline.orchestration``, finds the frames touching each tile with
:func:`~pipeline.mosaicking.layout.frames_touching`). It works on the tile's *outer* grid
(core + halo) and returns only the core. Every step is either pointwise (orthorectification
through the camera, feather weights computed in each frame's own image space, equalisation,
mean/feather/first blending) or has a finite support no wider than the halo (multi-band
blending, see :func:`~pipeline.mosaicking.blend.multiband_radius`), so the same mosaic
computed with different tile sizes is identical to float rounding. Memory is bounded by
the outer tile size times the number of frames touching it (plus the frames' pixels).

:func:`mosaic_tile_frames` adapts it to the graph's inputs (``Frame`` objects, an
:class:`~pipeline.mosaicking.equalize.Equalization`, a ``Tile`` of the whole grid).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np

from pipeline.errors import ConfigError, MosaicError
from pipeline.geometry.grid import MapGrid, Tile
from pipeline.geometry.lattice import GroundLattice, lattice_coordinates
from pipeline.geometry.warp import GroundGrid, warp_frame
from pipeline.mosaicking.blend import BLEND_METHODS, feather_weights, required_halo, winner
from pipeline.mosaicking.params import MosaickingParams

log = logging.getLogger(__name__)

__all__ = ["EXTRA_BANDS", "TileInput", "mosaic_tile", "mosaic_tile_frames", "required_halo"]

EXTRA_BANDS = ("count", "top_index", "incidence", "emission")
"""Optional output bands besides the mosaic: frames per pixel, index of the frame with the
largest weight (the winner for ``first``), and its incidence / emission angle (degrees)."""


class TileInput(NamedTuple):
    """One frame as :func:`mosaic_tile` takes it (a plain 6-tuple works too).

    Attributes
    ----------
    image : ndarray of shape (lines, samples)
        Calibrated pixels (e.g. I/F).
    mask : ndarray of bool or None
        True where invalid.
    camera : FrameCamera
    gain, offset : float
        Equalisation: ``gain * image + offset``.
    weight : ndarray of float32 (lines, samples) or None
        Feather weights in image space; default :func:`feather_weights` of the mask.
    index : int or None
        Frame index recorded in ``top_index``; default the position in the list.
    time_s : float or None
        Acquisition time (any epoch, seconds) for ``priority="newest"``; default the
        camera's ``time_s``.
    """

    image: np.ndarray
    mask: np.ndarray | None
    camera: Any
    gain: float = 1.0
    offset: float = 0.0
    weight: np.ndarray | None = None
    index: int | None = None
    time_s: float | None = None


def _angle(camera, ground: GroundGrid, which: str) -> np.ndarray:
    """Emission or incidence angle (radians) at every ground point; NaN if not computable."""
    if camera.sun_position_m is None:
        return np.full(ground.shape, np.nan)
    incidence, emission, _ = camera.illumination_angles(ground.xyz)
    return emission if which == "emission" else incidence


def mosaic_tile(
    frames_in_tile: list,
    tile_grid: MapGrid,
    cfg,
    *,
    halo: int | None = None,
    dem=None,
    origin: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """Mosaic one tile: orthorectify, equalise and blend the frames that touch it.

    Parameters
    ----------
    frames_in_tile : list of TileInput or of 6-tuples
        ``(image, mask, camera, gain, offset, weight_image)`` per frame (see
        :class:`TileInput`), in input order.
    tile_grid : MapGrid
        The tile's **outer** grid (core plus ``halo`` pixels on every side):
        ``grid[tile.outer]``.
    cfg : MosaickingParams
        ``resampling``, ``blend``, ``multiband_levels``, ``priority``, ``feather_max_px``,
        ``fill_gaps``, ``extra_bands``, ``halo``.
    halo : int, optional
        Halo width (pixels) to crop; default ``cfg.halo``.
    dem : Dem, optional
        Terrain (e.g. ``Dem.from_file(cfg.dem)``); default the reference sphere.
    origin : (int, int), optional
        Row and column of ``tile_grid``'s first pixel in the whole output grid (``tile.outer``'s
        starts). Given, and on the sphere, each frame's image coordinates are projected on a
        lattice of every ``cfg.coordinate_step``-th whole-grid row and column and interpolated
        in between (:mod:`pipeline.geometry.lattice`); without it (or through ``dem``) every
        pixel is projected.

    Returns
    -------
    dict
        Arrays of the tile's core, shape ``(rows - 2 halo, cols - 2 halo)``:

        - ``mosaic``: float32, NaN where no frame has data;
        - ``valid``: bool;
        - ``count``: uint16, number of frames with data;
        - ``top_index``: int32, index of the frame with the largest blend weight (the
          winner for ``first``), -1 where none;
        - ``incidence`` / ``emission``: float32 degrees of that frame (NaN where none),
          only when listed in ``cfg.extra_bands``.

    Raises
    ------
    ConfigError
        Unknown blend method or priority, or a halo too narrow for the blend.
    """
    blend = cfg.blend
    if blend not in BLEND_METHODS:
        raise ConfigError(f"unknown blend {blend!r}; choose from {', '.join(BLEND_METHODS)}")
    h = int(cfg.halo if halo is None else halo)
    need = required_halo(blend, cfg.multiband_levels)
    if h < need:
        raise ConfigError(f"blend {blend!r} needs a halo of at least {need} px for tile-independent results, "
                          f"got {h}")
    rows, cols = tile_grid.shape
    if rows <= 2 * h or cols <= 2 * h:
        raise ValueError(f"tile grid {tile_grid.shape} is not larger than twice the halo {h}")
    core = (slice(h, rows - h), slice(h, cols - h))
    core_shape = (rows - 2 * h, cols - 2 * h)
    extra = [b for b in cfg.extra_bands if b in ("incidence", "emission")]
    priority_kind = cfg.priority
    inputs = [t if isinstance(t, TileInput) else TileInput(*t) for t in frames_in_tile]
    fill = cfg.fill_gaps
    lattice = None
    if inputs and origin is not None and dem is None and cfg.coordinate_step > 1:
        lattice = GroundLattice(tile_grid, origin, cfg.coordinate_step, radii=inputs[0].camera.radii_m)
    ground = None
    values, valid, spare, weights, prio, index, angles = [], [], [], [], [], [], {b: [] for b in extra}
    for pos, fr in enumerate(inputs):
        image = np.asarray(fr.image)
        coords = None if lattice is None else lattice_coordinates(fr.camera, lattice)
        if ground is None and (coords is None or priority_kind in ("emission", "incidence") or extra):
            ground = GroundGrid.from_grid(tile_grid, dem, radii=fr.camera.radii_m)
        mask = None if fr.mask is None else np.asarray(fr.mask, bool)
        weight = fr.weight
        if weight is None and blend in ("feather", "multiband"):
            bad = ~np.isfinite(image) if mask is None else (mask | ~np.isfinite(image))
            weight = feather_weights(bad, max_px=cfg.feather_max_px)
        ortho = warp_frame(image, mask, fr.camera, ground=ground, resampling=cfg.resampling,
                           extras=[weight] if weight is not None else [], fallback=fill, coords=coords)
        fb = ortho.fallback if fill else None
        if not ortho.valid.any() and (fb is None or not fb.any()):
            continue
        v = ortho.values
        usable = ortho.valid if fb is None else (ortho.valid | fb)
        if fr.gain != 1.0 or fr.offset != 0.0:
            v = np.where(usable, fr.gain * v + fr.offset, 0.0).astype(np.float32)
        values.append(v)
        valid.append(ortho.valid)
        spare.append(fb)
        weights.append(ortho.extras[0] if weight is not None else np.ones(ortho.valid.shape, np.float32))
        idx = pos if fr.index is None else int(fr.index)
        index.append(idx)
        if priority_kind == "input":
            prio.append(float(idx))
        elif priority_kind == "newest":
            t = fr.time_s if fr.time_s is not None else fr.camera.time_s
            prio.append(-float(t))
        else:
            a = _angle(fr.camera, ground, priority_kind)
            prio.append(np.where(np.isfinite(a), a, np.pi))
        for b in extra:
            angles[b].append(np.degrees(_angle(fr.camera, ground, b)).astype(np.float32))
    if fill and values:
        # second tier (frame edges, next to masked pixels) only where no frame is clean
        clean_somewhere = np.logical_or.reduce(valid)
        valid = [ok | (fb & ~clean_somewhere) for ok, fb in zip(valid, spare)]

    out: dict[str, np.ndarray] = {}
    if not values:
        out["mosaic"] = np.full(core_shape, np.nan, np.float32)
        out["valid"] = np.zeros(core_shape, bool)
        out["count"] = np.zeros(core_shape, np.uint16)
        out["top_index"] = np.full(core_shape, -1, np.int32)
        for b in extra:
            out[b] = np.full(core_shape, np.nan, np.float32)
        return out

    kwargs = {"levels": cfg.multiband_levels} if blend == "multiband" else {}
    use_w = weights if blend in ("feather", "multiband") else None
    mosaic, ok = BLEND_METHODS[blend](values, valid, use_w, prio, **kwargs)
    if blend in ("first", "mean"):
        top = winner(valid, prio, largest=False)
    else:
        # largest weight; ties to the preferred frame
        order = np.argsort([float(np.mean(p)) for p in prio], kind="stable")
        ts = winner([valid[k] for k in order], [weights[k] for k in order], largest=True)
        top = np.where(ts >= 0, order[np.clip(ts, 0, None)], -1)
    top = top[core]
    out["mosaic"] = np.where(ok, mosaic, np.nan).astype(np.float32)[core]
    out["valid"] = ok[core]
    out["count"] = np.sum(valid, axis=0).astype(np.uint16)[core]
    idx_arr = np.asarray(index, np.int32)
    out["top_index"] = np.where(top >= 0, idx_arr[np.clip(top, 0, None)], -1).astype(np.int32)
    for b in extra:
        stack = np.stack([a[core] for a in angles[b]])
        pick = np.take_along_axis(stack, np.clip(top, 0, None)[None], axis=0)[0]
        out[b] = np.where(top >= 0, pick, np.nan).astype(np.float32)
    return out


def mosaic_tile_frames(
    inputs: list,
    grid: MapGrid,
    tile: Tile,
    equalization=None,
    cfg: MosaickingParams | None = None,
    dem=None,
) -> dict[str, Any] | None:
    """:func:`mosaic_tile` for the graph: frames, a tile of the whole grid, equalisation.

    Parameters
    ----------
    inputs : list of (index, Frame, camera)
        The frames touching the tile (pixels loaded), their index in the run (stored in
        ``top_index``) and the camera to use (adjusted or as reported).
    grid : MapGrid
        The whole output grid.
    tile : Tile
        Which part of it (``tile.core`` plus ``tile.outer`` with the halo).
    equalization : Equalization, optional
        Per-frame gain and offset by frame id.
    cfg : MosaickingParams
    dem : Dem, optional

    Returns
    -------
    dict or None
        The arrays of :func:`mosaic_tile` plus ``core`` (the tile's slices of the whole
        grid, for :meth:`pipeline.io.geotiff.CogWriter.write_tile`); None when no frame
        has data in the tile.
    """
    halo = tile.inner[0].start
    if tile.inner[1].start != halo:
        raise MosaicError(f"tile {tile.index} has an uneven halo")
    frames_in_tile = []
    for idx, frame, camera in inputs:
        if frame.data is None:
            raise MosaicError(f"frame {frame.id}: pixels not loaded")
        gain, offset = (1.0, 0.0) if equalization is None else equalization.correction(frame.id)
        t = frame.meta.time_utc.timestamp() if frame.meta.time_utc else None
        frames_in_tile.append(TileInput(frame.data, frame.mask, camera or frame.camera, gain, offset, None, idx, t))
    product = mosaic_tile(frames_in_tile, grid[tile.outer], cfg or MosaickingParams(), halo=halo, dem=dem,
                          origin=(tile.outer[0].start, tile.outer[1].start))
    if not product["valid"].any():
        return None
    product["core"] = tile.core
    return product
