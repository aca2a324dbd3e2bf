"""Read back the truth of a simulated survey: ``load_truth(outdir) -> Truth``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import FarsideError
from pipeline.geometry import FrameCamera
from pipeline.simulation.sensor import Detector, DetectorParams, Radiometry, Scene, render_iof
from pipeline.simulation.surface import Surface

log = logging.getLogger(__name__)

TRUTH_DIR = "truth"


@dataclass
class Truth:
    """Known truth of a simulated survey.

    Attributes
    ----------
    outdir : Path
    seed : int
    surface : Surface
        ``surface.albedo(lon_rad, lat_rad)`` is the true normal albedo.
    true_cameras : dict of str to FrameCamera
        The cameras that took the frames (from ``truth/<id>.json``).
    reported_cameras : dict of str to FrameCamera
        The cameras of the written sidecars ``<id>.json`` (with pointing/position errors).
    detector : Detector
        Flat, dark rate, bias and defect lists (rebuilt exactly from the seed).
    radiometry : Radiometry
    photometry : dict
        Photometric and radiometric constants and formulas (``truth/survey.json``).
    frames : dict of str to dict
        Per light frame: plan (exposure, times, wobble, Sun, errors), files, centre
        angles, and ``defects`` (``cosmic_rays``, ``saturated``, ``bias_drift_dn``).
    calibration : dict of str to dict
        Per calibration frame: type, exposure, files, defects.
    survey : dict
        The whole ``truth/survey.json``.
    """

    outdir: Path
    seed: int
    surface: Surface
    true_cameras: dict[str, FrameCamera]
    reported_cameras: dict[str, FrameCamera]
    detector: Detector
    radiometry: Radiometry
    photometry: dict[str, Any]
    frames: dict[str, dict[str, Any]]
    calibration: dict[str, dict[str, Any]]
    survey: dict[str, Any] = field(repr=False)

    @property
    def frame_ids(self) -> list[str]:
        """Light frame ids in time order."""
        return list(self.frames)

    @cached_property
    def defects(self) -> dict[str, Any]:
        """All injected defects: ``hot`` / ``dead`` (``[line, sample]`` arrays of shape
        (K, 2)), ``dust_donuts``, and per frame (light and calibration)
        ``cosmic_rays`` and ``saturated``."""
        per_frame = {fid: f["defects"] for fid, f in {**self.frames, **self.calibration}.items()}
        return {
            "hot": self.detector.hot,
            "dead": self.detector.dead,
            "dust_donuts": self.detector.dust,
            "frames": per_frame,
        }

    def cosmic_mask(self, frame_id: str) -> np.ndarray:
        """Bool mask (lines, samples) of the pixels hit by cosmic rays in a frame."""
        src = self.frames.get(frame_id) or self.calibration[frame_id]
        mask = np.zeros(self.detector.shape, bool)
        for hit in src["defects"]["cosmic_rays"]:
            for a, b in hit["pixels"]:
                mask[a, b] = True
        return mask

    def bad_pixel_mask(self) -> np.ndarray:
        """Bool mask of the hot and dead pixels (fixed detector defects)."""
        mask = np.zeros(self.detector.shape, bool)
        for arr in (self.detector.hot, self.detector.dead):
            if len(arr):
                mask[arr[:, 0], arr[:, 1]] = True
        return mask

    def exposure_s(self, frame_id: str) -> float:
        """Exposure duration of a light frame, seconds."""
        return float(self.frames[frame_id]["exposure_s"])

    def pointing_error_rad(self, frame_id: str) -> np.ndarray:
        """Rotation vector (camera frame, radians) of the reported ISD's pointing error."""
        return np.radians(self.frames[frame_id]["pointing_error_deg"])

    def true_scene(self, frame_id: str, supersample: int | None = None) -> Scene:
        """Re-render the ideal I/F, radiance and angles of a light frame (true camera)."""
        ss = supersample or int(self.photometry.get("supersample", 2))
        return render_iof(
            self.true_cameras[frame_id], self.surface, supersample=ss,
            psf_sigma_px=self.detector.params.psf_sigma_px, radiometry=self.radiometry,
        )


def load_truth(outdir: str | Path, *, reported_from_sidecars: bool = True) -> Truth:
    """Load the truth written by :func:`simulate_survey`.

    Parameters
    ----------
    outdir : str or Path
        The survey folder (holding ``truth/survey.json``).
    reported_from_sidecars : bool
        Read the reported cameras from the frame sidecars (True) or rebuild them from the
        plan (False: the same cameras to rounding).

    Raises
    ------
    FarsideError
        ``outdir`` holds no simulated survey.
    """
    outdir = Path(outdir)
    tdir = outdir / TRUTH_DIR
    try:
        survey = json.loads((tdir / "survey.json").read_text())
        surface_doc = json.loads((tdir / "surface.json").read_text())
        det_doc = json.loads((tdir / "detector.json").read_text())
    except OSError as exc:
        raise FarsideError(f"{outdir}: no simulated survey truth ({exc.strerror}: {exc.filename})") from exc
    surface = Surface.from_dict(surface_doc)
    dparams = DetectorParams.from_dict(det_doc["params"])
    detector = Detector.from_seed(int(det_doc["seed"]), tuple(det_doc["shape"]), dparams)
    rad_doc = survey["plan"]["radiometry"]
    radiometry = Radiometry(**rad_doc)
    frames = survey["frames"]
    true_cams = {fid: FrameCamera.from_file(tdir / f"{fid}.json") for fid in frames}
    if reported_from_sidecars:
        reported = {fid: FrameCamera.from_file(outdir / f"{fid}.json") for fid in frames}
    else:
        reported = {
            fid: true_cams[fid].with_pointing_correction(
                np.radians(f["pointing_error_deg"]), np.asarray(f["position_error_m"])
            )
            for fid, f in frames.items()
        }
    return Truth(
        outdir=outdir,
        seed=int(survey["seed"]),
        surface=surface,
        true_cameras=true_cams,
        reported_cameras=reported,
        detector=detector,
        radiometry=radiometry,
        photometry=survey["photometry"],
        frames=frames,
        calibration=survey.get("calibration", {}),
        survey=survey,
    )
