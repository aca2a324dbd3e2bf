"""Constants of the simulated scanning cameras: :class:`LineScanParams`, :class:`PushFrameParams`.

Both are frozen, JSON-serialisable (``to_dict`` / ``from_dict``) and written to the truth
(``survey.json`` ``scan``). Lengths are metres, times seconds, angles **degrees** (this is the
user edge; radians inside). A strip flies a polar orbit (great circle along a meridian) at
``altitude_m`` with the ground speed of the frame survey
(:data:`pipeline.simulation.orbit.ORBIT_SPEED_M_S`); the camera looks at nadir with its
detector line across track (``+X`` of the camera: increasing samples; ``+Y``: the flight
direction), so image lines advance along the flight and the image is not mirrored.

The focal length follows from the altitude, the pixel pitch and the nadir ground sample
distance: ``focal_length_mm = altitude_m * pixel_pitch_mm / gsd_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import ConfigError
from pipeline.simulation.params import JsonParams

__all__ = ["LineScanParams", "PushFrameParams", "ScanParams"]

_HEADINGS = ("north", "south", "alternate")


@dataclass(frozen=True)
class ScanParams(JsonParams):
    """What line-scan and push-frame strips share (see the subclasses).

    Attributes
    ----------
    n_strips : int
        Strips side by side across track (consecutive orbits, 2 h apart).
    samples : int
        Detector width, pixels (image samples).
    gsd_m : float
        Nadir ground sample distance, metres (across and along track).
    overlap_across : float
        Planned side overlap between neighbouring strips (fraction of the swath).
    altitude_m : float
        Orbit altitude above the 1 737 400 m sphere.
    pixel_pitch_mm : float
        Detector pixel pitch (the focal length follows from the GSD).
    radial_k : (k0, k1, k2)
        usgscsm radial distortion (``k1`` in mm^-2), ISD ``optical_distortion.radial``.
    heading : {"north", "south", "alternate"}
        Flight direction of the strips.
    jitter_deg : float
        Pointing jitter along the strip: sum of the sinusoid amplitudes per axis, degrees
        (:class:`pipeline.simulation.jitter.PointingJitter`); 0 switches it off.
    jitter_terms : int
        Sinusoids per axis.
    jitter_period_fraction : (min, max)
        Sinusoid periods, fractions of the strip duration (log-uniform).
    jitter_drift_deg : float
        Largest slow quadratic drift per axis, degrees at the strip ends.
    jitter_in_isd : bool
        True: the reported ISD knows the jitter (its attitude tables are the true ones,
        sampled densely; the reported-vs-true error is then exactly the polynomial below).
        False: the reported ISD carries the smooth nadir attitude (the jitter is unmodelled).
    pointing_error_deg : (min, max)
        Size of the constant pointing error of the reported ISD, per axis (random sign).
    pointing_rate_deg : (min, max)
        Size of the linear pointing error per axis at the strip ends (``tau = +-1``, random sign).
    position_error_m : float
        Constant position error of the reported ISD (random direction), metres.
    node_spacing_s : float, optional
        Attitude table spacing (s); default: 1/40 of the shortest jitter period, at most
        1/200 of the strip duration.
    formats : tuple of str, optional
        File formats of the strips in turn; default: the survey's.
    """

    n_strips: int = 3
    samples: int = 512
    gsd_m: float = 50.0
    overlap_across: float = 0.25
    altitude_m: float = 100_000.0
    pixel_pitch_mm: float = 0.007
    radial_k: tuple[float, float, float] = (0.0, 5.0e-4, 0.0)
    heading: str = "north"
    jitter_deg: float = 0.02
    jitter_terms: int = 3
    jitter_period_fraction: tuple[float, float] = (0.08, 0.5)
    jitter_drift_deg: float = 0.01
    jitter_in_isd: bool = True
    pointing_error_deg: tuple[float, float] = (0.05, 0.15)
    pointing_rate_deg: tuple[float, float] = (0.01, 0.05)
    position_error_m: float = 0.0
    node_spacing_s: float | None = None
    formats: tuple[str, ...] | None = None

    kind = "scan"

    def __post_init__(self):
        if self.n_strips < 1 or self.samples < 16:
            raise ConfigError(f"{self.kind}: need >= 1 strip of >= 16 samples, got {self.n_strips} x {self.samples}")
        if not 0.0 <= self.overlap_across < 0.9:
            raise ConfigError(f"{self.kind}: overlap_across must be in [0, 0.9), got {self.overlap_across}")
        if self.gsd_m <= 0 or self.pixel_pitch_mm <= 0 or not 10_000.0 <= self.altitude_m <= 1_000_000.0:
            raise ConfigError(
                f"{self.kind}: gsd_m and pixel_pitch_mm must be > 0 and altitude_m in 10-1000 km, got "
                f"{self.gsd_m}, {self.pixel_pitch_mm}, {self.altitude_m}"
            )
        if self.heading not in _HEADINGS:
            raise ConfigError(f"{self.kind}: heading must be one of {_HEADINGS}, got {self.heading!r}")
        for name in ("pointing_error_deg", "pointing_rate_deg", "jitter_period_fraction"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ConfigError(f"{self.kind}: {name} must be (min, max) with 0 <= min <= max, got {(lo, hi)}")
        if self.jitter_deg < 0 or self.jitter_drift_deg < 0 or self.jitter_terms < 1:
            raise ConfigError(f"{self.kind}: jitter_deg and jitter_drift_deg must be >= 0 and jitter_terms >= 1")

    @property
    def focal_length_mm(self) -> float:
        """``altitude_m * pixel_pitch_mm / gsd_m``."""
        return self.altitude_m * self.pixel_pitch_mm / self.gsd_m

    def heading_of(self, strip: int) -> str:
        """``north`` or ``south`` for strip number ``strip``."""
        if self.heading == "alternate":
            return "north" if strip % 2 == 0 else "south"
        return self.heading


@dataclass(frozen=True)
class LineScanParams(ScanParams):
    """A push-broom line scanner (``USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL``).

    Attributes (besides :class:`ScanParams`)
    ----------------------------------------
    lines : int
        Image lines per strip (one per line period ``gsd_m / ground speed``).
    exposure_range_s : (min, max)
        Line exposure limits of the auto-exposure (an electronic shutter: the exposure is
        also at most the line period; the label's exposure is the line exposure).

    Examples
    --------
    >>> p = LineScanParams(lines=400, samples=128)
    >>> round(p.focal_length_mm, 3), p.kind
    (14.0, 'line-scan')
    """

    lines: int = 2000
    exposure_range_s: tuple[float, float] = (0.002, 0.030)

    kind = "line-scan"

    def __post_init__(self):
        super().__post_init__()
        if self.lines < 16:
            raise ConfigError(f"line-scan: need >= 16 lines, got {self.lines}")


@dataclass(frozen=True)
class PushFrameParams(ScanParams):
    """A WAC-like push-frame camera, one band (``USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL``).

    Attributes (besides :class:`ScanParams`)
    ----------------------------------------
    n_framelets : int
        Framelets per strip.
    framelet_height : int
        Detector lines per framelet (ISD ``framelet_height``).
    num_lines_overlap : int
        Even number of framelet lines usgscsm removes (half at the top, half at the bottom;
        the image then has ``framelet_height - num_lines_overlap`` lines per framelet).
    ground_overlap_lines : float
        Lines by which consecutive framelets overlap on the ground: the spacecraft moves
        ``framelet_height - num_lines_overlap - ground_overlap_lines`` lines of ground per
        ``interframe_delay``.
    exposure_range_s : (min, max)
        Framelet exposure limits of the auto-exposure (also at most ``interframe_delay``).
    smear_samples : int
        Sub-exposures (times) per framelet, spread over the exposure (motion smear).
    """

    n_strips: int = 1
    gsd_m: float = 100.0
    pixel_pitch_mm: float = 0.009
    n_framelets: int = 100
    framelet_height: int = 14
    num_lines_overlap: int = 0
    ground_overlap_lines: float = 3.0
    exposure_range_s: tuple[float, float] = (0.002, 0.040)
    smear_samples: int = 2

    kind = "push-frame"

    def __post_init__(self):
        super().__post_init__()
        h = self.framelet_height - self.num_lines_overlap
        if self.num_lines_overlap % 2 or self.num_lines_overlap < 0 or h < 2 or self.n_framelets < 2:
            raise ConfigError(
                f"push-frame: need >= 2 framelets, an even num_lines_overlap >= 0 and >= 2 image lines per "
                f"framelet, got {self.n_framelets}, {self.num_lines_overlap}, {self.framelet_height}"
            )
        if not 0.0 <= self.ground_overlap_lines < h - 0.5 or self.smear_samples < 1:
            raise ConfigError(
                f"push-frame: ground_overlap_lines must be in [0, {h - 0.5}) and smear_samples >= 1, got "
                f"{self.ground_overlap_lines}, {self.smear_samples}"
            )

    @property
    def lines(self) -> int:
        """Image lines (``n_framelets * (framelet_height - num_lines_overlap)``)."""
        return self.n_framelets * (self.framelet_height - self.num_lines_overlap)

    @property
    def advance_lines(self) -> float:
        """Ground advance per framelet, lines."""
        return self.framelet_height - self.num_lines_overlap - self.ground_overlap_lines
