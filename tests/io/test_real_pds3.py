"""Real raw PDS3 products (USGS ISIS test crops): reproduce what ISIS's import tests assert.

The files live in ``<project root>/../shared/reference/pds3`` (never copied into the repo);
the tests skip when it is absent. Expected values and tolerances are those of
``ISIS_EXPECTED.md`` (ISIS3 commit 7ca57fa); ISIS histograms count valid pixels only and
use the sample standard deviation (n - 1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import UnsupportedFormat
from pipeline.ingestion import ingest
from pipeline.ingestion.params import IngestionParams
from pipeline.io import read_meta, read_pixels
from pipeline.io.rawarray import RawLayout, read_stored

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pds3"


@pytest.fixture(scope="module")
def ref() -> Path:
    if not REF.is_dir():
        pytest.skip(f"real PDS3 reference products not found at {REF} (clone the project next to shared/)")
    return REF


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _hist(values: np.ndarray) -> tuple[int, float, float, float]:
    v = np.asarray(values, np.float64)
    return v.size, v.mean(), v.sum(), v.std(ddof=1)


def _scaled(meta) -> tuple[np.ndarray, np.ndarray]:
    """Stored values and value = offset + scale * stored in float64 (ISIS computes in double)."""
    layout = RawLayout.from_dict(meta.extra["layout"])
    raw = read_stored(layout, meta.band)
    if layout.lut is not None:
        value = np.asarray(layout.lut)[raw.astype(int)]
    else:
        value = raw.astype(np.float64)
    return raw, value * layout.scale + layout.value_offset


def _check_float32(data: np.ndarray, mask: np.ndarray, exact: np.ndarray) -> None:
    np.testing.assert_array_equal(data[~mask], exact[~mask].astype(np.float32))


def test_every_product_ingests(ref):
    """Every real PDS3 product ingests; the LRO WAC EDR as its 14 filter-and-parity images."""
    result = ingest(ref, config=IngestionParams(recursive=True))
    names = sorted({f.meta.path.name for f in result.all_frames})
    assert names == sorted([
        "M3G20090106T113423_V01_L0_cropped.IMG", "vis_cropped.img", "TC1S2B0_01_00811N526E0443_mini.img",
        "TC1S2B0_01_05186N225E0040_mini.img", "nacl.img", "MI_MAP_03_N51E124N50E125SC_cropped.img",
        "ldem_4_cropped.img", "wac0000a1c4_cropped.img",
    ])
    assert sum(f.meta.format == "lrowac" for f in result.all_frames) == 14
    assert not result.failures


def test_lronac2isis_nacl_full(ref):
    """Lronac2isisTests.Lro2isisNacLFull: decompanded like lronac2isis."""
    meta = read_meta(ref / "lronac" / "nacl.img")
    assert meta.shape == (10, 5064) and meta.extra["bands"] == 1
    assert meta.extra["companded"] and meta.dtype == "uint8"
    assert meta.instrument == "NACL"
    assert meta.time_utc == _utc("2009-11-29T14:51:21.968000")
    assert meta.exposure_s == pytest.approx(0.3376e-3, rel=1e-12)  # LINE_EXPOSURE_DURATION 0.3376 <ms>
    data, mask = read_pixels(meta)
    assert data.dtype == np.float32  # ISIS: "Real", base 0, multiplier 1
    _, exact = _scaled(meta)
    _check_float32(data, mask, exact)
    n, mean, total, std = _hist(exact[~mask])
    assert n == 50640 and total == 7924526
    assert mean == pytest.approx(156.48748025276461, abs=1e-5)
    assert std == pytest.approx(36.500101257155755, abs=1e-4)


def test_lroc_nac_decompanding_table_matches_lronac2isis():
    from pipeline.io.companding import nac_decompand_table

    t = nac_decompand_table((0, 32, 136, 543, 2207), (0.5, 0.25, 0.125, 0.0625, 0.03125), (0, 8, 25, 59, 128))
    assert np.all(np.diff(t) > 0) and t[-1] <= 4095
    # XTERM[0] = 0: stored 0 is in segment 1 (x in [0, 32), stored = int(0.5 x)) -> x in [0, 1] -> 0.5
    assert t[0] == 0.5
    # segment 2 (x in [32, 136)): stored = int(8 + 0.25 x); 16 -> x in [32, 35] -> middle 33.5
    assert t[16] == 33.5


@pytest.mark.parametrize(("name", "samples", "start", "scene_min_dn"), [
    ("TC1S2B0_01_05186N225E0040_mini", 3208, "2008-12-07T05:04:34.458542", 30),
    ("TC1S2B0_01_00811N526E0443_mini", 1744, "2007-12-15T00:00:10.156275", 0),
])
def test_kaguyatc2isis(ref, name, samples, start, scene_min_dn):
    meta = read_meta(ref / "kaguyatc2isis" / f"{name}.lbl")
    assert meta.shape == (3, samples) and meta.extra["bands"] == 1
    assert meta.dtype == "int16" and meta.extra["scale"] == 0.013 and meta.extra["offset"] == 0.0
    assert meta.instrument == "TC1"
    assert meta.time_utc == _utc(start)
    assert meta.exposure_s == pytest.approx(3.25e-3, rel=1e-12)  # ExposureDuration 3.25 ms
    assert meta.label_path.name == f"{name}.lbl" and meta.path.name == f"{name}.img"
    data, mask = read_pixels(meta)
    raw, exact = _scaled(meta)
    _check_float32(data, mask, exact)
    assert raw.min() >= scene_min_dn and not mask.any()


def test_kaguyami2isis_vis(ref):
    meta = read_meta(ref / "kaguyami2isis" / "vis_cropped.img")
    assert meta.shape == (20, 962) and meta.extra["bands"] == 2
    assert meta.dtype == "int16" and meta.extra["scale"] == 0.013 and meta.extra["offset"] == 0.0
    assert meta.instrument == "MI-VIS"
    assert meta.time_utc == _utc("2008-09-16T20:11:04.162607")
    assert meta.exposure_s == pytest.approx(2.6623e-3, rel=1e-12)  # LineExposureDuration 2.6623 msec
    data, mask = read_pixels(meta)
    raw, exact = _scaled(meta)
    _check_float32(data, mask, exact)
    # farside masks the 79 out-of-image-bounds pixels (-30000 DN); ISIS counts them as valid
    out_of_bounds = raw == -30000
    assert mask.sum() == out_of_bounds.sum() == 79 and np.array_equal(mask, out_of_bounds)
    n, mean, total, std = _hist(exact[~mask | out_of_bounds])
    assert n == 19240
    assert mean == pytest.approx(25.685768243243238, rel=1e-12)
    assert total == pytest.approx(494194.18099999992, rel=1e-12)
    assert std == pytest.approx(26.830242572528928, rel=1e-12)
    assert read_meta(ref / "kaguyami2isis" / "vis_cropped.img", band=1).band == 1


def test_mimap2isis_map_v3(ref):
    meta = read_meta(ref / "mimap2isis" / "MI_MAP_03_N51E124N50E125SC_cropped.lbl")
    assert meta.shape == (5, 5) and meta.extra["bands"] == 9 and meta.dtype == "int16"
    assert meta.extra["scale"] == 2e-05 and meta.instrument == "MI"
    assert meta.time_utc is None  # START_TIME = UNK
    for band in (0, 8):
        m = read_meta(meta.label_path, band=band)
        data, mask = read_pixels(m)
        _check_float32(data, mask, _scaled(m)[1])


def test_pds2isis_ldem_offset(ref):
    """Pds2Isis.Pds2isisTestOffset: SCALING_FACTOR 0.5, OFFSET 1737400 m."""
    meta = read_meta(ref / "pds2isis" / "ldem_4_cropped.img")
    assert meta.shape == (1, 1440) and meta.instrument == "LOLA"
    data, mask = read_pixels(meta)
    _, exact = _scaled(meta)
    _check_float32(data, mask, exact)
    n, mean, total, std = _hist(exact[~mask])
    assert n == 1439
    assert mean == pytest.approx(1.7375e06, abs=10)
    assert total == pytest.approx(2.50026e09, abs=1e3)
    assert std == pytest.approx(9187.96, abs=1e-4)


def test_chan1m32isis_l0(ref):
    meta = read_meta(ref / "chan1m32isis" / "l0" / "M3G20090106T113423_V01_L0_cropped.LBL")
    assert meta.shape == (5, 320) and meta.extra["bands"] == 3
    assert meta.dtype == "int16" and meta.extra["scale"] == 1.0 and meta.extra["offset"] == 0.0
    assert meta.instrument == "M3"
    assert meta.time_utc == _utc("2009-01-06T11:34:23")
    assert meta.exposure_s is None  # ISIS derives LineExposureDuration from the mode; not in the label
    data, mask = read_pixels(meta)
    n, mean, total, std = _hist(data[~mask])
    assert n == 1600 and total == 1241649
    assert mean == pytest.approx(776.031, abs=1e-3)
    assert std == pytest.approx(449.337, abs=1e-3)


def test_lrowac_companded_edr_refused(ref):
    with pytest.raises(UnsupportedFormat, match="not supported: LROC companded EDR"):
        read_meta(ref / "lrowac2isis" / "wac0000a1c4_cropped.img")
