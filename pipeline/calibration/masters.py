"""Calibration masters: bias, dark-current rate, flat field and bad-pixel map.

Built once per run from the calibration frames (:func:`build_masters`), saved as FITS so
a later run can reuse them (:meth:`Masters.save`, :meth:`Masters.load`), and applied to
every light frame by :func:`pipeline.calibration.calibrate_frame`.

Missing calibration frames are not an error: each missing master falls back to a
documented default with a WARNING (bias: overscan strip, else ``calibration.bias_dn``,
else 0 DN; dark: 0 DN/s; flat: 1).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.calibration.badpixels import BadPixel, find_dead, find_hot, find_noisy
from pipeline.calibration.params import CalibrationParams
from pipeline.errors import CalibrationError
from pipeline.frame import Frame, FrameFailure, FrameType
from pipeline.imaging.stats import clip_outliers, clipped_stack, scatter_but_one
from pipeline.io.masters import MASTER_FILES, read_masters, write_masters

log = logging.getLogger(__name__)

Master = np.ndarray | float
"""A master is a full (lines, samples) array or, as a fallback, one constant."""



def overscan_bias(raw: np.ndarray, overscan_samples: tuple[int, int]) -> np.ndarray:
    """Per-line bias level from a serial overscan strip.

    Parameters
    ----------
    raw : ndarray of shape (M, N)
        Raw frame, DN.
    overscan_samples : (int, int)
        ``[start, stop)`` sample (column) range of the strip.

    Returns
    -------
    ndarray of shape (M, 1), float64
        Median of the strip on each line, DN; broadcasts against the frame.
    """
    start, stop = overscan_samples
    if not 0 <= start < stop <= raw.shape[1]:
        raise CalibrationError(
            f"calibrate.overscan_samples {overscan_samples} is outside a frame of {raw.shape[1]} samples"
        )
    return np.median(np.asarray(raw[:, start:stop], dtype=np.float64), axis=1, keepdims=True)


def overscan_mask(shape: tuple[int, int], overscan_samples: tuple[int, int] | None) -> np.ndarray:
    """Boolean mask of the overscan strip (all ``False`` when there is none)."""
    mask = np.zeros(shape, dtype=bool)
    if overscan_samples is not None:
        mask[:, overscan_samples[0] : overscan_samples[1]] = True
    return mask


@dataclass(eq=False)
class Masters:
    """The calibration masters of one camera.

    Attributes
    ----------
    bias : ndarray of shape (M, N), float, or None
        Bias level, DN (keeps the fixed column pattern). A float is a constant fallback;
        ``None`` means "take it from each frame's overscan strip".
    dark_rate : ndarray of shape (M, N) or float
        Dark-current rate, DN/s (0.0 when no darks were given).
    flat : ndarray of shape (M, N) or float
        Flat field normalised to median 1, unitless (1.0 when no flats were given).
    bad : ndarray of shape (M, N), uint8, or None
        :class:`BadPixel` flags, 0 = good; ``None`` when no master gave a map.
    read_noise_dn : float or None
        Median per-pixel scatter of the bias stack, DN (``None`` with fewer than 3 biases).
    provenance : dict of str to str
        How each master was made (frame counts or the fallback used), kept in FITS headers.
    rejected : tuple of FrameFailure
        Calibration frames left out, each with the reason (the masters come from the rest).
    """

    bias: Master | None = 0.0
    dark_rate: Master = 0.0
    flat: Master = 1.0
    bad: np.ndarray | None = None
    read_noise_dn: float | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    rejected: tuple[FrameFailure, ...] = ()

    @property
    def shape(self) -> tuple[int, int] | None:
        """``(lines, samples)`` of the array masters, ``None`` when all are constants."""
        for value in (self.bias, self.dark_rate, self.flat, self.bad):
            if isinstance(value, np.ndarray):
                return value.shape
        return None

    def bias_for(self, raw: np.ndarray, overscan_samples: tuple[int, int] | None) -> Master:
        """The bias to subtract from ``raw`` (DN): the master, or the frame's overscan level.

        Raises
        ------
        CalibrationError
            The masters take the bias from the overscan but no strip is configured.
        """
        if self.bias is not None:
            return self.bias
        if overscan_samples is None:
            raise CalibrationError(
                "these masters take the bias from the overscan, but calibration.overscan_samples is not set"
            )
        return overscan_bias(raw, overscan_samples)

    def save(self, directory: str | Path) -> list[Path]:
        """Write the masters as FITS files into ``directory`` (:func:`pipeline.io.masters.write_masters`)."""
        values = {name: getattr(self, name) for name in MASTER_FILES}
        return write_masters(directory, values, self.provenance, self.read_noise_dn)

    @classmethod
    def load(cls, directory: str | Path) -> Masters:
        """Read masters written by :meth:`save` (:func:`pipeline.io.masters.read_masters`).

        Raises
        ------
        CalibrationError
            A file is missing, unreadable, or the masters' shapes disagree.
        """
        values, provenance, read_noise = read_masters(directory)
        if values["dark_rate"] is None or values["flat"] is None:
            raise CalibrationError(
                f"{directory}: dark_rate.fits and flat.fits must hold an image or CONSTVAL"
            )
        masters = cls(provenance=provenance, read_noise_dn=read_noise, **values)  # type: ignore[arg-type]
        _check_shapes(masters)
        return masters


def _check_shapes(masters: Masters) -> None:
    shapes = {
        name: getattr(masters, name).shape
        for name in MASTER_FILES
        if isinstance(getattr(masters, name), np.ndarray)
    }
    if len(set(shapes.values())) > 1:
        raise CalibrationError(f"calibration masters have different shapes: {shapes}")


def _stack(frames: Sequence[np.ndarray], kind: str) -> np.ndarray:
    arrays = [np.asarray(f, dtype=np.float64) for f in frames]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2:
        raise CalibrationError(f"{kind} frames must be 2-D and all of one shape, got {sorted(shapes)}")
    return np.stack(arrays)


def _exposures(items: Sequence[tuple[np.ndarray, float | None]], kind: str, required: bool) -> list[float]:
    out = []
    for i, (_, t) in enumerate(items):
        if t is None or not np.isfinite(t) or t < 0 or (kind == "dark" and t == 0):
            if required:
                raise CalibrationError(f"{kind} frame #{i} has no usable exposure duration (got {t!r} s)")
            t = 0.0
        out.append(float(t))
    return out


def build_masters(
    bias: Sequence[np.ndarray],
    darks: Sequence[tuple[np.ndarray, float]],
    flats: Sequence[tuple[np.ndarray, float]],
    cfg: CalibrationParams,
    *,
    skip_flat: Callable[[int, str], None] | None = None,
) -> Masters:
    """Combine calibration frames into masters and a bad-pixel map.

    - **bias**: sigma-clipped (``cfg.clip_sigma``) per-pixel median of the bias frames, DN;
      the fixed column/row pattern is kept. With 3 or more frames the per-pixel scatter
      gives the read noise and the *noisy* pixels (``cfg.noisy_sigma``).
    - **dark rate**: each dark minus the bias; per pixel, darks whose rate is an outlier
      (sigma-clipped as above) are dropped and the rate is the kept signal over the kept
      exposure time, DN/s (longer darks weigh more). *Hot* pixels: rate above the local
      median by ``cfg.hot_sigma`` robust sigmas.
    - **flat**: each flat minus bias and dark (rate x exposure), divided by its own median,
      combined by a sigma-clipped mean (its noise multiplies every light frame, so the
      mean's lower noise is worth it), and normalised to median 1. *Dead / low-response*
      pixels: flat below ``cfg.dead_flat`` of its local median.

    Parameters
    ----------
    bias : sequence of ndarray of shape (M, N)
        Zero-exposure frames, raw DN.
    darks : sequence of (ndarray of shape (M, N), float)
        Dark frames (raw DN) with their exposure in seconds (> 0).
    flats : sequence of (ndarray of shape (M, N), float)
        Flat-field frames (raw DN) with their exposure in seconds (needed only when darks
        are given).
    cfg : CalibrationParams

    Returns
    -------
    Masters
        Any list may be empty: the master then falls back (bias: overscan strip if
        ``cfg.overscan_samples``, else ``cfg.bias_dn``, else 0 DN; dark: 0 DN/s;
        flat: 1), with a WARNING naming what is missing.

    Raises
    ------
    CalibrationError
        Frames of different shapes, or a dark without a positive exposure.

    Examples
    --------
    >>> import numpy as np
    >>> from pipeline.calibration.params import CalibrationParams
    >>> m = build_masters([np.full((4, 4), 100.0)] * 3, [], [], CalibrationParams())
    >>> float(m.bias[0, 0]), m.dark_rate, m.flat
    (100.0, 0.0, 1.0)
    """
    all_frames = list(bias) + [d for d, _ in darks] + [f for f, _ in flats]
    shapes = {np.shape(f) for f in all_frames}
    if len(shapes) > 1:
        raise CalibrationError(f"calibration frames have different shapes: {sorted(shapes)}")
    shape = shapes.pop() if shapes else None
    provenance: dict[str, str] = {}
    flags = np.zeros(shape, dtype=np.uint8) if shape is not None else None
    read_noise = None

    master_bias: Master | None
    if bias:
        stack = _stack(bias, "bias")
        master_bias, scatter = clipped_stack(stack, cfg.clip_sigma)
        provenance["bias"] = f"sigma-clipped median of {len(bias)} bias frames"
        if scatter is not None:
            read_noise = float(np.nanmedian(scatter))
            flags[find_noisy(scatter_but_one(stack), cfg.noisy_sigma)] |= np.uint8(BadPixel.NOISY)
        else:
            log.info("fewer than 3 bias frames: noisy pixels are not detected")
    elif cfg.overscan_samples is not None:
        master_bias = None
        provenance["bias"] = f"per-line median of overscan samples {tuple(cfg.overscan_samples)}"
        if all_frames:
            log.warning("no bias frames: the bias of each frame is taken from its overscan samples %s",
                        tuple(cfg.overscan_samples))
    elif cfg.bias_dn is not None:
        master_bias = float(cfg.bias_dn)
        provenance["bias"] = f"constant {cfg.bias_dn} DN (calibration.bias_dn)"
        if all_frames:
            log.warning("no bias frames: using the constant bias calibration.bias_dn = %g DN", cfg.bias_dn)
    else:
        master_bias = 0.0
        provenance["bias"] = "none: zero bias assumed"
        if all_frames:
            log.warning(
                "no bias frames, no calibration.bias_dn and no calibration.overscan_samples: "
                "assuming a zero bias (set calibration.bias_dn to the camera's offset)"
            )
    partial = Masters(bias=master_bias)

    dark_rate: Master
    if darks:
        times = _exposures(darks, "dark", required=True)
        signal = np.stack(
            [np.asarray(d, np.float64) - partial.bias_for(d, cfg.overscan_samples) for d, _ in darks]
        )
        t = np.asarray(times)[:, None, None]
        # outliers (cosmic rays) rejected on the rates, then the rate of the kept signal
        # over the kept time: longer darks, with more signal per read noise, weigh more
        kept = np.isfinite(clip_outliers(signal / t, cfg.clip_sigma))
        dark_rate = np.sum(np.where(kept, signal, 0.0), axis=0) / np.sum(np.where(kept, t, 0.0), axis=0)
        provenance["dark_rate"] = f"sigma-clipped rate of {len(darks)} dark frames"
        flags[find_hot(dark_rate, cfg.hot_sigma, cfg.badpix_window)] |= np.uint8(BadPixel.HOT)
    else:
        dark_rate = 0.0
        provenance["dark_rate"] = "none: zero dark current assumed"
        if all_frames:
            log.warning(
                "no dark frames: assuming zero dark current (hot pixels are then only caught "
                "as single-pixel outliers in each light frame)"
            )

    flat: Master
    if flats:
        times = _exposures(flats, "flat", required=isinstance(dark_rate, np.ndarray))
        valid = ~overscan_mask(shape, cfg.overscan_samples)
        normalised = []
        for i, ((f, _), t) in enumerate(zip(flats, times, strict=True)):
            signal = np.asarray(f, np.float64) - partial.bias_for(f, cfg.overscan_samples) - dark_rate * t
            level = np.nanmedian(signal[valid])
            if not level > 0:
                why = f"no signal above bias and dark (median {level:g} DN)"
                if skip_flat is None:
                    raise CalibrationError(f"flat frame #{i} has {why}")
                skip_flat(i, why)
                continue
            normalised.append(signal / level)
    if flats and normalised:
        # a clipped *mean*: the flat's own noise multiplies every light frame
        flat = np.nanmean(clip_outliers(np.stack(normalised), cfg.clip_sigma), axis=0)
        flat[~valid] = 1.0
        flat /= np.nanmedian(flat[valid])
        provenance["flat"] = f"sigma-clipped mean of {len(normalised)} normalised flat frames"
        flags[find_dead(flat, cfg.dead_flat, cfg.badpix_window)] |= np.uint8(BadPixel.DEAD)
    else:
        flat = 1.0
        provenance["flat"] = "none: unit flat assumed"
        if all_frames:
            log.warning(
                "no usable flat frames: using a unit flat (no flat-field correction, dead pixels are "
                "then only caught as single-pixel outliers in each light frame)"
            )
    if not all_frames:
        log.warning("no calibration frames: bias %s, zero dark current, unit flat (give a calibration folder, "
                    "or set calibration.bias_dn or calibration.overscan_samples)", provenance["bias"])

    if flags is not None:
        flags[overscan_mask(shape, cfg.overscan_samples)] = 0
        provenance["bad"] = ", ".join(
            f"{int(np.count_nonzero(flags & kind))} {kind.name.lower()}" for kind in BadPixel
        )
        log.info("bad-pixel map: %s", provenance["bad"])
    return Masters(
        bias=_as_float32(master_bias),
        dark_rate=_as_float32(dark_rate),
        flat=_as_float32(flat),
        bad=flags,
        read_noise_dn=read_noise,
        provenance=provenance,
    )


def _as_float32(value: Master | None) -> Master | None:
    return value.astype(np.float32) if isinstance(value, np.ndarray) else value


def build_masters_from_frames(frames: Sequence[Frame], cfg: CalibrationParams) -> Masters:
    """:func:`build_masters` from ingested calibration frames, grouped by ``meta.frame_type``.

    Every frame must have its pixels loaded (:func:`pipeline.io.load_frame`); LIGHT frames are
    ignored. A frame that cannot serve is left out and listed in ``Masters.rejected`` with the
    reason, and the masters are built from the rest (a master with no frame left falls back
    as :func:`build_masters` says, with a warning):

    - a dark without a positive exposure duration (its signal cannot become a rate);
    - a flat without one when darks are used (the dark current cannot be subtracted);
    - a frame whose shape differs from that of most calibration frames;
    - a flat with no signal above bias and dark.
    """
    groups: dict[FrameType, list[Frame]] = {kind: [] for kind in FrameType}
    for frame in frames:
        if not frame.loaded:
            raise ValueError(f"{frame.id}: pixels not loaded; read them first (pipeline.io.load_frame)")
        groups[frame.meta.frame_type].append(frame)
    rejected: list[FrameFailure] = []

    def reject(frame: Frame, why: str) -> None:
        log.warning("calibration frame %s left out: %s", frame.meta.path, why)
        rejected.append(FrameFailure(frame.meta.path, "calibrate", why))

    shapes = Counter(f.data.shape for kind in (FrameType.BIAS, FrameType.DARK, FrameType.FLAT) for f in groups[kind])
    if len(shapes) > 1:
        common = max(shapes, key=lambda sh: (shapes[sh], -sh[0] * sh[1]))
        for kind in (FrameType.BIAS, FrameType.DARK, FrameType.FLAT):
            for f in [f for f in groups[kind] if f.data.shape != common]:
                reject(f, f"{f.data.shape[0]} x {f.data.shape[1]} px (lines x samples), not the "
                          f"{common[0]} x {common[1]} of the other calibration frames")
                groups[kind].remove(f)

    def timed(kind: FrameType, required: bool) -> list[Frame]:
        kept = []
        for f in groups[kind]:
            t = f.meta.exposure_s
            if required and (t is None or not t > 0):
                reject(f, f"{kind.value.lower()} frame has no positive exposure duration (needed "
                          f"{'for the dark-current rate' if kind == FrameType.DARK else 'to remove the dark current'});"
                          " give it in the label or the sidecar's exposure_duration")
            else:
                kept.append(f)
        return kept

    darks = timed(FrameType.DARK, required=True)
    flats = timed(FrameType.FLAT, required=bool(darks))
    masters = build_masters([f.data for f in groups[FrameType.BIAS]], [(f.data, f.meta.exposure_s) for f in darks],
                            [(f.data, f.meta.exposure_s) for f in flats], cfg,
                            skip_flat=lambda i, why: reject(flats[i], why))
    return dataclasses.replace(masters, rejected=tuple(rejected))
