"""Safe product codecs: every stage product round-trips bit for bit, nothing is ever unpickled."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from pipeline.calibration import Masters
from pipeline.errors import ProductError
from pipeline.frame import Frame, FrameFailure, FrameMeta, FrameType
from pipeline.geometry import FrameCamera
from pipeline.mosaicking.equalize import Equalization, OverlapStats
from pipeline.orchestration.codecs import dumps, loads
from pipeline.registration import ControlNetwork, FrameStatus, RegistrationResult, RegistrationStats
from pipeline.registration.bundle import FrameCorrection, GroundControl
from pipeline.registration.pairs import PairMatches
from tests.conftest import ROOT

SAMPLE_ISD = ROOT / "sample_images" / "FS_S0_F00.json"


class _Exploit:
    """Unpickling this creates ``path`` (what a planted pickle would do)."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "ran"))


def _camera() -> FrameCamera:
    return FrameCamera.from_file(SAMPLE_ISD)


def _frame(rng) -> Frame:
    meta = FrameMeta(id="f0", path=Path("/data/f0.IMG"), format="pds3", shape=(4, 5), dtype="uint16",
                     frame_type=FrameType.LIGHT, exposure_s=0.25, time_utc=datetime(2026, 1, 2, 3, 4, 5, 678, UTC),
                     instrument="CAM", content_hash="ab" * 32, label_path=None, isd_path=SAMPLE_ISD, band=0,
                     extra={"scaling": (1.0, 0.0), "constants": {"null": -32768}, "np": np.int16(-5)})
    return Frame(meta, _camera(), rng.random((4, 5)).astype(np.float32), rng.random((4, 5)) > 0.8,
                 {"median": np.float64(0.123), "noise": math.nan, "cosmic_rays": 3, "photometry": "lunar_lambert"},
                 np.zeros((4, 5), bool))


def _registration(rng) -> RegistrationResult:
    cam = _camera()
    adjusted = cam.with_pointing_correction(np.array([1e-4, -2e-4, 3e-5]), [1.0, -2.0, 0.5])
    net = ControlNetwork(np.arange(3), np.array(["a", "b", "a"], dtype=object), rng.random(3), rng.random(3),
                         rng.random(3), rng.random(3), rng.random(3), rng.random(3), np.array([True, False, False]),
                         np.zeros(3, bool))
    return RegistrationResult(
        cameras={"a": adjusted, "b": cam},
        corrections={"a": FrameCorrection((1e-4, -2e-4, 3e-5), (1.0, -2.0, 0.5))},
        status={"a": FrameStatus("tied", "", 40, 0, 2.5, 0.1, 0), "b": FrameStatus("prior", "no tie points")},
        network=net, stats=RegistrationStats(rms_before_px=2.5, n_frames=2, converged=True),
        pairs=[{"id_i": "a", "id_j": "b", "n": 40, "score": 0.9, "reason": ""}], notes=["a note"],
    )


def _products(rng) -> dict[str, object]:
    return {
        "frame": _frame(rng),
        "failure": FrameFailure(Path("/data/bad.IMG"), "calibrate", "truncated"),
        "masters": Masters(bias=rng.random((4, 5)), dark_rate=0.0, flat=rng.random((4, 5)) + 0.5,
                           bad=np.zeros((4, 5), np.uint8), read_noise_dn=None, provenance={"bias": "3 frames"}),
        "matches": PairMatches(0, 1, rng.random((6, 2)), rng.random((6, 2)), 0.75, "a", "b", rng.random(6),
                               (0.5, -0.25), 180.0, 20, 6, ""),
        "control": GroundControl("a", rng.random((3, 2)), rng.random((3, 3)) * 1e6, "basemap.tif"),
        "registration": _registration(rng),
        "equalization": Equalization(("a", "b"), np.array([1.0, 1.1]), np.array([0.0, -0.01]),
                                     (OverlapStats(0, 1, 500, 0.1, 0.11, 0.02, 0.021),), "mean", "gain_offset", 720.0),
        "tile": {"iof": rng.random((3, 3)).astype(np.float32), "valid": np.ones((3, 3), bool),
                 "core": (slice(0, 3), slice(128, 131)), "bands": {"count": np.arange(9.0).reshape(3, 3)}},
        "none": None,
        "odd keys": {(1, 2): [1, 2.5, float("inf"), -0.0], 3: {"x", "y"}},
    }


@pytest.mark.parametrize("name", list(_products(np.random.default_rng(0))))
def test_every_product_round_trips_bit_for_bit(name, rng):
    value = _products(rng)[name]
    data = dumps(value)
    back = loads(data)
    assert type(back) is type(value)
    assert dumps(back) == data  # same tree, same array bytes: nothing changed on the way


def test_decoded_values_equal_the_originals(rng):
    p = _products(rng)
    frame = loads(dumps(p["frame"]))
    assert frame.meta == p["frame"].meta and frame.meta.extra == p["frame"].meta.extra
    assert type(frame.meta.extra["np"]) is np.int16 and type(frame.meta.extra["scaling"]) is tuple
    assert frame.data.dtype == np.float32 and np.array_equal(frame.data, p["frame"].data)
    assert frame.camera == p["frame"].camera and math.isnan(frame.qa["noise"])
    reg = loads(dumps(p["registration"]))
    assert reg.cameras == p["registration"].cameras
    assert reg.network.frame_id.dtype == object and list(reg.network.frame_id) == ["a", "b", "a"]
    assert repr(reg.status) == repr(p["registration"].status)  # NaN fields: == would compare NaN objects
    assert repr(reg.stats) == repr(p["registration"].stats)
    tile = loads(dumps(p["tile"]))
    assert tile["core"] == (slice(0, 3), slice(128, 131)) and tile["iof"].dtype == np.float32
    odd = loads(dumps(p["odd keys"]))
    assert odd == {(1, 2): [1, 2.5, float("inf"), -0.0], 3: {"x", "y"}} and math.copysign(1, odd[(1, 2)][3]) < 0


def _reference_cameras(shared: Path | None) -> list[tuple[str, FrameCamera]]:
    files = sorted((ROOT / "sample_images").glob("*.json"))
    if shared is not None:
        files += sorted((shared / "ale-isds").glob("*.json")) + sorted((shared / "usgscsm").glob("*.json"))
    out = []
    for f in files:
        try:
            out.append((f.name, FrameCamera.from_file(f)))
        except (ValueError, OSError):  # line-scan and push-frame ISDs are not frame cameras
            continue
    return out


def test_cameras_round_trip_through_their_isd_bit_for_bit(shared_reference):
    """The ``farside`` block of ``to_isd`` keeps ``cam_to_body`` exact: every field that
    defines the camera comes back with the same bits, also after pointing corrections."""
    cams = _reference_cameras(shared_reference)
    assert len(cams) >= 25  # 18 sample frames + 7 ALE frame ISDs + usgscsm's framers
    arrays = ("position_m", "cam_to_body", "sun_position_m", "velocity_m_s")
    for name, cam in cams:
        for step in range(3):
            back = loads(dumps(cam))
            assert back == cam, name
            for field in arrays:
                a, b = getattr(cam, field), getattr(back, field)
                assert (a is None and b is None) or a.tobytes() == b.tobytes(), (name, field, step)
            assert back.to_isd() == cam.to_isd(), name
            cam = cam.with_pointing_correction(np.array([3e-4, -1e-4, 2e-5]) * (step + 1), [2.0, -1.0, 0.5])


def test_a_planted_pickle_is_never_run(tmp_path):
    marker = tmp_path / "ran.txt"
    payload = pickle.dumps(_Exploit(marker))
    with pytest.raises(ProductError, match="not a product archive"):
        loads(payload)
    # the same pickle inside a well-formed archive, as an object .npy member or as the tree
    for member, data in (("a0.npy", _npy_of_object(marker)), ("tree.json", payload)):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            if member != "tree.json":
                zf.writestr("tree.json", json.dumps({"$": "array", "ref": "a0"}))
            zf.writestr(member, data)
        with pytest.raises(ProductError):
            loads(buf.getvalue())
    assert not marker.exists()


def _npy_of_object(marker: Path) -> bytes:
    fh = io.BytesIO()
    np.lib.format.write_array(fh, np.array([_Exploit(marker)], dtype=object), allow_pickle=True)
    return fh.getvalue()


def _archive(tree, members: dict[str, bytes] | None = None, compress=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        zf.writestr("tree.json", json.dumps(tree))
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    fh = io.BytesIO()
    np.lib.format.write_array(fh, arr)
    return fh.getvalue()


@pytest.mark.parametrize("case", ["unknown tag", "bad node", "extra member", "compressed", "lying header",
                                  "missing array", "bad fields", "bad camera", "truncated"])
def test_malformed_products_are_refused(case):
    good = _npy(np.arange(4.0))
    data = {
        "unknown tag": _archive({"$": "os.system", "v": "touch x"}),
        "bad node": _archive({"no tag": 1}),
        "extra member": _archive(None, {"evil.py": b"print(1)"}),
        "compressed": _archive({"$": "array", "ref": "a0"}, {"a0.npy": good}, zipfile.ZIP_DEFLATED),
        "lying header": _archive({"$": "array", "ref": "a0"}, {"a0.npy": good.replace(b"(4,)", b"(9999999999,)")}),
        "missing array": _archive({"$": "array", "ref": "a1"}, {"a0.npy": good}),
        "bad fields": _archive({"$": "FrameFailure", "v": {"path": "x", "stage": "s", "why": "?"}}),
        "bad camera": _archive({"$": "camera", "v": {"kind": "FrameCamera", "isd": "{}"}}),
        "truncated": dumps({"x": np.arange(100.0)})[:-50],
    }[case]
    with pytest.raises(ProductError):
        loads(data)


def test_an_unregistered_type_cannot_be_stored():
    class Opaque:
        pass

    with pytest.raises(ProductError, match="no codec"):
        dumps({"x": Opaque()})
    with pytest.raises(ProductError, match="object array"):
        dumps(np.array([1, "a"], dtype=object))


def test_sets_give_the_same_bytes_whatever_the_string_hashing():
    # a set iterates in an order set by PYTHONHASHSEED; the product's bytes must not follow it
    code = ("import sys, hashlib; from pipeline.orchestration.codecs import dumps; "
            "sys.stdout.write(hashlib.sha256(dumps({'s': set('abcdefghijklmnop'), 'f': frozenset({'x', 'yy', 'z'})}))"
            ".hexdigest())")
    out = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(4)}
    assert len(out) == 1
