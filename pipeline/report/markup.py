"""Small HTML building blocks of the QA page: escaping, number formatting, figures, tables.

Every value that comes from the data goes through :func:`esc`; numbers are formatted with
:func:`num`, which writes an en dash for ``None``/NaN so that missing values read as such.

Examples
--------
>>> num(0.12345, ".3f"), num(None), num(float("nan")), num(7.6, "d")
('0.123', '–', '–', '8')
>>> span((1.0, 2.5)), metres(12210.4), metres(0.0213)
('1.0–2.5', '12210', '0.021')
>>> esc("<b>")
'&lt;b&gt;'
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import yaml

from pipeline.io.paths import printable

__all__ = [
    "dump_config",
    "esc",
    "figure",
    "human_bytes",
    "img",
    "kv_table",
    "metres",
    "not_run",
    "num",
    "plain",
    "short",
    "span",
    "stat",
    "table",
    "triple",
]


def esc(value: Any) -> str:
    r"""``str(value)`` escaped for HTML text and attribute values (bytes of a non-UTF-8 file
    name as ``\xNN``, :func:`pipeline.io.paths.printable`)."""
    return html.escape(printable(value), quote=True)


def num(v: float | None, spec: str = ".3g") -> str:
    """A number formatted with ``spec`` (``"d"`` rounds first); ``–`` for ``None``/NaN."""
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return esc(v)
    if not math.isfinite(f):
        return "–" if math.isnan(f) else esc(f)
    if spec.endswith("d"):
        return format(round(f), spec)
    return format(f, spec)


def metres(v: float | None) -> str:
    """A distance in metres without exponent: ``12210``, ``3.14``, ``0.021``; ``–`` for ``None``/NaN."""
    if v is None or not math.isfinite(float(v)):
        return "–"
    v = float(v)
    return f"{v:.0f}" if abs(v) >= 100 else (f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}")


def triple(v, spec: str = ".3g") -> str:
    """A tuple of numbers as ``a, b, c``; ``–`` for ``None``."""
    if v is None:
        return "–"
    return ", ".join(num(x, spec) for x in v)


def span(v, spec: str = ".1f") -> str:
    """A ``(min, max)`` pair as ``min–max``; ``–`` for ``None``."""
    if v is None:
        return "–"
    lo, hi = v
    return f"{num(lo, spec)}–{num(hi, spec)}"


def img(uri: str, alt: str, cls: str = "") -> str:
    """An ``<img>`` of a data URI."""
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} src="{uri}" alt="{esc(alt)}">'


def figure(uri: str, alt: str, caption: str) -> str:
    """A ``<figure>`` with an image and a caption (``caption`` is HTML, already escaped)."""
    return f"<figure>{img(uri, alt)}<figcaption>{caption}</figcaption></figure>"


def not_run(what: str) -> str:
    """The grey "not run / not available" note of a section."""
    return f'<p class="notrun">{esc(what)}</p>'


def stat(key: str, value: str, bad: bool = False) -> str:
    """One summary tile; ``value`` is HTML, ``bad`` colours it red."""
    cls = "stat bad" if bad else "stat"
    return f'<div class="{cls}"><div class="k">{esc(key)}</div><div class="v">{value}</div></div>'


def table(table_id: str, head, rows: str) -> str:
    """A table with escaped column titles ``head`` and ``rows`` (``<tr>`` HTML), in a
    horizontally scrolling box."""
    ths = "".join(f"<th>{esc(h)}</th>" for h in head)
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr>{ths}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def kv_table(d: dict[str, Any]) -> str:
    """A two-column key/value table."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(short(v))}</td></tr>" for k, v in d.items())
    return f'<table class="kv">{rows}</table>'


def short(v: Any) -> str:
    """Containers as one line of JSON, anything else as ``str``."""
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(plain(v), default=str)
    return str(v)


def plain(v: Any) -> Any:
    """Recursively turn Paths, numpy scalars/arrays, tuples and dataclasses into YAML-able data."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "model_dump"):
        return plain(v.model_dump())
    return str(v)


def dump_config(cfg: Any) -> tuple[str, str]:
    """``("YAML", text)`` of a configuration (dict, pydantic model, ...)."""
    text = yaml.safe_dump(plain(cfg), sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "YAML", text


def human_bytes(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return str(n)
