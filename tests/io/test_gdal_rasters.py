"""TIFF/PNG/JPEG through GDAL: every compression, band layouts, masks, and decompression bombs
refused from the header before anything is decoded."""

from __future__ import annotations

import resource
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import LabelTooLarge, UnreadableFrame, UnsupportedFormat
from pipeline.io import read_meta, read_pixels
from tests.io.builders import write_sidecar

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def _scene(lines: int = 40, samples: int = 56, dtype: str = "uint16") -> np.ndarray:
    """A smooth image whose values encode their position (and reach 12 bits for uint16)."""
    y, x = np.mgrid[0:lines, 0:samples]
    value = 7 * y + 3 * x + (x * y) % 11
    if np.dtype(dtype).kind == "f":
        return (value / 10.0).astype(dtype)
    top = np.iinfo(dtype).max
    return (value * (top // max(int(value.max()), 1)) if top < 4096 else value * 9).astype(dtype)


def _rasterio_tiff(path: Path, data: np.ndarray, **profile) -> Path:
    import rasterio

    cube = data if data.ndim == 3 else data[None]
    base = {"driver": "GTiff", "width": cube.shape[2], "height": cube.shape[1], "count": cube.shape[0],
            "dtype": cube.dtype.name}
    with rasterio.open(path, "w", **{**base, **profile}) as ds:
        ds.write(cube)
    return path


# ----------------------------------------------------------------------------- TIFF


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_cv2_imwrite_tiff_is_lzw_and_reads_exactly(tmp_path, dtype):
    import cv2

    data = _scene(dtype=dtype)
    assert cv2.imwrite(str(tmp_path / "CV.tif"), data)  # OpenCV's default TIFF compression is LZW
    meta = read_meta(tmp_path / "CV.tif")
    assert (meta.format, meta.shape, meta.dtype) == ("tiff", data.shape, dtype)
    assert meta.extra["compression"] == ("none" if dtype == "float32" else "lzw")  # OpenCV stores floats raw
    got, mask = read_pixels(meta)
    assert not mask.any()
    np.testing.assert_array_equal(got, data.astype(np.float32))


LOSSLESS = ["lzw", "deflate", "packbits", "zstd", "lzma", "lerc", None]


@pytest.mark.parametrize("compress", LOSSLESS)
@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
def test_rasterio_tiff_every_lossless_compression(tmp_path, compress, tiled, dtype):
    data = _scene(70, 90, dtype)
    profile = {"compress": compress} if compress else {}
    if tiled:
        profile.update(tiled=True, blockxsize=32, blockysize=32)
    if compress in ("lzw", "deflate", "zstd") and dtype != "float32":
        profile["predictor"] = 2
    meta = read_meta(_rasterio_tiff(tmp_path / "R.tif", data, **profile))
    assert meta.extra["compression"] == (compress or "none")
    np.testing.assert_array_equal(read_pixels(meta)[0], data.astype(np.float32))


def test_jpeg_compressed_tiff(tmp_path):
    data = _scene(64, 64, "uint8")
    meta = read_meta(_rasterio_tiff(tmp_path / "J.tif", data, compress="jpeg", jpeg_quality=95))
    assert meta.extra["compression"] == "jpeg"
    got = read_pixels(meta)[0]
    assert np.abs(got - data).mean() < 1.0 and np.abs(got - data).max() <= 12  # lossy, but the same image


@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_rgb_tiff_band_order_and_planar_layouts(tmp_path, interleave):
    rgb = np.stack([np.full((8, 9), v, np.uint16) for v in (100, 200, 300)])
    path = _rasterio_tiff(tmp_path / "C.tif", rgb, compress="deflate", interleave=interleave, photometric="RGB")
    for band, value in enumerate((100, 200, 300)):
        meta = read_meta(path, band=band)
        assert meta.extra["bands"] == 3
        assert (read_pixels(meta)[0] == value).all()
    with pytest.raises(UnsupportedFormat, match="band 3 requested"):
        read_meta(path, band=3)


def test_tiff_alpha_and_nodata_are_masked(tmp_path):
    from rasterio.enums import ColorInterp

    grey = _scene(10, 12, "uint8")
    alpha = np.full_like(grey, 255)
    alpha[2:4, 3:6] = 0
    path = _rasterio_tiff(tmp_path / "A.tif", np.stack([grey, alpha]), compress="lzw")
    import rasterio

    with rasterio.open(path, "r+") as ds:
        ds.colorinterp = [ColorInterp.gray, ColorInterp.alpha]
    meta = read_meta(path)
    assert meta.extra["bands"] == 1 and meta.extra["alpha_band"] == 2
    data, mask = read_pixels(meta)
    assert mask.sum() == 6 and mask[2:4, 3:6].all() and np.isnan(data[mask]).all()
    np.testing.assert_array_equal(data[~mask], grey[~mask])

    nd = _rasterio_tiff(tmp_path / "N.tif", grey, nodata=int(grey[5, 5]))
    data, mask = read_pixels(read_meta(nd))
    assert np.array_equal(mask, grey == grey[5, 5]) and mask.any()


def test_tifffile_written_tiff_and_sidecar(tmp_path):
    import tifffile

    data = _scene(dtype="uint16")
    tifffile.imwrite(tmp_path / "T.tif", data, photometric="minisblack")
    write_sidecar(tmp_path, "T", {"exposure_duration": 0.02, "frame_type": "FLAT"})
    meta = read_meta(tmp_path / "T.tif")
    assert meta.exposure_s == 0.02 and meta.frame_type.value == "FLAT"
    np.testing.assert_array_equal(read_pixels(meta)[0], data)


def test_truncated_tiff_refused_at_describe(tmp_path):
    path = _rasterio_tiff(tmp_path / "T.tif", np.random.default_rng(1).integers(0, 4000, (200, 200)).astype("uint16"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFrame, match="truncated: TIFF strips/tiles end at byte"):
        read_meta(path)


def test_a_png_named_tif_is_not_read_by_another_driver(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "X.png"), _scene(dtype="uint8"))
    (tmp_path / "X.tif").write_bytes((tmp_path / "X.png").read_bytes())
    with pytest.raises(UnreadableFrame, match="not a readable TIFF"):
        read_meta(tmp_path / "X.tif")


# ----------------------------------------------------------------------------- PNG / JPEG


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_png_grey_and_grey_alpha(tmp_path, dtype):
    import cv2

    grey = _scene(dtype=dtype)
    cv2.imwrite(str(tmp_path / "G.png"), grey)
    np.testing.assert_array_equal(read_pixels(read_meta(tmp_path / "G.png"))[0], grey)
    # grey + alpha (written through GDAL: OpenCV cannot write 2-channel PNGs)
    import rasterio
    import rasterio.shutil
    from rasterio.enums import ColorInterp

    alpha = np.full_like(grey, np.iinfo(dtype).max)
    alpha[0, :7] = 0
    src = _rasterio_tiff(tmp_path / "ga.tif", np.stack([grey, alpha]))
    with rasterio.open(src, "r+") as ds:
        ds.colorinterp = [ColorInterp.gray, ColorInterp.alpha]
    with rasterio.open(src) as ds:
        rasterio.shutil.copy(ds, tmp_path / "GA.png", driver="PNG")
    meta = read_meta(tmp_path / "GA.png")
    data, mask = read_pixels(meta)
    assert meta.extra["bands"] == 1 and mask.sum() == 7 and mask[0, :7].all()
    np.testing.assert_array_equal(data[~mask], grey[~mask])


def test_palette_png_expands_to_rgb(tmp_path):
    index = (np.arange(6 * 7).reshape(6, 7) % 3).astype(np.uint8)
    table = np.array([[10, 20, 30], [40, 50, 60], [70, 80, 90]], np.uint8)
    rows = b"".join(b"\0" + r.tobytes() for r in index)
    png = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 7, 6, 8, 3, 0, 0, 0))
           + _png_chunk(b"PLTE", table.tobytes()) + _png_chunk(b"tRNS", bytes([255, 255, 0]))
           + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))
    (tmp_path / "P.png").write_bytes(png)
    for band in range(3):
        meta = read_meta(tmp_path / "P.png", band=band)
        data, mask = read_pixels(meta)
        assert meta.extra["bands"] == 3
        assert np.array_equal(mask, index == 2)  # palette entry 2 is transparent (tRNS)
        np.testing.assert_array_equal(data[~mask], table[index, band][~mask])


def test_jpeg_reads_like_opencv(tmp_path):
    import cv2

    data = _scene(dtype="uint8")
    cv2.imwrite(str(tmp_path / "J.jpg"), data, [cv2.IMWRITE_JPEG_QUALITY, 90])
    meta = read_meta(tmp_path / "J.jpg")
    got = read_pixels(meta)[0]
    ocv = cv2.imread(str(tmp_path / "J.jpg"), cv2.IMREAD_UNCHANGED)
    assert (meta.format, meta.shape) == ("jpeg", data.shape)
    assert np.abs(got - ocv).max() <= 1  # the same decoder family; IDCT rounding at most 1 DN
    assert np.abs(got - data).mean() < 1.5


# ----------------------------------------------------------------------------- bombs


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def bomb_png(path: Path, side: int = 30000, depth: int = 16) -> Path:
    """A valid PNG of ``side`` x ``side`` zero samples: the deflate stream is built from
    one fully flushed 64-row block repeated (so writing it costs milliseconds), with the
    zlib checksum of the whole (all-zero) data."""
    row = b"\0" * (1 + side * depth // 8)  # filter byte 0 + the samples
    c = zlib.compressobj(9)
    first = c.compress(row * 64) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(row * 64) + c.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(side, 64)
    tail = c.compress(row * rest) + c.flush(zlib.Z_FINISH)
    adler = (((len(row) * side) % 65521) << 16) | 1  # adler32 of n zero bytes
    stream = first + again * (blocks - 1) + tail[:-4] + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, depth, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", stream)
                     + _png_chunk(b"IEND", b""))
    return path


def test_bomb_builder_makes_a_decodable_png(tmp_path):
    import cv2

    small = cv2.imread(str(bomb_png(tmp_path / "s.png", side=200)), cv2.IMREAD_UNCHANGED)
    assert small.shape == (200, 200) and small.dtype == np.uint16 and not small.any()


def test_png_bomb_refused_from_its_header_before_gdal_or_decode(tmp_path, monkeypatch):
    from pipeline.io import gdalread, raster

    path = bomb_png(tmp_path / "BOMB.png")
    assert 1.5e6 < path.stat().st_size < 2.0e6  # 1.8 MB on disk, 1.8 GB of pixels declared

    def no_gdal(*a, **k):
        raise AssertionError("GDAL must not be asked to open (let alone decode) a refused PNG")

    monkeypatch.setattr(raster, "open_raster", no_gdal)
    monkeypatch.setattr(gdalread, "open_raster", no_gdal)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the default cap (2 GiB) is above 1.8e9 bytes: the compression ratio refuses it
    with pytest.raises(LabelTooLarge, match=r"1800000000 bytes of pixels in a file of \d+ bytes \(compressed 10\d\d:1"):
        read_meta(path)
    # with a tighter cap the size itself refuses it, with the numbers and the config key
    with pytest.raises(
        LabelTooLarge, match=r"30000 x 30000 x 1 samples of 2 bytes = 1800000000 bytes.*max_frame_bytes"
    ):
        read_meta(path, max_bytes=10**9)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200 * 1024  # peak memory grew by less than 200 MB (decoding needs 1.8 GB+)


def test_jpeg_and_tiff_declared_size_checked_before_decoding(tmp_path, monkeypatch):
    import cv2

    from pipeline.io import raster

    cv2.imwrite(str(tmp_path / "J.jpg"), _scene(dtype="uint8"))
    monkeypatch.setattr(raster, "open_raster", lambda *a, **k: pytest.fail("GDAL opened a refused JPEG"))
    with pytest.raises(LabelTooLarge, match="40 x 56 x 1 samples of 1 bytes = 2240 bytes"):
        read_meta(tmp_path / "J.jpg", max_bytes=2000)
    monkeypatch.undo()
    path = _rasterio_tiff(tmp_path / "Z.tif", np.zeros((4000, 4000), np.uint16), compress="deflate")
    monkeypatch.setattr(raster, "read_stored_band", lambda *a, **k: pytest.fail("a refused TIFF was decoded"))
    with pytest.raises(LabelTooLarge, match="over the limit of 1000000 bytes"):
        read_meta(path, max_bytes=10**6)
    with pytest.raises(LabelTooLarge, match=r"compressed \d+:1"):
        read_meta(_rasterio_tiff(tmp_path / "B.tif", np.zeros((1, 9000, 9000), np.uint16), compress="deflate"))
