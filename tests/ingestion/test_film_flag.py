"""Which frames ingest calls film scans: the sidecar's film key, ingestion.film_instruments,
ingestion.film, then the automatic guess (an 8-bit PNG/JPEG/TIFF without exposure duration)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.ingestion import IngestionParams, ingest


def write(folder, stem, *, bits=8, sidecar=None, suffix=".png"):
    rng = np.random.default_rng(len(stem))
    hi = 255 if bits == 8 else 4095
    data = rng.integers(10, hi, (24, 32)).astype(np.uint8 if bits == 8 else np.uint16)
    assert cv2.imwrite(str(folder / f"{stem}{suffix}"), data)
    if sidecar is not None:
        (folder / f"{stem}.json").write_text(json.dumps(sidecar))


@pytest.fixture
def folder(tmp_path):
    write(tmp_path, "a_auto")                                           # 8-bit PNG, nothing else
    write(tmp_path, "b_timed", sidecar={"exposure_duration": 0.5})      # has an exposure: a detector frame
    write(tmp_path, "c_said_no", sidecar={"film": False})               # the sidecar refuses the guess
    write(tmp_path, "d_16bit", bits=16)                                 # 16-bit raster
    write(tmp_path, "e_said_yes", bits=16, sidecar={"film": True, "instrument_id": "CAM"})
    write(tmp_path, "f_cam", bits=16, sidecar={"instrument_id": "CAM"})
    write(tmp_path, "g_jpeg", suffix=".jpg")
    write(tmp_path, "h_tiff", suffix=".tif")
    return tmp_path


def flags(result):
    return {f.id: (f.meta.extra["film"], f.meta.extra["film_source"]) for f in result.frames}


def test_automatic_guess_and_sidecar_key(folder):
    result = ingest(folder)
    assert not result.failures
    got = {k: v[0] for k, v in flags(result).items()}
    assert got == {"a_auto": True, "b_timed": False, "c_said_no": False, "d_16bit": False, "e_said_yes": True,
                   "f_cam": False, "g_jpeg": True, "h_tiff": True}
    assert flags(result)["c_said_no"][1] == "sidecar film key"
    assert flags(result)["a_auto"][1] == "automatic: 8-bit png without exposure duration"


def test_configuration_overrides_the_guess_and_the_sidecar_overrides_both(folder):
    everything = flags(ingest(folder, config=IngestionParams(film=True)))
    assert everything["d_16bit"] == (True, "ingestion.film") and everything["b_timed"][0] is True
    assert everything["c_said_no"][0] is False  # the frame's own sidecar wins
    table = flags(ingest(folder, config=IngestionParams(film=True, film_instruments={"CAM": False})))
    assert table["f_cam"] == (False, "ingestion.film_instruments[CAM]")
    assert table["e_said_yes"][0] is True and table["d_16bit"][0] is True
    none = flags(ingest(folder, config=IngestionParams(film=False)))
    assert {k for k, v in none.items() if v[0]} == {"e_said_yes"}


def test_a_film_key_that_is_not_a_boolean_is_rejected_with_the_reason(tmp_path):
    write(tmp_path, "bad", sidecar={"film": "yes"})
    write(tmp_path, "good")
    result = ingest(tmp_path)
    assert [f.id for f in result.frames] == ["good"]
    (failure,) = result.failures
    assert failure.path.name == "bad.png" and "film must be true or false" in failure.reason
