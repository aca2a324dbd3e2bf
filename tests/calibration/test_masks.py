"""Film frames through calibrate_frame: border and notches masked, crosses repaired, no cosmic-ray
repair, no saturation test; fixed per-instrument masks (PNG or polygons)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.calibration import CalibrationParams, calibrate_frame
from pipeline.calibration.masks import instrument_mask, polygon_mask
from pipeline.calibration.params import MaskingParams
from pipeline.errors import CalibrationError
from pipeline.frame import Frame, FrameMeta

CFG = CalibrationParams(output="dn", photometry=None, bias_dn=0.0)


def film_like(rng: np.random.Generator, shape=(96, 96)) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """An 8-bit scan: textured scene 60-200 DN with grain, a 4-pixel black border, a dark
    reseau cross, a dark notch at the top edge, and single-pixel grain spikes that a
    cosmic-ray detector would take for hits."""
    m, n = shape
    ll, ss = np.mgrid[0:m, 0:n]
    img = 130 + 50 * np.sin(ll / 7.0) * np.cos(ss / 9.0) + rng.normal(0, 2.0, shape)
    spikes = rng.random(shape) < 0.003
    img[spikes] += 60
    cross = np.zeros(shape, bool)
    cross[48, 40:57] = cross[40:57, 48] = True
    notch = np.zeros(shape, bool)
    notch[4:11, 45:52] = True
    img[cross | notch] = 5.0
    border = np.zeros(shape, bool)
    border[:4], border[-4:], border[:, :4], border[:, -4:] = True, True, True, True
    img[border] = 0.0
    return np.clip(np.rint(img), 0, 255), {"border": border, "cross": cross, "notch": notch, "spikes": spikes}


def frame_of(data: np.ndarray, *, film: bool, dtype: str = "uint8", instrument: str | None = None) -> Frame:
    meta = FrameMeta(id="f", path=Path("f.png"), format="png", shape=data.shape, dtype=dtype,
                     instrument=instrument, extra={"film": film})
    return Frame(meta, data=data.astype(np.float32))


def test_film_frame_border_and_notch_masked_cross_repaired_no_cosmic_rays(rng):
    img, truth = film_like(rng)
    out = calibrate_frame(frame_of(img, film=True), None, CFG)
    qa = out.qa
    assert qa["film"] is True and qa["cosmic_rays"] == 0 and qa["cold_pixels"] == 0
    assert out.mask[truth["border"]].all() and out.mask[truth["notch"]].all()
    # the cross is repaired from its neighbours (valid, flagged as repaired), no longer dark
    assert not out.mask[truth["cross"]].any() and out.repaired[truth["cross"]].all()
    assert out.data[truth["cross"]].min() > 60
    assert qa["reseau_pixels_repaired"] >= truth["cross"].sum()
    assert qa["scan_border_pixels"] >= truth["border"].sum() and qa["fiducial_pixels"] > 0
    # grain spikes are left alone, and nothing else is masked beyond the margins
    assert not out.repaired[truth["spikes"] & ~out.mask].any()
    kept = ~out.mask
    assert kept.sum() >= (96 - 2 * 6) ** 2 - 11 * 11
    # masking.reseau: mask (or mask_repaired) masks the crosses instead
    masked = calibrate_frame(frame_of(img, film=True), None,
                             CFG.model_copy(update={"masking": MaskingParams(reseau="mask")}))
    assert masked.mask[truth["cross"]].all()


def test_the_same_pixels_as_a_detector_frame_get_cosmic_ray_repair_and_no_fiducial_search(rng):
    img, truth = film_like(rng)
    out = calibrate_frame(frame_of(img, film=False), None, CFG)
    assert out.qa["film"] is False and out.qa["fiducial_pixels"] == 0
    assert out.qa["cosmic_rays"] > 10  # the spikes
    assert not out.mask[truth["border"]].any()  # scan_border: film
    every = CFG.model_copy(update={"masking": MaskingParams(scan_border="all")})
    border = calibrate_frame(frame_of(img, film=False), None, every).mask
    assert np.array_equal(border, truth["border"])  # exactly, no margin off film


def test_no_saturation_test_on_film_scans():
    img = np.tile(np.linspace(20, 255, 64), (64, 1)).round()
    assert img.max() == 255
    cfg = CFG.model_copy(update={"cosmic_rays": False, "saturation_dn": 255.0})  # an 8-bit detector
    detector = calibrate_frame(frame_of(img, film=False), None, cfg)
    assert detector.qa["saturated"] == int((img >= 255).sum()) > 0
    scan = calibrate_frame(frame_of(img, film=True), None, cfg)  # a scan's 255 is a tone
    assert scan.qa["saturated"] == 0 and not scan.mask.any()


def test_polygon_mask_uses_pixel_centres():
    m = polygon_mask((10, 10), [[(2.0, 2.0), (2.0, 6.0), (5.0, 6.0), (5.0, 2.0)]])
    expected = np.zeros((10, 10), bool)
    expected[2:5, 2:6] = True  # centres 2.5..4.5 x 2.5..5.5
    assert np.array_equal(m, expected)
    tri = polygon_mask((10, 10), [[(0.0, 0.0), (0.0, 10.0), (10.0, 0.0)]])
    assert tri.sum() == 45 and tri[0, 0] and not tri[9, 9]  # centres strictly below the diagonal
    assert not polygon_mask((4, 4), [[(10, 10), (10, 12), (12, 12)]]).any()


def test_instrument_masks_png_and_polygons(tmp_path, rng):
    png = tmp_path / "cam.png"
    fixed = np.zeros((32, 40), np.uint8)
    fixed[:, 30:] = 255
    cv2.imwrite(str(png), fixed)
    img = 100 + rng.normal(0, 3, (32, 40))
    cfg = CFG.model_copy(update={"masking": MaskingParams(instruments={
        "CAM": str(png), "*": [[(0, 0), (0, 4), (4, 4), (4, 0)]]})})
    out = calibrate_frame(frame_of(img, film=False, dtype="uint16", instrument="CAM"), None, cfg)
    assert out.mask[:, 30:].all() and not out.mask[:, :30].any()
    assert out.qa["instrument_mask_pixels"] == 32 * 10
    other = calibrate_frame(frame_of(img, film=False, dtype="uint16", instrument="OTHER"), None, cfg)
    assert other.mask.sum() == 16 and other.mask[:4, :4].all()  # the "*" entry
    with pytest.raises(CalibrationError, match=r"cam\.png.*32 x 40.*frame's size"):
        instrument_mask(str(png), (40, 32), "g.png")
    with pytest.raises(ValidationError, match="not found"):
        MaskingParams(instruments={"CAM": str(tmp_path / "missing.png")})
    with pytest.raises(ValidationError, match="at least 3"):
        MaskingParams(instruments={"CAM": [[(0, 0), (1, 1)]]})
