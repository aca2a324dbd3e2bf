"""The provenance section: inputs, configuration, versions, scheduler, other keys, and the
timings per stage."""

from __future__ import annotations

from typing import Any

from ..context import PageContext
from ..data import ReportData
from ..markup import dump_config, esc, kv_table, not_run, short

__all__ = ["provenance_section"]


def _inputs(inputs) -> str:
    """The inputs as a key/value table, open when there are at most 12."""
    items = inputs.items() if isinstance(inputs, dict) else enumerate(inputs, start=1)
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(short(v))}</td></tr>" for k, v in items)
    tag = "details open" if len(inputs) <= 12 else "details"
    return (f'<h3>Inputs</h3><{tag}><summary>{len(inputs)} input(s)</summary>'
            f'<table class="kv">{rows}</table></details>')


def _kv_or_text(title: str, value: Any) -> str:
    body = kv_table(value) if isinstance(value, dict) else f"<p>{esc(short(value))}</p>"
    return f"<h3>{title}</h3>" + body


def _provenance_parts(provenance: dict[str, Any]) -> list[str]:
    prov = dict(provenance or {})
    parts = []
    inputs = prov.pop("inputs", None)
    if inputs:
        parts.append(_inputs(inputs))
    cfg = prov.pop("config", None)
    if cfg is not None:
        kind, text = dump_config(cfg)
        parts.append(f"<h3>Configuration</h3><details><summary>show configuration ({kind})</summary>"
                     f"<pre>{esc(text)}</pre></details>")
    versions = prov.pop("versions", None)
    if versions:
        parts.append(_kv_or_text("Versions", versions))
    sched = prov.pop("scheduler", None)
    if sched is not None:
        body = kv_table(sched) if isinstance(sched, dict) else f"<p>{esc(sched)}</p>"
        parts.append("<h3>Scheduler</h3>" + body)
    if prov:
        parts.append("<h3>Other</h3>" + kv_table(prov))
    if not parts:
        parts.append(not_run("No provenance was recorded."))
    return parts


def _timings(timings_s: dict[str, float], total_t: float) -> str:
    """Seconds, share and a bar per stage, then the total."""
    if not timings_s:
        return "<h3>Timings per stage</h3>" + not_run("No timings were recorded.")
    stages = {k: float(v) for k, v in timings_s.items() if k != "total"}
    tmax = max([*stages.values(), 1e-9])
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td class='num'>{v:.2f} s</td>"
        f"<td class='num'>{100.0 * v / total_t if total_t > 0 else 0.0:.0f} %</td>"
        f"<td class='barcell'><div class='bar' style='width:{100.0 * v / tmax:.1f}%'></div></td></tr>"
        for k, v in stages.items()
    )
    rows += f"<tr><th>total</th><td class='num'><b>{total_t:.2f} s</b></td><td></td><td></td></tr>"
    return f'<h3>Timings per stage</h3><table class="timings" id="timings">{rows}</table>'


def provenance_section(data: ReportData, ctx: PageContext) -> str:
    """Everything needed to redo the run, then where its time went."""
    return "".join(_provenance_parts(data.provenance)) + _timings(data.timings_s, ctx.total_s)
