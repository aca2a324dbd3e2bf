"""The output set's rules, without running the pipeline: overwrite, journals, temporaries, commit."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from pipeline.errors import MosaicError, OutputExists
from pipeline.orchestration import tempfiles
from pipeline.orchestration.outputs import OutputSet
from tests.faults import dead_pid


def _set(tmp_path: Path, request: str = "r1") -> OutputSet:
    return OutputSet.for_run(tmp_path / "m.tif", quicklook=True, stac=True, report=True, request=request)


def _stage_all(s: OutputSet) -> None:
    s.stage()
    for kind in ("mosaic", "quicklook", "stac"):
        s.staged(kind).write_text(kind)


def test_commit_puts_the_whole_set_in_place_and_leaves_nothing_else(tmp_path):
    s = _set(tmp_path)
    s.prepare(overwrite=False)
    _stage_all(s)
    s.commit(lambda path, mosaic: path.write_text("report"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png", "m.report.html", "m.stac.json", "m.tif"]


def test_any_existing_product_needs_overwrite(tmp_path):
    for name in ("m.tif", "m.png", "m.stac.json", "m.report.html"):
        (tmp_path / name).write_text("mine")
        with pytest.raises(OutputExists, match=f"{tmp_path / name} exists; pass --overwrite"):
            _set(tmp_path).prepare(overwrite=False)
        _set(tmp_path).prepare(overwrite=True)
        (tmp_path / name).unlink()


def test_an_earlier_runs_side_files_go_with_the_mosaic_they_describe(tmp_path):
    """A run without a relief model (a DEM given) or a quicklook replacing one that had them:
    their files would describe the old mosaic, so they need --overwrite and then go."""
    for name in ("m.tif", "m.png", "m.relief.tif"):
        (tmp_path / name).write_text("earlier run")
    s = OutputSet.for_run(tmp_path / "m.tif", quicklook=False, stac=False, report=False, request="r")
    with pytest.raises(OutputExists, match="m.png, .*m.relief.tif exist; pass --overwrite"):
        s.prepare(overwrite=False)
    s.prepare(overwrite=True)
    s.stage()
    s.staged("mosaic").write_text("new")
    s.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif"] and (tmp_path / "m.tif").read_text() == "new"


def test_a_report_that_cannot_be_rendered_leaves_nothing(tmp_path):
    s = _set(tmp_path)
    _stage_all(s)

    def broken(path, mosaic):
        assert mosaic.read_text() == "mosaic"  # rendered from the staged GeoTIFF
        raise MosaicError("the report failed")

    with pytest.raises(MosaicError, match=r"written nothing; missing m\.tif, m\.png, m\.stac\.json, m\.report\.html"):
        s.commit(broken)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_commit_is_completed_by_the_same_request_only(tmp_path, monkeypatch):
    s = _set(tmp_path)
    _stage_all(s)
    real_replace = os.replace

    def disk_full_at_the_report(src, dst):
        if str(dst).endswith(".report.html"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr("pipeline.orchestration.outputs.os.replace", disk_full_at_the_report)
    with pytest.raises(MosaicError, match=r"written m\.tif, m\.png, m\.stac\.json; missing m\.report\.html; rerun"):
        s.commit(lambda path, mosaic: path.write_text("report"))
    monkeypatch.setattr("pipeline.orchestration.outputs.os.replace", real_replace)
    assert s.journal.exists() and not [p for p in tmp_path.iterdir() if tempfiles.MARK in p.name]
    with pytest.raises(OutputExists):  # another request may not replace what it left
        _set(tmp_path, "r2").prepare(overwrite=False)
    again = _set(tmp_path)
    again.prepare(overwrite=False)  # the same request may
    assert sorted(p.name for p in again.interrupted) == ["m.png", "m.stac.json", "m.tif"]
    _stage_all(again)
    again.commit(lambda path, mosaic: path.write_text("report"))
    assert not again.journal.exists() and (tmp_path / "m.report.html").read_text() == "report"


def test_stale_temporaries_are_cleaned_and_a_live_writer_is_respected(tmp_path):
    legacy = [tmp_path / ".m.tif.0123456789ab.partial.tif", tmp_path / ".m.tif.0123456789ab.cog.tif",
              tmp_path / ".m.tif.0123456789ab.cog.tif.ovr.tmp", tmp_path / ".m.png.partial"]
    for p in legacy:
        p.write_bytes(b"x" * 100)
    mine = tmp_path / tempfiles.temp_name("m.tif")
    stale = tmp_path / mine.name.replace(f"@{os.getpid()}@", f"@{dead_pid()}@")
    stale.mkdir()
    (stale / "m.tif").write_text("half")
    other = tmp_path / ".other.tif.0123456789ab.partial.tif"  # another output's: not ours to touch
    other.write_text("x")
    _set(tmp_path).prepare(overwrite=False)
    assert not any(p.exists() for p in [*legacy, stale]) and other.exists()
    mine.mkdir()  # a live run (this process) staging the same output
    with pytest.raises(MosaicError, match=f"another farside run \\(pid {os.getpid()}"):
        _set(tmp_path).prepare(overwrite=False)


def test_an_unwritable_output_folder_is_refused_up_front(tmp_path, monkeypatch):
    def read_only(path, payload):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("pipeline.orchestration.outputs.atomic_write_bytes", read_only)
    with pytest.raises(MosaicError, match="--out .*m.tif: cannot write there: .*Read-only file system"):
        _set(tmp_path).prepare(overwrite=False)


def test_the_journal_names_the_set(tmp_path, monkeypatch):
    s = _set(tmp_path)
    _stage_all(s)
    seen = {}
    real_replace = os.replace

    def replace(src, dst):  # the journal is in place while the products are renamed
        real_replace(src, dst)
        if s.journal.exists():
            seen.update(json.loads(s.journal.read_text()))

    monkeypatch.setattr("pipeline.orchestration.outputs.os.replace", replace)
    s.commit(lambda path, mosaic: path.write_text("r"))
    assert seen["products"] == ["m.tif", "m.png", "m.stac.json", "m.report.html"] and seen["request"] == "r1"
