"""Feature detectors: a registry of same-signature functions (``DETECTORS``).

Every detector takes an 8-bit image and a validity mask and returns OpenCV keypoint
positions, descriptors and the descriptor norm to match them with::

    points, descriptors, norm = DETECTORS["sift"](image_u8, valid_u8, max_features)

- ``image_u8`` : ndarray of uint8, shape ``(rows, cols)``.
- ``valid_u8`` : ndarray of uint8, shape ``(rows, cols)``; 255 where features may be
  detected, 0 elsewhere (OpenCV's mask convention).
- ``max_features`` : the most keypoints to keep (the strongest).
- ``points`` : ndarray of float32, shape ``(n, 2)``, OpenCV ``(x, y)`` = ``(col, row)``
  with the centre of the first pixel at ``(0, 0)``.
- ``descriptors`` : ndarray of shape ``(n, d)`` (float32 for SIFT, uint8 for ORB/AKAZE)
  or ``None`` when nothing was found.
- ``norm`` : ``cv2.NORM_L2`` or ``cv2.NORM_HAMMING``.

The YAML names a detector (``registration.detector: sift``); nothing else refers to the
functions. OpenCV 5's main wheels (``opencv-python-headless``) have SIFT and ORB; AKAZE
lives only in ``opencv-contrib-python-headless``, so it is listed but reported as
unavailable (with the fix) unless that wheel is installed.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from pipeline.errors import ConfigError

__all__ = ["DETECTORS", "available_detectors", "check_detector"]

Detector = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, "np.ndarray | None", int]]


def _points(keypoints) -> np.ndarray:
    if not keypoints:
        return np.zeros((0, 2), np.float32)
    return np.array([kp.pt for kp in keypoints], dtype=np.float32)


def detect_sift(image: np.ndarray, valid: np.ndarray, max_features: int):
    """SIFT (Lowe 2004) keypoints and 128-float descriptors; matched with the L2 norm."""
    # a lower contrast threshold than OpenCV's 0.04: lunar scenes are low-contrast
    sift = cv2.SIFT_create(nfeatures=int(max_features), contrastThreshold=0.02)
    kps, desc = sift.detectAndCompute(image, valid)
    return _points(kps), desc, cv2.NORM_L2


def detect_orb(image: np.ndarray, valid: np.ndarray, max_features: int):
    """ORB (oriented FAST + rotated BRIEF) keypoints, 32-byte binary descriptors; Hamming norm."""
    orb = cv2.ORB_create(nfeatures=int(max_features), edgeThreshold=15, patchSize=15, fastThreshold=5)
    kps, desc = orb.detectAndCompute(image, valid)
    return _points(kps), desc, cv2.NORM_HAMMING


def detect_akaze(image: np.ndarray, valid: np.ndarray, max_features: int):
    """AKAZE keypoints with binary MLDB descriptors; Hamming norm. Needs the AKAZE class
    (``opencv-contrib-python-headless`` with OpenCV 5)."""
    create = getattr(cv2, "AKAZE_create", None)
    if create is None:
        raise ConfigError(_AKAZE_MISSING)
    akaze = create(threshold=1e-4)
    kps, desc = akaze.detectAndCompute(image, valid)
    if len(kps) > max_features:
        order = np.argsort([-kp.response for kp in kps], kind="stable")[:max_features]
        kps = [kps[i] for i in order]
        desc = desc[order]
    return _points(kps), desc, cv2.NORM_HAMMING


_AKAZE_MISSING = (
    "detector 'akaze' needs cv2.AKAZE_create, which OpenCV 5's main wheel lacks; install "
    "opencv-contrib-python-headless (instead of opencv-python-headless) or choose 'sift' or 'orb'"
)

DETECTORS: dict[str, Detector] = {
    "sift": detect_sift,
    "orb": detect_orb,
    "akaze": detect_akaze,
}
"""Feature detectors by name; ``sift`` is the default."""

_REQUIRES = {"sift": "SIFT_create", "orb": "ORB_create", "akaze": "AKAZE_create"}


def available_detectors() -> list[str]:
    """Names in :data:`DETECTORS` that the installed OpenCV can run."""
    return [name for name in DETECTORS if hasattr(cv2, _REQUIRES.get(name, "__name__"))]


def check_detector(name: str) -> str:
    """Return ``name`` if it is a usable detector, else raise :class:`ConfigError` saying why."""
    if name not in DETECTORS:
        raise ConfigError(f"unknown detector {name!r}; choose from {sorted(DETECTORS)}")
    if name not in available_detectors():
        if name == "akaze":
            raise ConfigError(_AKAZE_MISSING)
        raise ConfigError(f"detector {name!r} is not available in this OpenCV build ({cv2.__version__})")
    return name
