"""Any file name the OS allows: frames named with bytes that are not UTF-8 are read (GDAL
formats included) and appear escaped (``\\xNN``) in every output."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import rasterio

from pipeline.orchestration import run
from tests.conftest import small_config

pytestmark = pytest.mark.slow


def test_non_utf8_file_names_are_read_and_escaped_everywhere(survey, tmp_path):
    frames = tmp_path / "in"
    shutil.copytree(survey, frames, ignore=shutil.ignore_patterns("truth"))
    tiff = sorted(frames.glob("*.tif"))[0]  # read through GDAL
    fits = sorted(frames.glob("*.fits"))[0]
    for src, name in ((tiff, b"FS_\xff\xfe"), (fits, b"FS_\xe9t\xe9")):
        d = os.fsencode(frames)
        os.rename(os.fsencode(src), d + b"/" + name + os.fsencode(src.suffix))
        os.rename(os.fsencode(src.with_suffix(".json")), d + b"/" + name + b".json")
    out = tmp_path / "out" / "m.tif"
    result = run(frames, out, calibration=frames / "calibration", config=small_config(tmp_path))
    assert not result.failures
    ids = {f.id for f in result.plan.frames}
    assert {r"FS_\xff\xfe", r"FS_\xe9t\xe9"} <= ids and len(ids) == 6
    assert result.registration.stats.n_tied == 6
    page = out.with_name("m.report.html").read_text(encoding="utf-8")
    stac = out.with_name("m.stac.json").read_text(encoding="utf-8")
    with rasterio.open(out) as ds:
        inputs = json.loads(ds.tags()["farside_inputs"])
    for text in (page, stac, json.dumps(inputs)):
        assert r"FS_\xe9t\xe9" in text.replace("\\\\", "\\")
        assert "\udce9" not in text
