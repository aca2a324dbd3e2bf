"""Every failure a user can cause ends with one ``farside: error:`` line naming the file or key.

Each case checks: non-zero exit, exactly one error line and it is the last line, no traceback
(without ``-v``), the message names what is wrong and how to fix it, and nothing is left
under the output names or as a temporary.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rasterio.errors import RasterioIOError

from pipeline.cli import main
from pipeline.orchestration import tempfiles
from tests.faults import failing_write, mounted_tmpfs


def _cli(*args):
    return CliRunner().invoke(main, ["-q", *(str(a) for a in args)], catch_exceptions=False)


def _error_line(result, status: int | None = None) -> str:
    """The single ``farside: error:`` line, checked to be the last line."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("farside: error:")]
    assert result.exit_code != 0, result.output
    if status is not None:
        assert result.exit_code == status, result.output
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    assert "Traceback" not in result.output, result.output
    return errors[0]


def _no_leftovers(folder: Path) -> None:
    if folder.exists():
        left = [p.name for p in folder.rglob("*") if tempfiles.MARK in p.name or ".farside-set" in p.name
                or p.suffix in (".tif", ".png", ".html") or p.name.endswith(".stac.json")]
        assert not left, left


@pytest.mark.parametrize(("option", "value"), [("--resolution", "0"), ("--resolution", "inf"),
                                               ("--resolution", "nan"), ("--resolution", "-5"), ("--workers", "0")])
def test_bad_numbers_in_options(survey, tmp_path, option, value):
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", option, value), status=2)
    assert option in line and value in line and "--help" in line
    _no_leftovers(tmp_path)


@pytest.mark.parametrize(("yaml", "key"), [
    ("mosaicking:\n  bounds: [0, .nan, 1000, 2000]\n", "mosaicking.bounds"),
    ("mosaicking:\n  bounds: [1000, 0, 0, 2000]\n", "mosaicking.bounds"),
    ("mosaicking:\n  resolution_m: .inf\n", "mosaicking.resolution_m"),
    ("mosaicking:\n  resolution_m: 0\n", "mosaicking.resolution_m"),
    ("mosaicking:\n  max_output_pixels: -1\n", "mosaicking.max_output_pixels"),
    ("mosaicking:\n  tile_size: 0\n", "mosaicking.tile_size"),
    ("run:\n  workers: 0\n", "run.workers"),
    ("run:\n  scheduler: warp-drive\n", "run.scheduler"),
    ("calibration:\n  clip_sigma: .nan\n", "calibration.clip_sigma"),
])
def test_bad_numbers_in_config(survey, tmp_path, yaml, key):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml)
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--config", cfg), status=1)
    assert str(cfg) in line and key in line
    _no_leftovers(tmp_path)


def test_a_config_that_is_not_utf8(survey, tmp_path):
    cfg = tmp_path / "latin1.yaml"
    cfg.write_bytes("mosaicking:\n  crs: farside_eqc  # côté\n".encode("latin-1"))
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "m.tif", "--config", cfg))
    assert str(cfg) in line and "UTF-8" in line


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 300, b"just text\n", b"II*\x00\x08\x00\x00\x00"])
def test_inspect_on_files_that_are_not_mosaics(tmp_path, content):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(content)
    line = _error_line(_cli("inspect", bad))
    assert str(bad) in line and "GeoTIFF" in line


def test_an_output_path_whose_parent_is_a_file(survey, tmp_path):
    (tmp_path / "afile").write_text("x")
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "afile" / "m.tif", "--workdir", tmp_path / "w"))
    assert "afile is a file" in line


def test_every_product_of_the_set_is_governed_by_overwrite(survey, tmp_path):
    out = tmp_path / "m.tif"
    png = out.with_suffix(".png")
    png.write_bytes(b"the user's own picture")
    line = _error_line(_cli("mosaic", survey, "--out", out, "--workdir", tmp_path / "w"))
    assert str(png) in line and "--overwrite" in line
    assert png.read_bytes() == b"the user's own picture" and not out.exists()
    assert not (tmp_path / "w").exists()  # refused before any work


def test_read_only_workdir_fake(survey, tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.orchestration.workdir.atomic_write_bytes", failing_write(errno.EROFS, "probe"))
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", tmp_path / "w"))
    assert f"work directory {tmp_path / 'w'}" in line and "Read-only file system" in line and "--workdir" in line
    _no_leftovers(tmp_path / "o")


def test_read_only_workdir_real(survey, tmp_path):
    with mounted_tmpfs(tmp_path / "ro", "ro,size=64k") as ro:
        line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", ro / "w"))
    assert f"work directory {ro / 'w'}" in line and "Read-only file system" in line
    _no_leftovers(tmp_path / "o")


FAST = ("--no-register", "--resolution", "800", "--scheduler", "synchronous")


def test_disk_full_in_the_workdir_fake(survey, tmp_path, monkeypatch):
    monkeypatch.setattr("pipeline.orchestration.workdir.atomic_write_bytes",
                        failing_write(errno.ENOSPC, "calibrated"))
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", tmp_path / "w", *FAST))
    assert "No space left on device" in line and str(tmp_path / "w" / "calibrated") in line
    _no_leftovers(tmp_path / "o")


def test_disk_full_in_the_workdir_real(survey, tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=256k") as small:
        line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", small / "w", *FAST))
        assert "No space left on device" in line and str(small / "w") in line
        assert not [p for p in small.rglob("*") if tempfiles.MARK in p.name]
    _no_leftovers(tmp_path / "o")


def test_disk_full_during_the_geotiff_write_fake(survey, tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise RasterioIOError("Write failed. See previous exception for details.")

    monkeypatch.setattr("pipeline.io.geotiff.CogWriter.write_tile", full)
    out = tmp_path / "o" / "m.tif"
    line = _error_line(_cli("mosaic", survey, "--out", out, "--workdir", tmp_path / "w", *FAST))
    assert f"cannot write m.tif into {out.parent}" in line and "free space" in line
    _no_leftovers(out.parent)


def test_disk_full_during_the_geotiff_write_real(survey, tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=160k") as small:
        out = small / "m.tif"
        line = _error_line(_cli("mosaic", survey, "--out", out, "--workdir", tmp_path / "w", "--no-register",
                                "--resolution", "40", "--scheduler", "synchronous"))
        assert f"cannot write m.tif into {small}" in line and "MB free there" in line
        _no_leftovers(small)


def test_the_pixel_budget_refuses_the_1m_case_before_any_work(survey, tmp_path, monkeypatch):
    calls = []

    def forbidden(name):
        def f(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} ran")
        return f

    for name in ("masters_step", "calibrate_step", "tile_step", "write_products"):
        monkeypatch.setattr(f"pipeline.orchestration.steps.{name}", forbidden(name))
    monkeypatch.setattr("pipeline.geometry.grid.MapGrid.tiles", forbidden("MapGrid.tiles"))
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", tmp_path / "w",
                            "--resolution", "1"))
    # the session survey (2 strips x 3 frames of 192 px at ~180 m) spans 77 x 60 km
    assert "77067 x 60123 = 4.63e+09 px at 1 m" in line and "mosaicking.max_output_pixels = 2e+09" in line
    assert ">= 1.52 m fits" in line and "max_output_pixels: 4633499241" in line
    assert not calls  # no tile was listed, no pixel read
    assert not [p for p in (tmp_path / "w").iterdir() if p.is_dir()]  # no stage product


def test_a_pixel_coarser_than_the_frames(survey, tmp_path):
    line = _error_line(_cli("mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", tmp_path / "w",
                            "--resolution", "1e9"))
    assert "mosaicking.resolution_m = 1e+09 m is coarser than the frames" in line


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_traceback(survey, tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise TypeError("an internal bug")

    monkeypatch.setattr(sys.modules["pipeline.orchestration.run"], "plan", bug)  # `orchestration.run` is the function
    args = ["mosaic", survey, "--out", tmp_path / "o" / "m.tif", "--workdir", tmp_path / "w"]
    line = _error_line(_cli(*args))
    assert "unexpected TypeError: an internal bug" in line and "-v" in line
    verbose = CliRunner().invoke(main, ["-v", *(str(a) for a in args)], catch_exceptions=False)
    assert "Traceback" in verbose.output and verbose.output.strip().splitlines()[-1].startswith("farside: error:")
