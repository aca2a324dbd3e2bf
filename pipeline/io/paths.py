r"""Data files named by labels must stay inside the frames folder, symbolic links included.

A label names its data file by a bare file name (``^IMAGE = "X.IMG"``, PDS4 ``file_name``,
ISIS ``^Core``); :func:`pipeline.io.pds3.resolve_file` already refuses absolute names and
``..``. A *symbolic link* of the right name can still point anywhere; :func:`check_inside`
resolves it and refuses it unless its target lies inside the data root: the folder of
frames being ingested, or by default the label's own folder.

File names are bytes to the OS and need not be valid UTF-8; Python keeps the invalid bytes
as lone surrogates (``surrogateescape``), which no UTF-8 output (HTML, JSON, GeoTIFF tags,
fonts) can hold. :func:`printable` is how such a name appears in every output: each invalid
byte written ``\xNN``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import UnreadableFrame

__all__ = ["check_inside", "printable"]


def check_inside(found: Path, root: str | Path, where: Path, name: str) -> Path:
    """``found`` if its real path (all symlinks resolved) lies inside ``root``'s real path.

    Parameters
    ----------
    found : Path
        The data file as found beside the label (possibly a symlink).
    root : str or Path
        The data root (the frames folder, or the label's folder).
    where : Path
        The label, named in the error.
    name : str
        The name the label gives, for the message.

    Returns
    -------
    Path
        ``found`` unchanged (the name the user sees).

    Raises
    ------
    UnreadableFrame
        A link that leaves the data root, or that cannot be resolved (dangling, a loop).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "X.IMG").write_bytes(b"x")
    1
    >>> check_inside(d / "X.IMG", d, d / "X.LBL", "X.IMG") == d / "X.IMG"
    True
    """
    try:
        real = Path(found).resolve(strict=True)
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise UnreadableFrame(
            where, f"data file {name!r} cannot be resolved ({getattr(exc, 'strerror', None) or exc}); "
            "replace the broken link by the file"
        ) from None
    if not real.is_relative_to(base):
        raise UnreadableFrame(
            where, f"data file {name!r} is a link to {real}, outside the data root {base}; data files must stay "
            "inside the frames folder: copy the file there (or give its folder as the data root)"
        )
    return found


def printable(text: object) -> str:
    r"""``str(text)`` with every byte of a non-UTF-8 file name written ``\xNN``.

    Examples
    --------
    >>> import os
    >>> printable(os.fsdecode(b"FS_\xe9t\xe9.fits"))
    'FS_\\xe9t\\xe9.fits'
    >>> printable("crat\u00e8re.img")
    'cratère.img'
    """
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
