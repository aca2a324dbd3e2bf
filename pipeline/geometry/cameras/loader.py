"""One entry point for every camera kind: :func:`load_camera`.

The ISD's ``name_model`` picks the class:

==========================================  =============================================
``USGS_ASTRO_FRAME_SENSOR_MODEL``           :class:`~pipeline.geometry.FrameCamera`
``USGS_ASTRO_LINE_SCANNER_SENSOR_MODEL``    :class:`~pipeline.geometry.cameras.linescan.LineScanCamera`
``USGS_ASTRO_PUSH_FRAME_SENSOR_MODEL``      :class:`~pipeline.geometry.cameras.pushframe.PushFrameCamera`
==========================================  =============================================

Every kind answers ``image_to_ground(line, sample, height)`` (body-fixed metres),
``image_to_ground_hit``, ``ground_to_image(xyz)`` and ``rays``, with pixel centres at
``+0.5`` and the first pixel's centre at ``(0.5, 0.5)``; see each class for its conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import BadGeometry, UnsupportedGeometry
from pipeline.geometry.cameras.frame import FrameCamera
from pipeline.geometry.cameras.linescan import LineScanCamera
from pipeline.geometry.cameras.pushframe import PushFrameCamera
from pipeline.geometry.isd import FRAME_MODEL
from pipeline.geometry.scan_isd import LINE_SCAN_MODEL, PUSH_FRAME_MODEL, read_isd_argument

__all__ = ["CAMERA_CLASSES", "load_camera"]

CAMERA_CLASSES: dict[str, type] = {
    FRAME_MODEL: FrameCamera,
    LINE_SCAN_MODEL: LineScanCamera,
    PUSH_FRAME_MODEL: PushFrameCamera,
}
"""``name_model`` -> camera class."""


def load_camera(isd: Mapping[str, Any] | str | Path, **kw: Any) -> FrameCamera | LineScanCamera | PushFrameCamera:
    """The camera of an ISD: a frame, line-scan or push-frame camera by its ``name_model``.

    Parameters
    ----------
    isd : dict, str or Path
        A parsed ISD, or the path of an ISD JSON sidecar.
    **kw
        Passed to the class's ``from_isd`` / ``from_file`` (``source`` names the file in
        errors). ``look_direction`` (+1/-1 or a per-instrument table) is a
        :class:`FrameCamera` setting; scanning cameras take theirs from the ISD or from which
        side the body is on, and ignore it.

    Returns
    -------
    FrameCamera, LineScanCamera or PushFrameCamera
        Frame ISDs give exactly what ``FrameCamera.from_isd`` (``from_file`` for a path) gives.

    Raises
    ------
    BadGeometry
        Unreadable file, invalid JSON, missing keys or bad values.
    UnsupportedGeometry
        A ``name_model`` farside does not model (SAR, ...).

    Examples
    --------
    >>> cam = load_camera("../shared/reference/usgscsm/lroWacPushFrame.json")  # doctest: +SKIP
    >>> type(cam).__name__  # doctest: +SKIP
    'PushFrameCamera'
    """
    data, path = read_isd_argument(isd, "camera")
    if not isinstance(data, Mapping):
        raise BadGeometry(
            path or "<in-memory ISD>", f"the ISD must be a JSON object, got {type(data).__name__}"
        )
    model = data.get("name_model")
    cls = CAMERA_CLASSES.get(model) if isinstance(model, str) else None
    if cls is None and model is not None and isinstance(model, str):
        raise UnsupportedGeometry(
            kw.get("source") or path or "<in-memory ISD>",
            f"not supported: sensor model {model!r}; farside models {', '.join(CAMERA_CLASSES)}",
        )
    if cls is None or cls is FrameCamera:  # FrameCamera reports a missing/odd name_model itself
        if path is not None:
            return FrameCamera.from_file(path, **kw)
        return FrameCamera.from_isd(data, **kw)
    kw.pop("look_direction", None)
    if path is not None:
        kw.setdefault("source", path)
    return cls.from_isd(data, **kw)
