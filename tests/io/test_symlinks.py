"""Data files named by a label, resolved through symbolic links, stay inside the frames folder."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pipeline.errors import UnreadableFrame
from pipeline.ingestion import ingest
from pipeline.io import read_meta, read_pixels
from tests.io.builders import isis_cube, ramp, write_pds3, write_pds4

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")


@pytest.fixture
def outside(tmp_path):
    """A 'secret' file outside the frames folder, the same size as a 6 x 5 uint16 image."""
    secret = tmp_path / "elsewhere" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(np.full((6, 5), 4242, "<u2").tobytes())
    return secret


def test_pds3_detached_label_link_to_outside_refused(tmp_path, outside):
    frames = tmp_path / "frames"
    label = write_pds3(frames, "F", ramp(), "LSB_UNSIGNED_INTEGER", attached=False, data_name="F.IMG")
    (frames / "F.IMG").unlink()
    (frames / "F.IMG").symlink_to(outside)
    with pytest.raises(UnreadableFrame) as info:
        read_meta(label)
    text = str(info.value)
    assert label.name in text and "'F.IMG' is a link to" in text and str(outside) in text
    assert "outside the data root" in text and "copy the file there" in text
    result = ingest(frames)  # ingest: the same refusal, as a failure of that frame
    assert not result.frames and "is a link to" in result.failures[0].reason


def test_pds4_file_name_link_to_outside_refused(tmp_path, outside):
    frames = tmp_path / "frames"
    xml = write_pds4(frames, "P", ramp(dtype="<u2"), "UnsignedLSB2")
    (frames / "P.img").unlink()
    (frames / "P.img").symlink_to(outside)
    with pytest.raises(UnreadableFrame, match="'P.img' is a link to .*outside the data root"):
        read_meta(xml)


def test_isis_core_link_to_outside_refused(tmp_path, outside):
    frames = tmp_path / "frames"
    cube = isis_cube(frames, "K", ramp(7, 8, "<i2"), "SignedWord")
    (frames / "K.dat").write_bytes(cube.read_bytes())
    text = cube.read_bytes().replace(b"Object = Core\n", b"Object = Core\n    ^Core = K.dat\n", 1)
    cube.write_bytes(text)
    read_meta(cube)  # the detached core beside the label reads
    (frames / "K.dat").unlink()
    (frames / "K.dat").symlink_to(outside)
    with pytest.raises(UnreadableFrame, match="'K.dat' is a link to"):
        read_meta(cube)


def test_links_inside_the_folder_and_explicit_data_root(tmp_path):
    frames = tmp_path / "frames"
    data = ramp()
    label = write_pds3(frames / "sub", "F", data, "LSB_UNSIGNED_INTEGER", attached=False, data_name="F.IMG")
    (frames / "store").mkdir()
    (frames / "sub" / "F.IMG").rename(frames / "store" / "F.IMG")
    (frames / "sub" / "F.IMG").symlink_to(frames / "store" / "F.IMG")
    # by default the label's own folder is the root: sub/ -> store/ leaves it
    with pytest.raises(UnreadableFrame, match="outside the data root"):
        read_meta(label)
    # the frames folder as the data root (what ingest passes) admits it
    meta = read_meta(label, data_root=frames)
    np.testing.assert_array_equal(read_pixels(meta)[0], data)
    from pipeline.ingestion import IngestionParams

    result = ingest(frames, config=IngestionParams(recursive=True))
    assert [f.meta.id for f in result.frames] == ["F"]
    # a link within the label's folder is fine
    inside = write_pds3(tmp_path / "flat", "G", data, "LSB_UNSIGNED_INTEGER", attached=False, data_name="G.raw")
    os.symlink("G.raw", tmp_path / "flat" / "G.IMG")
    inside.write_text(inside.read_text().replace('"G.raw"', '"G.IMG"'))
    np.testing.assert_array_equal(read_pixels(read_meta(inside))[0], data)


def test_dangling_and_looping_links_refused(tmp_path):
    frames = tmp_path / "frames"
    label = write_pds3(frames, "D", ramp(), "LSB_UNSIGNED_INTEGER", attached=False, data_name="D.IMG")
    (frames / "D.IMG").unlink()
    (frames / "D.IMG").symlink_to(tmp_path / "gone.bin")
    with pytest.raises(UnreadableFrame, match="'D.IMG' cannot be resolved"):
        read_meta(label)
    (frames / "D.IMG").unlink()
    (frames / "D.IMG").symlink_to(frames / "D.IMG")
    with pytest.raises(UnreadableFrame, match="'D.IMG' cannot be resolved"):
        read_meta(label)
