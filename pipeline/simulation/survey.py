"""Flight plan of the simulated survey: strips of frames over the far side.

The spacecraft flies polar orbits: each **strip** runs north-south along a meridian, and
strips are side by side in longitude, the middle ones straddling 180 deg E. Odd strips
fly south (their images are rotated by 180 deg relative to the north-bound ones). The
plan fixes, for every frame, the true camera (position, attitude with a smooth
off-nadir wobble, Sun), the exposure and the errors written into its *reported* ISD.

The camera, its attitudes and the Sun are in :mod:`pipeline.simulation.orbit`, the
coverage checks in :mod:`pipeline.simulation.coverage` (their names are importable from
here too). Angles are degrees at this edge (arguments, truth files) and radians inside.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.geometry import FrameCamera
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.rotation import rotvec_to_matrix
from pipeline.simulation.coverage import coverage_fraction, overlap_fraction
from pipeline.simulation.oblique import tilt_frames
from pipeline.simulation.orbit import (
    J2000_UTC,
    MAX_WOBBLE_SHIFT,
    MISSION_START_UTC,
    ORBIT_SPEED_M_S,
    SUN_RATE_DEG_PER_DAY,
    CameraSpec,
    _format_time,
    enu,
    nadir_attitude,
    nadir_camera,
    sun_position,
)
from pipeline.simulation.sensor import Radiometry, lunar_lambert
from pipeline.simulation.surface import SurfaceParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FramePlan:
    """Everything decided for one light frame (angles in degrees, lengths in metres).

    Attributes
    ----------
    id : str
        File stem, e.g. ``FS_S1_F03``.
    strip, index : int
        Strip number and position along the strip (0 = first in time).
    format : str
        ``pds3``, ``pds4``, ``fits`` or ``tiff``.
    byte_order : str
        ``MSB`` or ``LSB`` (PDS3/PDS4 sample byte order).
    time_s : float
        Ephemeris time, seconds after J2000 (UTC, leap seconds ignored).
    start_time : str
        ISO-8601 UTC of ``time_s`` (``YYYY-MM-DDTHH:MM:SS.sss``).
    exposure_s : float
    nadir_lon_deg, nadir_lat_deg : float
        Planned ground point under the spacecraft.
    altitude_m : float
    heading : str
    wobble_deg : (3,)
        Off-nadir attitude: rotation vector in the camera frame, degrees.
    sun_lon_deg, sun_lat_deg : float
        Sub-solar point.
    pointing_error_deg : (3,)
        Rotation vector (camera frame, degrees) applied to the true camera to make the
        reported one: ``cam_to_body_reported = cam_to_body_true @ R(error)``.
    position_error_m : (3,)
        Added to the true position (body-fixed metres) in the reported ISD.
    """

    id: str
    strip: int
    index: int
    format: str
    byte_order: str
    time_s: float
    start_time: str
    exposure_s: float
    nadir_lon_deg: float
    nadir_lat_deg: float
    altitude_m: float
    heading: str
    wobble_deg: tuple[float, float, float]
    sun_lon_deg: float
    sun_lat_deg: float
    pointing_error_deg: tuple[float, float, float]
    position_error_m: tuple[float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict (degrees, metres, seconds)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FramePlan:
        """A frame plan from :meth:`to_dict` output."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})



@dataclass
class SurveyPlan:
    """The whole survey: region, camera, frames.

    Attributes
    ----------
    seed : int
    region_deg : (lon_min, lon_max, lat_min, lat_max)
        Region the frames cover, degrees (longitudes continuous).
    size : (lines, samples)
    gsd_m, altitude_m : float
        Nominal ground sample distance and altitude.
    overlap_along, overlap_across : float
        Planned overlaps between neighbours (fractions of a frame, before the wobble).
    strip_lons_deg : list of float
        Meridian of each strip.
    wobble_deg : float
        Largest off-nadir wobble per axis actually used, degrees.
    camera : CameraSpec
    radiometry : Radiometry
    frames : list of FramePlan
    extras : dict
        What non-default options planned (e.g. ``oblique``: per frame target, emission and
        look side); not part of :meth:`to_dict`.
    """

    seed: int
    region_deg: tuple[float, float, float, float]
    size: tuple[int, int]
    gsd_m: float
    altitude_m: float
    overlap_along: float
    overlap_across: float
    strip_lons_deg: list[float]
    wobble_deg: float
    camera: CameraSpec
    radiometry: Radiometry
    frames: list[FramePlan] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def true_camera(self, frame: FramePlan) -> FrameCamera:
        """The camera that really took ``frame``."""
        spec = self.camera
        lon, lat = math.radians(frame.nadir_lon_deg), math.radians(frame.nadir_lat_deg)
        _, _, u = enu(lon, lat)
        rot = nadir_attitude(lon, lat, frame.heading) @ rotvec_to_matrix(np.radians(frame.wobble_deg))
        cam = FrameCamera.build(
            lines=self.size[0],
            samples=self.size[1],
            focal_length_mm=spec.focal_length_mm,
            pixel_pitch_mm=spec.pixel_pitch_mm,
            position_m=(MOON_RADIUS_M + frame.altitude_m) * u,
            cam_to_body=rot,
            radial_k=spec.radial_k,
            sun_position_m=sun_position(frame.sun_lon_deg, frame.sun_lat_deg, self.radiometry.sun_distance_au),
            time_s=frame.time_s,
            name_sensor=spec.name_sensor,
            name_platform=spec.name_platform,
        )
        return dataclasses.replace(cam, image_identifier=frame.id)

    def reported_camera(self, frame: FramePlan) -> FrameCamera:
        """The camera written into the frame's ISD sidecar (with pointing/position errors)."""
        return self.true_camera(frame).with_pointing_correction(
            np.radians(frame.pointing_error_deg), np.asarray(frame.position_error_m)
        )

    def to_dict(self) -> dict[str, Any]:
        """The plan without its frames, JSON-serialisable."""
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("frames", "camera", "radiometry", "extras")}
        d["camera"] = self.camera.to_dict()
        d["radiometry"] = self.radiometry.to_dict()
        return d


def _fit_spans(n: int, span_km: float, overlap: float, margin: float) -> float:
    """Frame ground length (km) so ``n`` frames with ``overlap`` cover ``span_km``."""
    return span_km / ((1.0 - 2.0 * margin) + (n - 1) * (1.0 - overlap))


def plan_survey(
    *,
    seed: int = 0,
    n_strips: int = 3,
    frames_per_strip: int = 6,
    size: tuple[int, int] = (320, 320),
    region: tuple[float, float, float, float] | None = None,
    gsd_m: float = 180.0,
    overlap_along: float = 0.40,
    overlap_across: float = 0.40,
    wobble_deg: float = 2.0,
    incidence_deg: tuple[float, float] = (35.0, 55.0),
    exposure_range_s: tuple[float, float] = (0.005, 0.020),
    pointing_error_deg: tuple[float, float] = (0.1, 0.3),
    position_error_m: float = 500.0,
    formats: tuple[str, ...] = ("pds3", "pds4", "fits", "tiff"),
    camera: CameraSpec | None = None,
    radiometry: Radiometry | None = None,
    surface_params: SurfaceParams | None = None,
    law=None,
    oblique_deg: tuple[float, float] | None = None,
    oblique_side: str = "alternate",
    max_wobble_shift: float = MAX_WOBBLE_SHIFT,
) -> SurveyPlan:
    """Plan a survey of ``n_strips`` north-south strips of ``frames_per_strip`` frames.

    Parameters
    ----------
    seed : int
        Seed of the wobble, Sun, exposures and reported-ISD errors.
    n_strips, frames_per_strip : int
    size : (lines, samples)
        Frame size in pixels.
    region : (lon_min, lon_max, lat_min, lat_max), optional
        Degrees to cover (longitudes continuous, e.g. ``(176, 184, -4, 4)``). The ground
        sample distance then follows from the region and the overlaps (``gsd_m`` is
        ignored). Default: the area that ``gsd_m`` and the overlaps give, centred on
        (0 N, 180 E).
    gsd_m : float
        Nominal ground sample distance (m) when ``region`` is not given.
    overlap_along, overlap_across : float
        Minimum planned overlap (fraction of a frame) between consecutive frames of a strip
        and between neighbouring strips.
    wobble_deg : float
        Largest off-nadir wobble per axis, degrees (smooth along a strip); reduced for
        small frames so it shifts a frame by at most ``max_wobble_shift`` of its size.
    incidence_deg : (min, max)
        Range of the solar incidence at the region centre (one value per strip).
    exposure_range_s : (min, max)
        Exposure limits of the auto-exposure, seconds.
    pointing_error_deg : (min, max)
        Size of the per-axis pointing error of the reported ISDs (random sign), degrees.
    position_error_m : float
        Size of the position error of the reported ISDs (random direction), metres.
    formats : tuple of str
        File formats, assigned to the frames in turn.
    law : PhotometricLaw, optional
        Scattering law the auto-exposure assumes (default: lunar-Lambert, the radiometry's L).
    oblique_deg : (min, max), optional
        Oblique views: emission at each frame's ground target, degrees, drawn once per strip
        (e.g. ``(30, 45)``); the spacecraft moves across track and rolls
        (:func:`pipeline.simulation.oblique.tilt_frames`; per-frame targets in
        ``plan.extras["oblique"]``). Default: nadir frames.
    oblique_side : {"alternate", "east", "west"}
        Look direction of oblique strips.
    max_wobble_shift : float
        Largest shift of a frame by the wobble, fraction of its size (default 0.15). The
        measured overlaps are the planned ones within about twice this: use 0.02 to hold
        small frames (128^2, 256^2) at 20-30 % overlap.

    Raises
    ------
    ConfigError
        Impossible parameters (no strips, overlaps outside [0, 0.9), altitude out of range).
    """
    if n_strips < 1 or frames_per_strip < 1:
        raise ConfigError(f"need at least one strip and one frame per strip, got {n_strips} x {frames_per_strip}")
    for name, value in (("overlap_along", overlap_along), ("overlap_across", overlap_across)):
        if not 0.0 <= value < 0.9:
            raise ConfigError(f"{name} must be in [0, 0.9), got {value}")
    known = {"pds3", "pds4", "fits", "tiff"}
    if not formats or set(formats) - known:
        raise ConfigError(f"formats must be a non-empty subset of {sorted(known)}, got {formats}")
    spec = camera or CameraSpec()
    rad = radiometry or Radiometry()
    sp = surface_params or SurfaceParams()
    lines, samples = int(size[0]), int(size[1])
    rng = np.random.default_rng([int(seed), 0x5C0FFEE])
    r_km = MOON_RADIUS_M / 1000.0
    # margin: fraction of a frame the wobble may shift it by; small frames get a smaller
    # wobble so that it never moves a frame by more than MAX_WOBBLE_SHIFT of its size
    frame_rad = min(lines, samples) * spec.ifov_rad
    if not 0.0 <= max_wobble_shift < 0.5:
        raise ConfigError(f"max_wobble_shift must be in [0, 0.5), got {max_wobble_shift}")
    wobble_deg = min(float(wobble_deg), math.degrees(math.atan(max_wobble_shift * frame_rad)))
    margin = math.tan(math.radians(wobble_deg)) / frame_rad
    if region is None:
        w_km = samples * gsd_m / 1000.0
        h_km = lines * gsd_m / 1000.0
        span_x = w_km * ((1 - 2 * margin) + (n_strips - 1) * (1 - overlap_across))
        span_y = h_km * ((1 - 2 * margin) + (frames_per_strip - 1) * (1 - overlap_along))
        dlat = math.degrees(span_y / r_km)
        dlon = math.degrees(span_x / r_km)
        region = (180.0 - dlon / 2, 180.0 + dlon / 2, -dlat / 2, dlat / 2)
    lon0, lon1, lat0, lat1 = (float(v) for v in region)
    if not (lon1 > lon0 and lat1 > lat0 and -80 <= lat0 and lat1 <= 80):
        raise ConfigError(f"bad survey region {region}: need lon_min < lon_max and -80 <= lat_min < lat_max <= 80")
    lat_c = 0.5 * (lat0 + lat1)
    lon_c = 0.5 * (lon0 + lon1)
    span_x_km = math.radians(lon1 - lon0) * r_km * math.cos(math.radians(max(abs(lat0), abs(lat1))))
    span_y_km = math.radians(lat1 - lat0) * r_km
    w_km = _fit_spans(n_strips, span_x_km, overlap_across, margin)
    h_km = _fit_spans(frames_per_strip, span_y_km, overlap_along, margin)
    gsd = 1000.0 * max(w_km / samples, h_km / lines)
    altitude = gsd / spec.ifov_rad
    if not 10_000.0 <= altitude <= 1_000_000.0:
        raise ConfigError(
            f"the survey needs an altitude of {altitude / 1000:.0f} km (GSD {gsd:.0f} m); "
            f"change the region, the frame size or the number of frames"
        )
    w_km, h_km = samples * gsd / 1000.0, lines * gsd / 1000.0
    # centres: evenly spaced so the outer frames (less the wobble margin) reach the edges
    cover_x = (1 - 2 * margin) * w_km
    cover_y = (1 - 2 * margin) * h_km
    step_x = (span_x_km - cover_x) / (n_strips - 1) if n_strips > 1 else 0.0
    step_y = (span_y_km - cover_y) / (frames_per_strip - 1) if frames_per_strip > 1 else 0.0
    coslat = math.cos(math.radians(max(abs(lat0), abs(lat1))))
    strip_lons = [lon_c + math.degrees((j - (n_strips - 1) / 2) * step_x / r_km) / coslat for j in range(n_strips)]
    frame_lats = [
        lat_c + math.degrees((k - (frames_per_strip - 1) / 2) * step_y / r_km) for k in range(frames_per_strip)
    ]
    planned_across = 1 - step_x / w_km if n_strips > 1 else 1.0
    planned_along = 1 - step_y / h_km if frames_per_strip > 1 else 1.0

    # Sun: one incidence per strip, alternating morning/afternoon, in time order
    inc_lo, inc_hi = incidence_deg
    incs = np.linspace(inc_lo, inc_hi, n_strips) if n_strips > 1 else np.array([0.5 * (inc_lo + inc_hi)])
    incs = rng.permutation(incs)
    sides = np.where(np.arange(n_strips) % 2 == 0, 1.0, -1.0) * (1 if rng.random() < 0.5 else -1)
    offsets = np.sort(incs * sides)[::-1]  # sub-solar longitude decreases with time
    sun_lons = [lon_c + float(o) for o in offsets]
    sun_lats = [float(rng.uniform(-1.5, 1.5)) for _ in range(n_strips)]
    t0 = (MISSION_START_UTC - J2000_UTC).total_seconds()
    strip_t = [t0 + (sun_lons[0] - sl) / SUN_RATE_DEG_PER_DAY * 86400.0 + 3600.0 * j for j, sl in enumerate(sun_lons)]
    dt_frame = step_y * 1000.0 / ORBIT_SPEED_M_S if frames_per_strip > 1 else 0.0

    frames: list[FramePlan] = []
    n_pds = {"pds3": 0, "pds4": 0}
    for j in range(n_strips):
        heading = "north" if j % 2 == 0 else "south"
        lats = frame_lats if heading == "north" else frame_lats[::-1]
        # smooth wobble: a slow sinusoid per axis plus a little jitter
        amp = rng.uniform(0.4, 1.0, 3) * wobble_deg
        period = rng.uniform(4.0, 10.0, 3)
        phase = rng.uniform(0, 2 * np.pi, 3)
        for k, lat in enumerate(lats):
            gi = len(frames)
            fmt = formats[gi % len(formats)]
            byte_order = "MSB"
            if fmt in ("pds3", "pds4"):  # alternate MSB/LSB within each PDS format
                byte_order = "MSB" if n_pds[fmt] % 2 == 0 else "LSB"
                n_pds[fmt] += 1
            wob = amp * np.sin(2 * np.pi * k / period + phase) + rng.normal(0, 0.05 * wobble_deg, 3)
            wob = np.clip(wob, -wobble_deg, wobble_deg)
            err_mag = rng.uniform(*pointing_error_deg, 3)
            err = err_mag * rng.choice([-1.0, 1.0], 3)
            pdir = rng.normal(size=3)
            pos_err = pdir / np.linalg.norm(pdir) * position_error_m
            time_s = strip_t[j] + k * dt_frame
            frame = FramePlan(
                id=f"FS_S{j}_F{k:02d}",
                strip=j,
                index=k,
                format=fmt,
                byte_order=byte_order,
                time_s=round(time_s, 3),
                start_time=_format_time(round(time_s, 3)),
                exposure_s=0.0,
                nadir_lon_deg=round(strip_lons[j], 9),
                nadir_lat_deg=round(lat, 9),
                altitude_m=round(altitude, 3),
                heading=heading,
                wobble_deg=tuple(round(float(v), 6) for v in wob),
                sun_lon_deg=round(sun_lons[j], 6),
                sun_lat_deg=round(sun_lats[j], 6),
                pointing_error_deg=tuple(round(float(v), 6) for v in err),
                position_error_m=tuple(round(float(v), 3) for v in pos_err),
            )
            frames.append(frame)
    plan = SurveyPlan(
        seed=int(seed),
        region_deg=(lon0, lon1, lat0, lat1),
        size=(lines, samples),
        gsd_m=gsd,
        altitude_m=altitude,
        overlap_along=round(planned_along, 4),
        overlap_across=round(planned_across, 4),
        strip_lons_deg=[round(v, 9) for v in strip_lons],
        wobble_deg=round(wobble_deg, 6),
        camera=spec,
        radiometry=rad,
    )
    if oblique_deg is not None:

        frames, plan.extras["oblique"] = tilt_frames(frames, emission_deg=oblique_deg, side=oblique_side, seed=seed)
    # auto-exposure: aim highland albedo at the frame centre at target_dn, with jitter
    t_lo, t_hi = exposure_range_s
    for i, frame in enumerate(frames):
        cam = plan.true_camera(frame)
        xyz, _ = cam.image_to_ground_hit(np.array(lines / 2), np.array(samples / 2))
        inc, emi, pha = cam.illumination_angles(xyz)
        if law is None:
            iof = float(lunar_lambert(sp.highland_albedo, inc, emi, rad.lunar_lambert_l))
        else:
            iof = float(sp.highland_albedo * law(inc, emi, pha))
        rate = rad.responsivity * iof * rad.solar_irradiance / (np.pi * rad.sun_distance_au**2)
        t = rad.target_dn / max(rate, 1e-9) * rng.uniform(0.8, 1.25)
        t = float(np.clip(round(t * 1e4) / 1e4, t_lo, t_hi))  # 0.1 ms steps
        frames[i] = dataclasses.replace(frame, exposure_s=t)
    plan.frames = frames
    log.info(
        "survey plan: %d strips x %d frames of %dx%d px, GSD %.0f m, altitude %.0f km, region %s",
        n_strips, frames_per_strip, lines, samples, gsd, altitude / 1000, plan.region_deg,
    )
    return plan


__all__ = [
    "J2000_UTC",
    "MAX_WOBBLE_SHIFT",
    "MISSION_START_UTC",
    "CameraSpec",
    "FramePlan",
    "SurveyPlan",
    "coverage_fraction",
    "enu",
    "nadir_attitude",
    "nadir_camera",
    "overlap_fraction",
    "plan_survey",
    "sun_position",
]
