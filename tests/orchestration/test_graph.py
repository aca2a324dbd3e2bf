"""The dask graph: one compute, deterministic keys, resume after a kill, bad frames."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from dask.callbacks import Callback

from pipeline.errors import MosaicError
from pipeline.orchestration import build_graph, plan, run
from tests.conftest import small_config

pytestmark = pytest.mark.slow


class _CountComputes(Callback):
    def __init__(self):
        super().__init__()
        self.starts = 0

    def _start(self, dsk):
        self.starts += 1


def test_the_whole_mosaic_is_one_compute(survey, tmp_path):
    cfg = small_config(tmp_path, registration={"enabled": False}, mosaicking={"equalize": False})
    with _CountComputes() as counter:
        run(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=cfg, report=False)
    assert counter.starts == 1


def test_graph_keys_are_deterministic(survey, tmp_path):
    cfg = small_config(tmp_path)
    a = build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=cfg)).result
    b = build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=cfg)).result
    assert a.key == b.key
    assert set(a.dask.keys()) == set(b.dask.keys())
    tiles = [k for k in a.dask.keys() if str(k).startswith("tile-")]
    assert tiles, "one task per output tile"
    # after registration, each frame in an overlapping pair is cross-checked against its partners
    assert sum(str(k).startswith("crosscheck-") for k in a.dask) == 6
    off = small_config(tmp_path, crosschecking={"enabled": False})
    c = build_graph(plan(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=off)).result
    assert not any(str(k).startswith("crosscheck-") for k in c.dask)


def test_dry_run_describes_without_computing(survey, tmp_path):
    p = plan(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=small_config(tmp_path))
    text = p.describe()
    assert "frames to mosaic: 6" in text and "output grid" in text
    assert not (tmp_path / "work").exists()


def _copy_survey(survey: Path, dest: Path) -> Path:
    shutil.copytree(survey, dest, ignore=shutil.ignore_patterns("truth"))
    return dest


def test_bad_frames_are_reported_and_the_rest_mosaicked(survey, tmp_path):
    frames = _copy_survey(survey, tmp_path / "frames")
    (frames / "empty.IMG").write_bytes(b"")
    (frames / "notanimage.png").write_text("this is not a PNG")
    victim = sorted(frames.glob("*.tif"))[0]
    victim.write_bytes(victim.read_bytes()[:1000])  # truncated TIFF, sidecar intact
    orphan = sorted(frames.glob("*.fits"))[0]
    orphan.with_suffix(".json").unlink()  # no geometry: cannot be placed
    out = tmp_path / "m.tif"
    result = run(frames, out, calibration=frames / "calibration", config=small_config(tmp_path), report=False)
    rejected = {f.path.name for f in result.failures}
    assert rejected == {"empty.IMG", "notanimage.png", victim.name, orphan.name}
    reasons = {f.path.name: f.reason for f in result.failures}
    assert "no camera" in reasons[orphan.name]
    with rasterio.open(out) as ds:
        assert np.isfinite(ds.read(1)).mean() > 0.5


def test_nothing_to_mosaic_is_a_clear_error(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "broken.IMG").write_bytes(b"garbage")
    with pytest.raises(MosaicError, match="nothing to mosaic"):
        run(tmp_path / "frames", tmp_path / "m.tif", config=small_config(tmp_path))
    assert not (tmp_path / "m.tif").exists()


KILL_SCRIPT = """
import sys
from tests.conftest import small_config
from pipeline.orchestration import run
from pathlib import Path
tmp = Path(sys.argv[2])
run(sys.argv[1], tmp / "m.tif", calibration=Path(sys.argv[1]) / "calibration",
    config=small_config(tmp, run={"scheduler": "threads", "workers": 1}), report=False)
"""


def test_killed_run_resumes_with_the_same_output(survey, tmp_path):
    root = Path(__file__).resolve().parents[2]
    # reference: one uninterrupted run
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    run(survey, ref_dir / "m.tif", calibration=survey / "calibration",
        config=small_config(ref_dir, run={"scheduler": "threads", "workers": 1}), report=False)
    # a run killed once some stage products exist
    work = tmp_path / "killed"
    work.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(survey), str(work)], cwd=root)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((work / "work").glob("matches/*.npz"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed; enlarge the survey"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (work / "m.tif").exists(), "no output under the final name after a kill"
    # products whose manifest entry was written (it comes last: a product the kill caught
    # mid-write has none, fails verification and is recomputed)
    done_before = {p.name for p in (work / "work").glob("*/*.npz") if p.with_suffix(".json").exists()}
    assert done_before
    # restart: completes, reuses what was done, same bytes of science
    result = run(survey, work / "m.tif", calibration=survey / "calibration",
                 config=small_config(work, run={"scheduler": "threads", "workers": 1}), report=False)
    assert sum(result.reused.values()) >= len(done_before)
    with rasterio.open(ref_dir / "m.tif") as a, rasterio.open(work / "m.tif") as b:
        assert np.array_equal(a.read(), b.read(), equal_nan=True)


def _write_truth_basemap(path: Path, truth, grid) -> Path:
    """The true albedo on ``grid`` (2 x 2 supersampled) as a GeoTIFF: a reference basemap."""
    t = grid.transform
    r, c = np.mgrid[0 : grid.shape[0], 0 : grid.shape[1]]
    acc = np.zeros(grid.shape)
    for dr in (0.25, 0.75):
        for dc in (0.25, 0.75):
            lon, lat = grid.xy_to_lonlat(t.c + t.a * (c + dc), t.f + t.e * (r + dr))
            acc += truth.surface.albedo(np.radians(lon), np.radians(lat))
    with rasterio.open(path, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1,
                       dtype="float32", crs=grid.crs_wkt, transform=grid.transform) as dst:
        dst.write((acc / 4).astype(np.float32), 1)
    return path


def test_reference_basemap_pins_the_network_to_the_map(survey, tmp_path):
    from bench.accuracy import geolocation
    from pipeline.simulation import load_truth

    truth = load_truth(survey)
    p = plan(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=small_config(tmp_path))
    margin = 40
    g = p.grid
    basemap = _write_truth_basemap(tmp_path / "basemap.tif", truth,
                                   g[-margin : g.shape[0] + margin, -margin : g.shape[1] + margin])
    cfg = small_config(tmp_path, registration={"reference_basemap": str(basemap)})
    result = run(survey, tmp_path / "m.tif", calibration=survey / "calibration", config=cfg, report=False)
    reg = result.registration
    assert reg.stats.n_control_points > 0 and reg.stats.absolute_control
    geo = geolocation(dict(reg.cameras), truth.true_cameras, result.plan.grid)
    assert geo["common_px"] < 0.5, geo  # absolute geolocation below half an output pixel
