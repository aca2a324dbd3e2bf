"""Property tests: mutated PDS3 labels, PDS4 labels and sidecars give a frame or a
FarsideError, never another exception, never a hang."""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import FarsideError
from pipeline.ingestion import ingest
from pipeline.io import read_meta, read_pixels
from tests.io.builders import pds4_xml, ramp, write_pds3

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images"

SETTINGS = settings(max_examples=50, deadline=2000, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TOKENS = [
    "0", "-1", "1", "99999999999", "-99999999999", "1e308", "-1e308", "NaN", "nan", "inf", "3.5", "2#1010#",
    "16#FFFF#", "16#GG#", "<MS>", "<BYTES>", "<", ">", '"', "'", "(", ")", "{", "}", ",", "=", "/*", "*/",
    "END", "END_OBJECT", "OBJECT", "GROUP", "IMAGE", "^IMAGE", "LINES", "BANDS", "SAMPLE_TYPE", "PC_REAL",
    "VAX_REAL", "MSB_INTEGER", "BAND_SEQUENTIAL", "SAMPLE_INTERLEAVED", "../x", "/etc/passwd", "\r\n", "\n",
    "\x00", "é", "2031-13-45T99:99:99", "UNK", "N/A", " ", "", "LINE_PREFIX_BYTES = 1000000",
]


@contextlib.contextmanager
def no_hang(seconds: int = 10):
    """Fail (instead of hanging forever) if the body runs longer than ``seconds``."""

    def handler(signum, frame):  # pragma: no cover - only on a hang
        raise TimeoutError(f"reader hung for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _frame_or_farside_error(path: Path, **kw) -> None:
    with no_hang():
        try:
            meta = read_meta(path, max_bytes=2**24, **kw)
            data, mask = read_pixels(meta, max_bytes=2**24)
        except FarsideError:
            return
    assert data.shape == meta.shape and data.dtype == np.float32 and mask.shape == meta.shape


mutation = st.tuples(st.integers(0, 10_000), st.sampled_from(["replace", "insert", "delete"]),
                     st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)))


def _mutate(text: str, edits, limit: int) -> str:
    for pos, op, token in edits:
        i = pos % max(1, min(len(text), limit))
        if op == "replace":
            text = text[:i] + token + text[i + len(token):]
        elif op == "insert":
            text = text[:i] + token + text[i:]
        else:
            text = text[:i] + text[i + 1 + len(token):]
    return text


@SETTINGS
@given(edits=st.lists(mutation, min_size=1, max_size=6), attached=st.booleans())
def test_mutated_pds3_label(tmp_path_factory, edits, attached):
    d = tmp_path_factory.mktemp("pds3")
    path = write_pds3(d, "M", ramp(dtype=">u2"), "MSB_UNSIGNED_INTEGER", attached=attached,
                      image_extra="  OFFSET = 1.0\r\n  SCALING_FACTOR = 2.0\r\n  MISSING_CONSTANT = 0")
    raw = path.read_bytes()
    if attached:
        label_len = raw.index(b"END\r\n") + 5
        label = _mutate(raw[:label_len].decode("latin-1"), edits, label_len)
        path.write_bytes(label.encode("latin-1", "replace") + raw[label_len:])
    else:
        path.write_bytes(_mutate(raw.decode("latin-1"), edits, len(raw)).encode("utf-8", "replace"))
    _frame_or_farside_error(path)
    _frame_or_farside_error(d / "M.IMG") if (d / "M.IMG").exists() else None


@SETTINGS
@given(edits=st.lists(mutation, min_size=1, max_size=6),
       data_type=st.sampled_from(["UnsignedMSB2", "SignedLSB2", "IEEE754LSBSingle", "UnsignedByte"]))
def test_mutated_pds4_label(tmp_path_factory, edits, data_type):
    d = tmp_path_factory.mktemp("pds4")
    dtype = {"UnsignedMSB2": ">u2", "SignedLSB2": "<i2", "IEEE754LSBSingle": "<f4", "UnsignedByte": "u1"}[data_type]
    (d / "P.img").write_bytes(ramp(dtype=dtype).tobytes())
    xml = pds4_xml("P.img", 6, 5, data_type, scaling="<scaling_factor>2</scaling_factor><value_offset>1</value_offset>",
                   specials={"missing_constant": "0", "saturated_constant": "29"})
    start = xml.index("<Observation_Area>")
    body = _mutate(xml[start:], edits, len(xml) - start)
    (d / "P.xml").write_text(xml[:start] + body, encoding="utf-8", errors="replace")
    _frame_or_farside_error(d / "P.xml")
    _frame_or_farside_error(d / "P.img")


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=10)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=8,
)

ISD = json.loads((SAMPLE / "FS_S0_F00.json").read_text())
ISD_KEYS = sorted(ISD) + ["exposure_duration", "frame_type", "start_time"]


@SETTINGS
@given(
    drops=st.lists(st.sampled_from(ISD_KEYS), max_size=3),
    sets=st.lists(st.tuples(st.sampled_from(ISD_KEYS), JSON_VALUES), max_size=3),
    cut=st.one_of(st.none(), st.integers(0, 4000)),
)
def test_mutated_sidecar(tmp_path_factory, drops, sets, cut):
    d = tmp_path_factory.mktemp("sidecar")
    (d / "FS_S0_F00.IMG").write_bytes((SAMPLE / "FS_S0_F00.IMG").read_bytes())
    doc = dict(ISD)
    for key in drops:
        doc.pop(key, None)
    for key, value in sets:
        doc[key] = value
    text = json.dumps(doc, allow_nan=True)
    if cut is not None:
        text = text[:cut]
    (d / "FS_S0_F00.json").write_text(text)
    with no_hang():
        result = ingest(d)  # never raises for a bad file
    assert len(result.frames) + len(result.failures) + len(result.calibration) == 1
    for failure in result.failures:
        assert failure.stage == "ingest" and failure.reason
    for frame in result.frames:
        assert frame.camera is None or (frame.camera.lines, frame.camera.samples) == frame.meta.shape
