"""An LRO WAC EDR ingests as one push-frame image per filter and parity (issue 18)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from pipeline.geometry import PushFrameCamera
from pipeline.ingestion import ingest
from pipeline.io import load_frame, read_metas
from pipeline.io.lrowac import read_wac_edr


@pytest.fixture
def wac(shared_reference, tmp_path):
    src = shared_reference / "pds3" / "lrowac2isis" / "wac0000a1c4_cropped.img"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    shutil.copy(src, tmp_path / src.name)
    return tmp_path / src.name


def test_a_wac_edr_is_one_frame_per_filter_and_parity(wac):
    metas = read_metas(wac)
    images = read_wac_edr(wac)
    assert len(metas) == len(images) == 14  # COLOR mode: 2 UV + 5 VIS filters, odd and even
    assert {m.id for m in metas} >= {"wac0000a1c4_cropped_UV321_even", "wac0000a1c4_cropped_VIS643_odd"}
    assert len({m.content_hash for m in metas}) == 14  # not duplicates of one another
    result = ingest(wac.parent)
    assert len(result.frames) == 14 and not result.failures
    for frame, im in zip(result.frames, images, strict=True):
        loaded = load_frame(frame)
        np.testing.assert_array_equal(loaded.mask, im.mask)
        np.testing.assert_array_equal(loaded.data[~loaded.mask], im.data[~im.mask])  # decompanded DN, as ISIS


def test_each_image_takes_its_own_push_frame_isd(wac, shared_reference):
    """The sidecar ``<image id>.json`` is read as that image's push-frame camera; the ISD of the
    whole WAC image (1040 lines) does not fit the 5-line crop, so that one image is rejected
    with both sizes while the 13 others are ingested."""
    isd_path = shared_reference / "linescan" / "isds" / "ale" / "lrolrocwac_isd.json"
    assert isinstance(PushFrameCamera.from_file(isd_path), PushFrameCamera)
    fid = "wac0000a1c4_cropped_UV321_even"
    (frame_meta,) = [m for m in read_metas(wac) if m.id == fid]
    shutil.copy(isd_path, wac.parent / f"{fid}.json")
    result = ingest(wac.parent)
    (failure,) = result.failures
    assert failure.path.name == f"{fid}.json"
    assert "1040" in failure.reason and f"{frame_meta.shape[0]} x" in failure.reason
    assert len(result.frames) == 13 and fid not in {f.id for f in result.frames}
