"""Camera kinds seen by the bundle adjustment: one small adapter per kind, no class branching.

Every camera kind offers the adjustment the same three things:

- ``degree`` ``k``: the pointing (and position) correction is a polynomial of degree
  ``k - 1`` in the normalised time ``tau = (t - t_centre) / (half the image duration)``,
  ``rotvec(tau) = sum_j c_j tau^j`` (camera frame, radians) and
  ``offset(tau) = sum_j p_j tau^j`` (body-fixed metres); ``k = 1`` is a constant
  correction (frame cameras), ``k = 2`` adds a linear drift (ISIS jigsaw ``CKDEGREE``).
  A kind declares it as the class attribute ``correction_degree`` (default 1);
- :meth:`CameraKind.corrected`: the camera with coefficients ``(k, 3)`` applied. Degree-1
  kinds get the ``FrameCamera`` signature ``with_pointing_correction(rotvec (3,),
  position_offset_m (3,) | None)``; higher degrees get ``(k, 3)`` arrays
  (``LineScanCamera.with_pointing_correction(rot_coeffs, position_coeffs)``);
- :meth:`CameraKind.project`: image ``(line, sample)`` of ground points by several
  corrected cameras of one group at once.

:data:`CAMERA_KINDS` maps an exact camera class to its adapter. ``FrameCamera`` has a
batched one: all frames that share intrinsics (focal length, focal-plane map, distortion,
detector) are projected in **one** ``ground_to_image`` call by moving the points so that a
representative camera sees them where each corrected camera would,
``X'' = P_rep + C_rep R(w)^T C_f^T (X - P_f - d_f)`` (exact up to rounding). Any other
class gets :class:`GenericKind`: one ``with_pointing_correction(...).ground_to_image`` per
camera.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from pipeline.geometry.camera import FrameCamera

__all__ = ["CAMERA_KINDS", "CameraKind", "FrameKind", "GenericKind", "kind_of", "rotvecs_to_matrices"]


def rotvecs_to_matrices(rotvec: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(n, 3, 3)`` of rotation vectors ``(n, 3)`` (radians), Rodrigues.

    Same formula as :func:`pipeline.geometry.rotation.rotvec_to_matrix` (series below 1e-8 rad).

    >>> import numpy as np
    >>> m = rotvecs_to_matrices(np.array([[0.0, 0.0, np.pi / 2]]))
    >>> np.round(m[0] @ [1.0, 0.0, 0.0], 12).tolist()
    [0.0, 1.0, 0.0]
    """
    v = np.asarray(rotvec, float).reshape(-1, 3)
    theta = np.linalg.norm(v, axis=1)
    k = np.zeros((len(v), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(theta) / safe)
    b = np.where(small, 0.5, (1.0 - np.cos(theta)) / safe**2)
    return np.eye(3) + a[:, None, None] * k + b[:, None, None] * (k @ k)


class CameraKind:
    """Adapter interface (see the module docstring). Subclasses override what differs."""

    degree: int = 1

    def group_key(self, cam) -> object:
        """Cameras with equal keys are projected together by :meth:`project`."""
        return id(cam)

    def corrected(self, cam, rot_coeffs: np.ndarray, pos_coeffs: np.ndarray | None):
        """``cam`` with the correction coefficients ``(k, 3)`` (radians; metres) applied."""
        if self.degree == 1:
            return cam.with_pointing_correction(rot_coeffs[0], None if pos_coeffs is None else pos_coeffs[0])
        return cam.with_pointing_correction(rot_coeffs, pos_coeffs)

    def project(self, cams: Sequence, frame: np.ndarray, rot_coeffs: np.ndarray,
                pos_coeffs: np.ndarray | None, xyz: np.ndarray) -> np.ndarray:
        """Image coordinates ``(n, 2)`` of ``xyz (n, 3)`` seen by ``cams[frame[i]]`` corrected.

        ``rot_coeffs`` / ``pos_coeffs`` are ``(len(cams), k, 3)``.
        """
        out = np.full((len(frame), 2), np.nan)
        order = np.argsort(frame, kind="stable")
        bounds = np.searchsorted(frame[order], np.arange(len(cams) + 1))
        for f in range(len(cams)):
            idx = order[bounds[f]:bounds[f + 1]]
            if len(idx):
                cam = self.corrected(cams[f], rot_coeffs[f], None if pos_coeffs is None else pos_coeffs[f])
                line, sample = cam.ground_to_image(xyz[idx])
                out[idx, 0], out[idx, 1] = line, sample
        return out

    def intersect(self, cam, line: np.ndarray, sample: np.ndarray, height=0.0) -> tuple[np.ndarray, np.ndarray]:
        """Ground points ``(n, 3)`` (m) of image coordinates and whether the ray meets the body."""
        hit_fn = getattr(cam, "image_to_ground_hit", None)  # optional capability of a kind
        if hit_fn is not None:
            return hit_fn(line, sample, height)
        xyz = np.asarray(cam.image_to_ground(line, sample, height), float)
        return xyz, np.all(np.isfinite(xyz), axis=-1)


class GenericKind(CameraKind):
    """Any camera with ``with_pointing_correction`` and ``ground_to_image``; ``degree`` from
    the class attribute ``correction_degree`` (1 when absent)."""

    def __init__(self, degree: int = 1):
        self.degree = int(degree)


class FrameKind(CameraKind):
    """``FrameCamera``: constant correction, batched projection per intrinsics group."""

    degree = 1
    _EXTRINSIC = ("position", "rotation", "sun_position", "velocity", "time_s", "name_sensor", "name_platform",
                  "image_identifier", "height_range_m", "source_isd")

    def group_key(self, cam) -> object:
        return dataclasses.replace(cam, **{k: _NEUTRAL[k] for k in self._EXTRINSIC})

    def project(self, cams, frame, rot_coeffs, pos_coeffs, xyz) -> np.ndarray:
        rep = cams[0]
        c_rep, p_rep = rep.cam_to_body, rep.position_m
        c_f = np.stack([c.cam_to_body for c in cams])  # (m, 3, 3)
        p_f = np.stack([c.position_m for c in cams])
        if pos_coeffs is not None:
            p_f = p_f + pos_coeffs[:, 0]
        # M_f = C_rep R(w_f)^T C_f^T
        m = np.einsum("ij,fkj,flk->fil", c_rep, rotvecs_to_matrices(rot_coeffs[:, 0]), c_f)
        d = xyz - p_f[frame]
        moved = np.empty_like(d)
        for i in range(3):  # component-wise: no (n, 3, 3) temporary
            moved[:, i] = p_rep[i] + m[frame, i, 0] * d[:, 0] + m[frame, i, 1] * d[:, 1] + m[frame, i, 2] * d[:, 2]
        line, sample = rep.ground_to_image(moved)
        return np.stack([line, sample], axis=1)


_NEUTRAL = {"position": (0.0, 0.0, 0.0), "rotation": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
            "sun_position": None, "velocity": (0.0, 0.0, 0.0), "time_s": 0.0, "name_sensor": "",
            "name_platform": "", "image_identifier": "", "height_range_m": (0.0, 0.0), "source_isd": None}

CAMERA_KINDS: dict[type, CameraKind] = {FrameCamera: FrameKind()}
"""Adapters by exact camera class; other classes get :class:`GenericKind`."""


def kind_of(cam) -> CameraKind:
    """The adapter of ``cam``'s exact class (:class:`GenericKind` with the class's
    ``correction_degree`` when the class is not in :data:`CAMERA_KINDS`)."""
    kind = CAMERA_KINDS.get(type(cam))
    if kind is None:
        kind = GenericKind(getattr(type(cam), "correction_degree", 1))
    return kind
