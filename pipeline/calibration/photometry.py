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

import numpy as np

from pipeline.calibration.hapke import LROC_HAPKE_643NM, HapkeParameters, hapke_lroc
from pipeline.geometry.reflectance import HORIZON_COS as _HORIZON
from pipeline.geometry.reflectance import lunar_lambert

log = logging.getLogger(__name__)

PhotometricFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

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
        """Model reflectance at incidence, emission and phase angles (radians), with the bound parameters."""
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
