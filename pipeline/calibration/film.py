"""Film scans: the constant scan border and the fiducial marks, found in the image itself.

A scanned film frame (Apollo Metric/Panoramic, Lunar Orbiter, most archives' browse
products) carries pixels that are not the surface: the scanner's **border** around the
film, a band of one constant value along the frame edges (its width varies along each side
when the film sat skewed), and the **fiducial marks** of the camera, small marks much darker
or brighter than the scene: reseau crosses inside the frame and notches at the edges. Left
in, the border makes black notches along the mosaic's edge and the marks print as ghost
crosses and triangles. Both are found here from the pixels alone (pure functions on arrays,
no metadata):

- :func:`scan_border` / :func:`scan_border_mask`: per side, the run of pixels from the edge
  that equal the value most common on that side's outermost line (within
  ``tolerance``); a side whose outermost line is mostly that value has a border, whose width
  along the side is a straight line fitted robustly to the runs (a skewed scan); a band of
  median width under ``min_width_px``, or one that never ends, is image content. Each line
  keeps its own run where it agrees with the line (exact, jagged edges); where it does not
  (scene pixels that happen to equal the border value, a mark that cuts the border) it takes
  the fitted width if at least 90 % of the lines agree (a straight band), else its own run
  up to the fit (sky beyond the limb, a fill of any shape: never more than its own pixels);
  ``margin_px`` more pixels are masked for the scanner's soft edge.
- :func:`fiducial_marks` / :func:`fiducial_mask`: for each polarity (dark and bright
  marks), the pixels that stand out from a morphological background (grey closing) by at
  least ``contrast`` of the way from that background to the darkest (brightest) level of
  the frame and by ``sigma`` noise sigmas. Two shapes are kept: **crosses** -- thin features
  (no wider than ``line_width_px``) holding a horizontal and a vertical straight run of at
  least ``arm_px`` that cross -- and **edge notches** -- features narrower than ``notch_px``
  touching the scan border or the frame edge and filling most of their convex hull; each
  only if flat (the robust spread of its values at most ``spread`` of its depth: printed
  marks are flat, terrain is textured). ``polarity="auto"`` keeps the polarity that found
  more crosses (then notches). The kept marks grow by ``margin_px``.

Conventions: arrays are (line, sample); masks are bool with True = pixel to drop; widths
and sizes are in pixels; values in the image's own unit (DN).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from pipeline.imaging.stats import MAD_TO_SIGMA, noise_sigma

__all__ = [
    "SIDES",
    "FiducialMarks",
    "ScanBorder",
    "fiducial_marks",
    "fiducial_mask",
    "scan_border",
    "scan_border_mask",
]

SIDES = ("top", "bottom", "left", "right")
"""Frame sides, in the order :attr:`ScanBorder.widths_px` lists them."""

_EIGHT = np.ones((3, 3), bool)


@dataclass(frozen=True)
class ScanBorder:
    """A scan border found by :func:`scan_border`.

    Attributes
    ----------
    mask : ndarray of bool, shape (lines, samples)
        True on the border (and its margin).
    values : dict of str to float
        Border value of each side that has one (``top``, ``bottom``, ``left``, ``right``).
    widths_px : dict of str to (float, float)
        Fitted border width (pixels, without the margin) at the first and the last pixel of
        each side that has a border: ``top``/``bottom`` from the first to the last sample,
        ``left``/``right`` from the first to the last line (the simulator's ``border_px``).
    """

    mask: np.ndarray = field(repr=False)
    values: dict[str, float] = field(default_factory=dict)
    widths_px: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Whether any side has a border."""
        return bool(self.values)


@dataclass(frozen=True)
class FiducialMarks:
    """Fiducial marks found by :func:`fiducial_marks` (bool arrays of the frame's shape).

    Attributes
    ----------
    crosses : ndarray of bool
        Reseau crosses (thin: :func:`~pipeline.calibration.calibrate_frame` repairs them
        from their neighbours by default).
    notches : ndarray of bool
        Edge notches (masked with the scan border).
    polarity : str or None
        ``dark``, ``bright``, ``bright+dark`` or None (no mark found).
    """

    crosses: np.ndarray = field(repr=False)
    notches: np.ndarray = field(repr=False)
    polarity: str | None = None

    @property
    def mask(self) -> np.ndarray:
        """Crosses and notches."""
        return self.crosses | self.notches


def _side_view(a: np.ndarray, side: str) -> np.ndarray:
    """A view of ``a`` whose rows run from ``side``'s edge inward: shape (along, depth)."""
    return {"top": a.T, "bottom": a[::-1].T, "left": a, "right": a[:, ::-1]}[side]


def _mode(values: np.ndarray) -> tuple[float, float]:
    """Most common value of a 1-D array and the fraction of entries holding it."""
    uniq, counts = np.unique(values, return_counts=True)
    k = int(np.argmax(counts))
    return float(uniq[k]), counts[k] / values.size


def _robust_line(run: np.ndarray) -> tuple[np.ndarray, float]:
    """Straight line fitted to ``run`` (one value per position along a side), outliers
    rejected at 3 robust sigmas (at least 1.5 px): the fitted values and the sigma."""
    t = (np.arange(run.size) + 0.5) / run.size
    med = float(np.median(run))
    sig = max(MAD_TO_SIGMA * float(np.median(np.abs(run - med))), 0.5)
    keep = np.abs(run - med) <= max(3.0 * sig, 1.5)
    fit = np.full(run.size, med)
    for _ in range(6):
        if keep.sum() < 2:
            break
        coef = np.polyfit(t[keep], run[keep], 1)
        fit = np.polyval(coef, t)
        res = run - fit
        sig = max(MAD_TO_SIGMA * float(np.median(np.abs(res[keep]))), 0.5)
        new = np.abs(res) <= max(3.0 * sig, 1.5)
        if np.array_equal(new, keep):
            break
        keep = new
    return fit, sig


def scan_border(
    image: np.ndarray,
    *,
    tolerance: float = 0.0,
    margin_px: int = 1,
    max_fraction: float = 0.25,
    min_side_fraction: float = 0.5,
    min_width_px: int = 2,
) -> ScanBorder:
    """Find the constant-valued scan border along the edges of a frame.

    Parameters
    ----------
    image : ndarray of shape (lines, samples)
        Raw pixel values (DN; non-finite values count as border where they touch it).
    tolerance : float
        Largest difference (image unit) from a side's border value that still counts as
        border; 0 = exactly constant (the default: a scanner's black, film base, a fill value).
    margin_px : int
        Extra pixels masked inward of the border (the scanner's soft edge).
    max_fraction : float
        Deepest border searched, as a fraction of the frame size across that side.
    min_side_fraction : float
        A side has a border when at least this fraction of its outermost line holds the
        side's border value, ...
    min_width_px : int
        ... its median width is at least this, and it ends before ``max_fraction`` (an
        image of one value, or a constant first line, is not a border).

    Returns
    -------
    ScanBorder
        ``mask`` True on the border and its margin; ``values`` and ``widths_px`` for the
        sides that have one (nothing for a frame without a border).

    Examples
    --------
    >>> img = np.arange(400.0).reshape(20, 20)
    >>> img[:3], img[:, -2:] = 0.0, 7.0          # a 3-line top border, a 2-sample right one
    >>> b = scan_border(img, margin_px=0)
    >>> sorted(b.values.items()), int(b.mask.sum()), b.widths_px["top"]
    ([('right', 7.0), ('top', 0.0)], 94, (3.0, 3.0))
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"scan_border needs a 2-D image, got shape {img.shape}")
    finite = np.isfinite(img)
    mask = np.zeros(img.shape, bool)
    values: dict[str, float] = {}
    widths: dict[str, tuple[float, float]] = {}
    for side in SIDES:
        view, fin = _side_view(img, side), _side_view(finite, side)
        mview = _side_view(mask, side)  # a writable view into mask
        across = view.shape[1]
        depth = max(1, int(max_fraction * across))
        edge = view[:, 0][fin[:, 0]]
        if edge.size == 0:
            continue
        value, _ = _mode(edge)
        near = (np.abs(view[:, :depth] - value) <= tolerance) | ~fin[:, :depth]
        if near[:, 0].mean() < min_side_fraction:
            continue
        run = np.where(near.all(axis=1), depth, np.argmin(near, axis=1)).astype(float)
        typical = float(np.median(run))
        if typical < min_width_px or typical >= depth:
            continue  # a line of one value, or a side that never ends: image content, not a border
        fit, sig = _robust_line(run)
        fit = np.clip(fit, 0.0, depth)
        agree = np.abs(run - fit) <= max(3.0 * sig, 1.5)
        # a straight band (a scan border): lines that disagree take the fitted width; any other
        # shape of one value (sky beyond the limb, a fill): exactly its own pixels
        width = np.where(agree, run, fit) if agree.mean() >= 0.9 else np.minimum(run, fit + 1.5)
        width = np.where(agree, run, width)
        d = np.arange(across) + 0.5  # pixel centres from the edge
        mview |= d[None, :] <= width[:, None] + margin_px
        values[side] = value
        widths[side] = (round(float(fit[0]), 3), round(float(fit[-1]), 3))
    return ScanBorder(mask=mask, values=values, widths_px=widths)


def scan_border_mask(image: np.ndarray, **kwargs) -> np.ndarray:
    """The mask of :func:`scan_border` (same keywords): True on the scan border.

    Examples
    --------
    >>> img = np.pad(np.arange(1.0, 65.0).reshape(8, 8), 2)   # a 2-pixel black frame
    >>> int(scan_border_mask(img, margin_px=0).sum())
    80
    """
    return scan_border(image, **kwargs).mask


def _odd(n: float) -> int:
    n = max(3, round(n))
    return n if n % 2 else n + 1


def _thin_crosses(cand: np.ndarray, line_width_px: int, arm_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Components of ``cand`` (labels, and which to keep) holding a thin horizontal and a thin
    vertical straight run of ``arm_px`` that cross."""
    labels, n = ndimage.label(cand, structure=_EIGHT)
    keep = np.zeros(n + 1, bool)
    if n == 0:
        return labels, keep
    fat = ndimage.binary_opening(cand, structure=np.ones((line_width_px + 1, line_width_px + 1), bool))
    thin = cand & ~fat
    horiz = ndimage.binary_opening(thin, structure=np.ones((1, arm_px), bool))
    vert = ndimage.binary_opening(thin, structure=np.ones((arm_px, 1), bool))
    keep[np.unique(labels[horiz & vert])] = True
    keep[0] = False
    return labels, keep


def _edge_notches(cand: np.ndarray, edge: np.ndarray, notch_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Components of ``cand`` (labels, and which to keep) touching ``edge`` whose bounding box
    fits in ``notch_px``."""
    labels, n = ndimage.label(cand, structure=_EIGHT)
    keep = np.zeros(n + 1, bool)
    if n == 0:
        return labels, keep
    keep[np.unique(labels[edge & cand])] = True
    keep[0] = False
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        if keep[k] and box is not None:
            keep[k] = max(box[0].stop - box[0].start, box[1].stop - box[1].start) <= notch_px
    return labels, keep


def _group_median(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per integer group ``0 .. n-1`` (NaN for empty groups)."""
    order = np.lexsort((values, groups))
    v, g = values[order], groups[order]
    count = np.bincount(g, minlength=n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    out = np.full(n, np.nan)
    has = count > 0
    lo = start[has] + (count[has] - 1) // 2
    hi = start[has] + count[has] // 2
    out[has] = 0.5 * (v[lo] + v[hi])
    return out


def _uniform(labels: np.ndarray, keep: np.ndarray, x: np.ndarray, depth: np.ndarray, spread: float) -> np.ndarray:
    """Of the kept components, those whose values' robust spread (MAD sigma) is at most
    ``spread`` times their median depth below the background: printed marks are flat."""
    sel = keep[labels]
    if not sel.any():
        return sel
    index = np.flatnonzero(keep)
    lookup = np.zeros(keep.size, np.intp)
    lookup[index] = np.arange(index.size)
    g = lookup[labels[sel]]
    xs = x[sel]
    level = _group_median(xs, g, index.size)
    mad = _group_median(np.abs(xs - level[g]), g, index.size)
    deep = _group_median(depth[sel], g, index.size)
    ok = np.zeros(keep.size, bool)
    ok[index] = MAD_TO_SIGMA * mad <= spread * deep
    return ok[labels]


def _solid(labels: np.ndarray, keep: np.ndarray, solidity: float) -> np.ndarray:
    """``keep`` with the components whose pixels fill less than ``solidity`` of their convex
    hull (lattice count, Pick's theorem) dropped: notches are triangles or rectangles."""
    keep = keep.copy()
    boxes = ndimage.find_objects(labels)
    for k in np.flatnonzero(keep):
        box = boxes[k - 1]
        pts = np.argwhere(labels[box] == k)[:, ::-1].astype(np.int32)
        if len(pts) < 3:
            continue
        hull = cv2.convexHull(pts)
        lattice = cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True) + 1.0
        keep[k] = len(pts) >= solidity * lattice
    return keep


def _marks(x, ignore, edge, min_depth, contrast, spread, cross, notch_px):
    """Marks dark in ``x``: ([crosses, notches], [number of crosses, number of notches])."""
    good = x[~ignore]
    darkest, brightest = float(np.percentile(good, 0.1)), float(good.max())
    filled = np.where(ignore, brightest, x)  # ignored pixels never look like a mark
    out, counts = [], []
    for size in (cross[0], notch_px):
        background = ndimage.grey_closing(filled, size=(size, size), mode="constant", cval=brightest)
        depth = background - filled
        cand = ~ignore & (depth > min_depth) & (depth >= contrast * (background - darkest))
        if size == cross[0]:
            labels, keep = _thin_crosses(cand, cross[1], cross[2])
        else:
            labels, keep = _edge_notches(cand, edge, notch_px)
            keep = _solid(labels, keep, 0.8)
        marks = _uniform(labels, keep, x, depth, spread)
        counts.append(len(np.unique(labels[marks])))
        out.append(marks)
    return out, counts


def fiducial_marks(
    image: np.ndarray,
    border: np.ndarray | None = None,
    invalid: np.ndarray | None = None,
    *,
    polarity: str = "auto",
    line_width_px: int = 3,
    arm_px: int = 5,
    notch_px: int | None = None,
    contrast: float = 0.7,
    spread: float = 0.15,
    sigma: float = 6.0,
    margin_px: int = 1,
) -> FiducialMarks:
    """Find fiducial marks: reseau crosses and edge notches much darker or brighter than the scene.

    Parameters
    ----------
    image : ndarray of shape (lines, samples)
        Raw pixel values (DN).
    border : ndarray of bool, optional
        The scan border (:func:`scan_border_mask`): never a mark, and where edge notches
        attach (as does the frame edge).
    invalid : ndarray of bool, optional
        Other pixels to ignore (masked by the reader, saturated).
    polarity : {"auto", "both", "dark", "bright"}
        Which marks to look for; ``auto``: both, then keep the polarity that found more
        crosses (then more notches) -- a camera's marks have one polarity.
    line_width_px : int
        Widest cross arm (px); features wider than this are not crosses.
    arm_px : int
        Shortest straight arm (px) of a cross, horizontal and vertical.
    notch_px : int, optional
        Widest edge notch (px); default 12 % of the frame's smaller side.
    contrast : float
        A mark pixel is at least this fraction of the way from its local background to the
        darkest (brightest) level of the frame (its 0.1 % percentile).
    spread : float
        A mark is flat: the robust spread (MAD sigma) of its values is at most this fraction
        of its median depth below the background (terrain is textured).
    sigma : float
        ... and differs from the background by more than this many noise sigmas.
    margin_px : int
        The marks found grow by this many pixels (their soft edges).

    Returns
    -------
    FiducialMarks
        ``crosses`` and ``notches`` (each grown by ``margin_px``, never on ``border``) and
        the polarity kept.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = 100 + rng.normal(0, 2, (64, 64))
    >>> img[30, 22:39] = img[22:39, 30] = 5.0            # a dark reseau cross
    >>> img[:6, 28:33] = 5.0                             # a dark notch at the top edge
    >>> m = fiducial_marks(img, margin_px=0)
    >>> int(m.crosses.sum()), int(m.notches.sum()), m.polarity
    (33, 30, 'dark')
    >>> bool(m.crosses[30, 22:39].all() and m.crosses[22:39, 30].all() and m.notches[:6, 28:33].all())
    True
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"fiducial_mask needs a 2-D image, got shape {img.shape}")
    if polarity not in ("auto", "both", "dark", "bright"):
        raise ValueError(f"polarity must be 'auto', 'both', 'dark' or 'bright', got {polarity!r}")
    border = np.zeros(img.shape, bool) if border is None else np.asarray(border, bool)
    ignore = border | ~np.isfinite(img)
    if invalid is not None:
        ignore = ignore | np.asarray(invalid, bool)
    none = np.zeros(img.shape, bool)
    if (~ignore).sum() < 64:
        return FiducialMarks(none, none, None)
    noise = noise_sigma(img, ignore)
    noise = noise if np.isfinite(noise) else 0.0
    k = 2 * int(line_width_px) + 1
    notch = _odd(notch_px if notch_px is not None else 0.12 * min(img.shape))
    ring = np.zeros(img.shape, bool)
    ring[0], ring[-1], ring[:, 0], ring[:, -1] = True, True, True, True
    edge = ndimage.binary_dilation(border | ring, _EIGHT, iterations=2)
    found = {}
    for name, sign in (("dark", 1.0), ("bright", -1.0)):
        if polarity in (name, "both", "auto"):
            found[name] = _marks(sign * img, ignore, edge, sigma * noise, contrast, spread,
                                 (k, int(line_width_px), int(arm_px)), notch)
    if polarity == "auto":
        # a camera's marks have one polarity: keep the one with more crosses (then notches)
        score = {name: tuple(counts) for name, (_, counts) in found.items()}
        best = max(score, key=score.get)
        found = {best: found[best]} if score[best] != (0, 0) and len(set(score.values())) > 1 else found
    crosses, notches = none.copy(), none.copy()
    for (c, n), _ in found.values():
        crosses |= c
        notches |= n
    if margin_px > 0:
        grow = {"structure": _EIGHT, "iterations": int(margin_px)}
        crosses = ndimage.binary_dilation(crosses, **grow) if crosses.any() else crosses
        notches = ndimage.binary_dilation(notches, **grow) if notches.any() else notches
    kept = "+".join(sorted(name for name, ((c, n), _) in found.items() if c.any() or n.any())) or None
    return FiducialMarks(crosses & ~border, notches & ~border & ~crosses, kept)


def fiducial_mask(image: np.ndarray, border: np.ndarray | None = None, invalid: np.ndarray | None = None,
                  **kwargs) -> np.ndarray:
    """The union of :func:`fiducial_marks` (same arguments): True on any fiducial mark.

    Examples
    --------
    >>> img = np.full((48, 48), 120.0) + np.random.default_rng(1).normal(0, 2, (48, 48))
    >>> img[20, 12:29] = img[12:29, 20] = 250.0          # a bright reseau cross
    >>> int(fiducial_mask(img, margin_px=0).sum())
    33
    """
    return fiducial_marks(image, border, invalid, **kwargs).mask
