"""The work directory: verified products, planted and damaged files recomputed, clean failures."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import pickle

import numpy as np
import pytest

from pipeline.errors import ProductError, WorkDirError
from pipeline.orchestration import tempfiles
from pipeline.orchestration.codecs import dumps
from pipeline.orchestration.workdir import WorkDir
from tests.faults import dead_pid, failing_write, mounted_tmpfs
from tests.orchestration.test_codecs import _Exploit


def _plant(wd: WorkDir, stage: str, key: str, payload: bytes, type_name: str = "dict") -> None:
    """Put ``payload`` under ``stage/key`` with a manifest entry that matches it (what someone
    who can write the work directory could do)."""
    path = wd.path(stage, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    entry = json.loads(wd.path(stage, key, ".json").read_text()) if wd.path(stage, key, ".json").exists() else {
        "format": "farside-product/1", "stage": stage, "key": key, "file": path.name}
    entry.update(sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload), type=type_name)
    wd.path(stage, key, ".json").write_text(json.dumps(entry))


def _value():
    return {"x": np.arange(1000.0), "name": "tile"}


def test_reuse_and_manifest(tmp_path):
    wd = WorkDir(tmp_path / "w")
    calls = []
    first = wd.cached("tiles", "k", lambda: calls.append(1) or _value())
    again = wd.cached("tiles", "k", lambda: calls.append(1) or _value())
    assert calls == [1] and np.array_equal(first["x"], again["x"])
    entry = wd.entry("tiles", "k")
    data = wd.path("tiles", "k").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["key"] == "k" and entry["type"] == "dict"
    assert not data.startswith(b"\x80")  # not a pickle: a zip archive
    assert data[:2] == b"PK"


def test_planted_pickle_is_never_executed_and_is_recomputed(tmp_path, caplog):
    marker = tmp_path / "pwned.txt"
    wd = WorkDir(tmp_path / "w")
    wd.cached("adjusted", "k", _value)
    _plant(wd, "adjusted", "k", pickle.dumps(_Exploit(marker)))  # under the product's own name, hash matching
    legacy = wd.root / "adjusted" / f"{'0' * 32}.pkl"
    legacy.write_bytes(pickle.dumps(_Exploit(marker)))  # and as an old-style product
    with caplog.at_level(logging.WARNING):
        value = wd.cached("adjusted", "k", _value)
    assert not marker.exists()
    assert value["name"] == "tile"
    assert any(str(wd.path("adjusted", "k")) in r.getMessage() and "recomputing" in r.getMessage()
               for r in caplog.records)
    unrelated = wd.root / "notes" / f"{'0' * 32}.pkl"  # not a stage folder: never touched
    unrelated.parent.mkdir()
    unrelated.write_bytes(b"x")
    assert wd.clean(["adjusted", "tiles"]) == 1 and not legacy.exists() and unrelated.exists()
    assert wd.cached("adjusted", "k", lambda: 1 / 0)["name"] == "tile"  # the rewritten product verifies


@pytest.mark.parametrize("damage", ["flip", "truncate", "no entry", "other key", "wrong type", "valid other value"])
def test_damaged_products_are_detected_and_recomputed(tmp_path, caplog, damage):
    wd = WorkDir(tmp_path / "w")
    wd.cached("tiles", "k", _value)
    path, entry = wd.path("tiles", "k"), wd.path("tiles", "k", ".json")
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF  # one byte in the middle of the array
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[:-100]))
    elif damage == "no entry":
        entry.unlink()
    elif damage == "other key":
        entry.write_text(entry.read_text().replace('"key": "k"', '"key": "j"'))
    elif damage == "wrong type":  # a consistent product of another type (the pickle(42))
        _plant(wd, "tiles", "k", dumps(42), "int")
    else:  # a consistent, well-typed product with other numbers: only the trust model covers this
        forged = {"x": np.zeros(1000), "name": "forged"}
        _plant(wd, "tiles", "k", dumps(forged))
    calls = []
    with caplog.at_level(logging.WARNING):
        value = wd.cached("tiles", "k", lambda: calls.append(1) or _value(), expect=(dict, type(None)))
    if damage == "valid other value":
        assert value["name"] == "forged" and not calls  # documented in docs/cluster.md: who may write
        return
    assert calls == [1] and value["name"] == "tile" and np.array_equal(value["x"], np.arange(1000.0))
    assert any("failed verification" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
    assert wd.load(path)["name"] == "tile"


def test_load_names_the_file_that_fails(tmp_path):
    wd = WorkDir(tmp_path / "w")
    wd.store("tiles", "k", _value())
    path = wd.path("tiles", "k")
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ProductError, match=str(path)):
        wd.load(path)


def test_disk_full_is_a_workdir_error_naming_the_file(tmp_path, monkeypatch):
    wd = WorkDir(tmp_path / "w")
    monkeypatch.setattr("pipeline.orchestration.workdir.atomic_write_bytes", failing_write(errno.ENOSPC, "tiles"))
    with pytest.raises(WorkDirError) as info:
        wd.cached("tiles", "k", _value)
    text = str(info.value)
    assert "No space left on device" in text and "tiles" in text and "--workdir" in text


def test_a_full_tmpfs_is_a_workdir_error(tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=64k") as small:
        wd = WorkDir(small / "w")
        with pytest.raises(WorkDirError, match="No space left on device"):
            wd.store("tiles", "k", {"x": np.zeros(100_000)})
        assert not [p for p in (small / "w" / "tiles").iterdir() if tempfiles.MARK in p.name]  # no temporary left


def test_a_read_only_workdir_is_refused_before_any_work(tmp_path, monkeypatch):
    wd = WorkDir(tmp_path / "w")
    monkeypatch.setattr("pipeline.orchestration.workdir.atomic_write_bytes", failing_write(errno.EROFS))
    with pytest.raises(WorkDirError, match="Read-only file system"):
        wd.check_writable()


def test_a_read_only_filesystem_is_refused(tmp_path):
    ro = tmp_path / "ro"
    match = f"work directory {ro / 'w'}.*Read-only file system.*--workdir"
    with mounted_tmpfs(ro, "ro,size=64k"), pytest.raises(WorkDirError, match=match):
        WorkDir(ro / "w").check_writable()


def test_stale_temporaries_are_removed_live_ones_kept(tmp_path):
    pid = dead_pid()
    folder = tmp_path / "w" / "tiles"
    folder.mkdir(parents=True)
    live = folder / tempfiles.temp_name("a.npz")
    stale = folder / live.name.replace(f"@{os.getpid()}@", f"@{pid}@")
    live.write_bytes(b"x")
    stale.write_bytes(b"x")
    assert tempfiles.is_stale(live.name) is False and tempfiles.is_stale(stale.name) is True
    WorkDir(tmp_path / "w").clean(["tiles"])
    assert live.exists() and not stale.exists()


def test_a_product_of_another_farside_version_is_recomputed(tmp_path, caplog):
    wd = WorkDir(tmp_path / "w")
    wd.cached("tiles", "k", _value)
    entry_path = wd.path("tiles", "k", ".json")
    entry = json.loads(entry_path.read_text())
    entry["farside"] = "0.0.1"
    entry_path.write_text(json.dumps(entry))
    calls = []
    with caplog.at_level(logging.WARNING):
        value = wd.cached("tiles", "k", lambda: calls.append(1) or {"x": np.zeros(2), "name": "new"})
    assert calls == [1] and value["name"] == "new"
    assert "written by farside 0.0.1" in caplog.text and str(wd.path("tiles", "k")) in caplog.text
