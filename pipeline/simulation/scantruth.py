"""Truth helpers for any camera kind: misregistration between strips and frames, scan detectors.

:class:`~pipeline.simulation.Truth` holds the true and reported cameras of every light image,
frames and strips alike (read with :func:`pipeline.geometry.load_camera`); its
``true_ground``, ``true_correspondence`` and ``misregistration_px`` use only the camera
protocol (``rays``, ``image_to_ground_hit``, ``ground_to_image``, ``visible``), so they measure
strip-to-strip and strip-to-frame misregistration on the true surface as they do for frames.
This module adds what tests of registration need on top:

- :func:`pair_misregistration_px`: how far the pixel pairs that a set of (e.g. adjusted)
  cameras puts together really are apart, on a grid over the overlap of two images;
- :func:`pointing_error_rotvec`: the reported ISD's pointing error at given times;
- :func:`framelet_ground_to_image`: where a push-frame framelet (any, not only usgscsm's
  choice) sees ground points;
- :func:`strip_ids`, :func:`scan_detector_of`, :func:`scan_bad_pixel_mask`.

Examples
--------
>>> from pipeline.simulation import load_truth                             # doctest: +SKIP
>>> truth = load_truth("out/ls")                                           # doctest: +SKIP
>>> d = pair_misregistration_px(truth, "LS_S0", "LS_S1", truth.reported_cameras)  # doctest: +SKIP
>>> float(np.nanpercentile(d, 90))                                          # doctest: +SKIP
"""

from __future__ import annotations

import json

import numpy as np

from pipeline.errors import FarsideError
from pipeline.simulation.detector import Detector, DetectorParams
from pipeline.simulation.scandetector import scan_detector
from pipeline.simulation.scansurvey import DETECTOR_FILES
from pipeline.simulation.truthfiles import TRUTH_DIR

__all__ = [
    "framelet_ground_to_image",
    "ground_to_image_near",
    "pair_misregistration_px",
    "pointing_error_rotvec",
    "scan_bad_pixel_mask",
    "scan_detector_of",
    "strip_ids",
]


def strip_ids(truth, kind: str | None = None) -> list[str]:
    """Ids of the line-scan and/or push-frame strips of a survey (``kind`` to choose one)."""
    return [fid for fid, f in truth.frames.items() if "kind" in f and (kind is None or f["kind"] == kind)]


def pointing_error_rotvec(truth, frame_id: str, t_rel) -> np.ndarray:
    """Rotation vectors (camera frame, radians) of a strip's reported pointing error at times
    ``t_rel`` (s, relative to its centre time): ``c0 + c1 * tau``, shape ``t.shape + (3,)``.

    ``cam_to_body_reported = cam_to_body_true @ R(result)`` (at the ISD's table nodes).
    """
    f = truth.frames[frame_id]
    if "kind" not in f:
        raise FarsideError(f"{frame_id} is a frame: its constant error is Truth.pointing_error_rad({frame_id!r})")
    c = np.radians(np.asarray(f["pointing_error_deg"], dtype=float))
    tau = np.asarray(t_rel, dtype=float)[..., None] / truth.true_cameras[frame_id].half_duration_s
    return c[0] + c[1] * tau


def pair_misregistration_px(truth, frame_a: str, frame_b: str, cameras=None, *, n: int = 24,
                            height: float = 0.0) -> np.ndarray:  # fmt: skip
    """Misregistration (image A pixels) of the pixel pairs that ``cameras`` put together.

    On an ``n x n`` grid of image A, each pixel is sent to the ground by ``cameras[frame_a]``
    (ellipsoid + ``height``, what a mosaic onto the sphere does) and back into image B by
    ``cameras[frame_b]``; :meth:`Truth.misregistration_px` then tells how far apart the two
    pixels really are on the true surface.

    Parameters
    ----------
    truth : Truth
    frame_a, frame_b : str
        Any camera kinds.
    cameras : dict of str to camera, optional
        The cameras to test (e.g. ``truth.reported_cameras`` or adjusted ones); default the
        true cameras (zero on the sphere without relief).
    n : int
    height : float
        Height of the projection surface above the ellipsoid, metres.

    Returns
    -------
    ndarray of shape (K,)
        One value per grid pixel of A that B sees (inside its image), NaN where the truth has
        no ground.
    """
    cams = cameras if cameras is not None else truth.true_cameras
    ca, cb = cams[frame_a], cams[frame_b]
    ll, ss = np.meshgrid((np.arange(n) + 0.5) * ca.lines / n, (np.arange(n) + 0.5) * ca.samples / n, indexing="ij")
    xyz, hit = ca.image_to_ground_hit(ll, ss, height)
    lb, sb = cb.ground_to_image(xyz[hit])
    inside = (lb >= 0) & (lb <= cb.lines) & (sb >= 0) & (sb <= cb.samples)
    return truth.misregistration_px(frame_a, ll[hit][inside], ss[hit][inside], frame_b, lb[inside], sb[inside])


def framelet_ground_to_image(camera, framelet, xyz) -> tuple[np.ndarray, np.ndarray]:
    """Image ``(line, sample)`` at which push-frame framelet ``framelet`` (the one holding image
    lines ``framelet * h .. (framelet + 1) * h``, ``h`` lines per framelet; an int or an array
    broadcasting with the points) sees body-fixed points, whichever framelet usgscsm's
    ``ground_to_image`` would pick. A line outside that range means the framelet's detector
    (as trimmed) does not see the point there."""
    c = camera
    h = c.summed_framelet_height
    xyz = np.asarray(xyz, dtype=float)
    k = np.broadcast_to(np.asarray(framelet), xyz.shape[:-1])
    t = np.asarray(c.line_time(k * h + 0.5), dtype=float)
    fx, fy, _ = c.detector_view(t, xyz)
    dx, dy = c.distortion.apply(fx, fy)
    fl, fs = c.focal2pixel_lines, c.focal2pixel_samples
    line = (fl[0] + fl[1] * dx + fl[2] * dy + c.detector_center[0] - c.starting_detector_line) / c.line_summing
    sample = (fs[0] + fs[1] * dx + fs[2] * dy + c.detector_center[1] - c.starting_detector_sample) / c.sample_summing
    return line - c.num_lines_overlap // 2 + k * h, sample


def ground_to_image_near(camera, xyz, line) -> tuple[np.ndarray, np.ndarray]:
    """``camera.ground_to_image(xyz)``, except that a push frame answers in the framelet of
    ``line`` (where framelets overlap on the ground a point has one position per framelet;
    usgscsm picks one, this keeps the one near ``line``)."""
    if getattr(camera, "kind", "frame") != "push-frame":
        return camera.ground_to_image(xyz)
    k = np.clip(np.floor(np.asarray(line, dtype=float) / camera.summed_framelet_height), 0, camera.n_framelets - 1)
    return framelet_ground_to_image(camera, k.astype(int), xyz)


def scan_detector_of(truth, kind: str) -> Detector:
    """Rebuild a survey's line-scan or push-frame detector (image-shaped maps) from its truth file."""
    path = truth.outdir / TRUTH_DIR / DETECTOR_FILES[kind]
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise FarsideError(f"{path}: no {kind} detector truth ({exc.strerror}); simulate with {kind} strips") from exc
    extra = {k: doc[k] for k in ("framelet_height", "num_lines_overlap") if k in doc}
    return scan_detector(kind, int(doc["seed"]), tuple(doc["shape"]), DetectorParams.from_dict(doc["params"]),
                         frame_area=float(doc["frame_area"]), **extra)  # fmt: skip


def scan_bad_pixel_mask(truth, frame_id: str) -> np.ndarray:
    """Hot and dead pixels (bool, image shape) of a strip: whole columns for a line scanner."""
    det = scan_detector_of(truth, truth.frames[frame_id]["kind"])
    mask = np.zeros(det.shape, bool)
    for arr in (det.hot, det.dead):
        if len(arr):
            mask[arr[:, 0], arr[:, 1]] = True
    return mask
