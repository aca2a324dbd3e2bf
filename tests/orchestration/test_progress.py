"""Progress that works everywhere (issue 22): a live display in a pseudo-terminal, timestamped
lines in a pipe, at most one line per stage every 10 s, nothing with -q."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.orchestration.progress import RunProgress, stage_of

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# a small graph whose task keys carry the stage prefixes of orchestration/graph.py
SCRIPT = textwrap.dedent("""
    import logging, sys, time
    import dask
    from dask.delayed import delayed
    from pipeline.orchestration.progress import RunProgress, setup_logging
    setup_logging(logging.INFO, sys.stderr)
    log = logging.getLogger("pipeline.test")

    def work(*args):
        time.sleep(0.15)
        return 1

    def noisy(*args):
        log.info("a log line in the middle of the run")
        return work()

    cal = [delayed(work)(i, dask_key_name=f"calibrate-F{i:02d}-x") for i in range(4)]
    match = [delayed(noisy if i == 1 else work)(cal[i], cal[i + 1], dask_key_name=f"match-{i}-{i+1}-x")
             for i in range(3)]
    tiles = [delayed(work)(match, dask_key_name=f"tile-0-{k}-x") for k in range(5)]
    out = delayed(work)(tiles, dask_key_name="write-x")
    with RunProgress(sys.argv[1]) as p:
        with p.dask_callback():
            dask.compute(out, scheduler="threads", num_workers=2)
    print("DONE", flush=True)
""")


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", "TERM": "xterm-256color"}


def test_stage_of_task_keys():
    assert stage_of("calibrate-FS_S0_F00-ab12") == "calibrate"
    assert stage_of(("tile-0-3-ab", 0)) == "tile"
    assert stage_of("finalize-x") is None


def test_live_display_in_a_pseudo_terminal():
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "auto"], stdin=slave, stdout=slave, stderr=slave,
                            env=_env(), close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    raw = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0 and "DONE" in raw
    assert "\x1b[" in raw  # redrawn in place: cursor movements, not lines
    text = ANSI.sub("", raw)
    for row in ("frames calibrated", "pairs matched", "tiles mosaicked", "mosaic written"):
        assert row in text, row
    assert re.search(r"frames calibrated\s.*4/4", text) and re.search(r"tiles mosaicked\s.*5/5", text)
    assert "eta" in text
    # the log line scrolls above the display: rich erases its rows (cursor to column 0, erase line,
    # up, ...), prints the whole timestamped line, then redraws the rows below it
    logged = re.search(r"\r(?:\x1b\[2K\x1b\[1A)*\x1b\[2K(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d INFO pipeline.test: "
                       r"a log line in the middle of the run)\r?\n", raw)
    assert logged, raw[-2000:]
    assert "frames calibrated" in ANSI.sub("", raw[logged.end():])


def test_lines_in_a_pipe():
    done = subprocess.run([sys.executable, "-c", SCRIPT, "auto"], capture_output=True, text=True, env=_env(),
                          timeout=120, check=True)
    err = done.stderr
    assert "\x1b[" not in err  # no terminal codes in a log file
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
    for stage, n in (("frames calibrated", 4), ("pairs matched", 3), ("tiles mosaicked", 5), ("mosaic written", 1)):
        assert re.search(rf"^{stamp} progress {stage}: {n}/{n} \(100%\)", err, re.MULTILINE), (stage, err)
    assert re.search(rf"^{stamp} INFO pipeline.test: a log line in the middle of the run$", err, re.MULTILINE)


def test_lines_at_most_every_interval_per_stage():
    t = [0.0]
    out = io.StringIO()
    with RunProgress("lines", stream=out, interval_s=10.0, clock=lambda: t[0],
                     now=lambda: datetime(2024, 1, 1, tzinfo=UTC)) as p:
        p.set_total("tile", 100)
        p.set_total("calibrate", 3)
        for k in range(99):
            t[0] = k * 0.5  # a tile every half second for 49.5 s
            p.advance("tile")
        p.advance("calibrate", 3)
        t[0] = 50.0
        p.advance("tile")
    tile_lines = [ln for ln in out.getvalue().splitlines() if "tiles mosaicked" in ln]
    # at 0 s (declared), then each 10 s: 10, 20, 30, 40 s, and the completion at 50 s
    assert [ln.split(": ")[1].split(" (")[0] for ln in tile_lines] == [
        "0/100", "21/100", "41/100", "61/100", "81/100", "100/100"]
    assert "eta" in tile_lines[2] and tile_lines[-1].endswith(", 50 s")
    assert sum("frames calibrated" in ln for ln in out.getvalue().splitlines()) == 2


def test_off_prints_nothing():
    out = io.StringIO()
    with RunProgress("off", stream=out) as p:
        p.set_total("tile", 3)
        p.advance("tile", 3)
    assert out.getvalue() == ""
    with pytest.raises(ValueError, match="progress mode"):
        RunProgress("bars")
