"""Labels that lie about their sample width: checks on the data file and on the bytes.

A PDS3 label saying ``SAMPLE_BITS = 8`` (or a PDS4 ``UnsignedByte``) over 16-bit data reads
without any error - every byte becomes a pixel - and shifts nearly every value. Three
independent signs give the lie away; each one refuses the frame with
:class:`~pipeline.errors.DataContradictsLabel` naming the file, the evidence and the fix:

1. **Values above the declared bit depth** (:func:`check_valid_bits`): a stored value
   outside the ``bits``-bit range the label declares besides the storage width (PDS3
   ``SAMPLE_BIT_MASK``, PDS4 ``sample_bits``/``sample_bit_mask``), special constants apart.
2. **A file size that only another width explains** (:func:`check_file_size`): nothing
   else in the file follows the image, and the bytes after its start are exactly 2, 4 or
   8 times the declared image (up to one record of padding).
3. **Byte statistics that only a wrong width explains** (:func:`check_byte_planes`): read
   with half their true width, W-byte samples alternate between their high and low halves.
   The two interleaved planes of the declared stream then differ completely - the high
   halves change slowly from pixel to pixel, the low halves wildly - and the stream is
   far rougher than the same bytes read at twice the width. A genuine image has planes of
   equal roughness (even/odd column offsets shift a plane, they do not roughen it) and is
   no smoother at twice the width. Both ratios must exceed their thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.errors import DataContradictsLabel
from pipeline.io.odl import Quantity

__all__ = [
    "MIN_SAMPLES",
    "PLANE_ROUGHNESS_RATIO",
    "WIDTH_ROUGHNESS_RATIO",
    "byte_plane_statistics",
    "check_byte_planes",
    "check_file_size",
    "check_valid_bits",
    "mask_bits",
    "pds3_objects_after",
]

PLANE_ROUGHNESS_RATIO = 3.0
"""The rougher interleaved plane is at least this many times rougher than the other..."""

WIDTH_ROUGHNESS_RATIO = 2.5
"""...and the declared stream this many times rougher (relative to its spread) than the
same bytes read at twice the width. Measured on the real PDS3 products in ``../shared`` and
the simulator's frames: genuine data give at most 1.3 (LROC NAC EDR) resp. 1.7 (M3 L0),
16-bit data read as 8-bit give at least 4.2 resp. 3.8."""

MIN_SAMPLES = 256
"""Fewer declared samples than this are not judged by their byte statistics."""

_MAX_WORDS = 1 << 20  # statistics on at most this many samples (from the middle of the image)


def mask_bits(mask: int, storage_bits: int) -> int | None:
    """Bits used by a contiguous low-bit mask narrower than the storage, else None.

    >>> mask_bits(0b0000111111111111, 16), mask_bits(0xFFFF, 16), mask_bits(0b1010, 16)
    (12, None, None)
    """
    if not isinstance(mask, int) or isinstance(mask, bool) or mask <= 0:
        return None
    bits = mask.bit_length()
    if mask != (1 << bits) - 1 or bits >= storage_bits:
        return None
    return bits


def check_valid_bits(raw: np.ndarray, invalid: np.ndarray, bits: int, where: Path, keyword: str) -> None:
    """Refuse stored values outside the ``bits``-bit range the label declares.

    Parameters
    ----------
    raw : ndarray of integers
        Stored values of one band.
    invalid : ndarray of bool
        Special constants already masked (not judged).
    bits : int
        Declared significant bits (unsigned: 0 .. 2**bits - 1; signed: two's complement).
    where : Path
    keyword : str
        The label keyword that declared it, for the message.

    Raises
    ------
    DataContradictsLabel
    """
    values = raw[~invalid]
    if values.size == 0 or raw.dtype.kind not in "iu":
        return
    lo, hi = (0, (1 << bits) - 1) if raw.dtype.kind == "u" else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    vmin, vmax = int(values.min()), int(values.max())
    if vmin < lo or vmax > hi:
        n = int(np.count_nonzero((values < lo) | (values > hi)))
        raise DataContradictsLabel(
            where, f"{n} stored values (from {vmin} to {vmax}) lie outside the {bits}-bit range {lo}..{hi} that "
            f"{keyword} declares: the label's bit depth is wrong; fix {keyword} (or SAMPLE_BITS/data_type)"
        )


def check_file_size(where: Path, data_name: str, offset: int, stored_bytes: int, itemsize: int,
                    file_size: int, *, objects_after: bool, record: int = 1, keyword: str = "the sample type") -> None:
    """Refuse an image whose file holds exactly 2, 4 or 8 times the declared bytes.

    Parameters
    ----------
    where : Path
        The label.
    data_name : str
        The data file's name, for the message.
    offset, stored_bytes : int
        Where the image starts in the data file and how many bytes the label declares.
    itemsize : int
        Declared bytes per sample.
    file_size : int
        Size of the data file.
    objects_after : bool
        The label describes other data after the image in the same file (then extra
        bytes are expected and nothing is concluded).
    record : int
        The file is padded to a multiple of this (PDS3 ``RECORD_BYTES`` of fixed-length
        records; 1: no padding).
    keyword : str
        The label keywords at fault, for the message.

    Raises
    ------
    DataContradictsLabel
        The size is what ``k`` times the declared bytes (padded to a record) give, and not
        what the declared bytes give.

    Examples
    --------
    >>> check_file_size(Path("X.LBL"), "X.IMG", 0, 100, 1, 200, objects_after=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pipeline.errors.DataContradictsLabel: X.LBL: X.IMG holds 200 bytes from the image's start, exactly 2 x ...
    >>> check_file_size(Path("X.IMG"), "X.IMG", 512, 10, 1, 1024, objects_after=False, record=512)  # padding
    """
    if objects_after or stored_bytes <= 0:
        return
    record = max(int(record), 1)

    def padded(n: int) -> set[int]:
        return {n, -(-n // record) * record}

    genuine = padded(offset + stored_bytes)
    for k in (2, 4, 8):
        if itemsize * k > 8:
            break
        if file_size in padded(offset + k * stored_bytes) and file_size not in genuine:
            rest = file_size - offset
            raise DataContradictsLabel(
                where, f"{data_name} holds {rest} bytes from the image's start, exactly {k} x the {stored_bytes} bytes "
                f"of {8 * itemsize}-bit samples the label declares, and the label describes nothing after the image: "
                f"the samples are {8 * itemsize * k}-bit (or the label lacks {k - 1} band(s)); fix {keyword}"
            )


def _roughness(values: np.ndarray) -> float:
    v = values.astype(np.float64)
    spread = float(v.std())
    if v.size < 2 or spread == 0.0:
        return float("nan")
    return float(np.abs(np.diff(v)).mean()) / spread


def byte_plane_statistics(stream: bytes | np.ndarray, itemsize: int) -> tuple[float, float]:
    """(plane ratio, width ratio) of a declared sample stream (see the module docstring).

    Parameters
    ----------
    stream : bytes or ndarray
        The stored bytes of the image as declared (any dtype; viewed as bytes).
    itemsize : int
        Declared bytes per sample (1 or 2; 4 for 32-bit declared over 64-bit data).

    Returns
    -------
    plane_ratio : float
        Roughness (mean absolute step between consecutive samples of a plane) of the rougher
        of the two interleaved planes over the smoother one; inf when one plane is constant
        and the other is not; nan when both are constant or too few samples.
    width_ratio : float
        Roughness relative to spread of the declared stream over that of the same bytes
        read at twice the width (the byte order giving the smoother image).

    Examples
    --------
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> twelve_bit = (40 * x + 25 * y + 100).astype("<u2")        # a smooth 12-bit image
    >>> p, w = byte_plane_statistics(twelve_bit.tobytes(), 1)      # its bytes read as 8-bit
    >>> bool(p > PLANE_ROUGHNESS_RATIO and w > WIDTH_ROUGHNESS_RATIO)
    True
    >>> p, w = byte_plane_statistics((twelve_bit // 16).astype("u1").tobytes(), 1)  # a genuine 8-bit image
    >>> bool(p < PLANE_ROUGHNESS_RATIO and w < WIDTH_ROUGHNESS_RATIO)
    True
    """
    b = np.frombuffer(stream if isinstance(stream, bytes) else np.ascontiguousarray(stream).tobytes(), np.uint8)
    pair = 2 * itemsize
    n_words = b.size // itemsize
    if n_words < MIN_SAMPLES:
        return float("nan"), float("nan")
    if n_words > _MAX_WORDS:
        start = (n_words - _MAX_WORDS) // 2 // 2 * 2 * itemsize
        b = b[start : start + _MAX_WORDS * itemsize]
    b = b[: b.size // pair * pair]
    kind = {1: "u1", 2: "u2", 4: "u4", 8: "u8"}
    declared = b.view(kind[itemsize]) if itemsize == 1 else b.view("<" + kind[itemsize])
    steps = [float(np.abs(np.diff(p.astype(np.float64))).mean()) for p in (declared[0::2], declared[1::2])]
    lo, hi = min(steps), max(steps)
    plane_ratio = float("nan") if hi == 0 else (float("inf") if lo == 0 else hi / lo)
    if itemsize == 1:
        r_declared = _roughness(declared)
    else:
        r_declared = np.nanmin([_roughness(b.view("<" + kind[itemsize])), _roughness(b.view(">" + kind[itemsize]))])
    wide = kind[2 * itemsize]
    r_wide = np.nanmin([_roughness(b.view("<" + wide)), _roughness(b.view(">" + wide))])
    if not np.isfinite(r_declared) or not np.isfinite(r_wide):
        width_ratio = float("nan")
    else:
        width_ratio = float("inf") if r_wide == 0 else float(r_declared / r_wide)
    return plane_ratio, width_ratio


def check_byte_planes(stream: bytes | np.ndarray, itemsize: int, where: Path, keyword: str) -> None:
    """Refuse a sample stream whose bytes only a twice-as-wide sample type explains.

    Raises
    ------
    DataContradictsLabel
        Both :data:`PLANE_ROUGHNESS_RATIO` and :data:`WIDTH_ROUGHNESS_RATIO` exceeded; the
        message gives both ratios.
    """
    if itemsize not in (1, 2, 4):
        return
    plane, width = byte_plane_statistics(stream, itemsize)
    if plane > PLANE_ROUGHNESS_RATIO and width > WIDTH_ROUGHNESS_RATIO:
        bits = 8 * itemsize
        raise DataContradictsLabel(
            where, f"the label declares {bits}-bit samples ({keyword}) but the bytes are {2 * bits}-bit samples: "
            f"their two interleaved {bits}-bit planes differ in roughness {plane:.3g}:1 (high and low halves) and "
            f"read as {2 * bits}-bit they are {width:.3g} x smoother; fix {keyword} in the label"
        )


def _pds3_pointer_offset(value, record_bytes) -> tuple[str | None, int | None]:
    """(file name or None for the label's own file, byte offset) of a PDS3 pointer value."""
    name = None
    if isinstance(value, tuple) and value:
        if isinstance(value[0], str):
            name, value = value[0], (value[1] if len(value) > 1 else 1)
        else:
            value = value[0]
    elif isinstance(value, str):
        return value, 0
    if isinstance(value, Quantity):
        return name, value.value - 1 if isinstance(value.value, int) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return name, (value - 1) * record_bytes if isinstance(record_bytes, int) and record_bytes > 0 else None
    return name, None


def pds3_objects_after(label, image_key: str, data_name: str, attached: bool, image_end: int) -> bool:
    """Whether a PDS3 label points to other data at or after ``image_end`` (bytes) in the image's file.

    Pointers whose offset cannot be told count as "after" (no conclusion is drawn then).
    """
    record = label.get("RECORD_BYTES")
    record = record.value if isinstance(record, Quantity) else record
    for key, value in label.items():
        if not key.startswith("^") or key == image_key:
            continue
        name, offset = _pds3_pointer_offset(value, record)
        same = (name is None and attached) or (name is not None and Path(name).name.lower() == data_name.lower())
        if same and (offset is None or offset >= image_end):
            return True
    return False
