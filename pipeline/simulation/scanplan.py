"""Flight plan of simulated line-scan and push-frame strips, and their true / reported cameras.

A strip (:class:`StripPlan`) flies a polar great circle along a meridian at the altitude of its
:class:`~pipeline.simulation.scanparams.ScanParams`, with the frame survey's ground speed. Its
**true** camera (:func:`true_scan_camera`) has usgscsm's uniform tables (body-fixed): positions
and velocities of the circular orbit, and camera-to-body quaternions of the nadir attitude
(camera ``+Z`` down, ``+Y`` along the flight, ``+X = Y x Z`` across, i.e. increasing samples)
times the strip's :class:`~pipeline.simulation.jitter.PointingJitter`, sampled densely enough
that the Lagrange interpolation holds the jitter to ~1e-12 rad.

The **reported** ISD (:func:`reported_scan_isd`, written as the strip's sidecar) is the true
geometry (with the jitter, unless ``jitter_in_isd=False``) plus a pointing error constant +
linear in normalised time, ``tau = t / half_duration_s`` (``t`` relative to the centre time)::

    cam_to_body_reported(t) = cam_to_body_true(t) @ R(c0 + c1 * tau)        (rotation vectors, radians)
    position_reported(t)    = position_true(t) + p0

evaluated at the table nodes (the ISD carries tables only; between nodes the tables'
interpolation, < 1e-9 rad from the formula). ``ScanCamera.with_pointing_correction(-[c0, c1],
-p0)`` of the reported camera is the true camera: what a bundle adjustment with
``CKDEGREE = 1`` recovers. The ISD has no ``farside.scan_corrections`` block: readers see
plain tables, as from a mission's SPICE.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from pipeline.calibration.radiometry import AU_M
from pipeline.geometry.cameras.linescan import LineScanCamera
from pipeline.geometry.cameras.pushframe import PushFrameCamera
from pipeline.geometry.distortion import Distortion
from pipeline.geometry.ephemeris import CsmEphemeris
from pipeline.geometry.grid import MOON_RADIUS_M
from pipeline.geometry.scan_math import rotvec_matrices
from pipeline.simulation.jitter import PointingJitter
from pipeline.simulation.orbit import ORBIT_SPEED_M_S, SUN_RATE_DEG_PER_DAY, _format_time, enu, sun_position
from pipeline.simulation.photometry import lunar_lambert
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams, ScanParams

__all__ = ["STRIP_PREFIX", "StripPlan", "plan_strips", "reported_scan_isd", "true_scan_camera"]

STRIP_PREFIX = {"line-scan": "LS", "push-frame": "PF"}
"""File-stem prefix of each kind: ``LS_S0``, ``PF_S0``..."""

NAME_SENSOR = {"line-scan": "FARSIDE_SIM_LINESCAN", "push-frame": "FARSIDE_SIM_PUSHFRAME"}
INSTRUMENT_ID = {"line-scan": "FSL", "push-frame": "FSP"}
ORBIT_GAP_S = 7200.0
"""Time between consecutive strips (one orbit)."""


@dataclass(frozen=True)
class StripPlan:
    """Everything decided for one strip (degrees, metres, seconds).

    Attributes
    ----------
    id : str
        File stem, ``LS_S<strip>`` or ``PF_S<strip>``.
    kind : {"line-scan", "push-frame"}
    strip : int
    format, byte_order : str
    time_s : float
        Centre ephemeris time (ISD ``center_ephemeris_time``), seconds after J2000.
    start_time : str
        UTC of the first line (line scan) or first framelet exposure start (push frame).
    exposure_s : float
        Line exposure (line scan; at most the line period) or framelet exposure.
    period_s : float
        Line period (line scan, ``line_scan_rate``) or ``interframe_delay`` (push frame).
    lines, samples : int
    nadir_lon_deg, nadir_lat_deg : float
        Ground point under the spacecraft at the centre time.
    altitude_m : float
    heading : {"north", "south"}
    sun_lon_deg, sun_lat_deg : float
    jitter : dict
        :meth:`PointingJitter.to_dict`.
    pointing_error_deg : ((3,), (3,))
        ``c0`` and ``c1`` of the reported ISD's pointing error (rotation vectors, camera
        frame, degrees; see the module docstring).
    position_error_m : ((3,),)
        ``p0``: constant body-fixed offset of the reported positions.
    n_framelets : int
        Framelets (push frame; 0 for a line scan).
    """

    id: str
    kind: str
    strip: int
    format: str
    byte_order: str
    time_s: float
    start_time: str
    exposure_s: float
    period_s: float
    lines: int
    samples: int
    nadir_lon_deg: float
    nadir_lat_deg: float
    altitude_m: float
    heading: str
    sun_lon_deg: float
    sun_lat_deg: float
    jitter: dict[str, Any]
    pointing_error_deg: tuple[tuple[float, float, float], tuple[float, float, float]]
    position_error_m: tuple[tuple[float, float, float]]
    n_framelets: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StripPlan:
        """A strip plan from :meth:`to_dict` output (extra keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["pointing_error_deg"] = tuple(tuple(r) for r in kw["pointing_error_deg"])
        kw["position_error_m"] = tuple(tuple(r) for r in kw["position_error_m"])
        return cls(**kw)

    @property
    def half_duration_s(self) -> float:
        """Half of ``lines * period_s`` (line scan) or of ``n_framelets * period_s`` (push frame)."""
        return 0.5 * (self.n_framelets or self.lines) * self.period_s


# ----------------------------------------------------------------------------- orbit
def _orbit(strip: StripPlan, t_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (m) and velocities (m/s), body-fixed, of the strip's circular polar orbit."""
    r = MOON_RADIUS_M + strip.altitude_m
    omega = ORBIT_SPEED_M_S / MOON_RADIUS_M * (1.0 if strip.heading == "north" else -1.0)
    lon = math.radians(strip.nadir_lon_deg)
    phi = math.radians(strip.nadir_lat_deg) + omega * np.asarray(t_rel, dtype=float)
    c, s = np.cos(phi), np.sin(phi)
    pos = r * np.stack([c * math.cos(lon), c * math.sin(lon), s], axis=-1)
    vel = r * omega * np.stack([-s * math.cos(lon), -s * math.sin(lon), c], axis=-1)
    return pos, vel


def _nadir_attitude(pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """``cam_to_body`` (..., 3, 3): ``Z`` to nadir, ``Y`` along the flight, ``X = Y x Z``."""
    z = -pos / np.linalg.norm(pos, axis=-1, keepdims=True)
    y = vel - np.sum(vel * z, axis=-1, keepdims=True) * z
    y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1)


def _quaternions(rot: np.ndarray) -> np.ndarray:
    """``(x, y, z, w)`` quaternions of rotation matrices, signs continuous along the table."""
    q = Rotation.from_matrix(rot).as_quat()
    flips = np.concatenate([[1.0], np.sign(np.sum(q[1:] * q[:-1], axis=1))])
    return q * np.cumprod(np.where(flips == 0, 1.0, flips))[:, None]


def _tables(strip: StripPlan, params: ScanParams, with_jitter: bool, sun_distance_au: float) -> CsmEphemeris:
    half_s = strip.half_duration_s
    jitter = PointingJitter.from_dict(strip.jitter)
    spacing = params.node_spacing_s or min(jitter.min_period_s / 20.0, 2.0 * half_s / 200.0)
    margin = max(0.1 * half_s, 8.0 * spacing)
    span = half_s + margin
    m = math.ceil(2.0 * span / spacing) + 1
    t_q = np.linspace(-span, span, m)
    pos_q, vel_q = _orbit(strip, t_q)
    rot = _nadir_attitude(pos_q, vel_q)
    if with_jitter:
        rot = rot @ rotvec_matrices(jitter.rotvec_rad(t_q))
    n = max(25, math.ceil(2.0 * span / 1.0) + 1)
    t_p = np.linspace(-span, span, n)
    pos, vel = _orbit(strip, t_p)
    sun = sun_position(strip.sun_lon_deg, strip.sun_lat_deg, sun_distance_au)
    t0 = strip.time_s
    return CsmEphemeris(
        center_time=t0, pos_start=t0 - span, pos_stop=t0 + span, positions=pos, velocities=vel,
        quat_start=t0 - span, quat_stop=t0 + span, quaternions=_quaternions(rot),
        sun_positions=np.broadcast_to(sun, pos.shape), sun_velocities=np.zeros(pos.shape),
    )  # fmt: skip


def true_scan_camera(strip: StripPlan, params: ScanParams, *, jitter: bool = True, sun_distance_au: float = 1.0):
    """The camera that really took ``strip`` (``jitter=False``: its smooth nadir attitude).

    Returns
    -------
    LineScanCamera or PushFrameCamera
    """
    pitch = params.pixel_pitch_mm
    common = {
        "samples": strip.samples, "focal_length_mm": params.focal_length_mm,
        "focal2pixel_lines": (0.0, 0.0, 1.0 / pitch), "focal2pixel_samples": (0.0, 1.0 / pitch, 0.0),
        "radii_m": (MOON_RADIUS_M, MOON_RADIUS_M), "distortion": Distortion.radial(params.radial_k),
        "name_sensor": NAME_SENSOR[strip.kind], "name_platform": "FARSIDE_SIM_ORBITER",
        "image_identifier": strip.id, "look_direction": 1,
    }  # fmt: skip
    eph = _tables(strip, params, jitter, sun_distance_au)
    half = strip.half_duration_s
    if strip.kind == "line-scan":
        cam = LineScanCamera(
            lines=strip.lines, detector_center=(0.0, strip.samples / 2.0), ephemeris=eph,
            line_scan_rate=((0.5, -half, strip.period_s),), starting_time_s=strip.time_s - half, **common,
        )  # fmt: skip
    else:
        assert isinstance(params, PushFrameParams)
        n = strip.n_framelets
        start = strip.time_s - 0.5 * strip.exposure_s - 0.5 * (n - 1) * strip.period_s
        cam = PushFrameCamera(
            lines=strip.lines, detector_center=(params.framelet_height / 2.0, strip.samples / 2.0), ephemeris=eph,
            starting_time_s=start, exposure_duration=strip.exposure_s, interframe_delay=strip.period_s,
            framelet_height=params.framelet_height, num_lines_overlap=params.num_lines_overlap, **common,
        )  # fmt: skip
    return cam


def reported_scan_isd(strip: StripPlan, params: ScanParams, true_cam, *, sun_distance_au: float = 1.0) -> dict:
    """The ALE ISD written as the strip's sidecar: true geometry + the pointing (and position)
    error of ``strip`` baked into plain tables (see the module docstring)."""
    base = true_cam if params.jitter_in_isd else true_scan_camera(
        strip, params, jitter=False, sun_distance_au=sun_distance_au)
    rot = np.radians(np.asarray(strip.pointing_error_deg, dtype=float))
    pos = np.asarray(strip.position_error_m, dtype=float)
    isd = base.with_pointing_correction(rot, pos if np.any(pos) else None).to_isd()
    isd["farside"] = {"look_direction": int(true_cam.look_direction)}  # plain tables, no correction block
    return isd


# ----------------------------------------------------------------------------- planning
def _exposure(params, rng, sun_lon, sun_lat, lon, lat, radiometry, surface_params, law, period) -> float:
    """Auto-exposure: highland albedo at the strip centre (nadir view) at ``target_dn``."""
    _, _, up = enu(math.radians(lon), math.radians(lat))
    inc = float(np.arccos(np.clip(np.dot(up, sun_position(sun_lon, sun_lat, 1.0) / AU_M), -1.0, 1.0)))
    albedo = surface_params.highland_albedo
    iof = float(lunar_lambert(albedo, inc, 0.0, radiometry.lunar_lambert_l) if law is None
                else albedo * law(np.array(inc), np.array(0.0), np.array(inc)))  # fmt: skip
    rate = radiometry.responsivity * iof * radiometry.solar_irradiance / (np.pi * radiometry.sun_distance_au**2)
    t = radiometry.target_dn / max(rate, 1e-9) * rng.uniform(0.8, 1.25)
    lo, hi = params.exposure_range_s
    return float(np.clip(round(t * 1e4) / 1e4, lo, min(hi, math.floor(period * 1e4) / 1e4)))


def plan_strips(
    params: LineScanParams | PushFrameParams,
    *,
    seed: int,
    center_deg: tuple[float, float],
    start_time_s: float,
    formats: tuple[str, ...],
    incidence_deg: tuple[float, float],
    radiometry,
    surface_params,
    law=None,
) -> list[StripPlan]:
    """Plan ``params.n_strips`` strips side by side, centred on ``center_deg`` (lon, lat).

    Parameters
    ----------
    params : LineScanParams or PushFrameParams
    seed : int
        Seed of the Sun, jitter, exposures and reported-ISD errors.
    center_deg : (lon, lat)
        Ground point under the middle strip's centre, degrees.
    start_time_s : float
        Centre time of the first strip (seconds after J2000); each next strip one orbit later.
    formats : tuple of str
        File formats in turn (``params.formats`` when given).
    incidence_deg : (min, max)
        Solar incidence at the centre of the first strip drawn in this range; the Sun then
        drifts with the Moon's rotation (:data:`pipeline.simulation.orbit.SUN_RATE_DEG_PER_DAY`).
    radiometry : Radiometry
    surface_params : SurfaceParams
    law : PhotometricLaw, optional
        The scattering law the auto-exposure assumes (default: lunar-Lambert).

    Returns
    -------
    list of StripPlan
        In time order.
    """
    kind = params.kind
    rng = np.random.default_rng([int(seed), 0x5CA7, 1 if kind == "line-scan" else 2])
    lon_c, lat_c = center_deg
    swath_rad = params.samples * params.gsd_m / MOON_RADIUS_M
    step_deg = math.degrees((1.0 - params.overlap_across) * swath_rad) / math.cos(math.radians(lat_c))
    inc = rng.uniform(*incidence_deg) * (1.0 if rng.random() < 0.5 else -1.0)
    sun_lon0, sun_lat = lon_c + inc, float(rng.uniform(-1.5, 1.5))
    fmts = params.formats or formats
    lines = params.lines
    period = (params.gsd_m / ORBIT_SPEED_M_S if kind == "line-scan"
              else params.advance_lines * params.gsd_m / ORBIT_SPEED_M_S)  # fmt: skip
    duration = lines * period if kind == "line-scan" else params.n_framelets * period
    strips = []
    n_pds = {"pds3": 0, "pds4": 0}
    for j in range(params.n_strips):
        fmt = fmts[j % len(fmts)]
        byte_order = "MSB"
        if fmt in n_pds:
            byte_order = "MSB" if n_pds[fmt] % 2 == 0 else "LSB"
            n_pds[fmt] += 1
        t_c = round(start_time_s + j * ORBIT_GAP_S, 3)
        sun_lon = sun_lon0 - SUN_RATE_DEG_PER_DAY * j * ORBIT_GAP_S / 86400.0
        lon = lon_c + (j - (params.n_strips - 1) / 2.0) * step_deg
        jit = (PointingJitter.from_seed(rng, amplitude_deg=params.jitter_deg, drift_deg=params.jitter_drift_deg,
                                        duration_s=duration, n_terms=params.jitter_terms,
                                        period_fraction=params.jitter_period_fraction)
               if params.jitter_deg > 0 or params.jitter_drift_deg > 0
               else PointingJitter.none(0.5 * duration))  # fmt: skip
        c0 = rng.uniform(*params.pointing_error_deg, 3) * rng.choice([-1.0, 1.0], 3)
        c1 = rng.uniform(*params.pointing_rate_deg, 3) * rng.choice([-1.0, 1.0], 3)
        pdir = rng.normal(size=3)
        p0 = pdir / np.linalg.norm(pdir) * params.position_error_m
        exposure = _exposure(params, rng, sun_lon, sun_lat, lon, lat_c, radiometry, surface_params, law, period)
        n_framelets = params.n_framelets if kind == "push-frame" else 0
        if n_framelets:
            first = t_c - 0.5 * (params.n_framelets - 1) * period - 0.5 * exposure
        else:
            first = t_c - 0.5 * lines * period
        strips.append(StripPlan(
            id=f"{STRIP_PREFIX[kind]}_S{j}", kind=kind, strip=j, format=fmt, byte_order=byte_order, time_s=t_c,
            start_time=_format_time(round(first, 3)), exposure_s=exposure, period_s=period, lines=lines,
            samples=params.samples, nadir_lon_deg=round(lon, 9), nadir_lat_deg=round(lat_c, 9),
            altitude_m=float(params.altitude_m), heading=params.heading_of(j), sun_lon_deg=round(sun_lon, 6),
            sun_lat_deg=round(sun_lat, 6), jitter=jit.to_dict(), n_framelets=n_framelets,
            pointing_error_deg=(tuple(round(float(v), 6) for v in c0), tuple(round(float(v), 6) for v in c1)),
            position_error_m=(tuple(round(float(v), 3) for v in p0),),
        ))  # fmt: skip
    return strips
