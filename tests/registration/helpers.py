"""A small synthetic survey with known truth for the registration tests.

Frames are rendered in memory by the simulation package (``render_iof``: the true
cameras looking at the analytic ``Surface``) plus a little Gaussian noise; the reported
cameras carry injected pointing errors. Everything is seeded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.frame import Frame, FrameMeta
from pipeline.geometry import FrameCamera
from pipeline.geometry.body import MOON_RADII_M, lonlat_to_xyz_deg
from pipeline.geometry.rotation import rotvec_to_matrix
from pipeline.simulation import Surface, plan_survey, render_iof

R = MOON_RADII_M[0]


def nadir_camera(lon_deg: float, lat_deg: float, *, altitude_m: float = 100_000.0, size: int = 200,
                 yaw_deg: float = 0.0, tilt_deg=(0.0, 0.0), focal_px: float = 1000.0,
                 radial_k1: float = 0.0) -> FrameCamera:
    """A camera above (lon, lat) looking down; samples east, lines south at yaw 0."""
    up = lonlat_to_xyz_deg(lon_deg, lat_deg) / R
    east = np.array([-math.sin(math.radians(lon_deg)), math.cos(math.radians(lon_deg)), 0.0])
    north = np.cross(up, east)
    base = np.stack([east, -north, -up], axis=1)  # columns: camera x, y, z in body frame
    rot = base @ rotvec_to_matrix([math.radians(tilt_deg[0]), math.radians(tilt_deg[1]), math.radians(yaw_deg)])
    pitch = 0.01
    sun = lonlat_to_xyz_deg(lon_deg + 40.0, lat_deg + 10.0) / R * 1.5e11
    return FrameCamera.build(
        lines=size, samples=size, focal_length_mm=focal_px * pitch, pixel_pitch_mm=pitch,
        position_m=up * (R + altitude_m), cam_to_body=rot, radial_k=(0.0, radial_k1, 0.0),
        sun_position_m=sun,
    )


def aimed_camera(tilt_deg: float, size: int = 160) -> FrameCamera:
    """A :func:`nadir_camera` at 100 km rolled by ``tilt_deg`` (emission about that much; the
    sign picks the side it looks from) whose frame centre sees 180 E, 0 N."""
    lon0 = 180.0 - math.degrees(math.tan(math.radians(tilt_deg)) * 100_000.0 / R)
    for _ in range(3):
        cam = nadir_camera(lon0, 0.0, size=size, tilt_deg=(0.0, tilt_deg))
        xyz, _ = cam.image_to_ground_hit(np.array([size / 2]), np.array([size / 2]))
        lon0 += 180.0 - math.degrees(math.atan2(xyz[0, 1], xyz[0, 0])) % 360.0
    return nadir_camera(lon0, 0.0, size=size, tilt_deg=(0.0, tilt_deg))


@dataclass
class Survey:
    frames: list[Frame]
    true: dict[str, FrameCamera]
    reported: dict[str, FrameCamera]
    errors: dict[str, np.ndarray]
    plan: object = None

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self.frames]


def make_survey(*, n_strips: int = 3, frames_per_strip: int = 3, size: int = 200,
                error_deg=(0.1, 0.3), position_error_m: float = 0.0, seed: int = 0,
                noise: float = 0.002, overlap: float = 0.45) -> Survey:
    """A small survey from the simulation package's planner (``plan_survey``: north-south
    strips across 180 E, off-nadir wobble, alternating headings, per-axis pointing errors of
    ``error_deg`` with random signs), rendered in memory as ideal I/F (``render_iof``) plus
    Gaussian noise of ``noise`` (I/F units)."""
    plan = plan_survey(seed=seed, n_strips=n_strips, frames_per_strip=frames_per_strip, size=(size, size),
                       pointing_error_deg=error_deg, position_error_m=position_error_m,
                       overlap_along=overlap, overlap_across=overlap)
    surf = Surface(seed=seed, region=plan.region_deg)
    rng = np.random.default_rng([seed, 7])
    frames, true, reported, errors = [], {}, {}, {}
    for fp in plan.frames:
        cam = plan.true_camera(fp)
        rep = plan.reported_camera(fp)
        scene = render_iof(cam, surf, supersample=2)
        data = scene.iof + rng.normal(0, noise, scene.iof.shape).astype(np.float32)
        meta = FrameMeta(id=fp.id, path=Path(f"/synthetic/{fp.id}.img"), format="tiff", shape=(size, size),
                         dtype="float32")
        frames.append(Frame(meta=meta, camera=rep, data=data.astype(np.float32), mask=~scene.on_body))
        true[fp.id], reported[fp.id] = cam, rep
        errors[fp.id] = np.radians(fp.pointing_error_deg)
    return Survey(frames, true, reported, errors, plan)


def misregistration_px(true: dict, adjusted: dict, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Per-point ground offsets of adjusted vs true cameras, in pixels of each frame's GSD.

    For an ``n x n`` grid of image points of every frame, the ground point under the
    adjusted camera is compared with the one under the true camera, in the local
    east/north plane. Returns ``(relative, common)``: the offset magnitudes (pixels) after
    removing the mean offset of the whole network, and that mean offset (2,) in pixels.
    """
    offsets, gsds = [], []
    for fid, cam in true.items():
        if fid not in adjusted:
            continue
        u = (np.arange(n) + 0.5) / n
        ll, ss = np.meshgrid(u * cam.lines, u * cam.samples, indexing="ij")
        xt = cam.image_to_ground(ll, ss).reshape(-1, 3)
        xa = adjusted[fid].image_to_ground(ll, ss).reshape(-1, 3)
        up = xt / np.linalg.norm(xt, axis=1, keepdims=True)
        east = np.stack([-up[:, 1], up[:, 0], np.zeros(len(up))], 1)
        east /= np.linalg.norm(east, axis=1, keepdims=True)
        north = np.cross(up, east)
        d = xa - xt
        offsets.append(np.stack([np.sum(d * east, 1), np.sum(d * north, 1)], 1))
        gsds.append(np.full(len(d), cam.gsd_m()))
    off = np.concatenate(offsets)
    gsd = np.concatenate(gsds)
    common = off.mean(axis=0)
    rel = np.linalg.norm(off - common, axis=1) / gsd
    return rel, common / np.mean(gsd)


def _east_north(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    up = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    east = np.stack([-up[:, 1], up[:, 0], np.zeros(len(up))], 1)
    east /= np.linalg.norm(east, axis=1, keepdims=True)
    return east, np.cross(up, east)


def rigid_misregistration_px(true: dict, adjusted: dict, n: int = 9) -> tuple[np.ndarray, np.ndarray, float]:
    """As :func:`misregistration_px`, removing the best-fit common *rigid* motion of the
    network on the ground (east/north translation + rotation about the vertical through the
    network centroid), the part of the solution only the priors fix.

    Returns ``(relative_px, translation_px (2,), twist_rad)``.
    """
    pos, off, gsds = [], [], []
    for fid, cam in true.items():
        if fid not in adjusted:
            continue
        u = (np.arange(n) + 0.5) / n
        ll, ss = np.meshgrid(u * cam.lines, u * cam.samples, indexing="ij")
        xt = cam.image_to_ground(ll, ss).reshape(-1, 3)
        xa = adjusted[fid].image_to_ground(ll, ss).reshape(-1, 3)
        pos.append(xt)
        off.append(xa - xt)
        gsds.append(np.full(len(xt), cam.gsd_m()))
    xt, d, gsd = np.concatenate(pos), np.concatenate(off), np.concatenate(gsds)
    c = xt.mean(axis=0)
    east, north = _east_north(c[None])
    e = (xt - c) @ east[0]
    nn = (xt - c) @ north[0]
    de, dn = d @ east[0], d @ north[0]
    # d = t + phi * (-n, e)
    a = np.zeros((2 * len(e), 3))
    a[0::2, 0] = 1
    a[1::2, 1] = 1
    a[0::2, 2] = -nn
    a[1::2, 2] = e
    b = np.stack([de, dn], 1).ravel()
    sol = np.linalg.lstsq(a, b, rcond=None)[0]
    rel = np.linalg.norm((b - a @ sol).reshape(-1, 2), axis=1) / gsd
    return rel, sol[:2] / np.mean(gsd), float(sol[2])


def seam_misregistration_px(true: dict, adjusted: dict, n: int = 24) -> np.ndarray:
    """Frame-to-frame misregistration (pixels) where frames overlap: for ground points seen
    by two frames (true cameras), the distance between where the two *adjusted* cameras
    put them on the ground, in pixels of the first frame's GSD. Free of any common motion."""
    ids = [k for k in true if k in adjusted]
    out = []
    for a in ids:
        cam = true[a]
        u = (np.arange(n) + 0.5) / n
        ll, ss = np.meshgrid(u * cam.lines, u * cam.samples, indexing="ij")
        ll, ss = ll.ravel(), ss.ravel()
        x = cam.image_to_ground(ll, ss)
        ga = adjusted[a].image_to_ground(ll, ss)
        for b in ids:
            if b <= a:
                continue
            lb, sb = true[b].ground_to_image(x)
            inside = (lb > 0) & (lb < true[b].lines) & (sb > 0) & (sb < true[b].samples)
            if inside.sum() < 4:
                continue
            gb = adjusted[b].image_to_ground(lb[inside], sb[inside])
            out.append(np.linalg.norm(ga[inside] - gb, axis=1) / cam.gsd_m())
    return np.concatenate(out) if out else np.zeros(0)


def write_basemap(path: Path, survey: Survey, *, resolution_m: float = 180.0, crs: str = "farside_eqc",
                  margin_deg: float = 0.4) -> Path:
    """A reference basemap GeoTIFF of the survey's surface albedo (truth), in ``crs``."""
    import rasterio

    from pipeline.geometry.grid import MapGrid

    lon0, lon1, lat0, lat1 = survey.plan.region_deg
    probe = MapGrid.from_bounds(crs, (0, 0, 1, 1), 1.0)
    xs, ys = probe.lonlat_to_xy(
        np.array([lon0 - margin_deg, lon1 + margin_deg, lon0 - margin_deg, lon1 + margin_deg]),
        np.array([lat0 - margin_deg, lat0 - margin_deg, lat1 + margin_deg, lat1 + margin_deg]),
    )
    grid = MapGrid.from_bounds(crs, (xs.min(), ys.min(), xs.max(), ys.max()), resolution_m)
    surf = Surface(seed=survey.plan.seed, region=survey.plan.region_deg)
    # 2 x 2 supersampling, like the frames
    t = grid.transform
    acc = np.zeros(grid.shape, np.float64)
    for dr in (0.25, 0.75):
        for dc in (0.25, 0.75):
            r, c = np.mgrid[0 : grid.shape[0], 0 : grid.shape[1]]
            x = t.c + t.a * (c + dc)
            y = t.f + t.e * (r + dr)
            lo, la = grid.xy_to_lonlat(x, y)
            acc += surf.albedo(np.radians(lo), np.radians(la))
    data = (acc / 4).astype(np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1,
                       dtype="float32", crs=grid.crs_wkt, transform=grid.transform) as dst:
        dst.write(data, 1)
    return path


def with_common_rotation(survey: Survey, rotvec_body_rad) -> Survey:
    """The survey with one extra rotation (body frame) applied to every reported camera:
    a shift of the whole network that tie points cannot see."""
    q = np.asarray(rotvec_body_rad, float)
    frames, reported = [], {}
    for f in survey.frames:
        cam = f.camera.with_pointing_correction(f.camera.cam_to_body.T @ q)
        frames.append(f.replace(camera=cam))
        reported[f.id] = cam
    return Survey(frames, survey.true, reported, survey.errors, survey.plan)
