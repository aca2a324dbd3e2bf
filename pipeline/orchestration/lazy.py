"""Frames as lazy dask arrays: pixels read on compute, on whichever worker computes them."""

from __future__ import annotations

import dask
import dask.array as da
from dask.base import tokenize

from pipeline.frame import Frame
from pipeline.io import read_pixels

__all__ = ["as_dask_array"]


def as_dask_array(frame: Frame, *, with_mask: bool = False):
    """Lazy dask array of a frame's pixels (float32, one chunk, read on compute).

    Parameters
    ----------
    frame : Frame
    with_mask : bool
        Also return the lazy bool mask (True = invalid).

    Returns
    -------
    dask.array.Array of float32, shape (lines, samples)
        (and the mask array when ``with_mask``). The task key is a token of the frame's
        content hash and band, so it is the same in every run.
    """
    meta = frame.meta
    token = tokenize(meta.content_hash, meta.band, str(meta.path))
    if frame.loaded:
        pair = dask.delayed((frame.data, frame.mask), pure=True)
    else:
        pair = dask.delayed(read_pixels, pure=True)(meta, dask_key_name=f"read-pixels-{token}")
    data = da.from_delayed(pair[0], shape=tuple(meta.shape), dtype="float32", name=f"pixels-{token}")
    if not with_mask:
        return data
    mask = da.from_delayed(pair[1], shape=tuple(meta.shape), dtype=bool, name=f"mask-{token}")
    return data, mask
