"""The observations a photometric fit needs, taken from registered frames on a coarse map grid.

Every frame's calibrated, *not yet normalised* I/F is anti-aliased and resampled onto a coarse
version of the output grid (:meth:`MapGrid.coarsened`) through its adjusted camera; each coarse
cell a frame sees gives one observation: the I/F, the incidence, emission and phase at the
cell's ground point (the frame's own viewing and lighting), the frame's index and the cell's
index. Cells seen by two or more frames tie the frames' brightness together; every cell
constrains how brightness varies with incidence inside a frame. The result feeds
:func:`~pipeline.calibration.photometric_fit.fit_photometry` directly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.frame import Frame
from pipeline.geometry.dem import Dem
from pipeline.geometry.grid import MapGrid
from pipeline.geometry.topography import camera_topographic_angles
from pipeline.geometry.warp import GroundGrid, orthorectify_coarse

log = logging.getLogger(__name__)

__all__ = ["MapObservations", "map_observations"]


@dataclass(frozen=True, eq=False)  # holds arrays
class MapObservations:
    """Observations of coarse map cells by frames (1-D arrays of equal length).

    ``iof`` (calibrated, not normalised), ``incidence``/``emission``/``phase`` (radians),
    ``frame`` (index into ``frame_ids``), ``cell`` (flat index into the coarse grid), and the
    coarse grid's pixel size ``resolution_m``.
    """

    iof: np.ndarray
    incidence: np.ndarray
    emission: np.ndarray
    phase: np.ndarray
    frame: np.ndarray
    cell: np.ndarray
    frame_ids: tuple[str, ...]
    resolution_m: float

    def __len__(self) -> int:
        return len(self.iof)

    @property
    def n_shared_cells(self) -> int:
        """Cells seen by at least two frames."""
        counts = np.bincount(self.cell) if len(self.cell) else np.zeros(0, int)
        return int(np.count_nonzero(counts >= 2))


def map_observations(
    frames: Sequence[Frame],
    cameras: Mapping[str, object],
    grid: MapGrid,
    *,
    factor: float = 4.0,
    max_px: int = 1024,
    dem: Dem | None = None,
    topographic: bool = False,
) -> MapObservations:
    """Observations of ``grid`` coarsened by ``factor`` (and further, so that neither side
    exceeds ``max_px``) by every frame that has pixels, a camera and a Sun position.

    Parameters
    ----------
    frames : sequence of Frame
        Calibrated frames, I/F not photometrically normalised (``data``, ``mask`` loaded).
    cameras : mapping of frame id to camera
        Registered cameras; a frame without one here keeps its own.
    grid : MapGrid
        The output grid.
    dem : Dem, optional
        Terrain for the cells' ground points; default the reference body.
    topographic : bool
        With a ``dem``: incidence and emission from its surface normal at each cell, the
        slopes taken over the cell's size
        (:func:`~pipeline.geometry.topography.camera_topographic_angles`).

    Returns
    -------
    MapObservations
    """
    factor = max(float(factor), max(grid.shape) / max_px, 1.0)
    coarse = grid.coarsened(factor)
    cols = coarse.shape[1]
    parts: list[tuple[np.ndarray, ...]] = []
    ids: list[str] = []
    for frame in frames:
        cam = cameras.get(frame.id) or frame.camera
        if cam is None or frame.data is None or cam.sun_position_m is None:
            continue
        view = orthorectify_coarse(frame.data, frame.mask, cam, coarse, grid.resolution, dem=dem)
        if view is None or not view[2].any():
            continue
        win, values, valid = view
        ground = GroundGrid.from_grid(coarse[win], dem, radii=cam.radii_m)
        if topographic and dem is not None:
            inc, emi, pha = camera_topographic_angles(cam, ground.xyz[valid], dem, coarse.resolution)
        else:
            inc, emi, pha = cam.illumination_angles(ground.xyz[valid])
        rows, cs = np.nonzero(valid)
        cell = (rows + win[0].start) * cols + (cs + win[1].start)
        parts.append((values[valid].astype(np.float64), inc, emi, pha, np.full(len(cell), len(ids)), cell))
        ids.append(frame.id)
    if not parts:
        empty = np.zeros(0)
        return MapObservations(empty, empty, empty, empty, np.zeros(0, int), np.zeros(0, int), (), coarse.resolution)
    stacked = [np.concatenate(col) for col in zip(*parts)]
    out = MapObservations(*stacked[:4], stacked[4].astype(int), stacked[5].astype(int), tuple(ids),
                          coarse.resolution)
    log.info("photometric observations: %d views of %d cells (%d shared) by %d frames at %.0f m",
             len(out), len(np.unique(out.cell)), out.n_shared_cells, len(ids), coarse.resolution)
    return out
