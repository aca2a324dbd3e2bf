"""Per-camera correction blocks: line-scan strips whose pointing drifts linearly in time.

Three push-broom strips (``pushbroom.Pushbroom``, ``correction_degree = 2``) side by side
with 30 % overlap and one frame camera over the middle: the true strips' pointing is
``base @ R(t0 + t1 tau)`` (constant + linear drift, random per strip), the reported ones
know only ``base``. Tie points between all overlapping images, ground control on the middle
strip (absolute datum), 0.1 px noise. The adjustment must recover ``t0`` and ``t1`` (rotation
coefficients, ISIS jigsaw ``CKDEGREE = 1`` / SOLVEDEGREE 1 in its terms), which a constant
correction cannot.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from pipeline.registration import GroundControl, adjust
from pipeline.registration.bundle.cameras import FrameKind, GenericKind, kind_of
from pipeline.registration.pairs import PairMatches
from pipeline.registration.params import RegistrationParams
from tests.registration.network_helpers import nadir
from tests.registration.pushbroom import Pushbroom, north_south_strip

# a world on the sphere: points on it (the default, free, floats on flat networks: conftest.cfg)
CFG = RegistrationParams(pointing_sigma_deg=0.1, pointing_drift_sigma_deg=0.05, points="surface")


class ConstantPushbroom(Pushbroom):
    """The same camera declaring a constant correction only (k = 1)."""

    correction_degree = 1


def _network(cls=Pushbroom, seed: int = 0, noise_px: float = 0.1):
    rng = np.random.default_rng(seed)
    step_deg = math.degrees(0.7 * 300 * 20.0 / 1737400.0)
    true, reported, truth = {}, {}, {}
    for s in range(3):
        own = rng.normal(0.0, math.radians(0.03), (2, 3))
        fid = f"strip{s}"
        cam = north_south_strip(150.0 + (s - 1) * step_deg, 0.0)
        true[fid] = dataclasses.replace(cam, own=own)
        reported[fid] = cls(**{f.name: getattr(cam, f.name) for f in dataclasses.fields(cam)})
        truth[fid] = own
    frame = nadir(math.radians(150.0), 0.0, size=300, gsd_m=20.0, altitude_m=60_000.0)
    err = rng.normal(0.0, math.radians(0.03), 3)
    true["frame"], reported["frame"] = frame, frame.with_pointing_correction(err)
    truth["frame"] = err
    # ground points over the block, seen by every image that contains them
    lon = rng.uniform(149.85, 150.15, 3000)
    lat = rng.uniform(-0.2, 0.2, 3000)
    xyz = 1737400.0 * np.stack([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                                np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))], 1)
    ids = list(true)
    seen = {}
    for fid in ids:
        line, sample = true[fid].ground_to_image(xyz)
        lines, samples = (true[fid].lines, true[fid].samples)
        inside = (line > 1) & (line < lines - 1) & (sample > 1) & (sample < samples - 1)
        seen[fid] = (inside, np.stack([line, sample], 1) + rng.normal(0, noise_px, (len(xyz), 2)))
    matches = []
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            both = seen[ids[a]][0] & seen[ids[b]][0]
            if both.sum() >= 8:
                matches.append(PairMatches(a, b, seen[ids[a]][1][both], seen[ids[b]][1][both], 1.0, ids[a], ids[b]))
    inside, obs = seen["strip1"]
    k = np.flatnonzero(inside)[:12]
    control = [GroundControl("strip1", obs[k], xyz[k], "truth")]
    return reported, matches, control, truth


def test_adapters_are_chosen_by_camera_kind_not_by_branches():
    from pipeline.geometry.cameras import FrameCamera

    assert isinstance(kind_of(nadir(0.0, 0.0, size=10, gsd_m=1.0, altitude_m=1e4)), FrameKind)
    assert isinstance(kind_of(north_south_strip(0.0, 0.0)), GenericKind)
    assert kind_of(north_south_strip(0.0, 0.0)).degree == 2
    assert kind_of(ConstantPushbroom(10, 10, 1.0, np.ones(3), np.eye(3), 1.0)).degree == 1

    class Sub(FrameCamera):  # a subclass may change the geometry: it is not batched as a FrameCamera
        pass

    assert type(kind_of(Sub.build(lines=10, samples=10, focal_length_mm=1.0, pixel_pitch_mm=0.01,
                                  position_m=(2e6, 0, 0), cam_to_body=np.eye(3)))) is GenericKind


def test_linear_drift_is_recovered_by_degree_two_corrections():
    reported, matches, control, truth = _network()
    result = adjust(reported, matches, CFG, control=control)
    assert result.convergence.converged and result.stats.n_tied == 4
    assert result.stats.rms_after_px < 0.15  # the noise (0.1 px per axis: 0.14 px RMS)
    for s in range(3):
        corr = result.corrections[f"strip{s}"]
        coeffs = np.array(corr.rot_coeffs_rad)
        assert coeffs.shape == (2, 3)
        np.testing.assert_allclose(coeffs[0], corr.rotvec_rad)
        err_deg = np.degrees(np.abs(coeffs - truth[f"strip{s}"]))
        # roll and pitch (constant and drift, 0.03 deg each) recovered to < 0.004 deg; yaw about the
        # boresight moves a 6 km wide line by only 0.04 px per 0.016 deg: the priors hold it
        assert err_deg[:, :2].max() < 0.004, err_deg
        assert err_deg[:, 2].max() < 0.05, err_deg
    frame = result.corrections["frame"]
    assert frame.rot_coeffs_rad == ()  # k = 1 kinds keep the FrameCamera correction
    frame_err = np.degrees(np.abs(np.array(frame.rotvec_rad) + truth["frame"]))  # undoes its error
    assert frame_err[:2].max() < 0.004 and frame_err[2] < 0.05, frame_err
    # the adjusted strips are the stand-in class with the correction applied
    adjusted = result.cameras["strip0"]
    assert isinstance(adjusted, Pushbroom)
    np.testing.assert_array_equal(adjusted.corr, np.array(result.corrections["strip0"].rot_coeffs_rad))


def test_a_constant_correction_cannot_follow_the_drift():
    reported, matches, control, _truth = _network(ConstantPushbroom)
    result = adjust(reported, matches, CFG, control=control)
    assert result.convergence.converged
    assert result.stats.rms_after_px > 0.3  # measured 0.43 px: the drift (0.03 deg = 1.6 px at the ends) stays
    assert all(c.rot_coeffs_rad == () for c in result.corrections.values())


def test_positions_with_degree_two():
    reported, matches, control, _truth = _network(seed=1)
    cfg = CFG.model_copy(update={"position_sigma_m": 20.0, "position_drift_sigma_m": 10.0})
    result = adjust(reported, matches, cfg, control=control)
    assert result.convergence.converged
    assert result.stats.rms_after_px < 0.15
    pos = np.array(result.corrections["strip0"].position_coeffs_m)
    assert pos.shape == (2, 3) and np.all(np.abs(pos) < 3 * 20.0)
