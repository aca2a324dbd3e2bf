"""Camera kinds behind one protocol: :class:`Camera` (what the pipeline uses), :class:`CameraBase`
(what every kind shares) and the sensor models — :class:`FrameCamera`, :class:`LineScanCamera`,
:class:`PushFrameCamera` (usgscsm semantics). :func:`load_camera` reads any of them from an ISD."""

from pipeline.geometry.cameras.base import CameraBase
from pipeline.geometry.cameras.frame import FrameCamera
from pipeline.geometry.cameras.linescan import LineScanCamera
from pipeline.geometry.cameras.loader import load_camera
from pipeline.geometry.cameras.protocol import Camera
from pipeline.geometry.cameras.pushframe import PushFrameCamera

__all__ = ["Camera", "CameraBase", "FrameCamera", "LineScanCamera", "PushFrameCamera", "load_camera"]
