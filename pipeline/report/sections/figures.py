"""Figure blocks shared by several sections."""

from __future__ import annotations

import numpy as np

from ..markup import figure
from ..plots import hist_before_after


def before_after_histogram(before: np.ndarray | None, after: np.ndarray | None, xlabel: str, symmetric: bool,
                           alt: str, caption: str) -> list[str]:
    """``[figure]`` of the before/after histogram, or ``[]`` when both are empty."""
    if (before is None or not before.size) and (after is None or not after.size):
        return []
    return [figure(hist_before_after(before, after, xlabel, symmetric=symmetric), alt, caption)]
