"""The base of every stage's parameter section (a pydantic model validated once at the edge).

Each stage package defines its own section in its ``params.py`` (e.g.
:class:`pipeline.calibration.params.CalibrationParams`); :mod:`pipeline.config` composes them
into the whole configuration. Sections are frozen and refuse unknown keys, so a typo in a YAML
file is reported instead of silently ignored. Units at this edge are the user's: degrees for
angles, metres, seconds; the science converts to radians inside.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

__all__ = ["Section", "check_choice"]


class Section(BaseModel):
    """A frozen parameter section that refuses unknown keys and non-finite numbers (NaN, inf)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def check_choice(value: str, choices: Iterable[str], what: str) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming them (for validators).

    >>> check_choice("feather", ["mean", "feather"], "blend")
    'feather'
    """
    known = sorted(choices)
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; choose from {known}")
    return value
