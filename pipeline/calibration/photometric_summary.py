"""A photometric fit as plain data for the run's product and the QA report (degrees at the edge)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.calibration.photometric_fit import PhotometricFit

__all__ = ["photometry_report"]


def _name(fit: PhotometricFit, k: int) -> tuple[str, str, float]:
    """Display name, unit and scale (to the unit) of parameter ``k``."""
    name = fit.parameter_names[k]
    if fit.model == "lunar_lambert":
        if len(fit.parameter_names) == 1:
            return "L (constant)", "", 1.0
        return f"L at phase {np.degrees(fit.law.nodes[k]):.1f}°", "", 1.0
    if name == "theta":
        return "theta (mean slope)", "deg", float(np.degrees(1.0))
    return name, "", 1.0


def _floats(a: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(a, dtype=np.float64)]


def photometry_report(fit: PhotometricFit) -> dict[str, Any]:
    """What the run and its report say about a fit, in JSON types.

    Returns
    -------
    dict
        ``model``, ``law`` (its label), ``message``, ``constrained``; ``parameters``: display
        name -> ``(value, statistical 1-sigma, systematic bound)`` in ``units`` (degrees for
        ``theta``; lunar-Lambert ``L`` at each node's phase); ``overlap_rms`` (fractions) and
        ``incidence_slope_pct_per_10deg``, each ``(before, after)``; ``observations``,
        ``cells``, ``systematic`` (fraction), ``topographic`` (angles from the DEM's
        surface normal); ``candidates``: ``(label, BIC,
        constrained, RMS misfit)`` per law tried; ``incidence_profile``: ``incidence_deg``,
        ``before``, ``after`` (mean brightness relative to the cell's mean, fractions; None
        for empty bins), ``count``.

    Examples
    --------
    >>> from pipeline.calibration.photometric_fit import fit_photometry
    >>> from pipeline.calibration.photometry import lunar_lambert
    >>> rng = np.random.default_rng(0)
    >>> cell = np.repeat(np.arange(300), 3)
    >>> frame = rng.integers(0, 6, cell.size)
    >>> inc = rng.uniform(np.radians(30), np.radians(80), cell.size)
    >>> emi = rng.uniform(0.0, np.radians(40), cell.size)
    >>> pha = np.clip(inc + rng.normal(0, 0.2, cell.size), np.abs(inc - emi), inc + emi)
    >>> iof = rng.uniform(0.05, 0.2, 300)[cell] * lunar_lambert(inc, emi, pha, weight=0.7)
    >>> fit = fit_photometry(iof, inc, emi, pha, frame, cell, model="lunar_lambert_constant")
    >>> r = photometry_report(fit)
    >>> list(r["parameters"]), round(r["parameters"]["L (constant)"][0], 3)
    (['L (constant)'], 0.7)
    """
    params, units = {}, {}
    sys = fit.systematic_uncertainties if fit.systematic_uncertainties.size == fit.parameters.size else \
        np.full(fit.parameters.size, np.nan)
    for k in range(fit.parameters.size):
        name, unit, scale = _name(fit, k)
        params[name] = (float(fit.parameters[k] * scale), float(fit.uncertainties[k] * scale),
                        float(sys[k] * scale))
        units[name] = unit
    prof = np.asarray(fit.incidence_profile, dtype=np.float64)
    profile = {"incidence_deg": _floats(np.degrees(prof[0])), "before": _floats(prof[1]),
               "after": _floats(prof[2]), "count": _floats(prof[3])} if prof.shape[0] == 4 else {}
    return {
        "model": fit.model, "law": fit.law.label, "message": fit.message, "constrained": bool(fit.constrained),
        "parameters": params, "units": units,
        "overlap_rms": (float(fit.overlap_rms_before), float(fit.overlap_rms_after)),
        "incidence_slope_pct_per_10deg": (float(fit.incidence_slope_before), float(fit.incidence_slope_after)),
        "observations": int(fit.n_observations), "cells": int(fit.n_cells), "systematic": float(fit.systematic),
        "topographic": fit.angles == "dem",
        "candidates": [(str(c[0]), float(c[1]), bool(c[2]), float(c[3]) if len(c) > 3 else None)
                       for c in fit.candidates],
        "incidence_profile": profile,
    }
