"""Photometric normalisation of I/F to a standard viewing and lighting geometry.

Photometric functions share one signature, ``f(incidence, emission, phase) -> reflectance
factor`` (angles in radians, numpy broadcasting), and are offered by name in
:data:`PHOTOMETRIC_MODELS` (``calibrate.photometry.model`` in the YAML). The normalised
value of a pixel is ``I/F * f(standard) / f(actual)`` (ISIS ``photomet`` with a plain
photometric model): what the pixel would read at the standard angles (by default
incidence 30 deg, emission 0 deg, phase 30 deg).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pipeline.calibration.hapke import LROC_HAPKE_643NM, HapkeParameters, hapke_lroc
from pipeline.calibration.stats import interp_grid

log = logging.getLogger(__name__)

PhotometricFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

_HORIZON = 1e-9
"""Cosine below which the Sun or the camera counts as on the horizon (no signal)."""

ANGLE_COS_TOLERANCE = 2e-5
"""Largest error allowed on an interpolated angle cosine before a grid cell is computed
pixel by pixel (about 0.002 deg at 30 deg)."""

MCEWEN_L_COEFFS = (-0.019, 2.42e-4, -1.46e-6)
"""Lunar-Lambert ``L(phase) = 1 + A g + B g^2 + C g^3`` with phase ``g`` in degrees: the
lunar fit of McEwen (1991, Icarus 92, 298), as in ISIS ``LunarLambertMcEwen``."""


def lommel_seeliger(incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Lommel-Seeliger reflectance factor ``mu0 / (mu0 + mu)``.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Angles in radians (``phase`` is unused), broadcastable.

    Returns
    -------
    ndarray
        Unitless; 0 where the Sun or the camera is at or below the horizon.
    """
    mu0 = np.cos(incidence)
    mu = np.cos(emission)
    ok = (mu0 > _HORIZON) & (mu > _HORIZON)
    return np.where(ok, mu0 / np.where(ok, mu0 + mu, 1.0), 0.0)


def lunar_lambert_l(phase: np.ndarray) -> np.ndarray:
    """McEwen's lunar limb-darkening weight ``L(phase)`` (unitless; phase in radians)."""
    g = np.degrees(phase)
    a, b, c = MCEWEN_L_COEFFS
    return 1.0 + a * g + b * g**2 + c * g**3


def lunar_lambert(
    incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray, weight: float | None = None
) -> np.ndarray:
    """McEwen lunar-Lambert reflectance factor ``2 L mu0 / (mu0 + mu) + (1 - L) mu0``.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Angles in radians, broadcastable.
    weight : float, optional
        A constant ``L``; by default ``L(phase)`` from :func:`lunar_lambert_l`
        (1 at zero phase, ~0.6 at 30 deg, ~0 near 100 deg).

    Returns
    -------
    ndarray
        Unitless; 0 where the Sun or the camera is at or below the horizon, or where the
        function is not positive.
    """
    mu0 = np.cos(incidence)
    mu = np.cos(emission)
    ell = lunar_lambert_l(phase) if weight is None else weight
    ok = (mu0 > _HORIZON) & (mu > _HORIZON)
    value = 2.0 * ell * mu0 / np.where(ok, mu0 + mu, 1.0) + (1.0 - ell) * mu0
    return np.where(ok & (value > 0), value, 0.0)


def hapke(
    incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray, params: HapkeParameters = LROC_HAPKE_643NM
) -> np.ndarray:
    """Hapke (2012) radiance factor of the LROC ``HapkeLROC`` model (:func:`hapke_lroc`).

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Angles in radians, broadcastable.
    params : HapkeParameters
        By default the fixed LROC WAC 643 nm set :data:`LROC_HAPKE_643NM`.

    Returns
    -------
    ndarray
        Unitless; 0 where the Sun or the camera is at or below the horizon.
    """
    mu0 = np.cos(incidence)
    mu = np.cos(emission)
    ok = (mu0 > _HORIZON) & (mu > _HORIZON)
    value = hapke_lroc(incidence, emission, phase, params)
    return np.where(ok & (value > 0), value, 0.0)


@dataclass(frozen=True)
class PhotometricModel:
    """A registered photometric function: ``model(incidence, emission, phase)`` (radians).

    Parameters
    ----------
    name : str
        Registry key (``calibrate.photometry.model`` in the YAML).
    function : callable
        ``function(incidence, emission, phase, **parameters) -> reflectance factor``.
    description : str
        One line for the config documentation and the CLI.
    parameters : tuple of (str, object)
        Keyword arguments bound for every call (empty: the function's defaults).
    tunable : tuple of str
        Keyword arguments the function accepts (``weight`` for a constant lunar-Lambert L).
    """

    name: str
    function: Callable[..., np.ndarray]
    description: str
    parameters: tuple[tuple[str, object], ...] = ()
    tunable: tuple[str, ...] = ()

    def __call__(self, incidence: np.ndarray, emission: np.ndarray, phase: np.ndarray) -> np.ndarray:
        return self.function(incidence, emission, phase, **dict(self.parameters))

    def with_parameters(self, **parameters: object) -> PhotometricModel:
        """The same model with keyword arguments bound (only names in ``tunable``)."""
        unknown = set(parameters) - set(self.tunable)
        if unknown:
            raise TypeError(f"photometric model {self.name!r} takes no parameter {sorted(unknown)}")
        merged = dict(self.parameters) | parameters
        return PhotometricModel(
            self.name, self.function, self.description, tuple(merged.items()), self.tunable
        )


PHOTOMETRIC_MODELS: dict[str, PhotometricModel] = {
    m.name: m
    for m in (
        PhotometricModel("lommel_seeliger", lommel_seeliger, "Lommel-Seeliger mu0 / (mu0 + mu)"),
        PhotometricModel(
            "lunar_lambert",
            lunar_lambert,
            "McEwen lunar-Lambert with L(phase), or a constant L (lunar_lambert_l)",
            tunable=("weight",),
        ),
        PhotometricModel(
            "hapke",
            hapke,
            "Hapke 2012 (LROC HapkeLROC), fixed LROC WAC 643 nm parameters",
            tunable=("params",),
        ),
    )
}
"""Photometric models by name; every entry is called as ``f(incidence, emission, phase)`` in radians."""


def photometric_function(name: str, lunar_lambert_weight: float | None = None) -> PhotometricModel:
    """The model registered as ``name``, with a constant lunar-Lambert ``L`` if given.

    ``lunar_lambert_weight`` applies to models that take a lunar-Lambert weight and is
    ignored by the others (as before the registry held records).
    """
    model = PHOTOMETRIC_MODELS[name]
    if lunar_lambert_weight is not None and "weight" in model.tunable:
        return model.with_parameters(weight=lunar_lambert_weight)
    return model


class _Camera(Protocol):
    def image_to_ground_hit(self, line, sample) -> tuple[np.ndarray, np.ndarray]: ...

    def illumination_angles(self, xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def _exact_cosines(camera: _Camera, lines: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of (incidence, emission, phase), shape (3, ...), NaN off body, and hit flags."""
    xyz, hit = camera.image_to_ground_hit(lines, samples)
    hit = np.asarray(hit, dtype=bool)
    cosines = np.full((3,) + hit.shape, np.nan)
    if hit.any():
        angles = camera.illumination_angles(np.asarray(xyz)[hit])
        cosines[:, hit] = np.cos(np.asarray(angles, dtype=np.float64))
    return cosines, hit


def pixel_angles(
    camera: _Camera, shape: tuple[int, int], step: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase angles at every pixel centre.

    Exact values come from ``camera.image_to_ground_hit`` at ``(i + 0.5, j + 0.5)`` then
    ``camera.illumination_angles``. For speed they are computed on a grid of every
    ``step``-th pixel (plus the last line and sample) and the angle *cosines*, smooth
    functions of the ground point, are interpolated bilinearly in between. Each grid cell
    is checked at its centre: a cell where the interpolated cosines miss the exact ones by
    more than :data:`ANGLE_COS_TOLERANCE` (2e-5), or that the limb crosses, is computed
    pixel by pixel. The cosines are then within ~5e-5 of the exact ones and the angles
    within ~0.005 deg, except within a few pixels of an angle of exactly 0 (emission at
    the nadir point, phase at opposition) where ``arccos`` is steep and the angle, not its
    cosine, may be off by ~0.05 deg (the tests bound both on a nadir frame and on a view
    of the whole disk).

    Parameters
    ----------
    camera : object
        Anything with ``image_to_ground_hit(line, sample) -> (xyz, hit)`` and
        ``illumination_angles(xyz) -> (incidence, emission, phase)`` (radians), such as
        :class:`pipeline.geometry.camera.FrameCamera`.
    shape : (int, int)
        ``(lines, samples)`` of the frame.
    step : int
        Grid spacing in pixels; 1 computes every pixel exactly.

    Returns
    -------
    incidence, emission, phase : ndarray of shape (lines, samples), float64
        Radians; NaN off the body.
    hit : ndarray of bool, shape (lines, samples)
        True where the pixel's line of sight meets the body.
    """
    lines, samples = shape
    if step <= 1 or min(lines, samples) <= 2 * step:
        ll, ss = np.meshgrid(np.arange(lines) + 0.5, np.arange(samples) + 0.5, indexing="ij")
        cosines, hit = _exact_cosines(camera, ll, ss)
        return (*np.arccos(np.clip(cosines, -1.0, 1.0)), hit)
    gl = np.unique(np.append(np.arange(0, lines, step), lines - 1))
    gs = np.unique(np.append(np.arange(0, samples, step), samples - 1))
    ll, ss = np.meshgrid(gl + 0.5, gs + 0.5, indexing="ij")
    grid, grid_hit = _exact_cosines(camera, ll, ss)
    # check every cell at its centre
    cl, cs = np.meshgrid(0.5 * (gl[:-1] + gl[1:]) + 0.5, 0.5 * (gs[:-1] + gs[1:]) + 0.5, indexing="ij")
    centre, centre_hit = _exact_cosines(camera, cl, cs)
    corners_hit = grid_hit[:-1, :-1] & grid_hit[1:, :-1] & grid_hit[:-1, 1:] & grid_hit[1:, 1:]
    mean = 0.25 * (grid[:, :-1, :-1] + grid[:, 1:, :-1] + grid[:, :-1, 1:] + grid[:, 1:, 1:])
    with np.errstate(invalid="ignore"):
        smooth = np.all(np.abs(mean - centre) <= ANGLE_COS_TOLERANCE, axis=0)
    cell_ok = corners_hit & centre_hit & smooth
    rows, cols = np.arange(lines), np.arange(samples)
    out = np.stack([interp_grid(np.nan_to_num(g), gl, gs, rows, cols) for g in grid])
    row_cell = np.clip(np.searchsorted(gl, rows, side="right") - 1, 0, gl.size - 2)
    col_cell = np.clip(np.searchsorted(gs, cols, side="right") - 1, 0, gs.size - 2)
    exact = ~cell_ok[row_cell[:, None], col_cell[None, :]]
    hit = np.ones(shape, dtype=bool)
    if exact.any():
        el, es = np.nonzero(exact)
        values, ehit = _exact_cosines(camera, el + 0.5, es + 0.5)
        out[:, el, es] = values
        hit[el, es] = ehit
    log.debug("pixel_angles: %d of %d pixels computed exactly", int(exact.sum()), lines * samples)
    return (*np.arccos(np.clip(out, -1.0, 1.0)), hit)


def normalisation_factor(
    incidence: np.ndarray,
    emission: np.ndarray,
    phase: np.ndarray,
    func: PhotometricFunction,
    standard_deg: tuple[float, float, float] = (30.0, 0.0, 30.0),
) -> np.ndarray:
    """``f(standard) / f(actual)``: multiply I/F by it to normalise to the standard geometry.

    Parameters
    ----------
    incidence, emission, phase : ndarray
        Actual angles, radians.
    func : callable
        A photometric function (see :data:`PHOTOMETRIC_MODELS`).
    standard_deg : (float, float, float)
        Standard incidence, emission and phase, degrees.

    Returns
    -------
    ndarray
        Unitless; NaN where ``f(actual)`` is not positive (unlit, unseen or off body).
    """
    std = func(*np.radians(np.asarray(standard_deg, dtype=np.float64)))
    actual = func(incidence, emission, phase)
    good = np.isfinite(actual) & (actual > 0)
    return np.where(good, std / np.where(good, actual, 1.0), np.nan)
