"""Flight plan of the simulated survey: strips of frames over the far side.

The spacecraft flies polar orbits: each **strip** runs north-south along a meridian, and
strips are side by side in longitude, the middle ones straddling 180 deg E. Odd strips
fly south (their images are rotated by 180 deg relative to the north-bound ones). The
plan fixes, for every frame, the true camera (position, attitude with a smooth
off-nadir wobble, Sun), the exposure and the errors written into its *reported* ISD.

Geometry of the camera: +Z looks down, +X along increasing samples, +Y along increasing
lines (``FrameCamera.build``); the altitude follows from the requested ground sample
distance: ``altitude = gsd * focal_length / pixel_pitch``.

Angles are degrees at this edge (arguments, truth files) and radians inside.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from pipeline.calibration.radiometry import AU_M
from pipeline.errors import ConfigError
from pipeline.geometry import FrameCamera
from pipeline.geometry.body import lonlat_to_xyz_deg
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.rotation import rotvec_to_matrix
from pipeline.simulation.sensor import Radiometry, lunar_lambert
from pipeline.simulation.surface import SurfaceParams

log = logging.getLogger(__name__)

J2000_UTC = datetime(2000, 1, 1, 12, 0, 0, tzinfo=UTC)
"""Origin of the ISD ephemeris times (``center_ephemeris_time``), taken as UTC (leap
seconds ignored): ``time = J2000_UTC + timedelta(seconds=time_s)``."""

MISSION_START_UTC = datetime(2031, 3, 14, 6, 0, 0, tzinfo=UTC)
"""Time of the first simulated frame."""

SUN_RATE_DEG_PER_DAY = 360.0 / 29.530589
"""Westward drift of the sub-solar longitude on the Moon (synodic month)."""

ORBIT_SPEED_M_S = 1600.0
"""Ground speed used to space the frames of a strip in time (m/s)."""

MAX_WOBBLE_SHIFT = 0.15
"""Largest shift of a frame by the off-nadir wobble, as a fraction of the frame."""


@dataclass(frozen=True)
class CameraSpec:
    """The simulated framing camera.

    Attributes
    ----------
    focal_length_mm, pixel_pitch_mm : float
        Optics (IFOV = pitch / focal length, radians).
    radial_k : (k0, k1, k2)
        usgscsm radial distortion (mm-based; ``k1`` in mm^-2): ~1.4 px at the corners of a
        320 x 320 frame.
    name_sensor, name_platform : str
        Written into the ISDs (and ``INSTRUMENT_ID`` is ``instrument_id``).
    """

    focal_length_mm: float = 8.0
    pixel_pitch_mm: float = 0.014
    radial_k: tuple[float, float, float] = (0.0, 6.0e-4, 0.0)
    name_sensor: str = "FARSIDE_SIM_CAMERA"
    name_platform: str = "FARSIDE_SIM_ORBITER"
    instrument_id: str = "FSC"

    @property
    def ifov_rad(self) -> float:
        """Instantaneous field of view of one pixel, radians."""
        return self.pixel_pitch_mm / self.focal_length_mm

    def to_dict(self) -> dict[str, Any]:
        """The constants as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


def enu(lon_rad: float, lat_rad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local east, north and up unit vectors (body-fixed) at a longitude/latitude."""
    cl, sl = math.cos(lat_rad), math.sin(lat_rad)
    co, so = math.cos(lon_rad), math.sin(lon_rad)
    up = np.array([cl * co, cl * so, sl])
    east = np.array([-so, co, 0.0])
    north = np.array([-sl * co, -sl * so, cl])
    return east, north, up


def nadir_attitude(lon_rad: float, lat_rad: float, heading: str = "north") -> np.ndarray:
    """``cam_to_body`` of a camera looking straight down.

    ``heading="north"``: image top towards north (samples increase eastward, lines
    southward); ``"south"``: rotated by 180 deg (samples westward, lines northward).
    """
    e, n, u = enu(lon_rad, lat_rad)
    if heading == "north":
        cols = (e, -n, -u)
    elif heading == "south":
        cols = (-e, n, -u)
    else:
        raise ValueError(f"heading must be 'north' or 'south', got {heading!r}")
    return np.column_stack(cols)


def sun_position(lon_deg: float, lat_deg: float, distance_au: float = 1.0) -> np.ndarray:
    """Body-fixed Sun position (m) with the sub-solar point at ``(lon_deg, lat_deg)``."""
    _, _, u = enu(math.radians(lon_deg), math.radians(lat_deg))
    return u * distance_au * AU_M


def nadir_camera(
    lon_deg: float,
    lat_deg: float,
    *,
    lines: int = 64,
    samples: int = 64,
    gsd_m: float = 180.0,
    heading: str = "north",
    rotvec_rad=(0.0, 0.0, 0.0),
    sun_incidence_deg: float = 45.0,
    sun_azimuth_deg: float = 90.0,
    spec: CameraSpec | None = None,
    time_s: float = 0.0,
) -> FrameCamera:
    """A quick synthetic camera over ``(lon_deg, lat_deg)`` for tests and examples.

    Parameters
    ----------
    lon_deg, lat_deg : float
        Ground point under the spacecraft, degrees.
    lines, samples : int
        Image size.
    gsd_m : float
        Nadir ground sample distance, metres (sets the altitude).
    heading : {"north", "south"}
        Image orientation (see :func:`nadir_attitude`).
    rotvec_rad : (3,)
        Extra rotation in the camera frame (off-nadir pointing), radians.
    sun_incidence_deg, sun_azimuth_deg : float
        Sun direction at the nadir point: incidence from the vertical and azimuth
        clockwise from north (90: Sun in the east, i.e. morning).
    spec : CameraSpec, optional
    time_s : float
        Ephemeris time (seconds after J2000).

    Examples
    --------
    >>> cam = nadir_camera(180.0, 0.0)
    >>> round(cam.gsd_m())
    180
    """
    spec = spec or CameraSpec()
    lon, lat = math.radians(lon_deg), math.radians(lat_deg)
    altitude = gsd_m / spec.ifov_rad
    e, n, u = enu(lon, lat)
    inc, az = math.radians(sun_incidence_deg), math.radians(sun_azimuth_deg)
    sun_dir = math.cos(inc) * u + math.sin(inc) * (math.sin(az) * e + math.cos(az) * n)
    rot = nadir_attitude(lon, lat, heading) @ rotvec_to_matrix(np.asarray(rotvec_rad, float))
    return FrameCamera.build(
        lines=lines,
        samples=samples,
        focal_length_mm=spec.focal_length_mm,
        pixel_pitch_mm=spec.pixel_pitch_mm,
        position_m=(MOON_RADIUS_M + altitude) * u,
        cam_to_body=rot,
        radial_k=spec.radial_k,
        sun_position_m=sun_dir * AU_M,
        time_s=time_s,
        name_sensor=spec.name_sensor,
        name_platform=spec.name_platform,
    )


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


def _format_time(time_s: float) -> str:
    t = J2000_UTC + timedelta(seconds=time_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


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
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("frames", "camera", "radiometry")}
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
        small frames so it shifts a frame by at most ``MAX_WOBBLE_SHIFT`` of its size.
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
    wobble_deg = min(float(wobble_deg), math.degrees(math.atan(MAX_WOBBLE_SHIFT * frame_rad)))
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
    frame_lats = [lat_c + math.degrees((k - (frames_per_strip - 1) / 2) * step_y / r_km) for k in range(frames_per_strip)]
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
    # auto-exposure: aim highland albedo at the frame centre at target_dn, with jitter
    t_lo, t_hi = exposure_range_s
    for i, frame in enumerate(frames):
        cam = plan.true_camera(frame)
        xyz, _ = cam.image_to_ground_hit(np.array(lines / 2), np.array(samples / 2))
        inc, emi, _ = cam.illumination_angles(xyz)
        iof = float(lunar_lambert(sp.highland_albedo, inc, emi, rad.lunar_lambert_l))
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


# --------------------------------------------------------------------------- coverage checks
def overlap_fraction(cam_a: FrameCamera, cam_b, n: int = 24) -> float:
    """Fraction of frame A's ground footprint that frame B (or any of several) also sees.

    Parameters
    ----------
    cam_a : FrameCamera
    cam_b : FrameCamera or sequence of FrameCamera
        One camera, or several (their union: e.g. the whole neighbouring strip).
    n : int
        Sampled on an ``n x n`` grid of points of A, projected to the ground and back.

    Returns
    -------
    float
        0..1.
    """
    others = [cam_b] if isinstance(cam_b, FrameCamera) else list(cam_b)
    ll, ss = np.meshgrid((np.arange(n) + 0.5) * cam_a.lines / n, (np.arange(n) + 0.5) * cam_a.samples / n,
                         indexing="ij")
    xyz, hit = cam_a.image_to_ground_hit(ll, ss)
    seen = np.zeros(int(hit.sum()), bool)
    for cam in others:
        line, sample = cam.ground_to_image(xyz[hit])
        seen |= (line >= 0) & (line <= cam.lines) & (sample >= 0) & (sample <= cam.samples)
    return float(seen.sum()) / float(ll.size)


def coverage_fraction(cameras, region_deg: tuple[float, float, float, float], n: int = 60) -> float:
    """Fraction of a lon/lat region (degrees) seen by at least one camera (n x n samples)."""
    lon0, lon1, lat0, lat1 = region_deg
    lon, lat = np.meshgrid(np.linspace(lon0, lon1, n), np.linspace(lat0, lat1, n))
    xyz = lonlat_to_xyz_deg(lon, lat)
    seen = np.zeros(lon.shape, bool)
    for cam in cameras:
        line, sample = cam.ground_to_image(xyz)
        seen |= (line >= 0) & (line <= cam.lines) & (sample >= 0) & (sample <= cam.samples)
    return float(seen.mean())
