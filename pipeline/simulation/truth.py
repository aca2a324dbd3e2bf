"""Read back the truth of a simulated survey: ``load_truth(outdir) -> Truth``.

Besides the files, :class:`Truth` answers the questions tests ask of the truth: the
normal albedo a mosaic should correlate with (:meth:`Truth.normal_albedo`), where a
pixel's line of sight really meets the ground (:meth:`Truth.true_ground`, through the
truth DEM over relief), where that ground lies in another frame
(:meth:`Truth.true_correspondence`), how far apart two pixels supposed to show the same
ground really are (:meth:`Truth.misregistration_px`), and the film masks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError, FarsideError
from pipeline.geometry import FrameCamera, load_camera
from pipeline.geometry.dem import Dem
from pipeline.simulation.photometry import PhotometricLaw, default_law, scattering_law
from pipeline.simulation.scanrender import render_scan_iof
from pipeline.simulation.scantruth import ground_to_image_near
from pipeline.simulation.sensor import Detector, DetectorParams, Radiometry, Scene, camera_rays, render_iof
from pipeline.simulation.surface import Surface
from pipeline.simulation.terrain import Terrain
from pipeline.simulation.truthfiles import DEM_FILE, FILM_MASKS_FILE, TRUTH_DIR

log = logging.getLogger(__name__)


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
    detector : Detector or None
        Flat, dark rate, bias and defect lists (rebuilt exactly from the seed); None for a
        film-like survey (no detector).
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
    law : PhotometricLaw or None
        The scattering law the frames were rendered with (None: a user callable that was
        not passed to :func:`load_truth`).
    terrain : Terrain or None
        The truth DEM the frames were rendered through (``truth/dem.tif``); None: the sphere.
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
    law: PhotometricLaw | None = None
    terrain: Terrain | None = field(default=None, repr=False)

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
        mask = np.zeros(tuple(src.get("shape") or self.detector.shape), bool)
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
        """Re-render the ideal I/F, radiance and angles of a light frame (true camera,
        true law, through the truth DEM over relief)."""
        ss = supersample or int(self.photometry.get("supersample", 2))
        law = self.law if "law" in self.photometry else None
        if "law" in self.photometry and law is None:
            raise ConfigError(f"{self.outdir}: rendered with a user scattering law; pass it as load_truth(..., law=)")
        cam, f = self.true_cameras[frame_id], self.frames[frame_id]
        render, extra = render_iof, {}
        if "kind" in f:  # a line-scan or push-frame strip
            render, extra = render_scan_iof, {"exposure_s": f["exposure_s"], "line_period_s": f["period_s"],
                                              "smear_samples": self.survey["scan"][f["kind"]]["params"].get(
                                                  "smear_samples", 1)}  # fmt: skip
        return render(
            cam, self.surface, supersample=ss, **extra,
            psf_sigma_px=float(self.photometry["psf_sigma_px"]), radiometry=self.radiometry,
            law=law, terrain=self.terrain, shadows=bool(self.relief.get("params", {}).get("shadows", True)),
        )

    # ------------------------------------------------------------------ photometry truth
    @property
    def relief(self) -> dict[str, Any]:
        """The ``relief`` block of ``survey.json`` (empty without relief)."""
        return self.survey.get("relief", {})

    def normal_albedo_factor(self) -> float:
        """``f(30, 0, 30)`` of the true law: the truth normal albedo is ``A(x)`` times it."""
        if self.law is None:
            raise ConfigError(f"{self.outdir}: rendered with a user scattering law; pass it as load_truth(..., law=)")
        return self.law.normal_albedo_factor()

    def normal_albedo(self, lon_rad, lat_rad) -> np.ndarray:
        """Truth normal albedo at lon/lat (radians): the I/F the ground would have at the
        standard geometry (i, e, g) = (30, 0, 30) deg under the true law,
        ``A(x) * f(30, 0, 30)`` (see :mod:`pipeline.simulation.photometry`), float64."""
        return self.surface.albedo(lon_rad, lat_rad).astype(np.float64) * self.normal_albedo_factor()

    # ------------------------------------------------------------------ geometry truth
    def true_ground(self, frame_id: str, line, sample) -> tuple[np.ndarray, np.ndarray]:
        """Where the lines of sight of image coordinates of a frame really meet the ground.

        Through the true camera and the truth DEM (first hit) over relief, else the sphere.

        Returns
        -------
        xyz : ndarray of shape (..., 3)
            Body-fixed metres (NaN or the ray's closest approach where ``hit`` is False).
        hit : ndarray of bool, shape (...)
        """
        cam = self.true_cameras[frame_id]
        line, sample = np.broadcast_arrays(np.asarray(line, dtype=float), np.asarray(sample, dtype=float))
        if self.terrain is None:
            return cam.image_to_ground_hit(line, sample)
        origins, directions = camera_rays(cam, line, sample)
        xyz, hit = self.terrain.intersect(origins, directions)
        return xyz.reshape(line.shape + (3,)), hit.reshape(line.shape)

    def true_correspondence(self, frame_a: str, frame_b: str, line, sample) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
        """Image coordinates in frame B of the true ground seen at ``(line, sample)`` in A.

        Returns
        -------
        line_b, sample_b : ndarray
        valid : ndarray of bool
            The ground is inside B and seen by it (not hidden by terrain, facing it).
        """
        xyz, hit = self.true_ground(frame_a, line, sample)
        cam_b = self.true_cameras[frame_b]
        safe = np.where(hit[..., None], xyz, cam_b.radii_m[0])
        lb, sb = cam_b.ground_to_image(safe)
        inside = hit & (lb >= 0) & (lb <= cam_b.lines) & (sb >= 0) & (sb <= cam_b.samples)
        if self.terrain is None:
            seen = cam_b.visible(safe)
        else:
            back, bhit = self.true_ground(frame_b, np.where(inside, lb, 0.5), np.where(inside, sb, 0.5))
            tol = max(1.0, 0.01 * cam_b.gsd_m())
            seen = bhit & (np.linalg.norm(np.nan_to_num(back - safe, nan=np.inf), axis=-1) <= tol)
        return lb, sb, inside & seen

    def misregistration_px(self, frame_a: str, line_a, sample_a, frame_b: str, line_b, sample_b) -> np.ndarray:
        """How far apart (frame A pixels) two pixels meant to show the same ground really are.

        The true ground seen at ``(line_b, sample_b)`` in B is projected into A through A's
        true camera; the result is its distance from ``(line_a, sample_a)``. Measured on the
        true surface (the truth DEM over relief), so it is what a tie point or a mosaic
        pixel pair really misses by. NaN where B's pixel sees no ground. Any camera kinds; a
        push-frame A is measured in the framelet of ``line_a`` (where framelets overlap, the
        same ground has one position per framelet).
        """
        xyz, hit = self.true_ground(frame_b, line_b, sample_b)
        cam_a = self.true_cameras[frame_a]
        la, sa = ground_to_image_near(cam_a, np.where(hit[..., None], xyz, cam_a.radii_m[0]), line_a)
        d = np.hypot(la - np.asarray(line_a, dtype=float), sa - np.asarray(sample_a, dtype=float))
        return np.where(hit, d, np.nan)

    # ------------------------------------------------------------------ film truth
    @cached_property
    def film_masks(self) -> dict[str, np.ndarray]:
        """All film masks by ``<frame id>/border`` and ``<frame id>/fiducials`` (bool arrays).

        Raises
        ------
        FarsideError
            Not a film-like survey.
        """
        path = self.outdir / TRUTH_DIR / FILM_MASKS_FILE
        if not path.is_file():
            raise FarsideError(f"{self.outdir}: not a film-like survey (no {TRUTH_DIR}/{FILM_MASKS_FILE}); "
                               f"simulate it with film=True")
        with np.load(path) as z:
            return {k: z[k] for k in z.files}

    def border_mask(self, frame_id: str) -> np.ndarray:
        """Scan-border pixels of a film-like frame (bool, lines x samples)."""
        return self.film_masks[f"{frame_id}/border"]

    def fiducial_mask(self, frame_id: str) -> np.ndarray:
        """Fiducial-mark pixels (crosses, notches) of a film-like frame outside its border."""
        return self.film_masks[f"{frame_id}/fiducials"]


def _law_from(photometry: dict[str, Any], law) -> PhotometricLaw | None:
    if law is not None:
        return scattering_law(law)
    if "law" not in photometry:
        return default_law(float(photometry["lunar_lambert_l"]))
    try:
        return PhotometricLaw.from_dict(photometry["law"])
    except ConfigError:
        log.warning("survey rendered with user scattering law %s: pass it as load_truth(..., law=)",
                    photometry["law"].get("model"))
        return None


def load_truth(outdir: str | Path, *, reported_from_sidecars: bool = True, law=None) -> Truth:
    """Load the truth written by :func:`simulate_survey`.

    Parameters
    ----------
    outdir : str or Path
        The survey folder (holding ``truth/survey.json``).
    reported_from_sidecars : bool
        Read the reported cameras from the frame sidecars (True) or rebuild them from the
        plan (False: the same cameras to rounding).
    law : callable or PhotometricLaw, optional
        The scattering law, for a survey rendered with a user callable (built-in laws are
        rebuilt from ``survey.json``).

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
        frame_cams = "film" not in survey and any("kind" not in f for f in survey["frames"].values())
        det_doc = json.loads((tdir / "detector.json").read_text()) if frame_cams else None
    except OSError as exc:
        raise FarsideError(f"{outdir}: no simulated survey truth ({exc.strerror}: {exc.filename})") from exc
    surface = Surface.from_dict(surface_doc)
    detector = None
    if det_doc is not None:
        dparams = DetectorParams.from_dict(det_doc["params"])
        detector = Detector.from_seed(int(det_doc["seed"]), tuple(det_doc["shape"]), dparams)
    terrain = None
    if "relief" in survey:

        terrain = Terrain(Dem.from_file(tdir / DEM_FILE, is_radius=False))
    rad_doc = survey["plan"]["radiometry"]
    radiometry = Radiometry(**rad_doc)
    frames = survey["frames"]
    true_cams = {fid: load_camera(tdir / f"{fid}.json") for fid in frames}
    if reported_from_sidecars:
        reported = {fid: load_camera(outdir / f"{fid}.json") for fid in frames}
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
        law=_law_from(survey["photometry"], law),
        terrain=terrain,
    )
