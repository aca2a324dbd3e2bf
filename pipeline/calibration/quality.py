"""Light frames that lie quietly: pixels that cannot be a picture of the surface.

A frame whose valid pixels are all one value, or nearly all zero or saturated, would be
accepted by every reader and then, through equalisation, drag the whole mosaic's level
with it. :func:`frame_defect` names what is wrong; :func:`calibrate_frame
<pipeline.calibration.calibrate_frame>` refuses such a frame with that reason.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NEARLY_ALL", "frame_defect"]

NEARLY_ALL = 0.99
"""Fraction of the valid pixels above which a frame counts as all zero or all saturated."""


def frame_defect(data: np.ndarray, mask: np.ndarray | None = None, saturation_dn: float | None = None) -> str | None:
    """Why a raw light frame cannot be used, or None when it looks like a picture.

    Parameters
    ----------
    data : ndarray of shape (lines, samples)
        Raw pixel values (DN).
    mask : ndarray of bool, optional
        True = invalid.
    saturation_dn : float, optional
        DN at or above which a pixel is saturated.

    Returns
    -------
    str or None
        ``"no valid pixel"``, ``"every valid pixel is V"`` (constant), ``"P % of the valid
        pixels are 0"`` or ``"P % of the valid pixels are saturated (>= S DN)"`` when more
        than :data:`NEARLY_ALL` of them are; None otherwise.

    Examples
    --------
    >>> frame_defect(np.zeros((4, 4)))
    'every valid pixel is 0'
    >>> frame_defect(np.arange(16.0).reshape(4, 4)) is None
    True
    """
    data = np.asarray(data)
    valid = np.isfinite(data)
    if mask is not None:
        valid &= ~np.asarray(mask, bool)
    values = data[valid]
    if values.size == 0:
        return "no valid pixel"
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return f"every valid pixel is {lo:g}"
    zero = float(np.count_nonzero(values == 0)) / values.size
    if zero > NEARLY_ALL:
        return f"{100 * zero:.1f} % of the valid pixels are 0"
    if saturation_dn is not None:
        sat = float(np.count_nonzero(values >= saturation_dn)) / values.size
        if sat > NEARLY_ALL:
            return f"{100 * sat:.1f} % of the valid pixels are saturated (>= {saturation_dn:g} DN)"
    return None
