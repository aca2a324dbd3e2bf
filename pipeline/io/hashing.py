"""Content hashes of frame files (exact-duplicate detection, provenance)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["content_hash"]

_CHUNK = 1 << 20


def content_hash(paths: Iterable[str | Path]) -> str:
    """SHA-256 hex digest of the bytes of ``paths`` in order (streamed, 1 MiB chunks).

    Each file's length is mixed in before its bytes so ``(a, bc)`` and ``(ab, c)`` differ.

    Parameters
    ----------
    paths : iterable of path
        The data file, then the detached label when there is one.

    Returns
    -------
    str
        64 hexadecimal characters.

    Raises
    ------
    OSError
        A file cannot be read (the readers turn it into ``UnreadableFrame``).
    """
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(f"{path.stat().st_size}:".encode())
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
