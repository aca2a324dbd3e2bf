"""Camera kinds behind one protocol: :class:`Camera` (what the pipeline uses), :class:`CameraBase`
(what every kind shares) and the sensor models (:class:`FrameCamera`)."""

from pipeline.geometry.cameras.base import CameraBase
from pipeline.geometry.cameras.frame import FrameCamera
from pipeline.geometry.cameras.protocol import Camera

__all__ = ["Camera", "CameraBase", "FrameCamera"]
