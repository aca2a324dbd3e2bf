"""End to end through real mission geometry (issue 11).

The cameras are real USGS ALE frame ISDs (``../shared/reference/ale-isds``: Clementine
NIR/HIRES/LWIR and Apollo 15 Metric AS15-M-1450, all on the far side); the pixels are a
synthetic albedo rendered through each camera (``pipeline.simulation.render_iof``), written
as an 8-bit PNG with the ISD as its ``<stem>.json`` sidecar, and mosaicked by
``pipeline.orchestration.run``. The checks: the frame lands where its camera says (mosaic centroid
vs. the image-centre ground point, Pearson correlation with the albedo at the mosaic
pixels), a -Z camera (Apollo Metric) read as +Z is rejected instead of being placed on the
far hemisphere, a limb in view leaves the sky out of the mosaic, and the footprints of the
far-side ISDs are continuous rings around their boresight across 180 deg.

Apollo Metric is 25356 x 25798 pixels: it is used *summed* 64 x 64 (usgscsm:
``detector_line = line * summing + starting_detector_line``), centred on the full image.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.geometry.warp import GroundGrid, image_coordinates

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "ale-isds"

pytestmark = pytest.mark.skipif(
    not REF.is_dir(),
    reason=f"real ALE ISDs not found at {REF} (the shared reference folder is absent in this checkout)",
)

SUM = 64  # Apollo Metric summing, per axis

# name -> (ISD file, output CRS, mosaic resolution m)
CASES = {
    "clem_nir": ("clem_nir_isd.json", "farside_ortho", 340.0),
    "clem_hires": ("clem_hires_isd.json", "farside_eqc", 40.0),
    "clem_lwir": ("clem_lwir_isd.json", "farside_eqc", 100.0),
    "apollometric": ("apollometric_isd.json", "farside_ortho", 400.0),
}


def load_isd(name: str) -> dict:
    isd = json.loads((REF / CASES[name][0]).read_text())
    return summed_apollo(isd) if name == "apollometric" else isd


def summed_apollo(isd: dict, summing: int = SUM) -> dict:
    """The Apollo Metric ISD summed ``summing`` x ``summing``, centred on the full image."""
    out = copy.deepcopy(isd)
    lines, samples = isd["image_lines"] // summing, isd["image_samples"] // summing
    out["image_lines"], out["image_samples"] = lines, samples
    out["detector_line_summing"] = out["detector_sample_summing"] = summing
    out["starting_detector_line"] = isd.get("starting_detector_line", 0) + (isd["image_lines"] - lines * summing) / 2
    out["starting_detector_sample"] = (
        isd.get("starting_detector_sample", 0) + (isd["image_samples"] - samples * summing) / 2
    )
    return out


def camera_of(isd: dict, **kw):
    from pipeline.geometry import FrameCamera

    return FrameCamera.from_isd(isd, **kw)


def centre_lonlat(cam) -> tuple[float, float]:
    from pipeline.geometry.body import xyz_to_lonlat_deg

    xyz, hit = cam.image_to_ground_hit(*cam.image_center)
    assert bool(hit)
    lon, lat = xyz_to_lonlat_deg(xyz)
    return float(lon), float(lat)


def angular_deg(lon1, lat1, lon2, lat2):
    """Great-circle angle (deg) between points given in degrees."""
    l1, p1, l2, p2 = map(np.radians, (lon1, lat1, lon2, lat2))
    c = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(l1 - l2)
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


def surface_for(cam):
    from pipeline.simulation import Surface

    lon, lat = cam.footprint_deg(8)
    return Surface(seed=7, region=(float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max())))


def write_frame(folder: Path, stem: str, cam, isd: dict, surface) -> tuple[np.ndarray, np.ndarray]:
    """Render ``surface`` through ``cam``, write ``<stem>.png`` + ``<stem>.json``; returns
    the 8-bit image and the on-body mask."""
    import cv2

    from pipeline.simulation.sensor import render_iof

    scene = render_iof(cam, surface, supersample=2, psf_sigma_px=0.5)
    iof = np.where(scene.on_body, scene.iof, 0.0)
    top = float(np.percentile(iof[scene.on_body], 99.5))
    img = np.clip(np.round(iof / top * 250.0), 0, 255).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(folder / f"{stem}.png"), img)
    (folder / f"{stem}.json").write_text(json.dumps({**isd, "exposure_duration": 0.01}))
    return img, scene.on_body


def run_config(tmp: Path, crs: str, resolution_m: float, **ingest):
    from pipeline.config import load_config

    over = {
        "calibration": {"output": "dn_per_s", "photometry": None, "saturation_dn": None},
        "registration": {"enabled": False},
        "mosaicking": {"crs": crs, "resolution_m": resolution_m},
        "run": {"scheduler": "synchronous", "workdir": str(tmp / "work")},
    }
    if ingest:
        over["ingest"] = ingest
    return load_config(None, over)


def read_mosaic(out: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(out) as ds:
        return ds.read(1)


def mosaic_one(tmp: Path, name: str):
    from pipeline.orchestration import run

    crs, res = CASES[name][1:]
    isd = load_isd(name)
    cam = camera_of(isd)
    surface = surface_for(cam)
    write_frame(tmp / "frames", name, cam, isd, surface)
    out = tmp / "out" / f"{name}.tif"
    result = run(tmp / "frames", out, config=run_config(tmp, crs, res), report=False)
    return result, read_mosaic(out), cam, surface


@pytest.fixture(scope="module", params=list(CASES))
def mosaicked(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    return (request.param, *mosaic_one(tmp, request.param))


# ------------------------------------------------------------------------ 1 + 4: mosaics
def test_frame_is_used_and_lands_on_its_footprint(mosaicked):
    name, result, mosaic, cam, surface = mosaicked
    assert not result.failures, [str(f) for f in result.failures]
    grid = result.plan.grid
    assert max(grid.shape) < 2000
    valid = np.isfinite(mosaic)
    assert valid.sum() > 1000, f"{name}: only {valid.sum()} valid mosaic pixels"
    lon, lat = grid.lonlat()
    # centroid of the valid pixels (as a unit vector) against the image-centre ground point
    from pipeline.geometry.body import lonlat_to_xyz, xyz_to_lonlat_deg

    v = lonlat_to_xyz(np.radians(lon[valid]), np.radians(lat[valid]), 0.0, cam.radii_m).mean(axis=0)
    c_lon, c_lat = xyz_to_lonlat_deg(v)
    e_lon, e_lat = centre_lonlat(cam)
    f_lon, f_lat = cam.footprint_deg(16)
    radius = float(np.max(angular_deg(f_lon, f_lat, e_lon, e_lat)))
    offset = float(angular_deg(c_lon, c_lat, e_lon, e_lat))
    # every valid pixel inside the footprint's circumscribed circle
    spread = float(np.max(angular_deg(lon[valid], lat[valid], e_lon, e_lat)))
    alb = surface.albedo(np.radians(lon[valid]), np.radians(lat[valid]))
    r = float(np.corrcoef(mosaic[valid], alb)[0, 1])
    print(f"\n{name}: grid {grid.shape}, centroid offset {offset:.4f} deg (footprint radius {radius:.4f} deg), "
          f"max {spread:.4f} deg, Pearson r = {r:.4f}")
    assert offset < radius
    assert spread <= radius * 1.05
    assert r >= 0.9, f"{name}: mosaic vs albedo Pearson r = {r:.3f}"


def footprint_agreement(cam, grid, mosaic) -> dict:
    """Compare the mosaic's valid pixels with where the camera sees the map.

    ``inside``: grid pixels whose ground point the camera sees inside the image inset by
    ``margin`` px (so bilinear resampling has all its neighbours); ``outside``: valid pixels
    whose ground point the camera does not see within the image (1 px tolerance).
    """
    line, sample = image_coordinates(cam, GroundGrid.from_grid(grid, radii=cam.radii_m))
    valid = np.isfinite(mosaic)
    ok = np.isfinite(line) & np.isfinite(sample)

    def within(m):
        return ok & (line >= m) & (line <= cam.lines - m) & (sample >= m) & (sample <= cam.samples - m)

    inner = within(1.0)
    return {
        "valid": int(valid.sum()),
        "expected": int(inner.sum()),
        "covered": float(valid[inner].mean()) if inner.any() else 0.0,
        "outside": int((valid & ~within(-1.0)).sum()),
    }


def test_valid_area_is_the_frame_footprint(mosaicked):
    name, result, mosaic, cam, _ = mosaicked
    agree = footprint_agreement(cam, result.plan.grid, mosaic)
    print(f"\n{name}: {agree}")
    assert agree["covered"] >= 0.98, agree
    assert agree["outside"] == 0, agree


def test_summed_apollo_metric_keeps_the_full_image_geometry():
    full = camera_of(json.loads((REF / "apollometric_isd.json").read_text()))
    summed = camera_of(summed_apollo(json.loads((REF / "apollometric_isd.json").read_text())))
    assert (full.lines, full.samples) == (25356, 25798)
    assert (summed.lines, summed.samples) == (25356 // SUM, 25798 // SUM)
    assert summed.line_summing == summed.sample_summing == SUM
    a, _ = full.image_to_ground_hit(*full.image_center)
    b, _ = summed.image_to_ground_hit(*summed.image_center)
    assert np.linalg.norm(a - b) < 1e-3  # metres: the same detector point
    # summed pixel (i, j) covers detector pixels i*64 + start .. (i+1)*64 + start
    start_l, start_s = summed.starting_detector_line, summed.starting_detector_sample
    a, _ = full.image_to_ground_hit(10 * SUM + start_l, 20 * SUM + start_s)
    b, _ = summed.image_to_ground_hit(10.0, 20.0)
    assert np.linalg.norm(a - b) < 1e-3
    assert abs(summed.gsd_m() / full.gsd_m() - SUM) < 0.5


# ------------------------------------------------------------------------ 4: oblique view
def test_apollo_metric_is_oblique():
    from pipeline.geometry.body import xyz_to_lonlat_deg

    cam = camera_of(json.loads((REF / "apollometric_isd.json").read_text()))
    # ALE's AS15-M-1450 ISD has detector_center (0, 0): the focal-plane origin (the optical
    # axis) is image coordinate (0, 0), the README's "boresight" 15.36 S 119.51 E.
    axis, hit = cam.image_to_ground_hit(0.0, 0.0)
    assert bool(hit)
    lon, lat = xyz_to_lonlat_deg(axis)
    assert abs(float(lon) - 119.51) < 0.05 and abs(float(lat) + 15.36) < 0.05
    _, e_axis, _ = cam.illumination_angles(axis)
    centre, _ = cam.image_to_ground_hit(*cam.image_center)
    _, e_centre, _ = cam.illumination_angles(centre)
    # the same, from the geometry alone: angle between the surface normal and the camera
    to_cam = cam.position_m - axis
    e_check = math.degrees(math.acos(np.dot(axis, to_cam) / np.linalg.norm(axis) / np.linalg.norm(to_cam)))
    print(f"\napollometric emission: optical axis {math.degrees(e_axis):.2f} deg, image centre "
          f"{math.degrees(e_centre):.2f} deg")
    assert abs(math.degrees(e_axis) - e_check) < 1e-6
    assert math.degrees(e_axis) > 40.0
    assert math.degrees(e_centre) > 30.0


# ------------------------------------------------------------------------ 2: -Z camera
def test_minus_z_camera_meets_the_body():
    from pipeline.errors import GeometryError

    isd = json.loads((REF / "apollometric_isd.json").read_text())
    cam = camera_of(isd)
    assert cam.look_direction == -1
    cam.check_boresight()
    lon, lat = centre_lonlat(cam)
    # near the spacecraft: the image centre is within 10 deg of the sub-spacecraft point
    s_lon, s_lat = cam.sub_spacecraft_deg()
    assert angular_deg(lon, lat, s_lon, s_lat) < 10.0
    wrong = camera_of(isd, look_direction={"APOLLO_METRIC": 1})
    assert wrong.look_direction == 1
    with pytest.raises(GeometryError, match="points away from the body"):
        wrong.check_boresight()


def test_minus_z_camera_forced_plus_z_is_rejected_not_mosaicked(tmp_path):
    from pipeline.errors import MosaicError
    from pipeline.ingestion import ingest
    from pipeline.orchestration import run

    isd = load_isd("apollometric")
    cam = camera_of(isd)
    write_frame(tmp_path / "frames", "apollometric", cam, isd, surface_for(cam))
    # the same frame next to a good one: the run goes on, the -Z frame read as +Z is reported
    nir = load_isd("clem_nir")
    nir_cam = camera_of(nir)
    write_frame(tmp_path / "frames", "clem_nir", nir_cam, nir, surface_for(nir_cam))
    cfg = run_config(tmp_path, "farside_ortho", 2000.0, look_direction={"APOLLO_METRIC": 1})

    got = ingest(tmp_path / "frames", config=cfg.ingestion)
    assert [f.meta.id for f in got.frames] == ["clem_nir"]
    (failure,) = got.failures
    assert failure.path.name == "apollometric.png" and failure.stage == "ingest"
    assert "does not meet the body" in failure.reason and "look_direction" in failure.reason

    out = tmp_path / "out" / "m.tif"
    result = run(tmp_path / "frames", out, config=cfg, report=False)
    assert [f.path.name for f in result.failures] == ["apollometric.png"]
    assert "does not meet the body" in result.failures[0].reason
    assert [f.id for f in result.plan.frames] == ["clem_nir"]
    # nothing on the map near Apollo's true footprint nor its antipode
    mosaic = read_mosaic(out)
    lon, lat = result.plan.grid.lonlat()
    valid = np.isfinite(mosaic)
    n_lon, n_lat = centre_lonlat(nir_cam)
    assert np.all(angular_deg(lon[valid], lat[valid], n_lon, n_lat) < 3.0)

    # alone, the run has nothing to mosaic and says why
    (tmp_path / "frames" / "clem_nir.png").unlink()
    (tmp_path / "frames" / "clem_nir.json").unlink()
    with pytest.raises(MosaicError, match="does not meet the body"):
        run(tmp_path / "frames", tmp_path / "out" / "n.tif", config=cfg, report=False)


# ------------------------------------------------------------------------ 3: limb in view
def limb_camera():
    """Clementine NIR tilted off nadir until two image corners see past the limb."""
    cam = camera_of(load_isd("clem_nir"))
    corners = (np.array([0.0, 0.0, cam.lines, cam.lines]), np.array([0.0, cam.samples, 0.0, cam.samples]))
    for deg in np.arange(30.0, 50.0, 0.5):
        tilted = cam.with_pointing_correction([math.radians(deg), 0.0, 0.0])
        _, hit = tilted.image_to_ground_hit(*corners)
        if hit.sum() == 2:
            tilted = cam.with_pointing_correction([math.radians(deg + 0.5), 0.0, 0.0])
            return tilted, deg + 0.5
    raise AssertionError("no tilt puts the limb in view")


def test_limb_in_view(tmp_path):
    from pipeline.orchestration import run

    cam, tilt = limb_camera()
    ll, ss = np.meshgrid(np.arange(cam.lines) + 0.5, np.arange(cam.samples) + 0.5, indexing="ij")
    _, hit = cam.image_to_ground_hit(ll, ss)
    assert 0.2 < hit.mean() < 0.95, hit.mean()
    cam.check_boresight()
    isd = cam.to_isd()
    img, on_body = write_frame(tmp_path / "frames", "limb", cam, isd, surface_for(cam))
    assert (img[~on_body] == 0).all()
    out = tmp_path / "out" / "limb.tif"
    result = run(tmp_path / "frames", out, config=run_config(tmp_path, "farside_ortho", 3000.0), report=False)
    assert not result.failures, [str(f) for f in result.failures]
    assert [f.id for f in result.plan.frames] == ["limb"]
    grid = result.plan.grid
    assert max(grid.shape) < 2000
    mosaic = read_mosaic(out)
    valid = np.isfinite(mosaic)
    agree = footprint_agreement(cam, grid, mosaic)
    # no valid pixel beyond the limb: all within the horizon circle around the sub-spacecraft point
    lon, lat = grid.lonlat()
    s_lon, s_lat = cam.sub_spacecraft_deg()
    horizon = math.degrees(math.acos(cam.radii_m[0] / np.linalg.norm(cam.position_m)))
    far = float(np.max(angular_deg(lon[valid], lat[valid], s_lon, s_lat)))
    print(f"\nlimb: tilt {tilt} deg, {hit.mean():.1%} of pixels on the body, grid {grid.shape}, {agree}, "
          f"farthest valid pixel {far:.2f} deg from nadir (horizon {horizon:.2f} deg)")
    assert far <= horizon
    assert agree["outside"] == 0, agree
    assert agree["covered"] >= 0.98, agree


# ------------------------------------------------------------------------ 5: footprints
def far_side_cameras():
    """The far-side ISDs' cameras (full Apollo Metric) plus Clementine NIR turned about the
    polar axis so its footprint straddles 180 deg."""
    from pipeline.geometry.rotation import rotvec_to_matrix

    cams = {n: camera_of(json.loads((REF / CASES[n][0]).read_text())) for n in CASES}
    nir = cams["clem_nir"]
    lon, _ = centre_lonlat(nir)
    rz = rotvec_to_matrix([0.0, 0.0, math.radians(180.0 - lon)])
    cams["clem_nir@180"] = dataclasses.replace(
        nir,
        position_m=rz @ nir.position_m,
        cam_to_body=rz @ nir.cam_to_body,
        sun_position_m=rz @ nir.sun_position_m,
    )
    return cams


def test_far_side_footprints_are_continuous_rings_around_the_boresight():
    from matplotlib.path import Path as MplPath

    for name, cam in far_side_cameras().items():
        lon, lat = cam.footprint_deg(32)
        ring = np.concatenate([lon, lon[:1]])
        assert np.max(np.abs(np.diff(ring))) < 180.0, name
        c_lon, c_lat = centre_lonlat(cam)
        c_lon = c_lon + 360.0 * round((float(np.mean(lon)) - c_lon) / 360.0)
        assert MplPath(np.column_stack([lon, lat])).contains_point((c_lon, c_lat)), name
        if name == "clem_nir@180":
            assert lon.min() < 180.0 < lon.max() or lon.min() < -180.0 < lon.max(), (lon.min(), lon.max())


def test_footprint_map_script_draws(tmp_path):
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "docs" / "real_footprints.py"
    spec = importlib.util.spec_from_file_location("real_footprints", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.draw(REF, tmp_path / "fp.png")
    assert out.stat().st_size > 10_000
    for _label, lon, lat, c_lon, c_lat in mod.footprints(REF):
        assert 0.0 <= np.mean(lon) < 360.0 and np.max(np.abs(np.diff(lon))) < 180.0
