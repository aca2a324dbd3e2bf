"""The registration section's account of the bundle adjustment: did it converge, why did it
stop, how far did the cameras move against their priors, did the network drift."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..markup import esc, num, table

__all__ = ["adjustment_html"]


def _motion_rows(motion: Mapping[str, Mapping[str, float]]) -> str:
    rows = []
    for fid, m in motion.items():
        bad = m.get("rotation_sigmas", 0.0) > 3.0 or m.get("position_sigmas", 0.0) > 3.0
        cls = ' class="bad"' if bad else ""
        rows.append(f"<tr{cls}><td>{esc(fid)}</td><td>{num(m.get('rotation_deg'), '.4f')}</td>"
                    f"<td>{num(m.get('rotation_sigmas'), '.2f')}</td><td>{num(m.get('position_m'), '.0f')}</td>"
                    f"<td>{num(m.get('position_sigmas'), '.2f')}</td></tr>")
    return "".join(rows)


def adjustment_html(adj: Mapping[str, Any] | None) -> str:
    """Convergence (converged or not, rounds, iterations, final cost, why it stopped, the
    linear solver) and the per-frame camera motion against the priors, with the drift
    verdict; empty when the adjustment did not run.

    ``adj`` keys: ``converged``, ``reason``, ``rounds``, ``iterations``, ``final_cost``,
    ``linear_solver``, ``drift``, ``rms_rotation_sigmas``, ``rms_position_sigmas``,
    ``absolute_control`` and ``motion`` (frame id -> ``rotation_deg``, ``rotation_sigmas``,
    ``position_m``, ``position_sigmas``).

    >>> html = adjustment_html({"converged": False, "reason": "round 5: max_nfev", "rounds": 5, "iterations": 100,
    ...                         "final_cost": 3.5, "linear_solver": "splu", "drift": True,
    ...                         "rms_rotation_sigmas": 4.2, "rms_position_sigmas": float("nan"), "motion": {}})
    >>> "did NOT converge" in html and "Network drift" in html
    True
    """
    if not adj or not adj.get("rounds"):
        reason = (adj or {}).get("reason", "not run")
        return f'<p class="notrun">Bundle adjustment not run: {esc(reason)}.</p>'
    ok = bool(adj.get("converged"))
    state = "<b>converged</b>" if ok else '<b style="color:var(--bad)">did NOT converge</b>'
    out = (f'<p id="convergence">The bundle adjustment {state} after {int(adj["rounds"])} solve / outlier-rejection '
           f"round(s) and {int(adj.get('iterations', 0))} iterations (final cost {num(adj.get('final_cost'), '.5g')}, "
           f"linear solver {esc(adj.get('linear_solver') or '–')}): {esc(adj.get('reason', ''))}.</p>")
    rot, pos = adj.get("rms_rotation_sigmas", math.nan), adj.get("rms_position_sigmas", math.nan)
    pos_txt = f", position {num(pos, '.2f')}" if pos is not None and math.isfinite(pos) else ""
    out += (f"<p>Camera corrections against their priors (RMS over the tied frames, in prior sigmas): rotation "
            f"{num(rot, '.2f')}{pos_txt}.</p>")
    notes = []
    if not ok:
        notes.append("The adjustment did not converge: the cameras may not be at their best; raise "
                     "registration.max_nfev or check the tie points.")
    if adj.get("drift"):
        notes.append("Network drift: the corrections are well beyond the priors and no ground control holds the "
                     "network: the absolute position is doubtful (add registration.reference_basemap, or check "
                     "pointing_sigma_deg / position_sigma_m).")
    if notes:
        out += '<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
    motion = adj.get("motion") or {}
    if motion:
        out += table("camera-motion", ["frame", "rotation (deg)", "rotation (prior σ)", "position (m)",
                                       "position (prior σ)"], _motion_rows(motion))
    return out
