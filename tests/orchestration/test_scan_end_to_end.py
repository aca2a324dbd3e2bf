"""End to end with scanning cameras: line-scan and push-frame strips with framing frames.

One simulated survey (2 x 3 frames of 192 px at 180 m, 2 line-scan strips of 900 x 320 at
50 m with pointing jitter, 1 push-frame strip of 50 framelets at 100 m; each camera with its
own detector and calibration strips in a sub-folder) goes through :func:`run` with the
default configuration. Against the simulator's truth: every frame calibrated with its own
detector's masters, every frame tied, strip-to-strip and strip-to-frame misregistration on
the truth (pixel pairs the adjusted cameras put together), correlation with the true albedo.
The real LROC NAC crop (``../shared/reference/linescan/nac-crop``) lands where its ISD says.
"""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
import rasterio
from pyproj import CRS, Transformer

from bench.accuracy import mosaic_accuracy
from pipeline.geometry import load_camera
from pipeline.geometry.body import lonlat_to_xyz_deg, xyz_to_lonlat_deg
from pipeline.orchestration import run
from pipeline.simulation import load_truth, simulate_survey
from pipeline.simulation.scanparams import LineScanParams, PushFrameParams
from pipeline.simulation.scantruth import pair_misregistration_px
from tests.conftest import small_config

pytestmark = pytest.mark.slow

KIND = {"FS": "frame", "LS": "line-scan", "PF": "push-frame"}


@pytest.fixture(scope="module")
def scan_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    survey = root / "survey"
    simulate_survey(survey, seed=7, n_strips=2, frames_per_strip=3, size=(192, 192), supersample=1,
                    linescan=LineScanParams(n_strips=2, lines=900, samples=320),
                    pushframe=PushFrameParams(n_strips=1, n_framelets=50, samples=320))
    out = root / "mosaic.tif"
    # a world on the sphere: tie points on it (free points let this weak network's datum float:
    # docs/registration.md, "points: auto")
    cfg = small_config(root, registration={"points": "surface"}, mosaicking={"relief": "sphere"})
    result = run(survey, out, calibration=survey / "calibration", config=cfg, report=False)
    return result, out, load_truth(survey)


def test_every_camera_kind_is_calibrated_and_tied(scan_run):
    result, _, truth = scan_run
    assert not result.failures
    assert {f.id for f in result.plan.frames} == set(truth.frame_ids)
    kinds = {type(c).__name__ for c in result.registration.cameras.values()}
    assert kinds == {"FrameCamera", "LineScanCamera", "PushFrameCamera"}
    assert result.registration.stats.n_tied == len(truth.frame_ids)
    # a strip's pointing correction varies along it (constant + linear in time)
    for fid in ("LS_S0", "LS_S1", "PF_S0"):
        assert len(result.registration.corrections[fid].rot_coeffs_rad) == 2


def test_strips_and_frames_register_against_truth(scan_run):
    result, _, truth = scan_run
    adjusted = dict(result.registration.cameras)
    worst = {}
    for a, b in itertools.permutations(sorted(adjusted), 2):
        after = pair_misregistration_px(truth, a, b, adjusted, n=24)
        after = after[np.isfinite(after)]
        if len(after) < 20:
            continue
        before = pair_misregistration_px(truth, a, b, truth.reported_cameras, n=24)
        kinds = tuple(sorted((KIND[a[:2]], KIND[b[:2]])))
        worst.setdefault(kinds, []).append((np.percentile(after, 90), np.nanpercentile(before, 90)))
    # every pairing of camera kinds overlaps somewhere in this survey (one push-frame strip)
    assert sorted(worst) == [("frame", "frame"), ("frame", "line-scan"), ("frame", "push-frame"),
                             ("line-scan", "line-scan"), ("line-scan", "push-frame")]
    for kinds, values in worst.items():
        p90_after = np.array([v[0] for v in values])
        p90_before = np.array([v[1] for v in values])
        assert np.median(p90_after) <= 0.3 and p90_after.max() <= 0.6, (kinds, p90_after)
        assert np.median(p90_before) >= 1.0, (kinds, p90_before)  # the reported pointing is far off


def test_mosaic_correlates_with_the_true_albedo(scan_run):
    result, out, truth = scan_run
    acc = mosaic_accuracy(out, truth, dict(result.registration.cameras), samples=40_000)
    assert acc["coverage_pct"] >= 99.0, acc
    assert acc["pearson"] >= 0.98, acc


def test_real_nac_crop_lands_where_its_isd_says(shared_reference, tmp_path):
    src = shared_reference / "linescan" / "nac-crop"
    if not src.is_dir():
        pytest.skip(f"{src} absent")
    frames = tmp_path / "in"
    frames.mkdir()
    shutil.copy(src / "M143947267L.cal.echo.crop.cub", frames)
    isd = frames / "M143947267L.cal.echo.crop.json"
    shutil.copy(src / "M143947267L.cal.echo.crop.derived_isd.json", isd)
    out = tmp_path / "out" / "nac.tif"
    result = run(frames, out, config=small_config(tmp_path), report=False)  # default config: one frame
    assert not result.failures
    cam = load_camera(isd)
    with rasterio.open(out) as ds:
        valid = np.isfinite(ds.read(1))
        transform, crs = ds.transform, CRS.from_wkt(ds.crs.to_wkt())
    lonlat = CRS.from_proj4(f"+proj=longlat +R={cam.radii_m[0]} +no_defs")
    to_map = Transformer.from_crs(lonlat, crs, always_xy=True)
    # the image's four corners (pixel edges) on the map: each within one output pixel of the
    # mosaic's valid pixels (as squares)
    corners = np.array([[0, 0], [0, cam.samples], [cam.lines, 0], [cam.lines, cam.samples]], float)
    lon, lat = xyz_to_lonlat_deg(cam.image_to_ground(corners[:, 0], corners[:, 1]))
    col, row = ~transform * to_map.transform(lon, lat)
    rr, cc = np.nonzero(valid)
    rr, cc = rr + 0.5, cc + 0.5
    for r, c in zip(row, col, strict=True):
        d = np.hypot(np.maximum(np.abs(rr - r) - 0.5, 0), np.maximum(np.abs(cc - c) - 0.5, 0)).min()
        assert d <= 1.0, (r, c, d)
    # and no valid pixel lies outside the image (by more than one output pixel's worth)
    x, y = transform * (cc, rr)
    lon, lat = Transformer.from_crs(crs, lonlat, always_xy=True).transform(x, y)
    line, sample = cam.ground_to_image(lonlat_to_xyz_deg(lon, lat, 0.0, cam.radii_m))
    slack = abs(transform.a) / cam.gsd_m()
    assert line.min() >= -slack and line.max() <= cam.lines + slack
    assert sample.min() >= -slack and sample.max() <= cam.samples + slack
