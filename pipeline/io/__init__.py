"""Frame readers: one registry, two calls.

>>> from pipeline.io import read_meta, read_pixels
>>> meta = read_meta("sample_images/FS_S0_F00.IMG")        # label + sidecar, no pixels
>>> meta.format, meta.shape, meta.exposure_s               # doctest: +SKIP
('pds3', (320, 320), 0.0126)
>>> data, mask = read_pixels(meta)                          # float32, True = invalid

Formats (:data:`READERS` keys, also ``FrameMeta.format``):

========  =====================================  ===================================
name      files                                  metadata
========  =====================================  ===================================
pds3      ``.IMG`` attached label, ``.LBL`` +    ``START_TIME``, ``EXPOSURE_DURATION``
          data file                              (unit), ``INSTRUMENT_ID``, ``FRAME_TYPE``
pds4      ``.xml`` label + the data file it      ``start_date_time``, ``exposure_duration``
          names                                  (``unit``), ``frame_type``/``purpose``
fits      ``.fits``/``.fit``/``.fts``            ``EXPTIME`` (s), ``DATE-OBS``, ``IMAGETYP``
isis3     ``.cub`` (ISIS2 qubes, GeoTIFF cores:  ``Instrument`` group
          through GDAL)
tiff      ``.tif``/``.tiff`` (GDAL)              sidecar only
png/jpeg  ``.png``, ``.jpg``/``.jpeg``           sidecar only
========  =====================================  ===================================

Every problem with a file raises a :class:`~pipeline.errors.BadFrame` subclass naming the
file and the fix: :class:`~pipeline.errors.UnreadableFrame` (empty, truncated, damaged,
not the format it claims, label without data, a data file linked from outside the frames
folder; :class:`~pipeline.errors.DataContradictsLabel`: a bit depth the data rule out),
:class:`~pipeline.errors.UnsupportedFormat`
(valid but unsupported product), :class:`~pipeline.errors.LabelTooLarge` (declared size
over the cap, raised before allocating), :class:`~pipeline.errors.BadGeometry` (sidecar).

Readers and writers only: no stage logic, no dask.
"""

from pipeline.io.base import Reader
from pipeline.io.frames import DEFAULT_MAX_BYTES, load_frame, read_meta, read_metas, read_pixels
from pipeline.io.hashing import content_hash
from pipeline.io.registry import DATA_SUFFIXES, READERS, detect_format
from pipeline.io.sidecar import SidecarInfo, find_sidecar, read_sidecar

__all__ = [
    "DATA_SUFFIXES",
    "DEFAULT_MAX_BYTES",
    "READERS",
    "Reader",
    "SidecarInfo",
    "content_hash",
    "detect_format",
    "find_sidecar",
    "load_frame",
    "read_meta",
    "read_metas",
    "read_pixels",
    "read_sidecar",
]
