"""Folder ingest: pairing, ignoring, duplicates, ids, failures; the sample survey."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "io"))
from pipeline.errors import FarsideError
from pipeline.frame import FrameType
from pipeline.ingestion import format_inventory, ingest, inventory_rows
from pipeline.ingestion.params import IngestionParams
from pipeline.io import load_frame
from pipeline.orchestration.lazy import as_dask_array
from tests.io.builders import ramp, write_fits, write_pds3, write_pds4, write_sidecar

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images"


@pytest.fixture(scope="module")
def sample_result():
    return ingest(SAMPLE, calibration=SAMPLE / "calibration")


def test_sample_survey(sample_result):
    r = sample_result
    assert len(r.frames) == 18 and len(r.calibration) == 15
    assert not r.failures and not r.duplicates
    assert all(f.camera is not None and not f.loaded for f in r.frames)
    assert all((f.camera.lines, f.camera.samples) == f.meta.shape for f in r.frames)
    assert [f.id for f in r.frames] == sorted(f.id for f in r.frames)
    assert {f.meta.format for f in r.frames} == {"pds3", "pds4", "fits", "tiff"}
    counts = {t: sum(f.meta.frame_type == t for f in r.calibration) for t in FrameType}
    assert counts == {FrameType.LIGHT: 0, FrameType.BIAS: 5, FrameType.DARK: 5, FrameType.FLAT: 5}


def test_sample_metadata_matches_truth(sample_result):
    from pipeline.io.normalize import parse_utc

    truth = json.loads((SAMPLE / "truth" / "survey.json").read_text())
    frames = {f.id: f for f in sample_result.all_frames}
    for table in (truth["frames"], truth["calibration"]):
        for fid, t in table.items():
            meta = frames[fid].meta
            assert meta.exposure_s == pytest.approx(t["exposure_s"], rel=1e-9, abs=1e-12), fid
            assert meta.time_utc == parse_utc(t["start_time"]), fid
            assert meta.format == t["format"], fid
            assert meta.frame_type.value == t.get("frame_type", "LIGHT"), fid


def test_sample_ids_unique_and_hashes_distinct(sample_result):
    ids = [f.id for f in sample_result.all_frames]
    hashes = [f.meta.content_hash for f in sample_result.all_frames]
    assert len(set(ids)) == len(ids) and len(set(hashes)) == len(hashes)


def test_inventory(sample_result):
    rows = inventory_rows(sample_result)
    assert len(rows) == 33 and all(r["status"] == "ok" for r in rows)
    row = next(r for r in rows if r["name"] == "FS_S0_F00")
    assert row["format"] == "pds3" and row["shape"] == "320x320" and row["geometry"] == "yes"
    assert row["exposure_s"] == pytest.approx(0.0126) and row["time"].startswith("2031-03-14T06:00:00")
    text = format_inventory(sample_result)
    assert "18 frames (18 with geometry), 15 calibration frames" in text
    header = text.splitlines()[0]
    assert header.split() == ["name", "format", "type", "shape", "dtype", "exposure_s", "time", "geometry"]
    json.dumps(rows)


def test_as_dask_array_is_lazy_and_equal(sample_result):
    frame = sample_result.frames[0]
    arr = as_dask_array(frame)
    assert arr.shape == frame.meta.shape and arr.dtype == np.float32
    assert as_dask_array(frame).name == arr.name  # deterministic key
    np.testing.assert_array_equal(arr.compute(), load_frame(frame).data)
    _data, mask = as_dask_array(frame, with_mask=True)
    assert mask.dtype == bool and not mask.compute().any()


def _mixed_folder(d: Path) -> dict[str, str]:
    """Good and bad files; returns {rejected file name: reason fragment}."""
    write_pds3(d, "good_pds3", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER")
    write_pds3(d, "good_detached", ramp(dtype="<u2", start=3), "LSB_UNSIGNED_INTEGER", attached=False)
    write_pds4(d, "good_pds4", ramp(dtype="<u2", start=9), "UnsignedLSB2")
    write_fits(d, "good_fits", ramp(dtype="uint16", start=11), {"EXPTIME": 0.5})
    shutil.copy(d / "good_pds3.IMG", d / "zz_copy.IMG")  # exact duplicate
    (d / "notes.md").write_text("# notes")
    (d / "table.csv").write_text("a,b\n")
    (d / "run.yaml").write_text("a: 1\n")
    (d / "readme.txt").write_text("hi")
    write_sidecar(d, "lonely", {"exposure_duration": 1.0})  # a lone sidecar is not a frame
    (d / "truth").mkdir()
    write_pds3(d / "truth", "hidden_truth", ramp(), "LSB_UNSIGNED_INTEGER")
    (d / "calibration").mkdir()
    write_pds3(d / "calibration", "BIAS_X", ramp(), "LSB_UNSIGNED_INTEGER")
    # bad ones
    (d / "empty.IMG").write_bytes(b"")
    p = write_pds3(d, "short", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER")
    p.write_bytes(p.read_bytes()[:-4])
    (d / "fake.png").write_text("not a png")
    lbl = write_pds3(d, "nodata", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER", attached=False)
    (d / "nodata.IMG").unlink()
    write_pds4(d, "escape", ramp(dtype="<u2"), "UnsignedLSB2", data_name="../escape.img")
    (d / "weird.xyz").write_bytes(b"\x00\x01")
    assert lbl.exists()
    return {
        "empty.IMG": "empty file", "short.IMG": "truncated", "fake.png": "not a PNG",
        "nodata.LBL": "missing", "escape.xml": "outside its own folder", "weird.xyz": "unknown image format",
    }


def test_mixed_folder_exact_rejections(tmp_path):
    expected = _mixed_folder(tmp_path)
    result = ingest(tmp_path)
    rejected = {f.path.name: f.reason for f in result.failures}
    assert set(rejected) == set(expected)
    for name, fragment in expected.items():
        assert fragment in rejected[name], (name, rejected[name])
    assert all(f.stage == "ingest" for f in result.failures)
    assert [f.id for f in result.frames] == ["good_detached", "good_fits", "good_pds3", "good_pds4"]
    assert result.duplicates == [(tmp_path / "good_pds3.IMG", tmp_path / "zz_copy.IMG")]
    assert not result.calibration  # calibration/ and truth/ are skipped unless asked for
    assert [f.meta.label_path for f in result.frames if f.id == "good_detached"] == [tmp_path / "good_detached.LBL"]
    text = format_inventory(result)
    assert "rejected (6):" in text and "zz_copy.IMG" in text


def test_mixed_folder_with_calibration_and_recursion(tmp_path):
    _mixed_folder(tmp_path)
    sub = tmp_path / "more"
    write_pds3(sub, "deep", ramp(dtype=">u2", start=77), "MSB_UNSIGNED_INTEGER")
    result = ingest(tmp_path, calibration=tmp_path / "calibration", config=IngestionParams(recursive=True))
    assert [f.id for f in result.calibration] == ["BIAS_X"]
    assert result.calibration[0].meta.frame_type == FrameType.BIAS  # typed from its name
    assert "deep" in [f.id for f in result.frames]
    assert "hidden_truth" not in [f.id for f in result.all_frames]


def test_unique_ids_for_clashing_stems(tmp_path):
    write_pds3(tmp_path, "A", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER")
    write_fits(tmp_path, "A", ramp(dtype="uint16", start=5))
    write_pds3(tmp_path / "x", "A", ramp(dtype=">u2", start=9), "MSB_UNSIGNED_INTEGER")
    result = ingest(tmp_path, config=IngestionParams(recursive=True))
    assert [f.id for f in result.frames] == ["A", "A_2", "A_3"]


def test_missing_path_raises(tmp_path):
    with pytest.raises(FarsideError, match="no such file"):
        ingest(tmp_path / "nope")


def test_single_file_and_missing_calibration_folder(tmp_path):
    p = write_pds3(tmp_path, "one", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER")
    result = ingest(p, calibration=tmp_path / "absent")
    assert [f.id for f in result.frames] == ["one"]
    assert [f.path.name for f in result.failures] == ["absent"]


def test_label_typed_calibration_frame_in_main_folder(tmp_path):
    write_pds3(tmp_path, "D", ramp(), "LSB_UNSIGNED_INTEGER", top_extra="FRAME_TYPE = DARK")
    result = ingest(tmp_path)
    assert not result.frames and [f.meta.frame_type for f in result.calibration] == [FrameType.DARK]


def test_look_direction_passed_to_camera(tmp_path):
    for suffix in (".IMG", ".json"):
        shutil.copy(SAMPLE / f"FS_S0_F00{suffix}", tmp_path / f"FS_S0_F00{suffix}")
    default = ingest(tmp_path).frames[0].camera
    sensor = default.name_sensor
    flipped = ingest(tmp_path, config=IngestionParams(look_direction={sensor: -default.look_direction}))
    # the flipped camera looks away from the Moon: the boresight check rejects the frame
    assert not flipped.frames
    (failure,) = flipped.failures
    assert "does not meet the body" in failure.reason
    assert f"look_direction={-default.look_direction:+d}" in failure.reason


def test_recursion_follows_no_folder_twice(tmp_path):
    """A symbolic link back up the tree (or a second link to one folder) is scanned once,
    not forty times."""
    from pipeline.ingestion import IngestionParams

    frames = tmp_path / "frames"
    sub = frames / "night1"
    sub.mkdir(parents=True)
    write_fits(sub, "A", ramp())
    (sub / "loop").symlink_to(frames, target_is_directory=True)
    (frames / "again").symlink_to(sub, target_is_directory=True)
    result = ingest(frames, config=IngestionParams(recursive=True))
    assert [f.id for f in result.frames] == ["A"] and not result.duplicates and not result.failures
