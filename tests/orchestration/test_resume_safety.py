"""Resuming from a work directory that someone tampered with, or after a kill at any point.

A small survey (2 strips x 2 frames of 128 px, seed 7: every stage runs, registration, the
cross-check and equalisation included) is mosaicked once as the reference. Then:

- every cached product is replaced by a pickle that would create a file when loaded, with a
  manifest entry that matches it: the rerun never runs one and makes the same pixels;
- byte-flipped products are detected and recomputed;
- the ``farside mosaic`` command is SIGKILLed at each stage (after the first product of each
  stage is cached, while the GeoTIFF is assembled, with everything staged, while the report
  renders from the staged GeoTIFF, between the GeoTIFF's rename and the others'); the same command, run
  again without ``--overwrite``, writes the same complete output set and leaves no temporary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.orchestration import run
from pipeline.orchestration.tempfiles import MARK
from tests.conftest import ROOT, small_config
from tests.orchestration.test_codecs import _Exploit

pytestmark = pytest.mark.slow

STAGES = ("masters", "calibrated", "matches", "adjusted", "relief", "crosschecked", "photometry", "normalised",
          "equalize", "tiles")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from pipeline.simulation import simulate_survey

    root = tmp_path_factory.mktemp("tiny")
    simulate_survey(root, seed=7, n_strips=2, frames_per_strip=2, size=(128, 128))
    return root


def _pixels(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def _same(a: Path, b: Path) -> bool:
    return np.array_equal(_pixels(a), _pixels(b), equal_nan=True)


def _run(tiny: Path, out: Path, work: Path):
    return run(tiny, out, calibration=tiny / "calibration", config=small_config(work), report=False)


def test_planted_pickles_everywhere_are_never_run(tiny, tmp_path, caplog):
    ref = _run(tiny, tmp_path / "ref.tif", tmp_path)
    entries = sorted((tmp_path / "work").glob("*/*.json"))
    assert {p.parent.name for p in entries} == set(STAGES)
    marker = tmp_path / "pwned.txt"
    for entry_path in entries:  # each product -> a pickle that writes `marker`, with a matching entry
        payload = pickle.dumps(_Exploit(marker))
        entry_path.with_suffix(".npz").write_bytes(payload)
        entry = json.loads(entry_path.read_text())
        entry.update(sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload))
        entry_path.write_text(json.dumps(entry))
    with caplog.at_level(logging.WARNING):
        again = _run(tiny, tmp_path / "again.tif", tmp_path)
    assert not marker.exists()
    assert _same(ref.out, again.out)
    warned = {r.getMessage().split(" failed verification")[0].rsplit(" ", 1)[-1] for r in caplog.records
              if "failed verification" in r.getMessage()}
    assert warned == {str(p.with_suffix(".npz")) for p in entries}  # every one named, every one recomputed
    assert not again.reused


def test_byte_flipped_products_are_recomputed(tiny, tmp_path, caplog):
    ref = _run(tiny, tmp_path / "ref.tif", tmp_path)
    victims = [min((tmp_path / "work" / stage).glob("*.npz")) for stage in ("calibrated", "tiles", "adjusted")]
    for path in victims:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x40
        path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        again = _run(tiny, tmp_path / "again.tif", tmp_path)
    assert _same(ref.out, again.out)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert all(f"{p} failed verification (content hash mismatch" in text for p in victims)
    assert again.reused["calibrated"] == len(ref.plan.frames) - 1  # the others were reused


# ----------------------------------------------------------------------------------------
# kills
# ----------------------------------------------------------------------------------------
CHILD = r"""
import os, signal, sys
from pathlib import Path

point, args = sys.argv[1], sys.argv[2:]
out = Path(args[args.index("--out") + 1])

def die(*_a, **_k):
    os.kill(os.getpid(), signal.SIGKILL)

if point.startswith("store:"):
    from pipeline.orchestration.workdir import WorkDir
    stage, store = point[6:], WorkDir.store
    def patched(self, s, *a, **k):
        path = store(self, s, *a, **k)
        if s == stage:
            die()
        return path
    WorkDir.store = patched
elif point == "writing":
    from pipeline.io.geotiff import CogWriter
    write_tile = CogWriter.write_tile
    def patched(self, *a, **k):
        write_tile(self, *a, **k)
        die()
    CogWriter.write_tile = patched
elif point == "staged":
    from pipeline.orchestration.outputs import OutputSet
    OutputSet.commit = die
elif point == "renamed-tif":
    replace = os.replace
    def patched(src, dst):
        replace(src, dst)
        if Path(dst) == out:
            die()
    os.replace = patched
elif point == "report":
    import pipeline.orchestration.run
    sys.modules["pipeline.orchestration.run"].write_report = die  # the package's `run` is the function
from pipeline.cli import main
main(args, prog_name="farside")
"""
KILL_POINTS = [*(f"store:{s}" for s in STAGES), "writing", "staged", "renamed-tif", "report"]


def _args(tiny: Path, out: Path, work: Path, config: Path) -> list[str]:
    return ["-q", "mosaic", str(tiny), "--out", str(out), "--calibration", str(tiny / "calibration"),
            "--config", str(config), "--workdir", str(work), "--scheduler", "synchronous"]


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    config = tmp / "c.yaml"
    config.write_text("mosaicking:\n  tile_size: 128\n")
    out = tmp / "out" / "m.tif"
    result = CliRunner().invoke(main, _args(tiny, out, tmp / "work", config), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, config


def _set(out: Path) -> list[Path]:
    return [out, out.with_suffix(".png"), out.with_suffix(".stac.json"), out.with_name(out.stem + ".relief.tif"),
            out.with_name(out.stem + ".report.html")]


def _temporaries(*folders: Path) -> list[Path]:
    return [p for f in folders for p in f.rglob("*") if MARK in p.name or p.name.endswith(".farside-set.json")
            or p.name.endswith((".partial.tif", ".cog.tif", ".ovr.tmp", ".partial"))]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_then_the_same_command_gives_the_complete_set(point, tiny, reference, tmp_path):
    ref_out, config = reference
    out, work = tmp_path / "out" / "m.tif", tmp_path / "work"
    args = _args(tiny, out, work, config)
    child = subprocess.run([sys.executable, "-c", CHILD, point, *args], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, check=False)
    assert child.returncode == -signal.SIGKILL, (point, child.returncode, child.stderr[-2000:])
    left = [p for p in _set(out) if p.exists()]
    if point == "renamed-tif":
        assert left[:1] == [out] and out.with_name(f".{out.name}.farside-set.json").exists()
    else:
        assert not left, f"a kill at {point} left {left} under final names"
    rerun = CliRunner().invoke(main, args, catch_exceptions=False)  # the same command: no --overwrite
    assert rerun.exit_code == 0, rerun.output
    assert all(p.exists() for p in _set(out)), [p for p in _set(out) if not p.exists()]
    assert _same(ref_out, out)
    assert out.with_suffix(".png").read_bytes() == ref_out.with_suffix(".png").read_bytes()
    stac = json.loads(out.with_suffix(".stac.json").read_text())
    assert stac["assets"]["data"]["href"] == "m.tif" and stac["assets"]["quicklook"]["href"] == "m.png"
    assert not _temporaries(out.parent, work)
