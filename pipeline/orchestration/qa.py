"""From a finished run to the QA report's plain data (``pipeline.report.ReportData``).

Kept apart from :mod:`pipeline.report` (which knows nothing of the stages) and from
:mod:`pipeline.orchestration.graph` (which only wires tasks): this module reads the stage
products a run returned and turns them into rows, arrays and provenance, including the
tie-point observations traced to the ground with the adjusted cameras
(:func:`tie_observations`), from which the report measures the misregistration per seam.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pipeline.errors import GeometryError
from pipeline.geometry.body import lonlat_to_xyz_deg
from pipeline.io.geotiff import software_versions
from pipeline.orchestration.qa_relief import adjustment_data, relief_data
from pipeline.orchestration.result import RunResult
from pipeline.orchestration.steps import terrain
from pipeline.report import FrameRow, ReportData, TieObservations


def _surface_text(mos, relief) -> str:
    """The report's line on the surface the frames were orthorectified through, when it is
    not a relief model."""
    if mos.dem:
        return f"Orthorectified through the DEM {mos.dem} (mosaicking.dem)."
    if mos.relief == "sphere":
        return "Orthorectified onto the reference sphere (mosaicking.relief: sphere)."
    if relief is not None:
        return ("Orthorectified onto the reference sphere: the adjustment found no relief that matters "
                "(registration.points: auto; the registration notes say why).")
    return "No relief model: registration is off, so there are no tie points to build one from."


def _angle_range(camera, n: int = 8) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(min, max) incidence and emission in degrees over a grid of the frame's pixels."""
    lines = np.linspace(0.5, camera.lines - 0.5, n)
    samples = np.linspace(0.5, camera.samples - 0.5, n)
    ll, ss = np.meshgrid(lines, samples, indexing="ij")
    xyz, hit = camera.image_to_ground_hit(ll, ss)
    if not hit.any() or camera.sun_position_m is None:
        return None, None
    inc, emi, _ = camera.illumination_angles(xyz[hit])
    inc, emi = np.degrees(inc), np.degrees(emi)
    return (float(inc.min()), float(inc.max())), (float(emi.min()), float(emi.max()))


def _footprint(camera) -> list[tuple[float, float]] | None:
    try:
        lon, lat = camera.footprint_deg(8)
    except GeometryError:  # a camera that does not see the body has no footprint to draw
        return None
    return [(float(a), float(b)) for a, b in zip(lon, lat)]


def _hits(qa: dict) -> int | None:
    """Cosmic-ray hits of a frame: the single-frame detector's plus the cross-frame check's."""
    if qa.get("cosmic_rays") is None:
        return None
    return int(qa["cosmic_rays"]) + int(qa.get("crosscheck_cosmic_rays", 0))


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def tie_observations(network, cameras: Mapping[str, Any], dem=None, points_xyz=None) -> TieObservations | None:
    """The inlier tie-point observations of an adjusted control network, traced to the ground.

    For each observation ``(line, sample)`` of tie point P in frame F (outliers, ground
    control points and frames without a camera left out), with F's adjusted camera:

    * ``ground_xyz_m``: where the ray of the observed pixel meets the surface (``dem``, else
      the camera's ellipsoid);
    * ``residual_px``: P (``points_xyz[point_id]`` when given: the adjusted 3-D point; else
      the network's adjusted ``lon_deg``/``lat_deg`` on the ellipsoid, as surface-bound points
      are placed) projected into F minus the observation, ``(line, sample)`` pixels; its
      length is the network's ``residual_after_px``;
    * ``residual_ground_m``: where the ray of ``observation + residual`` meets the surface
      minus ``ground_xyz_m``, metres.

    Parameters
    ----------
    network : ControlNetwork
        ``RegistrationResult.network`` (columns ``frame_id, point_id, line, sample, lon_deg,
        lat_deg, outlier, control``; image coordinates in the CSM convention, pixel centres
        at +0.5).
    cameras : mapping of str to Camera
        The adjusted cameras by frame id (``RegistrationResult.cameras``).
    dem : Dem, optional
        The terrain the mosaic was orthorectified on.
    points_xyz : ndarray of shape (n_tracks, 3), optional
        ``RegistrationResult.points_xyz``: the adjusted ground point of every track
        (body-fixed metres; NaN rows fall back to ``lon_deg``/``lat_deg``).

    Returns
    -------
    TieObservations or None
        ``None`` when no observation is left.
    """
    fid_all = np.asarray(network.frame_id).astype(str)
    keep = ~np.asarray(network.outlier, bool) & ~np.asarray(network.control, bool)
    keep &= np.isin(fid_all, list(cameras))
    if not keep.any():
        return None
    fid, pid = fid_all[keep], np.asarray(network.point_id)[keep]
    line, sample = np.asarray(network.line, float)[keep], np.asarray(network.sample, float)[keep]
    lon, lat = np.asarray(network.lon_deg, float)[keep], np.asarray(network.lat_deg, float)[keep]
    ground = np.full((fid.size, 3), np.nan)
    res_px = np.full((fid.size, 2), np.nan)
    res_ground = np.full((fid.size, 3), np.nan)
    for f in np.unique(fid):  # one vectorised pass per frame
        k = np.flatnonzero(fid == f)
        cam = cameras[f]
        xyz, hit = cam.image_to_ground_hit(line[k], sample[k], dem=dem)
        p = lonlat_to_xyz_deg(lon[k], lat[k], 0.0, cam.radii_m)
        if points_xyz is not None and len(points_xyz):
            own = np.asarray(points_xyz, float)[np.clip(pid[k], 0, len(points_xyz) - 1)]
            p = np.where(np.all(np.isfinite(own), axis=1)[:, None] & (pid[k] >= 0)[:, None], own, p)
        pl, ps = cam.ground_to_image(p)
        tip, tip_hit = cam.image_to_ground_hit(pl, ps, dem=dem)
        ground[k] = np.where(hit[:, None], xyz, np.nan)
        res_px[k] = np.column_stack([pl - line[k], ps - sample[k]])
        res_ground[k] = np.where((hit & tip_hit)[:, None], tip - xyz, np.nan)
    return TieObservations(frame_id=fid, point_id=pid, ground_xyz_m=ground, residual_px=res_px,
                           residual_ground_m=res_ground)


def _frame_rows(result: RunResult, reg, eq, cams: dict) -> list[FrameRow]:
    """One row per planned frame (its position in the plan is its value in the mosaic's
    ``top_index`` band), then one per file rejected while planning."""
    plan, product = result.plan, result.product
    summaries = {s["id"]: s for s in product["summaries"] if "id" in s}
    rejected = {str(x.path): x for x in result.failures}  # ingest, geometry, calibrate, register
    rows: list[FrameRow] = []
    for index, f in enumerate(plan.frames):  # the index is the frame's value in the top_index band
        qa = summaries.get(f.id, {}).get("qa", {})
        failure = rejected.get(str(f.meta.path))
        st = reg.status.get(f.id)
        status, reason = ("used", "")
        if failure is not None:
            status, reason = "rejected", f"[{failure.stage}] {failure.reason}"
        elif st is not None and st.status == "prior":
            status, reason = "kept with prior pointing", st.reason
        camera = cams.get(f.id, f.camera)
        inc, emi = _angle_range(camera)
        corr = reg.corrections.get(f.id)
        gain, offset = eq.correction(f.id) if eq is not None else (None, None)
        rows.append(FrameRow(
            id=f.id, path=str(f.meta.path), format=f.meta.format, shape=tuple(f.meta.shape),
            exposure_s=f.meta.exposure_s, time_utc=f.meta.time_utc.isoformat() if f.meta.time_utc else None,
            status=status, reason=reason, level=_num(qa.get("median")), noise=_num(qa.get("noise")),
            masked_fraction=_num(qa.get("masked_fraction")), cosmic_rays=_hits(qa),
            incidence_deg=inc, emission_deg=emi,
            tie_points=st.n_tie_points if st is not None else None,
            correction_deg=tuple(corr.rotvec_deg) if corr is not None else None,
            residual_before_px=_num(st.rms_before_px) if st is not None else None,
            residual_after_px=_num(st.rms_after_px) if st is not None else None,
            gain=gain, offset=offset, footprint_lonlat=_footprint(camera), mosaic_index=index,
        ))
    for x in plan.failures:
        rows.append(FrameRow(id=x.path.stem, path=str(x.path), format="?", shape=(0, 0), exposure_s=None,
                             time_utc=None, status="rejected", reason=f"[{x.stage}] {x.reason}"))
    return rows


def report_data(result: RunResult) -> ReportData:
    """Everything the QA report shows about ``result`` besides the mosaic file itself."""
    plan, product = result.plan, result.product
    reg = product.get("registration")
    eq = product.get("equalization")
    cams = dict(reg.cameras)
    rows = _frame_rows(result, reg, eq, cams)

    before = after = tie_ll = None
    if len(reg.network):
        net = reg.network
        keep = ~np.asarray(net.outlier, bool)
        before = np.asarray(net.residual_before_px)[keep]
        after = np.asarray(net.residual_after_px)[keep]
        _, first = np.unique(np.asarray(net.point_id)[keep], return_index=True)
        tie_ll = np.column_stack([np.asarray(net.lon_deg)[keep][first], np.asarray(net.lat_deg)[keep][first]])
    notes = list(reg.notes)
    provenance = {
        "inputs": [str(f.meta.path) for f in plan.frames],
        "calibration frames": [str(f.meta.path) for f in plan.inputs.calibration],
        "config": json.loads(plan.config.model_dump_json()),
        "versions": software_versions(),
        "scheduler": plan.config.run.scheduler,
        "work directory": str(plan.workdir.root),
        "reused from the work directory": result.reused or "nothing",
    }
    timings = dict(result.stage_seconds)
    timings["total (wall)"] = result.seconds
    mos = plan.config.mosaicking
    relief = product.get("relief")
    dem = terrain(str(mos.dem) if mos.dem else None, relief)
    return ReportData(
        mosaic_path=result.out, frames=rows, residuals_before_px=before, residuals_after_px=after,
        tie_points_lonlat=tie_ll,
        overlap_diff_before=eq.differences(corrected=False) if eq is not None else None,
        overlap_diff_after=eq.differences(corrected=True) if eq is not None else None,
        provenance=provenance, timings_s=timings, notes=notes,
        tie_observations=tie_observations(reg.network, cams, dem, reg.points_xyz) if len(reg.network) else None,
        pixel_size_m=plan.grid.resolution, photometry=product.get("photometry"),
        adjustment=adjustment_data(reg) if plan.config.registration.enabled else None,
        relief=relief_data(relief) if relief is not None and not relief.is_sphere else None,
        surface=_surface_text(mos, relief),
    )
