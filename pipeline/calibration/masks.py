"""Pixels that are not the surface, masked before calibration: scan borders, fiducials, fixed masks.

:func:`frame_marks` is what :func:`~pipeline.calibration.calibrate_frame` applies to every
light frame, first thing: the constant-valued scan border (:func:`~pipeline.calibration.film.scan_border`),
the fiducial marks of film scans (:func:`~pipeline.calibration.film.fiducial_marks`) and the
optional fixed mask of the frame's instrument (``calibration.masking.instruments``: a PNG
or polygons). Border, edge notches and fixed mask are masked: invalid from then on, so they
reach neither the tie points nor the mosaic. The thin reseau crosses are by default
*repaired* from their neighbours instead, like bad detector columns (ISIS ``remrx``
``ACTION=BILINEAR``): their values are gone, but a hole of the feature matcher's window
around each of them would leave too few tie points; they are flagged in ``Frame.repaired``
and masked too with ``calibration.mask_repaired: true`` (or ``masking.reseau: mask``).

Conventions: image coordinates are (line, sample) with the upper-left corner at (0, 0) and
the first pixel's centre at (0.5, 0.5); a pixel is inside a polygon when its centre is
(even-odd rule). Masks are bool, True = drop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from pipeline.calibration.film import fiducial_marks, scan_border
from pipeline.calibration.params import MaskingParams
from pipeline.errors import CalibrationError

log = logging.getLogger(__name__)

__all__ = ["FrameMarks", "frame_marks", "instrument_mask", "polygon_mask", "read_mask_png"]


@dataclass(frozen=True)
class FrameMarks:
    """What :func:`frame_marks` found on one frame (each a bool array of the frame's shape).

    Attributes
    ----------
    border, notches, crosses, fixed : ndarray of bool
        The scan border (with its margin), the edge notches and the reseau crosses (with
        theirs), the instrument's fixed mask.
    repair_crosses : bool
        The crosses are to be repaired from their neighbours (``calibration.masking.reseau:
        repair``) rather than masked.
    border_values : dict of str to float
        Border value of each side that has one.
    polarity : str or None
        Polarity of the fiducial marks found.
    """

    border: np.ndarray = field(repr=False)
    notches: np.ndarray = field(repr=False)
    crosses: np.ndarray = field(repr=False)
    fixed: np.ndarray = field(repr=False)
    repair_crosses: bool = True
    border_values: dict[str, float] = field(default_factory=dict)
    polarity: str | None = None

    @property
    def mask(self) -> np.ndarray:
        """The pixels to mask: border, notches, fixed mask, and the crosses unless repaired."""
        out = self.border | self.notches | self.fixed
        return out if self.repair_crosses else out | self.crosses

    @property
    def repair(self) -> np.ndarray:
        """The pixels to repair from their neighbours: the crosses, when so configured."""
        return self.crosses & ~self.mask if self.repair_crosses else np.zeros(self.crosses.shape, bool)

    def qa(self) -> dict[str, object]:
        """Pixel counts for the frame's QA: ``scan_border_pixels``, ``fiducial_pixels``
        (crosses and notches), ``reseau_pixels_repaired``, ``instrument_mask_pixels``."""
        return {"scan_border_pixels": int(self.border.sum()),
                "fiducial_pixels": int((self.notches | self.crosses).sum()),
                "reseau_pixels_repaired": int(self.repair.sum()),
                "instrument_mask_pixels": int(self.fixed.sum())}


def polygon_mask(shape: tuple[int, int], polygons: Sequence[Sequence[Sequence[float]]]) -> np.ndarray:
    """Pixels whose centre lies inside any of ``polygons`` (even-odd rule).

    Parameters
    ----------
    shape : (int, int)
        ``(lines, samples)`` of the frame.
    polygons : sequence of sequences of (line, sample)
        Vertices in image coordinates (first pixel centre at (0.5, 0.5)); closed implicitly.

    Returns
    -------
    ndarray of bool, shape ``shape``

    Examples
    --------
    >>> m = polygon_mask((6, 8), [[(0, 0), (0, 3), (2, 3), (2, 0)]])   # lines 0-1, samples 0-2
    >>> int(m.sum()), bool(m[1, 2]), bool(m[2, 0])
    (6, True, False)
    """
    lines, samples = int(shape[0]), int(shape[1])
    out = np.zeros((lines, samples), bool)
    for poly in polygons:
        v = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
        if len(v) < 3:
            continue
        l0, l1 = max(0, int(np.floor(v[:, 0].min()))), min(lines, int(np.ceil(v[:, 0].max())) + 1)
        s0, s1 = max(0, int(np.floor(v[:, 1].min()))), min(samples, int(np.ceil(v[:, 1].max())) + 1)
        if l0 >= l1 or s0 >= s1:
            continue
        ll = (np.arange(l0, l1) + 0.5)[:, None]
        ss = (np.arange(s0, s1) + 0.5)[None, :]
        inside = np.zeros((l1 - l0, s1 - s0), bool)
        for (la, sa), (lb, sb) in zip(v, np.roll(v, -1, axis=0)):
            if la == lb:
                continue
            crosses = (la > ll) != (lb > ll)  # the edge spans this line (half-open)
            s_at = sa + (ll - la) * (sb - sa) / (lb - la)
            inside ^= crosses & (ss < s_at)
        out[l0:l1, s0:s1] |= inside
    return out


@lru_cache(maxsize=16)
def _read_png(path: str, mtime_ns: int, size: int) -> np.ndarray:
    data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if data is None:
        raise CalibrationError(f"{path}: cannot read the instrument mask PNG; give a readable PNG "
                               "(non-zero = masked) in calibration.masking.instruments")
    mask = data != 0
    return mask.any(axis=2) if mask.ndim == 3 else mask


def read_mask_png(path: str | Path) -> np.ndarray:
    """A mask PNG as bool (any non-zero channel = masked), read once per file version.

    Raises
    ------
    CalibrationError
        The file is missing or not an image OpenCV can decode.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise CalibrationError(f"{p}: instrument mask not found ({exc.strerror}); fix the path in "
                               "calibration.masking.instruments") from None
    mask = _read_png(str(p), st.st_mtime_ns, st.st_size)
    mask.setflags(write=False)
    return mask


def instrument_mask(spec: str | Sequence, shape: tuple[int, int], where: str = "") -> np.ndarray:
    """The fixed mask ``spec`` (a PNG path, or a list of polygons) for a frame of ``shape``.

    Raises
    ------
    CalibrationError
        The PNG is unreadable or its size differs from the frame's (``where`` names the frame).
    """
    if isinstance(spec, (str, Path)):
        mask = read_mask_png(spec)
        if mask.shape != tuple(shape):
            raise CalibrationError(
                f"{spec}: instrument mask is {mask.shape[0]} x {mask.shape[1]} (lines x samples) "
                f"but {where or 'the frame'} "
                f"is {shape[0]} x {shape[1]}; give a mask of the frame's size in calibration.masking.instruments"
            )
        return np.array(mask)
    return polygon_mask(shape, spec)


def frame_marks(raw: np.ndarray, invalid: np.ndarray | None, *, film: bool, params: MaskingParams,
                instrument: str | None = None, where: str = "") -> FrameMarks:
    """The scan border, fiducial marks and fixed mask of one raw frame (see the module docstring).

    Parameters
    ----------
    raw : ndarray of shape (lines, samples)
        Raw pixel values (DN).
    invalid : ndarray of bool, optional
        Pixels already known to be invalid (reader mask, non-finite).
    film : bool
        The frame is a film scan (``FrameMeta.extra["film"]``, decided at ingest): fiducials
        are looked for when ``params.fiducials`` is ``film``.
    params : MaskingParams
        ``calibration.masking``.
    instrument : str, optional
        The frame's instrument; its entry of ``params.instruments`` (or the ``"*"`` entry)
        is the fixed mask.
    where : str
        The frame's file, for error messages.

    Returns
    -------
    FrameMarks

    Examples
    --------
    >>> img = np.pad(np.arange(1.0, 401.0).reshape(20, 20), 3)     # a 3-pixel black frame
    >>> m = frame_marks(img, None, film=True, params=MaskingParams(border_margin_px=0))
    >>> m.qa()
    {'scan_border_pixels': 276, 'fiducial_pixels': 0, 'reseau_pixels_repaired': 0, 'instrument_mask_pixels': 0}
    """
    shape = raw.shape
    none = np.zeros(shape, bool)
    border, values = none, {}
    if params.scan_border == "all" or (params.scan_border == "film" and film):
        # the margin is for a scanner's soft edge; other frames' constant edges (a fill, the
        # sky beyond the limb) end sharply, and a margin at the limb would cost foreshortened ground
        found = scan_border(raw, tolerance=params.border_tolerance_dn,
                            margin_px=params.border_margin_px if film else 0, max_fraction=params.border_max_fraction)
        border, values = found.mask, found.values
    notches = crosses = none
    polarity = None
    if params.fiducials == "all" or (params.fiducials == "film" and film):
        marks = fiducial_marks(
            raw, border, invalid, polarity=params.fiducial_polarity, line_width_px=params.fiducial_line_width_px,
            arm_px=params.fiducial_arm_px, notch_px=params.fiducial_notch_px, contrast=params.fiducial_contrast,
            spread=params.fiducial_spread, sigma=params.fiducial_sigma, margin_px=params.fiducial_margin_px,
        )
        notches, crosses, polarity = marks.notches, marks.crosses, marks.polarity
    spec = params.instruments.get(instrument) if instrument is not None else None
    if spec is None:
        spec = params.instruments.get("*")
    fixed = none if spec is None else instrument_mask(spec, shape, where)
    return FrameMarks(border=border, notches=notches, crosses=crosses, fixed=fixed,
                      repair_crosses=params.reseau == "repair", border_values=dict(values), polarity=polarity)
