"""Decompanding of 8-bit companded EDRs back to 12-bit DN.

LROC NAC
    The EDR label carries five linear segments ``LRO:XTERM`` (segment start in 12-bit DN),
    ``LRO:MTERM`` (slope) and ``LRO:BTERM`` (intercept): a 12-bit value ``x`` of segment
    ``k`` was stored as ``int(BTERM[k] + MTERM[k] * x)``. As ISIS ``lronac2isis`` does (LROC
    SOC spec, appendix B), a stored value below ``XTERM[0]`` is kept, any other is replaced
    by the middle of the range of 12-bit values that compand to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import UnreadableFrame

__all__ = ["lroc_nac_lut", "nac_decompand_table"]

MAX_INPUT_VALUE = 4095
"""Largest 12-bit DN (``lronac2isis`` ``MAX_INPUT_VALUE``)."""


def nac_decompand_table(xterm, mterm, bterm) -> np.ndarray:
    """Decompanding table of the LROC NAC, ``table[stored 8-bit value] = 12-bit DN``.

    Parameters
    ----------
    xterm, mterm, bterm : sequence of float
        ``LRO:XTERM``, ``LRO:MTERM``, ``LRO:BTERM`` of the EDR label (same length).

    Returns
    -------
    ndarray of float64, shape (256,)
        DN (may be a half-integer, the middle of the companded bin).
    """
    x = [float(v) for v in xterm]
    m = [float(v) for v in mterm]
    b = [float(v) for v in bterm]
    table = np.empty(256, np.float64)
    for dn in range(256):
        if dn < x[0]:
            table[dn] = dn
            continue
        segment = 1
        while segment < len(x) and (dn - b[segment - 1]) / m[segment - 1] >= x[segment]:
            segment += 1
        upper = (dn + 1 - b[segment - 1]) / m[segment - 1] - 1
        lower = (dn - b[segment - 1]) / m[segment - 1]
        if upper > MAX_INPUT_VALUE:
            upper = MAX_INPUT_VALUE
        elif segment < len(x) and upper >= x[segment] and int(b[segment] + m[segment] * upper) != dn:
            upper = x[segment] - 1
        lower = max(lower, x[segment - 1])
        table[dn] = (upper + lower) / 2.0
    return table


def _numbers(label: Any, key: str, where: Path) -> list[float]:
    value = label.get(key)
    if not isinstance(value, tuple):
        value = (value,)
    out = []
    for item in value:
        item = getattr(item, "value", item)
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise UnreadableFrame(where, f"LROC companding keyword {key} = {label.get(key)!r} is not a list of numbers")
        out.append(float(item))
    return out


def lroc_nac_lut(label: Any, where: Path) -> np.ndarray:
    """The 256-entry NAC decompanding table of an EDR label.

    Raises
    ------
    UnreadableFrame
        Missing or inconsistent ``LRO:XTERM/MTERM/BTERM`` (as ``lronac2isis`` refuses them).
    """
    x, m, b = (_numbers(label, k, where) for k in ("LRO:XTERM", "LRO:MTERM", "LRO:BTERM"))
    if not (len(x) == len(m) == len(b)) or not x:
        raise UnreadableFrame(where, "LROC decompanding terms LRO:XTERM/MTERM/BTERM differ in length")
    if any(v == 0 for v in m):
        raise UnreadableFrame(where, "LROC decompanding slope LRO:MTERM holds a zero")
    return nac_decompand_table(x, m, b)
