"""The photometry section: the law fitted to the overlaps, its parameters with their
uncertainties, the overlap residual before and after, and brightness against incidence."""

from __future__ import annotations

from ..context import PageContext
from ..data import ReportData
from ..markup import esc, figure, not_run, num, table
from ..plots_photometry import plot_brightness_incidence

__all__ = ["photometry_section"]


def _parameter_rows(summary: dict) -> str:
    rows = []
    for name, entry in summary.get("parameters", {}).items():
        value, stat, sys = (list(entry) + [None, None])[:3]
        unit = summary.get("units", {}).get(name, "")
        rows.append(f"<tr><td>{esc(name)}</td><td>{num(value, '.4f')}</td><td>± {num(stat, '.2g')}</td>"
                    f"<td>± {num(sys, '.2g')}</td><td>{esc(unit)}</td></tr>")
    return "".join(rows)


def _candidate_rows(summary: dict) -> str:
    rows = []
    for entry in summary.get("candidates", ()):
        label, bic, ok, misfit = (list(entry) + [None])[:4]
        rows.append(f"<tr><td>{esc(label)}</td><td>{num(bic, '.1f')}</td><td>{'yes' if ok else 'no'}</td>"
                    f"<td>{num(100 * misfit if misfit is not None else None, '.3f')}</td></tr>")
    return "".join(rows)


def photometry_section(data: ReportData, ctx: PageContext) -> str:
    """The fitted law, its parameters, residuals before/after and the incidence plot, or "not run"."""
    s = data.photometry
    if not s:
        return not_run("Photometric fit not run: calibration.photometry.model is not auto (or no frame has a "
                       "camera with a Sun position).")
    ok = bool(s.get("constrained"))
    rms_b, rms_a = s.get("overlap_rms", (None, None))
    sl_b, sl_a = s.get("incidence_slope_pct_per_10deg", (None, None))
    badge = '<span class="badge">fitted</span>' if ok else '<span class="badge other">McEwen fallback</span>'
    head = (f"<p>{badge} <b>{esc(s.get('model', ''))}</b>: {esc(s.get('message', ''))}</p>"
            f"<p>Overlap residual RMS <b>{num(100 * rms_b if rms_b is not None else None, '.2f')} % → "
            f"{num(100 * rms_a if rms_a is not None else None, '.2f')} %</b>; slope of normalised brightness "
            f"against incidence <b>{num(sl_b, '+.2f')} → {num(sl_a, '+.2f')} % per 10°</b>; "
            f"{num(s.get('observations'), 'd')} observations of {num(s.get('cells'), 'd')} cells"
            + (f"{'; topographic angles (DEM)' if s.get('topographic') else ''}.</p>"))
    parts = [head]
    if s.get("parameters"):
        parts.append(table("photometry-parameters", ("parameter", "value", "statistical (1σ)", "systematic bound",
                                                     "unit"), _parameter_rows(s)))
        parts.append(f"<p>The systematic bound is how far a relative brightness error of "
                     f"{num(100 * s.get('systematic', 0.0), '.2g')} % RMS common to many views (flat field, pointing) "
                     "could move a parameter if it lay along the law's own signature; a fitted law is preferred over "
                     "a simpler one only if it fits the overlaps better than such an error could.</p>")
    uri = plot_brightness_incidence(s.get("incidence_profile", {}))
    if uri:
        parts.append(figure(uri, "brightness against incidence",
                            "Normalised brightness of the overlapping observations relative to their ground cell's "
                            "mean, per incidence bin (grey bars: observations): before (McEwen's L(phase), no "
                            "equalisation) and after (the fitted law with the fitted gains and offsets). A flat "
                            "line at 0 means no brightness gradient is left."))
    if s.get("candidates"):
        parts.append(table("photometry-candidates", ("law tried", "BIC", "parameters determined",
                                                     "RMS misfit (%)"), _candidate_rows(s)))
    return "".join(parts)
