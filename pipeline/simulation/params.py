"""JSON round trip shared by the simulator's frozen parameter dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any, Self, TypeVar

P = TypeVar("P", bound="JsonParams")


class JsonParams:
    """Mixin for dataclasses of constants: ``to_dict`` / ``from_dict`` through JSON types."""

    def to_dict(self) -> dict[str, Any]:
        """The constants as a JSON-serialisable dict."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Constants from :meth:`to_dict` output (unknown keys ignored, lists back to tuples)."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})
