"""Calibration of a frame from the survey simulator, checked against its truth.

A small end-to-end check of this package alone (the pipeline's integration tests run the
whole survey): masters from simulated bias/dark/flat frames, one rendered light frame,
calibrated with the simulation's own radiometric constants and photometric function.
"""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pipeline.simulation")  # skip the module, not fail, when the simulator cannot load

import pipeline.simulation as sim
from bench.cosmic_rates import FlagTally
from pipeline.calibration import BadPixel, build_masters, calibrate_frame
from pipeline.calibration.params import CalibrationParams, PhotometryParams
from pipeline.frame import Frame, FrameMeta


def _instrument(n: int, seed: int, params=None):
    """A simulated detector, masters from 5 bias, 5 dark and 5 flat frames of it (with
    their own cosmic rays), and the calibration config of the simulator's constants."""
    det = sim.Detector.from_seed(seed, (n, n), params)
    rng = np.random.default_rng(seed)
    bias = [sim.expose(0.0, 0.0, det, rng).dn for _ in range(5)]
    darks = [(sim.expose(0.0, te, det, rng).dn, te) for te in (0.02, 0.04, 0.06, 0.08, 0.10)]
    flats = [(sim.expose(44000.0, 0.05, det, rng).dn, 0.05) for _ in range(5)]
    rad = sim.Radiometry()
    cfg = CalibrationParams(
        responsivity=rad.responsivity,
        solar_irradiance=rad.solar_irradiance,
        gain_e_per_dn=det.params.gain_e_per_dn,
        photometry=PhotometryParams(model="lunar_lambert", lunar_lambert_l=rad.lunar_lambert_l),
    )
    return det, build_masters(bias, darks, flats, cfg), cfg, rad


def test_simulated_frame_matches_the_truth_albedo():
    n, seed, t = 160, 3, 0.015
    det, masters, cfg, rad = _instrument(n, seed)
    hot = np.zeros((n, n), bool)
    hot[tuple(det.hot.T)] = True
    dead = np.zeros((n, n), bool)
    dead[tuple(det.dead.T)] = True
    assert ((masters.bad & BadPixel.HOT) != 0)[hot].all()
    assert ((masters.bad & BadPixel.DEAD) != 0)[dead].all()

    cam = sim.nadir_camera(180.2, 0.5, lines=n, samples=n, sun_incidence_deg=55.0)
    frame = sim.render_frame(
        cam, sim.Surface(seed=seed, region=(179, 181.5, -1, 2)), exposure_s=t, detector=det, seed=seed
    )
    meta = FrameMeta(
        id="sim", path=Path("sim.img"), format="pds3", shape=(n, n), dtype="uint16", exposure_s=t
    )
    out = calibrate_frame(Frame(meta, camera=cam, data=frame.dn.astype(np.float32)), masters, cfg)

    scene = frame.scene
    albedo = scene.iof / sim.lunar_lambert(1.0, scene.incidence, scene.emission, rad.lunar_lambert_l)
    valid = ~out.mask & np.isfinite(albedo)
    assert np.corrcoef(out.data[valid], albedo[valid])[0, 1] >= 0.98
    gain = np.sum(out.data[valid] * albedo[valid]) / np.sum(albedo[valid] ** 2)
    f_std = sim.lunar_lambert(1.0, np.radians(30.0), 0.0, rad.lunar_lambert_l)
    assert gain == pytest.approx(f_std, rel=0.01)  # normalised to i = 30, e = 0

    cosmic = np.zeros((n, n), bool)
    for hit in frame.exposure.cosmic_rays:
        cosmic[tuple(np.array(hit["pixels"]).T)] = True
    saturated = frame.dn >= det.params.saturation_dn
    flagged = out.mask | out.repaired
    assert flagged[hot | dead].all()
    assert flagged[cosmic & ~saturated].mean() >= 0.9
    others = ~(hot | dead | cosmic | saturated)
    assert flagged[others].mean() < 1e-3


def test_flagging_rates_on_simulated_frames_against_the_truth():
    """Hot/dead pixels and cosmic rays injected by the simulator are flagged, other pixels
    are not.

    Six 256 x 256 frames of the default far-side surface, 2 x 2 supersampled like the
    sample survey, with ~80 hits each (the detector's usual rate is ~6) for statistics.
    Measured here (one frame at a time, no overlaps): all hot/dead pixels, 99.0 % of the
    hits, 99.4 % of their unsaturated pixels, 0.12 % of the other pixels flagged; at the
    detector's usual hit rate the other pixels flagged fall to 0.064 % (the dense hits'
    neighbours and repairs make half of them). Issue 5's >= 99 % / < 0.1 % on a survey,
    with the overlaps: tests/test_bench.py.
    """
    n, seed = 256, 11
    det, masters, cfg, _ = _instrument(n, seed, sim.DetectorParams(cosmic_mean=80.0))
    bad = np.zeros((n, n), bool)
    bad[tuple(np.concatenate([det.hot, det.dead]).T)] = True
    surface = sim.Surface(seed=seed, region=(178, 183, -3, 3))
    tally = FlagTally()
    centres = [(179.2, -1.5), (180.0, 0.4), (180.8, 1.8), (181.6, -0.6), (179.6, 2.2), (181.2, -2.0)]
    for k, (lon, lat) in enumerate(centres):
        cam = sim.nadir_camera(lon, lat, lines=n, samples=n, sun_incidence_deg=35.0 + 4.0 * k)
        frame = sim.render_frame(cam, surface, exposure_s=0.015, detector=det, seed=seed + k)
        meta = FrameMeta(id=f"f{k}", path=Path(f"f{k}.img"), format="pds3", shape=(n, n), dtype="uint16",
                         exposure_s=0.015)
        out = calibrate_frame(Frame(meta, camera=cam, data=frame.dn.astype(np.float32)), masters, cfg)
        saturated = frame.dn >= det.params.saturation_dn
        tally.add(out.mask | out.repaired, frame.exposure.cosmic_rays, saturated, bad)
    rates = tally.rates()
    assert rates["hits"] > 400 and tally.hit_pixels > 1000
    assert rates["bad_flagged"] == 1.0
    assert rates["hits_found"] >= 0.985
    assert rates["hit_pixels_flagged"] >= 0.985
    assert rates["others_flagged"] < 1.5e-3
