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

from collections.abc import Sequence

import numpy as np

from pipeline.geometry.cameras import FrameCamera

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

    def project_jacobian(self, cams, frame, rot_coeffs, pos_coeffs, xyz, h_rot: float, h_pos: float, h_xyz: float):
        """:meth:`project` and its derivatives, by forward differences of :meth:`project`.

        Returns
        -------
        img : (n, 2)
        d_rot : (n, 2, 3k)   d img / d rotation coefficients (``c_0`` x, y, z, then ``c_1`` ...)
        d_pos : (n, 2, 3k) or None
        d_xyz : (n, 2, 3)    d img / d ground point (body-fixed m)
        """
        img = self.project(cams, frame, rot_coeffs, pos_coeffs, xyz)
        k = rot_coeffs.shape[1]
        d_rot = np.zeros((len(frame), 2, 3 * k))
        for c in range(3 * k):
            r2 = rot_coeffs.copy()
            r2[:, c // 3, c % 3] += h_rot
            d_rot[:, :, c] = (self.project(cams, frame, r2, pos_coeffs, xyz) - img) / h_rot
        d_pos = None
        if pos_coeffs is not None:
            d_pos = np.zeros((len(frame), 2, 3 * k))
            for c in range(3 * k):
                p2 = pos_coeffs.copy()
                p2[:, c // 3, c % 3] += h_pos
                d_pos[:, :, c] = (self.project(cams, frame, rot_coeffs, p2, xyz) - img) / h_pos
        d_xyz = np.zeros((len(frame), 2, 3))
        for a in range(3):
            x2 = xyz.copy()
            x2[:, a] += h_xyz
            d_xyz[:, :, a] = (self.project(cams, frame, rot_coeffs, pos_coeffs, x2) - img) / h_xyz
        return img, d_rot, d_pos, d_xyz

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
    """``FrameCamera``: constant correction, batched projection per intrinsics group.

    Derivatives by the chain rule through the moved point ``X''``: ``d img / d X''`` (2 x 3:
    the pinhole analytic, the distortion by differences in the focal plane) times
    ``d X'' / d (w, d, X)``; one projection per linearisation whatever the unknowns.
    """

    degree = 1
    _INTRINSIC = ("lines", "samples", "focal_length_mm", "focal2pixel_lines", "focal2pixel_samples",
                  "detector_center", "radii_m", "distortion", "look_direction", "line_summing", "sample_summing",
                  "starting_detector_line", "starting_detector_sample")

    def group_key(self, cam) -> object:
        """Key of the camera's intrinsics: cameras with equal keys are projected in one batch."""
        return tuple(getattr(cam, k) for k in self._INTRINSIC)

    @staticmethod
    def _setup(cams, rot_coeffs, pos_coeffs):
        rep = cams[0]
        c_f = np.stack([c.cam_to_body for c in cams])  # (m, 3, 3)
        p_f = np.stack([c.position_m for c in cams])
        if pos_coeffs is not None:
            p_f = p_f + pos_coeffs[:, 0]
        return rep, c_f, p_f

    @staticmethod
    def _matrices(rep, c_f, rotvec):
        """``M_f = C_rep R(w_f)^T C_f^T`` (m, 3, 3)."""
        return np.einsum("ij,fkj,flk->fil", rep.cam_to_body, rotvecs_to_matrices(rotvec), c_f)

    @staticmethod
    def _apply(m, frame, d):
        """``M[frame] @ d`` row by row (1-D gathers of each matrix entry, no (n, 3, 3) temporary)."""
        mt = np.ascontiguousarray(np.transpose(m, (1, 2, 0)))
        dt = np.ascontiguousarray(d.T)
        out = np.empty((3, len(d)))
        for i in range(3):
            acc = mt[i, 0][frame] * dt[0]
            acc += mt[i, 1][frame] * dt[1]
            acc += mt[i, 2][frame] * dt[2]
            out[i] = acc
        return out.T

    def project(self, cams, frame, rot_coeffs, pos_coeffs, xyz) -> np.ndarray:
        """Image ``(line, sample)`` (px), shape ``(n, 2)``, of points ``xyz`` (m) in corrected cameras ``frame``."""
        rep, c_f, p_f = self._setup(cams, rot_coeffs, pos_coeffs)
        moved = rep.position_m + self._apply(self._matrices(rep, c_f, rot_coeffs[:, 0]), frame, xyz - p_f[frame])
        line, sample = rep.ground_to_image(moved)
        return np.stack([line, sample], axis=1)

    @staticmethod
    def _image_jacobian(rep, moved: np.ndarray, h_xyz: float) -> tuple[np.ndarray, np.ndarray]:
        """``rep.ground_to_image(moved)`` (n, 2) and its Jacobian (n, 2, 3): the pinhole part
        analytic, the distortion by differences in the focal plane (mm), focal-plane to
        image linear (``focal2pixel``, summing)."""
        img = np.stack(rep.ground_to_image(moved), axis=1)
        rot = rep.cam_to_body
        qx, qy, qz = np.ascontiguousarray(((moved - rep.position_m) @ rot).T)  # camera frame, C^T (X - P)
        f = rep.focal_length_mm
        with np.errstate(invalid="ignore", divide="ignore"):
            g = f / (qz * rep.look_direction)
            ux, uy = g * qx, g * qy
            inv_z = 1.0 / qz
        dist = rep.distortion
        h = 1e-6 * f  # mm
        dx0, dy0 = dist.apply(ux, uy)
        dxx, dyx = dist.apply(ux + h, uy)
        dxy, dyy = dist.apply(ux, uy + h)
        d00, d01, d10, d11 = (dxx - dx0) / h, (dxy - dx0) / h, (dyx - dy0) / h, (dyy - dy0) / h
        fl, fs = rep.focal2pixel_lines, rep.focal2pixel_samples
        m = (
            (fl[1] / rep.line_summing, fl[2] / rep.line_summing),
            (fs[1] / rep.sample_summing, fs[2] / rep.sample_summing),
        )
        # d(ux, uy) / d X = g (C[:, 0] or C[:, 1]) - (ux or uy) / qz C[:, 2]; image row r = (F D)_r . (ux, uy)
        jt = np.empty((2, 3, len(qx)))
        for r in range(2):
            g0 = m[r][0] * d00 + m[r][1] * d10  # (F D)_r0
            g1 = m[r][0] * d01 + m[r][1] * d11  # (F D)_r1
            a0, a1 = g * g0, g * g1
            c2 = (g0 * ux + g1 * uy) * inv_z
            for c in range(3):
                jt[r, c] = a0 * rot[c, 0] + a1 * rot[c, 1] - c2 * rot[c, 2]
        j = np.ascontiguousarray(jt.transpose(2, 0, 1))
        return img, j

    def project_jacobian(self, cams, frame, rot_coeffs, pos_coeffs, xyz, h_rot, h_pos, h_xyz):
        """:meth:`project` and its derivatives as :meth:`CameraKind.project_jacobian` returns them
        (rotation derivatives by differences of step ``h_rot``, rad)."""
        rep, c_f, p_f = self._setup(cams, rot_coeffs, pos_coeffs)
        m = self._matrices(rep, c_f, rot_coeffs[:, 0])
        d = xyz - p_f[frame]
        rel = self._apply(m, frame, d)
        moved = rep.position_m + rel
        img, j = self._image_jacobian(rep, moved, h_xyz)
        d_rot = np.zeros((len(frame), 2, 3))
        for c in range(3):
            r2 = rot_coeffs[:, 0].copy()
            r2[:, c] += h_rot
            dm = (self._matrices(rep, c_f, r2) - m) / h_rot
            d_rot[:, :, c] = np.einsum("nka,na->nk", j, self._apply(dm, frame, d))
        jm = np.stack([self._apply(np.transpose(m, (0, 2, 1)), frame, j[:, k]) for k in range(2)], axis=1)
        # jm = J @ M[frame]: d img / d X ; d img / d offset = -jm
        return img, d_rot, (-jm if pos_coeffs is not None else None), jm


CAMERA_KINDS: dict[type, CameraKind] = {FrameCamera: FrameKind()}
"""Adapters by exact camera class; other classes get :class:`GenericKind`."""


def kind_of(cam) -> CameraKind:
    """The adapter of ``cam``'s exact class (:class:`GenericKind` with the class's
    ``correction_degree`` when the class is not in :data:`CAMERA_KINDS`)."""
    kind = CAMERA_KINDS.get(type(cam))
    if kind is None:
        kind = GenericKind(getattr(type(cam), "correction_degree", 1))
    return kind
