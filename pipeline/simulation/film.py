"""Film-like frames: 8-bit scans with black scan borders, fiducial marks and film grain.

What an archive of scanned film (Apollo Metric/Panoramic, Lunar Orbiter) or of browse
products looks like to farside: a PNG of 8-bit DN with an ISD sidecar and nothing else (no
exposure, no frame type, no calibration frames). :func:`film_frame` turns an ideal scene
(:class:`~pipeline.simulation.sensor.Scene`) into such a frame:

1. **Tone**: ``DN = fog_dn + gain * I/F`` (linear; ``gain`` per frame so the brightest
   0.5 % of the frame reaches ``white_dn`` times a random factor in ``white_jitter``,
   like a print exposure), times a vignetting ``1 - vignetting * r^2`` (r = 1 at the
   corners; default none).
2. **Grain**: Gaussian noise of standard deviation ``grain_dn + grain_relative * DN``,
   spatially correlated by a Gaussian blur of ``grain_blur_px`` (then rescaled to that
   standard deviation); no cosmic rays, no detector pattern.
3. **Fiducials**, at positions fixed in the camera frame (the same in every frame): a
   reseau of crosses (``reseau_grid`` rows x columns over the central ``reseau_span`` of
   the frame; arms ``cross_arm_fraction`` of the frame size long, ``cross_width_px``
   wide) and edge notches (isosceles triangles at ``notch_positions`` along each edge,
   base ``notch_fraction`` of the edge, reaching ``notch_depth_fraction`` of the frame
   beyond the widest scan border). ``polarity`` "dark" draws them at ``dark_dn``,
   "bright" at ``bright_dn`` (plus grain). A pixel belongs to a mark when its centre is
   inside the shape.
4. **Scan border**: per frame, each side is covered by a constant ``border_dn`` band whose
   width varies linearly from one end of the side to the other (the scan is slightly
   skewed), both ends drawn from ``border_fraction`` of the frame size. The border is
   drawn last and is exactly constant.
5. Rounded and clipped to 0..255 (uint8).

The truth keeps, per frame, the border and fiducial masks (fiducial pixels outside the
border) and the tone (``fog_dn``, ``gain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from pipeline.errors import ConfigError
from pipeline.simulation.params import JsonParams


@dataclass(frozen=True)
class FilmParams(JsonParams):
    """Every constant of the film-like frames (DN are 8-bit; fractions of the frame size).

    See the module docstring for what each does.
    """

    border_fraction: tuple[float, float] = (0.02, 0.06)
    border_dn: int = 0
    polarity: str = "dark"
    dark_dn: float = 5.0
    bright_dn: float = 245.0
    reseau_grid: tuple[int, int] = (5, 5)
    reseau_span: float = 0.7
    cross_arm_fraction: float = 0.03
    cross_width_px: float = 1.0
    notch_positions: tuple[float, ...] = (0.5,)
    notch_fraction: float = 0.06
    notch_depth_fraction: float = 0.03
    fog_dn: float = 12.0
    white_dn: float = 225.0
    white_jitter: tuple[float, float] = (0.85, 1.1)
    grain_dn: float = 1.2
    grain_relative: float = 0.015
    grain_blur_px: float = 0.7
    vignetting: float = 0.0

    def __post_init__(self):
        lo, hi = self.border_fraction
        if not 0.0 <= lo <= hi < 0.25:
            raise ConfigError(f"film border_fraction must satisfy 0 <= min <= max < 0.25, got {self.border_fraction}")
        if self.polarity not in ("dark", "bright"):
            raise ConfigError(f"film polarity must be 'dark' or 'bright', got {self.polarity!r}")
        if not 0.0 < self.reseau_span < 1.0 or min(self.reseau_grid) < 0:
            raise ConfigError(f"bad reseau: grid {self.reseau_grid}, span {self.reseau_span}")


@dataclass
class FilmFrame:
    """One film-like frame and its truth.

    Attributes
    ----------
    data : ndarray of shape (M, N), uint8
        The scan (what the PNG holds).
    border : ndarray of shape (M, N), bool
        Scan-border pixels (exactly ``border_dn``).
    fiducials : ndarray of shape (M, N), bool
        Fiducial-mark pixels (crosses and notches) outside the border.
    gain : float
        DN per unit I/F of the tone curve.
    fog_dn : float
        DN at zero I/F.
    border_px : dict of str to (float, float)
        Border width (pixels) at both ends of each side: ``top``/``bottom`` from the first to
        the last sample, ``left``/``right`` from the first to the last line.
    """

    data: np.ndarray
    border: np.ndarray
    fiducials: np.ndarray
    gain: float
    fog_dn: float
    border_px: dict[str, tuple[float, float]]


def reseau_positions(shape: tuple[int, int], params: FilmParams) -> np.ndarray:
    """Centres ``(line, sample)`` of the reseau crosses (image coordinates), shape (K, 2)."""
    m, n = shape
    rows, cols = params.reseau_grid
    if rows == 0 or cols == 0:
        return np.zeros((0, 2))
    half = 0.5 * params.reseau_span
    fl = np.linspace(0.5 - half, 0.5 + half, rows) if rows > 1 else np.array([0.5])
    fs = np.linspace(0.5 - half, 0.5 + half, cols) if cols > 1 else np.array([0.5])
    ll, ss = np.meshgrid(np.round(fl * m) + 0.5, np.round(fs * n) + 0.5, indexing="ij")
    return np.column_stack([ll.ravel(), ss.ravel()])


def fiducial_mask(shape: tuple[int, int], params: FilmParams) -> np.ndarray:
    """Pixels whose centre lies in a reseau cross or an edge notch (camera-fixed), bool (M, N)."""
    m, n = shape
    ll, ss = np.meshgrid(np.arange(m) + 0.5, np.arange(n) + 0.5, indexing="ij")
    mask = np.zeros(shape, dtype=bool)
    arm = max(2.0, params.cross_arm_fraction * min(m, n))
    hw = 0.5 * params.cross_width_px + 1e-9
    centres = reseau_positions(shape, params)
    if len(centres):
        # the crosses sit on a grid: a pixel is in one iff it is in the nearest one
        dl = np.min(np.abs(ll[..., None] - np.unique(centres[:, 0])), axis=-1)
        ds = np.min(np.abs(ss[..., None] - np.unique(centres[:, 1])), axis=-1)
        mask |= ((dl <= hw) & (ds <= arm)) | ((ds <= hw) & (dl <= arm))
    depth = params.border_fraction[1] * min(m, n) + params.notch_depth_fraction * min(m, n)
    for f in params.notch_positions:
        # distance from the edge (d) and along it (a) for each side, then a triangle test
        for d, a, length in ((ll, ss, n), (m - ll, ss, n), (ss, ll, m), (n - ss, ll, m)):
            half_base = 0.5 * params.notch_fraction * length
            along = np.abs(a - f * length)
            mask |= (d <= depth * (1.0 - along / half_base)) & (along <= half_base)
    return mask


def border_mask(shape: tuple[int, int], border_px: dict[str, tuple[float, float]]) -> np.ndarray:
    """Pixels whose centre lies inside the (skewed) scan border, bool (M, N)."""
    m, n = shape
    ll, ss = np.meshgrid(np.arange(m) + 0.5, np.arange(n) + 0.5, indexing="ij")
    fs, fl = ss / n, ll / m

    def width(side, frac):
        a, b = border_px[side]
        return a + (b - a) * frac

    return (
        (ll < width("top", fs)) | (m - ll < width("bottom", fs))
        | (ss < width("left", fl)) | (n - ss < width("right", fl))
    )


def film_frame(iof: np.ndarray, params: FilmParams, rng: np.random.Generator) -> FilmFrame:
    """Turn an ideal I/F image into a film-like 8-bit frame (see the module docstring).

    Parameters
    ----------
    iof : ndarray of shape (M, N)
        Ideal I/F (0 on sky), e.g. ``render_iof(...).iof``.
    params : FilmParams
    rng : numpy.random.Generator
        Source of the border widths, the print exposure and the grain.

    Returns
    -------
    FilmFrame

    Examples
    --------
    >>> f = film_frame(np.full((64, 64), 0.1), FilmParams(), np.random.default_rng(0))
    >>> f.data.dtype, bool(np.all(f.data[f.border] == 0)), bool(f.fiducials.any())
    (dtype('uint8'), True, True)
    """
    p = params
    iof = np.asarray(iof, dtype=np.float64)
    m, n = iof.shape
    size = min(m, n)
    lo, hi = p.border_fraction
    border_px = {side: tuple(round(float(v), 3) for v in rng.uniform(lo, hi, 2) * size)
                 for side in ("top", "bottom", "left", "right")}
    white = p.white_dn * float(rng.uniform(*p.white_jitter))
    ref = float(np.percentile(iof, 99.5)) if np.any(iof > 0) else 1.0
    gain = (white - p.fog_dn) / max(ref, 1e-6)
    dn = p.fog_dn + gain * iof
    if p.vignetting:
        ll, ss = np.meshgrid(np.arange(m) + 0.5, np.arange(n) + 0.5, indexing="ij")
        r2 = ((ll - m / 2) ** 2 + (ss - n / 2) ** 2) / ((m / 2) ** 2 + (n / 2) ** 2)
        dn = dn * (1.0 - p.vignetting * r2)
    fid = fiducial_mask((m, n), p)
    dn = np.where(fid, p.dark_dn if p.polarity == "dark" else p.bright_dn, dn)
    white_noise = rng.standard_normal((m, n))
    if p.grain_blur_px > 0:
        grain = ndimage.gaussian_filter(white_noise, p.grain_blur_px, mode="reflect")
        grain /= max(float(grain.std()), 1e-12)
    else:
        grain = white_noise
    dn = dn + (p.grain_dn + p.grain_relative * dn) * grain
    border = border_mask((m, n), border_px)
    data = np.clip(np.rint(dn), 0, 255)
    data[border] = p.border_dn
    return FilmFrame(
        data=data.astype(np.uint8),
        border=border,
        fiducials=fid & ~border,
        gain=round(gain, 6),
        fog_dn=float(p.fog_dn),
        border_px=border_px,
    )


def write_png8(directory, stem: str, data: np.ndarray):
    """Write ``<stem>.png``: 8-bit greyscale, no metadata chunks; returns its path.

    Raises
    ------
    ValueError
        ``data`` is not a 2-D uint8 array.
    """
    data = np.asarray(data)
    if data.ndim != 2 or data.dtype != np.uint8:
        raise ValueError(f"film frames are written as 2-D uint8 arrays, got {data.dtype} {data.shape}")
    ok, buf = cv2.imencode(".png", data, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover - OpenCV failure
        raise ValueError(f"OpenCV could not encode {stem}.png")
    path = Path(directory) / f"{stem}.png"
    path.write_bytes(buf.tobytes())
    return path


def film_truth(frame: FilmFrame) -> dict:
    """JSON-serialisable per-frame film truth (tone and border geometry; masks go to the npz)."""
    return {
        "gain_dn_per_iof": frame.gain,
        "fog_dn": frame.fog_dn,
        "border_px": {k: list(v) for k, v in frame.border_px.items()},
        "border_pixels": int(frame.border.sum()),
        "fiducial_pixels": int(frame.fiducials.sum()),
    }


__all__ = ["FilmFrame", "FilmParams", "border_mask", "fiducial_mask", "film_frame", "film_truth",
           "reseau_positions", "write_png8"]
