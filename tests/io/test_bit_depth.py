"""Labels that lie about the sample width are refused with the evidence (small fake products
in tmp_path; thresholds checked against the real products in ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import DataContradictsLabel, UnreadableFrame
from pipeline.io import read_meta, read_pixels
from pipeline.io.bitdepth import PLANE_ROUGHNESS_RATIO, WIDTH_ROUGHNESS_RATIO, byte_plane_statistics
from pipeline.io.rawarray import RawLayout, read_stored
from tests.io.builders import write_pds3, write_pds4

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pds3"


def moon12(lines: int = 64, samples: int = 80) -> np.ndarray:
    """A real lunar scene (scikit-image's moon) as 12-bit DN."""
    from skimage.data import moon

    return moon()[200 : 200 + lines, 150 : 150 + samples].astype(np.uint16) * 16 + 7


def moon8(lines: int = 64, samples: int = 80) -> np.ndarray:
    from skimage.data import moon

    return moon()[200 : 200 + lines, 150 : 150 + samples].copy()


# ----------------------------------------------------------------------------- file size


@pytest.mark.parametrize("attached", [True, False])
def test_pds3_sample_bits_8_over_16_bit_data_refused_by_file_size(tmp_path, attached):
    data = moon12().astype(">u2")
    path = write_pds3(tmp_path, "LIE", data, "MSB_UNSIGNED_INTEGER", bits=8, attached=attached)
    with pytest.raises(DataContradictsLabel) as info:
        read_meta(path)
    text = str(info.value)
    assert path.name in text and "exactly 2 x the 5120 bytes of 8-bit samples" in text
    assert "SAMPLE_BITS = 8" in text and "16-bit" in text
    # the honest label reads, and gives the 12-bit values back
    ok = write_pds3(tmp_path / "ok", "OK", data, "MSB_UNSIGNED_INTEGER", attached=attached)
    np.testing.assert_array_equal(read_pixels(read_meta(ok))[0], data)


def test_pds4_unsigned_byte_over_16_bit_data_refused_by_file_size(tmp_path):
    data = moon12().astype("<u2")
    xml = write_pds4(tmp_path, "LIE", data, "UnsignedByte")  # writes data.tobytes(): 2 bytes per sample
    with pytest.raises(DataContradictsLabel, match=r"exactly 2 x the 5120 bytes of 8-bit samples.*UnsignedByte"):
        read_meta(xml)


def test_other_data_after_the_image_is_no_evidence(tmp_path):
    """A genuine 8-bit image followed by a table of the same size (^TABLE) reads."""
    data = moon8()
    table = np.random.default_rng(3).integers(0, 255, data.size, np.uint8).tobytes()
    path = write_pds3(tmp_path, "T", data, "UNSIGNED_INTEGER", pad=table,
                      top_extra="EXPOSURE_DURATION = 1 <MS>\r\n^TABLE = 99999 <BYTES>")
    np.testing.assert_array_equal(read_pixels(read_meta(path))[0], data)
    xml = write_pds4(tmp_path / "p4", "P", data, "UnsignedByte")
    (tmp_path / "p4" / "P.img").write_bytes(data.tobytes() + table)
    text = xml.read_text().replace(
        "</File_Area_Observational>",
        f"<Table_Binary><offset unit=\"byte\">{data.size}</offset></Table_Binary></File_Area_Observational>")
    xml.write_text(text)
    np.testing.assert_array_equal(read_pixels(read_meta(xml))[0], data)


# ----------------------------------------------------------------------------- byte statistics


def _as_bytes_label(tmp_path: Path, data16: np.ndarray, fmt: str):
    """Label the bytes of 16-bit data as 8-bit samples, twice as many per line (sizes agree)."""
    stream = data16.view(np.uint8).reshape(data16.shape[0], 2 * data16.shape[1])
    if fmt == "pds3":
        return write_pds3(tmp_path, "LIE", stream, "UNSIGNED_INTEGER")
    return write_pds4(tmp_path, "LIE", stream, "UnsignedByte")


@pytest.mark.parametrize("fmt", ["pds3", "pds4"])
@pytest.mark.parametrize("order", ["<u2", ">u2"])
def test_16_bit_bytes_labelled_8_bit_refused_by_byte_planes(tmp_path, fmt, order):
    path = _as_bytes_label(tmp_path, moon12().astype(order), fmt)
    meta = read_meta(path)  # sizes agree: only the bytes can tell
    assert meta.dtype == "uint8" and meta.shape == (64, 160)
    with pytest.raises(DataContradictsLabel) as info:
        read_pixels(meta)
    text = str(info.value)
    assert path.name in text and "declares 8-bit samples" in text and "16-bit samples" in text
    assert ("UNSIGNED_INTEGER" if fmt == "pds3" else "UnsignedByte") in text


def test_16_bit_values_below_256_labelled_8_bit_refused(tmp_path):
    """High bytes all zero: one plane is constant (ratio inf)."""
    data = (moon8() // 2 + 3).astype("<u2")
    with pytest.raises(DataContradictsLabel, match="roughness inf:1"):
        read_pixels(read_meta(_as_bytes_label(tmp_path, data, "pds3")))


@pytest.mark.parametrize("case", ["moon", "even_odd_offset", "noise", "limb"])
def test_genuine_8_bit_images_read(tmp_path, case):
    rng = np.random.default_rng(5)
    data = moon8().astype(np.int32)
    if case == "even_odd_offset":  # NAC-like even/odd column offsets over a low-contrast scene
        data = data // 8 + 100
        data[:, 1::2] += 12
    elif case == "noise":  # a bias frame
        data = rng.normal(60, 3, data.shape).round()
    elif case == "limb":  # half black sky
        data[:, :40] = rng.integers(0, 3, (64, 40))
    data = np.clip(data, 0, 255).astype(np.uint8)
    for fmt, path in (("pds3", write_pds3(tmp_path, "G", data, "UNSIGNED_INTEGER")),
                      ("pds4", write_pds4(tmp_path / "4", "G", data, "UnsignedByte"))):
        got, mask = read_pixels(read_meta(path))
        assert not mask.any()
        np.testing.assert_array_equal(got, data, err_msg=fmt)


def test_thresholds_hold_on_real_products(tmp_path):
    """Every real 8-bit product reads below both thresholds; every real 16-bit product, its
    bytes read as 8-bit, lies above both (the numbers the thresholds were set from)."""
    if not REF.is_dir():
        pytest.skip(f"real PDS3 reference products not found at {REF}")
    nac = read_meta(REF / "lronac" / "nacl.img")
    raw = read_stored(RawLayout.from_dict(nac.extra["layout"]), 0)
    plane, width = byte_plane_statistics(raw.tobytes(), 1)
    assert plane < 1.2 and width < 1.3  # measured 1.05, 1.25
    read_pixels(nac)  # genuine: reads
    wac = np.fromfile(REF / "lrowac2isis" / "wac0000a1c4_cropped.img", np.uint8)[8624 : 8624 + 70400]
    plane, width = byte_plane_statistics(wac.tobytes(), 1)
    assert plane < PLANE_ROUGHNESS_RATIO and width < WIDTH_ROUGHNESS_RATIO  # measured 1.20, 0.89
    worst = []
    for name in ("kaguyatc2isis/TC1S2B0_01_05186N225E0040_mini.lbl", "kaguyatc2isis/TC1S2B0_01_00811N526E0443_mini.lbl",
                 "kaguyami2isis/vis_cropped.img", "chan1m32isis/l0/M3G20090106T113423_V01_L0_cropped.LBL",
                 "pds2isis/ldem_4_cropped.img"):
        meta = read_meta(REF / name)
        raw = read_stored(RawLayout.from_dict(meta.extra["layout"]), 0)
        worst.append(byte_plane_statistics(raw.tobytes(), 1))
    assert min(p for p, _ in worst) > PLANE_ROUGHNESS_RATIO  # measured >= 4.17 (the LOLA LDEM row)
    assert min(w for _, w in worst) > WIDTH_ROUGHNESS_RATIO  # measured >= 8.19


# ----------------------------------------------------------------------------- declared bits


def test_pds3_sample_bit_mask_values_above_12_bits_refused(tmp_path):
    mask = "SAMPLE_BIT_MASK = 2#0000111111111111#\r\n  MISSING_CONSTANT = 65535"
    data = moon12().astype(">u2")
    data[0, 0] = 65535  # a special constant: not judged
    ok = write_pds3(tmp_path, "OK", data, "MSB_UNSIGNED_INTEGER", image_extra=mask)
    got, invalid = read_pixels(read_meta(ok))
    assert invalid.sum() == 1 and got[5, 5] == data[5, 5]
    data[10, :3] = (5000, 4096, 60000)
    bad = write_pds3(tmp_path, "BAD", data, "MSB_UNSIGNED_INTEGER", image_extra=mask)
    with pytest.raises(DataContradictsLabel, match=r"3 stored values \(from \d+ to 60000\) lie outside the 12-bit "
                                                   r"range 0\.\.4095.*SAMPLE_BIT_MASK = 2#111111111111#"):
        read_pixels(read_meta(bad))


def test_pds4_sample_bits_values_above_refused(tmp_path):
    data = moon12().astype("<u2")
    data[3, 3] = 9000
    xml = write_pds4(tmp_path, "B", data, "UnsignedLSB2")
    xml.write_text(xml.read_text().replace("<img:Exposure>", "<img:Sampling><img:sample_bits>12</img:sample_bits>"
                                           "</img:Sampling><img:Exposure>"))
    with pytest.raises(DataContradictsLabel, match="1 stored values .* 12-bit range 0..4095 .*sample_bits 12"):
        read_pixels(read_meta(xml))


def test_refusal_is_an_unreadable_frame_through_ingest(tmp_path):
    from pipeline.ingestion import ingest

    write_pds3(tmp_path, "LIE", moon12().astype(">u2"), "MSB_UNSIGNED_INTEGER", bits=8)
    result = ingest(tmp_path)
    assert not result.frames and "exactly 2 x" in result.failures[0].reason
    assert issubclass(DataContradictsLabel, UnreadableFrame)


def test_record_padding_of_a_small_genuine_image_is_no_evidence(tmp_path):
    """FIXED_LENGTH records pad the file: a 10-byte image in a 512-byte record reads; the same
    label over 2 x the image (also padded to the record) is refused."""
    data = np.arange(10, dtype=np.uint8).reshape(2, 5)
    label = (b"PDS_VERSION_ID = PDS3\r\nRECORD_TYPE = FIXED_LENGTH\r\nRECORD_BYTES = 512\r\n^IMAGE = 2\r\n"
             b"OBJECT = IMAGE\r\n  LINES = 2\r\n  LINE_SAMPLES = 5\r\n  SAMPLE_TYPE = UNSIGNED_INTEGER\r\n"
             b"  SAMPLE_BITS = 8\r\nEND_OBJECT = IMAGE\r\nEND\r\n").ljust(512, b" ")
    path = tmp_path / "S.IMG"
    path.write_bytes(label + data.tobytes().ljust(512, b"\0"))  # 1024 bytes: the image padded to its record
    np.testing.assert_array_equal(read_pixels(read_meta(path))[0], data)
    big = np.arange(300, dtype=">u2").reshape(2, 150)  # the label says 2 x 150 8-bit: 300 bytes; 600 stored
    label = label.replace(b"LINE_SAMPLES = 5\r\n", b"LINE_SAMPLES = 150\r\n").ljust(512, b" ")[:512]
    path.write_bytes(label + big.tobytes().ljust(1024, b"\0"))
    with pytest.raises(DataContradictsLabel, match="exactly 2 x the 300 bytes"):
        read_meta(path)
